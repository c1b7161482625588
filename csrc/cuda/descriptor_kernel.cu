// Host-side launcher of the descriptor kernel (pass 1, descriptor_kernel.cuh): launch shape, precision dispatch.
#include "descriptor_kernel.cuh"
#include "kernels.cuh"
#include "launch.cuh"

namespace kizuna::cuda {
namespace {

template <class Real>
void launch(const DeviceInfo& dev, const ModelView& m, const InputView& in, const WarpLayout& L, double* G, int ldG,
            Scalars* sc, int* work, cudaStream_t stream) {
    if (in.num_centres == 0) return;
    const LaunchShape s = per_centre_shape(descriptor_kernel<Real>, dev, L.bytes, 0, in.num_centres, "descriptor kernel");
    KZ_LAUNCH(descriptor_kernel<Real>, s.blocks, s.threads, s.smem, stream)(m, in, L, G, ldG, sc, work);
    check(cudaGetLastError(), "descriptor kernel launch");
}

}  // namespace

void launch_descriptors(Precision precision, const DeviceInfo& dev, const ModelView& m, const InputView& in,
                        const WarpLayout& layout, double* G, int ldG, Scalars* sc, int* work, cudaStream_t stream) {
    if (precision == Precision::float32)
        launch<float>(dev, m, in, layout, G, ldG, sc, work, stream);
    else
        launch<double>(dev, m, in, layout, G, ldG, sc, work, stream);
}

void check_kernel_images(const char* device_name) {
    cudaFuncAttributes attr;
    const cudaError_t status = cudaFuncGetAttributes(&attr, descriptor_kernel<double>);
    if (status == cudaErrorInvalidDeviceFunction || status == cudaErrorNoKernelImageForDevice) {
        cudaGetLastError();
        throw UnsupportedError(std::string("this kizuna has no GPU code for ") + device_name +
                               ": it was compiled for other CUDA architectures. Rebuild with "
                               "-DCMAKE_CUDA_ARCHITECTURES=<this GPU's compute capability, e.g. 80 or 90>.");
    }
    check(status, "cudaFuncGetAttributes");
}

}  // namespace kizuna::cuda
