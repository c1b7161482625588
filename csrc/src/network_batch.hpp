// NetworkBatch: the atomic networks of one element evaluated for several atoms at once.
//
// Per atom the network is a chain of matrix-vector products (AtomKernel::network); over a
// batch of up to kNetworkBatch atoms of one element every layer becomes a small GEMM,
//   forward   Z[b][o] = bias_o + sum_i H[b][i] W^T[i][o],   H' = act(Z),
//   backward  T[b][i] = sum_o (g[b][o] act'(Z[b][o])) W[o][i],
// register-blocked over 8 atoms x 24 outputs, so that every weight is loaded once per 8
// atoms instead of once per atom. Each sum runs over the same terms in the same order as the
// per-atom pass (bias first, then input by input; output by output from zero backward), so
// the results are the per-atom ones bit for bit.
// The weights are copied once, with rows padded to a multiple of 8 (zeros); the workspace is
// per thread (NetworkBatch::Work), grown once, never shrunk.
#pragma once

#include <vector>

#include "kizuna/model.hpp"

namespace kizuna {

constexpr int kNetworkBatch = 8;   // the most atoms of one call

class NetworkBatch {
  public:
    explicit NetworkBatch(const Model& model);

    struct Work {
        std::vector<double> act, dact, back;
    };
    // Member `member` of element `species` on nb <= kNetworkBatch atoms: inputs x[b * xs + f],
    // outputs y[b] (NN(x), before the energy scale) and dy/dx at dydx[b * ds + f].
    void evaluate(int species, int member, int nb, const double* x, size_t xs, double* y, double* dydx,
                  size_t ds, Work& work) const;

  private:
    struct Layer {
        int n_in = 0, n_out = 0, p_in = 0, p_out = 0;  // p_*: padded to a multiple of 8
        Activation activation = Activation::linear;
        std::vector<double> wt;    // n_in x p_out: W^T, rows padded with zeros
        std::vector<double> w;     // n_out x p_in: W, rows padded with zeros
        std::vector<double> bias;  // p_out, padded with zeros
    };
    std::vector<std::vector<std::vector<Layer>>> layers_;  // [species][member][layer]
    size_t stride_ = 8;                                   // widest padded layer (columns)
    size_t depth_ = 1;                                    // most layers of any member
};

}  // namespace kizuna
