// Serial host evaluation of a PackedModel in the CUDA kernels' order (packed_reference.hpp).
// Each step names the kernel it mirrors (csrc/cuda/*.cu); the arithmetic is packed_math.hpp.
#include "packed_reference.hpp"

#include <algorithm>
#include <cmath>

#include "kizuna/errors.hpp"
#include "kizuna/packed_math.hpp"

namespace kizuna {
namespace {

template <class Real>
const Real* weights_of(const PackedModel& pm);
template <>
const double* weights_of<double>(const PackedModel& pm) { return pm.weights.data(); }
template <>
const float* weights_of<float>(const PackedModel& pm) { return pm.weights_f.data(); }

// The cutoff function of a group (compact kinds have none: a placeholder never evaluated).
const CutoffFunction& group_cutoff(const PackedModel& pm, const PackedElement& el, const PackedGroup& g) {
    static const CutoffFunction none{CutoffKind::hard, 0.0, 0.0, 0.0, 0.0};
    return g.cutoff >= 0 ? pm.cutoffs[el.first_cutoff + g.cutoff] : none;
}

// Slot storage of one centre (the GPU keeps it in shared memory, one region per warp).
template <class Real>
struct SlotStore {
    std::vector<Real> data;
    std::vector<int> atom;
    std::vector<int> begin;  // per neighbour element, + 1
    Slots<Real> view{};

