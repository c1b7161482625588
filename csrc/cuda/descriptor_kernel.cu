// Pass 1 on the GPU: the symmetry functions G of every centre. One warp per centre (taken from
// a work counter): gather the neighbours into element-sorted slots in shared memory, then for
// each group of functions (in chunks of kValueChunk) every lane accumulates its neighbours' or
// triplets' terms in double registers, and a warp sum gives G. Triplets are compacted before
// they are evaluated (warp_triplets). The arithmetic is packed_math.hpp, shared with the host
// reference (packed_reference.cpp).
#include "kernels.cuh"
#include "launch.cuh"
#include "warp.cuh"

namespace kizuna::cuda {
namespace {

template <class Real>
__device__ void centre_values(const ModelView& m, const PackedElement& el, const WarpRegion<Real>& w, double* G,
                              int lane) {
    const Slots<Real>& s = w.s;
    for (int gi = 0; gi < el.num_groups; ++gi) {
        const PackedGroup g = m.groups[el.first_group + gi];
        const GroupKind kind = static_cast<GroupKind>(g.kind);
        const bool narrow = kind == GroupKind::angular_narrow;
        const CutoffFunction* cut = g.cutoff >= 0 ? m.cutoffs + el.first_cutoff + g.cutoff : nullptr;
        const Real* fc = s.fc + (g.cutoff >= 0 ? g.cutoff : 0) * s.stride;
        for (int c0 = 0; c0 < g.count; c0 += kValueChunk) {
            const PackedFunction* fn = m.functions + g.first + c0;
            const int nc = g.count - c0 < kValueChunk ? g.count - c0 : kValueChunk;
            double acc[kValueChunk];
#pragma unroll
            for (int q = 0; q < kValueChunk; ++q) acc[q] = 0.0;
            if (kind == GroupKind::radial) {
                for (int j = w.begin[g.e1] + lane; j < w.begin[g.e1 + 1]; j += 32)
                    radial_values<kValueChunk>(fn, nc, s.r[j], fc[j], acc);
            } else if (kind == GroupKind::compact_radial) {
                for (int j = w.begin[g.e1] + lane; j < w.begin[g.e1 + 1]; j += 32)
                    compact_radial_values<kValueChunk>(fn, nc, s.r[j], acc);
            } else if (kind == GroupKind::compact_angular) {
                warp_triplets(g, w, lane, [&](int j, int k) {
                    const Real c = s.ux[j] * s.ux[k] + s.uy[j] * s.uy[k] + s.uz[j] * s.uz[k];
                    compact_angular_values<kValueChunk>(fn, nc, s.r[j], s.r[k], c, acc);
                });
            } else {
                warp_triplets(g, w, lane, [&](int j, int k) {
                    const Triplet<Real> t = triplet_geometry(s, j, k, narrow, *cut);
                    angular_values<kValueChunk>(fn, nc, narrow, s.r[j], s.r[k], t, fc[j] * fc[k] * t.fcjk, acc);
                });
            }
#pragma unroll
            for (int q = 0; q < kValueChunk; ++q) {
                if (q < nc) {
                    const double v = warp_sum(acc[q]);
                    if (lane == 0) G[fn[q].out] = v;
                }
            }
        }
    }
}

template <class Real>
__global__ void descriptor_kernel(ModelView m, InputView in, WarpLayout L, double* G, int ldG, Scalars* sc,
                                  int* work) {
    extern __shared__ __align__(16) unsigned char smem[];
    const int lane = threadIdx.x & 31;
    const WarpRegion<Real> w = warp_region<Real>(smem + (threadIdx.x >> 5) * L.bytes, L);
    int most = 0;
    for (int ii = next_centre(work, lane); ii < in.num_centres; ii = next_centre(work, lane)) {
        const int i = in.centres ? in.centres[ii] : ii;
        const int sp = in.species[i];
        if (sp < 0) continue;
        const PackedElement el = m.elements[sp];
        if (warp_gather(m, in, el, ii, i, w, L.cap, sc, lane, most) < 0) continue;
        centre_values(m, el, w, G + static_cast<int64_t>(ii) * ldG, lane);
        __syncwarp();  // the slots are rewritten by the next centre's gather
    }
    report_most(sc, most, lane);
}

template <class Real>
void launch(const DeviceInfo& dev, const ModelView& m, const InputView& in, const WarpLayout& L, double* G, int ldG,
            Scalars* sc, int* work, cudaStream_t stream) {
    if (in.num_centres == 0) return;
    const LaunchShape s = per_centre_shape(descriptor_kernel<Real>, dev, L.bytes, 0, in.num_centres, "descriptor kernel");
    descriptor_kernel<Real><<<s.blocks, s.threads, s.smem, stream>>>(m, in, L, G, ldG, sc, work);
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
