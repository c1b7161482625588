// Where a Potential computes: the CPU (OpenMP, float64) or a CUDA GPU (float64, or float32
// arithmetic with float64 accumulation). The choice is made once, when the Potential is built.
#pragma once

#include <string>

namespace kizuna {

enum class Device : int { cpu = 0, cuda = 1 };

// float32: symmetry-function terms, networks and derivatives in float; the sums that make
// G, the energy, forces and virials are accumulated in double (CUDA only).
enum class Precision : int { float64 = 0, float32 = 1 };

struct DeviceOptions {
    Device device = Device::cpu;
    Precision precision = Precision::float64;
    int device_id = -1;  // CUDA device ordinal; -1 = device 0 (LAMMPS: local rank % devices)
};

// "cpu" / "cuda", "float64" / "float32" (also "double" / "float"); InputError otherwise.
Device parse_device(const std::string& name);
Precision parse_precision(const std::string& name);
const char* to_string(Device device);
const char* to_string(Precision precision);

// Whether this build has the CUDA backend (CMake KIZUNA_CUDA found nvcc).
bool cuda_compiled();
// Number of usable CUDA devices: 0 without CUDA, without a driver or without a GPU. Never throws.
int cuda_device_count();
// Why cuda_device_count() is 0 (the CUDA runtime's message), "" when it is not.
std::string cuda_unavailable_reason();

}  // namespace kizuna
