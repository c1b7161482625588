// kizuna._core: thin pybind11 adapter over the C++ core. Zero-copy numpy inputs, numpy
// outputs; builds its own neighbour list; the GIL is released while the core runs.
// Core exceptions become the Python classes of kizuna.errors.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>
#include <memory>
#include <string>

#include "kizuna/device.hpp"
#include "kizuna/errors.hpp"
#include "kizuna/model.hpp"
#include "kizuna/neighbor_list.hpp"
#include "kizuna/potential.hpp"

namespace py = pybind11;
using namespace kizuna;

namespace {

using Array = py::array_t<double, py::array::c_style | py::array::forcecast>;
using IntArray = py::array_t<int, py::array::c_style | py::array::forcecast>;

struct System {
    Array positions;
    IntArray species;
    std::array<double, 9> cell{};
    bool has_cell = false;
    bool pbc[3] = {false, false, false};
    int n = 0;
};

System make_system(const Array& positions, const IntArray& species, const py::object& cell, const py::object& pbc) {
    System s;
    if (positions.ndim() != 2 || positions.shape(1) != 3)
        throw InputError("positions must have shape (n_atoms, 3), got " + std::to_string(positions.ndim()) + " dimension(s)");
    s.n = static_cast<int>(positions.shape(0));
    if (species.ndim() != 1 || species.shape(0) != s.n)
        throw InputError("species must have one entry per atom (" + std::to_string(s.n) + ")");
    s.positions = positions;
    s.species = species;
    if (!cell.is_none()) {
        Array c = cell.cast<Array>();
        if (c.size() != 9) throw InputError("cell must be a 3x3 array (rows = lattice vectors)");
        for (int k = 0; k < 9; ++k) s.cell[k] = c.data()[k];
        s.has_cell = true;
    }
    if (!pbc.is_none()) {
        if (py::isinstance<py::bool_>(pbc)) {
            s.pbc[0] = s.pbc[1] = s.pbc[2] = pbc.cast<bool>();
        } else {
            auto v = pbc.cast<std::vector<bool>>();
            if (v.size() != 3) throw InputError("pbc must be a bool or three bools");
            for (int d = 0; d < 3; ++d) s.pbc[d] = v[d];
        }
    }
    return s;
}

// A Potential plus a reusable neighbour list.
class PyPotential {
  public:
    PyPotential(std::shared_ptr<const Model> model, int threads, const DeviceOptions& device)
        : pot_(std::move(model), threads, device) {}

    py::dict compute(const Array& positions, const IntArray& species, const py::object& cell, const py::object& pbc,
                     bool forces, bool virial, bool atom_energies, bool atom_virials, bool member_energies,
                     bool extrapolation_flags, bool member_forces) {
        System s = make_system(positions, species, cell, pbc);
        Array F({s.n, 3});
        Array E_atoms(s.n);
        Array V_atoms({s.n, 6});
        Array E_members(pot_.model().committee_size);
        py::array_t<int> flags(s.n);
        const int M = pot_.model().committee_size;
        member_forces = member_forces && M > 1;
        Array MF = member_forces ? Array({M, s.n, 3}) : Array(0);
        Array Fstd(member_forces ? s.n : 0);
        if (member_forces) std::fill(MF.mutable_data(), MF.mutable_data() + MF.size(), 0.0);
        std::fill(F.mutable_data(), F.mutable_data() + 3 * s.n, 0.0);
        std::fill(E_atoms.mutable_data(), E_atoms.mutable_data() + s.n, 0.0);
        std::fill(V_atoms.mutable_data(), V_atoms.mutable_data() + 6 * s.n, 0.0);
        std::fill(flags.mutable_data(), flags.mutable_data() + s.n, 0);
        Request req;
        req.forces = forces;
        req.virial = virial;
        req.atom_energies = atom_energies;
        req.atom_virials = atom_virials;
        req.member_energies = member_energies;
        req.member_forces = member_forces;
        Result res;
        res.forces = F.mutable_data();
        res.atom_energies = E_atoms.mutable_data();
        res.atom_virials = V_atoms.mutable_data();
        res.member_energies = E_members.mutable_data();
        res.extrapolating = extrapolation_flags ? flags.mutable_data() : nullptr;
        res.member_forces = member_forces ? MF.mutable_data() : nullptr;
        double max_dev = 0.0;
        {
            py::gil_scoped_release release;
            run(s, [&](const AtomsView& a, const NeighborView& nb) { pot_.compute(a, nb, req, res); });
            if (member_forces) max_dev = force_deviation(MF.data(), M, s.n, Fstd.mutable_data());
        }
        py::dict out;
        out["energy"] = res.energy;
        out["num_extrapolating"] = res.num_extrapolating;
        if (forces) out["forces"] = F;
        if (virial) {
            Array V(6);
            for (int a = 0; a < 6; ++a) V.mutable_data()[a] = res.virial[a];
            out["virial"] = V;
        }
        if (atom_energies) out["energies"] = E_atoms;
        if (atom_virials) out["atom_virials"] = V_atoms;
        if (member_energies) out["member_energies"] = E_members;
        if (extrapolation_flags) out["extrapolating"] = flags;
        if (member_forces) {
            out["member_forces"] = MF;
            out["force_std"] = Fstd;
            out["max_force_deviation"] = max_dev;
        }
        return out;
    }

