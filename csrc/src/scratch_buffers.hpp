// Per-thread scratch arrays of the CPU kernels: grown, never shrunk, so the per-step path
// allocates only when a neighbourhood is larger than any before it.
#pragma once

#include <cstddef>
#include <vector>

namespace kizuna {

// at least n elements (25 % + 64 headroom so that slowly growing sizes reallocate rarely)
template <class T>
inline void grow(std::vector<T>& v, size_t n) {
    if (v.size() < n) v.resize(n + n / 4 + 64);
}

// n rounded up to a multiple of 8 (the length of a register tile, simd8.hpp)
inline size_t pad8(size_t n) { return (n + 7) & ~size_t(7); }

}  // namespace kizuna
