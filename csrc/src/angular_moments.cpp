// Wide angular functions by moment tensors: O(neighbours) instead of O(neighbours^2).
//
// A wide angular function (n2p2 type 9, no r_jk factor) of term t = (eta, rs) and factor
// (zeta, lambda) is, with a_t(r) = exp(-eta (r - rs)^2) fc(r) and c_jk = u_j . u_k,
//   G = 2^(1-zeta) sum_{j<k} a_t(r_j) a_t(r_k) (1 + lambda c_jk)^zeta        (e1 = e2)
//   G = 2^(1-zeta) sum_{j in e1, k in e2} a_t(r_j) a_t(r_k) (1 + lambda c_jk)^zeta  (e1 != e2).
// For integer zeta, (1 + lambda c)^zeta = sum_n C(zeta, n) lambda^n c^n, and
//   sum_{j,k} a_j b_k (u_j . u_k)^n = sum_{|q| = n} n!/(q_x! q_y! q_z!) M_q N_q,
//   M_q = sum_j a_j u_j^q,  u^q = u_x^q_x u_y^q_y u_z^q_z  (moment tensor of rank n, by its
// distinct components, weighted by their multiplicity). With P_t(n) = that sum,
//   G = 2^(1-zeta) [sum_n C(zeta,n) lambda^n P_t(n) - (1 + lambda)^zeta sum_j a_t(r_j)^2] / 2
// for e1 = e2 (the full double sum minus its j = k terms, halved: j < k), and without the
// self term and the halving for e1 != e2. Every neighbour costs (zeta+1)(zeta+2)(zeta+3)/6
// monomials per term, not one product per neighbour pair.
//
// Derivatives: a_t depends on r_j = |r_ij| (a_t' = exp(..) (fc' - 2 eta (r - rs) fc)) and the
// monomials on u_j = r_ij / r_j; with F_j(u) = sum_t a_t(r_j) sum_q B_t[q] u^q,
//   dE/dr_ij = (sum_t dE/da_t(j) a_t'(r_j)) u_j + (grad_u F_j - (u_j . grad_u F_j) u_j) / r_j
// (du/dr_ij = (1 - u u^T) / r_j), with dE/da_t(j) = sum_q B_t[q] u_j^q [- 2 d_t a_t(r_j)].
// The values agree with the triplet sums to round-off (tests/test_angular_moments.py).
//
// Only the neighbours inside the group's cutoff enter: a_t(r) = a_t'(r) = 0 for r >= rc
// (fc = fc' = 0 there exactly). The gather orders every element block by bucket of r between
// the moment groups' cutoffs below the element's largest one (AtomKernel::split_radii), so the
// slots with r < rc are the block's first len_in(e, cutoff) (AtomKernel::hi_in); every side
// loop (a_t, moments, adjoint, tangent; per element block for the weighted kinds, e = -1)
// stops there rather than at the block's end. With an angular cutoff below the radial one
// (CHGNet students: 3.8 Å against 5 Å, ~8 of 28 Si neighbours, 21 of 55 in Li2O) the moment
// work drops in proportion; the dropped terms are exact zeros, so only the slot order changes
// the results (round-off). The gradient of a slot beyond rc is zero and is not written.
// tests/test_angular_moments.py (short angular cutoffs) checks the prefix logic.
#include <algorithm>
#include <cmath>

#include "atom_kernel.hpp"
#include "scratch_buffers.hpp"
#include "simd8.hpp"

