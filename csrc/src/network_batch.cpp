// Atomic networks over a batch of atoms of one element: every layer a register-blocked GEMM
// (see network_batch.hpp for the equations and why the results equal the per-atom pass).
#include "network_batch.hpp"

#include <algorithm>
#include <cmath>

#include "simd8.hpp"

namespace kizuna {

namespace {
using simd8::ld;
using simd8::st;
using simd8::V8;

// Register tile: 8 x kTileV doubles per atom, kTileB atoms (AVX-512: 8 atoms x 24 columns =
// 24 accumulators of the 32 registers; narrower targets: 4 atoms x 8 columns).
constexpr int kTileB = simd8::kWidth == 8 ? 8 : 4;
constexpr int kTileV = simd8::kWidth == 8 ? 3 : 1;

size_t pad8(int n) { return (static_cast<size_t>(n) + 7) / 8 * 8; }

// Y[b][c] = init[c] (0 without init) + sum_k X[b][k] M[k][c] for b < NB, c in c0 .. c0 + 8 NV:
// the k sum in order, one fused multiply-add per term (as the per-atom pass).
template <int NB, int NV>
void tile(int K, const double* __restrict X, size_t xs, const double* __restrict M, size_t ms,
          const double* init, double* __restrict Y, size_t ys, size_t c0) {
    V8 acc[NB][NV];
    for (int v = 0; v < NV; ++v) {
        const V8 a = init ? ld(init + c0 + 8 * v) : simd8::splat(0.0);
        for (int b = 0; b < NB; ++b) acc[b][v] = a;
    }
    for (int k = 0; k < K; ++k) {
        const double* row = M + static_cast<size_t>(k) * ms + c0;
        V8 m[NV];
        for (int v = 0; v < NV; ++v) m[v] = ld(row + 8 * v);
        for (int b = 0; b < NB; ++b) {
            const double x = X[static_cast<size_t>(b) * xs + k];
            for (int v = 0; v < NV; ++v) acc[b][v] += m[v] * x;
        }
    }
    for (int b = 0; b < NB; ++b)
        for (int v = 0; v < NV; ++v) st(Y + static_cast<size_t>(b) * ys + c0 + 8 * v, acc[b][v]);
}

template <int NV>
void tile_rows(int nb, int K, const double* X, size_t xs, const double* M, size_t ms, const double* init,
               double* Y, size_t ys, size_t c0) {
    switch (nb) {
#define KZ_TILE_CASE(n) \
    case n: tile<(n <= kTileB ? n : 1), NV>(K, X, xs, M, ms, init, Y, ys, c0); break;
        KZ_TILE_CASE(1)
        KZ_TILE_CASE(2)
        KZ_TILE_CASE(3)
        KZ_TILE_CASE(4)
        KZ_TILE_CASE(5)
        KZ_TILE_CASE(6)
        KZ_TILE_CASE(7)
        KZ_TILE_CASE(8)
#undef KZ_TILE_CASE
        default: break;
    }
}

// Y (nb rows, stride ys, N columns: a multiple of 8) = init + X (nb x K, stride xs) M (K x N,
// stride ms); every row of Y is written over all N columns.
void gemm(int nb, int K, size_t N, const double* X, size_t xs, const double* M, size_t ms, const double* init,
          double* Y, size_t ys) {
    for (int b0 = 0; b0 < nb; b0 += kTileB) {
        const int n = std::min(kTileB, nb - b0);
        const double* Xb = X + static_cast<size_t>(b0) * xs;
        double* Yb = Y + static_cast<size_t>(b0) * ys;
        size_t c0 = 0;
        for (; c0 + 8 * kTileV <= N; c0 += 8 * kTileV) tile_rows<kTileV>(n, K, Xb, xs, M, ms, init, Yb, ys, c0);
        for (; c0 < N; c0 += 8) tile_rows<1>(n, K, Xb, xs, M, ms, init, Yb, ys, c0);
    }
}
}  // namespace

NetworkBatch::NetworkBatch(const Model& model) {
    layers_.resize(model.element_models.size());
    for (size_t s = 0; s < model.element_models.size(); ++s) {
        const ElementModel& em = model.element_models[s];
        stride_ = std::max(stride_, pad8(static_cast<int>(em.sfs.size())));
        for (const Member& mem : em.members) {
            std::vector<Layer> layers;
            for (const DenseLayer& d : mem.layers) {
                Layer L;
                L.n_in = d.n_in;
                L.n_out = d.n_out;
                L.p_in = static_cast<int>(pad8(d.n_in));
                L.p_out = static_cast<int>(pad8(d.n_out));
                L.activation = d.activation;
                L.wt.assign(static_cast<size_t>(L.n_in) * L.p_out, 0.0);
                L.w.assign(static_cast<size_t>(L.n_out) * L.p_in, 0.0);
                L.bias.assign(L.p_out, 0.0);
                for (int o = 0; o < d.n_out; ++o) {
                    L.bias[o] = d.bias[o];
                    for (int i = 0; i < d.n_in; ++i) {
                        const double w = d.weights[static_cast<size_t>(o) * d.n_in + i];
                        L.w[static_cast<size_t>(o) * L.p_in + i] = w;
                        L.wt[static_cast<size_t>(i) * L.p_out + o] = w;
                    }
                }
                stride_ = std::max({stride_, static_cast<size_t>(L.p_in), static_cast<size_t>(L.p_out)});
                layers.push_back(std::move(L));
            }
            depth_ = std::max(depth_, layers.size());
            layers_[s].push_back(std::move(layers));
        }
    }
}

void NetworkBatch::evaluate(int species, int member, int nb, const double* x, size_t xs, double* y, double* dydx,
                            size_t ds, Work& work) const {
    const std::vector<Layer>& layers = layers_[species][member];
    const size_t L = layers.size();
    const size_t block = static_cast<size_t>(kNetworkBatch) * stride_;  // one layer of all atoms
    if (work.act.size() < depth_ * block) {
        work.act.resize(depth_ * block);
        work.dact.resize(depth_ * block);
        work.back.resize(3 * block);
    }
    // forward: act[l] = act(Z_l), dact[l] = act'(Z_l), rows of stride_ per atom
    const double* in = x;
    size_t in_stride = xs;
    for (size_t l = 0; l < L; ++l) {
        const Layer& layer = layers[l];
        double* out = work.act.data() + l * block;
        double* dout = work.dact.data() + l * block;
        gemm(nb, layer.n_in, layer.p_out, in, in_stride, layer.wt.data(), layer.p_out, layer.bias.data(), out,
             stride_);
        for (int b = 0; b < nb; ++b) {
            double* z_row = out + static_cast<size_t>(b) * stride_;
            double* d_row = dout + static_cast<size_t>(b) * stride_;
            const int n_out = layer.n_out;
            if (layer.activation == Activation::tanh) {
                // tanh z = sign(z) (1 - e) / (1 + e), e = exp(-2|z|); tanh' = 1 - tanh^2 (as the
                // per-atom pass, AtomKernel::network)
#pragma omp simd
                for (int o = 0; o < n_out; ++o) {
                    const double z = z_row[o];
                    const double e = kz_exp(-2.0 * std::fabs(z));
                    const double t = std::copysign((1.0 - e) / (1.0 + e), z);
                    z_row[o] = t;
                    d_row[o] = 1.0 - t * t;
                }
            } else {
                for (int o = 0; o < n_out; ++o) {
                    const double z = z_row[o];
                    activation_fdf(layer.activation, z, z_row[o], d_row[o]);
                }
            }
        }
        in = out;
        in_stride = stride_;
    }
    const double* last = work.act.data() + (L - 1) * block;
    for (int b = 0; b < nb; ++b) y[b] = last[static_cast<size_t>(b) * stride_];
    // backward: g = dy/dh_l (1 for the output), gz = g act'(z_l), dy/dh_{l-1} = gz W_l
    double* g = work.back.data();
    double* gp = work.back.data() + block;
    double* gz = work.back.data() + 2 * block;
    for (int b = 0; b < nb; ++b) g[static_cast<size_t>(b) * stride_] = 1.0;
    for (size_t l = L; l-- > 0;) {
        const Layer& layer = layers[l];
        const double* dout = work.dact.data() + l * block;
        for (int b = 0; b < nb; ++b) {
            const size_t r = static_cast<size_t>(b) * stride_;
            for (int o = 0; o < layer.n_out; ++o) gz[r + o] = g[r + o] * dout[r + o];
        }
        gemm(nb, layer.n_out, layer.p_in, gz, stride_, layer.w.data(), layer.p_in, nullptr, gp, stride_);
        std::swap(g, gp);
    }
    for (int b = 0; b < nb; ++b)
        std::copy(g + static_cast<size_t>(b) * stride_, g + static_cast<size_t>(b) * stride_ + layers[0].n_in,
                  dydx + static_cast<size_t>(b) * ds);
}

}  // namespace kizuna
