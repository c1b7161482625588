"""Host-side logic of the CUDA backend, tested on the CPU: the flat model layout the GPU reads
(csrc/src/packed_model.cpp), the neighbour-list packing (packed_neighbors.cpp), the pair
enumeration and shared-memory layouts of the kernels, and -- the strongest check -- the serial
host reference (csrc/testing/packed_reference.cpp, test module kizuna._packed), which runs the
kernels' arithmetic (packed_math.hpp) on the packed layout in the kernels' order and must equal
the CPU core to 1e-10 in float64. What is not covered here (warps, shared memory, atomics) is
checked on a GPU by tests/gpu."""
from __future__ import annotations

import numpy as np
import pytest

import kizuna
from kizuna import _core, _packed
from kizuna.model import ACTIVATIONS, CORE_KINDS, CUTOFF_KINDS
from kizuna.n2p2 import read_n2p2
from kizuna.training.readers import read_n2p2 as read_input_data
from model_factory import random_model
from n2p2_reference import WATER_CFENERGY, WATER_CFLENGTH, load

GROUP_KINDS = {"radial": 0, "compact_radial": 1, "angular_narrow": 2, "angular_wide": 3,
               "compact_angular_wide": 4, "compact_angular_narrow": 5}
EVERY_KIND = ("radial", "angular_narrow", "angular_wide", "compact_radial", "compact_angular_wide",
              "compact_angular_narrow")


