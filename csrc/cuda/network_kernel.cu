// Host-side launcher of the network kernel (network_kernel.cuh): launch shape, precision dispatch.
#include "network_kernel.cuh"
#include "kernels.cuh"
#include "launch.cuh"

namespace kizuna::cuda {
namespace {

template <class Real>
void launch(const DeviceInfo& dev, const ModelView& m, const InputView& in, const NetworkLayout& L, const double* G,
            int ldG, double* beta, double* member_beta, double* centre_energy, int* flags, double* member_energy,
            Scalars* sc, cudaStream_t stream) {
    if (in.num_centres == 0) return;
    const size_t extra = block_sums_bytes(m.committee_size);
    const LaunchShape s = per_centre_shape(network_kernel<Real>, dev, L.bytes, extra, in.num_centres, "network kernel");
    KZ_LAUNCH(network_kernel<Real>, s.blocks, s.threads, s.smem, stream)(m, in, L, G, ldG, beta, member_beta, centre_energy,
                                                                   flags, member_energy, sc);
    check(cudaGetLastError(), "network kernel launch");
}

}  // namespace

void launch_networks(Precision precision, const DeviceInfo& dev, const ModelView& m, const InputView& in,
                     const NetworkLayout& layout, const double* G, int ldG, double* beta, double* member_beta,
                     double* centre_energy, int* flags, double* member_energy, Scalars* sc, cudaStream_t stream) {
    if (precision == Precision::float32)
        launch<float>(dev, m, in, layout, G, ldG, beta, member_beta, centre_energy, flags, member_energy, sc, stream);
    else
        launch<double>(dev, m, in, layout, G, ldG, beta, member_beta, centre_energy, flags, member_energy, sc, stream);
}

}  // namespace kizuna::cuda
