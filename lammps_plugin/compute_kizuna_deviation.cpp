// compute kizuna/deviation (see compute_kizuna_deviation.h): reads the committee uncertainty
// that pair_style kizuna computed; never evaluates the model itself.
#include "compute_kizuna_deviation.h"

#pragma GCC visibility push(default)
#include "atom.h"
#include "error.h"
#include "force.h"
#include "memory.h"
#include "pair.h"
#include "update.h"
#pragma GCC visibility pop

#include "pair_kizuna.h"

using namespace LAMMPS_NS;

namespace kizuna::lmp {

ComputeKizunaDeviation::ComputeKizunaDeviation(LAMMPS* lmp, int narg, char** arg) : Compute(lmp, narg, arg) {
    if (narg != 3)
        error->all(FLERR, "compute kizuna/deviation takes no arguments: 'compute ID group "
                          "kizuna/deviation'");
    scalar_flag = 1;
    vector_flag = 1;
    size_vector = 3;
    extscalar = 0;
    extvector = 0;
    peratom_flag = 1;
    size_peratom_cols = 0;
    vector = new double[size_vector];
}

ComputeKizunaDeviation::~ComputeKizunaDeviation() {
    delete[] vector;
    memory->destroy(deviation_);
}

void ComputeKizunaDeviation::init() {
    pair_ = dynamic_cast<PairKizuna*>(force->pair_match("kizuna", 1));
    if (!pair_)
        error->all(FLERR, "compute kizuna/deviation needs pair_style kizuna (alone or as the one "
                          "kizuna sub-style of pair_style hybrid)");
    if (!pair_->is_committee())
        error->all(FLERR, "compute kizuna/deviation needs a committee model (several networks "
                          "per element); this model has one member. Train or import a committee "
                          "(kizuna import-n2p2 DIR1 DIR2 ... / kizuna train with committee: N).");
}

double ComputeKizunaDeviation::compute_scalar() {
    invoked_scalar = update->ntimestep;
    if (pair_->uncertainty_step() < 0)
        error->all(FLERR, "compute kizuna/deviation: pair_style kizuna has not computed the "
                          "committee force spread yet (uncertainty_every 0, or no step run)");
    scalar = pair_->max_force_deviation();
    return scalar;
}

void ComputeKizunaDeviation::compute_vector() {
    invoked_vector = update->ntimestep;
    vector[0] = pair_->uncertainty_step() >= 0 ? pair_->max_force_deviation() : 0.0;
    vector[1] = pair_->energy_std();
    vector[2] = pair_->num_extrapolating();
}

void ComputeKizunaDeviation::compute_peratom() {
    invoked_peratom = update->ntimestep;
    if (atom->nmax > nmax_) {
        memory->destroy(deviation_);
        nmax_ = atom->nmax;
        memory->create(deviation_, nmax_, "kizuna/deviation:deviation");
        vector_atom = deviation_;
    }
    const int nlocal = atom->nlocal;
    const int* mask = atom->mask;
    const double* dev = pair_->uncertainty_step() >= 0 ? pair_->force_deviation() : nullptr;
    for (int i = 0; i < nlocal; ++i) deviation_[i] = (dev && (mask[i] & groupbit)) ? dev[i] : 0.0;
}

double ComputeKizunaDeviation::memory_usage() { return static_cast<double>(nmax_) * sizeof(double); }

}  // namespace kizuna::lmp
