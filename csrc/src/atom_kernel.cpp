// Symmetry functions of one central atom: values, adjoint (forces) and tangent (JVP).
//
// Notation: for neighbour slot j, r_ij = (x_j, y_j, z_j) (Å), r_j = |r_ij|, u_j = r_ij / r_j.
// Triplet (j, k) of centre i: c = u_j . u_k = cos(theta_jik), r_jk = |r_ik - r_ij|.
// Derivatives of c: dc/dr_ij = (u_k - c u_j) / r_j, dc/dr_ik = (u_j - c u_k) / r_k.
//
// Angular groups are evaluated over a compacted list of contributing triplets: the scalar loop
// that builds the list rejects pairs with r_jk >= rc before any exponential is evaluated; all
// later loops run over triplets with uniform work and vectorise (`omp simd`).
//
// The terms of each family (value, gradient, tangent per neighbour and per triplet) are the
// functions of sf_formulas.hpp, shared with the CUDA kernels; this file holds the CPU's layout
// (element-sorted slots, compacted triplet arrays, tiles of 8 triplets) and scheduling.
#include "atom_kernel.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <type_traits>

#include "kizuna/errors.hpp"
#include "kizuna/sf_formulas.hpp"
#include "scratch_buffers.hpp"
#include "simd8.hpp"

#if defined(__AVX512F__) && defined(__AVX512VL__) && !defined(KIZUNA_NO_AVX512_COMPRESS)
#include <immintrin.h>
#define KIZUNA_AVX512_COMPRESS 1
#endif

namespace kizuna {

namespace {
// p[0 .. n) = v for n < 8 (a triplet array's padding up to its multiple of 8): plain stores, no
// memset call (one per array cost ~1 % of a small student's step)
inline void fill_short(double* d, size_t n, double v) {
    if (n & 4) {
        d[0] = d[1] = d[2] = d[3] = v;
        d += 4;
    }
    if (n & 2) {
        d[0] = d[1] = v;
        d += 2;
    }
    if (n & 1) d[0] = v;
}

using simd8::ld;
using simd8::st;
using simd8::V8;

// acc_i = sum_q A_i[q] E[q] fc3[q] [W_i[q]] for K members of one term, over tiles of 8 triplets
// (the arrays are padded to a multiple of 8 with zeros); each member has its own 8 lane sums,
// reduced at the end in the tree order of a vector reduction.
template <int K>
void term_sums(const double* const* A, const double* __restrict E, const double* __restrict fc3,
               const double* const* W, bool weighted, int nT, double* out) {
    // tile accumulators as vector values: register-resident (GCC kept arrays of lane sums on the
    // stack, one store-to-load round trip per member and tile)
    double acc[K][8];
    V8 v[K];
    for (int i = 0; i < K; ++i) v[i] = simd8::splat(0.0);
    if (weighted) {
        for (int q0 = 0; q0 < nT; q0 += 8)
            for (int i = 0; i < K; ++i) v[i] += ld(A[i] + q0) * ld(E + q0) * ld(fc3 + q0) * ld(W[i] + q0);
    } else {
        for (int q0 = 0; q0 < nT; q0 += 8) {
            const V8 ef = ld(E + q0) * ld(fc3 + q0);  // E fc3, once for the K members
            for (int i = 0; i < K; ++i) v[i] += ld(A[i] + q0) * ef;
        }
    }
    for (int i = 0; i < K; ++i) st(acc[i], v[i]);
    for (int i = 0; i < K; ++i) {
        const double* v = acc[i];
        out[i] = ((v[0] + v[4]) + (v[2] + v[6])) + ((v[1] + v[5]) + (v[3] + v[7]));
    }
}
}  // namespace

AtomKernel::AtomKernel(const Model& model) : model_(model) {
    const int ne = model.num_elements();
    begin_.assign(ne + 1, 0);
    count_.assign(ne, 0);
    size_t features = 1;
    for (const ElementModel& em : model.element_models) features = std::max(features, em.sfs.size());
    G_.resize(features);
    beta_.resize(features);
}

// the radii that split the element blocks of a centre of element `species`: the distinct rc of
// its moment groups' and triplet-list groups' cutoffs below rc_max, ascending (cached per
// element and plan; `triplets`: ElementModel::triplet_plan). The moment loops and the triplet
// candidates then run over the prefix of a block inside the group's cutoff only.
const AtomKernel::SplitRadii& AtomKernel::split_radii(int species, bool triplets) {
    if (split_.size() < 2 * model_.element_models.size()) split_.resize(2 * model_.element_models.size());
    const ElementModel& em = model_.element_models[species];
    const ElementPlan& plan = triplets ? em.triplet_plan : em.plan;
    SplitRadii& sp = split_[2 * species + triplets];
    if (sp.plan == &plan && sp.split.size() == plan.cutoffs.size()) return sp;
    sp.plan = &plan;
    sp.radii.clear();
    sp.split.assign(plan.cutoffs.size(), -1);
    std::vector<char> is_split(plan.cutoffs.size(), 0);
    for (const AngularGroup& g : plan.angular) {
        const double rc = plan.cutoffs[g.cutoff].rc;
        if (g.pairs || !(rc < plan.rc_max)) continue;  // moment groups and triplet lists
        is_split[g.cutoff] = 1;
        if (std::find(sp.radii.begin(), sp.radii.end(), rc) == sp.radii.end()) sp.radii.push_back(rc);
    }
    std::sort(sp.radii.begin(), sp.radii.end());
    for (size_t c = 0; c < plan.cutoffs.size(); ++c)
        if (is_split[c])
            sp.split[c] = static_cast<int>(std::find(sp.radii.begin(), sp.radii.end(), plan.cutoffs[c].rc) -
                                           sp.radii.begin());
    return sp;
}

// ------------------------------------------------------------------------------------ gather
// The first neighbour entry of centre ii with a NaN distance or at distance < 1e-10 Å: an
// InputError naming both atoms (gather found one; this rescans for the message).
void AtomKernel::report_bad_pair(const AtomsView& atoms, const NeighborView& nb, int ii) const {
    const int i = nb.centre(ii);
    const double* xi = atoms.positions + 3 * static_cast<size_t>(i);
    const int at = nb.slot(ii);
    const int* list = nb.lists ? nb.lists[at] : nb.indices + nb.offsets[at];
    const double* shift = (!nb.lists && nb.shifts) ? nb.shifts + 3 * nb.offsets[at] : nullptr;
    for (int e = 0; e < nb.counts[at]; ++e) {
        const int j = list[e] & nb.index_mask;
        if (atoms.species_of(j) < 0) continue;
        const double* xj = atoms.positions + 3 * static_cast<size_t>(j);
        double d[3] = {xj[0] - xi[0], xj[1] - xi[1], xj[2] - xi[2]};
        if (shift)
            for (int c = 0; c < 3; ++c) d[c] += shift[3 * e + c];
        const double r2 = d[0] * d[0] + d[1] * d[1] + d[2] * d[2];
        if (r2 != r2)
            throw InputError("non-finite distance between atoms " + std::to_string(i) + " and " +
                             std::to_string(j) + " (NaN coordinates?)");
        if (r2 < 1e-20)
            throw InputError("atoms " + std::to_string(i) + " and " + std::to_string(j) +
                             " are on top of each other (distance " + std::to_string(std::sqrt(r2)) + " Å)");
    }
    throw InputError("a non-finite or zero distance at centre " + std::to_string(i));  // not reached
}

void AtomKernel::gather(const AtomsView& atoms, const NeighborView& nb, int ii, int species) {
    em_ = &model_.element_models[species];
    n_features_ = static_cast<int>(em_->sfs.size());
    const double rc2 = em_->plan.rc_max * em_->plan.rc_max;
    const double rm2 = em_->moment_rc * em_->moment_rc;  // neighbours inside: plan choice
    int n_in = 0;
    const int ne = model_.num_elements();
    const int i = nb.centre(ii);
    const double* xi = atoms.positions + 3 * static_cast<size_t>(i);
    const int at = nb.slot(ii);
    const int m = nb.counts[at];
    const int* list = nb.lists ? nb.lists[at] : nb.indices + nb.offsets[at];
    const double* shift = (!nb.lists && nb.shifts) ? nb.shifts + 3 * nb.offsets[at] : nullptr;

    grow(tmp_, 3 * static_cast<size_t>(m));
    grow(tmp_atom_, m);
    grow(tmp_elem_, m);
    grow(tmp_r_, m);
    // every entry is written at slot k and kept (k advances) when its element is modelled and
    // r < rc: no branch per entry (28 of 42 entries kept for a Si student in LAMMPS, skin 1 Å)
    int k = 0;
    bool bad = false;  // a NaN distance or two atoms on top of each other: reported below
    for (int e = 0; e < m; ++e) {
        const int j = list[e] & nb.index_mask;
        if (e + 8 < m) {  // the neighbours' positions and types are scattered in memory (LAMMPS ghosts)
            const int jn = list[e + 8] & nb.index_mask;
            __builtin_prefetch(atoms.positions + 3 * static_cast<size_t>(jn));
            if (!atoms.species) __builtin_prefetch(atoms.types + jn);
        }
        const int s = atoms.species_of(j);
        const double* xj = atoms.positions + 3 * static_cast<size_t>(j);
        double dx = xj[0] - xi[0], dy = xj[1] - xi[1], dz = xj[2] - xi[2];
        if (shift) {
            dx += shift[3 * e];
            dy += shift[3 * e + 1];
            dz += shift[3 * e + 2];
        }
        const double r2 = dx * dx + dy * dy + dz * dz;
        tmp_[3 * k] = dx;
        tmp_[3 * k + 1] = dy;
        tmp_[3 * k + 2] = dz;
        tmp_r_[k] = r2;
        tmp_atom_[k] = j;
        tmp_elem_[k] = s;
        bad |= (s >= 0) & ((r2 != r2) | (r2 < 1e-20));
        k += (s >= 0) & (r2 < rc2);
    }
    if (bad) report_bad_pair(atoms, nb, ii);
    n_ = k;
    {
        const int n = k;  // locals: the int stores below would otherwise reload n_ each time
        double* __restrict r = tmp_r_.data();
        const int* __restrict te = tmp_elem_.data();
        inside_.assign(ne, 0);
        if (ne == 1) {
            count_[0] = n;
        } else {
            std::fill(count_.begin(), count_.end(), 0);
            for (int a = 0; a < n; ++a) {
                ++count_[te[a]];
                inside_[te[a]] += r[a] < rm2;
            }
        }
        int inside = 0;
#pragma omp simd reduction(+ : inside)
        for (int a = 0; a < n; ++a) {
            inside += r[a] < rm2;
            r[a] = std::sqrt(r[a]);
        }
        n_in = inside;
        if (ne == 1) inside_[0] = inside;
    }
    // few triplets for the neighbours inside the moment cutoff: the triplet list is cheaper
    // than the moment tensors (ElementModel::choose, kTripletCostRatio)
    bool triplets = false;
    if (em_->choose) {
        if (em_->triplet_max_neighbors >= -1) {
            triplets = n_in <= em_->triplet_max_neighbors;
        } else {
            double pairs = 0.0, sides = 0.0;
            const std::vector<int>& mp = em_->moment_pairs;
            for (size_t q = 0; q + 1 < mp.size(); q += 2) {
                const double n1 = mp[q] < 0 ? n_in : inside_[mp[q]];
                const double n2 = mp[q + 1] < 0 ? n_in : inside_[mp[q + 1]];
                if (mp[q] == mp[q + 1]) {
                    pairs += 0.5 * n1 * (n1 - 1.0);
                    sides += n1;
                } else {
                    pairs += n1 * n2;
                    sides += n1 + n2;
                }
            }
            triplets = pairs <= kTripletCostRatio * sides;
        }
    }
    plan_ = triplets ? &em_->triplet_plan : &em_->plan;
    const ElementPlan& plan = *plan_;
    begin_[0] = 0;
    for (int e = 0; e < ne; ++e) begin_[e + 1] = begin_[e] + count_[e];
    for (auto* v : {&x_, &y_, &z_, &r_, &ir_, &ux_, &uy_, &uz_}) grow(*v, n_);
    grow(atom_, n_);
    // slot order: by element, and inside an element block by bucket of r between the radii
    // that split it (the moment groups' cutoffs below rc_max; split_radii), stably: the slots
    // of a block within such a cutoff are a prefix of it (the moment path runs over those
    // only). Without split radii the order is the neighbour list's.
    const SplitRadii& split = split_radii(species, triplets);
    const int nr = static_cast<int>(split.radii.size()), nbk = nr + 1;
    grow(order_, n_ + 16);
    if (nbk * ne == 1) {  // one element, no split radius: the list's order
        for (int a = 0; a < n_; ++a) order_[a] = a;
    } else {
        grow(key_, n_);
        bucket_.assign(static_cast<size_t>(ne) * nbk, 0);
        const int n = n_;
        const double* __restrict r = tmp_r_.data();
        const double* __restrict radii = split.radii.data();
        const int* __restrict te = tmp_elem_.data();
        int* __restrict key = key_.data();
        int* __restrict bucket = bucket_.data();
        int* __restrict order = order_.data();
        // bucket b = number of split radii <= r (ascending radii)
#pragma omp simd
        for (int a = 0; a < n; ++a) {
            int b = 0;
            for (int q = 0; q < nr; ++q) b += !(r[a] < radii[q]);
            key[a] = te[a] * nbk + b;
        }
        const int nq = ne * nbk;
        if (nq <= kCompressBuckets) {
            // few buckets (Si student: 2): one branch-free stable compress per bucket, no
            // counter read-modify-write chain; bucket[q] = its size (for ncut_ below)
            int pos = 0;
            for (int q = 0; q < nq; ++q) {
                const int p0 = pos;
                int a = 0;
#ifdef KIZUNA_AVX512_COMPRESS
                // 16 entries at a time: the matching indices compressed in a register, stored as
                // a full vector (order_ has 16 spare slots), the position advanced by their count
                const __m512i vq = _mm512_set1_epi32(q);
                const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
                for (; a < n; a += 16) {
                    const __mmask16 valid = n - a >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (n - a)) - 1u);
                    const __m512i kv = _mm512_maskz_loadu_epi32(valid, key + a);
                    const __mmask16 hit = _mm512_mask_cmpeq_epi32_mask(valid, kv, vq);
                    const __m512i idx = _mm512_add_epi32(_mm512_set1_epi32(a), lane);
                    _mm512_storeu_si512(order + pos, _mm512_maskz_compress_epi32(hit, idx));
                    pos += __builtin_popcount(hit);
                }
#endif
                for (; a < n; ++a) {
                    order[pos] = a;  // order_ has spare slots: the last write may land at n
                    pos += key[a] == q;
                }
                bucket[q] = pos - p0;
            }
        } else {
            for (int a = 0; a < n; ++a) ++bucket[key[a]];
            std::vector<int>& start = bucket_start_;
            start.assign(nq, 0);
            for (int q = 0, s = 0; q < nq; ++q) {
                start[q] = s;
                s += bucket[q];
            }
            for (int a = 0; a < n; ++a) order[start[key[a]]++] = a;
        }
    }
    {
        const int n = n_;
        const int* __restrict order = order_.data();
        const double* __restrict t = tmp_.data();
        const double* __restrict tr = tmp_r_.data();
        const int* __restrict ta = tmp_atom_.data();
        double* __restrict X = x_.data();
        double* __restrict Y = y_.data();
        double* __restrict Z = z_.data();
        double* __restrict R = r_.data();
        double* __restrict IR = ir_.data();
        double* __restrict UX = ux_.data();
        double* __restrict UY = uy_.data();
        double* __restrict UZ = uz_.data();
        int* __restrict A = atom_.data();
#pragma omp simd
        for (int s = 0; s < n; ++s) {
            const int a = order[s];
            const double dx = t[3 * a], dy = t[3 * a + 1], dz = t[3 * a + 2];
            const double r = tr[a];
            const double ir = 1.0 / r;
            X[s] = dx;
            Y[s] = dy;
            Z[s] = dz;
            R[s] = r;
            IR[s] = ir;
            UX[s] = dx * ir;
            UY[s] = dy * ir;
            UZ[s] = dz * ir;
            A[s] = ta[a];
        }
    }
    const size_t nc = plan.cutoffs.size();
    grow(fc_, nc * n_);
    grow(dfc_, nc * n_);
    // ncut_[c * ne + e]: slots of block e with r < rc of cutoff c, a prefix of the block for
    // a split cutoff; the whole block for the others (rc >= rc_max: slots at r >= rc, if any
    // after rounding, have fc = fc' = 0 exactly)
    grow(ncut_, nc * ne);
    // (a split cutoff's rc is split.radii[q]: its slots are buckets 0 .. q of the block)
    for (size_t c = 0; c < nc; ++c)
        for (int e = 0; e < ne; ++e) {
            int len = count_[e];
            const int q = split.split[c];
            if (q >= 0) {
                len = 0;
                for (int b = 0; b <= q; ++b) len += bucket_[e * nbk + b];
            }
            ncut_[c * ne + e] = len;
        }
    for (size_t c = 0; c < nc; ++c) {
        const CutoffFunction& cut = plan.cutoffs[c];
        double* __restrict fc = fc_.data() + c * n_;
        double* __restrict dfc = dfc_.data() + c * n_;
        const double* __restrict r = r_.data();
        const int n = n_;
        dispatch_cutoff(cut.kind, [&](auto tag) {
            constexpr CutoffKind K = decltype(tag)::value;
#pragma omp simd
            for (int s = 0; s < n; ++s) cutoff_fdf_t<K>(cut, r[s], fc[s], dfc[s]);
        });
        // weighted_radial: fc and fc' of neighbour j carry its element's weight w_c(Z_j)
        const int channel = plan.cutoff_channel[c];
        if (channel >= 0) {
            const int k_ch = model_.num_channels;
            for (int e = 0; e < ne; ++e) {
                const double w = model_.channel_weights[static_cast<size_t>(e) * k_ch + channel];
                for (int s = begin_[e]; s < begin_[e + 1]; ++s) {
                    fc[s] *= w;
                    dfc[s] *= w;
                }
            }
        }
    }

    // weights of every channel per slot, w_[c * n + slot] (weighted angular groups)
    const int k_ch = model_.num_channels;
    if (k_ch > 0) {
        grow(w_, static_cast<size_t>(k_ch) * n_);
        for (int c = 0; c < k_ch; ++c)
            for (int e = 0; e < ne; ++e) {
                const double w = model_.channel_weights[static_cast<size_t>(e) * k_ch + c];
                for (int s = begin_[e]; s < begin_[e + 1]; ++s) w_[static_cast<size_t>(c) * n_ + s] = w;
            }
    }
}

