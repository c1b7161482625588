"""Symmetry-function generation from a short spec, explicit sets, and the feature report."""
import numpy as np
import pytest

from kizuna.errors import ConfigError
from kizuna.training.dataset import EnginePool, prepare
from kizuna.training.report import feature_report, format_feature_report
from kizuna.training.setup import parse_explicit
from kizuna.training.structure import Structure
from kizuna.training.symmetry import SymmetryFunctionSpec, generate_symmetry_functions


def test_shifted_radial_grid_tiles_the_cutoff():
    spec = SymmetryFunctionSpec(cutoff=6.0, n_radial=5, r_min=1.0, n_angular=0)
    sfs = generate_symmetry_functions(["Si"], spec)["Si"]
    assert [sf.kind for sf in sfs] == ["radial"] * 5
    # d = (6 - 1)/5 = 1 Å: centres 1, 2, 3, 4, 5 Å and eta = 1/(2 d^2) = 0.5 / Å^2
    assert [sf.rs for sf in sfs] == pytest.approx([1.0, 2.0, 3.0, 4.0, 5.0])
    assert all(sf.eta == pytest.approx(0.5) for sf in sfs)
    assert all(sf.rc == 6.0 and sf.cutoff == "poly2" for sf in sfs)


def test_centred_and_mixed_radial_grids():
    spec = SymmetryFunctionSpec(cutoff=5.0, n_radial=3, r_min=1.0, radial_mode="centered",
                                n_angular=0)
    sfs = generate_symmetry_functions(["Cu"], spec)["Cu"]
    # widths 5, 3, 1 Å -> eta = 1/(2 r^2); all centred at 0
    assert [sf.eta for sf in sfs] == pytest.approx([1 / 50, 1 / 18, 1 / 2])
    assert all(sf.rs == 0.0 for sf in sfs)
    mixed = generate_symmetry_functions(["Cu"], SymmetryFunctionSpec(
        cutoff=5.0, n_radial=4, r_min=1.0, radial_mode="mixed", n_angular=0))["Cu"]
    assert [sf.rs == 0.0 for sf in mixed] == [True, True, False, False]


def test_angular_grid_and_element_pairs():
    spec = SymmetryFunctionSpec(cutoff=5.0, n_radial=2, n_angular=16, r_min_angular=2.0,
                                zetas=[1, 2, 4, 16], angular_kind="angular_wide")
    sfs = generate_symmetry_functions(["O", "H"], spec)
    assert sfs["O"] == sfs["H"]  # the same grid for every centre element
    radial = [sf for sf in sfs["O"] if sf.kind == "radial"]
    angular = [sf for sf in sfs["O"] if sf.kind == "angular_wide"]
    assert len(radial) == 2 * 2  # per neighbour element
    assert len(angular) == 3 * 16  # pairs OO, OH, HH
    assert {sf.neighbors for sf in angular} == {("O", "O"), ("O", "H"), ("H", "H")}
    grid = {(sf.eta, sf.zeta, sf.lam) for sf in angular}
    assert {z for _, z, _ in grid} == {1.0, 2.0, 4.0, 16.0}
    assert {lam for _, _, lam in grid} == {-1.0, 1.0}
    # two widths, 5 Å and 2 Å
    assert sorted({e for e, _, _ in grid}) == pytest.approx([1 / 50, 1 / 8])


def test_shorter_angular_cutoff():
    spec = SymmetryFunctionSpec(cutoff=5.0, n_radial=2, n_angular=8, r_min_angular=2.0,
                                zetas=[1, 4], angular_cutoff=3.8)
    sfs = generate_symmetry_functions(["Si"], spec)["Si"]
    assert {sf.rc for sf in sfs if sf.kind == "radial"} == {5.0}
    angular = [sf for sf in sfs if sf.kind != "radial"]
    assert {sf.rc for sf in angular} == {3.8}
    # widths spaced in [r_min_angular, angular cutoff]: 3.8 Å and 2 Å
    assert sorted({sf.eta for sf in angular}) == pytest.approx([1 / (2 * 3.8 ** 2), 1 / 8])


