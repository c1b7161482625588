// Symmetry functions of one central atom: values, adjoint (forces) and tangent (JVP).
//
// Notation: for neighbour slot j, d_j = r_ij vector (Å), r_j = |d_j|, u_j = d_j / r_j.
// Triplet (j, k) of centre i: c = u_j . u_k = cos(theta_jik), r_jk = |d_k - d_j|.
// Derivatives of c: dc/dd_j = (u_k - c u_j) / r_j, dc/dd_k = (u_j - c u_k) / r_k.
#include "atom_kernel.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "kizuna/errors.hpp"

namespace kizuna {

namespace {
template <class T>
void grow(std::vector<T>& v, size_t n) {
    if (v.size() < n) v.resize(n + n / 4 + 16);
}
}  // namespace

AtomKernel::AtomKernel(const Model& model) : model_(model) {
    const int ne = model.num_elements();
    begin_.assign(ne + 1, 0);
    count_.assign(ne, 0);
    size_t width = 1, features = 1, layers = 1, terms = 1, facs = 1;
    for (const ElementModel& em : model.element_models) {
        width = std::max(width, static_cast<size_t>(em.max_width));
        features = std::max(features, em.sfs.size());
        for (const Member& m : em.members) layers = std::max(layers, m.layers.size());
        for (const AngularGroup& g : em.plan.angular) {
            terms = std::max(terms, g.term_eta.size());
            facs = std::max(facs, g.fac_zeta.size());
        }
    }
    G_.resize(features);
    x_.resize(features);
    beta_.resize(features);
    dydx_.resize(features);
    act_.resize(layers * width);
    dact_.resize(layers * width);
    back_.resize(2 * width);
    fa_.resize(facs);
    fda_.resize(facs);
    et_.resize(terms);
    wt_.resize(terms);
    st_.resize(terms);
}

// ------------------------------------------------------------------------------------ gather
void AtomKernel::gather(const AtomsView& atoms, const NeighborView& nb, int ii, int species) {
    em_ = &model_.element_models[species];
    species_ = species;
    n_features_ = static_cast<int>(em_->sfs.size());
    const ElementPlan& plan = em_->plan;
    const double rc2 = plan.rc_max * plan.rc_max;
    const int ne = model_.num_elements();
    const int i = nb.centre(ii);
    const double* xi = atoms.positions + 3 * static_cast<size_t>(i);
    const int m = nb.counts[ii];
    const int* list = nb.lists ? nb.lists[ii] : nb.indices + nb.offsets[ii];
    const double* shift = (!nb.lists && nb.shifts) ? nb.shifts + 3 * nb.offsets[ii] : nullptr;

    grow(tmp_d_, 3 * static_cast<size_t>(m));
    grow(tmp_atom_, m);
    grow(tmp_elem_, m);
    std::fill(count_.begin(), count_.end(), 0);
    int k = 0;
    for (int e = 0; e < m; ++e) {
        const int j = list[e] & nb.index_mask;
        const int s = atoms.species_of(j);
        if (s < 0) continue;
        const double* xj = atoms.positions + 3 * static_cast<size_t>(j);
        double dx = xj[0] - xi[0], dy = xj[1] - xi[1], dz = xj[2] - xi[2];
        if (shift) {
            dx += shift[3 * e];
            dy += shift[3 * e + 1];
            dz += shift[3 * e + 2];
        }
        const double r2 = dx * dx + dy * dy + dz * dz;
        if (!(r2 < rc2)) {
            if (r2 != r2)
                throw InputError("non-finite distance between atoms " + std::to_string(i) + " and " +
                                 std::to_string(j) + " (NaN coordinates?)");
            continue;
        }
        if (r2 < 1e-20)
            throw InputError("atoms " + std::to_string(i) + " and " + std::to_string(j) +
                             " are on top of each other (distance " + std::to_string(std::sqrt(r2)) + " Å)");
        tmp_d_[3 * k] = dx;
        tmp_d_[3 * k + 1] = dy;
        tmp_d_[3 * k + 2] = dz;
        tmp_atom_[k] = j;
        tmp_elem_[k] = s;
        ++count_[s];
        ++k;
    }
    n_ = k;
    begin_[0] = 0;
    for (int e = 0; e < ne; ++e) begin_[e + 1] = begin_[e] + count_[e];
    grow(d_, 3 * static_cast<size_t>(n_));
    grow(r_, n_);
    grow(inv_r_, n_);
    grow(atom_, n_);
    for (int e = 0; e < ne; ++e) count_[e] = begin_[e];
    for (int a = 0; a < n_; ++a) {
        const int slot = count_[tmp_elem_[a]]++;
        const double dx = tmp_d_[3 * a], dy = tmp_d_[3 * a + 1], dz = tmp_d_[3 * a + 2];
        d_[3 * slot] = dx;
        d_[3 * slot + 1] = dy;
        d_[3 * slot + 2] = dz;
        const double r = std::sqrt(dx * dx + dy * dy + dz * dz);
        r_[slot] = r;
        inv_r_[slot] = 1.0 / r;
        atom_[slot] = tmp_atom_[a];
    }
    const size_t nc = plan.cutoffs.size();
    grow(fc_, nc * n_);
    grow(dfc_, nc * n_);
    for (size_t c = 0; c < nc; ++c) {
        const CutoffFunction& f = plan.cutoffs[c];
        double* fc = fc_.data() + c * n_;
        double* dfc = dfc_.data() + c * n_;
        for (int s = 0; s < n_; ++s) cutoff_fdf(f, r_[s], fc[s], dfc[s]);
    }
}

// ------------------------------------------------------------------------------------ values
void AtomKernel::values() {
    std::fill(G_.begin(), G_.begin() + n_features_, 0.0);
    const ElementPlan& plan = em_->plan;
    for (const RadialGroup& g : plan.radial) radial_values(g);
    for (const CompactRadialGroup& g : plan.compact_radial) compact_radial_values(g);
    // exponential terms of every angular group at every neighbour distance
    pair_offset_.resize(plan.angular.size());
    size_t total = 0;
    for (size_t gi = 0; gi < plan.angular.size(); ++gi) {
        pair_offset_[gi] = total;
        total += plan.angular[gi].term_eta.size() * n_;
    }
    grow(ex_, total);
    trip_begin_.assign(plan.angular.size() + 1, 0);
    trip_ex_begin_.assign(plan.angular.size() + 1, 0);
    tj_.clear();
    tk_.clear();
    tc_.clear();
    trjk_.clear();
    tfc_.clear();
    tdfc_.clear();
    tex_.clear();
    for (size_t gi = 0; gi < plan.angular.size(); ++gi) angular_values(plan.angular[gi], static_cast<int>(gi));
    for (const CompactAngularGroup& g : plan.compact_angular) compact_angular_values(g);
}

// G_s = sum_j exp(-eta (r_j - rs)^2) fc(r_j)
void AtomKernel::radial_values(const RadialGroup& g) {
    const double* fc = fc_.data() + static_cast<size_t>(g.cutoff) * n_;
    const double rc = em_->plan.cutoffs[g.cutoff].rc;
    const size_t nm = g.out.size();
    for (int j = begin_[g.neighbor]; j < begin_[g.neighbor + 1]; ++j) {
        const double r = r_[j];
        if (r >= rc) continue;
        for (size_t m = 0; m < nm; ++m) {
            const double dr = r - g.rs[m];
            G_[g.out[m]] += std::exp(-g.eta[m] * dr * dr) * fc[j];
        }
    }
}

void AtomKernel::compact_radial_values(const CompactRadialGroup& g) {
    for (int j = begin_[g.neighbor]; j < begin_[g.neighbor + 1]; ++j)
        for (size_t m = 0; m < g.out.size(); ++m) {
            double f, df;
            compact_fdf(g.fn[m], r_[j], f, df);
            G_[g.out[m]] += f;
        }
}

// Narrow:  G_s = sum_{j<k} A_s(c) E_s(r_j) E_s(r_k) E_s(r_jk) fc(r_j) fc(r_k) fc(r_jk)
// Wide:    the same without E_s(r_jk) fc(r_jk)
// with A_s(c) = 2^(1-zeta) (1 + lambda c)^zeta and E_s(r) = exp(-eta (r - rs)^2).
void AtomKernel::angular_values(const AngularGroup& g, int gi) {
    const int nt = static_cast<int>(g.term_eta.size());
    const int nf = static_cast<int>(g.fac_zeta.size());
    const size_t nm = g.out.size();
    const double rc = g.rc, rc2 = rc * rc;
    const CutoffFunction& cut = em_->plan.cutoffs[g.cutoff];
    const double* fc = fc_.data() + static_cast<size_t>(g.cutoff) * n_;
    double* ex = ex_.data() + pair_offset_[gi];
    // pair terms for the slots of both elements
    const int elems[2] = {g.e1, g.e2};
    for (int pass = 0; pass < (g.e1 == g.e2 ? 1 : 2); ++pass) {
        const int e = elems[pass];
        for (int t = 0; t < nt; ++t)
            for (int j = begin_[e]; j < begin_[e + 1]; ++j) {
                const double dr = r_[j] - g.term_rs[t];
                ex[static_cast<size_t>(t) * n_ + j] = std::exp(-g.term_eta[t] * dr * dr);
            }
    }
    // triplet list (narrow: only r_jk < rc contributes)
    const size_t first = tj_.size();
    trip_begin_[gi] = first;
    const bool same = g.e1 == g.e2;
    for (int j = begin_[g.e1]; j < begin_[g.e1 + 1]; ++j) {
        if (r_[j] >= rc) continue;
        const double xj = d_[3 * j], yj = d_[3 * j + 1], zj = d_[3 * j + 2];
        for (int k = same ? j + 1 : begin_[g.e2]; k < begin_[g.e2 + 1]; ++k) {
            if (r_[k] >= rc) continue;
            double rjk2 = 0.0;
            if (g.narrow) {
                const double dx = d_[3 * k] - xj, dy = d_[3 * k + 1] - yj, dz = d_[3 * k + 2] - zj;
                rjk2 = dx * dx + dy * dy + dz * dz;
                if (rjk2 >= rc2) continue;
            }
            tj_.push_back(j);
            tk_.push_back(k);
            trjk_.push_back(rjk2);
        }
    }
    const size_t last = tj_.size();
    trip_begin_[gi + 1] = last;
    const size_t nt_trip = last - first;
    tc_.resize(last);
    tfc_.resize(last, 1.0);   // wide groups: fc(r_jk) = 1, fc'(r_jk) = 0
    tdfc_.resize(last, 0.0);
    const size_t ex_first = tex_.size();
    trip_ex_begin_[gi] = ex_first;
    tex_.resize(ex_first + (g.narrow ? nt_trip * nt : 0));
    trip_ex_begin_[gi + 1] = tex_.size();
    for (size_t q = first; q < last; ++q) {
        const int j = tj_[q], k = tk_[q];
        const double c = (d_[3 * j] * d_[3 * k] + d_[3 * j + 1] * d_[3 * k + 1] + d_[3 * j + 2] * d_[3 * k + 2]) *
                         inv_r_[j] * inv_r_[k];
        tc_[q] = c;
        double fc3 = fc[j] * fc[k];
        double* exjk = nullptr;
        if (g.narrow) {
            const double rjk = std::sqrt(trjk_[q]);
            trjk_[q] = rjk;
            cutoff_fdf(cut, rjk, tfc_[q], tdfc_[q]);
            fc3 *= tfc_[q];
            exjk = tex_.data() + ex_first + (q - first) * nt;
            for (int t = 0; t < nt; ++t) {
                const double dr = rjk - g.term_rs[t];
                exjk[t] = std::exp(-g.term_eta[t] * dr * dr);
            }
        }
        for (int a = 0; a < nf; ++a)
            angular_factor(c, g.fac_zeta[a], g.fac_izeta[a], g.fac_lambda[a], g.fac_prefactor[a], fa_[a], fda_[a]);
        for (int t = 0; t < nt; ++t) {
            double e = ex[static_cast<size_t>(t) * n_ + j] * ex[static_cast<size_t>(t) * n_ + k] * fc3;
            if (exjk) e *= exjk[t];
            et_[t] = e;
        }
        for (size_t m = 0; m < nm; ++m) G_[g.out[m]] += fa_[g.fac[m]] * et_[g.term[m]];
    }
}

// G_s = sum_{j<k} C_r(r_j) C_r(r_k) C_a(theta), theta = acos(c) (n2p2 type 22)
void AtomKernel::compact_angular_values(const CompactAngularGroup& g) {
    const bool same = g.e1 == g.e2;
    for (int j = begin_[g.e1]; j < begin_[g.e1 + 1]; ++j) {
        if (r_[j] >= g.rc) continue;
        for (int k = same ? j + 1 : begin_[g.e2]; k < begin_[g.e2 + 1]; ++k) {
            if (r_[k] >= g.rc) continue;
            const double c = (d_[3 * j] * d_[3 * k] + d_[3 * j + 1] * d_[3 * k + 1] + d_[3 * j + 2] * d_[3 * k + 2]) *
                             inv_r_[j] * inv_r_[k];
            if (c <= -1.0 || c >= 1.0) continue;
            const double theta = std::acos(c);
            for (size_t m = 0; m < g.out.size(); ++m) {
                double fj, dfj, fk, dfk, fa, dfa;
                compact_fdf(g.radial[m], r_[j], fj, dfj);
                if (fj == 0.0) continue;
                compact_fdf(g.radial[m], r_[k], fk, dfk);
                compact_fdf(g.angular[m], theta, fa, dfa);
                G_[g.out[m]] += fj * fk * fa;
            }
        }
    }
}

// ----------------------------------------------------------------------------------- adjoint
void AtomKernel::adjoint(const double* beta) {
    grow(grad_, 3 * static_cast<size_t>(n_));
    std::fill(grad_.begin(), grad_.begin() + 3 * static_cast<size_t>(n_), 0.0);
    const ElementPlan& plan = em_->plan;
    for (const RadialGroup& g : plan.radial) radial_adjoint(g, beta);
    for (const CompactRadialGroup& g : plan.compact_radial) compact_radial_adjoint(g, beta);
    for (size_t gi = 0; gi < plan.angular.size(); ++gi) angular_adjoint(plan.angular[gi], static_cast<int>(gi), beta);
    for (const CompactAngularGroup& g : plan.compact_angular) compact_angular_adjoint(g, beta);
}

// dE/dr_j = sum_s beta_s E_s(r_j) (fc'(r_j) - 2 eta_s (r_j - rs_s) fc(r_j))
void AtomKernel::radial_adjoint(const RadialGroup& g, const double* beta) {
    const double* fc = fc_.data() + static_cast<size_t>(g.cutoff) * n_;
    const double* dfc = dfc_.data() + static_cast<size_t>(g.cutoff) * n_;
    const double rc = em_->plan.cutoffs[g.cutoff].rc;
    const size_t nm = g.out.size();
    for (int j = begin_[g.neighbor]; j < begin_[g.neighbor + 1]; ++j) {
        const double r = r_[j];
        if (r >= rc) continue;
        double dEdr = 0.0;
        for (size_t m = 0; m < nm; ++m) {
            const double dr = r - g.rs[m];
            const double e = std::exp(-g.eta[m] * dr * dr);
            dEdr += beta[g.out[m]] * e * (dfc[j] - 2.0 * g.eta[m] * dr * fc[j]);
        }
        const double s = dEdr * inv_r_[j];
        grad_[3 * j] += s * d_[3 * j];
        grad_[3 * j + 1] += s * d_[3 * j + 1];
        grad_[3 * j + 2] += s * d_[3 * j + 2];
    }
}

void AtomKernel::compact_radial_adjoint(const CompactRadialGroup& g, const double* beta) {
    for (int j = begin_[g.neighbor]; j < begin_[g.neighbor + 1]; ++j) {
        double dEdr = 0.0;
        for (size_t m = 0; m < g.out.size(); ++m) {
            double f, df;
            compact_fdf(g.fn[m], r_[j], f, df);
            dEdr += beta[g.out[m]] * df;
        }
        const double s = dEdr * inv_r_[j];
        grad_[3 * j] += s * d_[3 * j];
        grad_[3 * j + 1] += s * d_[3 * j + 1];
        grad_[3 * j + 2] += s * d_[3 * j + 2];
    }
}

// Per triplet, with W_t = sum_{s in term t} beta_s A_s, E_t = ex_t(r_j) ex_t(r_k) [ex_t(r_jk)]:
//   g_j  = dE/dr_j  = -fc3 sum_t W_t E_t 2 eta_t (r_j - rs_t) + fc'(r_j) fc(r_k) fc(r_jk) sum_t W_t E_t
//   g_jk = dE/dr_jk (narrow) likewise,  g_c = dE/dc = fc3 sum_t E_t sum_{s in t} beta_s A'_s
// and grad_j += g_j u_j + g_c (u_k - c u_j)/r_j - g_jk u_jk, grad_k += g_k u_k + g_c (u_j - c u_k)/r_k + g_jk u_jk.
void AtomKernel::angular_adjoint(const AngularGroup& g, int gi, const double* beta) {
    const int nt = static_cast<int>(g.term_eta.size());
    const int nf = static_cast<int>(g.fac_zeta.size());
    const size_t nm = g.out.size();
    const double* fc = fc_.data() + static_cast<size_t>(g.cutoff) * n_;
    const double* dfc = dfc_.data() + static_cast<size_t>(g.cutoff) * n_;
    const double* ex = ex_.data() + pair_offset_[gi];
    const size_t first = trip_begin_[gi], last = trip_begin_[gi + 1];
    for (size_t q = first; q < last; ++q) {
        const int j = tj_[q], k = tk_[q];
        const double c = tc_[q];
        const double rj = r_[j], rk = r_[k];
        const double fcjk = tfc_[q], dfcjk = tdfc_[q], rjk = trjk_[q];
        const double* exjk = g.narrow ? tex_.data() + trip_ex_begin_[gi] + (q - first) * nt : nullptr;
        for (int a = 0; a < nf; ++a)
            angular_factor(c, g.fac_zeta[a], g.fac_izeta[a], g.fac_lambda[a], g.fac_prefactor[a], fa_[a], fda_[a]);
        for (int t = 0; t < nt; ++t) wt_[t] = st_[t] = 0.0;
        for (size_t m = 0; m < nm; ++m) {
            const double b = beta[g.out[m]];
            wt_[g.term[m]] += b * fa_[g.fac[m]];
            st_[g.term[m]] += b * fda_[g.fac[m]];
        }
        double S0 = 0.0, Sj = 0.0, Sk = 0.0, Sjk = 0.0, Sc = 0.0;
        for (int t = 0; t < nt; ++t) {
            double e = ex[static_cast<size_t>(t) * n_ + j] * ex[static_cast<size_t>(t) * n_ + k];
            if (exjk) e *= exjk[t];
            const double w = wt_[t] * e;
            const double two_eta = 2.0 * g.term_eta[t];
            S0 += w;
            Sj += w * two_eta * (rj - g.term_rs[t]);
            Sk += w * two_eta * (rk - g.term_rs[t]);
            if (exjk) Sjk += w * two_eta * (rjk - g.term_rs[t]);
            Sc += st_[t] * e;
        }
        const double fcj = fc[j], fck = fc[k];
        const double fc3 = fcj * fck * fcjk;
        const double gj = -Sj * fc3 + S0 * dfc[j] * fck * fcjk;
        const double gk = -Sk * fc3 + S0 * fcj * dfc[k] * fcjk;
        const double gc = Sc * fc3;
        const double irj = inv_r_[j], irk = inv_r_[k];
        const double uj[3] = {d_[3 * j] * irj, d_[3 * j + 1] * irj, d_[3 * j + 2] * irj};
        const double uk[3] = {d_[3 * k] * irk, d_[3 * k + 1] * irk, d_[3 * k + 2] * irk};
        double hj = 0.0;  // coefficient of u_jk
        double ujk[3] = {0.0, 0.0, 0.0};
        if (g.narrow) {
            const double gjk = -Sjk * fc3 + S0 * fcj * fck * dfcjk;
            const double irjk = 1.0 / rjk;
            for (int a = 0; a < 3; ++a) ujk[a] = (d_[3 * k + a] - d_[3 * j + a]) * irjk;
            hj = gjk;
        }
        for (int a = 0; a < 3; ++a) {
            grad_[3 * j + a] += gj * uj[a] + gc * (uk[a] - c * uj[a]) * irj - hj * ujk[a];
            grad_[3 * k + a] += gk * uk[a] + gc * (uj[a] - c * uk[a]) * irk + hj * ujk[a];
        }
    }
}

void AtomKernel::compact_angular_adjoint(const CompactAngularGroup& g, const double* beta) {
    const bool same = g.e1 == g.e2;
    for (int j = begin_[g.e1]; j < begin_[g.e1 + 1]; ++j) {
        if (r_[j] >= g.rc) continue;
        for (int k = same ? j + 1 : begin_[g.e2]; k < begin_[g.e2 + 1]; ++k) {
            if (r_[k] >= g.rc) continue;
            const double irj = inv_r_[j], irk = inv_r_[k];
            const double c = (d_[3 * j] * d_[3 * k] + d_[3 * j + 1] * d_[3 * k + 1] + d_[3 * j + 2] * d_[3 * k + 2]) * irj * irk;
            if (c <= -1.0 || c >= 1.0) continue;
            const double theta = std::acos(c);
            const double dtheta_dc = -1.0 / std::sqrt(1.0 - c * c);
            double gj = 0.0, gk = 0.0, gc = 0.0;
            for (size_t m = 0; m < g.out.size(); ++m) {
                double fj, dfj, fk, dfk, fa, dfa;
                compact_fdf(g.radial[m], r_[j], fj, dfj);
                compact_fdf(g.radial[m], r_[k], fk, dfk);
                if (fj == 0.0 && dfj == 0.0) continue;
                compact_fdf(g.angular[m], theta, fa, dfa);
                const double b = beta[g.out[m]];
                gj += b * dfj * fk * fa;
                gk += b * fj * dfk * fa;
                gc += b * fj * fk * dfa * dtheta_dc;
            }
            for (int a = 0; a < 3; ++a) {
                const double uja = d_[3 * j + a] * irj, uka = d_[3 * k + a] * irk;
                grad_[3 * j + a] += gj * uja + gc * (uka - c * uja) * irj;
                grad_[3 * k + a] += gk * uka + gc * (uja - c * uka) * irk;
            }
        }
    }
}

// ----------------------------------------------------------------------------------- tangent
// dG_s = sum_j (dG_s/dd_j) . dr_j, dr_j = 3 numbers per slot (change of the vector r_ij)
void AtomKernel::tangent(const double* dr, double* dG) {
    std::fill(dG, dG + n_features_, 0.0);
    const ElementPlan& plan = em_->plan;
    for (const RadialGroup& g : plan.radial) radial_tangent(g, dr, dG);
    for (const CompactRadialGroup& g : plan.compact_radial) compact_radial_tangent(g, dr, dG);
    for (size_t gi = 0; gi < plan.angular.size(); ++gi) angular_tangent(plan.angular[gi], static_cast<int>(gi), dr, dG);
    for (const CompactAngularGroup& g : plan.compact_angular) compact_angular_tangent(g, dr, dG);
}

void AtomKernel::radial_tangent(const RadialGroup& g, const double* dr, double* dG) {
    const double* fc = fc_.data() + static_cast<size_t>(g.cutoff) * n_;
    const double* dfc = dfc_.data() + static_cast<size_t>(g.cutoff) * n_;
    const double rc = em_->plan.cutoffs[g.cutoff].rc;
    for (int j = begin_[g.neighbor]; j < begin_[g.neighbor + 1]; ++j) {
        const double r = r_[j];
        if (r >= rc) continue;
        const double dr_scalar = (d_[3 * j] * dr[3 * j] + d_[3 * j + 1] * dr[3 * j + 1] + d_[3 * j + 2] * dr[3 * j + 2]) * inv_r_[j];
        for (size_t m = 0; m < g.out.size(); ++m) {
            const double x = r - g.rs[m];
            const double e = std::exp(-g.eta[m] * x * x);
            dG[g.out[m]] += e * (dfc[j] - 2.0 * g.eta[m] * x * fc[j]) * dr_scalar;
        }
    }
}

void AtomKernel::compact_radial_tangent(const CompactRadialGroup& g, const double* dr, double* dG) {
    for (int j = begin_[g.neighbor]; j < begin_[g.neighbor + 1]; ++j) {
        const double dr_scalar = (d_[3 * j] * dr[3 * j] + d_[3 * j + 1] * dr[3 * j + 1] + d_[3 * j + 2] * dr[3 * j + 2]) * inv_r_[j];
        for (size_t m = 0; m < g.out.size(); ++m) {
            double f, df;
            compact_fdf(g.fn[m], r_[j], f, df);
            dG[g.out[m]] += df * dr_scalar;
        }
    }
}

// dT_s = E_t [A_s P_t + A'_s fc3 dc], P_t = -2 eta_t sum_x (r_x - rs_t) dr_x fc3 + Q,
// Q = fc'(r_j) fc(r_k) fc(r_jk) dr_j + fc(r_j) fc'(r_k) fc(r_jk) dr_k + fc(r_j) fc(r_k) fc'(r_jk) dr_jk
void AtomKernel::angular_tangent(const AngularGroup& g, int gi, const double* dr, double* dG) {
    const int nt = static_cast<int>(g.term_eta.size());
    const int nf = static_cast<int>(g.fac_zeta.size());
    const double* fc = fc_.data() + static_cast<size_t>(g.cutoff) * n_;
    const double* dfc = dfc_.data() + static_cast<size_t>(g.cutoff) * n_;
    const double* ex = ex_.data() + pair_offset_[gi];
    const size_t first = trip_begin_[gi], last = trip_begin_[gi + 1];
    for (size_t q = first; q < last; ++q) {
        const int j = tj_[q], k = tk_[q];
        const double c = tc_[q];
        const double rj = r_[j], rk = r_[k], irj = inv_r_[j], irk = inv_r_[k];
        const double fcjk = tfc_[q], dfcjk = tdfc_[q], rjk = trjk_[q];
        const double* exjk = g.narrow ? tex_.data() + trip_ex_begin_[gi] + (q - first) * nt : nullptr;
        const double* dj = dr + 3 * j;
        const double* dk = dr + 3 * k;
        double drj = 0.0, drk = 0.0, dc = 0.0, drjk = 0.0;
        for (int a = 0; a < 3; ++a) {
            const double uja = d_[3 * j + a] * irj, uka = d_[3 * k + a] * irk;
            drj += uja * dj[a];
            drk += uka * dk[a];
            dc += (uka - c * uja) * irj * dj[a] + (uja - c * uka) * irk * dk[a];
        }
        if (g.narrow) {
            const double irjk = 1.0 / rjk;
            for (int a = 0; a < 3; ++a) drjk += (d_[3 * k + a] - d_[3 * j + a]) * irjk * (dk[a] - dj[a]);
        }
        const double fcj = fc[j], fck = fc[k];
        const double fc3 = fcj * fck * fcjk;
        const double Q = dfc[j] * fck * fcjk * drj + fcj * dfc[k] * fcjk * drk + fcj * fck * dfcjk * drjk;
        for (int a = 0; a < nf; ++a)
            angular_factor(c, g.fac_zeta[a], g.fac_izeta[a], g.fac_lambda[a], g.fac_prefactor[a], fa_[a], fda_[a]);
        for (int t = 0; t < nt; ++t) {
            double e = ex[static_cast<size_t>(t) * n_ + j] * ex[static_cast<size_t>(t) * n_ + k];
            if (exjk) e *= exjk[t];
            const double rs = g.term_rs[t];
            double sum = (rj - rs) * drj + (rk - rs) * drk;
            if (exjk) sum += (rjk - rs) * drjk;
            et_[t] = e;
            wt_[t] = -2.0 * g.term_eta[t] * sum * fc3 + Q;  // P_t
        }
        for (size_t m = 0; m < g.out.size(); ++m) {
            const int t = g.term[m], a = g.fac[m];
            dG[g.out[m]] += et_[t] * (fa_[a] * wt_[t] + fda_[a] * fc3 * dc);
        }
    }
}

void AtomKernel::compact_angular_tangent(const CompactAngularGroup& g, const double* dr, double* dG) {
    const bool same = g.e1 == g.e2;
    for (int j = begin_[g.e1]; j < begin_[g.e1 + 1]; ++j) {
        if (r_[j] >= g.rc) continue;
        for (int k = same ? j + 1 : begin_[g.e2]; k < begin_[g.e2 + 1]; ++k) {
            if (r_[k] >= g.rc) continue;
            const double irj = inv_r_[j], irk = inv_r_[k];
            const double c = (d_[3 * j] * d_[3 * k] + d_[3 * j + 1] * d_[3 * k + 1] + d_[3 * j + 2] * d_[3 * k + 2]) * irj * irk;
            if (c <= -1.0 || c >= 1.0) continue;
            const double theta = std::acos(c);
            const double dtheta_dc = -1.0 / std::sqrt(1.0 - c * c);
            const double* dj = dr + 3 * j;
            const double* dk = dr + 3 * k;
            double drj = 0.0, drk = 0.0, dc = 0.0;
            for (int a = 0; a < 3; ++a) {
                const double uja = d_[3 * j + a] * irj, uka = d_[3 * k + a] * irk;
                drj += uja * dj[a];
                drk += uka * dk[a];
                dc += (uka - c * uja) * irj * dj[a] + (uja - c * uka) * irk * dk[a];
            }
            for (size_t m = 0; m < g.out.size(); ++m) {
                double fj, dfj, fk, dfk, fa, dfa;
                compact_fdf(g.radial[m], r_[j], fj, dfj);
                compact_fdf(g.radial[m], r_[k], fk, dfk);
                compact_fdf(g.angular[m], theta, fa, dfa);
                dG[g.out[m]] += dfj * fk * fa * drj + fj * dfk * fa * drk + fj * fk * dfa * dtheta_dc * dc;
            }
        }
    }
}

// ----------------------------------------------------------------------------------- network
// Forward: h_l = act(W_l h_{l-1} + b_l); backward: dy/dh_{l-1} = W_l^T (dy/dh_l * act'(z_l)).
double AtomKernel::network(const Member& member, const double* x, double* dydx) {
    const size_t stride = back_.size() / 2;
    const double* in = x;
    const size_t L = member.layers.size();
    for (size_t l = 0; l < L; ++l) {
        const DenseLayer& layer = member.layers[l];
        double* out = act_.data() + l * stride;
        double* dout = dact_.data() + l * stride;
        const double* W = layer.weights.data();
        for (int o = 0; o < layer.n_out; ++o) {
            const double* w = W + static_cast<size_t>(o) * layer.n_in;
            double z = layer.bias[o];
            for (int i = 0; i < layer.n_in; ++i) z += w[i] * in[i];
            activation_fdf(layer.activation, z, out[o], dout[o]);
        }
        in = out;
    }
    const double y = in[0];
    // backward
    double* g = back_.data();
    double* gp = back_.data() + stride;
    g[0] = 1.0;
    for (size_t l = L; l-- > 0;) {
        const DenseLayer& layer = member.layers[l];
        const double* dout = dact_.data() + l * stride;
        double* target = l == 0 ? dydx : gp;
        std::fill(target, target + layer.n_in, 0.0);
        const double* W = layer.weights.data();
        for (int o = 0; o < layer.n_out; ++o) {
            const double gz = g[o] * dout[o];
            const double* w = W + static_cast<size_t>(o) * layer.n_in;
            for (int i = 0; i < layer.n_in; ++i) target[i] += gz * w[i];
        }
        std::swap(g, gp);
    }
    return y;
}

}  // namespace kizuna
