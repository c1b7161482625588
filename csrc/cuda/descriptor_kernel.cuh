// Pass 1 on the GPU: the symmetry functions G of every centre. One warp per centre (taken from
// a work counter): gather the neighbours into element-sorted slots in shared memory, then for
// each group of functions (in chunks of kValueChunk) every lane accumulates its neighbours' or
// triplets' terms in double registers, and a warp sum gives G. Triplets are compacted before
// they are evaluated (warp_triplets). The arithmetic is packed_math.hpp, shared with the host
// reference (csrc/testing/packed_reference.cpp).
// Device code only (no CUDA runtime calls): also compiled as host code by the CPU emulation of
// the kernels (tests/cuda_emulation), which runs them with one thread per GPU thread.
#pragma once

#include "warp.cuh"

namespace kizuna::cuda {

template <class Real>
__device__ void centre_values(const ModelView& m, const PackedElement& el, const WarpRegion<Real>& w, double* G,
                              int lane) {
    const Slots<Real>& s = w.s;
    for (int gi = 0; gi < el.num_groups; ++gi) {
        const PackedGroup g = m.groups[el.first_group + gi];
        const GroupKind kind = static_cast<GroupKind>(g.kind);
        const bool narrow = kind == GroupKind::angular_narrow;
        const CutoffFunction* cut = g.cutoff >= 0 ? m.cutoffs + el.first_cutoff + g.cutoff : nullptr;
        const Real* fc = s.fc + (g.cutoff >= 0 ? g.cutoff : 0) * s.stride;
        for (int c0 = 0; c0 < g.count; c0 += kValueChunk) {
            const PackedFunction* fn = m.functions + g.first + c0;
            const int nc = g.count - c0 < kValueChunk ? g.count - c0 : kValueChunk;
            double acc[kValueChunk];
            KZ_UNROLL
            for (int q = 0; q < kValueChunk; ++q) acc[q] = 0.0;
            int j0, j1;  // the group's slots (radial kinds)
            slot_range(w.begin, g.e1, m.num_elements, j0, j1);
            if (kind == GroupKind::radial) {
                for (int j = j0 + lane; j < j1; j += 32) radial_values<kValueChunk>(fn, nc, s.r[j], fc[j], acc);
            } else if (kind == GroupKind::compact_radial) {  // weighted: the weight is fc (a unit cutoff)
                for (int j = j0 + lane; j < j1; j += 32)
                    compact_radial_values<kValueChunk>(fn, nc, s.r[j], g.cutoff >= 0 ? fc[j] : Real(1), acc);
            } else if (kind == GroupKind::compact_angular) {
                warp_triplets(g, w, m.num_elements, lane, [&](int j, int k) {
                    const Real c = s.ux[j] * s.ux[k] + s.uy[j] * s.uy[k] + s.uz[j] * s.uz[k];
                    const Real W = g.cutoff >= 0 ? fc[j] * fc[k] : Real(1);
                    compact_angular_values<kValueChunk>(fn, nc, s.r[j], s.r[k], c, W, acc);
                });
            } else if (kind == GroupKind::compact_angular_narrow) {
                warp_triplets(g, w, m.num_elements, lane, [&](int j, int k) {
                    const Real c = s.ux[j] * s.ux[k] + s.uy[j] * s.uy[k] + s.uz[j] * s.uz[k];
                    const Real W = g.cutoff >= 0 ? fc[j] * fc[k] : Real(1);
                    compact_narrow_values<kValueChunk>(fn, nc, s, j, k, c, W, acc);
                });
            } else {
                warp_triplets(g, w, m.num_elements, lane, [&](int j, int k) {
                    const Triplet<Real> t = triplet_geometry(s, j, k, narrow, *cut);
                    angular_values<kValueChunk>(fn, nc, narrow, s.r[j], s.r[k], t, fc[j] * fc[k] * t.fcjk, acc);
                });
            }
            KZ_UNROLL
            for (int q = 0; q < kValueChunk; ++q) {
                if (q < nc) {
                    const double v = warp_sum(acc[q]);
                    if (lane == 0) G[fn[q].out] = v;
                }
            }
        }
    }
}

template <class Real>
__global__ void descriptor_kernel(ModelView m, InputView in, WarpLayout L, double* G, int ldG, Scalars* sc,
                                  int* work) {
    KZ_DYNAMIC_SHARED(smem);
    const int lane = threadIdx.x & 31;
    const WarpRegion<Real> w = warp_region<Real>(smem + (threadIdx.x >> 5) * L.bytes, L);
    int most = 0;
    for (int ii = next_centre(work, lane); ii < in.num_centres; ii = next_centre(work, lane)) {
        const int i = in.centres ? in.centres[ii] : ii;
        const int sp = in.species[i];
        if (sp < 0) continue;
        const PackedElement el = m.elements[sp];
        if (warp_gather(m, in, el, ii, i, w, L.cap, sc, lane, most) < 0) continue;
        centre_values(m, el, w, G + static_cast<int64_t>(ii) * ldG, lane);
        __syncwarp();  // the slots are rewritten by the next centre's gather
    }
    report_most(sc, most, lane);
}

}  // namespace kizuna::cuda
