// Potential: OpenMP over centres; each thread owns an AtomKernel and (when several threads
// run) private force / per-atom-virial buffers that are summed at the end.
#include "kizuna/potential.hpp"

#include <algorithm>
#include <cmath>
#include <exception>
#include <string>

#include "atom_kernel.hpp"
#include "kizuna/cuda_engine.hpp"
#include "kizuna/errors.hpp"
#include "network_batch.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace kizuna {

namespace {

void check_thread_count(int n, const char* what) {
    if (n < 0 || n > max_threads)
        throw InputError(std::string(what) + " must be between 0 (the OpenMP default) and " +
                         std::to_string(max_threads) + ", got " + std::to_string(n) +
                         (n > max_threads ? "; more threads than cores only slow the run down" : ""));
}

}  // namespace

Potential::Potential(std::shared_ptr<const Model> model, int num_threads, const DeviceOptions& device)
    : model_(std::move(model)), num_threads_(num_threads), options_(device) {
    if (!model_) throw InputError("Potential needs a model");
    check_thread_count(num_threads, "threads");
    if (device.device == Device::cuda) {
        engine_ = std::make_unique<CudaEngine>(model_, device);
    } else if (device.precision != Precision::float64) {
        throw InputError("precision float32 is an option of the CUDA backend; the CPU computes in float64 "
                         "(use device cuda, or precision float64)");
    }
}

std::string Potential::device_name() const { return engine_ ? engine_->device_name() : "cpu"; }

Potential::~Potential() = default;

void Potential::set_num_threads(int n) {
    check_thread_count(n, "threads");
    num_threads_ = n;
}

int Potential::num_threads() const {
#ifdef _OPENMP
    if (num_threads_ > 0) return num_threads_;
    const int n = omp_get_max_threads();
    if (n > max_threads)
        throw InputError("the OpenMP default number of threads (OMP_NUM_THREADS) is " + std::to_string(n) +
                         ", more than the " + std::to_string(max_threads) +
                         " kizuna runs; set OMP_NUM_THREADS to the number of cores, or give threads");
    return n;
#else
    return 1;
#endif
}

AtomKernel& Potential::kernel(int thread) { return *kernels_[thread]; }

// Per thread of compute(): the network inputs, outputs and gradients of a block of centres.
struct BlockWork {
    std::vector<double> x, y, dydx;      // [row * max_features + f], [row]
    std::vector<double> member_energy;   // [b * members + m], eV
    std::vector<double> local_member;    // per member: this thread's energy sum, eV
    NetworkBatch::Work work;
};

// A block of centres keeps every centre's kernel state (neighbours, triplet and moment arrays)
// from its values to its adjoint; the block is closed early once the sum of neighbours^2 of
// its centres (a proxy for that state) reaches this bound, so that it stays in cache. Measured
// (benchmarks/profile_core.py, 1 thread): the CHGNet students keep blocks of 8 (Si, 28
// neighbours in 5 Å) and 7 atoms (Li2O, 55), the n2p2 water potential (96 neighbours in
// 6.35 Å) blocks of 3: with blocks of 8 it ran ~4 % slower than atom by atom, now as fast.
constexpr double kBlockFootprint = 2e4;

AtomKernel& Potential::block_kernel(int thread, int b) {
    return *block_kernels_[static_cast<size_t>(thread) * kNetworkBatch + b];
}

void Potential::ensure_block_work(int n_threads) {
    const Model& model = *model_;
    if (!batch_) batch_ = std::make_unique<NetworkBatch>(model);
    while (static_cast<int>(block_work_.size()) < n_threads) {
        auto w = std::make_unique<BlockWork>();
        const size_t nf = static_cast<size_t>(std::max(model.max_features, 1));
        w->x.resize(kNetworkBatch * nf);
        w->dydx.resize(kNetworkBatch * nf);
        w->y.resize(kNetworkBatch);
        w->member_energy.resize(static_cast<size_t>(kNetworkBatch) * model.committee_size);
        block_work_.push_back(std::move(w));
        for (int b = 0; b < kNetworkBatch; ++b) block_kernels_.push_back(std::make_unique<AtomKernel>(model));
    }
}

