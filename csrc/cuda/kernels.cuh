// Host-side launchers of the CUDA kernels (one .cu file each), called by cuda_engine.cu.
// All launches go to `stream`; none synchronises.
#pragma once

#include <cuda_runtime.h>

#include "kizuna/device.hpp"
#include "kizuna/warp_layout.hpp"
#include "views.cuh"

namespace kizuna::cuda {

struct DeviceInfo {
    int sms = 1;                // multiprocessors
    size_t smem_optin = 49152;  // largest dynamic shared memory a block may ask for (bytes)
};

// Pass 1: G of every centre into G[ii * ldG + f] (double; features not written stay as they
// were: the caller zeroes G). `work` is a zeroed counter.
void launch_descriptors(Precision precision, const DeviceInfo& dev, const ModelView& m, const InputView& in,
                        const WarpLayout& layout, double* G, int ldG, Scalars* sc, int* work, cudaStream_t stream);

// Networks of every centre (all committee members): atom energies (per centre), the committee
// mean beta = dE/dG (ldG layout), member betas when member_beta is not null (member m of
// centre ii at member_beta[(m * num_centres + ii) * ldG]), energies and extrapolation count
// into sc / member_energy, flags per centre when not null.
void launch_networks(Precision precision, const DeviceInfo& dev, const ModelView& m, const InputView& in,
                     const NetworkLayout& layout, const double* G, int ldG, double* beta, double* member_beta,
                     double* centre_energy, int* flags, double* member_energy, Scalars* sc, cudaStream_t stream);

// Pass 2: forces (+=, num_atoms x 3), per-atom virials (+= on the neighbour, 6 per atom, LAMMPS
// order) when not null, virial9 (+=, 9 doubles) when not null, from beta (ldB layout).
void launch_forces(Precision precision, const DeviceInfo& dev, const ModelView& m, const InputView& in,
                   const WarpLayout& layout, const double* beta, int ldB, double* forces, double* atom_virials,
                   double* virial9, Scalars* sc, int* work, cudaStream_t stream);

// Throws kizuna::Error when the kernels have no code for the current device (built for other
// architectures: CMAKE_CUDA_ARCHITECTURES).
void check_kernel_images(const char* device_name);

}  // namespace kizuna::cuda