    py::tuple descriptors(const Array& positions, const IntArray& species, const py::object& cell, const py::object& pbc) {
        System s = make_system(positions, species, cell, pbc);
        py::array_t<int64_t> offsets = feature_offsets(s);
        Array G(offsets.data()[s.n]);
        std::fill(G.mutable_data(), G.mutable_data() + G.size(), 0.0);
        {
            py::gil_scoped_release release;
            run(s, [&](const AtomsView& a, const NeighborView& nb) {
                pot_.descriptors(a, nb, offsets.data(), G.mutable_data());
            });
        }
        return py::make_tuple(G, offsets);
    }

    py::tuple vjp(const Array& positions, const IntArray& species, const py::object& cell, const py::object& pbc,
                  const Array& beta) {
        System s = make_system(positions, species, cell, pbc);
        py::array_t<int64_t> offsets = feature_offsets(s);
        if (beta.size() != offsets.data()[s.n])
            throw InputError("beta has " + std::to_string(beta.size()) + " values, expected " +
                             std::to_string(offsets.data()[s.n]));
        Array F({s.n, 3});
        Array W({3, 3});
        std::fill(F.mutable_data(), F.mutable_data() + 3 * s.n, 0.0);
        std::fill(W.mutable_data(), W.mutable_data() + 9, 0.0);
        {
            py::gil_scoped_release release;
            run(s, [&](const AtomsView& a, const NeighborView& nb) {
                pot_.vjp(a, nb, offsets.data(), beta.data(), F.mutable_data(), W.mutable_data());
            });
        }
        return py::make_tuple(F, W);
    }

    Array jvp(const Array& positions, const IntArray& species, const py::object& cell, const py::object& pbc,
              const py::object& dpos, const py::object& dstrain) {
        System s = make_system(positions, species, cell, pbc);
        py::array_t<int64_t> offsets = feature_offsets(s);
        Array dp, de;
        if (!dpos.is_none()) {
            dp = dpos.cast<Array>();
            if (dp.size() != 3 * static_cast<py::ssize_t>(s.n)) throw InputError("dpos must have shape (n_atoms, 3)");
        }
        if (!dstrain.is_none()) {
            de = dstrain.cast<Array>();
            if (de.size() != 9) throw InputError("dstrain must be 3x3");
        }
        Array dG(offsets.data()[s.n]);
        std::fill(dG.mutable_data(), dG.mutable_data() + dG.size(), 0.0);
        {
            py::gil_scoped_release release;
            run(s, [&](const AtomsView& a, const NeighborView& nb) {
                pot_.jvp(a, nb, offsets.data(), dpos.is_none() ? nullptr : dp.data(),
                         dstrain.is_none() ? nullptr : de.data(), dG.mutable_data());
            });
        }
        return dG;
    }

    int threads() const { return pot_.num_threads(); }
    std::string device() const { return to_string(pot_.device()); }
    std::string precision() const { return to_string(pot_.precision()); }
    std::string device_name() const { return pot_.device_name(); }
    void set_threads(int n) { pot_.set_num_threads(n); }
    std::shared_ptr<const Model> model() const { return pot_.model_ptr(); }

