// The per-neighbour and per-triplet arithmetic of the CUDA backend, written once for the GPU
// kernels (csrc/cuda) and for the host reference that checks them without a GPU
// (csrc/testing/packed_reference.cpp). Templates on Real: double, or float in float32 mode; the sums over
// neighbours and triplets are accumulated in double by the callers.
//
// Notation as in atom_kernel.cpp: slot j holds r_ij = (x_j, y_j, z_j) (Å), r_j = |r_ij|,
// u_j = r_ij / r_j; triplet (j, k): c = u_j . u_k = cos θ_jik, r_jk = |r_ik - r_ij|;
// dc/dr_ij = (u_k - c u_j) / r_j, dc/dr_ik = (u_j - c u_k) / r_k.
// The formulas themselves are in sf_formulas.hpp (the terms of each family, shared with the CPU
// passes) and formulas.hpp (cutoffs, compact bumps, angular factor, exp); this file holds the
// GPU's layout (slots, pair enumeration) and scheduling (chunks of functions per thread).
#pragma once

#include <cmath>

#include "kizuna/formulas.hpp"
#include "kizuna/packed_model.hpp"
#include "kizuna/sf_formulas.hpp"

// Unrolled loops over a chunk on the GPU (the accumulators stay in registers); plain loops in
// host code (the host reference is a test tool: compile time matters more than its speed).
#if defined(__CUDA_ARCH__)
#define KZ_UNROLL _Pragma("unroll")
#else
#define KZ_UNROLL
#endif