// ------------------------------------------------------------------------------------ values
void AtomKernel::values() {
    std::fill(G_.begin(), G_.begin() + n_features_, 0.0);
    const ElementPlan& plan = *plan_;
    // the kept radial exponentials: group r at rad_off_[r], members x pad8(its block)
    rad_off_.resize(plan.radial.size() + 1);
    rad_off_[0] = 0;
    for (size_t r = 0; r < plan.radial.size(); ++r) {
        const RadialGroup& g = plan.radial[r];
        rad_off_[r + 1] = rad_off_[r] + g.out.size() * pad8(static_cast<size_t>(hi(g.neighbor) - lo(g.neighbor)));
    }
    grow(rad_ex_, rad_off_.back());
    for (size_t r = 0; r < plan.radial.size(); ++r) radial_values(plan.radial[r], static_cast<int>(r));
    for (const CompactRadialGroup& g : plan.compact_radial) compact_radial_values(g);
    pair_offset_.resize(plan.angular.size());
    size_t total = 0;
    for (size_t gi = 0; gi < plan.angular.size(); ++gi) {
        pair_offset_[gi] = total;
        total += plan.angular[gi].term_eta.size() * n_;
    }
    grow(ex_, total);
    regions_.resize(plan.angular.size());
    // moment groups: monomials of the unit vectors up to the largest degree, and per group the
    // a_t(r_j) arrays and the moment tensors of both sides (offsets fixed before any is written)
    int degree = -1;
    size_t mom_total = 0;
    mom_a_.resize(plan.angular.size());
    mom_share_.resize(plan.angular.size());
    mom_m_.resize(plan.angular.size());
    for (size_t gi = 0; gi < plan.angular.size(); ++gi) {
        const AngularGroup& g = plan.angular[gi];
        if (!g.moments && !g.pairs) continue;
        if (g.moments) degree = std::max(degree, g.degree);
        // a_t and a_t' of both sides, 4 nt (pad8(n) + 8); shared with an earlier group of the
        // same elements, cutoff and terms (the moment and pair halves of one wide group)
        mom_share_[gi] = -1;
        for (size_t h = 0; h < gi && mom_share_[gi] < 0; ++h) {
            const AngularGroup& o = plan.angular[h];
            if ((o.moments || o.pairs) && mom_share_[h] < 0 && o.e1 == g.e1 && o.e2 == g.e2 &&
                o.cutoff == g.cutoff && o.term_eta == g.term_eta && o.term_rs == g.term_rs)
                mom_share_[gi] = static_cast<int>(h);
        }
        if (mom_share_[gi] >= 0) {
            mom_a_[gi] = mom_a_[mom_share_[gi]];
        } else {
            mom_a_[gi] = mom_total;
            mom_total += 4 * g.term_eta.size() * (pad8(n_) + 8);
        }
        mom_m_[gi] = mom_total;  // moments of both sides: 2 nt K (weighted: moment_storage)
        mom_total += moment_storage(g);
    }
    grow(mom_, mom_total);
    if (degree >= 0) moment_monomials(degree);
    for (size_t gi = 0; gi < plan.angular.size(); ++gi) {
        if (plan.angular[gi].moments)
            moment_values(plan.angular[gi], static_cast<int>(gi));
        else if (plan.angular[gi].pairs)
            pair_values(plan.angular[gi], static_cast<int>(gi));
        else
            angular_values(plan.angular[gi], static_cast<int>(gi));
    }
    for (const CompactAngularGroup& g : plan.compact_angular) {
        if (g.narrow)
            compact_narrow_values(g);
        else
            compact_angular_values(g);
    }
}

