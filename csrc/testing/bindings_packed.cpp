// kizuna._packed: test hooks for the CUDA backend's host-side logic (underscore names, not a
// user API): the packed model layout, the neighbour packing, the pair enumeration, the
// shared-memory layouts, and the serial host reference that runs the GPU's arithmetic on the
// CPU. They work in every build, with or without CUDA, so that the layout is tested in CI.
// A module of its own (test code is not part of kizuna._core or kizuna_core); it takes the
// kizuna._core.Model objects, so it imports kizuna._core first.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "kizuna/errors.hpp"
#include "kizuna/model.hpp"
#include "kizuna/neighbor_list.hpp"
#include "kizuna/packed_math.hpp"
#include "kizuna/packed_model.hpp"
#include "kizuna/packed_neighbors.hpp"
#include "packed_reference.hpp"
#include "kizuna/warp_layout.hpp"

namespace py = pybind11;
using namespace kizuna;

namespace {

using Array = py::array_t<double, py::array::c_style | py::array::forcecast>;
using IntArray = py::array_t<int, py::array::c_style | py::array::forcecast>;

template <class T>
py::array_t<T> to_numpy(const std::vector<T>& v) {
    py::array_t<T> a(static_cast<py::ssize_t>(v.size()));
    std::copy(v.begin(), v.end(), a.mutable_data());
    return a;
}

py::dict compact_dict(const CompactFunction& c) {
    py::dict d;
    d["core"] = static_cast<int>(c.core);
    d["asymmetric"] = c.asymmetric;
    d["left"] = c.left;
    d["right"] = c.right;
    d["centre"] = c.centre;
    d["inv_half_width"] = c.inv_half_width;
    return d;
}

py::dict pack_model_dict(const std::shared_ptr<Model>& model) {
    const PackedModel pm = pack_model(*model);
    py::dict out;
    out["num_elements"] = pm.num_elements;
    out["committee_size"] = pm.committee_size;
    out["max_features"] = pm.max_features;
    out["max_width"] = pm.max_width;
    out["max_cutoffs"] = pm.max_cutoffs;
    out["max_group_functions"] = pm.max_group_functions;
    out["cutoff"] = pm.cutoff;
    py::list elements, cutoffs, groups, functions, members, layers;
    for (const PackedElement& e : pm.elements) {
        py::dict d;
        d["num_features"] = e.num_features;
        d["first_cutoff"] = e.first_cutoff;
        d["num_cutoffs"] = e.num_cutoffs;
        d["first_group"] = e.first_group;
        d["num_groups"] = e.num_groups;
        d["first_member"] = e.first_member;
        d["first_feature"] = e.first_feature;
        d["rc_max"] = e.rc_max;
        elements.append(d);
    }
    for (const CutoffFunction& c : pm.cutoffs) {
        py::dict d;
        d["kind"] = static_cast<int>(c.kind);
        d["rc"] = c.rc;
        d["rci"] = c.rci;
        cutoffs.append(d);
    }
    for (const PackedGroup& g : pm.groups) {
        py::dict d;
        d["kind"] = g.kind;
        d["e1"] = g.e1;
        d["e2"] = g.e2;
        d["cutoff"] = g.cutoff;
        d["first"] = g.first;
        d["count"] = g.count;
        d["rc"] = g.rc;
        groups.append(d);
    }
    for (const PackedFunction& f : pm.functions) {
        py::dict d;
        d["out"] = f.out;
        d["term"] = f.term;
        d["izeta"] = f.izeta;
        d["eta"] = f.d.eta;
        d["rs"] = f.d.rs;
        d["zeta"] = f.d.zeta;
        d["lambda"] = f.d.lambda;
        d["prefactor"] = f.d.prefactor;
        d["float"] = py::make_tuple(f.f.eta, f.f.rs, f.f.zeta, f.f.lambda, f.f.prefactor);
        d["radial"] = compact_dict(f.radial);
        d["angular"] = compact_dict(f.angular);
        functions.append(d);
    }
    for (const PackedMember& m : pm.members) {
        py::dict d;
        d["first_layer"] = m.first_layer;
        d["num_layers"] = m.num_layers;
        d["scaling"] = m.scaling;
        d["scale_offset"] = m.scale_offset;
        d["energy_offset"] = m.energy_offset;
        d["energy_scale"] = m.energy_scale;
        members.append(d);
    }
    for (const PackedLayer& l : pm.layers) {
        py::dict d;
        d["n_in"] = l.n_in;
        d["n_out"] = l.n_out;
        d["activation"] = l.activation;
        d["w"] = l.w;
        d["wt"] = l.wt;
        d["b"] = l.b;
        layers.append(d);
    }
    out["elements"] = elements;
    out["cutoffs"] = cutoffs;
    out["groups"] = groups;
    out["functions"] = functions;
    out["members"] = members;
    out["layers"] = layers;
    out["weights"] = to_numpy(pm.weights);
    out["weights_f"] = to_numpy(pm.weights_f);
    out["scale_shift"] = to_numpy(pm.scale_shift);
    out["scale_factor"] = to_numpy(pm.scale_factor);
    out["extrapolation_min"] = to_numpy(pm.extrapolation_min);
    out["extrapolation_max"] = to_numpy(pm.extrapolation_max);
    return out;
}

py::dict reference_dict(const PackedReferenceResult& r, int n_centres, int nf) {
    py::dict out;
    out["energy"] = r.energy;
    Array W({3, 3});
    std::copy(r.virial9, r.virial9 + 9, W.mutable_data());
    out["virial9"] = W;
    Array F({static_cast<py::ssize_t>(r.forces.size() / 3), static_cast<py::ssize_t>(3)});
    std::copy(r.forces.begin(), r.forces.end(), F.mutable_data());
    out["forces"] = F;
    Array G({n_centres, nf}), B({n_centres, nf});
    std::copy(r.G.begin(), r.G.end(), G.mutable_data());
    std::copy(r.beta.begin(), r.beta.end(), B.mutable_data());
    out["G"] = G;
    out["beta"] = B;
    out["atom_energies"] = to_numpy(r.atom_energies);
    out["member_energies"] = to_numpy(r.member_energies);
    return out;
}

// The host reference on a structure, with the Python module's CSR neighbour list.
py::dict packed_reference_csr(const std::shared_ptr<Model>& model, const Array& positions, const IntArray& species,
                              const py::object& cell, bool periodic, const std::string& precision) {
    const int n = static_cast<int>(positions.shape(0));
    std::array<double, 9> c{};
    if (!cell.is_none()) {
        Array a = cell.cast<Array>();
        std::copy(a.data(), a.data() + 9, c.begin());
    }
    const bool pbc[3] = {periodic, periodic, periodic};
    NeighborList nl;
    build_neighbor_list(n, positions.data(), cell.is_none() ? nullptr : c.data(), pbc, model->cutoff, nl, 1);
    std::vector<int> counts(n);
    for (int i = 0; i < n; ++i) counts[i] = static_cast<int>(nl.offsets[i + 1] - nl.offsets[i]);
    AtomsView atoms;
    atoms.num_atoms = n;
    atoms.positions = positions.data();
    atoms.species = species.data();
    NeighborView nb;
    nb.num_centres = n;
    nb.counts = counts.data();
    nb.offsets = nl.offsets.data();
    nb.indices = nl.indices.data();
    nb.shifts = nl.shifts.data();
    const PackedModel pm = pack_model(*model);
    NeighborPack pack;
    pack_neighbors(nb, pack);
    PackedReferenceResult r;
    {
        py::gil_scoped_release release;
        packed_reference(pm, atoms, pack, parse_precision(precision), r);
    }
    return reference_dict(r, n, pm.max_features);
}

// A LAMMPS-style view (ilist, numneigh and firstneigh indexed by atom, masked indices) through
// pack_neighbors: the packed CSR arrays, and the host reference on it when a model is given.
py::dict pack_lammps_style(const IntArray& ilist, const std::vector<IntArray>& firstneigh, int mask,
                           const py::object& model, const py::object& positions, const py::object& species) {
    const int natoms = static_cast<int>(firstneigh.size());
    std::vector<int> numneigh(natoms);
    std::vector<const int*> lists(natoms);
    for (int i = 0; i < natoms; ++i) {
        numneigh[i] = static_cast<int>(firstneigh[i].size());
        lists[i] = firstneigh[i].data();
    }
    NeighborView nb;
    nb.num_centres = static_cast<int>(ilist.size());
    nb.centres = ilist.data();
    nb.counts = numneigh.data();
    nb.lists = lists.data();
    nb.indexed_by_atom = true;
    nb.index_mask = mask;
    NeighborPack pack;
    pack_neighbors(nb, pack);
    py::dict out;
    out["copied"] = pack.copied;
    out["max_count"] = pack.max_count;
    out["counts"] = to_numpy(std::vector<int>(pack.counts, pack.counts + pack.num_centres));
    out["offsets"] = to_numpy(std::vector<int64_t>(pack.offsets, pack.offsets + pack.num_centres));
    out["indices"] = to_numpy(std::vector<int>(pack.indices, pack.indices + pack.num_entries));
    if (!model.is_none()) {
        auto m = model.cast<std::shared_ptr<Model>>();
        Array pos = positions.cast<Array>();
        IntArray sp = species.cast<IntArray>();
        AtomsView atoms;
        atoms.num_atoms = static_cast<int>(pos.shape(0));
        atoms.positions = pos.data();
        atoms.species = sp.data();
        const PackedModel pm = pack_model(*m);
        PackedReferenceResult r;
        packed_reference(pm, atoms, pack, Precision::float64, r);
        out["reference"] = reference_dict(r, nb.num_centres, pm.max_features);
    }
    return out;
}

py::tuple pairs(int n1, int n2, bool same) {
    const int np = pair_count(n1, n2, same);
    py::array_t<int> a(np), b(np);
    for (int p = 0; p < np; ++p) pair_of_index(p, n1, n2, same, a.mutable_data()[p], b.mutable_data()[p]);
    return py::make_tuple(a, b);
}

py::dict warp_layout(int max_neighbors, int nc, int features, bool grad, int real_size) {
    const WarpLayout L = make_warp_layout(max_neighbors, nc, features, grad, static_cast<size_t>(real_size));
    py::dict d;
    d["cap"] = L.cap;
    d["bytes"] = L.bytes;
    // (name, offset, bytes) of every region
    py::list regions;
    const size_t cap = static_cast<size_t>(L.cap);
    if (grad) {
        regions.append(py::make_tuple("gx", L.gx, cap * 8));
        regions.append(py::make_tuple("gy", L.gy, cap * 8));
        regions.append(py::make_tuple("gz", L.gz, cap * 8));
        regions.append(py::make_tuple("beta", L.beta, static_cast<size_t>(features) * real_size));
    }
    regions.append(py::make_tuple("slots", L.slots, (8 + 2 * static_cast<size_t>(nc)) * cap * real_size));
    regions.append(py::make_tuple("atom", L.atom, cap * 4));
    regions.append(py::make_tuple("begin", L.begin, static_cast<size_t>(32 * 4)));
    regions.append(py::make_tuple("queue", L.queue, static_cast<size_t>(64 * 4)));
    d["regions"] = regions;
    return d;
}

py::dict network_layout(int width, int layers, int real_size) {
    const NetworkLayout L = make_network_layout(width, layers, static_cast<size_t>(real_size));
    py::dict d;
    d["bytes"] = L.bytes;
    const size_t w = static_cast<size_t>(width), rs = static_cast<size_t>(real_size);
    py::list regions;
    regions.append(py::make_tuple("beta", L.beta, w * 8));
    regions.append(py::make_tuple("act", L.act, (layers + 1) * w * rs));
    regions.append(py::make_tuple("dact", L.dact, layers * w * rs));
    regions.append(py::make_tuple("back", L.back, 2 * w * rs));
    d["regions"] = regions;
    return d;
}

}  // namespace

PYBIND11_MODULE(_packed, m) {
    py::module_::import("kizuna._core");  // the Model type
    m.def("_pack_model", &pack_model_dict, py::arg("model"));
    m.def("_packed_reference", &packed_reference_csr, py::arg("model"), py::arg("positions"), py::arg("species"),
          py::arg("cell") = py::none(), py::arg("pbc") = false, py::arg("precision") = "float64");
    m.def("_pack_lammps_style", &pack_lammps_style, py::arg("ilist"), py::arg("firstneigh"), py::arg("mask") = ~0,
          py::arg("model") = py::none(), py::arg("positions") = py::none(), py::arg("species") = py::none());
    m.def("_pair_of_index", &pairs, py::arg("n1"), py::arg("n2"), py::arg("same"));
    m.def("_warp_layout", &warp_layout, py::arg("max_neighbors"), py::arg("nc"), py::arg("features"), py::arg("grad"),
          py::arg("real_size"));
    m.def("_network_layout", &network_layout, py::arg("width"), py::arg("layers"), py::arg("real_size"));
}