namespace kizuna {

// Functions evaluated together in the values pass (one double accumulator each per GPU thread).
constexpr int kValueChunk = 16;

// Error codes of a neighbour gather (first error wins; see DeviceError in csrc/cuda).
enum GatherError : int { gather_ok = 0, gather_nonfinite = 1, gather_overlap = 2 };

// ----------------------------------------------------------------------------- neighbour slots
// The neighbours of one centre within its element's rc_max, sorted by element (block of element
// e: begin[e] .. begin[e+1]), as structure of arrays; cutoff c of slot s at fc[c * stride + s].
template <class Real>
struct Slots {
    Real *x, *y, *z, *ux, *uy, *uz, *r, *ir, *fc, *dfc;
    int stride;
};

// Slot s from r_ij = (dx, dy, dz) (Å, double): r, 1/r and the unit vector in double, then each
// of the nc cutoff functions of the centre element times the weight of the neighbour's element
// e for that entry, weights[c * ne + e] (PackedModel::cutoff_weights; 1 for plain entries),
// stored as Real.
template <class Real>
KZ_HD void fill_slot(const Slots<Real>& sl, int s, double dx, double dy, double dz, double r2,
                     const CutoffFunction* cut, int nc, const double* weights, int ne, int e) {
    const double r = std::sqrt(r2);
    const double ir = 1.0 / r;
    sl.x[s] = Real(dx);
    sl.y[s] = Real(dy);
    sl.z[s] = Real(dz);
    sl.ux[s] = Real(dx * ir);
    sl.uy[s] = Real(dy * ir);
    sl.uz[s] = Real(dz * ir);
    sl.r[s] = Real(r);
    sl.ir[s] = Real(ir);
    for (int c = 0; c < nc; ++c) {
        double f, df;
        cutoff_fdf(cut[c], r, f, df);
        const double w = weights[c * ne + e];
        f *= w;
        df *= w;
        sl.fc[c * sl.stride + s] = Real(f);
        sl.dfc[c * sl.stride + s] = Real(df);
    }
}

// Classifies a neighbour entry at squared distance r2 (Å^2) from a centre whose element keeps
// neighbours below rc2: 1 = keep, 0 = drop, -GatherError = bad input (as AtomKernel::gather).
KZ_HD int classify_neighbor(double r2, double rc2) {
    if (!(r2 < rc2)) return r2 != r2 ? -gather_nonfinite : 0;
    return r2 < 1e-20 ? -gather_overlap : 1;
}

// The slots of neighbour element e: lo .. hi; e = -1 (weighted kinds): every slot.
KZ_HD void slot_range(const int* begin, int e, int ne, int& lo, int& hi) {
    lo = e < 0 ? 0 : begin[e];
    hi = e < 0 ? begin[ne] : begin[e + 1];
}

// ------------------------------------------------------------------------ pair enumeration
// Pairs (a, b) of slots of block 1 (n1 slots) and block 2 (n2 slots); the same block: unordered
// pairs a != b, each once. Enumerated by "diagonals" b = a + d (mod n): consecutive indices p
// (the lanes of a GPU warp) get distinct a and distinct b, so that their force updates of slots
// a and b rarely collide.
KZ_HD int pair_count(int n1, int n2, bool same) { return same ? n1 * (n1 - 1) / 2 : n1 * n2; }

KZ_HD void pair_of_index(int p, int n1, int n2, bool same, int& a, int& b) {
    if (!same) {
        const int d = p / n1;  // 0 .. n2-1
        a = p - d * n1;
        b = (a + d) % n2;
        return;
    }
    // same block of n: diagonals d = 1 .. (n-1)/2 hold n pairs (a, a+d mod n) each; for even n
    // the diagonal d = n/2 holds n/2 pairs (a, a + n/2)
    const int n = n1, D = (n - 1) / 2;
    if (p < n * D) {
        const int d = p / n + 1;
        a = p - (d - 1) * n;
        b = a + d;
        if (b >= n) b -= n;
    } else {
        a = p - n * D;
        b = a + n / 2;
    }
}

// ------------------------------------------------------------------------------- triplets
template <class Real>
struct Triplet {
    Real c;              // cos θ_jik
    Real dx, dy, dz;     // r_jk = r_ik - r_ij (narrow groups)
    Real rjk;            // |r_jk| (narrow; wide: 0)
    Real fcjk, dfcjk;    // fc(r_jk), fc'(r_jk) (wide: 1, 0)
};

// Both legs inside rc and, for narrow groups, r_jk < rc (the triplet contributes).
template <class Real>
KZ_HD bool accept_triplet(const Slots<Real>& s, int j, int k, Real rc, bool narrow) {
    if (!(s.r[j] < rc) || !(s.r[k] < rc)) return false;
    if (!narrow) return true;
    const Real dx = s.x[k] - s.x[j], dy = s.y[k] - s.y[j], dz = s.z[k] - s.z[j];
    return dx * dx + dy * dy + dz * dz < rc * rc;
}

template <class Real>
KZ_HD Triplet<Real> triplet_geometry(const Slots<Real>& s, int j, int k, bool narrow, const CutoffFunction& cut) {
    Triplet<Real> t;
    t.c = s.ux[j] * s.ux[k] + s.uy[j] * s.uy[k] + s.uz[j] * s.uz[k];
    t.dx = s.x[k] - s.x[j];
    t.dy = s.y[k] - s.y[j];
    t.dz = s.z[k] - s.z[j];
    if (narrow) {
        t.rjk = std::sqrt(t.dx * t.dx + t.dy * t.dy + t.dz * t.dz);
        cutoff_fdf(cut, t.rjk, t.fcjk, t.dfcjk);
    } else {
        t.rjk = Real(0);
        t.fcjk = Real(1);
        t.dfcjk = Real(0);
    }
    return t;
}

// ------------------------------------------------------------------------------ values pass
// Each adds one neighbour's (one triplet's) term to acc[m] for the functions fn[0 .. count),
// count <= kChunk; acc is double whatever Real is.

// G = sum_j exp(-eta (r_j - rs)^2) fc(r_j)
template <int kChunk, class Real>
KZ_HD void radial_values(const PackedFunction* fn, int count, Real r, Real fc, double* acc) {
KZ_UNROLL
    for (int m = 0; m < kChunk; ++m) {
        if (m < count) {
            const FunctionParams<Real>& p = params<Real>(fn[m]);
            acc[m] += double(radial_term(p.eta, p.rs, r, fc));
        }
    }
}

// G = sum_j [w_c(Z_j)] C(r_j); w: the slot's weight (1 for plain kinds)
template <int kChunk, class Real>
KZ_HD void compact_radial_values(const PackedFunction* fn, int count, Real r, Real w, double* acc) {
KZ_UNROLL
    for (int m = 0; m < kChunk; ++m) {
        if (m < count) {
            Real f, df;
            compact_fdf(fn[m].radial, r, f, df);
            acc[m] += double(w * f);
        }
    }
}

// Narrow: G = sum_{j<k} A(c) exp(-eta [(r_j - rs)^2 + (r_k - rs)^2 + (r_jk - rs)^2]) fc_j fc_k fc_jk
// Wide:   the same without the r_jk terms (fc3 = fc_j fc_k fc_jk or fc_j fc_k).
// A(c) = 2^(1-zeta) (1 + lambda c)^zeta. Functions are sorted by term: the exponential is
// evaluated once per distinct (eta, rs).
template <int kChunk, class Real>
KZ_HD void angular_values(const PackedFunction* fn, int count, bool narrow, Real rj, Real rk,
                          const Triplet<Real>& t, Real fc3, double* acc) {
    Real e = Real(0);
KZ_UNROLL
    for (int m = 0; m < kChunk; ++m) {
        if (m < count) {
            const FunctionParams<Real>& p = params<Real>(fn[m]);
            if (m == 0 || fn[m].term != fn[m - 1].term) e = triplet_gaussian(p.eta, p.rs, rj, rk, t.rjk, narrow) * fc3;
            Real A, dA;
            angular_factor(t.c, p.zeta, fn[m].izeta, p.lambda, p.prefactor, A, dA);
            acc[m] += double(A * e);
        }
    }
}

// Compact angular (n2p2 type 22): G = sum_{j<k} [W] C_r(r_j) C_r(r_k) C_a(θ), θ = acos(c);
// W = w_c(Z_j) w_c(Z_k) for the weighted kind (type 25), else 1.
template <int kChunk, class Real>
KZ_HD void compact_angular_values(const PackedFunction* fn, int count, Real rj, Real rk, Real c, Real W,
                                  double* acc) {
    Real cc, theta, dtheta_dc;
    bump_angle(c, cc, theta, dtheta_dc);
KZ_UNROLL
    for (int m = 0; m < kChunk; ++m) {
        if (m < count) {
            Real fj, dfj, fk, dfk, fa, dfa;
            compact_fdf(fn[m].radial, rj, fj, dfj);
            compact_fdf(fn[m].radial, rk, fk, dfk);
            compact_fdf(fn[m].angular, theta, fa, dfa);
            acc[m] += double(W * fj * fk * fa);
        }
    }
}

// Compact angular narrow (n2p2 type 21): G = sum_{j<k} [W] C_r(r_j) C_r(r_k) C_r(r_jk) C_a(θ);
// W = w_c(Z_j) w_c(Z_k) for the weighted kind (type 24); r_jk = |r_ik - r_ij| (Å).
template <int kChunk, class Real>
KZ_HD void compact_narrow_values(const PackedFunction* fn, int count, const Slots<Real>& s, int j, int k, Real c,
                                 Real W, double* acc) {
    Real cc, theta, dtheta_dc;
    bump_angle(c, cc, theta, dtheta_dc);
    const Real dx = s.x[k] - s.x[j], dy = s.y[k] - s.y[j], dz = s.z[k] - s.z[j];
    const Real rj = s.r[j], rk = s.r[k], rjk = std::sqrt(dx * dx + dy * dy + dz * dz);
KZ_UNROLL
    for (int m = 0; m < kChunk; ++m) {
        if (m < count) {
            Real fj, dfj, fk, dfk, fjk, dfjk, fa, dfa;
            compact_fdf(fn[m].radial, rj, fj, dfj);
            compact_fdf(fn[m].radial, rk, fk, dfk);
            compact_fdf(fn[m].radial, rjk, fjk, dfjk);
            compact_fdf(fn[m].angular, theta, fa, dfa);
            acc[m] += double(W * fj * fk * fjk * fa);
        }
    }
}

// ---------------------------------------------------------------------------- adjoint pass
// beta = dE/dG of the centre (indexed by feature). Radial kinds return dE/dr_j (the gradient
// is dE/dr_j u_j); angular kinds give the gradients gj = dE/dr_ij and gk = dE/dr_ik.

// dE/dr_j = sum_s beta_s exp(-eta_s d^2) (fc'(r_j) - 2 eta_s d fc(r_j)), d = r_j - rs_s
template <class Real>
KZ_HD Real radial_gradient(const PackedFunction* fn, int count, const Real* beta, Real r, Real fc, Real dfc) {
    Real g = Real(0);
    for (int m = 0; m < count; ++m) {
        const FunctionParams<Real>& p = params<Real>(fn[m]);
        g += radial_term_derivative(p.eta, p.rs, r, fc, dfc, beta[fn[m].out]);
    }
    return g;
}

template <class Real>
KZ_HD Real compact_radial_gradient(const PackedFunction* fn, int count, const Real* beta, Real r, Real w) {
    Real g = Real(0);
    for (int m = 0; m < count; ++m) {
        Real f, df;
        compact_fdf(fn[m].radial, r, f, df);
        g += beta[fn[m].out] * df;
    }
    return g * w;
}

// Per triplet, with w_s = beta_s A_s(c) E_s (E_s the exponential without cutoffs), dj = r_j - rs:
//   S0 = sum_s w_s, Sj = sum_s w_s 2 eta_s dj (Sk, Sjk likewise), Sc = sum_s beta_s A'_s E_s
//   dE/dr_j = -Sj fc3 + S0 fc'_j fc_k fc_jk,  dE/dc = Sc fc3,
//   dE/dr_jk = -Sjk fc3 + S0 fc_j fc_k fc'_jk (narrow)
//   gj = dE/dr_j u_j + dE/dc (u_k - c u_j)/r_j - dE/dr_jk r_jk/|r_jk|, gk likewise (+ r_jk term).
template <class Real>
KZ_HD void angular_gradient(const PackedFunction* fn, int count, const Real* beta, bool narrow,
                            const Slots<Real>& s, int cut, int j, int k, const Triplet<Real>& t,
                            Real* gj, Real* gk) {
    const Real rj = s.r[j], rk = s.r[k];
    Real S0 = 0, Sj = 0, Sk = 0, Sjk = 0, Sc = 0;
    Real e = 0, tj = 0, tk = 0, tjk = 0;  // exponential and 2 eta d of the current term
    for (int m = 0; m < count; ++m) {
        const FunctionParams<Real>& p = params<Real>(fn[m]);
        if (m == 0 || fn[m].term != fn[m - 1].term) {
            const Real dj = rj - p.rs, dk = rk - p.rs, djk = t.rjk - p.rs;
            const Real sum = narrow ? dj * dj + dk * dk + djk * djk : dj * dj + dk * dk;
            e = kz_exp(-p.eta * sum);
            tj = Real(2) * p.eta * dj;
            tk = Real(2) * p.eta * dk;
            tjk = Real(2) * p.eta * djk;
        }
        Real A, dA;
        angular_factor(t.c, p.zeta, fn[m].izeta, p.lambda, p.prefactor, A, dA);
        const Real b = beta[fn[m].out];
        const Real w = b * A * e;
        S0 += w;
        Sj += w * tj;
        Sk += w * tk;
        Sjk += w * tjk;
        Sc += b * dA * e;
    }
    const Real fcj = s.fc[cut * s.stride + j], fck = s.fc[cut * s.stride + k];
    const Real dfcj = s.dfc[cut * s.stride + j], dfck = s.dfc[cut * s.stride + k];
    const Real fc3 = fcj * fck * t.fcjk;
    Real grj, grk, gc, gjk;
    gaussian_triplet_gradient(S0, Sj, Sk, Sjk, Sc, fcj, fck, dfcj, dfck, t.fcjk, t.dfcjk, fc3, t.rjk, narrow, grj, grk,
                              gc, gjk);
    triplet_chain(grj, grk, gc, gjk, t.c, s.ux[j], s.uy[j], s.uz[j], s.ir[j], s.ux[k], s.uy[k], s.uz[k], s.ir[k],
                  t.dx, t.dy, t.dz, gj[0], gj[1], gj[2], gk[0], gk[1], gk[2]);
}

// Compact angular: dG/dr_j = C_r'(r_j) C_r(r_k) C_a(θ), dG/dc = C_r C_r C_a'(θ) dθ/dc with
// dθ/dc = -1/sqrt(1 - c^2) (0 for collinear triplets, where dc/dr vanishes).
template <class Real>
KZ_HD void compact_angular_gradient(const PackedFunction* fn, int count, const Real* beta,
                                    const Slots<Real>& s, int j, int k, Real c, Real W, Real* gj, Real* gk) {
    Real cc, theta, dtheta_dc;
    bump_angle(c, cc, theta, dtheta_dc);
    const Real rj = s.r[j], rk = s.r[k];
    Real grj = 0, grk = 0, gc = 0;
    for (int m = 0; m < count; ++m) {
        Real fj, dfj, fk, dfk, fa, dfa;
        compact_fdf(fn[m].radial, rj, fj, dfj);
        compact_fdf(fn[m].radial, rk, fk, dfk);
        compact_fdf(fn[m].angular, theta, fa, dfa);
        compact_triplet_gradient(fj, dfj, fk, dfk, fa, dfa, dtheta_dc, beta[fn[m].out], grj, grk, gc);
    }
    const Real zero = Real(0);
    triplet_chain(grj * W, grk * W, gc * W, zero, cc, s.ux[j], s.uy[j], s.uz[j], s.ir[j], s.ux[k], s.uy[k], s.uz[k], s.ir[k], zero,
                  zero, zero, gj[0], gj[1], gj[2], gk[0], gk[1], gk[2]);
}

// Compact angular narrow: as compact_angular_gradient, plus dG/dr_jk = C_r C_r C_r'(r_jk) C_a(θ),
// whose chain rule moves r_ij by -dG/dr_jk r_jk/|r_jk| and r_ik by +dG/dr_jk r_jk/|r_jk|.
template <class Real>
KZ_HD void compact_narrow_gradient(const PackedFunction* fn, int count, const Real* beta, const Slots<Real>& s,
                                   int j, int k, Real c, Real W, Real* gj, Real* gk) {
    Real cc, theta, dtheta_dc;
    bump_angle(c, cc, theta, dtheta_dc);
    const Real dx = s.x[k] - s.x[j], dy = s.y[k] - s.y[j], dz = s.z[k] - s.z[j];
    const Real rj = s.r[j], rk = s.r[k], rjk = std::sqrt(dx * dx + dy * dy + dz * dz);
    Real grj = 0, grk = 0, gc = 0, gjk = 0;
    for (int m = 0; m < count; ++m) {
        Real fj, dfj, fk, dfk, fjk, dfjk, fa, dfa;
        compact_fdf(fn[m].radial, rj, fj, dfj);
        compact_fdf(fn[m].radial, rk, fk, dfk);
        compact_fdf(fn[m].radial, rjk, fjk, dfjk);
        compact_fdf(fn[m].angular, theta, fa, dfa);
        compact_narrow_triplet_gradient(fj, dfj, fk, dfk, fjk, dfjk, fa, dfa, dtheta_dc, beta[fn[m].out], grj, grk, gc,
                                        gjk);
    }
    triplet_chain(grj * W, grk * W, gc * W, compact_jk_chain_factor(gjk * W, rjk), cc, s.ux[j], s.uy[j], s.uz[j],
                  s.ir[j], s.ux[k], s.uy[k], s.uz[k], s.ir[k], dx, dy, dz, gj[0], gj[1], gj[2], gk[0], gk[1], gk[2]);
}

// ------------------------------------------------------------------------------- networks
// Scaled network input x_f = offset + factor_f (G_f - shift_f).
template <class Real>
KZ_HD Real scaled_feature(double G, double shift, double factor, double offset) {
    return Real(offset + factor * (G - shift));
}

}  // namespace kizuna
