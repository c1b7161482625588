// PackedModel: a Model flattened into a few arrays of plain structs, the layout the CUDA backend
// copies to the GPU once per model (and that the host reference in csrc/testing/packed_reference.hpp reads,
// so that the layout is tested without a GPU).
//
// For each centre element e (elements[e]):
//   cutoffs[first_cutoff ...]   its distinct cutoff functions (slot s of a neighbour at distance
//                               r stores fc_c(r), fc_c'(r) for each of them)
//   groups[first_group ...]     its symmetry functions grouped as in ElementPlan, in the order
//                               radial, compact radial, angular, compact angular; the functions
//                               of group g are functions[g.first .. g.first + g.count), angular
//                               ones sorted by exponential term (term index non-decreasing)
//                               element-weighted kinds (sf_kinds.hpp) weight the neighbours
//                               through their cutoff entries: entry c of a centre element
//                               multiplies fc_c and fc_c' of a neighbour of element e by
//                               cutoff_weights[(first_cutoff + c) * num_elements + e] (1 for
//                               plain entries), and their groups have e1 = e2 = -1 (every slot)
//   members[first_member + m]   committee member m: scaling x_f = offset + factor_f (G_f - shift_f),
//                               network layers[first_layer ...], energy = offset + scale * NN(x)
// Network layer l stores W (n_out x n_in, row-major), W^T (n_in x n_out) and b in `weights`
// (and the same values rounded to float in `weights_f`): the forward pass reads W^T, the
// backward pass W, so that neighbouring GPU threads read neighbouring numbers.
#pragma once

#include <cstdint>
#include <vector>

#include "kizuna/formulas.hpp"
#include "kizuna/model.hpp"

namespace kizuna {

enum class GroupKind : int {
    radial = 0,
    compact_radial = 1,
    angular_narrow = 2,
    angular_wide = 3,
    compact_angular = 4,
    compact_angular_narrow = 5  // compact angular times C_r(r_jk) (n2p2 types 21, 24)
};

// Groups whose triplets contribute only with r_jk < rc as well (accept_triplet's narrow test).
KZ_HD bool group_needs_rjk(int kind) {
    return kind == static_cast<int>(GroupKind::angular_narrow) ||
           kind == static_cast<int>(GroupKind::compact_angular_narrow);
}

// Parameters of one symmetry function in the arithmetic of one precision.
template <class Real>
struct FunctionParams {
    Real eta = 0, rs = 0, zeta = 1, lambda = 1, prefactor = 1;  // prefactor = 2^(1 - zeta)
};

struct PackedFunction {
    int out = 0;    // feature index among the centre element's features
    int term = 0;   // angular: exponential term (eta, rs) within the group; others: 0
    int izeta = -1; // integer zeta (angular factor by repeated multiplication) or -1
    int pad = 0;
    FunctionParams<double> d;  // double precision parameters
    FunctionParams<float> f;   // the same rounded to float (float32 mode)
    CompactFunction radial{CoreKind::poly2, false, 0, 0, 0, 0};   // compact kinds: radial bump (Å)
    CompactFunction angular{CoreKind::poly2, false, 0, 0, 0, 0};  // compact angular: bump in θ (rad)
};

template <class Real>
KZ_HD const FunctionParams<Real>& params(const PackedFunction& p);
template <>
KZ_HD const FunctionParams<double>& params<double>(const PackedFunction& p) { return p.d; }
template <>
KZ_HD const FunctionParams<float>& params<float>(const PackedFunction& p) { return p.f; }

struct PackedGroup {
    int kind = 0;         // GroupKind
    int e1 = 0, e2 = 0;   // neighbour elements (radial kinds: e2 = e1); e1 <= e2; -1: every slot
    int cutoff = -1;      // cutoff function, index among the centre element's cutoffs (-1: compact;
                          // weighted compact: a hard cutoff entry that carries the weights)
    int first = 0, count = 0;  // functions[first .. first + count)
    int pad = 0;
    double rc = 0.0;      // legs at r >= rc do not contribute (Å)
};

struct PackedElement {
    int num_features = 0;
    int first_cutoff = 0, num_cutoffs = 0;
    int first_group = 0, num_groups = 0;
    int first_member = 0;   // committee_size members
    int first_feature = 0;  // offset of this element's features in extrapolation_min/max
    int pad = 0;
    double rc_max = 0.0;    // neighbours at r >= rc_max are dropped (Å)
};

struct PackedLayer {
    int n_in = 0, n_out = 0;
    int activation = 0;  // Activation
    int pad = 0;
    int64_t w = 0, wt = 0, b = 0;  // offsets in weights / weights_f
};

struct PackedMember {
    int first_layer = 0, num_layers = 0;
    int64_t scaling = 0;  // offset of num_features shifts / factors in scale_shift / scale_factor
    double scale_offset = 0.0, energy_offset = 0.0, energy_scale = 1.0;
};

struct PackedModel {
    int num_elements = 0;
    int committee_size = 1;
    int max_features = 0;  // widest feature vector of any element
    int max_width = 0;     // widest layer input or output of any network
    int max_cutoffs = 0;   // most cutoff functions of one element
    int max_group_functions = 0;  // largest group
    double cutoff = 0.0;   // largest cutoff of the model (Å)

    std::vector<PackedElement> elements;
    std::vector<CutoffFunction> cutoffs;
    std::vector<double> cutoff_weights;  // num_elements per cutoff entry (see above)
    std::vector<PackedGroup> groups;
    std::vector<PackedFunction> functions;
    std::vector<PackedMember> members;  // element-major: elements[e].first_member + m
    std::vector<PackedLayer> layers;
    std::vector<double> weights;
    std::vector<float> weights_f;
    std::vector<double> scale_shift, scale_factor;
    std::vector<double> extrapolation_min, extrapolation_max;
};

// Flattens a validated model. Throws UnsupportedError for what the layout cannot hold (more than
// kMaxPackedElements elements, a neighbour shell that needs more than 65535 slots). A weighted
// angular group of the plan (all channels of one cutoff) becomes one packed group per channel,
// each with a cutoff entry of its own that carries the channel's weights: the triplet weight
// w_c(Z_j) w_c(Z_k) is then part of fc_j fc_k, and fc' carries it into the gradient (w is
// constant per neighbour), so the kernels need no weight arithmetic of their own.
PackedModel pack_model(const Model& model);

constexpr int kMaxPackedElements = 31;  // one GPU lane per element in the neighbour sort

}  // namespace kizuna
