// Potential: the facade the adapters (Python module, LAMMPS pair style) call.
//
// Inputs are borrowed views of the caller's arrays; outputs are caller-owned arrays. Forces and
// per-atom virials are accumulated (+=) so that LAMMPS can pass its force array directly.
// Units: Å, eV, eV/Å; virial W = -sum_pairs r_ij (x) dE/dr_ij in eV, LAMMPS order
// xx yy zz xy xz yz. Per-thread workspaces are allocated on first use and grown, never per step.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kizuna/device.hpp"
#include "kizuna/model.hpp"

namespace kizuna {

struct AtomsView {
    int num_atoms = 0;                  // atoms with positions (LAMMPS: local + ghost)
    const double* positions = nullptr;  // num_atoms x 3 (Å)
    const int* species = nullptr;       // model element index of each atom, -1 = not handled
    // alternative to `species`: per-atom types and a map type -> element index (-1 = not handled)
    const int* types = nullptr;
    const int* type_to_species = nullptr;

    int species_of(int j) const { return species ? species[j] : type_to_species[types[j]]; }
};

struct NeighborView {
    int num_centres = 0;
    const int* centres = nullptr;  // atom index of each centre; nullptr: centre ii is atom ii
    const int* counts = nullptr;   // number of neighbour entries of each centre
    // either LAMMPS style (a pointer per centre to its neighbour indices) ...
    const int* const* lists = nullptr;
    // ... or CSR style: entries offsets[ii] .. offsets[ii] + counts[ii] of `indices`
    const int64_t* offsets = nullptr;
    const int* indices = nullptr;
    const double* shifts = nullptr;  // CSR only, optional: image shift s, r_ij = x_j + s - x_i (Å)
    int index_mask = ~0;             // applied to every neighbour index (LAMMPS NEIGHMASK)
    // counts/lists indexed by the centre's atom index i = centre(ii) instead of by ii
    // (LAMMPS: numneigh[i], firstneigh[i]); then they can be passed without copying
    bool indexed_by_atom = false;
    // The caller's neighbour-list build counter (LAMMPS: neighbor->ncalls), or -1. A value >= 0
    // equal to the previous call's promises the same list and centres (positions and species may
    // have changed): the CUDA backend then reuses its copy on the GPU. The CPU path ignores it.
    int64_t list_version = -1;

    int centre(int ii) const { return centres ? centres[ii] : ii; }
    int slot(int ii) const { return indexed_by_atom ? centre(ii) : ii; }
};

struct Request {
    bool forces = true;
    bool virial = false;
    bool atom_energies = false;
    bool atom_virials = false;
    bool member_energies = false;  // committee: energy of every member (spread of the energy)
    bool member_forces = false;    // committee: forces of every member (spread of the forces);
                                   // costs one force pass per member instead of one in all
};

struct Result {
    double energy = 0.0;               // eV (committee: mean of the members)
    double virial[6] = {0, 0, 0, 0, 0, 0};
    double* forces = nullptr;          // num_atoms x 3, accumulated (+=)
    double* atom_energies = nullptr;   // num_atoms, written for every centre
    double* atom_virials = nullptr;    // num_atoms x 6, accumulated (+=); tallied on the neighbour
    double* member_energies = nullptr; // committee_size, written
    double* member_forces = nullptr;   // committee_size x num_atoms x 3, accumulated (+=)
    int* extrapolating = nullptr;      // num_atoms, optional: written 1/0 for every centre
    int64_t num_extrapolating = 0;     // centres with a feature outside the training range
};

class AtomKernel;
class CudaEngine;
class NetworkBatch;
struct BlockWork;

// Committee force spread from member forces (M blocks of `stride` atoms x 3, stride >= n):
// std[i] = sqrt(mean_m |F_m,i - <F_i>|^2) for i < n; returns max_i std[i]. `std` may be null.
double force_deviation(const double* member_forces, int members, int n, double* std,
                       int64_t stride = -1);

// The most OpenMP threads one Potential runs (threads argument, or the OpenMP default from
// OMP_NUM_THREADS): more than any node has cores; beyond it thread creation itself fails.
constexpr int max_threads = 1024;

class Potential {
  public:
    // device.device = cuda runs compute, descriptors and vjp on a GPU (CudaEngine; throws
    // UnsupportedError in a build without CUDA or without a usable device); jvp stays CPU-only.
    explicit Potential(std::shared_ptr<const Model> model, int num_threads = 0,
                       const DeviceOptions& device = DeviceOptions{});
    ~Potential();
    Potential(const Potential&) = delete;
    Potential& operator=(const Potential&) = delete;

    const Model& model() const { return *model_; }
    std::shared_ptr<const Model> model_ptr() const { return model_; }
    // 0 = OpenMP default; InputError outside 0..max_threads
    void set_num_threads(int n);
    int num_threads() const;
    Device device() const { return options_.device; }
    Precision precision() const { return options_.precision; }
    // "cpu", or the GPU's name and ordinal
    std::string device_name() const;

    // Energy, forces, virials, extrapolation count. Throws NumericalError when an atom's energy,
    // the total energy or the virial is not finite (the model overflows on this structure).
    void compute(const AtomsView& atoms, const NeighborView& neighbors, const Request& request,
                 Result& result);

    // ---------------------------------------------------------------- training operators
    // Features of centre ii are stored at G[feature_offsets[ii] ...] (its element's count).
    void descriptors(const AtomsView& atoms, const NeighborView& neighbors,
                     const int64_t* feature_offsets, double* G);
    // Given beta = dE/dG (same layout as G), forces -= ... i.e. forces += -sum beta dG/dx
    // (accumulated) and virial9 += W (3 x 3, row-major, may be null).
    void vjp(const AtomsView& atoms, const NeighborView& neighbors, const int64_t* feature_offsets,
             const double* beta, double* forces, double* virial9);
    // Directional derivative of G for displacements dpos (num_atoms x 3, may be null) and a
    // homogeneous strain dstrain (3 x 3 row-major, may be null: dr_ij = dstrain . r_ij).
    void jvp(const AtomsView& atoms, const NeighborView& neighbors, const int64_t* feature_offsets,
             const double* dpos, const double* dstrain9, double* dG);

  private:
    void check_inputs(const AtomsView& atoms, const NeighborView& neighbors) const;
    AtomKernel& kernel(int thread);
    // compute(): per thread a block of kernels (one per centre of a block) and its workspace
    void ensure_block_work(int n_threads);
    AtomKernel& block_kernel(int thread, int b);

    std::shared_ptr<const Model> model_;
    int num_threads_ = 0;
    std::vector<std::unique_ptr<AtomKernel>> kernels_;
    std::vector<std::unique_ptr<AtomKernel>> block_kernels_;  // [thread * kNetworkBatch + b]
    std::vector<std::unique_ptr<BlockWork>> block_work_;
    std::unique_ptr<NetworkBatch> batch_;
    std::vector<std::vector<double>> thread_forces_, thread_atom_virials_, thread_member_forces_;
    std::vector<double> member_energy_;
    DeviceOptions options_;
    std::unique_ptr<CudaEngine> engine_;  // device = cuda
};

}  // namespace kizuna