void Potential::check_inputs(const AtomsView& atoms, const NeighborView& nb) const {
    if (atoms.num_atoms < 0 || (atoms.num_atoms > 0 && !atoms.positions))
        throw InputError("no positions given");
    if (!atoms.species && !(atoms.types && atoms.type_to_species))
        throw InputError("give either species or types with a type map");
    if (nb.num_centres > 0 && (!nb.counts || (!nb.lists && !nb.offsets)))
        throw InputError("incomplete neighbour list: counts and either lists or offsets are needed");
    if (!nb.lists && !nb.indices)  // CSR without indices: fine only when there is no pair at all
        for (int ii = 0; ii < nb.num_centres; ++ii)
            if (nb.counts[nb.slot(ii)] != 0)
                throw InputError("incomplete neighbour list: centre " + std::to_string(ii) + " has " +
                                 std::to_string(nb.counts[nb.slot(ii)]) + " neighbours but no indices were given");
    const int ne = model_->num_elements();
    for (int i = 0; i < atoms.num_atoms; ++i) {
        const double* x = atoms.positions + 3 * static_cast<size_t>(i);
        if (!(std::isfinite(x[0]) && std::isfinite(x[1]) && std::isfinite(x[2])))
            throw InputError("atom " + std::to_string(i) + " has a non-finite coordinate (" + std::to_string(x[0]) +
                             ", " + std::to_string(x[1]) + ", " + std::to_string(x[2]) + ")");
        const int s = atoms.species_of(i);
        if (s < -1 || s >= ne)
            throw InputError("atom " + std::to_string(i) + " has species index " + std::to_string(s) +
                             " but the model has " + std::to_string(ne) + " elements");
    }
    for (int ii = 0; ii < nb.num_centres; ++ii) {
        const int i = nb.centre(ii);
        if (i < 0 || i >= atoms.num_atoms)
            throw InputError("centre " + std::to_string(ii) + " refers to atom " + std::to_string(i) +
                             " outside 0.." + std::to_string(atoms.num_atoms - 1));
    }
}

namespace {

struct ThreadBuffers {
    double* forces;
    double* atom_virials;
};

// Accumulate forces and virials of centre i from the kernel's per-slot gradients
// g_j = dE_i/dr_ij: F_j -= g_j, F_i += g_j, W -= r_ij (x) g_j (tallied on atom j).
void scatter(const AtomKernel& k, int channel, int i, double* forces, double* virial6, double* atom_virials,
             double* virial9) {
    const int n = k.num_neighbors();
    const double* gx = k.gx(channel);
    const double* gy = k.gy(channel);
    const double* gz = k.gz(channel);
    const double* rx = k.rx();
    const double* ry = k.ry();
    const double* rz = k.rz();
    if (forces) {
        double fi[3] = {0.0, 0.0, 0.0};
        for (int s = 0; s < n; ++s) {
            double* fj = forces + 3 * static_cast<size_t>(k.neighbor_atom(s));
            fj[0] -= gx[s];
            fj[1] -= gy[s];
            fj[2] -= gz[s];
            fi[0] += gx[s];
            fi[1] += gy[s];
            fi[2] += gz[s];
        }
        double* f = forces + 3 * static_cast<size_t>(i);
        f[0] += fi[0];
        f[1] += fi[1];
        f[2] += fi[2];
    }
    if (virial6 || atom_virials) {
        double w[6] = {0, 0, 0, 0, 0, 0};
        for (int s = 0; s < n; ++s) {
            const double v[6] = {-rx[s] * gx[s], -ry[s] * gy[s], -rz[s] * gz[s],
                                 -rx[s] * gy[s], -rx[s] * gz[s], -ry[s] * gz[s]};
            for (int a = 0; a < 6; ++a) w[a] += v[a];
            if (atom_virials) {
                double* av = atom_virials + 6 * static_cast<size_t>(k.neighbor_atom(s));
                for (int a = 0; a < 6; ++a) av[a] += v[a];
            }
        }
        if (virial6)
            for (int a = 0; a < 6; ++a) virial6[a] += w[a];
    }
    if (virial9) {
        for (int s = 0; s < n; ++s) {
            const double r[3] = {rx[s], ry[s], rz[s]}, g[3] = {gx[s], gy[s], gz[s]};
            for (int a = 0; a < 3; ++a)
                for (int b = 0; b < 3; ++b) virial9[3 * a + b] -= r[a] * g[b];
        }
    }
}

// Why atom i's energy is not finite: the first non-finite symmetry function, if any, else the
// network or the energy map (scale, offset) overflowed.
std::string non_finite_atom(const Model& model, const AtomKernel& k, int i, int s, double Ei) {
    std::string where = "atom " + std::to_string(i) + " (" + model.elements[s] + ") has energy " +
                        std::to_string(Ei) + " eV: ";
    const double* G = k.G();
    for (int f = 0; f < k.num_features(); ++f)
        if (!std::isfinite(G[f]))
            return where + "its symmetry function " + std::to_string(f + 1) + " of element " + model.elements[s] +
                   " is " + std::to_string(G[f]) + " (a parameter such as a huge zeta or eta overflows)";
    return where + "its symmetry functions are finite, so the network or the energy map (energy_scale, "
                   "energy_offset) overflows";
}

void check_finite_totals(const Result& result, const Request& request) {
    if (!std::isfinite(result.energy))
        throw NumericalError("the total energy is " + std::to_string(result.energy) +
                             " eV: the model overflows on this structure");
    if (request.virial)
        for (int a = 0; a < 6; ++a)
            if (!std::isfinite(result.virial[a]))
                throw NumericalError("the virial is not finite (component " + std::to_string(a) + " is " +
                                     std::to_string(result.virial[a]) + "): the model overflows on this structure");
}

}  // namespace