def test_shifted_and_mixed_angular_grids():
    spec = SymmetryFunctionSpec(cutoff=5.5, n_radial=0, n_angular=16, r_min_angular=1.5,
                                zetas=[1, 4], angular_kind="angular_wide",
                                angular_mode="shifted")
    sfs = generate_symmetry_functions(["Mo"], spec)["Mo"]
    assert len(sfs) == 16 and {sf.kind for sf in sfs} == {"angular_wide"}
    # 4 shells: d = (5.5 - 1.5)/4 = 1 Å, centres 2, 3, 4, 5 Å, eta = 1/(2 d^2) = 0.5 / Å^2
    assert sorted({sf.rs for sf in sfs}) == pytest.approx([2.0, 3.0, 4.0, 5.0])
    assert [sf.eta for sf in sfs] == pytest.approx([0.5] * 16)
    assert {(sf.zeta, sf.lam) for sf in sfs if sf.rs == sfs[0].rs} == {
        (1.0, -1.0), (1.0, 1.0), (4.0, -1.0), (4.0, 1.0)}
    mixed = generate_symmetry_functions(["Mo"], SymmetryFunctionSpec(
        cutoff=5.5, n_radial=0, n_angular=16, r_min_angular=1.5, zetas=[1, 4],
        angular_mode="mixed"))["Mo"]
    # 2 centred widths (5.5 and 1.5 Å, rs = 0), then 2 shells of d = 2 Å at 2.5 and 4.5 Å
    terms = sorted({(sf.rs, sf.eta) for sf in mixed})
    assert terms == [(0.0, pytest.approx(1 / (2 * 5.5 ** 2))), (0.0, pytest.approx(1 / 4.5)),
                     (2.5, pytest.approx(1 / 8)), (4.5, pytest.approx(1 / 8))]


def test_a_shifted_angular_shell_sees_only_its_neighbours():
    """A shifted angular function of an equilateral triangle of side a is largest for the shell
    at a and follows G = 2^(1-zeta) (1 + lambda/2)^zeta exp(-2 eta (a - rs)^2) fc(a)^2 per
    pair (angular_wide, cos t = 1/2)."""
    spec = SymmetryFunctionSpec(cutoff=5.5, cutoff_function="cos", n_radial=0, n_angular=8,
                                r_min_angular=1.5, zetas=[2], lambdas=[1],
                                angular_kind="angular_wide", angular_mode="shifted")
    sfs = generate_symmetry_functions(["Mo"], spec)
    a = 2.8
    atoms = Structure(["Mo"] * 3, np.array([[0, 0, 0], [a, 0, 0], [a / 2, a * np.sqrt(3) / 2, 0]]),
                      energy=0.0)
    atoms.bind(["Mo"])
    G = prepare(EnginePool(["Mo"], sfs), [atoms], ["Mo"])[0].G["Mo"][0].numpy()
    fc = 0.5 * (np.cos(np.pi * a / 5.5) + 1.0)
    expected = [0.5 * 1.5 ** 2 * np.exp(-2 * sf.eta * (a - sf.rs) ** 2) * fc ** 2
                for sf in sfs["Mo"]]
    assert G == pytest.approx(expected, rel=1e-12)
    assert int(np.argmax(G)) == 2  # shells at 1.75, 2.25, 2.75, 3.25, ... Å: 2.75 is nearest