// G_s = sum_j exp(-eta (r_j - rs)^2) fc(r_j)   (fc = 0 beyond rc: no branch needed)
// In tiles of 8 slots of the group's block (the last one masked: fc = 0, r = 0 in the lanes past
// the block), every member's lane sums in its own accumulator (tree-reduced at the end). The
// exponentials E_s(r_j) are kept (rad_ex_, [s * L + l], L = pad8(block)) for radial_adjoint.
void AtomKernel::radial_values(const RadialGroup& g, int gi) {
    const double* __restrict fc = fc_.data() + static_cast<size_t>(g.cutoff) * n_;
    const double* __restrict r = r_.data();
    const int b0 = lo(g.neighbor), b1 = hi(g.neighbor);
    const int M = static_cast<int>(g.out.size());
    const int L = static_cast<int>(pad8(static_cast<size_t>(b1 - b0)));
    double* __restrict E = rad_ex_.data() + rad_off_[gi];
    grow(rad_acc_, 8 * static_cast<size_t>(M));
    double* __restrict acc = rad_acc_.data();
    std::fill(acc, acc + 8 * static_cast<size_t>(M), 0.0);
    for (int l0 = 0; l0 < L; l0 += 8) {
        double rr[8], ff[8];
#pragma omp simd
        for (int l = 0; l < 8; ++l) {
            const int j = b0 + l0 + l;
            const bool in = j < b1;
            rr[l] = in ? r[j] : 0.0;
            ff[l] = in ? fc[j] : 0.0;
        }
        if (g.chain) {  // E_{m+1} = E_m q c_m (RadialGroup::chain)
            double x[8], q[8];
            const double eta = g.eta[0], rs0 = g.rs[0], k = g.chain_k;
#pragma omp simd
            for (int l = 0; l < 8; ++l) {
                const double d0 = rr[l] - rs0;
                x[l] = kz_exp(-eta * d0 * d0);
                q[l] = kz_exp(k * d0);
            }
            for (int m = 0; m < M; ++m) {
                double* __restrict e = E + static_cast<size_t>(m) * L + l0;
                double* __restrict a = acc + 8 * m;
                const double c = m + 1 < M ? g.chain_c[m] : 0.0;
#pragma omp simd
                for (int l = 0; l < 8; ++l) {
                    e[l] = x[l];
                    a[l] += x[l] * ff[l];
                    x[l] = x[l] * q[l] * c;
                }
            }
            continue;
        }
        for (int m = 0; m < M; ++m) {
            const double eta = g.eta[m], rs = g.rs[m];
            double* __restrict e = E + static_cast<size_t>(m) * L + l0;
            double* __restrict a = acc + 8 * m;
#pragma omp simd
            for (int l = 0; l < 8; ++l) {
                const double x = gaussian(eta, rs, rr[l]);
                e[l] = x;
                a[l] += x * ff[l];
            }
        }
    }
    for (int m = 0; m < M; ++m) {
        const double* v = acc + 8 * m;
        G_[g.out[m]] += ((v[0] + v[4]) + (v[2] + v[6])) + ((v[1] + v[5]) + (v[3] + v[7]));
    }
}

// G_s = sum_j [w_c(Z_j)] C(r_j)
void AtomKernel::compact_radial_values(const CompactRadialGroup& g) {
    for (int j = lo(g.neighbor); j < hi(g.neighbor); ++j) {
        const double w = weight(g.channel, j);
        for (size_t m = 0; m < g.out.size(); ++m) {
            double f, df;
            compact_fdf(g.fn[m], r_[j], f, df);
            G_[g.out[m]] += w * f;
        }
    }
}

// the triplet region of angular group gi (T triplets) after those of the groups before it
void AtomKernel::place_region(int gi, size_t T) {
    Region& reg = regions_[gi];
    reg.T = T;
    reg.stride = pad8(T);
    if (gi == 0) {
        reg.ints = reg.doubles = 0;
    } else {
        const Region& prev = regions_[gi - 1];
        const AngularGroup& pg = plan_->angular[gi - 1];
        reg.ints = prev.ints + 2 * prev.stride;
        reg.doubles = prev.doubles +
                      (kFixed + pg.term_eta.size() + 2 * pg.fac_zeta.size() + pg.channels.size()) * prev.stride;
    }
}