// ----------------------------------------------------------------------------------- compute
void Potential::compute(const AtomsView& atoms, const NeighborView& nb, const Request& request, Result& result) {
    check_inputs(atoms, nb);
    if (engine_) {
        engine_->compute(atoms, nb, request, result);
        check_finite_totals(result, request);
        return;
    }
    const Model& model = *model_;
    const int n_threads = num_threads();
    ensure_block_work(n_threads);
    const bool want_forces = request.forces && result.forces;
    const bool want_av = request.atom_virials && result.atom_virials;
    const int M = model.committee_size;
    const bool want_mf = request.member_forces && result.member_forces && M > 1;
    const bool need_adjoint = want_forces || request.virial || want_av || want_mf;
    const size_t n3 = 3 * static_cast<size_t>(atoms.num_atoms), n6 = 6 * static_cast<size_t>(atoms.num_atoms);
    thread_forces_.resize(n_threads);
    thread_atom_virials_.resize(n_threads);
    thread_member_forces_.resize(n_threads);
    for (int t = 1; t < n_threads; ++t) {
        if (want_forces) thread_forces_[t].assign(n3, 0.0);
        if (want_av) thread_atom_virials_[t].assign(n6, 0.0);
        if (want_mf) thread_member_forces_[t].assign(M * n3, 0.0);
    }
    member_energy_.assign(M, 0.0);  // keeps its capacity: no allocation after the first call
    std::vector<double>& member_energy = member_energy_;
    double energy = 0.0;
    double virial[6] = {0, 0, 0, 0, 0, 0};
    int64_t n_extrapolating = 0;
    std::exception_ptr error;

#pragma omp parallel num_threads(n_threads)
    {
        int t = 0;
#ifdef _OPENMP
        t = omp_get_thread_num();
#endif
        BlockWork& bw = *block_work_[t];
        double* F = want_forces ? (t == 0 ? result.forces : thread_forces_[t].data()) : nullptr;
        double* AV = want_av ? (t == 0 ? result.atom_virials : thread_atom_virials_[t].data()) : nullptr;
        double* MF = want_mf ? (t == 0 ? result.member_forces : thread_member_forces_[t].data()) : nullptr;
        const size_t nf_max = static_cast<size_t>(model.max_features);
        for (int b = 0; b < kNetworkBatch; ++b) block_kernel(t, b).member_scratch(want_mf ? M * nf_max : 0);
        double local_energy = 0.0, local_virial[6] = {0, 0, 0, 0, 0, 0};
        std::vector<double>& local_member = bw.local_member;
        local_member.assign(M, 0.0);
        int64_t local_extra = 0;
        // Blocks of kNetworkBatch centres: (1) the symmetry functions of every centre, each in
        // its own kernel (kept for its adjoint); (2) the networks of each element batched over
        // the block's atoms of that element (NetworkBatch: GEMMs); (3) centre by centre, in
        // order: energy, adjoint, forces. Every sum runs in the same order as centre by centre.
        const int n_blocks = (nb.num_centres + kNetworkBatch - 1) / kNetworkBatch;
#pragma omp for schedule(dynamic, 1)
        for (int blk = 0; blk < n_blocks; ++blk) {
            const int first = blk * kNetworkBatch;
            const int end = std::min(first + kNetworkBatch, nb.num_centres);
            try {
                // sub-blocks of centres ii0 .. ii0 + n_block: closed early when the kept kernel
                // states would outgrow the cache (neighbours^2 of the centres, kBlockFootprint)
                for (int ii0 = first, n_block = 0; ii0 < end; ii0 += n_block) {
                    int species[kNetworkBatch];
                    double footprint = 0.0;
                    n_block = 0;
                    while (ii0 + n_block < end && (n_block == 0 || footprint < kBlockFootprint)) {
                        const int b = n_block++;
                        const int i = nb.centre(ii0 + b);
                        const int s = atoms.species_of(i);
                        species[b] = s;
                        if (s < 0) continue;
                        AtomKernel& k = block_kernel(t, b);
                        k.gather(atoms, nb, ii0 + b, s);
                        k.values();
                        const ElementModel& em = model.element_models[s];
                        const int nf = k.num_features();
                        const double* G = k.G();
                        // outside the training range in any feature (branch-free: vectorises)
                        const double* __restrict gmin = em.extrapolation_min.data();
                        const double* __restrict gmax = em.extrapolation_max.data();
                        int outside = 0;
#pragma omp simd reduction(| : outside)
                        for (int f = 0; f < nf; ++f) outside |= (G[f] < gmin[f]) | (G[f] > gmax[f]);
                        const bool extrapolating = outside != 0;
                        local_extra += extrapolating;
                        if (result.extrapolating) result.extrapolating[i] = extrapolating;
                        double* beta = k.scratch_beta();
                        std::fill(beta, beta + nf, 0.0);
                        footprint += static_cast<double>(k.num_neighbors()) * k.num_neighbors();
                    }
                    // networks: member m of element s on the block's atoms of s (rows[0..n_rows))
                    for (int s = 0; s < model.num_elements(); ++s) {
                        int rows[kNetworkBatch], n_rows = 0;
                        for (int b = 0; b < n_block; ++b)
                            if (species[b] == s) rows[n_rows++] = b;
                        if (n_rows == 0) continue;
                        const ElementModel& em = model.element_models[s];
                        const int nf = static_cast<int>(em.sfs.size());
                        for (int m = 0; m < M; ++m) {
                            const Member& mem = em.members[m];
                            for (int r = 0; r < n_rows; ++r) {
                                const double* G = block_kernel(t, rows[r]).G();
                                double* x = bw.x.data() + r * nf_max;
                                for (int f = 0; f < nf; ++f)
                                    x[f] = mem.scale_offset + mem.scale_factor[f] * (G[f] - mem.scale_shift[f]);
                            }
                            batch_->evaluate(s, m, n_rows, bw.x.data(), nf_max, bw.y.data(), bw.dydx.data(), nf_max,
                                             bw.work);
                            const double w = mem.energy_scale / M;
                            for (int r = 0; r < n_rows; ++r) {
                                AtomKernel& k = block_kernel(t, rows[r]);
                                const double* dydx = bw.dydx.data() + r * nf_max;
                                bw.member_energy[rows[r] * M + m] = mem.energy_offset + mem.energy_scale * bw.y[r];
                                double* beta = k.scratch_beta();
                                for (int f = 0; f < nf; ++f) beta[f] += w * dydx[f] * mem.scale_factor[f];
                                if (want_mf) {
                                    double* bm = k.member_scratch(0).data() + static_cast<size_t>(m) * nf;
                                    for (int f = 0; f < nf; ++f)
                                        bm[f] = mem.energy_scale * dydx[f] * mem.scale_factor[f];
                                }
                            }
                        }
                    }
                    for (int b = 0; b < n_block; ++b) {
                        const int s = species[b];
                        if (s < 0) continue;
                        const int i = nb.centre(ii0 + b);
                        AtomKernel& k = block_kernel(t, b);
                        const int nf = k.num_features();
                        double Ei = 0.0;
                        for (int m = 0; m < M; ++m) {
                            const double Em = bw.member_energy[b * M + m];
                            local_member[m] += Em;
                            Ei += Em;
                        }
                        Ei /= M;
                        if (!std::isfinite(Ei)) throw NumericalError(non_finite_atom(model, k, i, s, Ei));
                        local_energy += Ei;
                        if (request.atom_energies && result.atom_energies) result.atom_energies[i] = Ei;
                        if (want_mf) {
                            // one force pass per member; the mean force is their average
                            const double* member_beta = k.member_scratch(0).data();
                            for (int m = 0; m < M; ++m) {
                                k.adjoint(member_beta + static_cast<size_t>(m) * nf, m);
                                scatter(k, m, i, MF + m * n3, nullptr, nullptr, nullptr);
                            }
                            k.average_channels(M, M);
                            scatter(k, M, i, F, request.virial ? local_virial : nullptr, AV, nullptr);
                        } else if (need_adjoint) {
                            k.adjoint(k.scratch_beta());
                            scatter(k, 0, i, F, request.virial ? local_virial : nullptr, AV, nullptr);
                        }
                    }
                }
            } catch (...) {
#pragma omp critical(kizuna_error)
                if (!error) error = std::current_exception();  // first error, type kept
            }
        }
#pragma omp critical(kizuna_reduce)
        {
            energy += local_energy;
            for (int a = 0; a < 6; ++a) virial[a] += local_virial[a];
            for (int m = 0; m < M; ++m) member_energy[m] += local_member[m];
            n_extrapolating += local_extra;
        }
    }
    if (error) std::rethrow_exception(error);
    if (n_threads > 1) {
        for (int t = 1; t < n_threads; ++t) {
            if (want_forces) {
                const double* src = thread_forces_[t].data();
                for (size_t a = 0; a < n3; ++a) result.forces[a] += src[a];
            }
            if (want_av) {
                const double* src = thread_atom_virials_[t].data();
                for (size_t a = 0; a < n6; ++a) result.atom_virials[a] += src[a];
            }
            if (want_mf) {
                const double* src = thread_member_forces_[t].data();
                for (size_t a = 0; a < M * n3; ++a) result.member_forces[a] += src[a];
            }
        }
    }
    result.energy = energy;
    if (request.virial)
        for (int a = 0; a < 6; ++a) result.virial[a] = virial[a];
    if (request.member_energies && result.member_energies)
        for (int m = 0; m < M; ++m) result.member_energies[m] = member_energy[m];
    result.num_extrapolating = n_extrapolating;
    check_finite_totals(result, request);
}