@pytest.mark.parametrize("change, message", [
    (dict(angular_cutoff=6.0), r"angular_cutoff: must be in \(0, cutoff=5.5\]"),
    (dict(angular_cutoff=1.0), r"r_min_angular: must be in \(0, angular cutoff=1.0\)"),
    (dict(n_angular=12), r"multiple of len\(zetas\)\*len\(lambdas\) = 8 .* use 8 or 16"),
    (dict(cutoff_function="hard"), "cutoff_function"),
    (dict(lambdas=[0.5]), "lambdas"),
    (dict(zetas=[0.5]), "zetas"),
    (dict(r_min=7.0), r"r_min: must be in \[0, cutoff"),
    (dict(n_radial=0, n_angular=0), "not both 0"),
    (dict(angular_mode="ring"), "angular_mode: must be one of centered, shifted, mixed"),
    (dict(angular_mode="mixed", n_angular=8), r"angular_mode 'mixed' needs n_angular >= 2\*8"),
])
def test_spec_errors(change, message):
    with pytest.raises(ConfigError, match=message):
        SymmetryFunctionSpec(**change).check()


def test_explicit_lines_use_the_model_file_syntax():
    lines = ["radial Si eta=0.5 rs=2.0 rc=5.0 cutoff=cos alpha=0",
             "angular_wide Si Si eta=0.01 rs=0 zeta=2 lambda=-1 rc=5.0 cutoff=poly2 alpha=0"]
    sfs = parse_explicit(lines, ["Si"])["Si"]
    assert sfs[0].eta == 0.5 and sfs[0].rs == 2.0 and sfs[0].cutoff == "cos"
    assert sfs[1].zeta == 2.0 and sfs[1].lam == -1.0 and sfs[1].kind == "angular_wide"
    with pytest.raises(Exception, match=r"unknown parameter 'eta2'"):
        parse_explicit(["radial Si eta2=1 rs=0 rc=5 cutoff=cos alpha=0"], ["Si"])
    with pytest.raises(ConfigError, match="no functions for element O"):
        parse_explicit({"Si": lines}, ["Si", "O"])


def test_feature_report_flags_constant_and_duplicate_features():
    lines = ["radial Si eta=0.5 rs=2.0 rc=5.0 cutoff=cos alpha=0",
             "radial Si eta=0.5 rs=2.0 rc=5.0 cutoff=cos alpha=0",     # duplicate of #1
             "radial Si eta=0.2 rs=4.8 rc=5.0 cutoff=cos alpha=0",
             "radial O eta=0.5 rs=2.0 rc=5.0 cutoff=cos alpha=0"]      # no O atoms: always 0
    sfs = parse_explicit(lines, ["Si", "O"])
    sfs = {"Si": sfs["Si"], "O": sfs["O"]}
    rng = np.random.default_rng(0)
    structures = []
    for k in range(3):
        cell = np.eye(3) * (5.4 + 0.1 * k)
        s = Structure(["Si"] * 8, rng.uniform(0, 1, (8, 3)) @ cell, cell=cell, pbc=(True,) * 3,
                      energy=0.0)
        s.bind(["Si", "O"])
        structures.append(s)
    pool = EnginePool(["Si", "O"], sfs)
    prepared = prepare(pool, structures, ["Si", "O"])
    report = feature_report(prepared, ["Si"], sfs)["Si"]
    assert report["constant"] == [3]
    assert [(a, b) for a, b, _ in report["duplicates"]] == [(0, 1)]
    assert report["atoms"] == 24
    G = np.concatenate([p.G["Si"].numpy() for p in prepared])
    assert np.array_equal(report["min"], G.min(0)) and np.array_equal(report["max"], G.max(0))
    text = format_feature_report({"Si": report}, sfs)
    assert "1 constant, 1 duplicate pair(s)" in text and "CONSTANT" in text
    assert "duplicate: #1 and #2" in text