// Narrow:  G_s = sum_{j<k} A_s(c) E_s(r_j) E_s(r_k) E_s(r_jk) fc(r_j) fc(r_k) fc(r_jk)
// Wide:    the same without E_s(r_jk) fc(r_jk)
// with A_s(c) = 2^(1-zeta) (1 + lambda c)^zeta and E_s(r) = exp(-eta (r - rs)^2).
void AtomKernel::angular_values(const AngularGroup& g, int gi) {
    const int nt = static_cast<int>(g.term_eta.size());
    const int nf = static_cast<int>(g.fac_zeta.size());
    const double rc = g.rc, rc2 = rc * rc;
    const CutoffFunction& cut = plan_->cutoffs[g.cutoff];
    const double* __restrict fc = fc_.data() + static_cast<size_t>(g.cutoff) * n_;
    const double* __restrict r = r_.data();
    double* __restrict ex = ex_.data() + pair_offset_[gi];
    // slots inside rc: a prefix of each element block when rc is below rc_max (split_radii)
    const int b1s = lo(g.e1), b1e = hi_in(g.e1, g.cutoff), b2s = lo(g.e2), b2e = hi_in(g.e2, g.cutoff);
    const bool same = g.e1 == g.e2;

    // exponential terms exp(-eta_t (r_j - rs_t)^2) of the slots of both elements (narrow groups
    // with one shift form the triplet's exponential from s instead)
    const int passes = g.common_shift ? 0 : (same ? 1 : 2);
    for (int pass = 0; pass < passes; ++pass) {
        const int s0 = pass == 0 ? b1s : b2s, s1 = pass == 0 ? b1e : b2e;
        for (int t = 0; t < nt; ++t) {
            const double eta = g.term_eta[t], rs = g.term_rs[t];
            double* __restrict e = ex + static_cast<size_t>(t) * n_;
#pragma omp simd
            for (int j = s0; j < s1; ++j) e[j] = gaussian(eta, rs, r[j]);
        }
    }

    // compacted triplet list: both legs inside rc and, for narrow groups, r_jk < rc. Narrow
    // groups also keep, per accepted candidate, c = u_j . u_k, fc(r_j) fc(r_k) and
    // (r_j - rs)^2 + (r_k - rs)^2 from the contiguous k loads here (no gathers later).
    const size_t upper = static_cast<size_t>(b1e - b1s) * static_cast<size_t>(b2e - b2s) + 16;
    grow(cand_j_, upper);
    grow(cand_k_, upper);
    grow(cand_r2_, upper);
    if (g.narrow) {
        grow(cand_c_, upper);
        grow(cand_f2_, upper);
        grow(cand_s_, upper);
    }
    const double* __restrict ux = ux_.data();
    const double* __restrict uy = uy_.data();
    const double* __restrict uz = uz_.data();
    const double rs0 = g.term_rs.empty() ? 0.0 : g.term_rs[0];
    size_t T = 0;
    auto build = [&](auto narrow_tag) {
        constexpr bool kNarrow = decltype(narrow_tag)::value;
        int* __restrict cj = cand_j_.data();
        int* __restrict ck = cand_k_.data();
        double* __restrict cr2 = cand_r2_.data();
        double* __restrict cc = cand_c_.data();
        double* __restrict cf2 = cand_f2_.data();
        double* __restrict cs = cand_s_.data();
        const double rjk_limit = kNarrow ? rc2 : HUGE_VAL;
        for (int j = b1s; j < b1e; ++j) {
            if (r[j] >= rc) continue;
            const double xj = x_[j], yj = y_[j], zj = z_[j];
            const double uxj = ux[j], uyj = uy[j], uzj = uz[j], fcj = fc[j];
            const double dj2 = (r[j] - rs0) * (r[j] - rs0);
            int k = same ? j + 1 : b2s;
#ifdef KIZUNA_AVX512_COMPRESS
            // 8 candidates at a time: compress the accepted ones in registers (compress to
            // memory is slow on some CPUs), store full vectors; the buffers have 16 spare slots
            const __m512d vxj = _mm512_set1_pd(xj), vyj = _mm512_set1_pd(yj), vzj = _mm512_set1_pd(zj);
            const __m512d vrc = _mm512_set1_pd(rc), vlim = _mm512_set1_pd(rjk_limit);
            const __m256i vj = _mm256_set1_epi32(j), lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
            // the last chunk with masked loads (lanes past b2e are not read and not kept)
            for (; k < b2e; k += 8) {
                const __mmask8 in = b2e - k >= 8 ? __mmask8(0xff) : __mmask8((1u << (b2e - k)) - 1u);
                const __m512d dx = _mm512_sub_pd(_mm512_maskz_loadu_pd(in, x_.data() + k), vxj);
                const __m512d dy = _mm512_sub_pd(_mm512_maskz_loadu_pd(in, y_.data() + k), vyj);
                const __m512d dz = _mm512_sub_pd(_mm512_maskz_loadu_pd(in, z_.data() + k), vzj);
                const __m512d d2 = _mm512_fmadd_pd(dz, dz, _mm512_fmadd_pd(dy, dy, _mm512_mul_pd(dx, dx)));
                const __m512d rk = _mm512_maskz_loadu_pd(in, r + k);
                const __mmask8 keep = in & _mm512_cmp_pd_mask(rk, vrc, _CMP_LT_OQ) &
                                      _mm512_cmp_pd_mask(d2, vlim, _CMP_LT_OQ);
                const __m256i vk = _mm256_add_epi32(_mm256_set1_epi32(k), lane);
                _mm256_storeu_si256(reinterpret_cast<__m256i*>(ck + T), _mm256_maskz_compress_epi32(keep, vk));
                _mm256_storeu_si256(reinterpret_cast<__m256i*>(cj + T), vj);
                _mm512_storeu_pd(cr2 + T, _mm512_maskz_compress_pd(keep, d2));
                if constexpr (kNarrow) {
                    const __m512d c = _mm512_fmadd_pd(
                        _mm512_set1_pd(uzj), _mm512_maskz_loadu_pd(in, uz + k),
                        _mm512_fmadd_pd(_mm512_set1_pd(uyj), _mm512_maskz_loadu_pd(in, uy + k),
                                        _mm512_mul_pd(_mm512_set1_pd(uxj), _mm512_maskz_loadu_pd(in, ux + k))));
                    const __m512d f2 = _mm512_mul_pd(_mm512_set1_pd(fcj), _mm512_maskz_loadu_pd(in, fc + k));
                    const __m512d dk = _mm512_sub_pd(rk, _mm512_set1_pd(rs0));
                    const __m512d s0 = _mm512_fmadd_pd(dk, dk, _mm512_set1_pd(dj2));
                    _mm512_storeu_pd(cc + T, _mm512_maskz_compress_pd(keep, c));
                    _mm512_storeu_pd(cf2 + T, _mm512_maskz_compress_pd(keep, f2));
                    _mm512_storeu_pd(cs + T, _mm512_maskz_compress_pd(keep, s0));
                }
                T += static_cast<size_t>(__builtin_popcount(keep));
            }
#endif
            for (; k < b2e; ++k) {
                const double dx = x_[k] - xj, dy = y_[k] - yj, dz = z_[k] - zj;
                const double rjk2 = dx * dx + dy * dy + dz * dz;
                cj[T] = j;
                ck[T] = k;
                cr2[T] = rjk2;
                if constexpr (kNarrow) {
                    cc[T] = uxj * ux[k] + uyj * uy[k] + uzj * uz[k];
                    cf2[T] = fcj * fc[k];
                    const double dk = r[k] - rs0;
                    cs[T] = dk * dk + dj2;
                }
                T += (r[k] < rc) && (rjk2 < rjk_limit);
            }
        }
    };
    if (g.narrow)
        build(std::true_type{});
    else
        build(std::false_type{});
    place_region(gi, T);
    const Region& reg = regions_[gi];
    const int nch = static_cast<int>(g.channels.size());
    grow(tint_, reg.ints + 2 * reg.stride);
    grow(tdbl_, reg.doubles + (kFixed + nt + 2 * nf + nch) * reg.stride);
    const size_t S = reg.stride;
    int* __restrict tj = tint_.data() + reg.ints;
    int* __restrict tk = tj + S;
    double* __restrict base = tdbl_.data() + reg.doubles;
    double* __restrict tc = base + kC * S;
    double* __restrict trjk = base + kRjk * S;
    double* __restrict tfc = base + kFcjk * S;
    double* __restrict tdfc = base + kDfcjk * S;
    double* __restrict tfc3 = base + kFc3 * S;
    double* __restrict E = base + kFixed * S;
    double* __restrict A = E + nt * S;
    double* __restrict dA = A + nf * S;
    double* __restrict Wch = dA + nf * S;  // weighted groups: w_c(Z_j) w_c(Z_k) per channel
    std::copy(cand_j_.begin(), cand_j_.begin() + T, tj);
    std::copy(cand_k_.begin(), cand_k_.begin() + T, tk);
    const double* __restrict cr2 = cand_r2_.data();
    const int nT = static_cast<int>(T);

    // per-triplet geometry and the r_jk cutoff; s = (r_j-rs)^2 + (r_k-rs)^2 + (r_jk-rs)^2
    if (g.narrow) {
        const double* __restrict cc = cand_c_.data();
        const double* __restrict cf2 = cand_f2_.data();
        double* __restrict cs = cand_s_.data();
        dispatch_cutoff(cut.kind, [&](auto tag) {
            constexpr CutoffKind K = decltype(tag)::value;
#pragma omp simd
            for (int q = 0; q < nT; ++q) {
                tc[q] = cc[q];
                const double rjk = std::sqrt(cr2[q]);
                trjk[q] = rjk;
                double f, df;
                cutoff_fdf_t<K>(cut, rjk, f, df);
                tfc[q] = f;
                tdfc[q] = df;
                tfc3[q] = cf2[q] * f;
                const double djk = rjk - rs0;
                cs[q] += djk * djk;
            }
        });
        fill_short(cs + T, S - T, 0.0);  // the tiles below read the padding: E = 1 there
    } else {
        // run by run of equal j; consecutive k (every neighbour inside rc) load without gathers.
        // The exponential products E_t = ex_t(r_j) ex_t(r_k) of every term are formed in the
        // same pass (ex_t(r_j) is one number per run; one run scan for all terms)
        for (int q = 0; q < nT;) {
            const int j = tj[q];
            int qe = q + 1;
            while (qe < nT && tj[qe] == j) ++qe;
            const double uxj = ux[j], uyj = uy[j], uzj = uz[j], fcj = fc[j];
            if (tk[qe - 1] - tk[q] == qe - 1 - q) {
                const int d = tk[q] - q;
#pragma omp simd
                for (int p = q; p < qe; ++p) {
                    tc[p] = uxj * ux[p + d] + uyj * uy[p + d] + uzj * uz[p + d];
                    trjk[p] = 0.0;
                    tfc[p] = 1.0;
                    tdfc[p] = 0.0;
                    tfc3[p] = fcj * fc[p + d];
                }
                for (int t = 0; t < nt; ++t) {
                    const double* __restrict e = ex + static_cast<size_t>(t) * n_;
                    const double* __restrict ek = e + d;
                    double* __restrict Et = E + t * S;
                    const double ej = e[j];
#pragma omp simd
                    for (int p = q; p < qe; ++p) Et[p] = ej * ek[p];
                }
            } else {
#pragma omp simd
                for (int p = q; p < qe; ++p) {
                    const int k = tk[p];
                    tc[p] = uxj * ux[k] + uyj * uy[k] + uzj * uz[k];
                    trjk[p] = 0.0;
                    tfc[p] = 1.0;
                    tdfc[p] = 0.0;
                    tfc3[p] = fcj * fc[k];
                }
                for (int t = 0; t < nt; ++t) {
                    const double* __restrict e = ex + static_cast<size_t>(t) * n_;
                    double* __restrict Et = E + t * S;
                    const double ej = e[j];
#pragma omp simd
                    for (int p = q; p < qe; ++p) Et[p] = ej * e[tk[p]];
                }
            }
            q = qe;
        }
    }
    for (int c = 0; c < nch; ++c) {
        const double* __restrict w = w_.data() + static_cast<size_t>(g.channels[c]) * n_;
        double* __restrict Wc = Wch + c * S;
#pragma omp simd
        for (int q = 0; q < nT; ++q) Wc[q] = w[tj[q]] * w[tk[q]];
    }
    // narrow: E_t = exp(-eta_t s) (one shift), from one exponential where the etas are integer
    // multiples (E_t = E_base^n_t, powers by squaring in tiles of 8), else per term
    // E_t = ex_t(r_j) ex_t(r_k) ex_t(r_jk). Wide: above.
    if (g.narrow && !g.term_pow.empty()) {
        const double* __restrict cs = cand_s_.data();
        const int b = g.pow_base;
        double* __restrict Eb = E + b * S;
        const double meta = -g.term_eta[b];
#pragma omp simd
        for (int q = 0; q < nT; ++q) Eb[q] = kz_exp(meta * cs[q]);
        fill_short(Eb + T, S - T, 1.0);
        int top = 0;  // highest bit of any power
        for (int n : g.term_pow) top = std::max(top, 31 - __builtin_clz(static_cast<unsigned>(n)));
        for (int q0 = 0; q0 < nT; q0 += 8) {
            static_assert(kMaxEtaPower <= 32, "p[] holds E_base^(2^i) up to i = 5");
            V8 p[6];  // E_base^(2^i)
            p[0] = ld(Eb + q0);
            for (int i = 1; i <= top; ++i) p[i] = p[i - 1] * p[i - 1];
            for (int t = 0; t < nt; ++t) {
                const int n = g.term_pow[t];
                if (t == b) continue;
                int i = __builtin_ctz(static_cast<unsigned>(n));
                V8 e = p[i];
                for (++i; i <= top; ++i)
                    if (n >> i & 1) e = e * p[i];
                st(E + t * S + q0, e);
            }
        }
    } else if (g.narrow && g.common_shift) {
        const double* __restrict cs = cand_s_.data();
        for (int t = 0; t < nt; ++t) {
            const double meta = -g.term_eta[t];
            double* __restrict Et = E + t * S;
#pragma omp simd
            for (int q = 0; q < nT; ++q) Et[q] = kz_exp(meta * cs[q]);
        }
    } else if (g.narrow)
        for (int t = 0; t < nt; ++t) {
            const double eta = g.term_eta[t], rs = g.term_rs[t];
            const double* __restrict e = ex + static_cast<size_t>(t) * n_;
            double* __restrict Et = E + t * S;
#pragma omp simd
            for (int q = 0; q < nT; ++q) Et[q] = e[tj[q]] * e[tk[q]] * gaussian(eta, rs, trjk[q]);
        }
    // angular factors A = p 2^(1-zeta) (1 + lambda c)^zeta, dA/dc
    for (int a = 0; a < nf; ++a) {
        const double zeta = g.fac_zeta[a], lambda = g.fac_lambda[a], pref = g.fac_prefactor[a];
        const int izeta = g.fac_izeta[a];
        double* __restrict Aa = A + a * S;
        double* __restrict dAa = dA + a * S;
        if (izeta >= 1) {
            // base^(zeta-1) by repeated squaring, in tiles of 8 triplets held in registers (the
            // arrays are padded to a multiple of 8)
            const double dpref = pref * zeta * lambda;
            const V8 one = simd8::splat(1.0);
            for (int q0 = 0; q0 < nT; q0 += 8) {
                V8 At, dAt;
                angular_factor_int(1.0 + lambda * ld(tc + q0), one, izeta, pref, dpref, At, dAt);
                st(Aa + q0, At);
                st(dAa + q0, dAt);
            }
        } else {
            for (int q = 0; q < nT; ++q) angular_factor(tc[q], zeta, -1, lambda, pref, Aa[q], dAa[q]);
        }
    }
    // padding T .. S of every per-triplet array: valid slot indices and finite values (the
    // adjoint works in tiles of 8 triplets and discards the padding's results)
    for (size_t q = T; q < S; ++q) tj[q] = tk[q] = 0;
    for (size_t a = 0; a < static_cast<size_t>(kFixed + nt + 2 * nf + nch); ++a) fill_short(base + a * S + T, S - T, 0.0);
    fill_short(trjk + T, S - T, 1.0);  // S - T < 8 (place_region: S = pad8(T))
    // G_s += sum_q A_a(s)[q] E_t(s)[q] fc3[q] [W_c(s)[q]], up to 8 members of one term at a
    // time (independent accumulators; E_t and fc3 loaded once for all of them)
    const size_t nm = g.out.size();
    for (size_t m = 0; m < nm;) {
        size_t K = 1;
        while (K < 8 && m + K < nm && g.term[m + K] == g.term[m]) ++K;
        if (K >= 8) K = 8; else if (K >= 4) K = 4; else if (K >= 2) K = 2;
        const double* Aa[8];
        const double* Wc[8];
        for (size_t i = 0; i < K; ++i) {
            Aa[i] = A + g.fac[m + i] * S;
            Wc[i] = nch ? Wch + g.chan[m + i] * S : nullptr;
        }
        const double* Et = E + g.term[m] * S;
        double acc[8];
        switch (K) {
            case 8: term_sums<8>(Aa, Et, tfc3, Wc, nch > 0, nT, acc); break;
            case 4: term_sums<4>(Aa, Et, tfc3, Wc, nch > 0, nT, acc); break;
            case 2: term_sums<2>(Aa, Et, tfc3, Wc, nch > 0, nT, acc); break;
            default: term_sums<1>(Aa, Et, tfc3, Wc, nch > 0, nT, acc); break;
        }
        for (size_t i = 0; i < K; ++i) G_[g.out[m + i]] += acc[i];
        m += K;
    }
}

