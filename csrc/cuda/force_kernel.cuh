// Pass 2 on the GPU: forces and virials from beta = dE/dG, never forming dG/dr. One warp per
// centre i (from a work counter): gather the slots again, stage beta in shared memory, then
//   radial groups   lane j: dE/dr_j u_j into slot j's gradient (each slot has one owner lane)
//   angular groups  compacted triplets, one per lane: gj, gk (angular_gradient) added to slots
//                   j and k with shared-memory atomics (pairs are enumerated along diagonals,
//                   so a warp's 32 triplets of one element pair touch distinct j and distinct k)
// and scatter g_j = dE_i/dr_ij:  F_j -= g_j (global atomics), F_i += sum_j g_j (one warp sum),
// per-atom virial of j += -r_ij (x) g_j, and W -= r_ij (x) g_j kept per lane across centres,
// summed over the block at the end, one atomic per block and component.
// Device code only (no CUDA runtime calls): also compiled as host code by the CPU emulation of
// the kernels (tests/cuda_emulation), which runs them with one thread per GPU thread.
#pragma once

#include "warp.cuh"

namespace kizuna::cuda {

template <class Real>
__device__ void centre_gradient(const ModelView& m, const PackedElement& el, const WarpRegion<Real>& w, int lane) {
    const Slots<Real>& s = w.s;
    // radial kinds: slot j belongs to lane (j - begin) % 32 in every group, so no two lanes
    // write one slot here
    for (int gi = 0; gi < el.num_groups; ++gi) {
        const PackedGroup g = m.groups[el.first_group + gi];
        const GroupKind kind = static_cast<GroupKind>(g.kind);
        if (kind != GroupKind::radial && kind != GroupKind::compact_radial) continue;
        const PackedFunction* fn = m.functions + g.first;
        int j0, j1;
        slot_range(w.begin, g.e1, m.num_elements, j0, j1);
        for (int j = j0 + lane; j < j1; j += 32) {
            const Real d = kind == GroupKind::radial
                               ? radial_gradient(fn, g.count, w.beta, s.r[j], s.fc[g.cutoff * s.stride + j],
                                                 s.dfc[g.cutoff * s.stride + j])
                               : compact_radial_gradient(fn, g.count, w.beta, s.r[j],
                                                         g.cutoff >= 0 ? s.fc[g.cutoff * s.stride + j] : Real(1));
            w.gx[j] += double(d * s.ux[j]);
            w.gy[j] += double(d * s.uy[j]);
            w.gz[j] += double(d * s.uz[j]);
        }
    }
    __syncwarp();
    for (int gi = 0; gi < el.num_groups; ++gi) {
        const PackedGroup g = m.groups[el.first_group + gi];
        const GroupKind kind = static_cast<GroupKind>(g.kind);
        if (kind == GroupKind::radial || kind == GroupKind::compact_radial) continue;
        const bool narrow = kind == GroupKind::angular_narrow;
        const PackedFunction* fn = m.functions + g.first;
        const CutoffFunction* cut = g.cutoff >= 0 ? m.cutoffs + el.first_cutoff + g.cutoff : nullptr;
        warp_triplets(g, w, m.num_elements, lane, [&](int j, int k) {
            Real gj[3], gk[3];
            if (kind == GroupKind::compact_angular) {
                const Real c = s.ux[j] * s.ux[k] + s.uy[j] * s.uy[k] + s.uz[j] * s.uz[k];
                const Real W = g.cutoff >= 0 ? s.fc[g.cutoff * s.stride + j] * s.fc[g.cutoff * s.stride + k] : Real(1);
                compact_angular_gradient(fn, g.count, w.beta, s, j, k, c, W, gj, gk);
            } else if (kind == GroupKind::compact_angular_narrow) {
                const Real c = s.ux[j] * s.ux[k] + s.uy[j] * s.uy[k] + s.uz[j] * s.uz[k];
                const Real W = g.cutoff >= 0 ? s.fc[g.cutoff * s.stride + j] * s.fc[g.cutoff * s.stride + k] : Real(1);
                compact_narrow_gradient(fn, g.count, w.beta, s, j, k, c, W, gj, gk);
            } else {
                const Triplet<Real> t = triplet_geometry(s, j, k, narrow, *cut);
                angular_gradient(fn, g.count, w.beta, narrow, s, g.cutoff, j, k, t, gj, gk);
            }
            atomicAdd(&w.gx[j], double(gj[0]));
            atomicAdd(&w.gy[j], double(gj[1]));
            atomicAdd(&w.gz[j], double(gj[2]));
            atomicAdd(&w.gx[k], double(gk[0]));
            atomicAdd(&w.gy[k], double(gk[1]));
            atomicAdd(&w.gz[k], double(gk[2]));
        });
    }
    __syncwarp();
}

template <class Real>
__global__ void force_kernel(ModelView m, InputView in, WarpLayout L, const double* beta, int ldB, double* forces,
                             double* atom_virials, double* virial9, Scalars* sc, int* work) {
    KZ_DYNAMIC_SHARED(smem);
    __shared__ double block_virial[9];
    const int lane = threadIdx.x & 31;
    const WarpRegion<Real> w = warp_region<Real>(smem + (threadIdx.x >> 5) * L.bytes, L);
    if (threadIdx.x < 9) block_virial[threadIdx.x] = 0.0;
    __syncthreads();
    double W[9] = {0, 0, 0, 0, 0, 0, 0, 0, 0};  // this lane's share of -sum r (x) g
    int most = 0;
    for (int ii = next_centre(work, lane); ii < in.num_centres; ii = next_centre(work, lane)) {
        const int i = in.centres ? in.centres[ii] : ii;
        const int sp = in.species[i];
        if (sp < 0) continue;
        const PackedElement el = m.elements[sp];
        const int n = warp_gather(m, in, el, ii, i, w, L.cap, sc, lane, most);
        if (n < 0) continue;
        for (int f = lane; f < el.num_features; f += 32) w.beta[f] = Real(beta[static_cast<int64_t>(ii) * ldB + f]);
        for (int s = lane; s < n; s += 32) w.gx[s] = w.gy[s] = w.gz[s] = 0.0;
        __syncwarp();
        centre_gradient(m, el, w, lane);
        double fi[3] = {0, 0, 0};
        for (int s = lane; s < n; s += 32) {
            const double g[3] = {w.gx[s], w.gy[s], w.gz[s]};
            const double r[3] = {double(w.s.x[s]), double(w.s.y[s]), double(w.s.z[s])};
            const int64_t j = w.atom[s];
            for (int a = 0; a < 3; ++a) {
                atomicAdd(&forces[3 * j + a], -g[a]);
                fi[a] += g[a];
            }
            if (virial9)
                for (int a = 0; a < 3; ++a)
                    for (int b = 0; b < 3; ++b) W[3 * a + b] -= r[a] * g[b];
            if (atom_virials) {
                const double v[6] = {-r[0] * g[0], -r[1] * g[1], -r[2] * g[2],
                                     -r[0] * g[1], -r[0] * g[2], -r[1] * g[2]};
                for (int a = 0; a < 6; ++a) atomicAdd(&atom_virials[6 * j + a], v[a]);
            }
        }
        for (int a = 0; a < 3; ++a) {
            const double v = warp_sum(fi[a]);
            if (lane == 0) atomicAdd(&forces[3 * static_cast<int64_t>(i) + a], v);
        }
        __syncwarp();  // the slots are rewritten by the next centre's gather
    }
    report_most(sc, most, lane);
    if (virial9) {
        for (int a = 0; a < 9; ++a) {
            const double v = warp_sum(W[a]);
            if (lane == 0) atomicAdd(&block_virial[a], v);
        }
        __syncthreads();
        if (threadIdx.x < 9) atomicAdd(&virial9[threadIdx.x], block_virial[threadIdx.x]);
    }
}

}  // namespace kizuna::cuda
