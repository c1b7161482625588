// CUDA error checks and device/pinned buffers of the CUDA backend. Every CUDA call's status is
// checked; a failure becomes a kizuna::Error naming the call, the CUDA message and the device.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <string>

#include "kizuna/errors.hpp"

namespace kizuna::cuda {

// Throws kizuna::Error for a failed CUDA call (`what` names it); out-of-memory gets advice.
void check(cudaError_t status, const char* what);

// A device array grown geometrically (x1.5, at least to the size asked), never shrunk, never
// freed between calls. Contents are not kept when it grows (callers rewrite them).
template <class T>
class DeviceBuffer {
  public:
    DeviceBuffer() = default;
    ~DeviceBuffer() {
        if (ptr_) cudaFree(ptr_);
    }
    DeviceBuffer(const DeviceBuffer&) = delete;
    DeviceBuffer& operator=(const DeviceBuffer&) = delete;

    T* ensure(size_t n, const char* what) {
        if (n > capacity_) {
            if (ptr_) check(cudaFree(ptr_), what);
            ptr_ = nullptr;
            capacity_ = 0;
            const size_t want = n + n / 2 + 16;
            check(cudaMalloc(reinterpret_cast<void**>(&ptr_), want * sizeof(T)), what);
            capacity_ = want;
        }
        return ptr_;
    }
    T* get() const { return ptr_; }
    size_t capacity() const { return capacity_; }

  private:
    T* ptr_ = nullptr;
    size_t capacity_ = 0;
};

// Page-locked host memory for device -> host copies, grown like DeviceBuffer.
template <class T>
class PinnedBuffer {
  public:
    PinnedBuffer() = default;
    ~PinnedBuffer() {
        if (ptr_) cudaFreeHost(ptr_);
    }
    PinnedBuffer(const PinnedBuffer&) = delete;
    PinnedBuffer& operator=(const PinnedBuffer&) = delete;

    T* ensure(size_t n, const char* what) {
        if (n > capacity_) {
            if (ptr_) check(cudaFreeHost(ptr_), what);
            ptr_ = nullptr;
            capacity_ = 0;
            const size_t want = n + n / 2 + 16;
            check(cudaMallocHost(reinterpret_cast<void**>(&ptr_), want * sizeof(T)), what);
            capacity_ = want;
        }
        return ptr_;
    }
    T* get() const { return ptr_; }

  private:
    T* ptr_ = nullptr;
    size_t capacity_ = 0;
};

}  // namespace kizuna::cuda