// G_s = sum_{j<k} C_r(r_j) C_r(r_k) C_a(theta), theta = acos(c) (n2p2 type 22)
void AtomKernel::compact_angular_values(const CompactAngularGroup& g) {
    const bool same = g.e1 == g.e2;
    for (int j = lo(g.e1); j < hi(g.e1); ++j) {
        if (r_[j] >= g.rc) continue;
        for (int k = same ? j + 1 : lo(g.e2); k < hi(g.e2); ++k) {
            if (r_[k] >= g.rc) continue;
            double c, theta, dtheta_dc;
            bump_angle(cosine(j, k), c, theta, dtheta_dc);
            const double w = weight(g.channel, j) * weight(g.channel, k);
            for (size_t m = 0; m < g.out.size(); ++m) {
                double fj, dfj, fk, dfk, fa, dfa;
                compact_fdf(g.radial[m], r_[j], fj, dfj);
                if (fj == 0.0) continue;
                compact_fdf(g.radial[m], r_[k], fk, dfk);
                compact_fdf(g.angular[m], theta, fa, dfa);
                G_[g.out[m]] += w * fj * fk * fa;
            }
        }
    }
}

// G_s = sum_{j<k} [w_c(Z_j) w_c(Z_k)] C_r(r_j) C_r(r_k) C_r(r_jk) C_a(theta) (n2p2 types 21, 24);
// triplets with r_jk >= rc (the group's largest) do not contribute (n2p2 skips them likewise)
void AtomKernel::compact_narrow_values(const CompactAngularGroup& g) {
    const bool same = g.e1 == g.e2;
    for (int j = lo(g.e1); j < hi(g.e1); ++j) {
        if (r_[j] >= g.rc) continue;
        for (int k = same ? j + 1 : lo(g.e2); k < hi(g.e2); ++k) {
            if (r_[k] >= g.rc) continue;
            const double djk[3] = {x_[k] - x_[j], y_[k] - y_[j], z_[k] - z_[j]};
            const double r2jk = djk[0] * djk[0] + djk[1] * djk[1] + djk[2] * djk[2];
            if (!(r2jk < g.rc * g.rc)) continue;
            const double rjk = std::sqrt(r2jk);
            double c, theta, dtheta_dc;
            bump_angle(cosine(j, k), c, theta, dtheta_dc);
            const double w = weight(g.channel, j) * weight(g.channel, k);
            for (size_t m = 0; m < g.out.size(); ++m) {
                double fj, dfj, fk, dfk, fjk, dfjk, fa, dfa;
                compact_fdf(g.radial[m], r_[j], fj, dfj);
                if (fj == 0.0) continue;
                compact_fdf(g.radial[m], r_[k], fk, dfk);
                compact_fdf(g.radial[m], rjk, fjk, dfjk);
                compact_fdf(g.angular[m], theta, fa, dfa);
                G_[g.out[m]] += w * fj * fk * fjk * fa;
            }
        }
    }
}

// ----------------------------------------------------------------------------------- adjoint
void AtomKernel::adjoint(const double* beta, int channel) {
    const size_t need = static_cast<size_t>(channel + 1) * n_;
    for (auto* v : {&gx_, &gy_, &gz_}) {
        if (v->size() < need) v->resize(need + need / 4 + 64);  // keeps earlier blocks
        std::fill(v->begin() + static_cast<size_t>(channel) * n_, v->begin() + need, 0.0);
    }
    out_x_ = gx_.data() + static_cast<size_t>(channel) * n_;
    out_y_ = gy_.data() + static_cast<size_t>(channel) * n_;
    out_z_ = gz_.data() + static_cast<size_t>(channel) * n_;
    const ElementPlan& plan = *plan_;
    for (size_t r = 0; r < plan.radial.size(); ++r) radial_adjoint(plan.radial[r], static_cast<int>(r), beta);
    for (const CompactRadialGroup& g : plan.compact_radial) compact_radial_adjoint(g, beta);
    for (size_t gi = 0; gi < plan.angular.size(); ++gi) {
        if (plan.angular[gi].moments)
            moment_adjoint(plan.angular[gi], static_cast<int>(gi), beta);
        else if (plan.angular[gi].pairs)
            pair_adjoint(plan.angular[gi], static_cast<int>(gi), beta);
        else if (plan.angular[gi].narrow && plan.angular[gi].common_shift)
            narrow_adjoint(plan.angular[gi], static_cast<int>(gi), beta);
        else
            angular_adjoint(plan.angular[gi], static_cast<int>(gi), beta);
    }
    for (const CompactAngularGroup& g : plan.compact_angular) {
        if (g.narrow)
            compact_narrow_adjoint(g, beta);
        else
            compact_angular_adjoint(g, beta);
    }
}

void AtomKernel::average_channels(int channels, int target) {
    const size_t n = n_, need = static_cast<size_t>(target + 1) * n;
    for (auto* v : {&gx_, &gy_, &gz_}) {
        if (v->size() < need) v->resize(need + need / 4 + 64);
        double* g = v->data();
        for (size_t s = 0; s < n; ++s) {
            double sum = 0.0;
            for (int c = 0; c < channels; ++c) sum += g[c * n + s];
            g[target * n + s] = sum / channels;
        }
    }
}

// dE/dr_j = sum_s beta_s E_s(r_j) (fc'(r_j) - 2 eta_s (r_j - rs_s) fc(r_j)), E_s(r_j) as kept
// by radial_values (no exponential here)
void AtomKernel::radial_adjoint(const RadialGroup& g, int gi, const double* beta) {
    const double* __restrict fc = fc_.data() + static_cast<size_t>(g.cutoff) * n_;
    const double* __restrict dfc = dfc_.data() + static_cast<size_t>(g.cutoff) * n_;
    const double* __restrict r = r_.data();
    const int b0 = lo(g.neighbor), b1 = hi(g.neighbor);
    const int M = static_cast<int>(g.out.size());
    const int L = static_cast<int>(pad8(static_cast<size_t>(b1 - b0)));
    const double* __restrict E = rad_ex_.data() + rad_off_[gi];
    grow(dEdr_, static_cast<size_t>(L));
    double* __restrict dEdr = dEdr_.data();
    for (int l0 = 0; l0 < L; l0 += 8) {
        double rr[8], ff[8], dd[8], acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
#pragma omp simd
        for (int l = 0; l < 8; ++l) {
            const int j = b0 + l0 + l;
            const bool in = j < b1;
            rr[l] = in ? r[j] : 0.0;
            ff[l] = in ? fc[j] : 0.0;
            dd[l] = in ? dfc[j] : 0.0;
        }
        for (int m = 0; m < M; ++m) {
            const double b = beta[g.out[m]], eta = g.eta[m], rs = g.rs[m];
            const double* __restrict e = E + static_cast<size_t>(m) * L + l0;
#pragma omp simd
            for (int l = 0; l < 8; ++l) {
                const double d = rr[l] - rs;
                acc[l] += b * e[l] * (dd[l] - 2.0 * eta * d * ff[l]);
            }
        }
#pragma omp simd
        for (int l = 0; l < 8; ++l) dEdr[l0 + l] = acc[l];
    }
#pragma omp simd
    for (int j = b0; j < b1; ++j) {
        out_x_[j] += dEdr[j - b0] * ux_[j];
        out_y_[j] += dEdr[j - b0] * uy_[j];
        out_z_[j] += dEdr[j - b0] * uz_[j];
    }
}

