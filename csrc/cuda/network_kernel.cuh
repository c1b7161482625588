// The element networks on the GPU: one warp per centre, every committee member in turn.
// Forward: lane o computes output o of a layer, z_o = b_o + sum_i W^T[i, o] h_i (W^T: lanes read
// neighbouring numbers), h = act(z), act'(z) kept; backward: lane i computes
// dy/dh_i = sum_o dy/dh_o act'(z_o) W[o, i]. Then beta_f = sum_m energy_scale_m / M
// dNN_m/dx_f factor_m,f (chain rule through the scaling x_f = offset + factor_f (G_f - shift_f)).
// Networks are a few thousand multiply-adds per atom, small next to the triplet work of the
// descriptor and force kernels, so a warp per centre (no batching into matrix products) suffices.
// Device code only (no CUDA runtime calls): also compiled as host code by the CPU emulation of
// the kernels (tests/cuda_emulation), which runs them with one thread per GPU thread.
#pragma once

#include "warp.cuh"

namespace kizuna::cuda {

// Bytes of the block's energy sums (energy, then one per member), a multiple of 16.
__host__ __device__ inline size_t block_sums_bytes(int members) { return ((members + 1) * sizeof(double) + 15) / 16 * 16; }

template <class Real>
__device__ __forceinline__ const Real* weights_of(const ModelView& m);
template <>
__device__ __forceinline__ const double* weights_of<double>(const ModelView& m) { return m.weights; }
template <>
__device__ __forceinline__ const float* weights_of<float>(const ModelView& m) { return m.weights_f; }

// NN(x) of one member; x in act[0 .. n_in), dNN/dx returned in the buffer it points to.
template <class Real>
__device__ Real* member_network(const ModelView& m, const PackedMember& mem, Real* act, Real* dact, Real* back,
                                int width, Real& y, int lane) {
    const Real* W = weights_of<Real>(m);
    for (int l = 0; l < mem.num_layers; ++l) {
        const PackedLayer layer = m.layers[mem.first_layer + l];
        const Real* in = act + l * width;
        Real* out = act + (l + 1) * width;
        for (int o = lane; o < layer.n_out; o += 32) {
            Real z = W[layer.b + o];
            for (int i = 0; i < layer.n_in; ++i) z += W[layer.wt + static_cast<int64_t>(i) * layer.n_out + o] * in[i];
            activation_fdf(static_cast<Activation>(layer.activation), z, out[o], dact[l * width + o]);
        }
        __syncwarp();
    }
    y = act[mem.num_layers * width];
    Real* g = back;
    Real* gp = back + width;
    if (lane == 0) g[0] = Real(1);
    __syncwarp();
    for (int l = mem.num_layers - 1; l >= 0; --l) {
        const PackedLayer layer = m.layers[mem.first_layer + l];
        for (int i = lane; i < layer.n_in; i += 32) {
            Real sum = Real(0);
            for (int o = 0; o < layer.n_out; ++o)
                sum += g[o] * dact[l * width + o] * W[layer.w + static_cast<int64_t>(o) * layer.n_in + i];
            gp[i] = sum;
        }
        __syncwarp();
        Real* t = g;
        g = gp;
        gp = t;
    }
    return g;
}

template <class Real>
__global__ void network_kernel(ModelView m, InputView in, NetworkLayout L, const double* G, int ldG, double* beta,
                               double* member_beta, double* centre_energy, int* flags, double* member_energy,
                               Scalars* sc) {
    KZ_DYNAMIC_SHARED(smem);
    const int M = m.committee_size;
    double* block_sums = reinterpret_cast<double*>(smem);  // [0]: energy, [1 + m]: member m
    unsigned char* base = smem + block_sums_bytes(M) + (threadIdx.x >> 5) * L.bytes;
    double* bsum = reinterpret_cast<double*>(base + L.beta);
    Real* act = reinterpret_cast<Real*>(base + L.act);
    Real* dact = reinterpret_cast<Real*>(base + L.dact);
    Real* back = reinterpret_cast<Real*>(base + L.back);
    const int lane = threadIdx.x & 31;
    for (int t = threadIdx.x; t <= M; t += blockDim.x) block_sums[t] = 0.0;
    __syncthreads();
    unsigned long long extrapolating = 0;  // lane 0's count
    const int warps = gridDim.x * (blockDim.x >> 5);
    for (int ii = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5); ii < in.num_centres; ii += warps) {
        const int i = in.centres ? in.centres[ii] : ii;
        const int sp = in.species[i];
        if (sp < 0) continue;
        const PackedElement el = m.elements[sp];
        const int nf = el.num_features;
        const double* Gi = G + static_cast<int64_t>(ii) * ldG;
        bool outside = false;
        for (int f = lane; f < nf; f += 32) {
            const double v = Gi[f];
            outside = outside || v < m.extrapolation_min[el.first_feature + f] ||
                      v > m.extrapolation_max[el.first_feature + f];
            bsum[f] = 0.0;
        }
        outside = __any_sync(kFullMask, outside);
        if (lane == 0) {
            extrapolating += outside;
            if (flags) flags[ii] = outside;
        }
        double Ei = 0.0;
        for (int mm = 0; mm < M; ++mm) {
            const PackedMember mem = m.members[el.first_member + mm];
            const double* shift = m.scale_shift + mem.scaling;
            const double* factor = m.scale_factor + mem.scaling;
            for (int f = lane; f < nf; f += 32)
                act[f] = scaled_feature<Real>(Gi[f], shift[f], factor[f], mem.scale_offset);
            __syncwarp();
            Real y;
            const Real* dydx = member_network(m, mem, act, dact, back, L.width, y, lane);
            const double Em = mem.energy_offset + mem.energy_scale * double(y);
            Ei += Em;
            if (lane == 0) atomicAdd(&block_sums[1 + mm], Em);
            for (int f = lane; f < nf; f += 32) {
                const double b = mem.energy_scale * double(dydx[f]) * factor[f];  // dE_m/dG_f
                bsum[f] += b / M;
                if (member_beta) member_beta[(static_cast<int64_t>(mm) * in.num_centres + ii) * ldG + f] = b;
            }
            __syncwarp();  // dydx and act are rewritten by the next member
        }
        Ei /= M;
        if (lane == 0) {
            centre_energy[ii] = Ei;
            atomicAdd(&block_sums[0], Ei);
        }
        for (int f = lane; f < nf; f += 32) beta[static_cast<int64_t>(ii) * ldG + f] = bsum[f];
        __syncwarp();
    }
    if (lane == 0 && extrapolating) atomicAdd(&sc->num_extrapolating, extrapolating);
    __syncthreads();
    if (threadIdx.x == 0) atomicAdd(&sc->energy, block_sums[0]);
    for (int t = threadIdx.x; t < M; t += blockDim.x) atomicAdd(&member_energy[t], block_sums[1 + t]);
}

}  // namespace kizuna::cuda
