// AtomKernel: symmetry functions of one central atom and their derivatives.
//
// For centre i the kernel gathers the neighbours within the element's largest cutoff, sorted
// by element (one contiguous block per element, structure-of-arrays) and inside a block by
// bucket of r between the moment groups' smaller cutoffs (the slots within such a cutoff are a
// prefix of the block), then:
//   values()   G_s and, for every angular group, a compact list of the contributing triplets
//              with their per-triplet quantities (cos, r_jk, cutoffs, exponentials, angular
//              factors) stored as arrays over triplets, so that every loop vectorises;
//   adjoint()  grad_j = dE_i/dr_ij = sum_s beta_s dG_s/dr_ij for every neighbour slot j
//              (two-pass adjoint: dG/dr is never stored, only beta is contracted);
//   tangent()  dG_s = sum_j dG_s/dr_ij . dr_ij (directional derivative, for training).
// Buffers live in the kernel and grow; nothing is allocated once they are large enough.
#pragma once

#include <vector>

#include "kizuna/model.hpp"
#include "kizuna/potential.hpp"

namespace kizuna {

class AtomKernel {
  public:
    explicit AtomKernel(const Model& model);

    // Collect the neighbours of centre ii, whose element is `species`.
    void gather(const AtomsView& atoms, const NeighborView& nb, int ii, int species);
    void values();                                // -> G()
    // beta over this element's features -> grad of output block `channel` (committee members
    // get one block each; blocks of earlier calls are kept)
    void adjoint(const double* beta, int channel = 0);
    void tangent(const double* dr, double* dG);   // dr: 3 per slot (x, y, z); dG: features
    // block `target` = mean of blocks 0 .. channels-1 (committee mean of the member gradients)
    void average_channels(int channels, int target);

    // scratch owned by the kernel (grown, never shrunk): member betas, tangent displacements
    std::vector<double>& member_scratch(size_t n) {
        if (member_scratch_.size() < n) member_scratch_.resize(n);
        return member_scratch_;
    }

    int num_features() const { return n_features_; }
    int num_neighbors() const { return n_; }
    const double* G() const { return G_.data(); }
    double* scratch_beta() { return beta_.data(); }  // dE/dG of this centre (max_features)
    // gradient dE_i/dr_ij of every slot (block `channel`) and the vectors r_ij
    const double* gx(int channel = 0) const { return gx_.data() + static_cast<size_t>(channel) * n_; }
    const double* gy(int channel = 0) const { return gy_.data() + static_cast<size_t>(channel) * n_; }
    const double* gz(int channel = 0) const { return gz_.data() + static_cast<size_t>(channel) * n_; }
    const double* rx() const { return x_.data(); }
    const double* ry() const { return y_.data(); }
    const double* rz() const { return z_.data(); }
    int neighbor_atom(int slot) const { return atom_[slot]; }

  private:
    // per angular group: the triplet list and per-triplet arrays (each `stride` long)
    struct Region {
        size_t T = 0, stride = 0;
        size_t ints = 0;     // offset in tint_: j[stride], k[stride]
        size_t doubles = 0;  // offset in tdbl_: c, rjk, fcjk, dfcjk, fc3, E[nt], A[nf], dA[nf], W[nch]
    };
    enum { kC = 0, kRjk, kFcjk, kDfcjk, kFc3, kFixed };