void AtomKernel::compact_radial_adjoint(const CompactRadialGroup& g, const double* beta) {
    for (int j = lo(g.neighbor); j < hi(g.neighbor); ++j) {
        double dEdr = 0.0;
        for (size_t m = 0; m < g.out.size(); ++m) {
            double f, df;
            compact_fdf(g.fn[m], r_[j], f, df);
            dEdr += beta[g.out[m]] * df;
        }
        dEdr *= weight(g.channel, j);
        out_x_[j] += dEdr * ux_[j];
        out_y_[j] += dEdr * uy_[j];
        out_z_[j] += dEdr * uz_[j];
    }
}

AtomKernel::TripletArrays AtomKernel::triplet_arrays(const AngularGroup& g, int gi) const {
    const Region& reg = regions_[gi];
    TripletArrays a;
    a.nT = static_cast<int>(reg.T);
    a.nt = static_cast<int>(g.term_eta.size());
    a.nf = static_cast<int>(g.fac_zeta.size());
    a.nch = static_cast<int>(g.channels.size());
    a.S = reg.stride;
    a.j = tint_.data() + reg.ints;
    a.k = a.j + a.S;
    const double* base = tdbl_.data() + reg.doubles;
    a.c = base + kC * a.S;
    a.rjk = base + kRjk * a.S;
    a.fcjk = base + kFcjk * a.S;
    a.dfcjk = base + kDfcjk * a.S;
    a.fc3 = base + kFc3 * a.S;
    a.E = base + kFixed * a.S;
    a.A = a.E + a.nt * a.S;
    a.dA = a.A + a.nf * a.S;
    a.W = a.dA + a.nf * a.S;
    return a;
}

void AtomKernel::member_coefficients(const AngularGroup& g, size_t S, const double* beta) {
    const int nm = static_cast<int>(g.out.size());
    grow(mcoef_, nm);
    grow(moff_, nm);
    for (int m = 0; m < nm; ++m) {
        mcoef_[m] = beta[g.out[m]];
        moff_[m] = static_cast<size_t>(g.fac[m]) * S;
    }
}

namespace {
// W_t = sum_{s in term t} beta_s A_s [w_c] and St = sum_s beta_s A'_s [w_c] for the tile of 8
// triplets at q0 (mb, mo: member_coefficients)
template <class TripletArrays>  // AtomKernel::TripletArrays
inline void term_weights(const AngularGroup& g, const TripletArrays& a, const double* __restrict mb,
                         const size_t* __restrict mo, int t, int q0, V8& W, V8& St) {
    W = simd8::splat(0.0);
    St = W;
    for (int m = g.term_first[t]; m < g.term_first[t + 1]; ++m) {
        const double b = mb[m];
        if (a.nch) {  // weighted: the triplet weight w_c(Z_j) w_c(Z_k) of the member's channel
            const V8 Wc = ld(a.W + g.chan[m] * a.S + q0);
            W += b * ld(a.A + mo[m] + q0) * Wc;
            St += b * ld(a.dA + mo[m] + q0) * Wc;
        } else {
            W += b * ld(a.A + mo[m] + q0);
            St += b * ld(a.dA + mo[m] + q0);
        }
    }
}
}  // namespace

// Per triplet, with W_t = sum_{s in term t} beta_s A_s, E_t = ex_t(r_j) ex_t(r_k) [ex_t(r_jk)]:
//   g_j  = dE/dr_j  = -fc3 sum_t W_t E_t 2 eta_t (r_j - rs_t) + fc'(r_j) fc(r_k) fc(r_jk) sum_t W_t E_t
//   g_jk = dE/dr_jk (narrow) likewise,  g_c = dE/dc = fc3 sum_t E_t sum_{s in t} beta_s A'_s
// grad_j += g_j u_j + g_c (u_k - c u_j)/r_j - g_jk u_jk, grad_k += g_k u_k + g_c (u_j - c u_k)/r_k + g_jk u_jk.
void AtomKernel::angular_adjoint(const AngularGroup& g, int gi, const double* beta) {
    const TripletArrays ta = triplet_arrays(g, gi);
    const int nT = ta.nT, nt = ta.nt;
    if (nT == 0) return;
    const size_t S = ta.S;
    const int* __restrict tj = ta.j;
    const int* __restrict tk = ta.k;
    const double* __restrict tc = ta.c;
    const double* __restrict trjk = ta.rjk;
    const double* __restrict tfc = ta.fcjk;
    const double* __restrict tdfc = ta.dfcjk;
    const double* __restrict tfc3 = ta.fc3;
    const double* __restrict E = ta.E;
    const double* __restrict fc = fc_.data() + static_cast<size_t>(g.cutoff) * n_;
    const double* __restrict dfc = dfc_.data() + static_cast<size_t>(g.cutoff) * n_;
    const double* __restrict r = r_.data();
    const double* __restrict ux = ux_.data();
    const double* __restrict uy = uy_.data();
    const double* __restrict uz = uz_.data();
    const double* __restrict ir = ir_.data();
    const double* __restrict x = x_.data();
    const double* __restrict y = y_.data();
    const double* __restrict z = z_.data();
    const bool narrow = g.narrow;
    // per-triplet force components, scattered to the slots below
    grow(work_, 6 * S);
    double* __restrict Fjx = work_.data();
    double* __restrict Fjy = Fjx + S;
    double* __restrict Fjz = Fjy + S;
    double* __restrict Fkx = Fjz + S;
    double* __restrict Fky = Fkx + S;
    double* __restrict Fkz = Fky + S;
    // Tiles of QB triplets (S is a multiple of 8; the padding slots hold valid indices and
    // finite values, their results are not scattered): the sums S0, Sj, Sk, Sjk, Sc and the
    // term sums W, St stay in registers over all terms and members instead of being streamed
    // through memory once per member. Every sum is accumulated in the same order as before.
    constexpr int QB = 8;
    member_coefficients(g, S, beta);  // once per call, not per tile
    const double* __restrict mb = mcoef_.data();
    const size_t* __restrict mo = moff_.data();
    // narrow as a compile-time flag: wide groups skip the r_jk sum and its division
    auto tiles = [&](auto narrow_tag) {
    constexpr bool kNarrow = decltype(narrow_tag)::value;
    for (int q0 = 0; q0 < nT; q0 += QB) {
        double rj[QB], rk[QB];
#pragma omp simd
        for (int l = 0; l < QB; ++l) {
            rj[l] = r[tj[q0 + l]];
            rk[l] = r[tk[q0 + l]];
        }
        // the sums as vector values (register-resident: GCC spilled arrays of lane sums to the
        // stack), stored once for the per-lane gathers below
        const V8 vrj = ld(rj), vrk = ld(rk), vrjk = ld(trjk + q0);
        V8 vS0 = simd8::splat(0.0), vSj = vS0, vSk = vS0, vSjk = vS0, vSc = vS0;
        for (int t = 0; t < nt; ++t) {
            V8 W, St;
            term_weights(g, ta, mb, mo, t, q0, W, St);
            const double two_eta = 2.0 * g.term_eta[t], rs = g.term_rs[t];
            const V8 e = ld(E + t * S + q0);
            const V8 w = W * e;
            vS0 += w;
            vSj += w * two_eta * (vrj - rs);
            vSk += w * two_eta * (vrk - rs);
            if constexpr (kNarrow) vSjk += w * two_eta * (vrjk - rs);
            vSc += St * e;
        }
        double S0[QB], Sj[QB], Sk[QB], Sjk[QB], Sc[QB];
        st(S0, vS0);
        st(Sj, vSj);
        st(Sk, vSk);
        st(Sjk, vSjk);
        st(Sc, vSc);
        // per-triplet gradients -> force components
#pragma omp simd
        for (int l = 0; l < QB; ++l) {
            const int q = q0 + l;
            const int j = tj[q], k = tk[q];
            const double c = tc[q], fcjk = tfc[q], fc3 = tfc3[q];
            double gj, gk, gc, gjk;
            gaussian_triplet_gradient(S0[l], Sj[l], Sk[l], Sjk[l], Sc[l], fc[j], fc[k], dfc[j], dfc[k], fcjk, tdfc[q],
                                      fc3, trjk[q], kNarrow, gj, gk, gc, gjk);
            triplet_chain(gj, gk, gc, gjk, c, ux[j], uy[j], uz[j], ir[j], ux[k], uy[k], uz[k], ir[k], x[k] - x[j],
                          y[k] - y[j], z[k] - z[j], Fjx[q], Fjy[q], Fjz[q], Fkx[q], Fky[q], Fkz[q]);
        }
    }
    };
    if (narrow)
        tiles(std::true_type{});
    else
        tiles(std::false_type{});
    // Scatter to the slots. The list holds runs of equal j (built j by j) whose k are all
    // distinct and != j, so per run the j sums stay in registers and the k updates vectorise
    // (no two lanes hit one slot); every slot receives its terms in the same order as one
    // sequential loop over q would add them (bitwise identical).
    double* __restrict gx = out_x_;
    double* __restrict gy = out_y_;
    double* __restrict gz = out_z_;
    for (int q = 0; q < nT;) {
        const int j = tj[q];
        int qe = q + 1;
        while (qe < nT && tj[qe] == j) ++qe;
        double ax = gx[j], ay = gy[j], az = gz[j];
        for (int p = q; p < qe; ++p) {
            ax += Fjx[p];
            ay += Fjy[p];
            az += Fjz[p];
        }
        gx[j] = ax;
        gy[j] = ay;
        gz[j] = az;
        if (qe - q >= 16) {  // gathers and scatters pay off on long runs only (wide groups)
#pragma omp simd
            for (int p = q; p < qe; ++p) {
                const int k = tk[p];
                gx[k] += Fkx[p];
                gy[k] += Fky[p];
                gz[k] += Fkz[p];
            }
        } else {
            for (int p = q; p < qe; ++p) {
                const int k = tk[p];
                gx[k] += Fkx[p];
                gy[k] += Fky[p];
                gz[k] += Fkz[p];
            }
        }
        q = qe;
    }
}

