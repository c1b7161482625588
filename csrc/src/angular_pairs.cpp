// Wide angular functions of the other factors (zeta > kMaxMomentDegree or not an integer) by one
// fused loop over neighbour pairs.
//
// With a_t(r) = exp(-eta_t (r - rs_t)^2) fc(r) per term t and A_f(c) = 2^(1-zeta) (1 + lambda c)^zeta
// per factor f (c = u_j . u_k), a member s = (t, f) of a plain wide group is
//   G_s = sum_{j<k} a_t(r_j) a_t(r_k) A_f(c_jk)          (e1 = e2; e1 != e2: j in e1, k in e2).
// No r_jk factor and no r_jk cutoff: every pair of neighbours inside rc counts, so the pairs
// need no list. Both loops run row by row (neighbour j, then every k of the row in tiles of 8
// lanes over side-local arrays, zero padded: lanes past the end have a_t = 0); the adjoint
// recomputes c and A_f instead of reading stored per-triplet arrays (which streamed through
// memory):
//   W_t = sum_{s in t} beta_s A_f(s),  S_t = sum_{s in t} beta_s A_f(s)'
//   dE/dr_j = sum_t a_t'(r_j) a_t(r_k) W_t,  dE/dr_k = sum_t a_t(r_j) a_t'(r_k) W_t,
//   dE/dc = sum_t a_t(r_j) a_t(r_k) S_t,
//   grad_j += dE/dr_j u_j + dE/dc (u_k - c u_j) / r_j,  grad_k += dE/dr_k u_k + dE/dc (u_j - c u_k) / r_k.
// a_t and a_t' come from side_terms() (angular_moments.cpp).
#include <algorithm>
#include <cmath>

#include "atom_kernel.hpp"
#include "kizuna/sf_formulas.hpp"
#include "scratch_buffers.hpp"
#include "simd8.hpp"

