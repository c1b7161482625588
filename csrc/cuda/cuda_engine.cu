// CudaEngine (cuda_engine.hpp): one GPU, one stream, persistent buffers (grown x1.5, never
// freed between calls). Per call:
//   upload   positions and species (every call); centres and the CSR neighbour list only when
//            the caller's list_version changed (LAMMPS: at re-neighbouring; Python: every call)
//   kernels  descriptors -> networks -> forces (mean beta), + one force pass per member when
//            member forces are asked for
//   download the scalars, then only what the Request asks for, into pinned staging buffers;
//            forces and per-atom virials are added (+=) to the caller's arrays on the host.
// Shared memory per warp is sized by the neighbours a centre keeps inside its cutoff, learnt from
// the previous call; a call where some centre keeps more is run again with enough (with_slots).
#include <algorithm>
#include <cstddef>
#include <cstring>
#include <string>
#include <vector>

#include "cuda_check.cuh"
#include "device_model.cuh"
#include "kernels.cuh"
#include "kizuna/cuda_engine.hpp"
#include "kizuna/errors.hpp"
#include "kizuna/packed_model.hpp"
#include "kizuna/packed_neighbors.hpp"
#include "kizuna/warp_layout.hpp"

namespace kizuna {

using cuda::check;
using cuda::DeviceBuffer;
using cuda::PinnedBuffer;

namespace {
// Address of the virial in the device-side scalars (no access to device memory).
double* virial_of(cuda::Scalars* sc) {
    return reinterpret_cast<double*>(reinterpret_cast<char*>(sc) + offsetof(cuda::Scalars, virial9));
}
}  // namespace

struct CudaEngine::Impl {
    std::shared_ptr<const Model> model;
    PackedModel pm;
    DeviceOptions options;
    int device = 0;
    std::string name;
    cuda::DeviceInfo info;
    cudaStream_t stream = nullptr;
    cuda::DeviceModel dmodel;

    // inputs on the GPU
    DeviceBuffer<double> positions, shifts;
    DeviceBuffer<int> species, centres, counts, indices;
    DeviceBuffer<int64_t> offsets;
    cuda::InputView input;
    int64_t list_version = -1;
    int list_atoms = -1, max_count = 0;
    // Neighbour slots per warp: the longest list (always enough) until a call has measured how
    // many neighbours a centre keeps inside its cutoff (a LAMMPS list with its skin holds about
    // twice as many); then that count with headroom. Fewer slots, more warps per multiprocessor.
    int slots_hint = 0;
    NeighborPack pack;
    std::vector<int> host_species;

    // work arrays and results on the GPU
    DeviceBuffer<double> G, beta, member_beta, centre_energy, forces, atom_virials, member_forces, member_energy;
    DeviceBuffer<int> flags, work;
    DeviceBuffer<cuda::Scalars> scalars;

    // host staging
    PinnedBuffer<double> h_doubles;
    PinnedBuffer<int> h_ints;
    PinnedBuffer<cuda::Scalars> h_scalars;

    ~Impl() {  // the buffers free themselves after this, on this device
        cudaSetDevice(device);
        if (stream) cudaStreamDestroy(stream);
    }

    size_t real_size() const { return options.precision == Precision::float32 ? sizeof(float) : sizeof(double); }
    int ldG() const { return std::max(pm.max_features, 1); }

    void activate() const { check(cudaSetDevice(device), "cudaSetDevice"); }