double force_deviation(const double* member_forces, int members, int n, double* std, int64_t stride) {
    double worst = 0.0;
    const size_t n3 = 3 * static_cast<size_t>(stride >= n ? stride : n);
    for (int i = 0; i < n; ++i) {
        double mean[3] = {0.0, 0.0, 0.0};
        for (int m = 0; m < members; ++m)
            for (int a = 0; a < 3; ++a) mean[a] += member_forces[m * n3 + 3 * i + a] / members;
        double var = 0.0;
        for (int m = 0; m < members; ++m)
            for (int a = 0; a < 3; ++a) {
                const double d = member_forces[m * n3 + 3 * i + a] - mean[a];
                var += d * d / members;
            }
        const double s = std::sqrt(var);
        if (std) std[i] = s;
        worst = std::max(worst, s);
    }
    return worst;
}

// -------------------------------------------------------------------------- training operators
void Potential::descriptors(const AtomsView& atoms, const NeighborView& nb, const int64_t* offsets, double* G) {
    check_inputs(atoms, nb);
    if (engine_) {
        engine_->descriptors(atoms, nb, offsets, G);
        return;
    }
    const int n_threads = num_threads();
    while (static_cast<int>(kernels_.size()) < n_threads) kernels_.push_back(std::make_unique<AtomKernel>(*model_));
    std::exception_ptr error;
#pragma omp parallel num_threads(n_threads)
    {
        int t = 0;
#ifdef _OPENMP
        t = omp_get_thread_num();
#endif
        AtomKernel& k = kernel(t);
#pragma omp for schedule(dynamic, 8)
        for (int ii = 0; ii < nb.num_centres; ++ii) {
            try {
                const int s = atoms.species_of(nb.centre(ii));
                if (s < 0) continue;
                k.gather(atoms, nb, ii, s);
                k.values();
                std::copy(k.G(), k.G() + k.num_features(), G + offsets[ii]);
            } catch (...) {
#pragma omp critical(kizuna_error)
                if (!error) error = std::current_exception();  // first error, type kept
            }
        }
    }
    if (error) std::rethrow_exception(error);
}

