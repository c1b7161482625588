// The symmetry-function kinds of kizuna, one table. Everything that lists the kinds is generated
// from KIZUNA_SF_KINDS: the enum SFKind, the kind names and parameter lists of the model-file
// reader (model_reader.cpp), the predicates of SymmetryFunction (model.hpp), the table that the
// Python front end reads through kizuna._core.sf_kinds() (python/kizuna/model.py: SF_KINDS,
// SF_PARAMETERS, WEIGHTED_KINDS, ... and the n2p2 importer's type numbers).
//
// Each kind belongs to a family, the evaluation it shares with the other kinds of the family
// (the plan group it joins in model_plan.cpp and the formulas of sf_formulas.hpp):
//   radial           G = sum_j [w_c(Z_j)] exp(-eta (r_j - rs)^2) fc(r_j)
//   angular_narrow   G = sum_{j<k} [w_c(Z_j) w_c(Z_k)] A(c) E(r_j) E(r_k) E(r_jk) fc_j fc_k fc_jk
//   angular_wide     the same without the r_jk factors
//   compact_radial   G = sum_j [w_c(Z_j)] C_r(r_j)
//   compact_angular  G = sum_{j<k} [w_c(Z_j) w_c(Z_k)] C_r(r_j) C_r(r_k) C_a(theta)
//   compact_angular_narrow  the same times C_r(r_jk) (n2p2's SymFncCompAngn, types 21/24)
// `weighted` kinds sum over every neighbour with the element weights of a channel (no neighbour
// elements in the file, a `channel` parameter instead). A new kind that is a new combination
// of a family and weighting needs only a line here (and its documentation); a new family needs
// its formulas, a plan group and the passes (docs/design.md, "Adding a symmetry-function kind").
#pragma once

namespace kizuna {

enum class SFFamily : int {
    radial,
    angular_narrow,
    angular_wide,
    compact_radial,
    compact_angular,
    compact_angular_narrow  // names in bindings.cpp (kizuna._core.sf_kinds)
};

// X(kind, family, weighted, n2p2 type (0: none), "parameters in file order")
#define KIZUNA_SF_KINDS(X)                                                                                   \
    X(radial, radial, false, 2, "eta rs rc cutoff alpha")                                                    \
    X(angular_narrow, angular_narrow, false, 3, "eta rs zeta lambda rc cutoff alpha")                         \
    X(angular_wide, angular_wide, false, 9, "eta rs zeta lambda rc cutoff alpha")                             \
    X(compact_radial, compact_radial, false, 20, "rl rc core asymmetric")                                    \
    X(compact_angular_wide, compact_angular, false, 22,                                                      \
      "rl rc angle_left angle_right core asymmetric angle_asymmetric")                                       \
    X(weighted_radial, radial, true, 12, "channel eta rs rc cutoff alpha")                                   \
    X(weighted_angular_narrow, angular_narrow, true, 13, "channel eta rs zeta lambda rc cutoff alpha")        \
    X(weighted_angular_wide, angular_wide, true, 0, "channel eta rs zeta lambda rc cutoff alpha")             \
    X(weighted_compact_radial, compact_radial, true, 23, "channel rl rc core asymmetric")                    \
    X(weighted_compact_angular_wide, compact_angular, true, 25,                                              \
      "channel rl rc angle_left angle_right core asymmetric angle_asymmetric")                               \
    X(compact_angular_narrow, compact_angular_narrow, false, 21,                                             \
      "rl rc angle_left angle_right core asymmetric angle_asymmetric")                                       \
    X(weighted_compact_angular_narrow, compact_angular_narrow, true, 24,                                     \
      "channel rl rc angle_left angle_right core asymmetric angle_asymmetric")

enum class SFKind : int {
#define KZ_SF_ENUM(kind, family, weighted, n2p2, parameters) kind,
    KIZUNA_SF_KINDS(KZ_SF_ENUM)
#undef KZ_SF_ENUM
};

struct SFKindInfo {
    const char* name;        // in the model file
    SFFamily family;
    bool weighted;
    int n2p2_type;           // n2p2's symmetry-function type number, 0 if none
    const char* parameters;  // the parameters it reads, in file order, separated by spaces
};

constexpr SFKindInfo kSFKinds[] = {
#define KZ_SF_INFO(kind, family, weighted, n2p2, parameters) {#kind, SFFamily::family, weighted, n2p2, parameters},
    KIZUNA_SF_KINDS(KZ_SF_INFO)
#undef KZ_SF_INFO
};
constexpr int kNumSFKinds = static_cast<int>(sizeof(kSFKinds) / sizeof(kSFKinds[0]));

constexpr const SFKindInfo& sf_kind_info(SFKind kind) { return kSFKinds[static_cast<int>(kind)]; }
constexpr bool family_angular(SFFamily f) { return f != SFFamily::radial && f != SFFamily::compact_radial; }
constexpr bool family_compact_angular(SFFamily f) {
    return f == SFFamily::compact_angular || f == SFFamily::compact_angular_narrow;
}
constexpr bool family_compact(SFFamily f) { return f == SFFamily::compact_radial || family_compact_angular(f); }

}  // namespace kizuna