    void upload(const AtomsView& atoms, const NeighborView& nb);
    void begin_call(int work_counters);
    cuda::Scalars finish_scalars();
    int slots() const { return slots_hint > 0 && slots_hint < max_count ? slots_hint : max_count; }
    WarpLayout layout(bool grad) const {
        return make_warp_layout(slots(), pm.max_cutoffs, pm.max_features, grad, real_size());
    }
    // Runs `attempt` (kernels, downloads, finish_scalars) once, or twice when a centre had more
    // neighbours than the slots (the second time with exactly enough), then learns the count.
    template <class F>
    cuda::Scalars with_slots(F&& attempt) {
        cuda::Scalars s = attempt();
        if (s.overflow) {
            slots_hint = s.max_kept;
            s = attempt();
            if (s.overflow)
                throw Error("internal error of the CUDA backend: " + std::to_string(s.max_kept) +
                            " neighbours do not fit " + std::to_string(slots()) + " slots");
        }
        if (s.error_code) throw_gather_error(s.error_code, s.error_i, s.error_j, s.error_r2);
        slots_hint = s.max_kept + std::max(8, s.max_kept / 8);
        return s;
    }
    NetworkLayout network_layout() const {
        int layers = 0;
        for (const PackedMember& m : pm.members) layers = std::max(layers, m.num_layers);
        return make_network_layout(pm.max_width, layers, real_size());
    }
};

// --------------------------------------------------------------------------------- creation
CudaEngine::CudaEngine(std::shared_ptr<const Model> model, const DeviceOptions& options) : impl_(new Impl) {
    Impl& e = *impl_;
    e.model = std::move(model);
    e.options = options;
    int count = 0;
    const cudaError_t status = cudaGetDeviceCount(&count);
    if (status != cudaSuccess || count == 0) {
        cudaGetLastError();
        throw UnsupportedError(
            "device cuda: no CUDA device found (" + cuda_unavailable_reason() +
            "). This kizuna has the CUDA backend, but this machine has no usable NVIDIA GPU or driver. "
            "Use device cpu, or run on a machine with a GPU and a driver for CUDA 13.");
    }
    e.device = options.device_id < 0 ? 0 : options.device_id;
    if (e.device >= count)
        throw InputError("device cuda: CUDA device " + std::to_string(e.device) + " does not exist; this machine has " +
                         std::to_string(count) + " (ordinals 0.." + std::to_string(count - 1) + ")");
    e.activate();
    cudaDeviceProp prop;
    check(cudaGetDeviceProperties(&prop, e.device), "cudaGetDeviceProperties");
    e.name = std::string(prop.name) + " (device " + std::to_string(e.device) + ")";
    e.info.sms = prop.multiProcessorCount;
    e.info.smem_optin = prop.sharedMemPerBlockOptin;
    cuda::check_kernel_images(e.name.c_str());
    e.pm = pack_model(*e.model);
    e.dmodel.upload(e.pm);
    check(cudaStreamCreateWithFlags(&e.stream, cudaStreamNonBlocking), "cudaStreamCreate");
}

CudaEngine::~CudaEngine() = default;

std::string CudaEngine::device_name() const { return impl_->name; }
Precision CudaEngine::precision() const { return impl_->options.precision; }

// ------------------------------------------------------------------------------------ inputs
void CudaEngine::Impl::upload(const AtomsView& atoms, const NeighborView& nb) {
    const int n = atoms.num_atoms;
    double* x = positions.ensure(3 * static_cast<size_t>(std::max(n, 1)), "positions");
    if (n > 0)
        check(cudaMemcpyAsync(x, atoms.positions, 3 * sizeof(double) * n, cudaMemcpyHostToDevice, stream),
              "positions upload");
    input.num_atoms = n;
    input.positions = x;
    auto up = [&](auto& buffer, const auto* host, size_t count, const char* what) {
        auto* d = buffer.ensure(std::max<size_t>(count, 1), what);
        if (count) check(cudaMemcpyAsync(d, host, count * sizeof(*host), cudaMemcpyHostToDevice, stream), what);
        return d;
    };
    // species every call (types may change without a new list, e.g. LAMMPS fix atom/swap)
    pack_species(atoms, host_species);
    input.species = up(species, host_species.data(), host_species.size(), "species upload");
    const bool same_list = nb.list_version >= 0 && nb.list_version == list_version && n == list_atoms &&
                           nb.num_centres == input.num_centres;
    if (same_list) return;
    pack_neighbors(nb, pack);
    const int nc = nb.num_centres;
    input.num_centres = nc;
    input.centres = pack.centres ? up(centres, pack.centres, nc, "centres upload") : nullptr;
    input.counts = up(counts, pack.counts, nc, "neighbour counts upload");
    input.offsets = up(offsets, pack.offsets, nc, "neighbour offsets upload");
    input.indices = up(indices, pack.indices, static_cast<size_t>(pack.num_entries), "neighbour list upload");
    input.shifts = pack.shifts ? up(shifts, pack.shifts, 3 * static_cast<size_t>(pack.num_entries), "shifts upload")
                               : nullptr;
    max_count = pack.max_count;
    list_version = nb.list_version;
    list_atoms = n;
}

// Zeroes the scalars and `work_counters` work counters.
void CudaEngine::Impl::begin_call(int work_counters) {
    check(cudaMemsetAsync(scalars.ensure(1, "scalars"), 0, sizeof(cuda::Scalars), stream), "scalars reset");
    check(cudaMemsetAsync(work.ensure(work_counters, "work counters"), 0, sizeof(int) * work_counters, stream),
          "work counter reset");
}

cuda::Scalars CudaEngine::Impl::finish_scalars() {
    cuda::Scalars* h = h_scalars.ensure(1, "scalars");
    check(cudaMemcpyAsync(h, scalars.get(), sizeof(cuda::Scalars), cudaMemcpyDeviceToHost, stream), "scalars download");
    check(cudaStreamSynchronize(stream), "kernels");
    return *h;
}

// ----------------------------------------------------------------------------------- compute
void CudaEngine::compute(const AtomsView& atoms, const NeighborView& nb, const Request& request, Result& result) {
    Impl& e = *impl_;
    e.activate();
    e.upload(atoms, nb);
    const cuda::InputView& in = e.input;
    const int n = atoms.num_atoms, nc = nb.num_centres, M = e.pm.committee_size, ld = e.ldG();
    const size_t n3 = 3 * static_cast<size_t>(n), n6 = 6 * static_cast<size_t>(n);
    const bool want_forces = request.forces && result.forces;
    const bool want_av = request.atom_virials && result.atom_virials;
    const bool want_mf = request.member_forces && result.member_forces && M > 1;
    const bool need_adjoint = want_forces || request.virial || want_av || want_mf;
    const Precision p = e.options.precision;
    cudaStream_t st = e.stream;

    const size_t d_me = 0, d_ce = d_me + M, d_f = d_ce + (request.atom_energies && result.atom_energies ? nc : 0),
                 d_av = d_f + (want_forces ? n3 : 0), d_mf = d_av + (want_av ? n6 : 0), d_end = d_mf + (want_mf ? M * n3 : 0);
    double* h = nullptr;
    int* hflags = nullptr;
    const cuda::Scalars s = e.with_slots([&]() {
        e.begin_call(2 + M);
        cuda::Scalars* sc = e.scalars.get();
        int* work = e.work.get();
        double* G = e.G.ensure(static_cast<size_t>(nc) * ld + 1, "G");
        check(cudaMemsetAsync(G, 0, sizeof(double) * nc * ld, st), "G reset");
        double* beta = e.beta.ensure(static_cast<size_t>(nc) * ld + 1, "beta");
        double* centre_energy = e.centre_energy.ensure(nc + 1, "atom energies");
        double* member_energy = e.member_energy.ensure(M, "member energies");
        check(cudaMemsetAsync(member_energy, 0, sizeof(double) * M, st), "member energy reset");
        int* flags = result.extrapolating ? e.flags.ensure(nc + 1, "extrapolation flags") : nullptr;
        double* member_beta = want_mf ? e.member_beta.ensure(static_cast<size_t>(M) * nc * ld + 1, "member betas") : nullptr;

        cuda::launch_descriptors(p, e.info, e.dmodel.view(), in, e.layout(false), G, ld, sc, work, st);
        cuda::launch_networks(p, e.info, e.dmodel.view(), in, e.network_layout(), G, ld, beta, member_beta,
                              centre_energy, flags, member_energy, sc, st);
        double* F = nullptr;
        double* AV = nullptr;
        double* MF = nullptr;
        if (need_adjoint) {
            const WarpLayout L = e.layout(true);
            F = e.forces.ensure(n3 + 1, "forces");
            check(cudaMemsetAsync(F, 0, sizeof(double) * n3, st), "force reset");
            if (want_av) {
                AV = e.atom_virials.ensure(n6 + 1, "per-atom virials");
                check(cudaMemsetAsync(AV, 0, sizeof(double) * n6, st), "per-atom virial reset");
            }
            cuda::launch_forces(p, e.info, e.dmodel.view(), in, L, beta, ld, F, AV, request.virial ? virial_of(sc) : nullptr,
                                sc, work + 1, st);
            if (want_mf) {
                MF = e.member_forces.ensure(M * n3 + 1, "member forces");
                check(cudaMemsetAsync(MF, 0, sizeof(double) * M * n3, st), "member force reset");
                for (int m = 0; m < M; ++m)
                    cuda::launch_forces(p, e.info, e.dmodel.view(), in, L, member_beta + static_cast<size_t>(m) * nc * ld,
                                        ld, MF + m * n3, nullptr, nullptr, sc, work + 2 + m, st);
            }
        }

        // downloads: one pinned region for the doubles, one for the ints
        h = e.h_doubles.ensure(d_end + 1, "download buffer");
        auto down = [&](double* dst, const double* src, size_t count, const char* what) {
            if (count) check(cudaMemcpyAsync(dst, src, count * sizeof(double), cudaMemcpyDeviceToHost, st), what);
        };
        down(h + d_me, member_energy, M, "member energy download");
        down(h + d_ce, centre_energy, d_f - d_ce, "atom energy download");
        down(h + d_f, F, d_av - d_f, "force download");
        down(h + d_av, AV, d_mf - d_av, "per-atom virial download");
        down(h + d_mf, MF, d_end - d_mf, "member force download");
        hflags = flags ? e.h_ints.ensure(nc + 1, "flag download") : nullptr;
        if (flags && nc) check(cudaMemcpyAsync(hflags, flags, nc * sizeof(int), cudaMemcpyDeviceToHost, st), "flag download");
        return e.finish_scalars();
    });
    result.energy = s.energy;
    if (request.virial) {
        const double* W = s.virial9;  // LAMMPS order xx yy zz xy xz yz
        const double v[6] = {W[0], W[4], W[8], W[1], W[2], W[5]};
        for (int a = 0; a < 6; ++a) result.virial[a] = v[a];
    }
    if (request.member_energies && result.member_energies)
        for (int m = 0; m < M; ++m) result.member_energies[m] = h[d_me + m];
    result.num_extrapolating = static_cast<int64_t>(s.num_extrapolating);
    for (int ii = 0; ii < nc; ++ii) {
        const int i = nb.centre(ii);
        if (atoms.species_of(i) < 0) continue;
        if (d_f > d_ce) result.atom_energies[i] = h[d_ce + ii];
        if (hflags) result.extrapolating[i] = hflags[ii];
    }
    for (size_t a = 0; a < d_av - d_f; ++a) result.forces[a] += h[d_f + a];
    for (size_t a = 0; a < d_mf - d_av; ++a) result.atom_virials[a] += h[d_av + a];
    for (size_t a = 0; a < d_end - d_mf; ++a) result.member_forces[a] += h[d_mf + a];
}

// ------------------------------------------------------------------------ training operators
void CudaEngine::descriptors(const AtomsView& atoms, const NeighborView& nb, const int64_t* feature_offsets,
                             double* G_out) {
    Impl& e = *impl_;
    e.activate();
    e.upload(atoms, nb);
    const int nc = nb.num_centres, ld = e.ldG();
    double* h = e.h_doubles.ensure(static_cast<size_t>(nc) * ld + 1, "G download");
    e.with_slots([&]() {
        e.begin_call(1);
        double* G = e.G.ensure(static_cast<size_t>(nc) * ld + 1, "G");
        check(cudaMemsetAsync(G, 0, sizeof(double) * nc * ld, e.stream), "G reset");
        cuda::launch_descriptors(e.options.precision, e.info, e.dmodel.view(), e.input, e.layout(false), G, ld,
                                 e.scalars.get(), e.work.get(), e.stream);
        if (nc) check(cudaMemcpyAsync(h, G, sizeof(double) * nc * ld, cudaMemcpyDeviceToHost, e.stream), "G download");
        return e.finish_scalars();
    });
    for (int ii = 0; ii < nc; ++ii) {
        const int sp = atoms.species_of(nb.centre(ii));
        if (sp < 0) continue;
        std::memcpy(G_out + feature_offsets[ii], h + static_cast<size_t>(ii) * ld,
                    sizeof(double) * e.pm.elements[sp].num_features);
    }
}

void CudaEngine::vjp(const AtomsView& atoms, const NeighborView& nb, const int64_t* feature_offsets,
                     const double* beta_in, double* forces, double* virial9) {
    Impl& e = *impl_;
    e.activate();
    e.upload(atoms, nb);
    const int n = atoms.num_atoms, nc = nb.num_centres, ld = e.ldG();
    const size_t n3 = 3 * static_cast<size_t>(n);
    double* h = e.h_doubles.ensure(std::max(static_cast<size_t>(nc) * ld, n3) + 1, "beta staging");
    for (int ii = 0; ii < nc; ++ii) {
        const int sp = atoms.species_of(nb.centre(ii));
        if (sp < 0) continue;
        std::memcpy(h + static_cast<size_t>(ii) * ld, beta_in + feature_offsets[ii],
                    sizeof(double) * e.pm.elements[sp].num_features);
    }
    double* beta = e.beta.ensure(static_cast<size_t>(nc) * ld + 1, "beta");
    if (nc) check(cudaMemcpyAsync(beta, h, sizeof(double) * nc * ld, cudaMemcpyHostToDevice, e.stream), "beta upload");
    check(cudaStreamSynchronize(e.stream), "beta upload");  // h is reused for the forces
    const cuda::Scalars s = e.with_slots([&]() {
        e.begin_call(1);
        double* F = e.forces.ensure(n3 + 1, "forces");
        check(cudaMemsetAsync(F, 0, sizeof(double) * n3, e.stream), "force reset");
        cuda::launch_forces(e.options.precision, e.info, e.dmodel.view(), e.input, e.layout(true), beta, ld, F,
                            nullptr, virial_of(e.scalars.get()), e.scalars.get(), e.work.get(), e.stream);
        if (n3) check(cudaMemcpyAsync(h, F, sizeof(double) * n3, cudaMemcpyDeviceToHost, e.stream), "force download");
        return e.finish_scalars();
    });
    if (forces)
        for (size_t a = 0; a < n3; ++a) forces[a] += h[a];
    if (virial9)
        for (int a = 0; a < 9; ++a) virial9[a] += s.virial9[a];
}

}  // namespace kizuna