void Potential::vjp(const AtomsView& atoms, const NeighborView& nb, const int64_t* offsets, const double* beta,
                    double* forces, double* virial9) {
    check_inputs(atoms, nb);
    if (engine_) {
        engine_->vjp(atoms, nb, offsets, beta, forces, virial9);
        return;
    }
    const int n_threads = num_threads();
    while (static_cast<int>(kernels_.size()) < n_threads) kernels_.push_back(std::make_unique<AtomKernel>(*model_));
    const size_t n3 = 3 * static_cast<size_t>(atoms.num_atoms);
    thread_forces_.resize(n_threads);
    for (int t = 1; t < n_threads; ++t)
        if (forces) thread_forces_[t].assign(n3, 0.0);
    double W[9] = {0, 0, 0, 0, 0, 0, 0, 0, 0};
    std::exception_ptr error;
#pragma omp parallel num_threads(n_threads)
    {
        int t = 0;
#ifdef _OPENMP
        t = omp_get_thread_num();
#endif
        AtomKernel& k = kernel(t);
        double* F = forces ? (t == 0 ? forces : thread_forces_[t].data()) : nullptr;
        double local[9] = {0, 0, 0, 0, 0, 0, 0, 0, 0};
#pragma omp for schedule(dynamic, 8)
        for (int ii = 0; ii < nb.num_centres; ++ii) {
            try {
                const int i = nb.centre(ii);
                const int s = atoms.species_of(i);
                if (s < 0) continue;
                k.gather(atoms, nb, ii, s);
                k.values();
                k.adjoint(beta + offsets[ii]);
                scatter(k, 0, i, F, nullptr, nullptr, virial9 ? local : nullptr);
            } catch (...) {
#pragma omp critical(kizuna_error)
                if (!error) error = std::current_exception();  // first error, type kept
            }
        }
#pragma omp critical(kizuna_reduce)
        for (int a = 0; a < 9; ++a) W[a] += local[a];
    }
    if (error) std::rethrow_exception(error);
    if (forces)
        for (int t = 1; t < n_threads; ++t)
            for (size_t a = 0; a < n3; ++a) forces[a] += thread_forces_[t][a];
    if (virial9)
        for (int a = 0; a < 9; ++a) virial9[a] += W[a];
}

