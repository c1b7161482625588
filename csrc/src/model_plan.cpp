// Derived, evaluation-ready data of a parsed element: grouped symmetry functions and the
// per-feature scaling map.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>

#include "kizuna/errors.hpp"
#include "kizuna/model.hpp"

namespace kizuna {
namespace {

constexpr double kDegree = kPi / 180.0;

// the cutoff entry of sf; `channel` >= 0: weighted by that channel (weighted_radial)
int cutoff_index(ElementPlan& plan, const SymmetryFunction& sf, int channel = -1) {
    for (size_t c = 0; c < plan.cutoffs.size(); ++c) {
        const CutoffFunction& f = plan.cutoffs[c];
        if (f.kind == sf.cutoff && f.rc == sf.rc && f.rci == sf.alpha * sf.rc && plan.cutoff_channel[c] == channel)
            return static_cast<int>(c);
    }
    CutoffFunction f;
    f.kind = sf.cutoff;
    f.rc = sf.rc;
    f.rci = sf.alpha * sf.rc;
    f.inv_width = 1.0 / (f.rc - f.rci);
    f.inv_rc = 1.0 / f.rc;
    plan.cutoffs.push_back(f);
    plan.cutoff_channel.push_back(channel);
    return static_cast<int>(plan.cutoffs.size()) - 1;
}

CompactFunction compact(CoreKind core, bool asymmetric, double left, double right) {
    CompactFunction c;
    c.core = core;
    c.asymmetric = asymmetric;
    c.left = left;
    c.right = right;
    c.centre = 0.5 * (left + right);
    c.inv_half_width = 1.0 / (0.5 * (right - left));
    return c;
}

int add_unique(std::vector<double>& a, std::vector<double>& b, double x, double y) {
    for (size_t i = 0; i < a.size(); ++i)
        if (a[i] == x && b[i] == y) return static_cast<int>(i);
    a.push_back(x);
    b.push_back(y);
    return static_cast<int>(a.size()) - 1;
}

// the members m of g with take[m] as a group of their own (weighted groups: with the channels
// those members use)
AngularGroup member_subset(const AngularGroup& g, const std::vector<bool>& take) {
    AngularGroup s;
    s.e1 = g.e1;
    s.e2 = g.e2;
    s.narrow = g.narrow;
    s.cutoff = g.cutoff;
    s.rc = g.rc;
    for (size_t m = 0; m < g.out.size(); ++m) {
        if (!take[m]) continue;
        const int t = g.term[m], f = g.fac[m];
        const int term = add_unique(s.term_eta, s.term_rs, g.term_eta[t], g.term_rs[t]);
        const int fac = add_unique(s.fac_zeta, s.fac_lambda, g.fac_zeta[f], g.fac_lambda[f]);
        if (fac == static_cast<int>(s.fac_prefactor.size())) {
            s.fac_prefactor.push_back(g.fac_prefactor[f]);
            s.fac_izeta.push_back(g.fac_izeta[f]);
        }
        s.out.push_back(g.out[m]);
        s.term.push_back(term);
        s.fac.push_back(fac);
        if (!g.chan.empty()) {
            const int c = g.channels[g.chan[m]];
            auto ch = std::find(s.channels.begin(), s.channels.end(), c);
            if (ch == s.channels.end()) ch = s.channels.insert(s.channels.end(), c);
            s.chan.push_back(static_cast<int>(ch - s.channels.begin()));
        }
    }
    return s;
}

// Wide groups: the members with an integer zeta <= kMaxMomentDegree go to a group of their own
// evaluated by moment tensors (no r_jk factor, so the triplet sum separates; weighted groups:
// per-element moments combined per channel), the others of a plain group go to the fused pair
// loop, those of a weighted group stay on the triplet list. KIZUNA_ANGULAR_MOMENTS=0 keeps
// every group on the triplet list (A/B comparisons and the tests that compare the paths).
void split_moment_groups(ElementPlan& plan) {
    std::vector<AngularGroup> groups;
    for (const AngularGroup& g : plan.angular) {
        if (g.narrow) {
            groups.push_back(g);
            continue;
        }
        std::vector<bool> low(g.out.size()), high(g.out.size());
        int degree = 0;
        bool any_high = false;
        for (size_t m = 0; m < g.out.size(); ++m) {
            const int iz = g.fac_izeta[g.fac[m]];
            low[m] = iz >= 1 && iz <= kMaxMomentDegree;
            high[m] = !low[m];
            if (low[m]) degree = std::max(degree, iz);
            any_high = any_high || high[m];
        }
        if (degree > 0) {
            groups.push_back(member_subset(g, low));
            groups.back().moments = true;
            groups.back().degree = degree;
        }
        if (any_high) {
            groups.push_back(degree > 0 ? member_subset(g, high) : g);
            groups.back().pairs = g.channels.empty();
        }
    }
    plan.angular = groups;
}

void sort_group_members(ElementPlan& plan);

// RadialGroup::chain for groups of one eta and equally spaced rs (at least 3 members), where
// the recurrence stays far from under- and overflow (the bounds in model.hpp).
void chain_radial_groups(ElementPlan& plan) {
    for (RadialGroup& g : plan.radial) {
        g.chain = false;
        g.chain_c.clear();
        const size_t M = g.out.size();
        if (M < 3) continue;
        const double eta = g.eta[0], rs0 = g.rs[0], delta = g.rs[1] - g.rs[0];
        const double rc = plan.cutoffs[g.cutoff].rc;
        bool ok = eta > 0.0 && delta != 0.0;
        double worst = 0.0;  // largest eta (r - rs_m)^2 over r in [0, rc]
        for (size_t m = 0; m < M && ok; ++m) {
            const double expect = rs0 + static_cast<double>(m) * delta;
            ok = g.eta[m] == eta && std::fabs(g.rs[m] - expect) <= 1e-12 * std::max(1.0, std::fabs(expect));
            const double far = std::max(std::fabs(g.rs[m]), std::fabs(rc - g.rs[m]));
            worst = std::max(worst, eta * far * far);
        }
        const double k = 2.0 * eta * delta;
        const double d0 = std::max(std::fabs(rs0), std::fabs(rc - rs0));
        const double c_last = eta * delta * delta * (2.0 * static_cast<double>(M) - 1.0);
        if (!ok || worst > 600.0 || std::fabs(k) * d0 > 600.0 || c_last > 600.0) continue;
        g.chain = true;
        g.chain_k = k;
        for (size_t m = 0; m + 1 < M; ++m)
            g.chain_c.push_back(std::exp(-eta * delta * delta * (2.0 * static_cast<double>(m) + 1.0)));
    }
}

// KIZUNA_TRIPLET_MAX_NEIGHBORS: the per-centre choice by a plain count instead of the cost
// estimate (ElementModel; A/B runs and tests): at most this many neighbours inside the moment
// cutoff -> triplet list; -1: never. Unset: -2 (the cost estimate).
int triplet_max_neighbors() {
    const char* env = std::getenv("KIZUNA_TRIPLET_MAX_NEIGHBORS");
    if (env && *env) {
        char* end = nullptr;
        const long v = std::strtol(env, &end, 10);
        if (*end != '\0' || v < -1 || v > 1000000)
            throw InputError(std::string("KIZUNA_TRIPLET_MAX_NEIGHBORS must be an integer >= -1 (-1: never "
                                         "the triplet list), got '") + env + "'");
        return static_cast<int>(v);
    }
    return -2;
}

void build_plan(ElementModel& em) {
    ElementPlan& plan = em.plan;
    for (size_t s = 0; s < em.sfs.size(); ++s) {
        const SymmetryFunction& sf = em.sfs[s];
        const int out = static_cast<int>(s);
        plan.rc_max = std::max(plan.rc_max, sf.rc);
        switch (sf.family()) {  // the kinds of one family share their group (sf_kinds.hpp)
            case SFFamily::radial: {  // weighted: e1 = -1, all neighbours, weights in the cutoff
                const int c = cutoff_index(plan, sf, sf.weighted() ? sf.channel : -1);
                auto it = std::find_if(plan.radial.begin(), plan.radial.end(), [&](const RadialGroup& g) {
                    return g.neighbor == sf.e1 && g.cutoff == c;
                });
                if (it == plan.radial.end()) {
                    plan.radial.push_back(RadialGroup{});
                    it = plan.radial.end() - 1;
                    it->neighbor = sf.e1;
                    it->cutoff = c;
                }
                it->out.push_back(out);
                it->eta.push_back(sf.eta);
                it->rs.push_back(sf.rs);
                break;
            }
            case SFFamily::angular_narrow:  // weighted: e1 = e2 = -1, all pairs j < k
            case SFFamily::angular_wide: {
                const bool narrow = sf.family() == SFFamily::angular_narrow;
                const int c = cutoff_index(plan, sf);
                auto it = std::find_if(plan.angular.begin(), plan.angular.end(), [&](const AngularGroup& g) {
                    return g.e1 == sf.e1 && g.e2 == sf.e2 && g.narrow == narrow && g.cutoff == c;
                });
                if (it == plan.angular.end()) {
                    plan.angular.push_back(AngularGroup{});
                    it = plan.angular.end() - 1;
                    it->e1 = sf.e1;
                    it->e2 = sf.e2;
                    it->narrow = narrow;
                    it->cutoff = c;
                    it->rc = sf.rc;
                }
                const int term = add_unique(it->term_eta, it->term_rs, sf.eta, sf.rs);
                const int fac = add_unique(it->fac_zeta, it->fac_lambda, sf.zeta, sf.lambda);
                if (fac == static_cast<int>(it->fac_prefactor.size())) {
                    it->fac_prefactor.push_back(std::pow(2.0, 1.0 - sf.zeta));
                    const bool integer = sf.zeta == std::floor(sf.zeta) && sf.zeta <= 64.0;
                    it->fac_izeta.push_back(integer ? static_cast<int>(sf.zeta) : -1);
                }
                it->out.push_back(out);
                it->term.push_back(term);
                it->fac.push_back(fac);
                if (sf.weighted()) {
                    auto ch = std::find(it->channels.begin(), it->channels.end(), sf.channel);
                    if (ch == it->channels.end()) {
                        it->channels.push_back(sf.channel);
                        ch = it->channels.end() - 1;
                    }
                    it->chan.push_back(static_cast<int>(ch - it->channels.begin()));
                }
                break;
            }
            case SFFamily::compact_radial: {
                const int channel = sf.weighted() ? sf.channel : -1;
                auto it = std::find_if(plan.compact_radial.begin(), plan.compact_radial.end(),
                                       [&](const CompactRadialGroup& g) {
                                           return g.neighbor == sf.e1 && g.channel == channel;
                                       });
                if (it == plan.compact_radial.end()) {
                    plan.compact_radial.push_back(CompactRadialGroup{});
                    it = plan.compact_radial.end() - 1;
                    it->neighbor = sf.e1;
                    it->channel = channel;
                }
                it->out.push_back(out);
                it->fn.push_back(compact(sf.core, sf.asymmetric, sf.rl, sf.rc));
                break;
            }
            case SFFamily::compact_angular:
            case SFFamily::compact_angular_narrow: {
                const int channel = sf.weighted() ? sf.channel : -1;
                const bool narrow = sf.family() == SFFamily::compact_angular_narrow;
                auto it = std::find_if(plan.compact_angular.begin(), plan.compact_angular.end(),
                                       [&](const CompactAngularGroup& g) {
                                           return g.e1 == sf.e1 && g.e2 == sf.e2 && g.channel == channel &&
                                                  g.narrow == narrow;
                                       });
                if (it == plan.compact_angular.end()) {
                    plan.compact_angular.push_back(CompactAngularGroup{});
                    it = plan.compact_angular.end() - 1;
                    it->e1 = sf.e1;
                    it->e2 = sf.e2;
                    it->channel = channel;
                    it->narrow = narrow;
                }
                it->rc = std::max(it->rc, sf.rc);
                it->out.push_back(out);
                it->radial.push_back(compact(sf.core, sf.asymmetric, sf.rl, sf.rc));
                it->angular.push_back(
                    compact(sf.core, sf.angle_asymmetric, sf.angle_left * kDegree, sf.angle_right * kDegree));
                break;
            }
        }
    }
    // KIZUNA_ANGULAR_MOMENTS (read when a model is parsed): "0" every angular group on the
    // triplet list; "1" the moment / pair split for every centre; unset (or anything else) the
    // split, and the unsplit plan kept for the per-centre choice (ElementModel::triplet_plan)
    const char* env = std::getenv("KIZUNA_ANGULAR_MOMENTS");
    const std::string mode = env ? env : "";
    chain_radial_groups(plan);
    ElementPlan unsplit = plan;
    if (mode != "0") split_moment_groups(plan);
    sort_group_members(plan);
    em.triplet_plan = ElementPlan{};
    em.choose = false;
    em.moment_rc = 0.0;
    em.moment_pairs.clear();
    em.triplet_max_neighbors = -1;
    for (const AngularGroup& g : plan.angular)
        if (g.moments) {
            em.moment_rc = std::max(em.moment_rc, plan.cutoffs[g.cutoff].rc);
            em.moment_pairs.push_back(g.e1);
            em.moment_pairs.push_back(g.e2);
        }
    if (em.moment_rc > 0.0 && mode != "0" && mode != "1") {
        sort_group_members(unsplit);
        em.triplet_plan = std::move(unsplit);
        em.choose = true;
        em.triplet_max_neighbors = triplet_max_neighbors();
    }
}

// KIZUNA_NARROW_EXPONENTIALS (read when a model is parsed; A/B runs and tests): how narrow
// groups form a triplet's exponentials: "product" ex(r_j) ex(r_k) ex(r_jk) per term (the form
// for groups whose terms have different shifts), "terms" exp(-eta_t s) per term, "powers" (or
// unset) one exponential and its integer powers where the etas allow.
enum class NarrowExponentials { product, terms, powers };
NarrowExponentials narrow_exponentials() {
    const char* env = std::getenv("KIZUNA_NARROW_EXPONENTIALS");
    const std::string v = env ? env : "";
    if (v.empty() || v == "powers") return NarrowExponentials::powers;
    if (v == "terms") return NarrowExponentials::terms;
    if (v == "product") return NarrowExponentials::product;
    throw InputError("KIZUNA_NARROW_EXPONENTIALS must be 'powers', 'terms' or 'product' (or unset), got '" + v + "'");
}

// Narrow groups with one shift for all terms: E_t = exp(-eta_t s) per triplet (common_shift),
// and, where every eta_t is an integer multiple n_t <= kMaxEtaPower of the smallest eta (to
// 1e-9 relative; n2p2's water potentials: 1, 3, 7, 20 and 1, 30), E_t = E_base^n_t.
void derive_term_powers(AngularGroup& g, NarrowExponentials mode) {
    g.common_shift = false;
    g.pow_base = -1;
    g.term_pow.clear();
    if (!g.narrow || g.term_eta.empty() || mode == NarrowExponentials::product) return;
    for (double rs : g.term_rs)
        if (rs != g.term_rs[0]) return;
    g.common_shift = true;
    if (mode == NarrowExponentials::terms) return;
    const auto base = std::min_element(g.term_eta.begin(), g.term_eta.end());
    if (!(*base > 0.0)) return;
    std::vector<int> pow;
    for (double eta : g.term_eta) {
        const double ratio = eta / *base;
        const double n = std::round(ratio);
        if (n > kMaxEtaPower || std::abs(ratio - n) > 1e-9 * ratio) return;
        pow.push_back(static_cast<int>(n));
    }
    g.pow_base = static_cast<int>(base - g.term_eta.begin());
    g.term_pow = pow;
}

// members of an angular group sorted by exponential term (contiguous per term)
void sort_group_members(ElementPlan& plan) {
    const NarrowExponentials mode = narrow_exponentials();
    for (AngularGroup& g : plan.angular) {
        std::vector<size_t> idx(g.out.size());
        for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
        std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return g.term[a] < g.term[b]; });
        AngularGroup sorted = g;
        for (size_t i = 0; i < idx.size(); ++i) {
            sorted.out[i] = g.out[idx[i]];
            sorted.term[i] = g.term[idx[i]];
            sorted.fac[i] = g.fac[idx[i]];
            if (!g.chan.empty()) sorted.chan[i] = g.chan[idx[i]];
        }
        g = sorted;
        g.term_first.assign(g.term_eta.size() + 1, 0);
        for (int t : g.term) ++g.term_first[t + 1];
        for (size_t t = 0; t < g.term_eta.size(); ++t) g.term_first[t + 1] += g.term_first[t];
        derive_term_powers(g, mode);
    }
}