  private:
    py::array_t<int64_t> feature_offsets(const System& s) const {
        const Model& m = pot_.model();
        py::array_t<int64_t> offsets(s.n + 1);
        int64_t* o = offsets.mutable_data();
        o[0] = 0;
        const int* sp = s.species.data();
        for (int i = 0; i < s.n; ++i) {
            if (sp[i] < -1 || sp[i] >= m.num_elements())
                throw InputError("atom " + std::to_string(i) + " has species index " + std::to_string(sp[i]) +
                                 " but the model has " + std::to_string(m.num_elements()) + " elements");
            o[i + 1] = o[i] + (sp[i] >= 0 ? static_cast<int64_t>(m.element_models[sp[i]].sfs.size()) : 0);
        }
        return offsets;
    }

    template <class F>
    void run(const System& s, F&& f) {
        build_neighbor_list(s.n, s.positions.data(), s.has_cell ? s.cell.data() : nullptr, s.pbc,
                            pot_.model().cutoff, nl_, pot_.num_threads());
        counts_.resize(s.n);
        for (int i = 0; i < s.n; ++i) counts_[i] = static_cast<int>(nl_.offsets[i + 1] - nl_.offsets[i]);
        AtomsView atoms;
        atoms.num_atoms = s.n;
        atoms.positions = s.positions.data();
        atoms.species = s.species.data();
        NeighborView nb;
        nb.num_centres = s.n;
        nb.counts = counts_.data();
        nb.offsets = nl_.offsets.data();
        nb.indices = nl_.indices.data();
        nb.shifts = nl_.shifts.data();
        f(atoms, nb);
    }

    Potential pot_;
    NeighborList nl_;
    std::vector<int> counts_;
};

py::tuple neighbor_list(const Array& positions, const py::object& cell, const py::object& pbc, double cutoff) {
    IntArray species(positions.ndim() == 2 ? positions.shape(0) : 0);
    std::fill(species.mutable_data(), species.mutable_data() + species.size(), 0);
    System s = make_system(positions, species, cell, pbc);
    NeighborList nl;
    {
        py::gil_scoped_release release;
        build_neighbor_list(s.n, s.positions.data(), s.has_cell ? s.cell.data() : nullptr, s.pbc, cutoff, nl);
    }
    py::array_t<int64_t> offsets(nl.offsets.size());
    std::copy(nl.offsets.begin(), nl.offsets.end(), offsets.mutable_data());
    py::array_t<int> indices(nl.indices.size());
    std::copy(nl.indices.begin(), nl.indices.end(), indices.mutable_data());
    Array shifts({static_cast<py::ssize_t>(nl.indices.size()), static_cast<py::ssize_t>(3)});
    std::copy(nl.shifts.begin(), nl.shifts.end(), shifts.mutable_data());
    return py::make_tuple(offsets, indices, shifts);
}

}  // namespace