    void radial_values(const RadialGroup& g, int gi);
    void compact_radial_values(const CompactRadialGroup& g);
    void angular_values(const AngularGroup& g, int gi);
    void compact_angular_values(const CompactAngularGroup& g);
    void compact_narrow_values(const CompactAngularGroup& g);  // CompactAngularGroup::narrow
    void radial_adjoint(const RadialGroup& g, int gi, const double* beta);
    void compact_radial_adjoint(const CompactRadialGroup& g, const double* beta);
    void angular_adjoint(const AngularGroup& g, int gi, const double* beta);
    void narrow_adjoint(const AngularGroup& g, int gi, const double* beta);
    void compact_angular_adjoint(const CompactAngularGroup& g, const double* beta);
    void compact_narrow_adjoint(const CompactAngularGroup& g, const double* beta);
    double* out_x_ = nullptr;  // output block of the adjoint in progress
    double* out_y_ = nullptr;
    double* out_z_ = nullptr;
    void radial_tangent(const RadialGroup& g, const double* drs, double* dG);
    void compact_radial_tangent(const CompactRadialGroup& g, const double* drs, double* dG);
    void angular_tangent(const AngularGroup& g, int gi, const double* dr, double* dG);
    void compact_angular_tangent(const CompactAngularGroup& g, const double* dr, double* dG);
    void compact_narrow_tangent(const CompactAngularGroup& g, const double* dr, double* dG);
    // plain wide groups of integer zeta <= kMaxMomentDegree (AngularGroup::moments), by moment
    // tensors over the neighbours instead of triplets (angular_moments.cpp)
    void moment_monomials(int degree);
    void moment_values(const AngularGroup& g, int gi);
    void moment_adjoint(const AngularGroup& g, int gi, const double* beta);
    void moment_tangent(const AngularGroup& g, int gi, const double* dr, double* dG);
    // weighted wide groups (channels) of integer zeta <= kMaxMomentDegree: per-element moments
    // combined per channel (angular_moments.cpp); moment_storage: doubles at mom_m_ of a group
    void weighted_moment_values(const AngularGroup& g, int gi);
    void weighted_moment_adjoint(const AngularGroup& g, int gi, const double* beta);
    void weighted_moment_tangent(const AngularGroup& g, int gi, const double* dr, double* dG);
    size_t moment_storage(const AngularGroup& g) const;
    void place_region(int gi, size_t T);
    // the stored per-triplet arrays of angular group gi (values()), as read by the adjoints
    struct TripletArrays {
        int nT, nt, nf, nch;
        size_t S;  // stride of every array (a multiple of 8)
        const int *j, *k;
        const double *c, *rjk, *fcjk, *dfcjk, *fc3, *E, *A, *dA, *W;
    };
    TripletArrays triplet_arrays(const AngularGroup& g, int gi) const;
    // beta of every member of g and the offset of its factor's arrays (mcoef_, moff_)
    void member_coefficients(const AngularGroup& g, size_t S, const double* beta);
    // a_t and a_t' of both sides of a moment or pair group (side-local, zero padded)
    void side_terms(const AngularGroup& g, int gi);
    // plain wide groups of the other factors (AngularGroup::pairs): one fused loop over pairs
    void pair_values(const AngularGroup& g, int gi);
    void pair_adjoint(const AngularGroup& g, int gi, const double* beta);
    void pair_tangent(const AngularGroup& g, int gi, const double* dr, double* dG);
    std::vector<double> pair_work_;
    // slots of neighbour element e: lo(e) .. hi(e); e = -1 (weighted kinds): all neighbours
    int lo(int e) const { return e < 0 ? 0 : begin_[e]; }
    int hi(int e) const { return e < 0 ? n_ : begin_[e + 1]; }
    // end of the slots of element e inside cutoff c (r < rc; a prefix of the block for the moment
    // groups' cutoffs): lo(e) .. hi_in(e, c) hold every slot with fc != 0; e = -1: all (n_)
    int hi_in(int e, int c) const {
        return e < 0 ? n_ : begin_[e] + ncut_[static_cast<size_t>(c) * model_.num_elements() + e];
    }
    // slots of block e inside cutoff c
    int len_in(int e, int c) const { return ncut_[static_cast<size_t>(c) * model_.num_elements() + e]; }
    // w_c(Z_j) of slot j in channel c; 1 for c = -1 (plain kinds)
    double weight(int c, int j) const { return c < 0 ? 1.0 : w_[static_cast<size_t>(c) * n_ + j]; }
    double cosine(int j, int k) const { return ux_[j] * ux_[k] + uy_[j] * uy_[k] + uz_[j] * uz_[k]; }

    const Model& model_;
    const ElementModel* em_ = nullptr;
    const ElementPlan* plan_ = nullptr;  // em_->plan or, per centre, em_->triplet_plan (gather)
    int n_features_ = 0;
    int n_ = 0;

