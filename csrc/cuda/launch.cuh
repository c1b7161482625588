// Launch shapes of the per-centre kernels: as many warps per block as the shared memory allows
// (4, 2 or 1), as many resident blocks as fit on the GPU (a persistent grid; warps take centres
// from a work counter), never more blocks than there is work for.
#pragma once

#include <cuda_runtime.h>

#include <string>

#include "cuda_check.cuh"
#include "kernels.cuh"

// kernel<<<grid, block, smem, stream>>>: a macro so that the CPU emulation of the backend
// (tests/cuda_emulation, KIZUNA_CUDA=EMULATE) can run the launchers too
#ifndef KZ_LAUNCH
#define KZ_LAUNCH(kernel, grid, block, smem, stream) kernel<<<grid, block, smem, stream>>>
#endif

namespace kizuna::cuda {

struct LaunchShape {
    int blocks = 0, threads = 0;
    size_t smem = 0;  // dynamic shared memory per block (bytes)
};

template <class Kernel>
LaunchShape per_centre_shape(Kernel kernel, const DeviceInfo& dev, size_t per_warp, size_t per_block_extra,
                             int items, const char* name) {
    LaunchShape s;
    const size_t limit = dev.smem_optin - 1024;  // room for the kernels' static shared memory
    int warps = 4;
    while (warps > 1 && warps * per_warp + per_block_extra > limit) warps /= 2;
    if (warps * per_warp + per_block_extra > limit)
        throw InputError(std::string(name) + ": one centre needs " + std::to_string(per_warp) +
                         " bytes of GPU shared memory for its neighbours, more than the " +
                         std::to_string(limit) +
                         " a block may use. The neighbour list has too many entries for one atom (a very "
                         "dense structure, or a LAMMPS neighbour skin much larger than needed); use a "
                         "smaller skin, precision float32 (half the memory per neighbour) or device cpu.");
    s.threads = 32 * warps;
    s.smem = warps * per_warp + per_block_extra;
    check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(s.smem)),
          name);
    int per_sm = 0;
    check(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, s.threads, s.smem), name);
    if (per_sm < 1) per_sm = 1;
    const int needed = (items + warps - 1) / warps;
    s.blocks = needed < per_sm * dev.sms ? needed : per_sm * dev.sms;
    if (s.blocks < 1) s.blocks = 1;
    return s;
}

}  // namespace kizuna::cuda