PYBIND11_MODULE(_core, m) {
    m.doc() = "kizuna compiled core (symmetry functions, networks, forces)";

    py::module_ errors = py::module_::import("kizuna.errors");
    static py::object model_format_error = errors.attr("ModelFormatError");
    static py::object input_error = errors.attr("InputError");
    static py::object unsupported_error = errors.attr("UnsupportedError");
    static py::object numerical_error = errors.attr("NumericalError");
    static py::object kizuna_error = errors.attr("KizunaError");
    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const ModelFormatError& e) {
            PyErr_SetString(model_format_error.ptr(), e.what());
        } catch (const InputError& e) {
            PyErr_SetString(input_error.ptr(), e.what());
        } catch (const UnsupportedError& e) {
            PyErr_SetString(unsupported_error.ptr(), e.what());
        } catch (const NumericalError& e) {
            PyErr_SetString(numerical_error.ptr(), e.what());
        } catch (const Error& e) {
            PyErr_SetString(kizuna_error.ptr(), e.what());
        }
    });

    py::class_<Model, std::shared_ptr<Model>>(m, "Model")
        .def_static("parse", [](const std::string& text, const std::string& source) {
            return std::const_pointer_cast<Model>(Model::parse(text, source));
        }, py::arg("text"), py::arg("source") = "<string>")
        .def_static("load", [](const std::string& path) { return std::const_pointer_cast<Model>(Model::load(path)); })
        .def_property_readonly("elements", [](const Model& m) { return m.elements; })
        .def_property_readonly("cutoff", [](const Model& m) { return m.cutoff; })
        .def_property_readonly("committee_size", [](const Model& m) { return m.committee_size; })
        .def_property_readonly("meta", [](const Model& m) { return m.meta; })
        .def_property_readonly("checksum", [](const Model& m) -> py::object {
            // "crc32:<hex>" when verified; None for a file without a checksum line
            if (m.checksum.empty()) return py::none();
            return py::str(m.checksum);
        })
        .def_property_readonly("legacy_angle_asymmetric", [](const Model& m) { return m.legacy_angle_asymmetric; })
        .def("num_features", [](const Model& m, int e) { return static_cast<int>(m.element_models.at(e).sfs.size()); });

    py::class_<PyPotential>(m, "Potential")
        .def(py::init([](std::shared_ptr<Model> model, int threads, const std::string& device,
                         const std::string& precision, int device_id) {
                 DeviceOptions options;
                 options.device = parse_device(device);
                 options.precision = parse_precision(precision);
                 options.device_id = device_id;
                 return std::make_unique<PyPotential>(std::const_pointer_cast<const Model>(model), threads, options);
             }), py::arg("model"), py::arg("threads") = 0, py::arg("device") = "cpu",
             py::arg("precision") = "float64", py::arg("device_id") = -1)
        .def("compute", &PyPotential::compute, py::arg("positions"), py::arg("species"), py::arg("cell") = py::none(),
             py::arg("pbc") = py::none(), py::arg("forces") = true, py::arg("virial") = false,
             py::arg("atom_energies") = false, py::arg("atom_virials") = false, py::arg("member_energies") = false,
             py::arg("extrapolation_flags") = false, py::arg("member_forces") = false)
        .def("descriptors", &PyPotential::descriptors, py::arg("positions"), py::arg("species"),
             py::arg("cell") = py::none(), py::arg("pbc") = py::none())
        .def("vjp", &PyPotential::vjp, py::arg("positions"), py::arg("species"), py::arg("cell"), py::arg("pbc"),
             py::arg("beta"))
        .def("jvp", &PyPotential::jvp, py::arg("positions"), py::arg("species"), py::arg("cell"), py::arg("pbc"),
             py::arg("dpos") = py::none(), py::arg("dstrain") = py::none())
        .def_property("threads", &PyPotential::threads, &PyPotential::set_threads)
        .def_property_readonly("device", &PyPotential::device)
        .def_property_readonly("precision", &PyPotential::precision)
        .def_property_readonly("device_name", &PyPotential::device_name)
        .def_property_readonly("model", &PyPotential::model);

    // the table of symmetry-function kinds (sf_kinds.hpp), read by python/kizuna/model.py
    const char* const families[] = {"radial",         "angular_narrow",  "angular_wide",
                                    "compact_radial", "compact_angular", "compact_angular_narrow"};  // SFFamily
    static_assert(sizeof(families) / sizeof(families[0]) ==
                      static_cast<size_t>(SFFamily::compact_angular_narrow) + 1,
                  "a name for every SFFamily");
    py::list kinds;
    for (const SFKindInfo& k : kSFKinds)
        kinds.append(py::make_tuple(k.name, families[static_cast<int>(k.family)], k.weighted, k.n2p2_type,
                                    std::string(k.parameters)));
    m.attr("sf_kinds") = py::tuple(kinds);
    m.def("neighbor_list", &neighbor_list, py::arg("positions"), py::arg("cell") = py::none(),
          py::arg("pbc") = py::none(), py::arg("cutoff"));
    // CUDA: whether this build has the backend, and what the runtime sees
    m.attr("has_cuda") = cuda_compiled();
    m.def("cuda_device_count", &cuda_device_count,
          "number of usable CUDA devices (0 without CUDA, driver or GPU)");
    m.def("cuda_unavailable_reason", &cuda_unavailable_reason,
          "why cuda_device_count() is 0 ('' when it is not)");
    py::dict build;
    build["cuda"] = cuda_compiled();
    build["cuda_option"] = KIZUNA_CUDA_OPTION;            // CMake KIZUNA_CUDA: AUTO, ON, OFF
    build["cuda_architectures"] = KIZUNA_CUDA_ARCHITECTURES;  // "" without CUDA
    build["nvcc_version"] = KIZUNA_NVCC_VERSION;          // "" without CUDA
    m.attr("build_info") = build;
}
