// Device building blocks shared by the descriptor and force kernels: warp reductions, the
// per-warp shared-memory regions (warp_layout.hpp), the neighbour gather into element-sorted
// slots, and the compacted triplet loop. One warp works on one centre atom at a time.
#pragma once

#include <cstdint>

#include "kizuna/packed_math.hpp"
#include "kizuna/warp_layout.hpp"
#include "views.cuh"

// The block's dynamic shared memory (the CPU emulation of the kernels defines its own).
#ifndef KZ_DYNAMIC_SHARED
#define KZ_DYNAMIC_SHARED(name) extern __shared__ __align__(16) unsigned char name[]
#endif

namespace kizuna::cuda {

constexpr unsigned kFullMask = 0xffffffffu;

__device__ __forceinline__ double warp_sum(double v) {
    KZ_UNROLL
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(kFullMask, v, o);
    return v;
}

__device__ __forceinline__ unsigned lanes_below(int lane) { return (1u << lane) - 1u; }

// The next centre for this warp from a work counter (dynamic balance: O and H centres, centres
// with more neighbours, take different times). Warp-uniform.
__device__ __forceinline__ int next_centre(int* counter, int lane) {
    int ii = 0;
    if (lane == 0) ii = atomicAdd(counter, 1);
    return __shfl_sync(kFullMask, ii, 0);
}

// Pointers into one warp's shared-memory region.
template <class Real>
struct WarpRegion {
    Slots<Real> s;
    double *gx, *gy, *gz;  // force kernel
    Real* beta;            // force kernel
    int* atom;
    int* begin;
    int* queue;
};

template <class Real>
__device__ __forceinline__ WarpRegion<Real> warp_region(unsigned char* base, const WarpLayout& L) {
    WarpRegion<Real> w;
    Real* p = reinterpret_cast<Real*>(base + L.slots);
    Real** fields[] = {&w.s.x, &w.s.y, &w.s.z, &w.s.ux, &w.s.uy, &w.s.uz, &w.s.r, &w.s.ir};
    for (Real** f : fields) {
        *f = p;
        p += L.cap;
    }
    w.s.fc = p;
    w.s.dfc = p + L.nc * L.cap;
    w.s.stride = L.cap;
    w.gx = reinterpret_cast<double*>(base + L.gx);
    w.gy = reinterpret_cast<double*>(base + L.gy);
    w.gz = reinterpret_cast<double*>(base + L.gz);
    w.beta = reinterpret_cast<Real*>(base + L.beta);
    w.atom = reinterpret_cast<int*>(base + L.atom);
    w.begin = reinterpret_cast<int*>(base + L.begin);
    w.queue = reinterpret_cast<int*>(base + L.queue);
    return w;
}

// First error of the call wins (reported by the host as the CPU kernel would).
__device__ __forceinline__ void record_error(Scalars* sc, int code, int i, int j, double r2) {
    if (atomicCAS(&sc->error_code, 0, code) == 0) {
        sc->error_i = i;
        sc->error_j = j;
        sc->error_r2 = r2;
    }
}

// Entry e of centre ii: neighbour j, its element sj and r_ij = x_j (+ shift) - x_i; returns the
// classify_neighbor code (1 keep, 0 drop, < 0 bad input).
__device__ __forceinline__ int load_entry(const InputView& in, int64_t off, int e, double xi, double yi, double zi,
                                          double rc2, int& j, int& sj, double& dx, double& dy, double& dz,
                                          double& r2) {
    j = in.indices[off + e];
    sj = in.species[j];
    if (sj < 0) return 0;
    dx = in.positions[3 * static_cast<int64_t>(j)] - xi;
    dy = in.positions[3 * static_cast<int64_t>(j) + 1] - yi;
    dz = in.positions[3 * static_cast<int64_t>(j) + 2] - zi;
    if (in.shifts) {
        dx += in.shifts[3 * (off + e)];
        dy += in.shifts[3 * (off + e) + 1];
        dz += in.shifts[3 * (off + e) + 2];
    }
    r2 = dx * dx + dy * dy + dz * dz;
    return classify_neighbor(r2, rc2);
}

// Gathers the neighbours of centre ii (atom i, element `el`) kept within el.rc_max into slots
// sorted by element, list order within an element (as the host reference): two passes over the
// list, the first counts per element (lane e holds the count of element e), the second writes
// each kept entry at its element's next slot (ballot + popc). Returns the number of slots, or
// -1 when they would exceed the layout's cap (sc->overflow is set; the host repeats the call
// with a larger cap). w.begin[e] .. w.begin[e+1] are the slots of element e. `most` (lane 0)
// tracks the largest count of this warp.
template <class Real>
__device__ int warp_gather(const ModelView& m, const InputView& in, const PackedElement& el, int ii, int i,
                           const WarpRegion<Real>& w, int cap, Scalars* sc, int lane, int& most) {
    const int count = in.counts[ii];
    const int64_t off = in.offsets[ii];
    const double xi = in.positions[3 * static_cast<int64_t>(i)];
    const double yi = in.positions[3 * static_cast<int64_t>(i) + 1];
    const double zi = in.positions[3 * static_cast<int64_t>(i) + 2];
    const double rc2 = el.rc_max * el.rc_max;
    const int ne = m.num_elements;
    int counted = 0;  // lane e: kept neighbours of element e
    for (int e0 = 0; e0 < count; e0 += 32) {
        int j = 0, sj = -1, cls = 0;
        double dx = 0, dy = 0, dz = 0, r2 = 0;
        if (e0 + lane < count) cls = load_entry(in, off, e0 + lane, xi, yi, zi, rc2, j, sj, dx, dy, dz, r2);
        if (cls < 0) record_error(sc, -cls, i, j, r2);
        for (int e = 0; e < ne; ++e) {
            const unsigned b = __ballot_sync(kFullMask, cls == 1 && sj == e);
            if (lane == e) counted += __popc(b);
        }
    }
    int inclusive = counted;  // exclusive scan over lanes: first slot of element `lane`
    KZ_UNROLL
    for (int o = 1; o < 32; o <<= 1) {
        const int v = __shfl_up_sync(kFullMask, inclusive, o);
        if (lane >= o) inclusive += v;
    }
    int next = inclusive - counted;
    const int total = __shfl_sync(kFullMask, next, ne);  // lane ne: the total
    most = total > most ? total : most;
    if (total > cap) {
        if (lane == 0) sc->overflow = 1;
        return -1;
    }
    if (lane <= ne) w.begin[lane] = next;
    const CutoffFunction* cut = m.cutoffs + el.first_cutoff;
    const double* cut_weights = m.cutoff_weights + static_cast<int64_t>(el.first_cutoff) * ne;
    for (int e0 = 0; e0 < count; e0 += 32) {
        int j = 0, sj = -1, cls = 0;
        double dx = 0, dy = 0, dz = 0, r2 = 0;
        if (e0 + lane < count) cls = load_entry(in, off, e0 + lane, xi, yi, zi, rc2, j, sj, dx, dy, dz, r2);
        const bool keep = cls == 1;
        int slot = 0;
        for (int e = 0; e < ne; ++e) {
            const unsigned b = __ballot_sync(kFullMask, keep && sj == e);
            const int first = __shfl_sync(kFullMask, next, e);
            if (keep && sj == e) slot = first + __popc(b & lanes_below(lane));
            if (lane == e) next += __popc(b);
        }
        if (keep) {
            fill_slot(w.s, slot, dx, dy, dz, r2, cut, el.num_cutoffs, cut_weights, ne, sj);
            w.atom[slot] = j;
        }
    }
    __syncwarp();
    return total;
}

// End of a per-centre kernel: the warp's largest neighbour count into sc->max_kept.
__device__ __forceinline__ void report_most(Scalars* sc, int most, int lane) {
    if (lane == 0 && most > 0) atomicMax(&sc->max_kept, most);
}

// Calls f(j, k) for every contributing triplet of group g (accept_triplet), 32 at a time: lanes
// test consecutive pair candidates (pair_of_index), accepted pairs are appended to the warp's
// queue (ballot + popc), and whenever 32 are queued every lane processes one. The rest (< 32)
// is processed at the end with the lanes below the count. f must not use warp collectives.
// ne: the model's elements (a group of element -1 takes every slot).
template <class Real, class F>
__device__ __forceinline__ void warp_triplets(const PackedGroup& g, const WarpRegion<Real>& w, int ne, int lane,
                                              F&& f) {
    const bool narrow = group_needs_rjk(g.kind);  // r_jk < rc too
    const bool same = g.e1 == g.e2;
    int b1, e1, b2, e2;
    slot_range(w.begin, g.e1, ne, b1, e1);
    slot_range(w.begin, g.e2, ne, b2, e2);
    const int n1 = e1 - b1, n2 = e2 - b2;
    const int np = pair_count(n1, n2, same);
    const Real rc = Real(g.rc);
    int queued = 0;  // warp-uniform
    for (int p0 = 0; p0 < np; p0 += 32) {
        int j = 0, k = 0;
        bool ok = false;
        if (p0 + lane < np) {
            int a, b;
            pair_of_index(p0 + lane, n1, n2, same, a, b);
            j = b1 + a;
            k = b2 + b;
            ok = accept_triplet(w.s, j, k, rc, narrow);
        }
        const unsigned accepted = __ballot_sync(kFullMask, ok);
        if (ok) w.queue[queued + __popc(accepted & lanes_below(lane))] = j | (k << 16);
        queued += __popc(accepted);
        __syncwarp();
        if (queued >= 32) {
            queued -= 32;
            const int t = w.queue[queued + lane];
            __syncwarp();  // every lane has read its entry before the queue is appended to again
            f(t & 0xffff, t >> 16);
        }
    }
    if (lane < queued) {
        const int t = w.queue[lane];
        f(t & 0xffff, t >> 16);
    }
    __syncwarp();
}

}  // namespace kizuna::cuda