namespace kizuna {

namespace {
constexpr int QB = 8;  // pairs per register tile

using simd8::V8;
using simd8::hsum;
using simd8::ld;
using simd8::splat;
using simd8::st;

// A = pref (1 + lambda c)^zeta and dA/dc for 8 lanes; integer zeta by repeated squaring (the
// same operations as the triplet list's tiles and the GPU: angular_factor_int)
inline void factor_tile(double zeta, int izeta, double lambda, double pref, const V8& c, V8& A, V8& dA) {
    if (izeta >= 1) {
        angular_factor_int(1.0 + lambda * c, splat(1.0), izeta, pref, pref * zeta * lambda, A, dA);
    } else {
        for (int l = 0; l < QB; ++l) {
            double a, da;
            angular_factor(c[l], zeta, -1, lambda, pref, a, da);
            A.set(l, a);
            dA.set(l, da);
        }
    }
}
}  // namespace

// side-local unit vectors and 1/r of both sides, zero padded to L = pad8(n) + 8:
// geo[(side * 4 + component) * L + l], component 0..2 = u_x, u_y, u_z, 3 = 1/r
static void pair_geometry(const double* ux, const double* uy, const double* uz, const double* ir, int s0, int len,
                          size_t L, double* geo) {
    const double* src[4] = {ux, uy, uz, ir};
    for (int c = 0; c < 4; ++c) {
        double* d = geo + c * L;
        std::copy(src[c] + s0, src[c] + s0 + len, d);
        std::fill(d + len, d + L, 0.0);
    }
}

// Row by row (neighbour j), tile by tile over the k of the row: c_jk, A_f(c_jk), then per term
// E = a_t(r_j) a_t(r_k) and the lane sums acc[t][f] += E A_f (dense over terms x factors).
void AtomKernel::pair_values(const AngularGroup& g, int gi) {
    place_region(gi, 0);
    side_terms(g, gi);
    const int nt = static_cast<int>(g.term_eta.size());
    const int nf = static_cast<int>(g.fac_zeta.size());
    const bool same = g.e1 == g.e2;
    const size_t L = pad8(static_cast<size_t>(n_)) + 8;
    const int s1 = lo(g.e1), len1 = hi(g.e1) - s1, s2 = lo(g.e2), len2 = hi(g.e2) - s2;
    grow(pair_work_, 8 * L + QB * static_cast<size_t>(nf + nt * nf));
    double* geo = pair_work_.data();
    pair_geometry(ux_.data(), uy_.data(), uz_.data(), ir_.data(), s1, len1, L, geo);
    if (!same) pair_geometry(ux_.data(), uy_.data(), uz_.data(), ir_.data(), s2, len2, L, geo + 4 * L);
    const double* __restrict ux2 = geo + (same ? 0 : 4) * L;
    const double* __restrict uy2 = ux2 + L;
    const double* __restrict uz2 = uy2 + L;
    double* __restrict A = geo + 8 * L;  // A_f of the tile at [f * QB]
    double* __restrict acc = A + nf * QB;  // lane sums at [(t * nf + f) * QB]
    std::fill(acc, acc + static_cast<size_t>(nt) * nf * QB, 0.0);
    const double* __restrict a1 = mom_.data() + mom_a_[gi];
    const double* __restrict a2 = same ? a1 : a1 + static_cast<size_t>(nt) * L;
    for (int l1 = 0; l1 < len1; ++l1) {
        if (r_[s1 + l1] >= g.rc) continue;
        const double uxj = geo[l1], uyj = geo[L + l1], uzj = geo[2 * L + l1];
        for (int q0 = same ? l1 + 1 : 0; q0 < len2; q0 += QB) {  // lanes past len2: a = 0
            const V8 c = uxj * ld(ux2 + q0) + uyj * ld(uy2 + q0) + uzj * ld(uz2 + q0);
            for (int f = 0; f < nf; ++f) {
                V8 Af, dAf;
                factor_tile(g.fac_zeta[f], g.fac_izeta[f], g.fac_lambda[f], g.fac_prefactor[f], c, Af, dAf);
                st(A + f * QB, Af);
            }
            for (int t = 0; t < nt; ++t) {
                const V8 E = a1[t * L + l1] * ld(a2 + t * L + q0);
                for (int f = 0; f < nf; ++f) {
                    double* s = acc + (t * nf + f) * QB;
                    st(s, ld(s) + E * ld(A + f * QB));
                }
            }
        }
    }
    for (size_t m = 0; m < g.out.size(); ++m) G_[g.out[m]] += hsum(ld(acc + (g.term[m] * nf + g.fac[m]) * QB));
}

// Row by row, tile by tile as in pair_values, everything of a tile in registers:
// W_t = sum_f b[t][f] A_f, S_t = sum_f b[t][f] A_f' (b: beta of member (t, f), dense), then the
// radial derivatives of j and k and dE/dc, and the tile's force components.
void AtomKernel::pair_adjoint(const AngularGroup& g, int gi, const double* beta) {
    const int nt = static_cast<int>(g.term_eta.size());
    const int nf = static_cast<int>(g.fac_zeta.size());
    const bool same = g.e1 == g.e2;
    const size_t L = pad8(static_cast<size_t>(n_)) + 8;
    const int s1 = lo(g.e1), len1 = hi(g.e1) - s1, s2 = lo(g.e2), len2 = hi(g.e2) - s2;
    grow(pair_work_, 11 * L + 2 * QB * static_cast<size_t>(nf) + static_cast<size_t>(nt) * nf);
    double* geo = pair_work_.data();
    pair_geometry(ux_.data(), uy_.data(), uz_.data(), ir_.data(), s1, len1, L, geo);
    if (!same) pair_geometry(ux_.data(), uy_.data(), uz_.data(), ir_.data(), s2, len2, L, geo + 4 * L);
    const double* __restrict ux2 = geo + (same ? 0 : 4) * L;
    const double* __restrict uy2 = ux2 + L;
    const double* __restrict uz2 = uy2 + L;
    const double* __restrict ir2 = uz2 + L;
    double* __restrict gkx = geo + 8 * L;  // gradients of the side-2 slots
    double* __restrict gky = gkx + L;
    double* __restrict gkz = gky + L;
    double* __restrict A = gkz + L;  // A_f, A_f' of the tile at [f * QB], [(nf + f) * QB]
    double* __restrict dA = A + nf * QB;
    double* __restrict bc = dA + nf * QB;  // bc[t * nf + f] = beta of member (t, f), or 0
    std::fill(gkx, gkx + 3 * L, 0.0);
    std::fill(bc, bc + nt * nf, 0.0);
    for (size_t m = 0; m < g.out.size(); ++m) bc[g.term[m] * nf + g.fac[m]] += beta[g.out[m]];
    const size_t off = mom_a_[gi];
    const double* __restrict a1 = mom_.data() + off;
    const double* __restrict a2 = same ? a1 : a1 + static_cast<size_t>(nt) * L;
    const double* __restrict d1 = a1 + static_cast<size_t>(2 * nt) * L;  // a_t'
    const double* __restrict d2 = same ? d1 : d1 + static_cast<size_t>(nt) * L;
    for (int l1 = 0; l1 < len1; ++l1) {
        const int j = s1 + l1;
        if (r_[j] >= g.rc) continue;
        const double uxj = geo[l1], uyj = geo[L + l1], uzj = geo[2 * L + l1], irj = geo[3 * L + l1];
        const V8 zero = splat(0.0);
        V8 GJ = zero, Fx = zero, Fy = zero, Fz = zero;
        for (int q0 = same ? l1 + 1 : 0; q0 < len2; q0 += QB) {
            const V8 uxk = ld(ux2 + q0), uyk = ld(uy2 + q0), uzk = ld(uz2 + q0);
            const V8 c = uxj * uxk + uyj * uyk + uzj * uzk;
            for (int f = 0; f < nf; ++f) {
                V8 Af, dAf;
                factor_tile(g.fac_zeta[f], g.fac_izeta[f], g.fac_lambda[f], g.fac_prefactor[f], c, Af, dAf);
                st(A + f * QB, Af);
                st(dA + f * QB, dAf);
            }
            V8 gj = zero, gk = zero, gc = zero;
            for (int t = 0; t < nt; ++t) {
                V8 W = zero, S = zero;
                for (int f = 0; f < nf; ++f) {
                    const double b = bc[t * nf + f];
                    W += b * ld(A + f * QB);
                    S += b * ld(dA + f * QB);
                }
                const double aj = a1[t * L + l1], daj = d1[t * L + l1];
                const V8 ak = ld(a2 + t * L + q0), dak = ld(d2 + t * L + q0);
                gj += daj * ak * W;
                gk += aj * dak * W;
                gc += aj * ak * S;
            }
            const V8 hj = gc * irj, hk = gc * ld(ir2 + q0);
            GJ += gj;
            Fx += hj * (uxk - c * uxj);
            Fy += hj * (uyk - c * uyj);
            Fz += hj * (uzk - c * uzj);
            st(gkx + q0, ld(gkx + q0) + gk * uxk + hk * (uxj - c * uxk));
            st(gky + q0, ld(gky + q0) + gk * uyk + hk * (uyj - c * uyk));
            st(gkz + q0, ld(gkz + q0) + gk * uzk + hk * (uzj - c * uzk));
        }
        const double gr = hsum(GJ);
        out_x_[j] += gr * uxj + hsum(Fx);
        out_y_[j] += gr * uyj + hsum(Fy);
        out_z_[j] += gr * uzj + hsum(Fz);
    }
    for (int l = 0; l < len2; ++l) {
        out_x_[s2 + l] += gkx[l];
        out_y_[s2 + l] += gky[l];
        out_z_[s2 + l] += gkz[l];
    }
}

// dG_s = sum_pairs [(a_t'(r_j) dr_j a_t(r_k) + a_t(r_j) a_t'(r_k) dr_k) A_f + a_t a_t A_f' dc],
// dr_j = u_j . dr_ij, dc = (u_k - c u_j) . dr_ij / r_j + (u_j - c u_k) . dr_ik / r_k
void AtomKernel::pair_tangent(const AngularGroup& g, int gi, const double* dr, double* dG) {
    const int nt = static_cast<int>(g.term_eta.size());
    const int nf = static_cast<int>(g.fac_zeta.size());
    const bool same = g.e1 == g.e2;
    const size_t L = pad8(static_cast<size_t>(n_)) + 8;
    const int s1 = lo(g.e1), len1 = hi(g.e1) - s1, s2 = lo(g.e2), len2 = hi(g.e2) - s2;
    grow(pair_work_, 2 * static_cast<size_t>(nf));
    double* A = pair_work_.data();
    double* dA = A + nf;
    const double* a1 = mom_.data() + mom_a_[gi];
    const double* a2 = same ? a1 : a1 + static_cast<size_t>(nt) * L;
    const double* d1 = a1 + static_cast<size_t>(2 * nt) * L;
    const double* d2 = same ? d1 : d1 + static_cast<size_t>(nt) * L;
    for (int l1 = 0; l1 < len1; ++l1) {
        const int j = s1 + l1;
        if (r_[j] >= g.rc) continue;
        const double* dj = dr + 3 * j;
        const double uj[3] = {ux_[j], uy_[j], uz_[j]};
        for (int l2 = same ? l1 + 1 : 0; l2 < len2; ++l2) {
            const int k = s2 + l2;
            if (r_[k] >= g.rc) continue;
            const double* dk = dr + 3 * k;
            const double uk[3] = {ux_[k], uy_[k], uz_[k]};
            const double c = cosine(j, k);
            double drj, drk, dc;
            triplet_projections(c, uj, uk, ir_[j], ir_[k], dj, dk, drj, drk, dc);
            for (int f = 0; f < nf; ++f)
                angular_factor(c, g.fac_zeta[f], g.fac_izeta[f], g.fac_lambda[f], g.fac_prefactor[f], A[f], dA[f]);
            for (int t = 0; t < nt; ++t) {
                const double aj = a1[t * L + l1], ak = a2[t * L + l2];
                const double dE = d1[t * L + l1] * drj * ak + aj * d2[t * L + l2] * drk;
                for (int m = g.term_first[t]; m < g.term_first[t + 1]; ++m)
                    dG[g.out[m]] += dE * A[g.fac[m]] + aj * ak * dA[g.fac[m]] * dc;
            }
        }
    }
}

}  // namespace kizuna