def rel(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def core_model(model):
    return kizuna.Potential(model, threads=1)._core_model


@pytest.fixture(scope="module")
def water():
    from conftest import DATA

    return read_n2p2(DATA / "n2p2" / "H2O_RPBE-D3", cflength=WATER_CFLENGTH,
                     cfenergy=WATER_CFENERGY)


# --------------------------------------------------------------------------------- model layout
@pytest.mark.parametrize("seed, committee, kinds", [(0, 1, None), (1, 3, None), (2, 1, EVERY_KIND)])
def test_packed_model_holds_every_function_and_weight(seed, committee, kinds):
    model = random_model(seed=seed, committee=committee, cutoff="poly3", alpha=0.2, kinds=kinds)
    pm = _packed._pack_model(core_model(model))
    assert pm["num_elements"] == len(model.elements)
    assert pm["committee_size"] == committee
    assert pm["cutoff"] == model.cutoff
    assert pm["max_features"] == max(em.num_features for em in model.element_models)
    for e, em in enumerate(model.element_models):
        el = pm["elements"][e]
        assert el["num_features"] == em.num_features
        assert el["rc_max"] == max(sf.rc for sf in em.symmetry_functions)
        groups = pm["groups"][el["first_group"]:el["first_group"] + el["num_groups"]]
        # kernel order: radial, compact radial, angular (narrow and wide), compact angular
        rank = [{0: 0, 1: 1, 2: 2, 3: 2, 4: 3, 5: 3}[g["kind"]] for g in groups]
        assert rank == sorted(rank)
        seen = []
        for g in groups:
            functions = pm["functions"][g["first"]:g["first"] + g["count"]]
            if g["kind"] in (2, 3):  # angular: sorted by exponential term
                terms = [f["term"] for f in functions]
                assert terms == sorted(terms)
            for f in functions:
                sf = em.symmetry_functions[f["out"]]
                seen.append(f["out"])
                assert GROUP_KINDS[sf.kind] == g["kind"]
                neighbors = sorted(model.elements.index(s) for s in sf.neighbors)
                assert [g["e1"], g["e2"]][:len(neighbors)] == neighbors
                if sf.kind in ("radial", "angular_narrow", "angular_wide"):
                    cut = pm["cutoffs"][el["first_cutoff"] + g["cutoff"]]
                    assert (CUTOFF_KINDS[cut["kind"]], cut["rc"]) == (sf.cutoff, sf.rc)
                    assert cut["rci"] == pytest.approx(sf.alpha * sf.rc, rel=1e-15)
                    assert (f["eta"], f["rs"]) == (sf.eta, sf.rs)
                    assert np.allclose(f["float"][:2], [sf.eta, sf.rs], rtol=1e-7)
                if sf.is_angular and not sf.kind.startswith("compact"):
                    assert (f["zeta"], f["lambda"]) == (sf.zeta, sf.lam)
                    assert f["prefactor"] == pytest.approx(2.0 ** (1.0 - sf.zeta), rel=1e-15)
                    integer = sf.zeta == int(sf.zeta)
                    assert f["izeta"] == (int(sf.zeta) if integer else -1)
                if sf.kind.startswith("compact"):
                    assert CORE_KINDS[f["radial"]["core"]] == sf.core
                    assert (f["radial"]["left"], f["radial"]["right"]) == (sf.rl, sf.rc)
                if sf.kind in ("compact_angular_wide", "compact_angular_narrow"):
                    assert np.allclose([f["angular"]["left"], f["angular"]["right"]],
                                       np.radians([sf.angle_left, sf.angle_right]), rtol=1e-15)
        assert sorted(seen) == list(range(em.num_features))  # every feature exactly once
        for m, member in enumerate(em.members):
            pmem = pm["members"][el["first_member"] + m]
            shift, factor, offset = member.scaling.shift_factor()
            k = pmem["scaling"]
            assert np.array_equal(pm["scale_shift"][k:k + em.num_features], shift)
            assert np.allclose(pm["scale_factor"][k:k + em.num_features], factor, rtol=1e-15)
            assert pmem["scale_offset"] == offset
            assert (pmem["energy_offset"], pmem["energy_scale"]) == (member.energy_offset,
                                                                     member.energy_scale)
            assert pmem["num_layers"] == len(member.layers)
            W = pm["weights"]
            for l, layer in enumerate(member.layers):
                pl = pm["layers"][pmem["first_layer"] + l]
                n_in, n_out = layer.n_in, layer.n_out
                assert (pl["n_in"], pl["n_out"]) == (n_in, n_out)
                assert ACTIVATIONS[pl["activation"]] == layer.activation
                assert np.array_equal(W[pl["w"]:pl["w"] + n_out * n_in].reshape(n_out, n_in),
                                      layer.weights)
                assert np.array_equal(W[pl["wt"]:pl["wt"] + n_in * n_out].reshape(n_in, n_out),
                                      layer.weights.T)
                assert np.array_equal(W[pl["b"]:pl["b"] + n_out], layer.bias)
                assert pm["max_width"] >= max(n_in, n_out)
    assert np.array_equal(pm["weights_f"], pm["weights"].astype(np.float32))


# ---------------------------------------------------------------------------- pair enumeration
@pytest.mark.parametrize("n1, n2", [(0, 5), (1, 1), (2, 2), (3, 7), (7, 3), (31, 31), (32, 32),
                                    (33, 64), (40, 17), (71, 36)])
@pytest.mark.parametrize("same", [True, False])
def test_pair_enumeration_visits_every_pair_once(n1, n2, same):
    if same:
        n2 = n1
    a, b = _packed._pair_of_index(n1, n2, same)
    pairs = {(min(x, y), max(x, y)) if same else (x, y) for x, y in zip(a.tolist(), b.tolist())}
    expected = ({(x, y) for x in range(n1) for y in range(x + 1, n1)} if same
                else {(x, y) for x in range(n1) for y in range(n2)})
    assert len(a) == len(expected) and pairs == expected
    if same and n1 >= 32:
        # a warp's 32 consecutive pairs touch distinct slots a and distinct slots b (fewer
        # colliding shared-memory atomics in the force kernel)
        for p0 in range(0, len(a) - 31, 32):
            assert len(set(a[p0:p0 + 32])) == 32 and len(set(b[p0:p0 + 32])) == 32


# ------------------------------------------------------------------------ shared-memory layouts
@pytest.mark.parametrize("max_neighbors, nc, features, grad, real",
                         [(1, 1, 1, False, 8), (107, 1, 27, True, 8), (107, 3, 60, True, 4),
                          (300, 2, 32, False, 4), (64, 0, 5, True, 8)])
def test_warp_layout_regions_are_disjoint_and_aligned(max_neighbors, nc, features, grad, real):
    L = _packed._warp_layout(max_neighbors, nc, features, grad, real)
    assert L["cap"] % 32 == 0 and L["cap"] >= max_neighbors and L["cap"] < max_neighbors + 32
    assert L["bytes"] % 16 == 0
    regions = sorted(L["regions"], key=lambda r: r[1])
    names = {r[0] for r in regions}
    assert ({"gx", "gy", "gz", "beta"} <= names) == grad
    for (name, start, size), nxt in zip(regions, regions[1:] + [("end", L["bytes"], 0)]):
        assert start % 16 == 0, name
        assert start + size <= nxt[1], (name, nxt[0])


@pytest.mark.parametrize("width, layers, real", [(32, 3, 8), (27, 3, 4), (100, 5, 8)])
def test_network_layout_regions_are_disjoint_and_aligned(width, layers, real):
    L = _packed._network_layout(width, layers, real)
    regions = sorted(L["regions"], key=lambda r: r[1])
    for (name, start, size), nxt in zip(regions, regions[1:] + [("end", L["bytes"], 0)]):
        assert start % 16 == 0 and start + size <= nxt[1], name


# ------------------------------------------------------------- host reference vs the CPU core
def compare_reference(model, positions, symbols, cell, pbc, tolerance):
    pot = kizuna.Potential(model, threads=1)
    species = pot.species(symbols)
    cpu = pot.compute(positions, symbols, cell, pbc, virial=True, atom_energies=True,
                      member_energies=True)
    G, offsets = pot.descriptors(positions, species, cell, pbc)
    out = {}
    for precision in ("float64", "float32"):
        ref = _packed._packed_reference(pot._core_model, positions, species, cell, pbc, precision)
        n = len(symbols)
        G_ref = np.concatenate([ref["G"][i, :offsets[i + 1] - offsets[i]] for i in range(n)])
        W = ref["virial9"]
        errors = {
            "energy": abs(ref["energy"] - cpu["energy"]) / abs(cpu["energy"]),
            "forces": rel(ref["forces"], cpu["forces"]),
            "G": rel(G_ref, G),
            "atom_energies": rel(ref["atom_energies"], cpu["energies"]),
            "member_energies": rel(ref["member_energies"], cpu["member_energies"]),
        }
        if pbc:
            errors["virial"] = rel([W[0, 0], W[1, 1], W[2, 2], W[0, 1], W[0, 2], W[1, 2]],
                                   cpu["virial"])
        out[precision] = errors
    bad = {k: v for k, v in out["float64"].items() if not v < tolerance}
    assert not bad, f"float64 host reference differs from the CPU core: {out['float64']}"
    # float32 mode: float arithmetic (so not exact), float64 sums (so far better than 1e-3)
    assert 1e-10 < out["float32"]["forces"] < 1e-3, out["float32"]
    assert out["float32"]["G"] < 1e-4 and out["float32"]["energy"] < 1e-4, out["float32"]
    return out


@pytest.mark.parametrize("cutoff", [c for c in CUTOFF_KINDS if c != "hard"])
def test_reference_equals_cpu_every_kind_periodic(cutoff):
    rng = np.random.default_rng(11)
    model = random_model(seed=7, cutoff=cutoff, alpha=0.15 if cutoff.startswith("p") else 0.0,
                         committee=2, activations=("silu", "gaussian", "linear"))
    n = 36
    cell = np.array([[7.0, 0.0, 0.0], [0.6, 6.8, 0.0], [-0.4, 0.3, 7.2]])  # triclinic
    positions = rng.uniform(0, 1, (n, 3)) @ cell
    symbols = ["O" if i % 3 == 0 else "H" for i in range(n)]
    compare_reference(model, positions, symbols, cell, True, 1e-10)


def test_reference_equals_cpu_compact_narrow():
    """compact_angular_narrow (n2p2 type 21) with every other kind, and the imported n2p2
    potential of types 21 and 24 (weighted), periodic."""
    from conftest import DATA

    rng = np.random.default_rng(15)
    model = random_model(seed=16, cutoff="poly2", kinds=EVERY_KIND, committee=2)
    cell = np.array([[6.4, 0.0, 0.0], [0.6, 6.6, 0.0], [-0.4, 0.3, 6.2]])
    positions = rng.uniform(0, 1, (30, 3)) @ cell
    symbols = ["O" if i % 3 == 0 else "H" for i in range(30)]
    compare_reference(model, positions, symbols, cell, True, 1e-10)
    narrow = read_n2p2(DATA / "n2p2" / "CompactNarrow_HCO")
    s = read_input_data(DATA / "n2p2" / "reference" / "compact_narrow" / "input.data")[0]
    compare_reference(narrow, s.positions, s.symbols, s.cell, True, 1e-10)


def test_reference_equals_cpu_open_cluster():
    rng = np.random.default_rng(12)
    model = random_model(seed=8, cutoff="cos", committee=1)
    positions = rng.uniform(-3.5, 3.5, (30, 3))
    symbols = ["O" if i % 3 == 0 else "H" for i in range(30)]
    compare_reference(model, positions, symbols, None, False, 1e-10)


def test_reference_equals_cpu_cell_smaller_than_cutoff():
    # a 3 Å cell and a 4 Å cutoff: several images of every atom, including of the centre itself
    rng = np.random.default_rng(13)
    model = random_model(seed=9, cutoff="tanh")
    cell = np.diag([3.1, 3.3, 3.0])
    positions = rng.uniform(0, 1, (6, 3)) @ cell
    compare_reference(model, positions, ["O", "H", "H", "O", "H", "H"], cell, True, 1e-10)


def test_reference_equals_cpu_water_n2p2(water):
    ref = load("cfg4_ice384")
    errors = compare_reference(water, ref.positions, ref.symbols, ref.cell, True, 1e-10)
    print("float32 mode on ice (host reference):", errors["float32"])


# ---------------------------------------------------------------- LAMMPS-style neighbour view
def test_lammps_style_list_is_packed_in_ilist_order_and_masked():
    rng = np.random.default_rng(14)
    model = random_model(seed=10)
    n = 24
    positions = rng.uniform(-3.0, 3.0, (n, 3))
    symbols = ["O" if i % 3 == 0 else "H" for i in range(n)]
    offsets, indices, _ = _core.neighbor_list(positions, None, False, model.cutoff)
    mask = (1 << 29) - 1  # LAMMPS NEIGHMASK: the bits above hold special-bond flags
    firstneigh = []
    for i in range(n):
        neigh = indices[offsets[i]:offsets[i + 1]].copy()
        rng.shuffle(neigh)
        flags = rng.integers(0, 4, len(neigh)) << 30  # special-bond bits set on some entries
        firstneigh.append((neigh | flags).astype(np.int32))
    ilist = rng.permutation(n).astype(np.int32)
    pot = kizuna.Potential(model, threads=1)
    species = pot.species(symbols)
    packed = _packed._pack_lammps_style(ilist, firstneigh, mask, pot._core_model, positions,
                                        species)
    assert packed["copied"]
    assert packed["max_count"] == max(len(f) for f in firstneigh)
    for ii, i in enumerate(ilist):
        start, count = packed["offsets"][ii], packed["counts"][ii]
        assert np.array_equal(packed["indices"][start:start + count], firstneigh[i] & mask)
    cpu = pot.compute(positions, symbols, None, False, atom_energies=True)
    ref = packed["reference"]
    assert abs(ref["energy"] - cpu["energy"]) < 1e-10 * abs(cpu["energy"])
    assert rel(ref["forces"], cpu["forces"]) < 1e-10
    # per-centre energies come in ilist order
    assert rel(ref["atom_energies"], cpu["energies"][ilist]) < 1e-10
