// What the CUDA runtime reports (device.hpp) and the error check of every CUDA call.
#include <cuda_runtime.h>

#include <string>

#include "cuda_check.cuh"
#include "kizuna/device.hpp"

namespace kizuna {

bool cuda_compiled() { return true; }

int cuda_device_count() {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError();  // not sticky: clear it
        return 0;
    }
    return n;
}

std::string cuda_unavailable_reason() {
    int n = 0;
    const cudaError_t status = cudaGetDeviceCount(&n);
    if (status != cudaSuccess) {
        cudaGetLastError();
        return std::string("cudaGetDeviceCount: ") + cudaGetErrorName(status) + " (" + cudaGetErrorString(status) + ")";
    }
    return n == 0 ? "cudaGetDeviceCount found 0 devices" : "";
}

namespace cuda {

void check(cudaError_t status, const char* what) {
    if (status == cudaSuccess) return;
    cudaGetLastError();
    int device = -1;
    cudaGetDevice(&device);
    std::string message = std::string("CUDA error in ") + what + " on device " + std::to_string(device) + ": " +
                          cudaGetErrorName(status) + " (" + cudaGetErrorString(status) + ")";
    if (status == cudaErrorMemoryAllocation)
        message += ". The GPU is out of memory: give each GPU fewer atoms (more GPUs or MPI ranks), use "
                   "precision float32, or device cpu.";
    throw Error(message);
}

}  // namespace cuda
}  // namespace kizuna
