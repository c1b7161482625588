// Model: immutable, validated description of a kizuna potential (docs/model-format.md).
// Created by parsing the text format; shared read-only between threads and adapters.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kizuna/formulas.hpp"
#include "kizuna/sf_kinds.hpp"

namespace kizuna {

// SFKind, SFFamily and the table of kinds (names, families, parameters): sf_kinds.hpp
const char* sf_kind_name(SFKind kind);
enum class ScalingMode : int { none, scale, center, scale_center, scale_sigma };

struct SymmetryFunction {
    SFKind kind;
    int e1 = -1, e2 = -1;  // neighbour element indices (e2 only for angular kinds, e1 <= e2);
                           // -1 for weighted kinds (all neighbours)
    int channel = -1;      // weighted kinds: 0-based channel of Model::channel_weights
    double eta = 0.0, rs = 0.0, zeta = 1.0, lambda = 1.0, rc = 0.0, alpha = 0.0;
    CutoffKind cutoff = CutoffKind::cos;
    double rl = 0.0, angle_left = 0.0, angle_right = 180.0;  // compact kinds (angles in degrees)
    CoreKind core = CoreKind::poly2;
    bool asymmetric = false;        // compact kinds: the radial bump is core(a (2 - a))
    bool angle_asymmetric = false;  // compact angular kinds: the angular bump likewise