    void resize(int cap, int nc) {
        data.assign(static_cast<size_t>(cap) * (8 + 2 * nc), Real(0));
        atom.assign(cap, -1);
        Real* p = data.data();
        Real** fields[] = {&view.x, &view.y, &view.z, &view.ux, &view.uy, &view.uz, &view.r, &view.ir};
        for (Real** f : fields) {
            *f = p;
            p += cap;
        }
        view.fc = p;
        view.dfc = p + static_cast<size_t>(nc) * cap;
        view.stride = cap;
    }
};

// descriptor_kernel.cu / force_kernel.cu: warp_gather
template <class Real>
int gather(const PackedModel& pm, const AtomsView& atoms, const std::vector<int>& species, const NeighborPack& nb,
           int ii, int i, SlotStore<Real>& st) {
    const PackedElement& el = pm.elements[species[i]];
    const double rc2 = el.rc_max * el.rc_max;
    const int count = nb.counts[ii];
    const int64_t off = nb.offsets[ii];
    const double* xi = atoms.positions + 3 * static_cast<size_t>(i);
    struct Entry { int j, e; double dx, dy, dz, r2; };
    std::vector<Entry> kept;
    for (int e = 0; e < count; ++e) {
        const int j = nb.indices[off + e];
        const int sj = species[j];
        if (sj < 0) continue;
        const double* xj = atoms.positions + 3 * static_cast<size_t>(j);
        double dx = xj[0] - xi[0], dy = xj[1] - xi[1], dz = xj[2] - xi[2];
        if (nb.shifts) {
            dx += nb.shifts[3 * (off + e)];
            dy += nb.shifts[3 * (off + e) + 1];
            dz += nb.shifts[3 * (off + e) + 2];
        }
        const double r2 = dx * dx + dy * dy + dz * dz;
        const int cls = classify_neighbor(r2, rc2);
        if (cls < 0) throw_gather_error(-cls, i, j, r2);
        if (cls == 1) kept.push_back({j, sj, dx, dy, dz, r2});
    }
    const int n = static_cast<int>(kept.size());
    st.resize(std::max(n, 1), el.num_cutoffs);
    st.begin.assign(pm.num_elements + 1, 0);
    for (const Entry& k : kept) ++st.begin[k.e + 1];
    for (int e = 0; e < pm.num_elements; ++e) st.begin[e + 1] += st.begin[e];
    std::vector<int> fill(st.begin.begin(), st.begin.end() - 1);
    const CutoffFunction* cut = pm.cutoffs.data() + el.first_cutoff;
    const double* cut_weights = pm.cutoff_weights.data() + static_cast<size_t>(el.first_cutoff) * pm.num_elements;
    for (const Entry& k : kept) {  // stable: list order within each element, as the GPU
        const int s = fill[k.e]++;
        fill_slot(st.view, s, k.dx, k.dy, k.dz, k.r2, cut, el.num_cutoffs, cut_weights, pm.num_elements, k.e);
        st.atom[s] = k.j;
    }
    return n;
}

// Calls f(j, k) for every contributing triplet of group g (GPU: compacted over a warp's lanes).
template <class Real, class F>
void for_each_triplet(const PackedGroup& g, const SlotStore<Real>& st, int ne, F&& f) {
    const bool narrow = group_needs_rjk(g.kind);  // r_jk < rc too
    const bool same = g.e1 == g.e2;
    int b1, e1, b2, e2;
    slot_range(st.begin.data(), g.e1, ne, b1, e1);
    slot_range(st.begin.data(), g.e2, ne, b2, e2);
    const int n1 = e1 - b1, n2 = e2 - b2;
    const int np = pair_count(n1, n2, same);
    for (int p = 0; p < np; ++p) {
        int a, b;
        pair_of_index(p, n1, n2, same, a, b);
        const int j = b1 + a, k = b2 + b;
        if (accept_triplet(st.view, j, k, Real(g.rc), narrow)) f(j, k);
    }
}

// descriptor_kernel.cu: G of one centre
template <class Real>
void values(const PackedModel& pm, const PackedElement& el, const SlotStore<Real>& st, double* G) {
    const Slots<Real>& s = st.view;
    for (int gi = el.first_group; gi < el.first_group + el.num_groups; ++gi) {
        const PackedGroup& g = pm.groups[gi];
        const GroupKind kind = static_cast<GroupKind>(g.kind);
        const bool narrow = kind == GroupKind::angular_narrow;
        const CutoffFunction& cut = group_cutoff(pm, el, g);
        for (int c0 = 0; c0 < g.count; c0 += kValueChunk) {
            const PackedFunction* fn = pm.functions.data() + g.first + c0;
            const int nc = std::min(kValueChunk, g.count - c0);
            double acc[kValueChunk] = {};
            // weighted compact groups: the weight of slot j is fc of their unit cutoff entry
            auto weight = [&](int j) { return g.cutoff >= 0 ? s.fc[g.cutoff * s.stride + j] : Real(1); };
            if (kind == GroupKind::radial || kind == GroupKind::compact_radial) {
                int j0, j1;
                slot_range(st.begin.data(), g.e1, pm.num_elements, j0, j1);
                for (int j = j0; j < j1; ++j) {
                    if (kind == GroupKind::radial)
                        radial_values<kValueChunk>(fn, nc, s.r[j], s.fc[g.cutoff * s.stride + j], acc);
                    else
                        compact_radial_values<kValueChunk>(fn, nc, s.r[j], weight(j), acc);
                }
            } else if (kind == GroupKind::compact_angular) {
                for_each_triplet(g, st, pm.num_elements, [&](int j, int k) {
                    const Real c = s.ux[j] * s.ux[k] + s.uy[j] * s.uy[k] + s.uz[j] * s.uz[k];
                    compact_angular_values<kValueChunk>(fn, nc, s.r[j], s.r[k], c, weight(j) * weight(k), acc);
                });
            } else if (kind == GroupKind::compact_angular_narrow) {
                for_each_triplet(g, st, pm.num_elements, [&](int j, int k) {
                    const Real c = s.ux[j] * s.ux[k] + s.uy[j] * s.uy[k] + s.uz[j] * s.uz[k];
                    compact_narrow_values<kValueChunk>(fn, nc, s, j, k, c, weight(j) * weight(k), acc);
                });
            } else {
                for_each_triplet(g, st, pm.num_elements, [&](int j, int k) {
                    const Triplet<Real> t = triplet_geometry(s, j, k, narrow, cut);
                    const Real fc3 = s.fc[g.cutoff * s.stride + j] * s.fc[g.cutoff * s.stride + k] * t.fcjk;
                    angular_values<kValueChunk>(fn, nc, narrow, s.r[j], s.r[k], t, fc3, acc);
                });
            }
            for (int m = 0; m < nc; ++m) G[fn[m].out] += acc[m];
        }
    }
}

// network_kernel.cu: one member's network; returns NN(x), writes dNN/dx (Real arithmetic)
template <class Real>
double network(const PackedModel& pm, const PackedMember& mem, const Real* x, Real* dydx) {
    const Real* W = weights_of<Real>(pm);
    const int L = mem.num_layers;
    const size_t width = static_cast<size_t>(pm.max_width);
    std::vector<Real> act((L + 1) * width, Real(0)), dact(L * width, Real(0)), g(width), gp(width);
    std::copy(x, x + pm.layers[mem.first_layer].n_in, act.begin());
    for (int l = 0; l < L; ++l) {
        const PackedLayer& layer = pm.layers[mem.first_layer + l];
        const Real* in = act.data() + l * width;
        Real* out = act.data() + (l + 1) * width;
        for (int o = 0; o < layer.n_out; ++o) {  // GPU: lane o
            Real z = W[layer.b + o];
            for (int i = 0; i < layer.n_in; ++i) z += W[layer.wt + static_cast<int64_t>(i) * layer.n_out + o] * in[i];
            activation_fdf(static_cast<Activation>(layer.activation), z, out[o], dact[l * width + o]);
        }
    }
    const double y = double(act[L * width]);
    g[0] = Real(1);
    for (int l = L - 1; l >= 0; --l) {
        const PackedLayer& layer = pm.layers[mem.first_layer + l];
        for (int i = 0; i < layer.n_in; ++i) {  // GPU: lane i
            Real sum = Real(0);
            for (int o = 0; o < layer.n_out; ++o)
                sum += g[o] * dact[l * width + o] * W[layer.w + static_cast<int64_t>(o) * layer.n_in + i];
            gp[i] = sum;
        }
        std::swap(g, gp);
    }
    std::copy(g.begin(), g.begin() + pm.layers[mem.first_layer].n_in, dydx);
    return y;
}

// force_kernel.cu: dE/dr_ij of every slot from beta
template <class Real>
void gradient(const PackedModel& pm, const PackedElement& el, const SlotStore<Real>& st, const Real* beta, int n,
              std::vector<double>& grad) {
    const Slots<Real>& s = st.view;
    grad.assign(3 * static_cast<size_t>(n), 0.0);
    for (int gi = el.first_group; gi < el.first_group + el.num_groups; ++gi) {
        const PackedGroup& g = pm.groups[gi];
        const GroupKind kind = static_cast<GroupKind>(g.kind);
        const bool narrow = kind == GroupKind::angular_narrow;
        const CutoffFunction& cut = group_cutoff(pm, el, g);
        const PackedFunction* fn = pm.functions.data() + g.first;
        auto weight = [&](int j) { return g.cutoff >= 0 ? s.fc[g.cutoff * s.stride + j] : Real(1); };
        if (kind == GroupKind::radial || kind == GroupKind::compact_radial) {
            int j0, j1;
            slot_range(st.begin.data(), g.e1, pm.num_elements, j0, j1);
            for (int j = j0; j < j1; ++j) {
                const Real d = kind == GroupKind::radial
                                   ? radial_gradient(fn, g.count, beta, s.r[j], s.fc[g.cutoff * s.stride + j],
                                                     s.dfc[g.cutoff * s.stride + j])
                                   : compact_radial_gradient(fn, g.count, beta, s.r[j], weight(j));
                grad[3 * j] += double(d * s.ux[j]);
                grad[3 * j + 1] += double(d * s.uy[j]);
                grad[3 * j + 2] += double(d * s.uz[j]);
            }
            continue;
        }
        for_each_triplet(g, st, pm.num_elements, [&](int j, int k) {
            Real gj[3], gk[3];
            if (kind == GroupKind::compact_angular) {
                const Real c = s.ux[j] * s.ux[k] + s.uy[j] * s.uy[k] + s.uz[j] * s.uz[k];
                compact_angular_gradient(fn, g.count, beta, s, j, k, c, weight(j) * weight(k), gj, gk);
            } else if (kind == GroupKind::compact_angular_narrow) {
                const Real c = s.ux[j] * s.ux[k] + s.uy[j] * s.uy[k] + s.uz[j] * s.uz[k];
                compact_narrow_gradient(fn, g.count, beta, s, j, k, c, weight(j) * weight(k), gj, gk);
            } else {
                const Triplet<Real> t = triplet_geometry(s, j, k, narrow, cut);
                angular_gradient(fn, g.count, beta, narrow, s, g.cutoff, j, k, t, gj, gk);
            }
            for (int a = 0; a < 3; ++a) {
                grad[3 * j + a] += double(gj[a]);
                grad[3 * k + a] += double(gk[a]);
            }
        });
    }
}

template <class Real>
void evaluate(const PackedModel& pm, const AtomsView& atoms, const NeighborPack& nb, PackedReferenceResult& out) {
    std::vector<int> species;
    pack_species(atoms, species);
    const int nf_max = pm.max_features, M = pm.committee_size;
    const size_t rows = static_cast<size_t>(nb.num_centres) * nf_max;
    out = PackedReferenceResult{};
    out.forces.assign(3 * static_cast<size_t>(atoms.num_atoms), 0.0);
    out.G.assign(rows, 0.0);
    out.beta.assign(rows, 0.0);
    out.atom_energies.assign(nb.num_centres, 0.0);
    out.member_energies.assign(M, 0.0);
    SlotStore<Real> st;
    std::vector<double> grad;
    std::vector<Real> x(nf_max), dydx(nf_max), beta_r(nf_max);
    for (int ii = 0; ii < nb.num_centres; ++ii) {
        const int i = nb.centres ? nb.centres[ii] : ii;
        if (species[i] < 0) continue;
        const PackedElement& el = pm.elements[species[i]];
        const int n = gather(pm, atoms, species, nb, ii, i, st);
        double* G = out.G.data() + static_cast<size_t>(ii) * nf_max;
        double* beta = out.beta.data() + static_cast<size_t>(ii) * nf_max;
        values(pm, el, st, G);
        double Ei = 0.0;
        for (int m = 0; m < M; ++m) {
            const PackedMember& mem = pm.members[el.first_member + m];
            for (int f = 0; f < el.num_features; ++f)
                x[f] = scaled_feature<Real>(G[f], pm.scale_shift[mem.scaling + f], pm.scale_factor[mem.scaling + f],
                                            mem.scale_offset);
            const double y = network(pm, mem, x.data(), dydx.data());
            const double Em = mem.energy_offset + mem.energy_scale * y;
            out.member_energies[m] += Em;
            Ei += Em;
            for (int f = 0; f < el.num_features; ++f)
                beta[f] += mem.energy_scale / M * double(dydx[f]) * pm.scale_factor[mem.scaling + f];
        }
        Ei /= M;
        out.atom_energies[ii] = Ei;
        out.energy += Ei;
        for (int f = 0; f < el.num_features; ++f) beta_r[f] = Real(beta[f]);
        gradient(pm, el, st, beta_r.data(), n, grad);
        for (int s = 0; s < n; ++s) {  // scatter: F_j -= g, F_i += g, W -= r_ij (x) g
            const double g[3] = {grad[3 * s], grad[3 * s + 1], grad[3 * s + 2]};
            const double r[3] = {double(st.view.x[s]), double(st.view.y[s]), double(st.view.z[s])};
            for (int a = 0; a < 3; ++a) {
                out.forces[3 * static_cast<size_t>(st.atom[s]) + a] -= g[a];
                out.forces[3 * static_cast<size_t>(i) + a] += g[a];
                for (int b = 0; b < 3; ++b) out.virial9[3 * a + b] -= r[a] * g[b];
            }
        }
    }
}

}  // namespace

void packed_reference(const PackedModel& model, const AtomsView& atoms, const NeighborPack& neighbors,
                      Precision precision, PackedReferenceResult& out) {
    if (precision == Precision::float32)
        evaluate<float>(model, atoms, neighbors, out);
    else
        evaluate<double>(model, atoms, neighbors, out);
}

}  // namespace kizuna
