// pair_style kizuna: LAMMPS adapter over kizuna::Potential (see pair_kizuna.h, docs/lammps.md).
//
// compute() hands the core views of LAMMPS's own arrays, nothing is copied per step:
//   atoms      x[0] (local + ghost, Å), type[], type -> model element map from pair_coeff
//   neighbours the full list: ilist, numneigh[i], firstneigh[i] indexed by atom i = ilist[ii]
//              (NeighborView::indexed_by_atom), indices masked with NEIGHMASK
//   outputs    f[0] (+=, eV/Å, ghosts included: reverse communication sums them), eatom (eV),
//              vatom[0] (+=, eV, tallied on the neighbour atom, LAMMPS order xx yy zz xy xz yz)
// Global virial: the core's own W = -sum_pairs r_ij (x) dE/dr_ij (exact, independent of the
// ghost layout), so virial_fdotr_compute() is never used (no_virial_fdotr_compute = 1).
#include "pair_kizuna.h"

#pragma GCC visibility push(default)
#include "atom.h"
#include "comm.h"
#include "error.h"
#include "force.h"
#include "memory.h"
#include "neigh_list.h"
#include "neighbor.h"
#include "update.h"
#pragma GCC visibility pop

#include <algorithm>
#include <cmath>
#include <cstring>
#include <exception>
#include <fstream>
#include <sstream>

#include "kizuna/device.hpp"
#include "kizuna/errors.hpp"
#include "kizuna/model.hpp"
#include "kizuna/potential.hpp"

using namespace LAMMPS_NS;

