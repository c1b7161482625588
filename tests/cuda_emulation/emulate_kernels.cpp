// Runs the CUDA kernels of kizuna (descriptors, networks, forces, committee member forces) under
// the CPU emulation of cuda_emulator.hpp on one structure, and compares with the CPU core.
//
//   kizuna_emulate_kernels MODEL STRUCTURE PRECISION
//
// STRUCTURE: a text file "n periodic(0|1)", "cell 9 numbers (rows a b c, Å)", then n lines
// "species x y z". Prints one JSON object: relative errors of every quantity against the CPU core
// (energy, G, forces, virial, atom energies, atom virials, member energies and forces), the
// overflow check (a deliberately too small neighbour cap must be detected and the neighbour
// count measured), and what was run. Exit status 0 unless something could not run.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "cuda_emulator.hpp"  // first: the CUDA keywords the kernels use

#include "descriptor_kernel.cuh"
#include "force_kernel.cuh"
#include "kizuna/model.hpp"
#include "kizuna/neighbor_list.hpp"
#include "kizuna/packed_model.hpp"
#include "kizuna/packed_neighbors.hpp"
#include "kizuna/potential.hpp"
#include "kizuna/warp_layout.hpp"
#include "network_kernel.cuh"

using namespace kizuna;

namespace {

double rel(const std::vector<double>& a, const std::vector<double>& b) {
    double d = 0.0, n = 0.0;
    for (size_t k = 0; k < b.size(); ++k) {
        d += (a[k] - b[k]) * (a[k] - b[k]);
        n += b[k] * b[k];
    }
    return n > 0 ? std::sqrt(d / n) : std::sqrt(d);
}

cuda::ModelView model_view(const PackedModel& pm) {
    cuda::ModelView v;
    v.num_elements = pm.num_elements;
    v.committee_size = pm.committee_size;
    v.max_features = pm.max_features;
    v.max_width = pm.max_width;
    v.elements = pm.elements.data();
    v.cutoffs = pm.cutoffs.data();
    v.cutoff_weights = pm.cutoff_weights.data();
    v.groups = pm.groups.data();
    v.functions = pm.functions.data();
    v.members = pm.members.data();
    v.layers = pm.layers.data();
    v.weights = pm.weights.data();
    v.weights_f = pm.weights_f.data();
    v.scale_shift = pm.scale_shift.data();
    v.scale_factor = pm.scale_factor.data();
    v.extrapolation_min = pm.extrapolation_min.data();
    v.extrapolation_max = pm.extrapolation_max.data();
    return v;
}

// Launch shapes of the emulation: 2 blocks of 2 warps, so that warps share a block's shared
// memory and blocks share the work counters, as on the GPU.
constexpr int kBlocks = 2, kThreads = 64;

template <class Real>
void run(const PackedModel& pm, const cuda::InputView& in, int cap, std::vector<double>& G, std::vector<double>& beta,
         std::vector<double>& member_beta, std::vector<double>& centre_energy, std::vector<int>& flags,
         std::vector<double>& member_energy, std::vector<double>& forces, std::vector<double>& atom_virials,
         std::vector<double>& member_forces, cuda::Scalars& sc) {
    const cuda::ModelView m = model_view(pm);
    const int nc = in.num_centres, ld = std::max(pm.max_features, 1), M = pm.committee_size;
    const WarpLayout L0 = make_warp_layout(cap, pm.max_cutoffs, pm.max_features, false, sizeof(Real));
    const WarpLayout L1 = make_warp_layout(cap, pm.max_cutoffs, pm.max_features, true, sizeof(Real));
    int layers = 0;
    for (const PackedMember& mem : pm.members) layers = std::max(layers, mem.num_layers);
    const NetworkLayout N = make_network_layout(pm.max_width, layers, sizeof(Real));
    std::vector<int> work(2 + M, 0);
    G.assign(static_cast<size_t>(nc) * ld, 0.0);
    beta.assign(G.size(), 0.0);
    member_beta.assign(M * G.size(), 0.0);
    centre_energy.assign(nc, 0.0);
    flags.assign(nc, -1);
    member_energy.assign(M, 0.0);
    forces.assign(3 * static_cast<size_t>(in.num_atoms), 0.0);
    atom_virials.assign(6 * static_cast<size_t>(in.num_atoms), 0.0);
    member_forces.assign(M * forces.size(), 0.0);
    sc = cuda::Scalars{};
    cuda::Scalars* s = &sc;
    emu::launch(kBlocks, kThreads, (kThreads / 32) * L0.bytes,
                [&] { cuda::descriptor_kernel<Real>(m, in, L0, G.data(), ld, s, &work[0]); });
    if (sc.overflow) return;
    emu::launch(kBlocks, kThreads, cuda::block_sums_bytes(M) + (kThreads / 32) * N.bytes, [&] {
        cuda::network_kernel<Real>(m, in, N, G.data(), ld, beta.data(), M > 1 ? member_beta.data() : nullptr,
                                   centre_energy.data(), flags.data(), member_energy.data(), s);
    });
    emu::launch(kBlocks, kThreads, (kThreads / 32) * L1.bytes, [&] {
        cuda::force_kernel<Real>(m, in, L1, beta.data(), ld, forces.data(), atom_virials.data(), sc.virial9, s,
                                 &work[1]);
    });
    if (M > 1)
        for (int k = 0; k < M; ++k)
            emu::launch(kBlocks, kThreads, (kThreads / 32) * L1.bytes, [&] {
                cuda::force_kernel<Real>(m, in, L1, member_beta.data() + static_cast<size_t>(k) * nc * ld, ld,
                                         member_forces.data() + k * forces.size(), nullptr, nullptr, s, &work[2 + k]);
            });
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 4) {
        std::cerr << "usage: " << argv[0] << " MODEL STRUCTURE float64|float32\n";
        return 2;
    }
    try {
        auto model = Model::load(argv[1]);
        std::ifstream in(argv[2]);
        int n = 0, periodic = 0;
        double cell[9];
        in >> n >> periodic;
        for (double& c : cell) in >> c;
        std::vector<int> species(n);
        std::vector<double> x(3 * static_cast<size_t>(n));
        for (int i = 0; i < n; ++i) in >> species[i] >> x[3 * i] >> x[3 * i + 1] >> x[3 * i + 2];
        if (!in) throw std::runtime_error("cannot read the structure file");
        const bool pbc[3] = {periodic != 0, periodic != 0, periodic != 0};
        NeighborList nl;
        build_neighbor_list(n, x.data(), periodic ? cell : nullptr, pbc, model->cutoff, nl, 1);
        std::vector<int> counts(n);
        for (int i = 0; i < n; ++i) counts[i] = static_cast<int>(nl.offsets[i + 1] - nl.offsets[i]);
        AtomsView atoms;
        atoms.num_atoms = n;
        atoms.positions = x.data();
        atoms.species = species.data();
        NeighborView nb;
        nb.num_centres = n;
        nb.counts = counts.data();
        nb.offsets = nl.offsets.data();
        nb.indices = nl.indices.data();
        nb.shifts = nl.shifts.data();

        // the CPU core
        const int M = model->committee_size;
        std::vector<double> F(3 * static_cast<size_t>(n), 0.0), E(n, 0.0), V(6 * static_cast<size_t>(n), 0.0),
            ME(M, 0.0), MF(M * F.size(), 0.0), Gcpu;
        Potential pot(model, 1);
        Request req;
        req.virial = req.atom_energies = req.atom_virials = req.member_energies = true;
        req.member_forces = M > 1;
        Result res;
        res.forces = F.data();
        res.atom_energies = E.data();
        res.atom_virials = V.data();
        res.member_energies = ME.data();
        res.member_forces = M > 1 ? MF.data() : nullptr;
        pot.compute(atoms, nb, req, res);
        std::vector<int64_t> feature_offsets(n + 1, 0);
        for (int i = 0; i < n; ++i)
            feature_offsets[i + 1] = feature_offsets[i] + static_cast<int64_t>(model->element_models[species[i]].sfs.size());
        Gcpu.assign(feature_offsets[n], 0.0);
        pot.descriptors(atoms, nb, feature_offsets.data(), Gcpu.data());

        // the kernels
        const PackedModel pm = pack_model(*model);
        NeighborPack pack;
        pack_neighbors(nb, pack);
        cuda::InputView iv;
        iv.num_atoms = n;
        iv.num_centres = n;
        iv.positions = x.data();
        iv.species = species.data();
        iv.counts = pack.counts;
        iv.offsets = pack.offsets;
        iv.indices = pack.indices;
        iv.shifts = pack.shifts;
        const bool f32 = std::string(argv[3]) == "float32";
        std::vector<double> G, beta, member_beta, centre_energy, member_energy, forces, atom_virials, member_forces;
        std::vector<int> flags;
        cuda::Scalars sc;
        auto run_all = [&](int cap) {
            if (f32)
                run<float>(pm, iv, cap, G, beta, member_beta, centre_energy, flags, member_energy, forces,
                           atom_virials, member_forces, sc);
            else
                run<double>(pm, iv, cap, G, beta, member_beta, centre_energy, flags, member_energy, forces,
                            atom_virials, member_forces, sc);
        };
        // 1. slots for 16 neighbours: the structures used have more, so the overflow must be seen
        run_all(16);
        const int overflow = sc.overflow, kept_at_overflow = sc.max_kept;
        // 2. slots for the longest list, as the engine's first call
        run_all(pack.max_count);

        const int ld = std::max(pm.max_features, 1);
        std::vector<double> Gk;
        for (int i = 0; i < n; ++i)
            for (int f = 0; f < feature_offsets[i + 1] - feature_offsets[i]; ++f) Gk.push_back(G[i * ld + f]);
        const double* W = sc.virial9;
        const std::vector<double> v6 = {W[0], W[4], W[8], W[1], W[2], W[5]};
        const std::vector<double> v6cpu(res.virial, res.virial + 6);
        bool flags_written = true;
        for (int f : flags) flags_written = flags_written && (f == 0 || f == 1);
        std::printf("{\"precision\": \"%s\", \"atoms\": %d, \"longest_list\": %d, \"max_kept\": %d, "
                    "\"overflow_seen\": %d, \"kept_at_overflow\": %d, \"overflow_after\": %d, "
                    "\"error_code\": %d, \"flags_written\": %d, \"extrapolating\": %llu, "
                    "\"extrapolating_cpu\": %lld, \"energy\": %.17g, \"energy_cpu\": %.17g, "
                    "\"err_energy\": %.3e, \"err_G\": %.3e, \"err_forces\": %.3e, \"err_virial\": %.3e, "
                    "\"err_atom_energies\": %.3e, \"err_atom_virials\": %.3e, \"err_member_energies\": %.3e, "
                    "\"err_member_forces\": %.3e}\n",
                    argv[3], n, pack.max_count, sc.max_kept, overflow, kept_at_overflow, sc.overflow, sc.error_code,
                    flags_written ? 1 : 0, sc.num_extrapolating, static_cast<long long>(res.num_extrapolating),
                    sc.energy, res.energy, std::fabs(sc.energy - res.energy) / std::fabs(res.energy), rel(Gk, Gcpu),
                    rel(forces, F), rel(v6, v6cpu), rel(centre_energy, E), rel(atom_virials, V),
                    rel(member_energy, ME), M > 1 ? rel(member_forces, MF) : 0.0);
    } catch (const std::exception& e) {
        std::cerr << "error: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