    // neighbours sorted by element (then by r bucket): r_ij = (x, y, z), r, 1/r, unit vector, atom index
    std::vector<double> x_, y_, z_, r_, ir_, ux_, uy_, uz_;
    std::vector<int> atom_;
    std::vector<int> begin_;  // slots of element e: begin_[e] .. begin_[e+1]
    std::vector<int> ncut_;   // [c * ne + e]: slots of block e with r < rc of cutoff c
    std::vector<double> tmp_r_;  // gather: r of every unsorted entry
    std::vector<int> order_, key_, bucket_, bucket_start_;  // gather: unsorted entry of every slot, sort keys, bucket sizes
    // at most this many (element, r bucket) pairs: the gather sorts by one compress pass per bucket
    static constexpr int kCompressBuckets = 4;
    // radii splitting the element blocks (the moment groups' cutoffs below rc_max, ascending)
    // and per cutoff of the plan whether it is one of them
    struct SplitRadii {
        const ElementPlan* plan = nullptr;
        std::vector<double> radii;
        std::vector<int> split;  // per cutoff: -1, or q when its rc is radii[q] (split there)
    };
    std::vector<SplitRadii> split_;
    const SplitRadii& split_radii(int species, bool triplets);
    [[noreturn]] void report_bad_pair(const AtomsView& atoms, const NeighborView& nb, int ii) const;
    std::vector<double> tmp_;  // unsorted gather buffer (x, y, z per entry)
    std::vector<int> tmp_atom_, tmp_elem_, count_;
    std::vector<int> inside_;  // gather: neighbours of each element inside the moment cutoff
    std::vector<double> fc_, dfc_;  // per cutoff function of the element: [c * n + slot]
    std::vector<double> w_;         // weight of every channel: [c * n + slot]
    std::vector<double> ex_;        // per angular group: [pair_offset_[g] + t * n + slot]
    std::vector<size_t> pair_offset_;
    std::vector<Region> regions_;
    std::vector<int> tint_;
    std::vector<double> tdbl_;
    std::vector<int> cand_j_, cand_k_;  // triplet candidates during list building
    std::vector<double> cand_r2_;
    // narrow groups, per candidate: cos(theta_jik), fc(r_j) fc(r_k), (r_j-rs)^2 + (r_k-rs)^2 (+ (r_jk-rs)^2 later)
    std::vector<double> cand_c_, cand_f2_, cand_s_;
    std::vector<double> work_;           // adjoint temporaries (per triplet)
    std::vector<double> hslot_;  // narrow_adjoint: fc'(r)/r per slot of the group's cutoff
    std::vector<double> quad_;   // narrow_adjoint: slot positions and gradients as (x, y, z, 0)
    std::vector<double> mcoef_;          // adjoint: beta of every member of the group
    std::vector<size_t> moff_;           // adjoint: offset of every member's factor arrays
    std::vector<double> G_, beta_;
    std::vector<double> gx_, gy_, gz_, dEdr_;
    // radial groups: E_s(r_j) of every member and slot of the group's block, kept from values()
    // for the adjoint: group r at rad_off_[r], [s * pad8(block) + slot - lo]; lane sums
    std::vector<double> rad_ex_, rad_acc_;
    std::vector<size_t> rad_off_;
    std::vector<double> member_scratch_;
    // moment groups. Monomials u^(a,b,c) of degree n = a+b+c <= mono_degree_, flat index q
    // (degree by degree), per slot: mono_[q * n_ + slot]; tables per q: exponents, multinomial
    // n!/(a! b! c!), parent index of (a-1,b,c), (a,b-1,c), (a,b,c-1) (-1 if none)
    struct Monomial {
        int a, b, c, n;
        double mult;
        int px, py, pz;
    };
    std::vector<Monomial> mono_table_;
    int mono_degree_ = -1;
    std::vector<double> mono_;
    int mono_stride_ = 0;  // pad8(n) + 8, zeros beyond n
    // per moment group, side 1 (slots of e1) and side 2 (e2), in side-local slots l = j - lo
    // padded with zeros to L = pad8(n) + 8: a_t(r_j) = ex_t(r_j) fc(r_j) at [(side * nt + t) * L + l],
    // a_t'(r_j) at [(2 + side) * nt + t) * L + l]; moments M_t[q] = sum_j a_t(r_j) u_j^q
    // at mom_m_ + (side * nt + t) * K + q
    std::vector<size_t> mom_a_, mom_m_;
    std::vector<int> mom_share_;  // group whose a_t arrays this one reuses, or -1
    std::vector<double> mom_;
    std::vector<double> mom_work_;
};

}  // namespace kizuna
