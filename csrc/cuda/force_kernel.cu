// Host-side launcher of the force kernel (pass 2, force_kernel.cuh): launch shape, precision dispatch.
#include "force_kernel.cuh"
#include "kernels.cuh"
#include "launch.cuh"

namespace kizuna::cuda {
namespace {

template <class Real>
void launch(const DeviceInfo& dev, const ModelView& m, const InputView& in, const WarpLayout& L, const double* beta,
            int ldB, double* forces, double* atom_virials, double* virial9, Scalars* sc, int* work,
            cudaStream_t stream) {
    if (in.num_centres == 0) return;
    const LaunchShape s = per_centre_shape(force_kernel<Real>, dev, L.bytes, 0, in.num_centres, "force kernel");
    KZ_LAUNCH(force_kernel<Real>, s.blocks, s.threads, s.smem, stream)(m, in, L, beta, ldB, forces, atom_virials, virial9,
                                                                 sc, work);
    check(cudaGetLastError(), "force kernel launch");
}

}  // namespace

void launch_forces(Precision precision, const DeviceInfo& dev, const ModelView& m, const InputView& in,
                   const WarpLayout& layout, const double* beta, int ldB, double* forces, double* atom_virials,
                   double* virial9, Scalars* sc, int* work, cudaStream_t stream) {
    if (precision == Precision::float32)
        launch<float>(dev, m, in, layout, beta, ldB, forces, atom_virials, virial9, sc, work, stream);
    else
        launch<double>(dev, m, in, layout, beta, ldB, forces, atom_virials, virial9, sc, work, stream);
}

}  // namespace kizuna::cuda