    SFFamily family() const { return sf_kind_info(kind).family; }
    bool angular() const { return family_angular(family()); }
    bool weighted() const { return sf_kind_info(kind).weighted; }
    bool compact() const { return family_compact(family()); }
};

struct DenseLayer {
    int n_in = 0, n_out = 0;
    Activation activation = Activation::linear;
    std::vector<double> weights;    // n_out x n_in, row-major
    std::vector<double> bias;       // n_out
    std::vector<double> weights_t;  // n_in x n_out: the transpose (derived, for the CPU forward pass)
};

struct Member {
    double energy_offset = 0.0;  // eV
    double energy_scale = 1.0;   // eV per network output unit
    ScalingMode mode = ScalingMode::none;
    double smin = 0.0, smax = 1.0;
    std::vector<double> g_min, g_max, g_mean, g_sigma;  // training statistics of each feature
    // derived: x = scale_offset + scale_factor * (G - scale_shift)
    std::vector<double> scale_shift, scale_factor;
    double scale_offset = 0.0;
    std::vector<DenseLayer> layers;
};

// ------------------------------------------------------------------ descriptor evaluation plan
// Symmetry functions of one central element regrouped for evaluation: radial functions by
// neighbour element and cutoff (one cutoff evaluation per pair), angular functions by element
// pair and cutoff with their distinct exponential terms (eta, rs) and distinct angular factors
// (zeta, lambda), so each triplet evaluates each exponential and each power once.
// A neighbour element of -1 (weighted kinds) means every neighbour; the weights then sit in the
// cutoff arrays (ElementPlan::cutoff_channel).
struct RadialGroup {
    int neighbor = 0;
    int cutoff = 0;  // index into ElementPlan::cutoffs
    std::vector<int> out;
    std::vector<double> eta, rs;
    // chain: every member has the same eta and rs_m = rs_0 + m delta (the shifted grids), so
    // E_{m+1}(r) = E_m(r) q(r) c_m with q(r) = exp(2 eta delta (r - rs_0)) and the constants
    // c_m = exp(-eta delta^2 (2m + 1)): two exponentials per neighbour instead of one per
    // member (AtomKernel::radial_values). Set by the plan only where every E_m, q and c_m stays
    // in [e^-600, e^600] for r in [0, rc] (no underflow: relative error ~ (m+1) ulp).
    bool chain = false;
    double chain_k = 0.0;         // 2 eta delta, 1/Å
    std::vector<double> chain_c;  // c_m, m = 0 .. members - 2
};

struct CompactRadialGroup {
    int neighbor = 0;  // -1: weighted (every neighbour, times w_c(Z_j), c = channel)
    int channel = -1;
    std::vector<int> out;
    std::vector<CompactFunction> fn;
};

struct AngularGroup {
    int e1 = 0, e2 = 0;  // e1 <= e2
    bool narrow = true;
    int cutoff = 0;
    double rc = 0.0;
    std::vector<double> term_eta, term_rs;  // distinct (eta, rs)
    std::vector<double> fac_zeta, fac_lambda, fac_prefactor;  // distinct (zeta, lambda), 2^(1-zeta)
    std::vector<int> fac_izeta;              // integer zeta or -1
    std::vector<int> out, term, fac;         // members, sorted by term
    std::vector<int> term_first;             // members of term t: term_first[t] .. term_first[t+1]
    // narrow groups whose terms all share one shift rs (n2p2's type 3 has rs = 0): the three
    // Gaussians of a triplet are one, E_t = exp(-eta_t s), s = (r_j-rs)^2 + (r_k-rs)^2 + (r_jk-rs)^2.
    // term_pow non-empty: every eta_t = term_pow[t] * eta of term pow_base (an integer 1 ..
    // kMaxEtaPower), so one exponential per triplet gives all terms, E_t = E_base^term_pow[t].
    bool common_shift = false;
    int pow_base = -1;
    std::vector<int> term_pow;
    // weighted groups (e1 = e2 = -1): the weight channels of the members (one group holds all
    // channels of one cutoff, so geometry, exponentials and angular factors are shared); member
    // m's triplet weight is w_c(Z_j) w_c(Z_k), c = channels[chan[m]]. Empty for plain groups.
    std::vector<int> channels, chan;
    // moments = true: a wide group (plain or weighted) whose factors all have an integer zeta
    // of 1 .. kMaxMomentDegree, evaluated in O(neighbours) by moment tensors
    // (angular_moments.cpp) instead of the triplet list; degree = its largest zeta. build_plan
    // splits every wide group into such a group and the rest (KIZUNA_ANGULAR_MOMENTS=0 in the
    // environment at model load keeps the triplet path for all).
    bool moments = false;
    int degree = 0;
    // pairs = true: a plain wide group of the other factors, evaluated by one fused loop over
    // neighbour pairs that recomputes the pair quantities in the adjoint instead of storing a
    // triplet list (angular_pairs.cpp). Both false: the triplet list (narrow groups, weighted
    // wide groups of other zetas).
    bool pairs = false;
};

// Largest zeta evaluated by moments. The j = k self term that the moment sums subtract is
// 2^zeta a_j^2 for lambda = +1, so their relative round-off grows like 2^zeta / (off-diagonal
// share): measured <= 2e-14 up to zeta = 4, 8e-14 at 6, 1e-11 at 16 (diamond Si, 5.5 Å).
constexpr int kMaxMomentDegree = 4;

// Largest power of one triplet exponential that stands for another term's (common_shift groups):
// E_base^n carries ~n ulp of E_base's round-off plus log2(n) products (n = 32: ~4e-15 relative).
constexpr int kMaxEtaPower = 32;

// Per-centre choice (ElementModel::triplet_plan): a centre takes the triplet list when its
// triplets over the moment groups, sum_g n1 n2 (n(n-1)/2 for one element), are at most
// kTripletCostRatio x their neighbours per side, sum_g (n1 + n2) (n), counted inside the moment
// cutoff. 5.5 reproduces the crossover measured with the Si student (triplets up to 12
// neighbours inside; benchmarks/README.md).
constexpr double kTripletCostRatio = 5.5;

struct CompactAngularGroup {
    int e1 = 0, e2 = 0;  // -1, -1: weighted (every pair, times w_c(Z_j) w_c(Z_k), c = channel)
    int channel = -1;
    bool narrow = false;  // compact_angular_narrow: each term times C_r(r_jk) (n2p2 types 21/24)
    double rc = 0.0;      // narrow: triplets with r_jk >= rc do not contribute either
    std::vector<int> out;
    std::vector<CompactFunction> radial, angular;  // angular in radians
};

struct ElementPlan {
    std::vector<CutoffFunction> cutoffs;
    // per cutoff entry: -1, or the weight channel c whose weight w_c(Z_j) multiplies fc(r_ij) and
    // fc'(r_ij) of neighbour j (weighted_radial: w_c(Z_j) fc(r_ij) is the per-neighbour factor
    // of the sum, so its groups need nothing else; weighted angular groups use unweighted
    // cutoffs and per-triplet weights, AngularGroup::channels)
    std::vector<int> cutoff_channel;
    std::vector<RadialGroup> radial;
    std::vector<CompactRadialGroup> compact_radial;
    std::vector<AngularGroup> angular;
    std::vector<CompactAngularGroup> compact_angular;
    double rc_max = 0.0;
};

struct ElementModel {
    std::string symbol;
    std::vector<SymmetryFunction> sfs;
    std::vector<Member> members;
    ElementPlan plan;
    // Per-centre choice (AtomKernel::gather): with `choose`, a centre is evaluated with
    // triplet_plan (the same functions with every angular group on the triplet list, cheaper
    // than moment tensors for few neighbours) when, counting neighbours closer than moment_rc
    // (the moment groups' largest cutoff) per element, its triplets over the moment groups'
    // element pairs (moment_pairs: e1, e2 per group; -1 = every element) are at most
    // kTripletCostRatio x its neighbours per side; or, when triplet_max_neighbors >= 0 (set by
    // KIZUNA_TRIPLET_MAX_NEIGHBORS), when at most that many neighbours are inside. No moment
    // group, or KIZUNA_ANGULAR_MOMENTS 0 / 1: always `plan`. Same values to round-off.
    ElementPlan triplet_plan;
    bool choose = false;
    double moment_rc = 0.0;
    std::vector<int> moment_pairs;
    int triplet_max_neighbors = -1;
    std::vector<double> extrapolation_min, extrapolation_max;  // union of the members' ranges
    int max_width = 0;                                          // widest network layer
};

class Model {
  public:
    static std::shared_ptr<const Model> parse(const std::string& text, const std::string& source);
    static std::shared_ptr<const Model> load(const std::string& path);