void derive_scaling(Member& m) {
    const size_t n = m.g_min.size();
    m.scale_shift.assign(n, 0.0);
    m.scale_factor.assign(n, 1.0);
    m.scale_offset = 0.0;
    if (m.mode == ScalingMode::none) return;
    if (m.mode == ScalingMode::center) {
        m.scale_shift = m.g_mean;
        return;
    }
    m.scale_offset = m.smin;
    const double width = m.smax - m.smin;
    for (size_t i = 0; i < n; ++i) {
        const double denom = m.mode == ScalingMode::scale_sigma ? m.g_sigma[i] : m.g_max[i] - m.g_min[i];
        m.scale_shift[i] = m.mode == ScalingMode::scale ? m.g_min[i] : m.g_mean[i];
        m.scale_factor[i] = denom != 0.0 ? width / denom : 0.0;  // constant feature: no information
    }
}

}  // namespace

void finalize_element(ElementModel& em, int /*num_elements*/) {
    build_plan(em);
    const size_t n = em.sfs.size();
    em.extrapolation_min.assign(n, 0.0);
    em.extrapolation_max.assign(n, 0.0);
    em.max_width = static_cast<int>(n);
    for (size_t m = 0; m < em.members.size(); ++m) {
        Member& member = em.members[m];
        derive_scaling(member);
        for (size_t i = 0; i < n; ++i) {
            em.extrapolation_min[i] = m == 0 ? member.g_min[i] : std::min(em.extrapolation_min[i], member.g_min[i]);
            em.extrapolation_max[i] = m == 0 ? member.g_max[i] : std::max(em.extrapolation_max[i], member.g_max[i]);
        }
    }
    // Round-off slack: the training extremes, recomputed with another summation order (another
    // code, another neighbour order), may exceed the stored range by a few ulps; they are not
    // extrapolation. [min - eps, max + eps], eps = 1e-12 * max(|min|, |max|).
    for (size_t i = 0; i < n; ++i) {
        const double eps = 1e-12 * std::max(std::fabs(em.extrapolation_min[i]), std::fabs(em.extrapolation_max[i]));
        em.extrapolation_min[i] -= eps;
        em.extrapolation_max[i] += eps;
    }
    for (size_t m = 0; m < em.members.size(); ++m) {
        Member& member = em.members[m];
        for (DenseLayer& layer : member.layers) {
            em.max_width = std::max(em.max_width, layer.n_out);
            layer.weights_t.resize(layer.weights.size());
            for (int o = 0; o < layer.n_out; ++o)
                for (int i = 0; i < layer.n_in; ++i)
                    layer.weights_t[static_cast<size_t>(i) * layer.n_out + o] =
                        layer.weights[static_cast<size_t>(o) * layer.n_in + i];
        }
    }
}

}  // namespace kizuna
