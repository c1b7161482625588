// Shared-memory layout of one warp of the CUDA descriptor and force kernels (one warp = one
// centre atom at a time), and of the network kernel. Computed on the host, passed to the kernels
// by value; plain C++ so that it is tested without a GPU.
//
// Descriptor / force kernel, per warp, every region 16-byte aligned:
//   gx, gy, gz     cap doubles each     per-slot gradient dE_i/dr_ij (force kernel only)
//   slots          (8 + 2 nc) x cap     x y z ux uy uz r ir, then fc and fc' of each cutoff
//                  Reals
//   beta           features Reals       dE/dG of the centre (force kernel only)
//   atom           cap ints             neighbour atom of each slot
//   begin          32 ints              first slot of each neighbour element (+ end)
//   queue          64 ints              compacted triplets (j | k << 16) waiting for a full warp
// Network kernel, per warp: beta (width doubles, the committee sum of dE/dG), x and the L layer
// outputs ((L + 1) x width Reals), L activation derivatives (L x width), two backward buffers
// (2 x width Reals).
#pragma once

#include <cstddef>

namespace kizuna {

struct WarpLayout {
    int cap = 0;       // neighbour slots (a multiple of 32)
    int nc = 0;        // cutoff functions per slot
    int features = 0;  // beta entries
    int grad = 0;      // 1: force kernel (gradients and beta)
    size_t gx = 0, gy = 0, gz = 0, slots = 0, beta = 0, atom = 0, begin = 0, queue = 0;
    size_t bytes = 0;  // per warp, a multiple of 16
};

struct NetworkLayout {
    int width = 0, layers = 0;
    size_t act = 0, dact = 0, back = 0, beta = 0;
    size_t bytes = 0;  // per warp, a multiple of 16
};

inline size_t align16(size_t n) { return (n + 15) & ~size_t(15); }

// Slots for `max_neighbors` entries (rounded up to 32), `nc` cutoff functions, `features`
// features; `real_size` = sizeof(Real) (8 or 4).
inline WarpLayout make_warp_layout(int max_neighbors, int nc, int features, bool grad, size_t real_size) {
    WarpLayout L;
    L.cap = ((max_neighbors > 0 ? max_neighbors : 1) + 31) / 32 * 32;
    L.nc = nc;
    L.features = features;
    L.grad = grad ? 1 : 0;
    const size_t cap = static_cast<size_t>(L.cap);
    size_t off = 0;
    if (grad) {
        L.gx = off;
        off += align16(cap * sizeof(double));
        L.gy = off;
        off += align16(cap * sizeof(double));
        L.gz = off;
        off += align16(cap * sizeof(double));
    }
    L.slots = off;
    off += align16((8 + 2 * static_cast<size_t>(nc)) * cap * real_size);
    L.beta = off;
    if (grad) off += align16(static_cast<size_t>(features > 0 ? features : 1) * real_size);
    L.atom = off;
    off += align16(cap * sizeof(int));
    L.begin = off;
    off += align16(32 * sizeof(int));
    L.queue = off;
    off += align16(64 * sizeof(int));
    L.bytes = off;
    return L;
}

inline NetworkLayout make_network_layout(int width, int layers, size_t real_size) {
    NetworkLayout L;
    L.width = width;
    L.layers = layers;
    const size_t w = static_cast<size_t>(width);
    size_t off = 0;
    L.beta = off;
    off += align16(w * sizeof(double));
    L.act = off;
    off += align16((static_cast<size_t>(layers) + 1) * w * real_size);
    L.dact = off;
    off += align16(static_cast<size_t>(layers) * w * real_size);
    L.back = off;
    off += align16(2 * w * real_size);
    L.bytes = off;
    return L;
}

}  // namespace kizuna