// Narrow groups with one shift rs, E_t = exp(-eta_t s), s = (r_j-rs)^2 + (r_k-rs)^2 + (r_jk-rs)^2.
// With W_t, St as in angular_adjoint and, per triplet,
//   S0 = sum_t W_t E_t,  P = sum_t eta_t W_t E_t,  Sc = sum_t St_t E_t,  fc3 = fc_j fc_k fc_jk,
// the gradient of the triplet's energy e = fc3 sum_t W_t E_t in the vectors R_j = r_ij, R_k = r_ik
// (ds/dR_j = 2 (1 - rs/r_j) R_j + 2 (1 - rs/r_jk) (R_j - R_k), dc/dR_j = R_k/(r_j r_k) - c R_j/r_j^2,
// dfc_j/dR_j = fc'(r_j) R_j / r_j, dfc_jk/dR_j = fc'(r_jk) (R_j - R_k) / r_jk) is
//   de/dR_j = A R_j + B R_k,   de/dR_k = B R_j + C R_k,
//   Gjk = -2 fc3 P (1 - rs/r_jk) + S0 fc_j fc_k fc'(r_jk) / r_jk,
//   A = -2 fc3 P (1 - rs/r_j) + S0 fc_k fc_jk fc'(r_j) / r_j - fc3 Sc c / r_j^2 + Gjk,
//   B = fc3 Sc / (r_j r_k) - Gjk,      C = A with j and k exchanged.
// Three numbers per triplet instead of six force components, six gathers per tile instead of 18.
void AtomKernel::narrow_adjoint(const AngularGroup& g, int gi, const double* beta) {
    const TripletArrays ta = triplet_arrays(g, gi);
    const int nT = ta.nT, nt = ta.nt;
    if (nT == 0) return;
    const size_t S = ta.S;
    const int* __restrict tj = ta.j;
    const int* __restrict tk = ta.k;
    const double* __restrict tc = ta.c;
    const double* __restrict trjk = ta.rjk;
    const double* __restrict tfc = ta.fcjk;
    const double* __restrict tdfc = ta.dfcjk;
    const double* __restrict tfc3 = ta.fc3;
    const double* __restrict E = ta.E;
    const double* __restrict fc = fc_.data() + static_cast<size_t>(g.cutoff) * n_;
    const double* __restrict dfc = dfc_.data() + static_cast<size_t>(g.cutoff) * n_;
    const double* __restrict ir = ir_.data();
    const double rs = g.term_rs[0];
    // per slot of the group's blocks (one block when e1 = e2): fc'(r)/r, and for the scatter
    // below the position and the gradient sum as (x, y, z, 0) quadruples, 32-byte aligned (no
    // quadruple spans two cache lines)
    typedef double quad __attribute__((vector_size(4 * sizeof(double)), aligned(8)));
    grow(hslot_, n_);
    grow(quad_, 8 * static_cast<size_t>(n_) + 4);
    double* __restrict h = hslot_.data();
    const uintptr_t at = (reinterpret_cast<uintptr_t>(quad_.data()) + 31) & ~uintptr_t(31);
    quad* __restrict pos = reinterpret_cast<quad*>(at);
    quad* __restrict grad = pos + n_;
    const int blocks = g.e1 == g.e2 ? 1 : 2;
    const int b1s = lo(g.e1), b1e = hi_in(g.e1, g.cutoff), b2s = lo(g.e2), b2e = hi_in(g.e2, g.cutoff);
    for (int block = 0; block < blocks; ++block)
        for (int sl = block == 0 ? b1s : b2s; sl < (block == 0 ? b1e : b2e); ++sl) {
            h[sl] = dfc[sl] * ir[sl];
            pos[sl] = quad{x_[sl], y_[sl], z_[sl], 0.0};
            grad[sl] = quad{0.0, 0.0, 0.0, 0.0};
        }
    grow(work_, 3 * S);
    double* __restrict cA = work_.data();
    double* __restrict cB = cA + S;
    double* __restrict cC = cB + S;
    member_coefficients(g, S, beta);
    const double* __restrict mb = mcoef_.data();
    const size_t* __restrict mo = moff_.data();
    constexpr int QB = 8;
    for (int q0 = 0; q0 < nT; q0 += QB) {
        // the sums as vector values (register-resident), then once through memory for the
        // per-lane gathers below
        V8 vS0 = simd8::splat(0.0), vP = vS0, vSc = vS0;
        for (int t = 0; t < nt; ++t) {
            V8 W, St;
            term_weights(g, ta, mb, mo, t, q0, W, St);
            const V8 Et = ld(E + t * S + q0);
            const V8 w = W * Et;
            vS0 += w;
            vP += g.term_eta[t] * w;
            vSc += St * Et;
        }
        double S0[QB], P[QB], Sc[QB];
        st(S0, vS0);
        st(P, vP);
        st(Sc, vSc);
#pragma omp simd
        for (int l = 0; l < QB; ++l) {
            const int q = q0 + l;
            const int j = tj[q], k = tk[q];
            const double fcj = fc[j], fck = fc[k], irj = ir[j], irk = ir[k];
            const double fc3 = tfc3[q], fcjk = tfc[q], irjk = 1.0 / trjk[q], c = tc[q];
            const double p2 = 2.0 * fc3 * P[l], sc = fc3 * Sc[l], s0 = S0[l];
            const double gjk = -p2 * (1.0 - rs * irjk) + s0 * fcj * fck * tdfc[q] * irjk;
            cA[q] = -p2 * (1.0 - rs * irj) + s0 * fck * fcjk * h[j] - sc * c * irj * irj + gjk;
            cC[q] = -p2 * (1.0 - rs * irk) + s0 * fcj * fcjk * h[k] - sc * c * irk * irk + gjk;
            cB[q] = sc * irj * irk - gjk;
        }
    }
    // scatter: grad_j += A R_j + B R_k, grad_k += B R_j + C R_k, run by run of equal j (the
    // run's j sums in registers; its k are distinct), through the slot quadruples: one 4-wide
    // load and one 4-wide read-modify-write per triplet instead of three of each
    for (int q = 0; q < nT;) {
        const int j = tj[q];
        int qe = q + 1;
        while (qe < nT && tj[qe] == j) ++qe;
        const quad pj = pos[j];
        quad v = {0.0, 0.0, 0.0, 0.0};
        double sa = 0.0;
        for (int p = q; p < qe; ++p) {
            const int k = tk[p];
            const double b = cB[p];
            const quad pk = pos[k];
            sa += cA[p];
            v += b * pk;
            grad[k] += b * pj + cC[p] * pk;
        }
        grad[j] += v + sa * pj;
        q = qe;
    }
    double* __restrict gx = out_x_;
    double* __restrict gy = out_y_;
    double* __restrict gz = out_z_;
    for (int block = 0; block < blocks; ++block)
        for (int sl = block == 0 ? b1s : b2s; sl < (block == 0 ? b1e : b2e); ++sl) {
            gx[sl] += grad[sl][0];
            gy[sl] += grad[sl][1];
            gz[sl] += grad[sl][2];
        }
}

void AtomKernel::compact_angular_adjoint(const CompactAngularGroup& g, const double* beta) {
    const bool same = g.e1 == g.e2;
    for (int j = lo(g.e1); j < hi(g.e1); ++j) {
        if (r_[j] >= g.rc) continue;
        for (int k = same ? j + 1 : lo(g.e2); k < hi(g.e2); ++k) {
            if (r_[k] >= g.rc) continue;
            double c, theta, dtheta_dc;  // collinear triplets: dtheta_dc = 0 (bump_angle)
            bump_angle(cosine(j, k), c, theta, dtheta_dc);
            double gj = 0.0, gk = 0.0, gc = 0.0;
            for (size_t m = 0; m < g.out.size(); ++m) {
                double fj, dfj, fk, dfk, fa, dfa;
                compact_fdf(g.radial[m], r_[j], fj, dfj);
                compact_fdf(g.radial[m], r_[k], fk, dfk);
                if (fj == 0.0 && dfj == 0.0) continue;
                compact_fdf(g.angular[m], theta, fa, dfa);
                compact_triplet_gradient(fj, dfj, fk, dfk, fa, dfa, dtheta_dc, beta[g.out[m]], gj, gk, gc);
            }
            const double w = weight(g.channel, j) * weight(g.channel, k);
            double Fjx, Fjy, Fjz, Fkx, Fky, Fkz;
            triplet_chain(gj * w, gk * w, gc * w, 0.0, c, ux_[j], uy_[j], uz_[j], ir_[j], ux_[k], uy_[k], uz_[k], ir_[k],
                          0.0, 0.0, 0.0, Fjx, Fjy, Fjz, Fkx, Fky, Fkz);
            out_x_[j] += Fjx;
            out_y_[j] += Fjy;
            out_z_[j] += Fjz;
            out_x_[k] += Fkx;
            out_y_[k] += Fky;
            out_z_[k] += Fkz;
        }
    }
}

void AtomKernel::compact_narrow_adjoint(const CompactAngularGroup& g, const double* beta) {
    const bool same = g.e1 == g.e2;
    for (int j = lo(g.e1); j < hi(g.e1); ++j) {
        if (r_[j] >= g.rc) continue;
        for (int k = same ? j + 1 : lo(g.e2); k < hi(g.e2); ++k) {
            if (r_[k] >= g.rc) continue;
            const double djk[3] = {x_[k] - x_[j], y_[k] - y_[j], z_[k] - z_[j]};
            const double r2jk = djk[0] * djk[0] + djk[1] * djk[1] + djk[2] * djk[2];
            if (!(r2jk < g.rc * g.rc)) continue;
            const double rjk = std::sqrt(r2jk);
            double c, theta, dtheta_dc;  // collinear triplets: dtheta_dc = 0 (bump_angle)
            bump_angle(cosine(j, k), c, theta, dtheta_dc);
            double gj = 0.0, gk = 0.0, gc = 0.0, gjk = 0.0;
            for (size_t m = 0; m < g.out.size(); ++m) {
                double fj, dfj, fk, dfk, fjk, dfjk, fa, dfa;
                compact_fdf(g.radial[m], r_[j], fj, dfj);
                compact_fdf(g.radial[m], r_[k], fk, dfk);
                compact_fdf(g.radial[m], rjk, fjk, dfjk);
                compact_fdf(g.angular[m], theta, fa, dfa);
                compact_narrow_triplet_gradient(fj, dfj, fk, dfk, fjk, dfjk, fa, dfa, dtheta_dc, beta[g.out[m]], gj, gk,
                                                gc, gjk);
            }
            const double w = weight(g.channel, j) * weight(g.channel, k);
            double Fjx, Fjy, Fjz, Fkx, Fky, Fkz;
            triplet_chain(gj * w, gk * w, gc * w, compact_jk_chain_factor(gjk * w, rjk), c, ux_[j], uy_[j], uz_[j],
                          ir_[j], ux_[k], uy_[k], uz_[k], ir_[k], djk[0], djk[1], djk[2], Fjx, Fjy, Fjz, Fkx, Fky,
                          Fkz);
            out_x_[j] += Fjx;
            out_y_[j] += Fjy;
            out_z_[j] += Fjz;
            out_x_[k] += Fkx;
            out_y_[k] += Fky;
            out_z_[k] += Fkz;
        }
    }
}

