// A CPU emulation of the few CUDA features the kizuna kernels use, so that the kernels
// (csrc/cuda/*_kernel.cuh) run as ordinary host code without a GPU: every GPU thread is an OS
// thread; the lanes of a warp meet at a 32-thread barrier in every warp intrinsic (shuffles,
// ballot, __syncwarp), the threads of a block at a block barrier in __syncthreads; blocks run
// one after another; atomics are std::atomic_ref. A kernel that calls a warp intrinsic from
// divergent code deadlocks here (as it is undefined on the GPU), a missing barrier shows up as
// a wrong or varying result, shared memory starts as garbage (0xCD bytes).
//
// Not emulated: the CUDA runtime (memory is host memory), timing, the memory model beyond what
// the barriers order, float rounding of the GPU's math library (expf, pow), FMA contraction.
#pragma once

#include <atomic>
#include <barrier>
#include <cstdint>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

namespace kizuna::emu {

struct Dim3 {
    unsigned x = 0, y = 0, z = 0;
};

struct Warp {
    std::barrier<> bar{32};
    uint64_t slot[32] = {};
};

struct Block {
    explicit Block(int threads) : bar(threads) {}
    std::barrier<> bar;
    unsigned char* smem = nullptr;
};

inline thread_local Dim3 tl_thread, tl_block;
inline thread_local Warp* tl_warp = nullptr;
inline thread_local Block* tl_blk = nullptr;
inline Dim3 g_grid, g_block;  // written before a launch, read-only during it

inline int lane_id() { return static_cast<int>(tl_thread.x & 31); }

// lane `src`'s value of v (every lane calls it)
template <class T>
T exchange(T v, int src) {
    static_assert(sizeof(T) <= sizeof(uint64_t), "32-bit or 64-bit values only");
    uint64_t bits = 0;
    std::memcpy(&bits, &v, sizeof(T));
    tl_warp->slot[lane_id()] = bits;
    tl_warp->bar.arrive_and_wait();
    const uint64_t got = tl_warp->slot[src & 31];
    tl_warp->bar.arrive_and_wait();
    T out;
    std::memcpy(&out, &got, sizeof(T));
    return out;
}

// Runs body() on grid x block threads (blocks in turn), with smem_bytes of shared memory per block.
template <class F>
void launch(int grid, int block, size_t smem_bytes, F&& body) {
    g_grid = {static_cast<unsigned>(grid), 1, 1};
    g_block = {static_cast<unsigned>(block), 1, 1};
    for (int b = 0; b < grid; ++b) {
        std::vector<unsigned char> smem(smem_bytes + 16, 0xCD);
        Block blk(block);
        blk.smem = smem.data();
        std::vector<std::unique_ptr<Warp>> warps;
        for (int w = 0; w < block / 32; ++w) warps.push_back(std::make_unique<Warp>());
        std::vector<std::thread> threads;
        for (int t = 0; t < block; ++t)
            threads.emplace_back([&, t] {
                tl_thread = {static_cast<unsigned>(t), 0, 0};
                tl_block = {static_cast<unsigned>(b), 0, 0};
                tl_blk = &blk;
                tl_warp = warps[t / 32].get();
                body();
            });
        for (std::thread& th : threads) th.join();
    }
}

// launcher(kernel, grid, block, smem)(args...) runs kernel(args...) as launch() does.
template <class K>
auto launcher(K kernel, int grid, int block, size_t smem_bytes) {
    return [=](auto... args) { launch(grid, block, smem_bytes, [&] { kernel(args...); }); };
}

}  // namespace kizuna::emu

// ------------------------------------------------------------------ CUDA keywords and builtins
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static  // one copy, shared by the threads of the (one running) block
#define threadIdx (::kizuna::emu::tl_thread)
#define blockIdx (::kizuna::emu::tl_block)
#define blockDim (::kizuna::emu::g_block)
#define gridDim (::kizuna::emu::g_grid)
#define KZ_DYNAMIC_SHARED(name) unsigned char* name = ::kizuna::emu::tl_blk->smem

template <class T>
T __shfl_sync(unsigned, T v, int src) { return kizuna::emu::exchange(v, src); }
template <class T>
T __shfl_xor_sync(unsigned, T v, int mask) { return kizuna::emu::exchange(v, kizuna::emu::lane_id() ^ mask); }
template <class T>
T __shfl_up_sync(unsigned, T v, unsigned delta) {
    const int src = kizuna::emu::lane_id() - static_cast<int>(delta);
    return kizuna::emu::exchange(v, src < 0 ? kizuna::emu::lane_id() : src);
}
inline unsigned __ballot_sync(unsigned, int predicate) {
    using namespace kizuna::emu;
    tl_warp->slot[lane_id()] = predicate ? 1 : 0;
    tl_warp->bar.arrive_and_wait();
    unsigned mask = 0;
    for (int l = 0; l < 32; ++l) mask |= static_cast<unsigned>(tl_warp->slot[l]) << l;
    tl_warp->bar.arrive_and_wait();
    return mask;
}
inline int __any_sync(unsigned m, int predicate) { return __ballot_sync(m, predicate) != 0; }
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline void __syncwarp(unsigned = 0xffffffffu) { kizuna::emu::tl_warp->bar.arrive_and_wait(); }
inline void __syncthreads() { kizuna::emu::tl_blk->bar.arrive_and_wait(); }

template <class T>
T atomicAdd(T* p, T v) { return std::atomic_ref<T>(*p).fetch_add(v); }
inline int atomicCAS(int* p, int compare, int value) {
    std::atomic_ref<int>(*p).compare_exchange_strong(compare, value);
    return compare;  // the old value
}
inline int atomicMax(int* p, int v) {
    std::atomic_ref<int> a(*p);
    int old = a.load();
    while (old < v && !a.compare_exchange_weak(old, v)) {
    }
    return old;
}
