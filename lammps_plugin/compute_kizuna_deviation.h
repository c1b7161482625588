// compute ID group kizuna/deviation: committee uncertainty of pair_style kizuna.
//
//   scalar     largest per-atom force deviation (eV/Å) of the last evaluation that computed
//              the member forces (pair_style ... uncertainty_every N): the usual trigger,
//              e.g. 'fix halt 10 v_dev > 0.2' with 'variable dev equal c_ID'
//   vector     [1] the same, [2] committee energy std (eV), [3] atoms outside the training
//              range (all ranks)
//   per-atom   force deviation sqrt(mean_m |F_m - <F>|^2) of each atom (eV/Å; 0 outside group)
//
// It reports what the pair style computed; it needs a committee model (several members).
#pragma once

#pragma GCC visibility push(default)
#include "compute.h"
#pragma GCC visibility pop

namespace kizuna::lmp {

class PairKizuna;

class ComputeKizunaDeviation : public LAMMPS_NS::Compute {
  public:
    ComputeKizunaDeviation(LAMMPS_NS::LAMMPS* lmp, int narg, char** arg);
    ~ComputeKizunaDeviation() override;
    void init() override;
    double compute_scalar() override;
    void compute_vector() override;
    void compute_peratom() override;
    double memory_usage() override;

  private:
    PairKizuna* pair_ = nullptr;
    int nmax_ = 0;
    double* deviation_ = nullptr;
};

}  // namespace kizuna::lmp