namespace kizuna::lmp {

PairKizuna::PairKizuna(LAMMPS* lmp) : Pair(lmp) {
    single_enable = 0;
    restartinfo = 0;         // the model file is named in the input, nothing to restart
    one_coeff = 1;           // a single "pair_coeff * * ..."
    manybody_flag = 1;
    no_virial_fdotr_compute = 1;  // the global virial comes from the core
    centroidstressflag = CENTROID_NOTAVAIL;
    // pvector (compute pair kizuna): [0] atoms of this rank extrapolating in the last
    // evaluation, [1] the same summed over every evaluation since pair_style;
    // compute pair sums them over ranks.
    nextra = 2;
    pvector = new double[nextra];
    pvector[0] = pvector[1] = 0.0;
}

PairKizuna::~PairKizuna() {
    delete[] pvector;
    pvector = nullptr;
    if (copymode) return;
    if (allocated) {
        memory->destroy(setflag);
        memory->destroy(cutsq);
    }
}

void PairKizuna::allocate() {
    allocated = 1;
    const int n = atom->ntypes + 1;
    memory->create(setflag, n, n, "pair:setflag");
    memory->create(cutsq, n, n, "pair:cutsq");
    for (int i = 0; i < n; ++i)
        for (int j = 0; j < n; ++j) setflag[i][j] = 0;
    type_to_species_.assign(n, -1);
}

void PairKizuna::require_metal_units(const char* command) {
    if (std::strcmp(update->unit_style, "metal") != 0)
        error->all(FLERR,
                   "{}: kizuna models use eV and Å, so pair_style kizuna needs 'units metal' but "
                   "this input uses 'units {}'. Put 'units metal' before the box is created and "
                   "give lengths in Å, energies in eV, time in ps.",
                   command, update->unit_style);
}

// ------------------------------------------------------------------------------------ settings
void PairKizuna::settings(int narg, char** arg) {
    if (narg < 1)
        error->all(FLERR, "pair_style kizuna: missing model file. Usage: pair_style kizuna "
                          "model.kzn [extrapolation stop|warn|error|ignore] [warn_every N] "
                          "[max_extrapolating N] [max_extrapolating_fraction F] [stop_after N] "
                          "[threads N] [uncertainty_every N] [device cpu|cuda] "
                          "[precision float64|float32]");
    require_metal_units("pair_style kizuna");
    // the n2p2 habit 'pair_style hdnnp 6.35 dir ...': a cutoff before the model file
    if (utils::is_double(arg[0]))
        error->all(FLERR, "pair_style kizuna: the first argument is the model file, but '{}' is a "
                          "number. kizuna takes no cutoff here: the model file holds it (and the "
                          "length unit). Write 'pair_style kizuna {} ...'{}", arg[0],
                   narg > 1 ? arg[1] : "model.kzn",
                   narg > 1 ? "" : " with the path of the model file");

    // keywords first, so that a typo is reported before the model is read
    policy_ = ExtrapolationPolicy::stop;
    warn_every_ = 100;
    max_extrapolating_ = -1;
    max_fraction_ = 0.1;
    stop_after_ = 10;
    over_fraction_ = 0;
    last_warning_step_ = -1;
    reference_count_ = 0;
    window_max_count_ = 0;
    threads_ = 0;
    uncertainty_every_ = 1;
    device_ = kizuna::Device::cpu;
    precision_ = kizuna::Precision::float64;
    for (int a = 1; a < narg; a += 2) {
        const std::string key = arg[a];
        if (a + 1 >= narg)
            error->all(FLERR, "pair_style kizuna: keyword '{}' needs a value", key);
        const std::string value = arg[a + 1];
        if (key == "extrapolation") {
            if (value == "stop") policy_ = ExtrapolationPolicy::stop;
            else if (value == "warn") policy_ = ExtrapolationPolicy::warn;
            else if (value == "error") policy_ = ExtrapolationPolicy::error;
            else if (value == "ignore") policy_ = ExtrapolationPolicy::ignore;
            else
                error->all(FLERR, "pair_style kizuna: extrapolation must be stop, warn, error "
                                  "or ignore, got '{}'", value);
        } else if (key == "warn_every") {
            warn_every_ = utils::bnumeric(FLERR, value, false, lmp);
            if (warn_every_ < 1)
                error->all(FLERR, "pair_style kizuna: warn_every is a number of steps >= 1, "
                                  "got {}", value);
        } else if (key == "max_extrapolating") {
            max_extrapolating_ = utils::bnumeric(FLERR, value, false, lmp);
            if (max_extrapolating_ < 0)
                error->all(FLERR, "pair_style kizuna: max_extrapolating is a number of atoms "
                                  ">= 0, got {}", value);
        } else if (key == "max_extrapolating_fraction") {
            max_fraction_ = utils::numeric(FLERR, value, false, lmp);
            if (!(max_fraction_ >= 0.0 && max_fraction_ < 1.0))
                error->all(FLERR, "pair_style kizuna: max_extrapolating_fraction is a fraction of "
                                  "the atoms in [0, 1) (0.1: stop when more than 10% extrapolate), "
                                  "got {}", value);
        } else if (key == "stop_after") {
            stop_after_ = utils::bnumeric(FLERR, value, false, lmp);
            if (stop_after_ < 1)
                error->all(FLERR, "pair_style kizuna: stop_after is a number of consecutive "
                                  "steps >= 1, got {}", value);
        } else if (key == "threads") {
            threads_ = utils::inumeric(FLERR, value, false, lmp);
            if (threads_ < 0 || threads_ > kizuna::max_threads)
                error->all(FLERR, "pair_style kizuna: threads must be between 0 (the OpenMP "
                                  "default, OMP_NUM_THREADS) and {}, got {}", kizuna::max_threads,
                           value);
        } else if (key == "uncertainty_every") {
            uncertainty_every_ = utils::bnumeric(FLERR, value, false, lmp);
            if (uncertainty_every_ < 0)
                error->all(FLERR, "pair_style kizuna: uncertainty_every is a number of steps "
                                  ">= 0 (0 = never compute the committee force spread), got {}",
                           value);
        } else if (key == "device") {
            if (value == "cpu") device_ = kizuna::Device::cpu;
            else if (value == "cuda") device_ = kizuna::Device::cuda;
            else
                error->all(FLERR, "pair_style kizuna: device must be cpu or cuda, got '{}'", value);
        } else if (key == "precision") {
            if (value == "float64") precision_ = kizuna::Precision::float64;
            else if (value == "float32") precision_ = kizuna::Precision::float32;
            else
                error->all(FLERR, "pair_style kizuna: precision must be float64 or float32, got "
                                  "'{}'", value);
        } else {
            error->all(FLERR, "pair_style kizuna: unknown keyword '{}'; known keywords: "
                              "extrapolation, warn_every, max_extrapolating, "
                              "max_extrapolating_fraction, stop_after, threads, "
                              "uncertainty_every, device, precision", key);
        }
    }
    if (precision_ == kizuna::Precision::float32 && device_ != kizuna::Device::cuda)
        error->all(FLERR, "pair_style kizuna: precision float32 is an option of 'device cuda'; "
                          "the CPU computes in float64");

    model_path_ = arg[0];
    const std::string text = broadcast_model_text(model_path_);
    try {
        // every rank parses the same bytes, so every rank fails alike: error->all is safe
        model_ = kizuna::Model::parse(text, model_path_);
    } catch (const std::exception& e) {
        error->all(FLERR, "pair_style kizuna: cannot use model file '{}': {}", model_path_,
                   e.what());
    }
    if (comm->me == 0 && model_->checksum.empty())
        utils::logmesg(lmp, "pair_style kizuna: note: model file '{}' has no checksum line (written "
                            "by an older kizuna): its integrity is not verified\n", model_path_);
    create_potential();
    elements_text_.clear();
    for (const std::string& e : model_->elements)
        elements_text_ += (elements_text_.empty() ? "" : " ") + e;

    // a new model may have other elements: pair_coeff must be given again
    if (allocated) {
        const int n = atom->ntypes + 1;
        for (int i = 0; i < n; ++i)
            for (int j = 0; j < n; ++j) setflag[i][j] = 0;
        type_to_species_.assign(n, -1);
    }
}

// The core on the chosen device. device cuda: GPU (local rank) % (GPUs of this node), so that the
// ranks of a node spread over its GPUs (several ranks may share one).
void PairKizuna::create_potential() {
    kizuna::DeviceOptions options;
    options.device = device_;
    options.precision = precision_;
    if (device_ == kizuna::Device::cuda) {
        if (!kizuna::cuda_compiled())  // the same on every rank
            error->all(FLERR, "pair_style kizuna device cuda: this kizuna plugin was built without "
                              "CUDA. Rebuild kizuna with -DKIZUNA_CUDA=ON where nvcc is available "
                              "(pip install . -C cmake.define.KIZUNA_CUDA=ON), or use 'device cpu'.");
        const int count = kizuna::cuda_device_count();
        stop_unless_all(count > 0, fmt::format("no CUDA device found ({}). Use 'device cpu', or "
                                               "run on a machine with an NVIDIA GPU and driver.",
                                               kizuna::cuda_unavailable_reason()));
        options.device_id = local_rank() % count;
    }
    std::string failure;
    try {
        potential_ = std::make_unique<kizuna::Potential>(model_, threads_, options);
    } catch (const std::exception& e) {
        failure = e.what();
    }
    stop_unless_all(failure.empty(), "cannot set up device " + std::string(kizuna::to_string(device_)) +
                                         ": " + failure);
    if (device_ == kizuna::Device::cuda && comm->me == 0)
        utils::logmesg(lmp, "pair_style kizuna: device cuda, precision {}, rank 0 on {}\n",
                       kizuna::to_string(precision_), potential_->device_name());
}

// A problem that may hit some ranks only (no GPU on one node): every rank learns the first
// failing rank's message and all stop together with error->all (error->one would abort and
// may lose the message).
void PairKizuna::stop_unless_all(bool ok, const std::string& message) {
    int first = ok ? comm->nprocs : comm->me;
    int failing = 0;
    MPI_Allreduce(&first, &failing, 1, MPI_INT, MPI_MIN, world);
    if (failing == comm->nprocs) return;
    std::string text = comm->me == failing ? message : std::string();
    int length = static_cast<int>(text.size());
    MPI_Bcast(&length, 1, MPI_INT, failing, world);
    text.resize(length);
    MPI_Bcast(&text[0], length, MPI_CHAR, failing, world);
    error->all(FLERR, "pair_style kizuna: rank {} of {}: {}", failing, comm->nprocs, text);
}

// Rank of this process among the ranks of its node.
int PairKizuna::local_rank() {
    MPI_Comm node;
    MPI_Comm_split_type(world, MPI_COMM_TYPE_SHARED, comm->me, MPI_INFO_NULL, &node);
    int rank = 0;
    MPI_Comm_rank(node, &rank);
    MPI_Comm_free(&node);
    return rank;
}

// Rank 0 reads the model file; every rank receives its bytes.
std::string PairKizuna::broadcast_model_text(const std::string& path) {
    long long size = -1;  // -1: rank 0 could not read the file
    std::string text, problem;
    if (comm->me == 0) {
        try {
            text = kizuna::read_model_text(path);  // the core's reader: directories named as such
            size = static_cast<long long>(text.size());
        } catch (const std::exception& e) {
            problem = e.what();
        }
    }
    MPI_Bcast(&size, 1, MPI_LONG_LONG, 0, world);
    if (size < 0)  // error->all prints rank 0's message
        error->all(FLERR, "pair_style kizuna: cannot read model file: {} (relative paths are taken "
                          "from the folder LAMMPS runs in; 'kizuna info {}' checks a model file)",
                   problem.empty() ? path : problem, path);
    text.resize(static_cast<size_t>(size));
    const long long chunk = 1 << 30;
    for (long long offset = 0; offset < size; offset += chunk) {
        const int n = static_cast<int>(std::min(chunk, size - offset));
        MPI_Bcast(&text[static_cast<size_t>(offset)], n, MPI_CHAR, 0, world);
    }
    return text;
}

// --------------------------------------------------------------------------------------- coeff
void PairKizuna::coeff(int narg, char** arg) {
    if (!model_) error->all(FLERR, "pair_coeff: give 'pair_style kizuna model.kzn' first");
    if (!allocated) allocate();
    const int ntypes = atom->ntypes;
    if (narg != 2 + ntypes || std::strcmp(arg[0], "*") != 0 || std::strcmp(arg[1], "*") != 0)
        error->all(FLERR, "pair_coeff for kizuna: expected 'pair_coeff * *' followed by one "
                          "element symbol (or NULL) for each of the {} atom types, e.g. "
                          "'pair_coeff * * {}'; got {} words", ntypes, elements_text_, narg);
    for (int t = 1; t <= ntypes; ++t) {
        const std::string symbol = arg[1 + t];
        if (symbol == "NULL") {
            type_to_species_[t] = -1;
            continue;
        }
        const int s = model_->element_index(symbol);
        if (s < 0)
            error->all(FLERR, "pair_coeff for kizuna: atom type {} is '{}', which model '{}' "
                              "does not have; its elements are: {}. Use NULL for types that "
                              "another pair style handles.",
                   t, symbol, model_path_, elements_text_);
        type_to_species_[t] = s;
    }
    int mapped = 0;
    for (int i = 1; i <= ntypes; ++i)
        for (int j = i; j <= ntypes; ++j) {
            const bool on = type_to_species_[i] >= 0 && type_to_species_[j] >= 0;
            setflag[i][j] = on ? 1 : 0;
            mapped += on;
        }
    if (mapped == 0)
        error->all(FLERR, "pair_coeff for kizuna: every atom type is NULL; map at least one type "
                          "to one of the model's elements ({})", elements_text_);
}

// ---------------------------------------------------------------------------------- init_style
void PairKizuna::init_style() {
    require_metal_units("pair_style kizuna");
    if (force->newton_pair == 0)
        error->all(FLERR, "pair_style kizuna needs 'newton on' for pair interactions: it puts "
                          "forces on ghost atoms and lets LAMMPS sum them back. Remove "
                          "'newton off' from the input (or 'newton off on': the first flag is "
                          "for pair interactions).");
    // LAMMPS drops bonded pairs whose special_bonds factors are both 0 from neighbour lists;
    // a many-body model needs every neighbour (factors in (0,1) keep the pair: its mask bits
    // are stripped and the pair counts fully)
    if (atom->molecular != Atom::ATOMIC)
        for (int k = 1; k <= 3; ++k)
            if (force->special_lj[k] == 0.0 && force->special_coul[k] == 0.0)
                error->all(FLERR, "pair_style kizuna needs every neighbour, but special_bonds "
                                  "removes 1-{} neighbours (lj and coul factors 0) from the "
                                  "neighbour lists. Use 'special_bonds lj/coul 1.0 1.0 1.0' or, "
                                  "if another pair style must not see bonded pairs, tiny "
                                  "non-zero factors ('special_bonds lj/coul 1e-50 1e-50 "
                                  "1e-50'): kizuna ignores the factors.", k + 1);
    if (!potential_) error->all(FLERR, "pair_style kizuna: no model loaded");
    potential_->set_num_threads(threads_);
    // committee member forces on ghost atoms are summed back like the forces themselves
    comm_reverse = is_committee() ? 3 * model_->committee_size : 0;
    // always a full list: the core visits every neighbour j of each local atom i
    neighbor->add_request(this, NeighConst::REQ_FULL);
}

double PairKizuna::init_one(int i, int j) {
    if (setflag[i][j] == 0)
        error->all(FLERR, "pair_coeff for kizuna does not cover atom types {} and {}", i, j);
    return model_->cutoff;  // Å; the core drops neighbours beyond each element's own cutoff
}

// ------------------------------------------------------------------------------------- compute
void PairKizuna::compute(int eflag, int vflag) {
    ev_init(eflag, vflag);

    kizuna::AtomsView atoms;
    atoms.num_atoms = atom->nlocal + atom->nghost;
    atoms.positions = atoms.num_atoms > 0 ? atom->x[0] : nullptr;
    atoms.types = atom->type;
    atoms.type_to_species = type_to_species_.data();

    // LAMMPS indexes numneigh/firstneigh by atom (i = ilist[ii]); the core reads them that way
    // (indexed_by_atom), which also covers skip lists of pair hybrid and neigh_modify include
    kizuna::NeighborView neighbors;
    neighbors.num_centres = list->inum;
    neighbors.centres = list->ilist;
    neighbors.counts = list->numneigh;
    neighbors.lists = list->firstneigh;
    neighbors.indexed_by_atom = true;
    neighbors.index_mask = NEIGHMASK;
    // the list and the atoms' order change only at a build: the CUDA backend uploads the list
    // after a build, positions and types every step
    neighbors.list_version = static_cast<int64_t>(neighbor->ncalls);

    kizuna::Request request;
    request.forces = true;
    request.virial = vflag_global != 0;
    request.atom_energies = eflag_atom != 0;
    request.atom_virials = vflag_atom != 0;

    kizuna::Result result;
    result.forces = atoms.num_atoms > 0 ? atom->f[0] : nullptr;
    result.atom_energies = eflag_atom ? eatom : nullptr;
    result.atom_virials = (vflag_atom && atoms.num_atoms > 0) ? vatom[0] : nullptr;

    // committees: member energies always (cheap); member forces (one force pass per member)
    // every uncertainty_every steps
    const int members = model_->committee_size;
    const bool committee = is_committee();
    const bool spread = committee && uncertainty_every_ > 0 &&
                        update->ntimestep % uncertainty_every_ == 0;
    if (committee) {
        member_energies_.assign(members, 0.0);
        request.member_energies = true;
        result.member_energies = member_energies_.data();
    }
    if (spread) {
        nall_ = atoms.num_atoms;
        const size_t need = static_cast<size_t>(members) * 3 * static_cast<size_t>(nall_);
        if (member_forces_.size() < need) member_forces_.resize(need + need / 4);
        std::fill(member_forces_.begin(), member_forces_.begin() + need, 0.0);
        request.member_forces = true;
        result.member_forces = member_forces_.data();
    }

    try {
        potential_->compute(atoms, neighbors, request, result);
    } catch (const kizuna::NumericalError& e) {
        error->one(FLERR, "pair_style kizuna at step {}: model '{}' gives a non-finite result: {}. "
                          "Its numbers cannot be used; check the model (kizuna info) and the "
                          "structure", update->ntimestep, model_path_, e.what());
    } catch (const std::exception& e) {
        // the problem (e.g. atoms on top of each other) may be on this rank only
        error->one(FLERR, "pair_style kizuna at step {}: {}", update->ntimestep, e.what());
    }

    if (eflag_global) eng_vdwl += result.energy;
    if (vflag_global)
        for (int a = 0; a < 6; ++a) virial[a] += result.virial[a];
    long long handled = 0;  // atoms of this rank the model computes (not NULL types)
    if (policy_ == ExtrapolationPolicy::stop)
        for (int ii = 0; ii < list->inum; ++ii) handled += type_to_species_[atom->type[list->ilist[ii]]] >= 0;
    handle_extrapolation(static_cast<long long>(result.num_extrapolating), handled);
    if (committee) committee_uncertainty(spread, member_energies_.data());
}

bool PairKizuna::is_committee() const { return model_ && model_->committee_size > 1; }

// Energy spread of the committee (all ranks) and, when member forces were computed this step,
// the per-atom force spread sqrt(mean_m |F_m - <F>|^2) after summing ghost contributions back.
void PairKizuna::committee_uncertainty(bool with_forces, const double* local_member_energies) {
    const int members = model_->committee_size;
    std::vector<double> total(members, 0.0);
    MPI_Allreduce(local_member_energies, total.data(), members, MPI_DOUBLE, MPI_SUM, world);
    double mean = 0.0, var = 0.0;
    for (double e : total) mean += e / members;
    for (double e : total) var += (e - mean) * (e - mean) / members;
    energy_std_ = std::sqrt(var);
    if (!with_forces) return;
    comm->reverse_comm(this);
    const int nlocal = atom->nlocal;
    if (static_cast<int>(force_dev_.size()) < nlocal) force_dev_.resize(nlocal + nlocal / 4 + 16);
    const double local_max =
        kizuna::force_deviation(member_forces_.data(), members, nlocal, force_dev_.data(), nall_);
    MPI_Allreduce(&local_max, &max_force_dev_, 1, MPI_DOUBLE, MPI_MAX, world);
    uncertainty_step_ = update->ntimestep;
}

// member forces of ghost atoms -> their owners (comm_reverse = 3 * members values per atom)
int PairKizuna::pack_reverse_comm(int n, int first, double* buf) {
    const int members = model_->committee_size;
    int k = 0;
    for (int i = first; i < first + n; ++i)
        for (int m = 0; m < members; ++m) {
            const double* f = member_forces_.data() + (static_cast<size_t>(m) * nall_ + i) * 3;
            buf[k++] = f[0];
            buf[k++] = f[1];
            buf[k++] = f[2];
        }
    return k;
}

void PairKizuna::unpack_reverse_comm(int n, int* list, double* buf) {
    const int members = model_->committee_size;
    int k = 0;
    for (int a = 0; a < n; ++a)
        for (int m = 0; m < members; ++m) {
            double* f = member_forces_.data() + (static_cast<size_t>(m) * nall_ + list[a]) * 3;
            f[0] += buf[k++];
            f[1] += buf[k++];
            f[2] += buf[k++];
        }
}

// Extrapolation policy, after every evaluation. `local_atoms`: atoms of this rank the model
// computes (counted for the stop policy only; 0 otherwise).
void PairKizuna::handle_extrapolation(long long local_count, long long local_atoms) {
    pvector[0] = static_cast<double>(local_count);
    pvector[1] += static_cast<double>(local_count);
    long long local[2] = {local_count, local_atoms}, sums[2] = {0, 0};
    MPI_Allreduce(local, sums, 2, MPI_LONG_LONG, MPI_SUM, world);
    const long long total = sums[0], atoms = sums[1];
    num_extrapolating_ = static_cast<double>(total);
    extrapolating_total_ += static_cast<double>(total);
    const bigint step = update->ntimestep;
    // stop: more than max_fraction_ of the atoms in stop_after_ consecutive evaluations
    if (policy_ == ExtrapolationPolicy::stop) {
        if (total > 0 && static_cast<double>(total) > max_fraction_ * static_cast<double>(atoms)) ++over_fraction_;
        else over_fraction_ = 0;
        if (over_fraction_ >= stop_after_)
            error->all(FLERR, "pair_style kizuna: {} of {} atoms ({:.1f}%) are outside the "
                              "training range of model '{}' at step {}, more than "
                              "max_extrapolating_fraction {} for {} consecutive steps "
                              "(extrapolation stop): the run has left what the model was trained "
                              "on and its forces are guesses. Teach the model such structures "
                              "('kizuna learn' with md.engine lammps runs this MD and retrains as "
                              "it goes, see docs/learning.md), or go on anyway with 'extrapolation "
                              "warn'.", total, atoms, 100.0 * total / std::max(atoms, 1LL), model_path_,
                       step, max_fraction_, stop_after_);
    }
    if (total == 0) return;
    if (max_extrapolating_ >= 0 && total > max_extrapolating_)
        error->all(FLERR, "pair_style kizuna: {} atoms are outside the training range of model "
                          "'{}' at step {}, more than max_extrapolating {}. The structure has left "
                          "what the model was trained on; retrain with such structures ('kizuna "
                          "learn') or raise the cap.", total, model_path_, step, max_extrapolating_);
    if (policy_ == ExtrapolationPolicy::error)
        error->all(FLERR, "pair_style kizuna: {} atoms are outside the training range of model "
                          "'{}' at step {} (extrapolation error). To go on, use 'extrapolation "
                          "warn', with 'max_extrapolating N' to stop only above N atoms.",
                   total, model_path_, step);
    // warnings: at most one per warn_every steps while the extrapolation goes on as before; a
    // count at least twice the largest of the last window (or reported since) is reported at
    // once, so the rate limit never hides a new, larger event (and a steady climb costs
    // log2(atoms) warnings, not one per step: LAMMPS stops printing warnings after 100)
    if (policy_ != ExtrapolationPolicy::warn && policy_ != ExtrapolationPolicy::stop) return;
    const bool window = last_warning_step_ < 0 || step < last_warning_step_ ||  // reset_timestep
                        step - last_warning_step_ >= warn_every_;
    const bool rise = total > reference_count_ && total >= 2 * reference_count_;
    if (window) {
        reference_count_ = std::max(window_max_count_, total);
        window_max_count_ = total;
        last_warning_step_ = step;
    } else {
        reference_count_ = std::max(reference_count_, total);
        window_max_count_ = std::max(window_max_count_, total);
    }
    if ((window || rise) && comm->me == 0)
        error->warning(FLERR, "pair_style kizuna: {} atoms outside the training range of "
                              "model '{}' at step {} (next warning in {} steps at the "
                              "earliest, unless the count doubles; count per step: "
                              "compute pair kizuna, c_ID[1])",
                       total, model_path_, step, warn_every_ - (step - last_warning_step_));
}

// ----------------------------------------------------------------------------------- extract
void* PairKizuna::extract(const char* name, int& dim) {
    dim = 0;
    if (std::strcmp(name, "num_extrapolating") == 0) return &num_extrapolating_;
    if (std::strcmp(name, "extrapolating_total") == 0) return &extrapolating_total_;
    if (std::strcmp(name, "max_force_deviation") == 0) return &max_force_dev_;
    if (std::strcmp(name, "energy_std") == 0) return &energy_std_;
    return nullptr;
}

double PairKizuna::memory_usage() {
    double bytes = Pair::memory_usage();
    bytes += static_cast<double>(type_to_species_.size() * sizeof(int));
    bytes += static_cast<double>((member_forces_.size() + force_dev_.size()) * sizeof(double));
    return bytes;
}

}  // namespace kizuna::lmp
