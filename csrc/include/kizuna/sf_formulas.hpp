// The per-neighbour and per-triplet terms of the symmetry-function families (sf_kinds.hpp):
// value, gradient (adjoint) and tangent, written once for the vectorised CPU loops
// (atom_kernel.cpp, angular_pairs.cpp) and the CUDA kernels with their host reference
// (packed_math.hpp). The callers differ in layout and scheduling only: the CPU works on arrays
// over neighbours and compacted triplets (inside `omp simd` loops or 8-lane tiles), the GPU one
// neighbour or triplet per thread. Inline, header-only, KZ_HD (host and device); templates on
// the value type T (double, float in the CUDA float32 mode, the CPU's 8-lane tile type where
// noted: those functions use arithmetic only, no comparisons or calls).
//
// Notation: neighbour slot j of centre i, r_j = |r_ij| (Å), u_j = r_ij / r_j, 1/r_j;
// triplet (j, k): c = u_j . u_k = cos(theta_jik), r_jk = r_ik - r_ij, r_jk = |r_jk|;
// dc/dr_ij = (u_k - c u_j) / r_j, dc/dr_ik = (u_j - c u_k) / r_k.
#pragma once

#include <cmath>

#include "kizuna/formulas.hpp"

namespace kizuna {

// ------------------------------------------------------------------------------ radial family
// Gaussian factor E(r) = exp(-eta (r - rs)^2) (eta in 1/Å^2, rs in Å).
template <class T>
KZ_HD_INLINE T gaussian(T eta, T rs, T r) {
    const T d = r - rs;
    return kz_exp(-eta * d * d);
}

// One neighbour's term of a radial function, G = sum_j E(r_j) fc(r_j); fc carries w_c(Z_j) for
// weighted kinds (the weight is folded into the cutoff arrays).
template <class T>
KZ_HD T radial_term(T eta, T rs, T r, T fc) {
    return gaussian(eta, rs, r) * fc;
}

// scale * d/dr [E(r) fc(r)] = scale E(r) (fc'(r) - 2 eta (r - rs) fc(r)) (scale: beta for the
// adjoint, 1 for the tangent, which multiplies by dr_j = u_j . dr_ij).
template <class T>
KZ_HD T radial_term_derivative(T eta, T rs, T r, T fc, T dfc, T scale) {
    const T d = r - rs;
    return scale * kz_exp(-eta * d * d) * (dfc - T(2.0) * eta * d * fc);
}

// The angular factor A(c) = 2^(1-zeta) (1 + lambda c)^zeta and dA/dc: angular_factor and, for
// integer zeta (the CPU's tiles), angular_factor_int in formulas.hpp.

// ------------------------------------------------------------------- Gaussian angular families
// Exponential of a triplet term with all legs in one exponential (the GPU's form; the CPU keeps
// gaussian() per slot and multiplies E(r_j) E(r_k) [E(r_jk)], equal up to round-off):
// narrow exp(-eta [(r_j - rs)^2 + (r_k - rs)^2 + (r_jk - rs)^2]), wide without the r_jk term.
template <class T>
KZ_HD T triplet_gaussian(T eta, T rs, T rj, T rk, T rjk, bool narrow) {
    const T dj = rj - rs, dk = rk - rs, djk = rjk - rs;
    const T s = narrow ? dj * dj + dk * dk + djk * djk : dj * dj + dk * dk;
    return kz_exp(-eta * s);
}

// The radial and angular derivatives of a triplet's terms from their beta-weighted sums over
// the members s of the group, w_s = beta_s A_s(c) E_s [W_c] (E_s without cutoffs):
//   S0 = sum_s w_s, Sj = sum_s w_s 2 eta_s (r_j - rs_s), Sk, Sjk likewise, Sc = sum_s beta_s A_s' E_s [W_c]
// with fc3 = fc_j fc_k fc_jk (wide: fc_jk = 1, fc_jk' = 0):
//   gj = dE/dr_j = -Sj fc3 + S0 fc_j' fc_k fc_jk,  gk likewise,  gc = dE/dc = Sc fc3,
//   gjk = (dE/dr_jk) / r_jk = (-Sjk fc3 + S0 fc_j fc_k fc_jk') / r_jk (narrow; wide 0).
template <class T>
KZ_HD void gaussian_triplet_gradient(T S0, T Sj, T Sk, T Sjk, T Sc, T fcj, T fck, T dfcj, T dfck, T fcjk, T dfcjk,
                                     T fc3, T rjk, bool narrow, T& gj, T& gk, T& gc, T& gjk) {
    gj = -Sj * fc3 + S0 * dfcj * fck * fcjk;
    gk = -Sk * fc3 + S0 * fcj * dfck * fcjk;
    gc = Sc * fc3;
    gjk = narrow ? (-Sjk * fc3 + S0 * fcj * fck * dfcjk) / rjk : T(0.0);
}

// -------------------------------------------------------------------------- compact families
// The angle of a compact angular triplet: c clamped to [-1, 1], theta = acos(c) (rad) and
// dtheta/dc = -1 / sqrt(1 - c^2), 0 for collinear triplets (|c| = 1), where dc/dr vanishes
// (n2p2 drops them entirely; their value still counts here).
template <class T>
KZ_HD void bump_angle(T c, T& cc, T& theta, T& dtheta_dc) {
    cc = c < T(-1.0) ? T(-1.0) : (c > T(1.0) ? T(1.0) : c);
    theta = std::acos(cc);
    dtheta_dc = std::fabs(cc) < T(1.0) ? T(-1.0) / std::sqrt(T(1.0) - cc * cc) : T(0.0);
}

// One member's compact angular term C_r(r_j) C_r(r_k) C_a(theta) and its derivatives from the
// bumps' values and slopes: d/dr_j = C_r' C_r C_a, d/dr_k = C_r C_r' C_a,
// d/dc = C_r C_r C_a' dtheta/dc.
template <class T>
KZ_HD void compact_triplet_gradient(T fj, T dfj, T fk, T dfk, T fa, T dfa, T dtheta_dc, T scale, T& gj, T& gk,
                                    T& gc) {
    gj += scale * dfj * fk * fa;
    gk += scale * fj * dfk * fa;
    gc += scale * fj * fk * dfa * dtheta_dc;
}

// compact_angular_narrow (n2p2 types 21, 24): one member's term C_r(r_j) C_r(r_k) C_r(r_jk) C_a(theta),
// the same radial bump on all three legs, and its derivatives:
// d/dr_j = C_r' C_r C_r(r_jk) C_a, d/dr_k likewise, d/dc = C_r C_r C_r(r_jk) C_a' dtheta/dc,
// d/dr_jk = C_r C_r C_r'(r_jk) C_a (gjk; triplet_chain takes gjk / r_jk: compact_jk_chain_factor).
template <class T>
KZ_HD void compact_narrow_triplet_gradient(T fj, T dfj, T fk, T dfk, T fjk, T dfjk, T fa, T dfa, T dtheta_dc,
                                           T scale, T& gj, T& gk, T& gc, T& gjk) {
    const T s3 = scale * fjk * fa;
    gj += s3 * dfj * fk;
    gk += s3 * fj * dfk;
    gc += scale * fj * fk * fjk * dfa * dtheta_dc;
    gjk += scale * fj * fk * dfjk * fa;
}

// (dE/dr_jk) / r_jk for triplet_chain; 0 for coincident neighbours (r_jk = 0, no direction).
template <class T>
KZ_HD T compact_jk_chain_factor(T gjk, T rjk) {
    return rjk > T(0.0) ? gjk / rjk : T(0.0);
}

// ------------------------------------------------------------------- triplet chain rule (all)
// dE/dr_ij and dE/dr_ik of a triplet from gj = dE/dr_j, gk = dE/dr_k, gc = dE/dc and
// gjk = (dE/dr_jk) / r_jk (0 for the wide families and compact_angular):
//   Fj = gj u_j + gc (u_k - c u_j) / r_j - gjk r_jk,  Fk = gk u_k + gc (u_j - c u_k) / r_k + gjk r_jk.
// (Six scalar outputs, not arrays: arrays inside the CPU's `omp simd` loops end on the stack.)
template <class T>
KZ_HD void triplet_chain(T gj, T gk, T gc, T gjk, T c, T uxj, T uyj, T uzj, T irj, T uxk, T uyk, T uzk, T irk,
                         T djkx, T djky, T djkz, T& Fjx, T& Fjy, T& Fjz, T& Fkx, T& Fky, T& Fkz) {
    const T hj = gc * irj, hk = gc * irk;
    Fjx = gj * uxj + hj * (uxk - c * uxj) - gjk * djkx;
    Fjy = gj * uyj + hj * (uyk - c * uyj) - gjk * djky;
    Fjz = gj * uzj + hj * (uzk - c * uzj) - gjk * djkz;
    Fkx = gk * uxk + hk * (uxj - c * uxk) + gjk * djkx;
    Fky = gk * uyk + hk * (uyj - c * uyk) + gjk * djky;
    Fkz = gk * uzk + hk * (uzj - c * uzk) + gjk * djkz;
}

// The tangent's projections of the displacements dj = d r_ij, dk = d r_ik (3 each) of a
// triplet: drj = u_j . dj, drk = u_k . dk, dc = (u_k - c u_j) . dj / r_j + (u_j - c u_k) . dk / r_k.
template <class T>
KZ_HD void triplet_projections(T c, const T* uj, const T* uk, T irj, T irk, const T* dj, const T* dk, T& drj,
                               T& drk, T& dc) {
    drj = T(0.0);
    drk = T(0.0);
    dc = T(0.0);
    for (int a = 0; a < 3; ++a) {
        drj += uj[a] * dj[a];
        drk += uk[a] * dk[a];
        dc += (uk[a] - c * uj[a]) * irj * dj[a] + (uj[a] - c * uk[a]) * irk * dk[a];
    }
}

// d r_jk = (r_jk / r_jk) . (dk - dj), r_jk = (djk[0], djk[1], djk[2]) (narrow families).
template <class T>
KZ_HD T triplet_rjk_projection(const T* djk, T rjk, const T* dj, const T* dk) {
    T drjk = T(0.0);
    for (int a = 0; a < 3; ++a) drjk += djk[a] / rjk * (dk[a] - dj[a]);
    return drjk;
}

}  // namespace kizuna
