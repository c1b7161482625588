// The CUDA backend of a build without CUDA: every entry point says so and how to get one.
#include <string>

#include "kizuna/cuda_engine.hpp"
#include "kizuna/errors.hpp"

namespace kizuna {

namespace {
[[noreturn]] void no_cuda(const char* what) {
    throw UnsupportedError(std::string(what) +
                           ": this kizuna was built without CUDA, so device='cuda' is not available. "
                           "Rebuild with -DKIZUNA_CUDA=ON where nvcc is available (pip: "
                           "pip install . -C cmake.define.KIZUNA_CUDA=ON), or use device='cpu'.");
}
}  // namespace

bool cuda_compiled() { return false; }
int cuda_device_count() { return 0; }
std::string cuda_unavailable_reason() { return "this kizuna was built without CUDA"; }

struct CudaEngine::Impl {};

CudaEngine::CudaEngine(std::shared_ptr<const Model>, const DeviceOptions&) { no_cuda("CUDA backend"); }
CudaEngine::~CudaEngine() = default;

void CudaEngine::compute(const AtomsView&, const NeighborView&, const Request&, Result&) { no_cuda("compute"); }
void CudaEngine::descriptors(const AtomsView&, const NeighborView&, const int64_t*, double*) { no_cuda("descriptors"); }
void CudaEngine::vjp(const AtomsView&, const NeighborView&, const int64_t*, const double*, double*, double*) {
    no_cuda("vjp");
}
std::string CudaEngine::device_name() const { return "none (built without CUDA)"; }
Precision CudaEngine::precision() const { return Precision::float64; }

}  // namespace kizuna