void Potential::jvp(const AtomsView& atoms, const NeighborView& nb, const int64_t* offsets, const double* dpos,
                    const double* dstrain9, double* dG) {
    check_inputs(atoms, nb);
    if (engine_)
        throw UnsupportedError("jvp (the directional derivative of G used in training) runs on the CPU only; "
                               "build this Potential with device cpu for training");
    const int n_threads = num_threads();
    while (static_cast<int>(kernels_.size()) < n_threads) kernels_.push_back(std::make_unique<AtomKernel>(*model_));
    std::exception_ptr error;
#pragma omp parallel num_threads(n_threads)
    {
        int t = 0;
#ifdef _OPENMP
        t = omp_get_thread_num();
#endif
        AtomKernel& k = kernel(t);
        std::vector<double>& dr = k.member_scratch(0);
#pragma omp for schedule(dynamic, 8)
        for (int ii = 0; ii < nb.num_centres; ++ii) {
            try {
                const int i = nb.centre(ii);
                const int s = atoms.species_of(i);
                if (s < 0) continue;
                k.gather(atoms, nb, ii, s);
                k.values();
                const int n = k.num_neighbors();
                if (dr.size() < 3 * static_cast<size_t>(n)) dr.resize(3 * static_cast<size_t>(n) + 64);
                for (int slot = 0; slot < n; ++slot) {
                    const int j = k.neighbor_atom(slot);
                    const double r[3] = {k.rx()[slot], k.ry()[slot], k.rz()[slot]};
                    for (int a = 0; a < 3; ++a) {
                        double v = dpos ? dpos[3 * static_cast<size_t>(j) + a] - dpos[3 * static_cast<size_t>(i) + a] : 0.0;
                        if (dstrain9) v += dstrain9[3 * a] * r[0] + dstrain9[3 * a + 1] * r[1] + dstrain9[3 * a + 2] * r[2];
                        dr[3 * slot + a] = v;
                    }
                }
                k.tangent(dr.data(), dG + offsets[ii]);
            } catch (...) {
#pragma omp critical(kizuna_error)
                if (!error) error = std::current_exception();  // first error, type kept
            }
        }
    }
    if (error) std::rethrow_exception(error);
}

}  // namespace kizuna