// ----------------------------------------------------------------------------------- tangent
// dG_s = sum_j (dG_s/dr_ij) . dr_ij, dr_ij = 3 numbers per slot (change of the vector r_ij)
void AtomKernel::tangent(const double* dr, double* dG) {
    std::fill(dG, dG + n_features_, 0.0);
    grow(dEdr_, n_);  // radial projections dr_j = u_j . dr_ij
    for (int j = 0; j < n_; ++j)
        dEdr_[j] = ux_[j] * dr[3 * j] + uy_[j] * dr[3 * j + 1] + uz_[j] * dr[3 * j + 2];
    const ElementPlan& plan = *plan_;
    for (const RadialGroup& g : plan.radial) radial_tangent(g, dEdr_.data(), dG);
    for (const CompactRadialGroup& g : plan.compact_radial) compact_radial_tangent(g, dEdr_.data(), dG);
    for (size_t gi = 0; gi < plan.angular.size(); ++gi) {
        if (plan.angular[gi].moments)
            moment_tangent(plan.angular[gi], static_cast<int>(gi), dr, dG);
        else if (plan.angular[gi].pairs)
            pair_tangent(plan.angular[gi], static_cast<int>(gi), dr, dG);
        else
            angular_tangent(plan.angular[gi], static_cast<int>(gi), dr, dG);
    }
    for (const CompactAngularGroup& g : plan.compact_angular) {
        if (g.narrow)
            compact_narrow_tangent(g, dr, dG);
        else
            compact_angular_tangent(g, dr, dG);
    }
}

void AtomKernel::radial_tangent(const RadialGroup& g, const double* drs, double* dG) {
    const double* fc = fc_.data() + static_cast<size_t>(g.cutoff) * n_;
    const double* dfc = dfc_.data() + static_cast<size_t>(g.cutoff) * n_;
    for (int j = lo(g.neighbor); j < hi(g.neighbor); ++j)
        for (size_t m = 0; m < g.out.size(); ++m)
            dG[g.out[m]] += radial_term_derivative(g.eta[m], g.rs[m], r_[j], fc[j], dfc[j], 1.0) * drs[j];
}

void AtomKernel::compact_radial_tangent(const CompactRadialGroup& g, const double* drs, double* dG) {
    for (int j = lo(g.neighbor); j < hi(g.neighbor); ++j)
        for (size_t m = 0; m < g.out.size(); ++m) {
            double f, df;
            compact_fdf(g.fn[m], r_[j], f, df);
            dG[g.out[m]] += weight(g.channel, j) * df * drs[j];
        }
}

// dT_s = E_t [A_s P_t + A'_s fc3 dc], P_t = -2 eta_t sum_x (r_x - rs_t) dr_x fc3 + Q,
// Q = fc'(r_j) fc(r_k) fc(r_jk) dr_j + fc(r_j) fc'(r_k) fc(r_jk) dr_k + fc(r_j) fc(r_k) fc'(r_jk) dr_jk
void AtomKernel::angular_tangent(const AngularGroup& g, int gi, const double* dr, double* dG) {
    const Region& reg = regions_[gi];
    const int nt = static_cast<int>(g.term_eta.size());
    const int nf = static_cast<int>(g.fac_zeta.size());
    const size_t S = reg.stride;
    const int* tj = tint_.data() + reg.ints;
    const int* tk = tj + S;
    const double* base = tdbl_.data() + reg.doubles;
    const double* E = base + kFixed * S;
    const double* A = E + nt * S;
    const double* dA = A + nf * S;
    const double* Wch = dA + nf * S;
    const double* fc = fc_.data() + static_cast<size_t>(g.cutoff) * n_;
    const double* dfc = dfc_.data() + static_cast<size_t>(g.cutoff) * n_;
    std::vector<double>& P = work_;
    grow(P, static_cast<size_t>(nt));
    for (size_t q = 0; q < reg.T; ++q) {
        const int j = tj[q], k = tk[q];
        const double c = base[kC * S + q], rjk = base[kRjk * S + q];
        const double fcjk = base[kFcjk * S + q], dfcjk = base[kDfcjk * S + q], fc3 = base[kFc3 * S + q];
        const double* dj = dr + 3 * j;
        const double* dk = dr + 3 * k;
        const double uj[3] = {ux_[j], uy_[j], uz_[j]}, uk[3] = {ux_[k], uy_[k], uz_[k]};
        double drj, drk, dc, drjk = 0.0;
        triplet_projections(c, uj, uk, ir_[j], ir_[k], dj, dk, drj, drk, dc);
        if (g.narrow) {
            const double djk[3] = {x_[k] - x_[j], y_[k] - y_[j], z_[k] - z_[j]};
            drjk = triplet_rjk_projection(djk, rjk, dj, dk);
        }
        const double Q = dfc[j] * fc[k] * fcjk * drj + fc[j] * dfc[k] * fcjk * drk + fc[j] * fc[k] * dfcjk * drjk;
        for (int t = 0; t < nt; ++t) {
            const double rs = g.term_rs[t];
            double sum = (r_[j] - rs) * drj + (r_[k] - rs) * drk;
            if (g.narrow) sum += (rjk - rs) * drjk;
            P[t] = -2.0 * g.term_eta[t] * sum * fc3 + Q;
        }
        for (size_t m = 0; m < g.out.size(); ++m) {
            const int t = g.term[m], a = g.fac[m];
            const double w = g.chan.empty() ? 1.0 : Wch[g.chan[m] * S + q];
            dG[g.out[m]] += w * E[t * S + q] * (A[a * S + q] * P[t] + dA[a * S + q] * fc3 * dc);
        }
    }
}

void AtomKernel::compact_angular_tangent(const CompactAngularGroup& g, const double* dr, double* dG) {
    const bool same = g.e1 == g.e2;
    for (int j = lo(g.e1); j < hi(g.e1); ++j) {
        if (r_[j] >= g.rc) continue;
        for (int k = same ? j + 1 : lo(g.e2); k < hi(g.e2); ++k) {
            if (r_[k] >= g.rc) continue;
            double c, theta, dtheta_dc;  // collinear triplets: dtheta_dc = 0 (bump_angle)
            bump_angle(cosine(j, k), c, theta, dtheta_dc);
            const double* dj = dr + 3 * j;
            const double* dk = dr + 3 * k;
            const double uj[3] = {ux_[j], uy_[j], uz_[j]}, uk[3] = {ux_[k], uy_[k], uz_[k]};
            double drj, drk, dc;
            triplet_projections(c, uj, uk, ir_[j], ir_[k], dj, dk, drj, drk, dc);
            for (size_t m = 0; m < g.out.size(); ++m) {
                double fj, dfj, fk, dfk, fa, dfa, gj = 0.0, gk = 0.0, gc = 0.0;
                compact_fdf(g.radial[m], r_[j], fj, dfj);
                compact_fdf(g.radial[m], r_[k], fk, dfk);
                compact_fdf(g.angular[m], theta, fa, dfa);
                compact_triplet_gradient(fj, dfj, fk, dfk, fa, dfa, dtheta_dc, 1.0, gj, gk, gc);
                dG[g.out[m]] += weight(g.channel, j) * weight(g.channel, k) * (gj * drj + gk * drk + gc * dc);
            }
        }
    }
}

void AtomKernel::compact_narrow_tangent(const CompactAngularGroup& g, const double* dr, double* dG) {
    const bool same = g.e1 == g.e2;
    for (int j = lo(g.e1); j < hi(g.e1); ++j) {
        if (r_[j] >= g.rc) continue;
        for (int k = same ? j + 1 : lo(g.e2); k < hi(g.e2); ++k) {
            if (r_[k] >= g.rc) continue;
            const double djk[3] = {x_[k] - x_[j], y_[k] - y_[j], z_[k] - z_[j]};
            const double r2jk = djk[0] * djk[0] + djk[1] * djk[1] + djk[2] * djk[2];
            if (!(r2jk < g.rc * g.rc)) continue;
            const double rjk = std::sqrt(r2jk);
            double c, theta, dtheta_dc;  // collinear triplets: dtheta_dc = 0 (bump_angle)
            bump_angle(cosine(j, k), c, theta, dtheta_dc);
            const double* dj = dr + 3 * j;
            const double* dk = dr + 3 * k;
            const double uj[3] = {ux_[j], uy_[j], uz_[j]}, uk[3] = {ux_[k], uy_[k], uz_[k]};
            double drj, drk, dc;
            triplet_projections(c, uj, uk, ir_[j], ir_[k], dj, dk, drj, drk, dc);
            const double drjk = rjk > 0.0 ? triplet_rjk_projection(djk, rjk, dj, dk) : 0.0;
            const double w = weight(g.channel, j) * weight(g.channel, k);
            for (size_t m = 0; m < g.out.size(); ++m) {
                double fj, dfj, fk, dfk, fjk, dfjk, fa, dfa, gj = 0.0, gk = 0.0, gc = 0.0, gjk = 0.0;
                compact_fdf(g.radial[m], r_[j], fj, dfj);
                compact_fdf(g.radial[m], r_[k], fk, dfk);
                compact_fdf(g.radial[m], rjk, fjk, dfjk);
                compact_fdf(g.angular[m], theta, fa, dfa);
                compact_narrow_triplet_gradient(fj, dfj, fk, dfk, fjk, dfjk, fa, dfa, dtheta_dc, 1.0, gj, gk, gc, gjk);
                dG[g.out[m]] += w * (gj * drj + gk * drk + gc * dc + gjk * drjk);
            }
        }
    }
}

}  // namespace kizuna
