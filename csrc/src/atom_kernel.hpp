// AtomKernel: symmetry functions of one central atom and their derivatives.
//
// For centre i the kernel gathers the neighbours within the element's largest cutoff, sorted
// by element (one contiguous block per element), then:
//   values()   G_s and, for angular groups, a cache of every contributing triplet;
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

    // Collect neighbours of centre ii (element `species`). Returns false if the centre is not
    // handled by the model (species < 0).
    void gather(const AtomsView& atoms, const NeighborView& nb, int ii, int species);
    void values();                          // -> G()
    void adjoint(const double* beta);       // beta over this element's features -> grad()
    void tangent(const double* dr, double* dG);  // dr: 3 per slot; dG: this element's features

    // Network of one member: returns NN(x) and dNN/dx (x = scaled G).
    double network(const Member& member, const double* x, double* dydx);

    int species() const { return species_; }
    int num_features() const { return n_features_; }
    int num_neighbors() const { return n_; }
    const double* G() const { return G_.data(); }
    double* scratch_x() { return x_.data(); }
    double* scratch_beta() { return beta_.data(); }
    double* scratch_dydx() { return dydx_.data(); }
    const double* grad() const { return grad_.data(); }
    int neighbor_atom(int slot) const { return atom_[slot]; }
    const double* rvec(int slot) const { return &d_[3 * slot]; }

  private:
    void radial_values(const RadialGroup& g);
    void compact_radial_values(const CompactRadialGroup& g);
    void angular_values(const AngularGroup& g, int gi);
    void compact_angular_values(const CompactAngularGroup& g);
    void radial_adjoint(const RadialGroup& g, const double* beta);
    void compact_radial_adjoint(const CompactRadialGroup& g, const double* beta);
    void angular_adjoint(const AngularGroup& g, int gi, const double* beta);
    void compact_angular_adjoint(const CompactAngularGroup& g, const double* beta);
    void radial_tangent(const RadialGroup& g, const double* dr, double* dG);
    void compact_radial_tangent(const CompactRadialGroup& g, const double* dr, double* dG);
    void angular_tangent(const AngularGroup& g, int gi, const double* dr, double* dG);
    void compact_angular_tangent(const CompactAngularGroup& g, const double* dr, double* dG);

    const Model& model_;
    const ElementModel* em_ = nullptr;
    int species_ = -1;
    int n_features_ = 0;
    int n_ = 0;  // neighbours of the current centre

    // neighbours, sorted by element: relative vector d (3 per slot), r, 1/r, atom index
    std::vector<double> d_, r_, inv_r_;
    std::vector<int> atom_;
    std::vector<int> begin_;  // slots of element e: begin_[e] .. begin_[e+1]
    // unsorted gather buffers
    std::vector<double> tmp_d_;
    std::vector<int> tmp_atom_, tmp_elem_, count_;
    // cutoff values per cutoff function of the element: fc_[c * n + slot]
    std::vector<double> fc_, dfc_;
    // per angular group: exponential terms at r_ij, ex_[pair_offset_[g] + t * n + slot]
    std::vector<double> ex_;
    std::vector<size_t> pair_offset_;
    // per angular group triplet cache: pairs (j, k) and, for narrow groups, r_jk quantities
    std::vector<int> tj_, tk_;
    std::vector<double> tc_, trjk_, tfc_, tdfc_, tex_;  // tex_: triplet * n_terms + t
    std::vector<size_t> trip_begin_, trip_ex_begin_;
    // features and network buffers
    std::vector<double> G_, x_, beta_, dydx_, act_, dact_, back_;
    std::vector<double> grad_;
    // small per-triplet buffers
    std::vector<double> fa_, fda_, et_, wt_, st_;
};

}  // namespace kizuna
