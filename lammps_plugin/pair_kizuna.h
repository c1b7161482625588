// pair_style kizuna: a thin LAMMPS adapter over the kizuna core (kizuna::Potential).
//
//   pair_style kizuna model.kzn [extrapolation stop|warn|error|ignore] [warn_every N]
//                               [max_extrapolating N] [max_extrapolating_fraction F]
//                               [stop_after N] [threads N] [uncertainty_every N]
//                               [device cpu|cuda] [precision float64|float32]
//   pair_coeff * * O H          (one element or NULL per atom type)
//
// Requirements (checked, with an error that says the fix): units metal, newton pair on. The
// neighbour list is a full list (requested in init_style, never half); forces on ghost atoms are
// summed back by LAMMPS's reverse communication. Global energy/virial, per-atom energy
// (compute pe/atom) and per-atom virial (compute stress/atom) come from the core.
// device cuda: the core's CUDA backend, one GPU per MPI rank (local rank % GPUs of the node);
// precision float32 computes in float with double sums. docs/lammps.md and docs/gpu.md are the
// user guides.
#pragma once

// LAMMPS's classes live in liblammps: keep their declarations at default visibility while the
// plugin itself is compiled with hidden visibility (liblammps exports thousands of symbols).
#pragma GCC visibility push(default)
#include "pair.h"
#pragma GCC visibility pop

#include <memory>
#include <string>
#include <vector>

#include "kizuna/device.hpp"

namespace kizuna {
class Model;
class Potential;
}  // namespace kizuna

namespace kizuna::lmp {

// stop (default): warn, and stop when more than max_extrapolating_fraction of the atoms
// extrapolate in stop_after consecutive evaluations; warn: warnings only; error: stop at the
// first extrapolating atom; ignore: silent (max_extrapolating applies to every policy)
enum class ExtrapolationPolicy { stop, warn, error, ignore };

class PairKizuna : public LAMMPS_NS::Pair {
  public:
    explicit PairKizuna(LAMMPS_NS::LAMMPS* lmp);
    ~PairKizuna() override;

    void compute(int eflag, int vflag) override;
    void settings(int narg, char** arg) override;
    void coeff(int narg, char** arg) override;
    void init_style() override;
    double init_one(int i, int j) override;
    void* extract(const char* name, int& dim) override;
    double memory_usage() override;
    int pack_reverse_comm(int n, int first, double* buf) override;
    void unpack_reverse_comm(int n, int* list, double* buf) override;

    // committee uncertainty of the last evaluation that computed it (compute kizuna/deviation)
    bool is_committee() const;
    const double* force_deviation() const { return force_dev_.data(); }  // local atoms, eV/Å
    double max_force_deviation() const { return max_force_dev_; }        // all ranks
    double energy_std() const { return energy_std_; }                    // eV, all ranks
    double num_extrapolating() const { return num_extrapolating_; }
    long long uncertainty_step() const { return uncertainty_step_; }

  private:
    void allocate();
    void require_metal_units(const char* command);
    std::string broadcast_model_text(const std::string& path);
    void create_potential();
    void stop_unless_all(bool ok, const std::string& message);
    int local_rank();
    void handle_extrapolation(long long local_count, long long local_atoms);
    void committee_uncertainty(bool with_forces, const double* local_member_energies);

    std::string model_path_;
    std::shared_ptr<const kizuna::Model> model_;
    std::unique_ptr<kizuna::Potential> potential_;
    std::vector<int> type_to_species_;  // index = LAMMPS atom type 1..ntypes; -1 = NULL
    std::string elements_text_;         // the model's elements, for messages

    // extrapolation policy (pair_style keywords)
    ExtrapolationPolicy policy_ = ExtrapolationPolicy::stop;
    long long warn_every_ = 100;         // steps between two warnings (unless the count rises)
    long long max_extrapolating_ = -1;   // error when more atoms extrapolate; -1 = no cap
    double max_fraction_ = 0.1;          // stop: fraction of the model's atoms ...
    long long stop_after_ = 10;          // ... exceeded in this many consecutive evaluations
    long long over_fraction_ = 0;        // consecutive evaluations above max_fraction_ so far
    long long last_warning_step_ = -1;   // step of the last periodic warning (window start)
    long long reference_count_ = 0;      // a count above this is a rise, warned at once
    long long window_max_count_ = 0;     // the largest count since the window started
    int threads_ = 0;                    // OpenMP threads of the core; 0 = OpenMP default
    kizuna::Device device_ = kizuna::Device::cpu;
    kizuna::Precision precision_ = kizuna::Precision::float64;

    // results of the last compute(), all ranks together (extract("num_extrapolating"))
    double num_extrapolating_ = 0.0;
    double extrapolating_total_ = 0.0;   // summed over every compute() since pair_style

    // committees: member forces every `uncertainty_every_` steps (0 = never), reverse-
    // communicated, then the per-atom force spread of the local atoms
    long long uncertainty_every_ = 1;
    std::vector<double> member_forces_;  // members x nall x 3 (ghosts included until comm)
    std::vector<double> member_energies_;
    std::vector<double> force_dev_;      // local atoms
    int nall_ = 0;                       // atoms (local + ghost) of the last member-force pass
    double max_force_dev_ = 0.0;
    double energy_std_ = 0.0;
    long long uncertainty_step_ = -1;
};

}  // namespace kizuna::lmp