    int version = 1;
    std::map<std::string, std::string> meta;
    std::vector<std::string> elements;
    std::vector<ElementModel> element_models;
    int committee_size = 1;
    // element weights of the weighted symmetry-function kinds: num_channels per element,
    // channel_weights[element * num_channels + c] (docs/model-format.md, `channels`/`weights`)
    int num_channels = 0;
    std::vector<double> channel_weights;
    double cutoff = 0.0;   // largest rc of all symmetry functions (Å)
    int max_features = 0;  // largest number of symmetry functions of any element
    // "crc32:<hex>" when the file's checksum was verified; empty for a file without one (written
    // by an older kizuna: adapters may note that its integrity is not checked)
    std::string checksum;
    // a file from before 'angle_asymmetric' with asymmetric=1 compact angular functions (read with
    // their old meaning: both bumps asymmetric); adapters may note it for n2p2 imports
    bool legacy_angle_asymmetric = false;

    int num_elements() const { return static_cast<int>(elements.size()); }
    // true when some element uses a weighted symmetry-function kind
    bool has_weighted() const;
    // element index of a symbol, -1 if the model does not have it
    int element_index(const std::string& symbol) const;
};

// The bytes of a model file; ModelFormatError "<path>: is a directory ..." / "cannot open ...".
std::string read_model_text(const std::string& path);

// Builds the evaluation plan and derived scaling parameters (called by the parser).
void finalize_element(ElementModel& em, int num_elements);

}  // namespace kizuna