# ------------------------------------------------------------------ element-weighted mode
def test_weighted_mode_size_does_not_grow_with_elements():
    spec = SymmetryFunctionSpec(cutoff=5.0, n_radial=4, n_angular=8, zetas=[1, 4],
                                element_mode="weighted", channels=3)
    for elements, k in ((["Cu"], 1), (["Cu", "Ag"], 2), (["Al", "Cu", "Ag", "Au", "Ni", "Pd"], 3)):
        sfs = generate_symmetry_functions(elements, spec)
        assert all(len(v) == k * (4 + 8) for v in sfs.values())
        kinds = {sf.kind for sf in sfs[elements[0]]}
        assert kinds == {"weighted_radial", "weighted_angular_wide"}  # the spec's default kind
        assert {sf.channel for sf in sfs[elements[0]]} == set(range(1, k + 1))
    pair = generate_symmetry_functions(["Al", "Cu", "Ag", "Au", "Ni", "Pd"],
                                       SymmetryFunctionSpec(cutoff=5.0, n_radial=4, n_angular=8,
                                                            zetas=[1, 4]))
    assert len(pair["Cu"]) == 4 * 6 + 8 * 21


def test_weighted_channel_weights_rule():
    """Elements sorted by Z at t = -1, -1/3, 1/3, 1 (rank 0..3); channel c = T_{c-1}(t)."""
    from kizuna.training.symmetry import channel_weights

    w = channel_weights(["Cu", "Al", "Au", "Ni"], 3)  # Z: Al 13 < Ni 28 < Cu 29 < Au 79
    t = {"Al": -1.0, "Ni": -1 / 3, "Cu": 1 / 3, "Au": 1.0}
    for e, (w1, w2, w3) in w.items():
        assert (w1, w2, w3) == pytest.approx((1.0, t[e], 2 * t[e] ** 2 - 1))
    assert channel_weights(["Si"], 4) == {"Si": (1.0,)}


def test_weighted_mode_builds_a_model_the_core_reads(tmp_path):
    """The functions carry their weights: a model made from them alone has the weight table;
    descriptors through the training engine."""
    import kizuna
    from kizuna.model_io import model_to_string, read_model
    from kizuna.training.engine import placeholder_model

    spec = SymmetryFunctionSpec(cutoff=4.0, n_radial=3, n_angular=4, zetas=[1, 4],
                                lambdas=[-1, 1], element_mode="weighted", channels=2)
    sfs = generate_symmetry_functions(["Cu", "Al"], spec)
    model = placeholder_model(["Cu", "Al"], sfs)
    text = model_to_string(model)
    assert "channels 2" in text and "weights Cu 1.0 1.0" in text and "weights Al 1.0 -1.0" in text
    (tmp_path / "m.kzn").write_text(text)
    back = read_model(tmp_path / "m.kzn")
    assert back.element("Cu").symmetry_functions == sfs["Cu"]
    pot = kizuna.Potential(back, threads=1)
    G, _ = pot.descriptors(np.array([[0.0, 0, 0], [2.5, 0, 0], [0, 2.6, 0]]),
                           pot.species(["Cu", "Al", "Al"]), None, False)
    assert np.all(np.isfinite(G)) and np.abs(G).max() > 0


def test_weighted_mode_bad_values():
    with pytest.raises(ConfigError, match="element_mode"):
        generate_symmetry_functions(["Cu"], SymmetryFunctionSpec(element_mode="alchemical"))
    with pytest.raises(ConfigError, match="channels"):
        generate_symmetry_functions(["Cu"], SymmetryFunctionSpec(element_mode="weighted",
                                                                  channels=0))


def test_from_model_keeps_the_weight_table(tmp_path):
    """symmetry_functions.from_model with a weighted model: the functions carry the weights, so
    the training engine's model has the same table (here n2p2's Z weights, not the rule's)."""
    from conftest import DATA
    from kizuna.model_io import model_to_string
    from kizuna.n2p2 import read_n2p2
    from kizuna.training.engine import placeholder_model
    from kizuna.training.setup import symmetry_functions

    read_n2p2(DATA / "n2p2" / "Weighted_HCO").save(tmp_path / "hco.kzn")
    sfs = symmetry_functions({"symmetry_functions": {"from_model": str(tmp_path / "hco.kzn"),
                                                     "explicit": None}}, ["H", "C", "O"])
    text = model_to_string(placeholder_model(["H", "C", "O"], sfs))
    assert "channels 1" in text and "weights C 6.0" in text and "weights O 8.0" in text