namespace kizuna {

namespace {
// monomials of degree <= D
size_t num_monomials(int D) { return static_cast<size_t>(D + 1) * (D + 2) * (D + 3) / 6; }
// flat index of u^(a,b,c): degree by degree, then by b + c, then by c
int flat_index(int a, int b, int c) {
    const int n = a + b + c, s = b + c;
    return n * (n + 1) * (n + 2) / 6 + s * (s + 1) / 2 + c;
}
double binomial(int n, int k) {
    double v = 1.0;
    for (int i = 1; i <= k; ++i) v = v * (n - k + i) / i;
    return v;
}
double factorial(int n) { return n <= 1 ? 1.0 : n * factorial(n - 1); }
constexpr int QB = 8;  // slots per register tile
using simd8::V8;
using simd8::ld;

// dE/dr_ij of `len` consecutive slots (one side of a plain group, one element block of a
// weighted one) from B[t * K + q] = dE/dM_t[q] and dself[t] = dE/d(sum_j a_t(r_j)^2) * 2
// (nullptr: no self term): per tile of 8 slots (registers)
//   dE/da_t(j) = sum_q B_t[q] u_j^q + dself_t a_t(r_j),  dE/dr_j = sum_t dE/da_t(j) a_t'(r_j),
//   grad_u F_j = sum_q (sum_t a_t(r_j) B_t[q]) grad u^q,  d(u^q)/du_x = q_x u^(q - e_x),
//   dE/dr_ij = dE/dr_j u_j + (grad_u F_j - (u_j . grad_u F_j) u_j) / r_j.
// Pointers start at the first slot: as/das term t at [t * L + l], monomial q at U[q * LU + l],
// u, 1/r and the output at [l]. Tiles read up to 7 slots past `len` (inside the padded
// arrays) and write only the first `len`.
template <class Tab>
void slot_adjoint(int len, int nt, size_t K, size_t L, size_t LU, const double* __restrict B,
                  const double* __restrict dself, const double* __restrict as, const double* __restrict das,
                  const double* __restrict U, const Tab* __restrict tab, const double* __restrict ux,
                  const double* __restrict uy, const double* __restrict uz, const double* __restrict ir,
                  double* __restrict ox, double* __restrict oy, double* __restrict oz) {
    for (int l0 = 0; l0 < len; l0 += QB) {
        const double* __restrict Ub = U + l0;
        const V8 zero = simd8::splat(0.0);
        V8 gr = zero, gx = zero, gy = zero, gz = zero;
        auto self = [&](int t) {
            return (dself ? dself[t] : 0.0) * ld(as + static_cast<size_t>(t) * L + l0);
        };
        // radial: four terms at a time (independent FMA chains, u^q loaded once for the four)
        int t = 0;
        for (; t + 4 <= nt; t += 4) {
            const double *__restrict B0 = B + t * K, *__restrict B1 = B0 + K, *__restrict B2 = B1 + K,
                         *__restrict B3 = B2 + K;
            V8 d0 = self(t), d1 = self(t + 1), d2 = self(t + 2), d3 = self(t + 3);
            for (size_t q = 0; q < K; ++q) {
                const V8 u = ld(Ub + q * LU);
                d0 += B0[q] * u;
                d1 += B1[q] * u;
                d2 += B2[q] * u;
                d3 += B3[q] * u;
            }
            gr += d0 * ld(das + static_cast<size_t>(t) * L + l0);
            gr += d1 * ld(das + static_cast<size_t>(t + 1) * L + l0);
            gr += d2 * ld(das + static_cast<size_t>(t + 2) * L + l0);
            gr += d3 * ld(das + static_cast<size_t>(t + 3) * L + l0);
        }
        for (; t < nt; ++t) {
            const double* __restrict Bt = B + t * K;
            V8 d = self(t);
            for (size_t q = 0; q < K; ++q) d += Bt[q] * ld(Ub + q * LU);
            gr += d * ld(das + static_cast<size_t>(t) * L + l0);
        }
        // angular: grad_u F_j
        for (size_t q = 1; q < K; ++q) {
            V8 h = zero;
            for (int t = 0; t < nt; ++t) h += B[t * K + q] * ld(as + static_cast<size_t>(t) * L + l0);
            const Tab& mq = tab[q];
            if (mq.a > 0) gx += (double(mq.a) * h) * ld(Ub + static_cast<size_t>(mq.px) * LU);
            if (mq.b > 0) gy += (double(mq.b) * h) * ld(Ub + static_cast<size_t>(mq.py) * LU);
            if (mq.c > 0) gz += (double(mq.c) * h) * ld(Ub + static_cast<size_t>(mq.pz) * LU);
        }
        const int nl = std::min(QB, len - l0);
        for (int l = 0; l < nl; ++l) {
            const int j = l0 + l;
            const double dot = ux[j] * gx[l] + uy[j] * gy[l] + uz[j] * gz[l];
            ox[j] += gr[l] * ux[j] + (gx[l] - dot * ux[j]) * ir[j];
            oy[j] += gr[l] * uy[j] + (gy[l] - dot * uy[j]) * ir[j];
            oz[j] += gr[l] * uz[j] + (gz[l] - dot * uz[j]) * ir[j];
        }
    }
}
}  // namespace

// mono_[q * stride + slot] = u_slot^q for every monomial of degree <= degree (zeros beyond n)
void AtomKernel::moment_monomials(int degree) {
    if (mono_degree_ < degree) {
        mono_table_.clear();
        for (int n = 0; n <= degree; ++n)
            for (int s = 0; s <= n; ++s)
                for (int c = 0; c <= s; ++c) {
                    const int a = n - s, b = s - c;
                    Monomial m;
                    m.a = a;
                    m.b = b;
                    m.c = c;
                    m.n = n;
                    m.mult = factorial(n) / (factorial(a) * factorial(b) * factorial(c));
                    m.px = a > 0 ? flat_index(a - 1, b, c) : -1;
                    m.py = b > 0 ? flat_index(a, b - 1, c) : -1;
                    m.pz = c > 0 ? flat_index(a, b, c - 1) : -1;
                    mono_table_.push_back(m);
                }
        mono_degree_ = degree;
    }
    const size_t K = num_monomials(degree), n = n_, L = pad8(n) + 8;
    mono_stride_ = static_cast<int>(L);
    grow(mono_, K * L);
    double* __restrict U = mono_.data();
    std::fill(U, U + n, 1.0);
    std::fill(U + n, U + L, 0.0);
    for (size_t q = 1; q < K; ++q) {
        const Monomial& m = mono_table_[q];
        const int parent = m.a > 0 ? m.px : (m.b > 0 ? m.py : m.pz);
        const double* __restrict u = m.a > 0 ? ux_.data() : (m.b > 0 ? uy_.data() : uz_.data());
        const double* __restrict src = U + static_cast<size_t>(parent) * L;
        double* __restrict dst = U + q * L;
#pragma omp simd
        for (size_t j = 0; j < n; ++j) dst[j] = src[j] * u[j];
        std::fill(dst + n, dst + L, 0.0);
    }
}

// per side (side-local slots l = j - lo, zeros from the side's length to L = pad8(n) + 8):
// a_t(r_j) = exp(-eta_t (r_j - rs_t)^2) fc(r_j) and a_t'(r_j) = exp(..) (fc' - 2 eta_t (r_j - rs_t) fc)
void AtomKernel::side_terms(const AngularGroup& g, int gi) {
    if (mom_share_[gi] >= 0) return;  // computed by an earlier group with the same terms
    const int nt = static_cast<int>(g.term_eta.size());
    const size_t n = n_, L = pad8(n) + 8;
    const double* __restrict fc = fc_.data() + static_cast<size_t>(g.cutoff) * n;
    const double* __restrict dfc = dfc_.data() + static_cast<size_t>(g.cutoff) * n;
    const double* __restrict r = r_.data();
    double* __restrict a = mom_.data() + mom_a_[gi];
    const int ne = model_.num_elements();
    for (int side = 0; side < (g.e1 == g.e2 ? 1 : 2); ++side) {
        const int e = side == 0 ? g.e1 : g.e2;
        for (int t = 0; t < nt; ++t) {
            const double eta = g.term_eta[t], rs = g.term_rs[t];
            double* __restrict at = a + static_cast<size_t>(side * nt + t) * L;
            double* __restrict dat = a + static_cast<size_t>((2 + side) * nt + t) * L;
            std::fill(at, at + L, 0.0);
            std::fill(dat, dat + L, 0.0);
            // the slots inside the cutoff: a prefix of each element block (beyond, fc = fc' = 0)
            for (int b = (e < 0 ? 0 : e); b < (e < 0 ? ne : e + 1); ++b) {
                const int s0 = begin_[b], o = e < 0 ? s0 : 0, len = len_in(b, g.cutoff);
#pragma omp simd
                for (int l = 0; l < len; ++l) {
                    const int j = s0 + l;
                    const double d = r[j] - rs;
                    const double ex = kz_exp(-eta * d * d);
                    at[o + l] = ex * fc[j];
                    dat[o + l] = ex * (dfc[j] - 2.0 * eta * d * fc[j]);
                }
            }
        }
    }
}

void AtomKernel::moment_values(const AngularGroup& g, int gi) {
    place_region(gi, 0);
    if (!g.channels.empty()) return weighted_moment_values(g, gi);
    const int nt = static_cast<int>(g.term_eta.size());
    const int D = g.degree;
    const size_t K = num_monomials(D), n = n_, L = pad8(n) + 8, LU = mono_stride_;
    const bool same = g.e1 == g.e2;
    double* __restrict a = mom_.data() + mom_a_[gi];
    double* __restrict M1 = mom_.data() + mom_m_[gi];
    double* __restrict M2 = same ? M1 : M1 + static_cast<size_t>(nt) * K;
    const double* __restrict U = mono_.data();
    side_terms(g, gi);
    // the moments M_t[q] = sum_j a_t(r_j) u_j^q of each side
    for (int side = 0; side < (same ? 1 : 2); ++side) {
        const int s0 = side == 0 ? lo(g.e1) : lo(g.e2);
        const int s1 = side == 0 ? hi_in(g.e1, g.cutoff) : hi_in(g.e2, g.cutoff);
        const int len = s1 - s0, lp = static_cast<int>(pad8(static_cast<size_t>(len)));
        double* __restrict M = side == 0 ? M1 : M2;
        for (int t = 0; t < nt; ++t) {
            const double* __restrict at = a + static_cast<size_t>(side * nt + t) * L;
            for (size_t q = 0; q < K; ++q) {
                const double* __restrict u = U + q * LU + s0;
                double acc[QB] = {};
                for (int l0 = 0; l0 < lp; l0 += QB) {
#pragma omp simd
                    for (int l = 0; l < QB; ++l) acc[l] += at[l0 + l] * u[l0 + l];
                }
                M[t * K + q] = ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
            }
        }
    }
    // G = pref [sum_n C(zeta,n) lambda^n P_t(n) (- (1+lambda)^zeta sum_j a_t^2)] (/ 2)
    grow(mom_work_, static_cast<size_t>(nt) * (D + 2));
    double* P = mom_work_.data();  // P[t * (D + 2) + n], n <= D; [D + 1]: self sum
    const int len1 = hi_in(g.e1, g.cutoff) - lo(g.e1);
    for (int t = 0; t < nt; ++t) {
        double* Pt = P + static_cast<size_t>(t) * (D + 2);
        std::fill(Pt, Pt + D + 2, 0.0);
        for (size_t q = 0; q < K; ++q) Pt[mono_table_[q].n] += mono_table_[q].mult * M1[t * K + q] * M2[t * K + q];
        if (same) {
            const double* __restrict at = a + static_cast<size_t>(t) * L;
            double self = 0.0;
#pragma omp simd reduction(+ : self)
            for (int l = 0; l < len1; ++l) self += at[l] * at[l];
            Pt[D + 1] = self;
        }
    }
    for (size_t m = 0; m < g.out.size(); ++m) {
        const int f = g.fac[m], zeta = g.fac_izeta[f];
        const double lambda = g.fac_lambda[f];
        const double* Pt = P + static_cast<size_t>(g.term[m]) * (D + 2);
        double v = 0.0, lp = 1.0;
        for (int k = 0; k <= zeta; ++k, lp *= lambda) v += binomial(zeta, k) * lp * Pt[k];
        if (same) v = 0.5 * (v - int_pow(1.0 + lambda, zeta) * Pt[D + 1]);
        G_[g.out[m]] += g.fac_prefactor[f] * v;
    }
}

// E = sum_m beta_m G_m = sum_t [sum_n w_t(n) P_t(n) - d_t sum_j a_t^2] with
// w_t(n) = sum_{m in t} h_m C(zeta_m, n) lambda_m^n, d_t = sum_{m in t} h_m (1 + lambda_m)^zeta_m,
// h_m = beta_m pref_m (/ 2 for e1 = e2). B_t[q] = dE/dM_t[q] (of each side). Per tile of 8
// slots (registers): dE/da_t(j) = sum_q B_t[q] u_j^q - 2 d_t a_t(r_j) and
// grad_u F_j = sum_q (sum_t a_t(r_j) B_t[q]) grad u^q, d(u^q)/du_x = q_x u^(q - e_x).
void AtomKernel::moment_adjoint(const AngularGroup& g, int gi, const double* beta) {
    if (!g.channels.empty()) return weighted_moment_adjoint(g, gi, beta);
    const int nt = static_cast<int>(g.term_eta.size());
    const int D = g.degree;
    const size_t K = num_monomials(D), n = n_, L = pad8(n) + 8, LU = mono_stride_;
    const bool same = g.e1 == g.e2;
    const double* __restrict a = mom_.data() + mom_a_[gi];
    const double* __restrict M1 = mom_.data() + mom_m_[gi];
    const double* __restrict M2 = same ? M1 : M1 + static_cast<size_t>(nt) * K;
    const double* __restrict U = mono_.data();
    const size_t nw = static_cast<size_t>(nt) * (D + 2);
    grow(mom_work_, nw + 2 * nt * K + nt);
    double* w = mom_work_.data();  // w[t * (D + 2) + n]; [D + 1]: d_t
    double* B1 = w + nw;
    double* B2 = B1 + nt * K;
    std::fill(w, w + nw, 0.0);
    for (size_t m = 0; m < g.out.size(); ++m) {
        const int f = g.fac[m], zeta = g.fac_izeta[f];
        const double lambda = g.fac_lambda[f];
        const double h = beta[g.out[m]] * g.fac_prefactor[f] * (same ? 0.5 : 1.0);
        double* wt = w + static_cast<size_t>(g.term[m]) * (D + 2);
        double lp = 1.0;
        for (int k = 0; k <= zeta; ++k, lp *= lambda) wt[k] += h * binomial(zeta, k) * lp;
        wt[D + 1] += h * int_pow(1.0 + lambda, zeta);
    }
    for (int t = 0; t < nt; ++t)
        for (size_t q = 0; q < K; ++q) {
            const double c = w[t * (D + 2) + mono_table_[q].n] * mono_table_[q].mult;
            if (same) {
                B1[t * K + q] = 2.0 * c * M1[t * K + q];
            } else {
                B1[t * K + q] = c * M2[t * K + q];
                B2[t * K + q] = c * M1[t * K + q];
            }
        }
    double* dself = B2 + nt * K;
    for (int t = 0; t < nt; ++t) dself[t] = -2.0 * w[t * (D + 2) + D + 1];
    for (int side = 0; side < (same ? 1 : 2); ++side) {
        const int s0 = side == 0 ? lo(g.e1) : lo(g.e2);
        const int s1 = side == 0 ? hi_in(g.e1, g.cutoff) : hi_in(g.e2, g.cutoff);
        slot_adjoint(s1 - s0, nt, K, L, LU, side == 0 ? B1 : B2, same ? dself : nullptr,
                     a + static_cast<size_t>(side * nt) * L, a + static_cast<size_t>((2 + side) * nt) * L, U + s0,
                     mono_table_.data(), ux_.data() + s0, uy_.data() + s0, uz_.data() + s0, ir_.data() + s0,
                     out_x_ + s0, out_y_ + s0, out_z_ + s0);
    }
}

// dG = sum_j dG/dr_ij . dr_ij: dM_t[q] = sum_j (a_t'(r_j) dr_j u_j^q + a_t(r_j) d(u_j^q)),
// dr_j = u_j . dr_ij, du_j = (dr_ij - dr_j u_j) / r_j; dP_t(n) = sum_q mult (dM1 M2 + M1 dM2).
void AtomKernel::moment_tangent(const AngularGroup& g, int gi, const double* dr, double* dG) {
    if (!g.channels.empty()) return weighted_moment_tangent(g, gi, dr, dG);
    const int nt = static_cast<int>(g.term_eta.size());
    const int D = g.degree;
    const size_t K = num_monomials(D), n = n_, L = pad8(n) + 8, LU = mono_stride_;
    const bool same = g.e1 == g.e2;
    const double* a = mom_.data() + mom_a_[gi];
    const double* M1 = mom_.data() + mom_m_[gi];
    const double* M2 = same ? M1 : M1 + static_cast<size_t>(nt) * K;
    const double* U = mono_.data();
    const size_t np = static_cast<size_t>(nt) * (D + 2);
    grow(mom_work_, np + 2 * nt * K + 4 * n);
    double* dP = mom_work_.data();  // [t * (D + 2) + n]; [D + 1]: d(sum_j a_t^2)
    double* dM1 = dP + np;
    double* dM2 = same ? dM1 : dM1 + nt * K;
    double* drad = dM1 + 2 * nt * K;
    double* dux = drad + n;
    double* duy = dux + n;
    double* duz = duy + n;
    std::fill(dP, dP + np, 0.0);
    for (int side = 0; side < (same ? 1 : 2); ++side) {
        const int s0 = side == 0 ? lo(g.e1) : lo(g.e2);
        const int s1 = side == 0 ? hi_in(g.e1, g.cutoff) : hi_in(g.e2, g.cutoff);
        double* dM = side == 0 ? dM1 : dM2;
        for (int j = s0; j < s1; ++j) {
            const double* d = dr + 3 * j;
            drad[j] = ux_[j] * d[0] + uy_[j] * d[1] + uz_[j] * d[2];
            dux[j] = (d[0] - drad[j] * ux_[j]) * ir_[j];
            duy[j] = (d[1] - drad[j] * uy_[j]) * ir_[j];
            duz[j] = (d[2] - drad[j] * uz_[j]) * ir_[j];
        }
        for (int t = 0; t < nt; ++t) {
            const double* at = a + static_cast<size_t>(side * nt + t) * L;
            const double* dat = a + static_cast<size_t>((2 + side) * nt + t) * L;
            for (size_t q = 0; q < K; ++q) {
                const Monomial& mq = mono_table_[q];
                const double* u = U + q * LU;
                double acc = 0.0;
                for (int j = s0; j < s1; ++j) {
                    double du = 0.0;
                    if (mq.a > 0) du += mq.a * U[static_cast<size_t>(mq.px) * LU + j] * dux[j];
                    if (mq.b > 0) du += mq.b * U[static_cast<size_t>(mq.py) * LU + j] * duy[j];
                    if (mq.c > 0) du += mq.c * U[static_cast<size_t>(mq.pz) * LU + j] * duz[j];
                    acc += dat[j - s0] * drad[j] * u[j] + at[j - s0] * du;
                }
                dM[t * K + q] = acc;
            }
            if (same) {
                double self = 0.0;
                for (int j = s0; j < s1; ++j) self += 2.0 * at[j - s0] * dat[j - s0] * drad[j];
                dP[t * (D + 2) + D + 1] = self;
            }
        }
    }
    for (int t = 0; t < nt; ++t)
        for (size_t q = 0; q < K; ++q)
            dP[t * (D + 2) + mono_table_[q].n] +=
                mono_table_[q].mult * (dM1[t * K + q] * M2[t * K + q] + M1[t * K + q] * dM2[t * K + q]);
    for (size_t m = 0; m < g.out.size(); ++m) {
        const int f = g.fac[m], zeta = g.fac_izeta[f];
        const double lambda = g.fac_lambda[f];
        const double* Pt = dP + static_cast<size_t>(g.term[m]) * (D + 2);
        double v = 0.0, lp = 1.0;
        for (int k = 0; k <= zeta; ++k, lp *= lambda) v += binomial(zeta, k) * lp * Pt[k];
        if (same) v = 0.5 * (v - int_pow(1.0 + lambda, zeta) * Pt[D + 1]);
        dG[g.out[m]] += g.fac_prefactor[f] * v;
    }
}

// ------------------------------------------------------------ weighted wide groups (channels)
// A weighted wide function of channel c (weighted_angular_wide, integer zeta <= 4) is
//   G = 2^(1-zeta) sum_{j<k} w_c(Z_j) w_c(Z_k) a_t(r_j) a_t(r_k) (1 + lambda c_jk)^zeta,
// the plain same-side sum with a_t(r_j) -> w_c(Z_j) a_t(r_j). The weights depend only on the
// neighbour's element, so per element block e (slots begin_[e] .. begin_[e+1])
//   N_t^e[q] = sum_{j in e} a_t(r_j) u_j^q,   S_t^e = sum_{j in e} a_t(r_j)^2,
// and per channel M_t^c[q] = sum_e w_c(e) N_t^e[q], S_t^c = sum_e w_c(e)^2 S_t^e:
//   G = 2^(1-zeta) [sum_n C(zeta,n) lambda^n P_t^c(n) - (1 + lambda)^zeta S_t^c] / 2,
//   P_t^c(n) = sum_{|q| = n} n!/(q_x! q_y! q_z!) (M_t^c[q])^2.
// The neighbour loop builds the element moments once for all k channels: O(neighbours x
// terms x monomials) plus O(E k terms monomials), against O(triplets x k) on the triplet list.
// Storage at mom_m_: N [e][t][q], M [ci][t][q], S [e][t] (moment_storage).

size_t AtomKernel::moment_storage(const AngularGroup& g) const {
    const size_t K = num_monomials(g.degree), nt = g.term_eta.size();
    if (g.channels.empty() || !g.moments) return 2 * nt * K;
    const size_t ne = static_cast<size_t>(model_.num_elements());
    return (ne + g.channels.size()) * nt * K + ne * nt;
}

namespace {
// sum_{l < len} a[l] u[l] by tiles of 8; the last tile masked (a and u are read up to 7 slots
// past len, inside the padded arrays)
inline double block_dot(const double* __restrict a, const double* __restrict u, int len, const V8& tail) {
    V8 acc = simd8::splat(0.0);
    int l0 = 0;
    for (; l0 + QB <= len; l0 += QB) acc += ld(a + l0) * ld(u + l0);
    if (l0 < len) acc += (ld(a + l0) * tail) * ld(u + l0);
    return simd8::hsum(acc);
}
// lanes 0 .. (len mod 8) - 1 one, the others zero
inline V8 tail_mask(int len) {
    V8 m = simd8::splat(0.0);
    for (int l = 0; l < len % QB; ++l) m.set(l, 1.0);
    return m;
}
}  // namespace

void AtomKernel::weighted_moment_values(const AngularGroup& g, int gi) {
    const int nt = static_cast<int>(g.term_eta.size()), D = g.degree;
    const int ne = model_.num_elements(), nch = static_cast<int>(g.channels.size()), kch = model_.num_channels;
    const size_t K = num_monomials(D), L = pad8(static_cast<size_t>(n_)) + 8, LU = mono_stride_;
    const double* __restrict a = mom_.data() + mom_a_[gi];
    double* __restrict N = mom_.data() + mom_m_[gi];
    double* __restrict M = N + static_cast<size_t>(ne) * nt * K;
    double* __restrict S = M + static_cast<size_t>(nch) * nt * K;
    const double* __restrict U = mono_.data();
    side_terms(g, gi);  // e1 = e2 = -1: one side, every slot, a_t at [t * L + j]
    for (int e = 0; e < ne; ++e) {
        const int s0 = begin_[e], len = len_in(e, g.cutoff);
        const V8 tail = tail_mask(len);
        for (int t = 0; t < nt; ++t) {
            const double* __restrict at = a + static_cast<size_t>(t) * L + s0;
            double self = 0.0;
            for (int l = 0; l < len; ++l) self += at[l] * at[l];
            S[e * nt + t] = self;
            double* __restrict Nt = N + (static_cast<size_t>(e) * nt + t) * K;
            for (size_t q = 0; q < K; ++q) Nt[q] = block_dot(at, U + q * LU + s0, len, tail);
        }
    }
    grow(mom_work_, static_cast<size_t>(nch) * nt * (D + 2));
    double* P = mom_work_.data();  // [(ci * nt + t) * (D + 2) + n]; [D + 1]: S_t^c
    std::fill(P, P + static_cast<size_t>(nch) * nt * (D + 2), 0.0);
    for (int ci = 0; ci < nch; ++ci) {
        const int c = g.channels[ci];
        double* Mc = M + static_cast<size_t>(ci) * nt * K;
        std::fill(Mc, Mc + static_cast<size_t>(nt) * K, 0.0);
        for (int e = 0; e < ne; ++e) {
            const double w = model_.channel_weights[static_cast<size_t>(e) * kch + c];
            const double* Ne = N + static_cast<size_t>(e) * nt * K;
            for (size_t i = 0; i < static_cast<size_t>(nt) * K; ++i) Mc[i] += w * Ne[i];
            for (int t = 0; t < nt; ++t) P[(ci * nt + t) * (D + 2) + D + 1] += w * w * S[e * nt + t];
        }
        for (int t = 0; t < nt; ++t) {
            double* Pt = P + static_cast<size_t>(ci * nt + t) * (D + 2);
            for (size_t q = 0; q < K; ++q) Pt[mono_table_[q].n] += mono_table_[q].mult * Mc[t * K + q] * Mc[t * K + q];
        }
    }
    for (size_t m = 0; m < g.out.size(); ++m) {
        const int f = g.fac[m], zeta = g.fac_izeta[f];
        const double lambda = g.fac_lambda[f];
        const double* Pt = P + static_cast<size_t>(g.chan[m] * nt + g.term[m]) * (D + 2);
        double v = 0.0, lp = 1.0;
        for (int k = 0; k <= zeta; ++k, lp *= lambda) v += binomial(zeta, k) * lp * Pt[k];
        G_[g.out[m]] += g.fac_prefactor[f] * 0.5 * (v - int_pow(1.0 + lambda, zeta) * Pt[D + 1]);
    }
}

// E = sum_m beta_m G_m = sum_{c,t} [sum_n w_t^c(n) P_t^c(n) - d_t^c S_t^c] (w, d as in
// moment_adjoint, per channel); dE/dM_t^c[q] = 2 w_t^c(n_q) mult_q M_t^c[q], and per element
// B_t^e[q] = dE/dN_t^e[q] = sum_c w_c(e) dE/dM_t^c[q], dE/dS_t^e = -sum_c w_c(e)^2 d_t^c: the
// slots of block e then get the plain same-side adjoint with B^e (slot_adjoint).
void AtomKernel::weighted_moment_adjoint(const AngularGroup& g, int gi, const double* beta) {
    const int nt = static_cast<int>(g.term_eta.size()), D = g.degree;
    const int ne = model_.num_elements(), nch = static_cast<int>(g.channels.size()), kch = model_.num_channels;
    const size_t K = num_monomials(D), L = pad8(static_cast<size_t>(n_)) + 8, LU = mono_stride_;
    const double* __restrict a = mom_.data() + mom_a_[gi];
    const double* __restrict M = mom_.data() + mom_m_[gi] + static_cast<size_t>(ne) * nt * K;
    const size_t nw = static_cast<size_t>(nch) * nt * (D + 2), ntK = static_cast<size_t>(nt) * K;
    grow(mom_work_, nw + nch * ntK + ntK + nt);
    double* w = mom_work_.data();  // [(ci * nt + t) * (D + 2) + n]; [D + 1]: d_t^c
    double* Bc = w + nw;           // [ci][t][q]
    double* Be = Bc + nch * ntK;   // [t][q] of one element
    double* dself = Be + ntK;      // [t]
    std::fill(w, w + nw, 0.0);
    for (size_t m = 0; m < g.out.size(); ++m) {
        const int f = g.fac[m], zeta = g.fac_izeta[f];
        const double lambda = g.fac_lambda[f];
        const double h = beta[g.out[m]] * g.fac_prefactor[f] * 0.5;
        double* wt = w + static_cast<size_t>(g.chan[m] * nt + g.term[m]) * (D + 2);
        double lp = 1.0;
        for (int k = 0; k <= zeta; ++k, lp *= lambda) wt[k] += h * binomial(zeta, k) * lp;
        wt[D + 1] += h * int_pow(1.0 + lambda, zeta);
    }
    for (int ci = 0; ci < nch; ++ci)
        for (int t = 0; t < nt; ++t)
            for (size_t q = 0; q < K; ++q) {
                const size_t i = (static_cast<size_t>(ci) * nt + t) * K + q;
                Bc[i] = 2.0 * w[(ci * nt + t) * (D + 2) + mono_table_[q].n] * mono_table_[q].mult * M[i];
            }
    for (int e = 0; e < ne; ++e) {
        const int s0 = begin_[e], len = len_in(e, g.cutoff);
        if (len == 0) continue;
        std::fill(Be, Be + ntK + nt, 0.0);
        for (int ci = 0; ci < nch; ++ci) {
            const double we = model_.channel_weights[static_cast<size_t>(e) * kch + g.channels[ci]];
            for (size_t i = 0; i < ntK; ++i) Be[i] += we * Bc[ci * ntK + i];
            for (int t = 0; t < nt; ++t) dself[t] -= 2.0 * we * we * w[(ci * nt + t) * (D + 2) + D + 1];
        }
        slot_adjoint(len, nt, K, L, LU, Be, dself, a + s0, a + 2 * nt * L + s0, mono_.data() + s0,
                     mono_table_.data(), ux_.data() + s0, uy_.data() + s0, uz_.data() + s0, ir_.data() + s0,
                     out_x_ + s0, out_y_ + s0, out_z_ + s0);
    }
}

// dG = sum_j dG/dr_ij . dr_ij: dN_t^e[q] = sum_{j in e} (a_t'(r_j) dr_j u_j^q + a_t(r_j) d(u_j^q)),
// dS_t^e = sum_{j in e} 2 a_t a_t' dr_j; dM^c = sum_e w_c(e) dN^e, dS^c = sum_e w_c(e)^2 dS^e;
// dP_t^c(n) = sum_q 2 mult M_t^c[q] dM_t^c[q].
void AtomKernel::weighted_moment_tangent(const AngularGroup& g, int gi, const double* dr, double* dG) {
    const int nt = static_cast<int>(g.term_eta.size()), D = g.degree;
    const int ne = model_.num_elements(), nch = static_cast<int>(g.channels.size()), kch = model_.num_channels;
    const size_t K = num_monomials(D), n = n_, L = pad8(n) + 8, LU = mono_stride_;
    const double* a = mom_.data() + mom_a_[gi];
    const double* M = mom_.data() + mom_m_[gi] + static_cast<size_t>(ne) * nt * K;
    const double* U = mono_.data();
    const size_t ntK = static_cast<size_t>(nt) * K, np = static_cast<size_t>(nch) * nt * (D + 2);
    grow(mom_work_, np + ntK + nt + nch * (ntK + nt) + 4 * n);
    double* dP = mom_work_.data();  // [(ci * nt + t) * (D + 2) + n]; [D + 1]: dS_t^c
    double* dN = dP + np;           // [t][q] of one element
    double* dS = dN + ntK;          // [t] of one element
    double* dM = dS + nt;           // [ci][t][q]
    double* dSc = dM + nch * ntK;   // [ci][t]
    double* drad = dSc + nch * nt;
    double* dux = drad + n;
    double* duy = dux + n;
    double* duz = duy + n;
    std::fill(dP, dP + np, 0.0);
    std::fill(dM, dM + nch * (ntK + nt), 0.0);
    for (size_t j = 0; j < n; ++j) {
        const double* d = dr + 3 * j;
        drad[j] = ux_[j] * d[0] + uy_[j] * d[1] + uz_[j] * d[2];
        dux[j] = (d[0] - drad[j] * ux_[j]) * ir_[j];
        duy[j] = (d[1] - drad[j] * uy_[j]) * ir_[j];
        duz[j] = (d[2] - drad[j] * uz_[j]) * ir_[j];
    }
    for (int e = 0; e < ne; ++e) {
        const int s0 = begin_[e], s1 = s0 + len_in(e, g.cutoff);
        if (s1 == s0) continue;
        for (int t = 0; t < nt; ++t) {
            const double* at = a + static_cast<size_t>(t) * L;
            const double* dat = a + static_cast<size_t>(2 * nt + t) * L;
            for (size_t q = 0; q < K; ++q) {
                const Monomial& mq = mono_table_[q];
                const double* u = U + q * LU;
                double acc = 0.0;
                for (int j = s0; j < s1; ++j) {
                    double du = 0.0;
                    if (mq.a > 0) du += mq.a * U[static_cast<size_t>(mq.px) * LU + j] * dux[j];
                    if (mq.b > 0) du += mq.b * U[static_cast<size_t>(mq.py) * LU + j] * duy[j];
                    if (mq.c > 0) du += mq.c * U[static_cast<size_t>(mq.pz) * LU + j] * duz[j];
                    acc += dat[j] * drad[j] * u[j] + at[j] * du;
                }
                dN[t * K + q] = acc;
            }
            double self = 0.0;
            for (int j = s0; j < s1; ++j) self += 2.0 * at[j] * dat[j] * drad[j];
            dS[t] = self;
        }
        for (int ci = 0; ci < nch; ++ci) {
            const double we = model_.channel_weights[static_cast<size_t>(e) * kch + g.channels[ci]];
            for (size_t i = 0; i < ntK; ++i) dM[ci * ntK + i] += we * dN[i];
            for (int t = 0; t < nt; ++t) dSc[ci * nt + t] += we * we * dS[t];
        }
    }
    for (int ci = 0; ci < nch; ++ci)
        for (int t = 0; t < nt; ++t) {
            double* Pt = dP + static_cast<size_t>(ci * nt + t) * (D + 2);
            const size_t o = (static_cast<size_t>(ci) * nt + t) * K;
            for (size_t q = 0; q < K; ++q) Pt[mono_table_[q].n] += 2.0 * mono_table_[q].mult * M[o + q] * dM[o + q];
            Pt[D + 1] = dSc[ci * nt + t];
        }
    for (size_t m = 0; m < g.out.size(); ++m) {
        const int f = g.fac[m], zeta = g.fac_izeta[f];
        const double lambda = g.fac_lambda[f];
        const double* Pt = dP + static_cast<size_t>(g.chan[m] * nt + g.term[m]) * (D + 2);
        double v = 0.0, lp = 1.0;
        for (int k = 0; k <= zeta; ++k, lp *= lambda) v += binomial(zeta, k) * lp * Pt[k];
        dG[g.out[m]] += g.fac_prefactor[f] * 0.5 * (v - int_pow(1.0 + lambda, zeta) * Pt[D + 1]);
    }
}

}  // namespace kizuna
