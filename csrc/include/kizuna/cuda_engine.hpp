// CudaEngine: the CUDA backend behind Potential (device = cuda). The same operations as the CPU
// path with the same views and the same Result contract (forces and per-atom virials += ,
// per-atom energies written for every centre). Declared here without CUDA types; implemented in
// csrc/cuda/cuda_engine.cu when the build has CUDA, and by csrc/src/cuda_stub.cpp otherwise,
// whose constructor throws UnsupportedError with the rebuild advice.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "kizuna/device.hpp"
#include "kizuna/model.hpp"
#include "kizuna/potential.hpp"

namespace kizuna {

class CudaEngine {
  public:
    // Throws UnsupportedError when this build has no CUDA or no CUDA device can be used.
    CudaEngine(std::shared_ptr<const Model> model, const DeviceOptions& options);
    ~CudaEngine();
    CudaEngine(const CudaEngine&) = delete;
    CudaEngine& operator=(const CudaEngine&) = delete;

    // Inputs were checked by Potential::check_inputs.
    void compute(const AtomsView& atoms, const NeighborView& neighbors, const Request& request, Result& result);
    void descriptors(const AtomsView& atoms, const NeighborView& neighbors, const int64_t* feature_offsets,
                     double* G);
    void vjp(const AtomsView& atoms, const NeighborView& neighbors, const int64_t* feature_offsets,
             const double* beta, double* forces, double* virial9);

    std::string device_name() const;  // e.g. "NVIDIA H100 80GB HBM3 (device 0)"
    Precision precision() const;

    struct Impl;

  private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace kizuna
