"""Property suite (kizuna.properties) against analytic or independently computed values:
EOS of a Lennard-Jones crystal (lattice sums), elastic constants of EMT Cu (energy-strain
fits, independent of the stress-strain code), phonons of a harmonic spring lattice (closed
form), a climbing-image NEB on a 2D double well (known saddle), and diffusion / structure
helpers on synthetic data."""
from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms, units
from ase.build import bulk
from ase.calculators.calculator import Calculator, all_changes
from ase.calculators.emt import EMT
from ase.calculators.lj import LennardJones
from ase.neighborlist import neighbor_list

from kizuna.properties import diffusion, elastic, eos, neb
from kizuna.properties.common import Watched

RELAX = {"fmax": 1e-4, "steps": 500}

# fcc lattice sums sum_j (r_nn / r_j)^n (Lennard-Jones & Ingham; Kittel Table 3.x)
A12, A6 = 12.13188, 14.45392


def test_eos_lennard_jones_fcc_matches_lattice_sums():
    # E/atom = 2 eps [A12 (s/r)^12 - A6 (s/r)^6], r = nearest-neighbour distance, V = r^3/sqrt2
    eps, sigma = 0.0104, 3.40
    r0 = sigma * (2 * A12 / A6) ** (1 / 6)
    e0 = -eps * A6 ** 2 / (2 * A12)
    # B = V d2E/dV2 = sqrt(2) E''(r0) / (9 r0)
    e2 = 2 * eps * (156 * A12 * sigma ** 12 / r0 ** 14 - 42 * A6 * sigma ** 6 / r0 ** 8)
    b0 = np.sqrt(2) * e2 / (9 * r0) / units.GPa
    atoms = bulk("Ar", "fcc", a=r0 * np.sqrt(2))
    calc = LennardJones(epsilon=eps, sigma=sigma, rc=9 * sigma, ro=8 * sigma, smooth=True)
    res = eos.compute(atoms, calc, {"strain": 0.02, "points": 9, "eos": "birchmurnaghan",
                                    "relax_ions": True}, RELAX)
    v = res["values"]
    assert v["V0"] == pytest.approx(r0 ** 3 / np.sqrt(2), rel=2e-3)
    assert v["E0"] == pytest.approx(e0, rel=2e-3)
    assert v["B0"] == pytest.approx(b0, rel=1e-2)
    # a0 of the conventional cubic cell from the primitive one (spglib: 4 atoms per cell)
    assert v["a0"] == pytest.approx(r0 * np.sqrt(2), rel=1e-3)


def _energy_second_derivative(atoms, calc, strain_of, deltas=(-0.004, -0.002, 0.002, 0.004)):
    """d2(E/V)/d(delta)^2 at delta = 0 from a quadratic fit (eV/Å^3)."""
    cell0, v0 = np.asarray(atoms.cell), atoms.get_volume()
    e = []
    for d in (0.0,) + tuple(deltas):
        a = atoms.copy()
        a.set_cell(cell0 @ (np.eye(3) + strain_of(d)), scale_atoms=True)
        a.calc = calc
        e.append(a.get_potential_energy() / v0)
    return 2 * np.polyfit((0.0,) + tuple(deltas), e, 2)[0]


def test_elastic_emt_cu_matches_energy_strain_fits():
    from scipy.optimize import minimize_scalar

    def energy(a):
        x = bulk("Cu", "fcc", a=a, cubic=True)
        x.calc = EMT()
        return x.get_potential_energy()

    a0 = minimize_scalar(energy, bracket=(3.55, 3.6, 3.65), tol=1e-10).x
    atoms = bulk("Cu", "fcc", a=a0, cubic=True)
    calc = EMT()

    def diag(*ks):
        def f(d):
            m = np.zeros((3, 3))
            for k in ks:
                m[k, k] = d
            return m
        return f

    def shear(d):   # engineering shear strain d in yz
        m = np.zeros((3, 3))
        m[1, 2] = m[2, 1] = d / 2
        return m

    # E/V = C11 d^2/2 (uniaxial); (C11 + C12) d^2 (biaxial xx, yy); C44 d^2/2 (shear)
    c11 = _energy_second_derivative(atoms, calc, diag(0)) / units.GPa
    c11_plus_c12 = _energy_second_derivative(atoms, calc, diag(0, 1)) / 2 / units.GPa
    c44 = _energy_second_derivative(atoms, calc, shear) / units.GPa
    res = elastic.compute(atoms, calc, {"strains": [-0.004, -0.002, 0.002, 0.004],
                                        "relax_ions": True,
                                        "components": ["C11", "C12", "C44", "C22", "C66"]},
                          RELAX)
    v = res["values"]
    assert v["C11"] == pytest.approx(c11, rel=0.01)
    assert v["C12"] == pytest.approx(c11_plus_c12 - c11, rel=0.02)
    assert v["C44"] == pytest.approx(c44, rel=0.01)
    assert v["C22"] == pytest.approx(v["C11"], rel=1e-3)   # cubic symmetry
    assert v["C66"] == pytest.approx(v["C44"], rel=1e-3)
    assert v["B_V"] == pytest.approx((c11 + 2 * (c11_plus_c12 - c11)) / 3, rel=0.01)


class Springs(Calculator):
    """Harmonic central springs between nearest neighbours: E = sum_pairs k/2 (d - r0)^2."""
    implemented_properties = ["energy", "forces"]

    def __init__(self, k, r0):
        super().__init__()
        self.k, self.r0 = k, r0

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        i, d, vec = neighbor_list("idD", self.atoms, 1.2 * self.r0)
        stretch = d - self.r0
        self.results["energy"] = 0.25 * self.k * np.sum(stretch ** 2)   # pairs counted twice
        f = np.zeros((len(self.atoms), 3))
        np.add.at(f, i, (self.k * stretch / d)[:, None] * vec)
        self.results["forces"] = f


def test_phonons_of_spring_lattice_match_closed_form():
    pytest.importorskip("phonopy")
    from kizuna.properties import phonons

    # simple cubic, nearest-neighbour springs k: omega_x(q) = 2 sqrt(k/m) |sin(q_x a / 2)|,
    # the largest frequency (R point, and X for the x branch) is 2 sqrt(k/m)
    k, a, mass = 1.5, 2.5, 39.948
    atoms = Atoms("Ar", cell=np.eye(3) * a, pbc=True)
    nu_max = 2 * np.sqrt(k * 1.602176634e-19 / 1e-20 / (mass * 1.66053906660e-27)) / (2 * np.pi)
    cfg = {"supercell": [3, 3, 3], "displacement": 0.005, "primitive": "none",
           "mesh": [8, 8, 8], "band_points": 40, "sigma": 0.1, "dos_range": [-1, 8],
           "pitch": 0.02}
    res = phonons.compute(atoms, Springs(k, a), cfg, RELAX)
    assert res["values"]["max_frequency"] == pytest.approx(nu_max / 1e12, rel=1e-3)
    assert res["values"]["min_frequency"] > -1e-3
    bands = np.asarray(res["data"]["bands"])
    labels = res["data"]["labels"]
    x_at = res["data"]["special_x"][labels.index("X")]
    row = int(np.argmin(np.abs(np.asarray(res["data"]["band_x"]) - x_at)))
    assert sorted(bands[row])[-1] == pytest.approx(nu_max / 1e12, rel=1e-3)
    # four times stiffer: every frequency doubles; overlap of a DOS with itself is 1
    stiff = phonons.compute(atoms, Springs(4 * k, a), cfg, RELAX)
    assert stiff["values"]["max_frequency"] == pytest.approx(2 * nu_max / 1e12, rel=1e-3)
    assert phonons.compare(res, res)["dos_overlap"] == pytest.approx(1.0, abs=1e-9)
    assert phonons.compare(res, stiff)["dos_overlap"] < 0.6


class DoubleWell(Calculator):
    """One atom in E = A (x^2 - 1)^2 + B (y - c (1 - x^2))^2 + B z^2: minima at (+-1, 0, 0),
    the minimum energy path y = c (1 - x^2) over the saddle (0, c, 0) with E = A."""
    implemented_properties = ["energy", "forces"]
    A, B, c = 0.6, 2.0, 0.8

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        x, y, z = self.atoms.positions[0]
        A, B, c = self.A, self.B, self.c
        u = y - c * (1 - x ** 2)
        self.results["energy"] = A * (x ** 2 - 1) ** 2 + B * u ** 2 + B * z ** 2
        dx = 4 * A * x * (x ** 2 - 1) + 2 * B * u * (2 * c * x)
        self.results["forces"] = -np.array([[dx, 2 * B * u, 2 * B * z]])


def test_climbing_image_neb_finds_the_known_saddle():
    initial = Atoms("H", positions=[[-1.0, 0, 0]], cell=np.eye(3) * 10, pbc=False)
    final = Atoms("H", positions=[[1.0, 0, 0]], cell=np.eye(3) * 10, pbc=False)
    calc = Watched(DoubleWell(), "toy")
    res = neb.barrier(initial, final, calc, images=7, fmax=1e-3, steps=3000, climb=True,
                      interpolate="linear")
    assert res["converged"]
    assert res["barrier"] == pytest.approx(DoubleWell.A, abs=1e-3)
    assert res["reverse_barrier"] == pytest.approx(DoubleWell.A, abs=1e-3)
    assert calc.watch.calls > 10 and calc.watch.max_extrapolating == 0


def test_vacancy_hop_end_points_keep_the_atom_order():
    atoms = bulk("Cu", "fcc", a=3.6, cubic=True)
    initial, final = neb.vacancy_hop(atoms, [2, 2, 2], site=0)
    moved = np.linalg.norm(final.positions - initial.positions, axis=1)
    assert len(initial) == len(final) == 31
    assert np.sum(moved > 1e-9) == 1
    assert moved.max() == pytest.approx(3.6 / np.sqrt(2))


def test_msd_and_arrhenius_on_synthetic_data():
    # random walk: MSD = 6 D t exactly in expectation; D(T) = D0 exp(-Ea / kT)
    rng = np.random.default_rng(1)
    d_true, dt = 0.05, 10.0   # Å^2/fs, fs between frames
    steps = rng.normal(scale=np.sqrt(2 * d_true * dt), size=(2000, 100, 3))
    traj = np.concatenate([np.zeros((1, 100, 3)), np.cumsum(steps, axis=0)])
    m = diffusion.msd(traj, 100)
    d = diffusion.diffusion_coefficient(np.arange(101) * dt, m)
    assert d == pytest.approx(d_true, rel=0.03)
    temps = np.array([600.0, 800.0, 1000.0])
    ea, d0 = diffusion.arrhenius(temps, 1e-3 * np.exp(-0.45 / (units.kB * temps)))
    assert ea == pytest.approx(0.45, rel=1e-9) and d0 == pytest.approx(1e-3, rel=1e-9)
    assert diffusion.arrhenius([600.0], [1.0]) == (None, None)


def test_block_error_of_d_covers_the_true_d_of_random_walks():
    # 40 independent random walks (D known): the block standard error must describe the scatter
    # of the fitted D about the truth, |D - D_true| / sigma_D ~ N(0, 1)-like (t with 3 dof)
    rng = np.random.default_rng(7)
    d_true, dt = 0.02, 5.0
    z = []
    for _ in range(40):
        steps = rng.normal(scale=np.sqrt(2 * d_true * dt), size=(400, 20, 3))
        traj = np.concatenate([np.zeros((1, 20, 3)), np.cumsum(steps, axis=0)])
        fit = diffusion.fit_trajectory(traj, dt, 0.2, 1.0, blocks=4)
        assert len(fit["D_blocks"]) == 4 and fit["D_std"] > 0
        z.append((fit["D"] - d_true) / fit["D_std"])
    z = np.abs(z)
    # for Student's t with 3 dof: P(|t| < 1) = 0.61, P(|t| < 3.18) = 0.95
    assert 0.35 < np.mean(z < 1.0) < 0.9 and np.mean(z < 3.18) > 0.8
    with pytest.raises(ValueError, match="frames per block"):
        diffusion.fit_trajectory(traj[:20], dt, blocks=4)


def test_weighted_arrhenius_fit_and_its_uncertainty():
    kt = lambda t: units.kB * np.asarray(t, float)   # noqa: E731
    # two temperatures: the line through both; sigma_Ea = sqrt(s1^2 + s2^2) / |x2 - x1| with
    # s = sigma_D / D (no chi^2 with zero degrees of freedom)
    t = [1000.0, 1500.0]
    d = 2e-3 * np.exp(-0.3 / kt(t))
    fit = diffusion.arrhenius_fit(t, d, [0.1 * d[0], 0.2 * d[1]])
    x = 1.0 / kt(t)
    assert fit["activation_energy"] == pytest.approx(0.3, rel=1e-9)
    assert fit["activation_energy_std"] == pytest.approx(np.hypot(0.1, 0.2) / abs(x[1] - x[0]),
                                                         rel=1e-9)
    # three temperatures on the line, equal relative errors s: the unweighted slope error
    # s / sqrt(sum (x - mean x)^2); chi^2 = 0 does not shrink it
    t = [1000.0, 1200.0, 1500.0]
    d = 2e-3 * np.exp(-0.3 / kt(t))
    fit = diffusion.arrhenius_fit(t, d, 0.05 * d)
    x = 1.0 / kt(t)
    assert fit["activation_energy"] == pytest.approx(0.3, rel=1e-9)
    assert fit["D0"] == pytest.approx(2e-3, rel=1e-9)
    assert fit["activation_energy_std"] == pytest.approx(
        0.05 / np.sqrt(np.sum((x - x.mean()) ** 2)), rel=1e-9)
    # points scattering 10x their error bars: sigma scaled up by sqrt(chi^2 / dof)
    d_noisy = d * np.exp([0.5, -0.5, 0.5])
    tight = diffusion.arrhenius_fit(t, d_noisy, 0.05 * d_noisy)
    assert tight["chi2_per_dof"] > 50
    assert tight["activation_energy_std"] > 5 * fit["activation_energy_std"]
    # no errors: residual-based sigma; a weight of zero / a missing error: unweighted
    plain = diffusion.arrhenius_fit(t, d_noisy)
    assert plain["activation_energy_std"] > 0
    assert diffusion.arrhenius_fit(t, d, [None, 1e-5, 1e-5])["activation_energy"] == \
        pytest.approx(0.3, rel=1e-9)
    assert diffusion.arrhenius_fit(t, [1.0, -1.0, 1.0]) is None


def test_diffusion_vacancies_of_one_species_and_the_smaller_reference_cell():
    from ase.build import bulk as build

    li2o = build("OLi2", "fluorite", a=4.63)      # 3-atom primitive cell
    rng = np.random.default_rng(0)
    cell = diffusion._cell(li2o, [2, 2, 2], 3, rng, ["Li"])
    assert cell.get_chemical_formula() == "Li13O8"
    with pytest.raises(ValueError, match="16 Li atoms"):
        diffusion._cell(li2o, [2, 2, 2], 16, rng, ["Li"])
    # the reference side: reference_supercell with reference_vacancies, the model: the others
    from ase.calculators.emt import EMT

    cu = build("Cu", "fcc", a=3.6)
    cfg = {"supercell": [3, 3, 3], "engine": "ase", "reference_supercell": [2, 2, 2],
           "reference_vacancies": 0, "vacancy_species": ["Cu"], "temperatures": [600.0, 900.0],
           "vacancies": 2, "species": None, "timestep": 2.0, "friction": 0.01,
           "equilibration": 2, "steps": 36, "every": 2, "fit_start": 0.2, "fit_end": 1.0,
           "blocks": 2, "stop_extrapolating": None, "stop_patience": 20}
    ref = diffusion.compute(cu, EMT(), cfg, {}, side="reference")
    model = diffusion.compute(cu, EMT(), cfg, {}, side="model")
    assert [c["atoms"] for c in ref["data"]["curves"]] == [8, 8]
    assert [c["atoms"] for c in model["data"]["curves"]] == [25, 25]
    assert set(model["uncertainty"]) >= {"D_600K", "D_900K"}
    assert "activation_energy" in model["values"] or "arrhenius" not in model["data"]
    ratios = diffusion.compare(model, ref)
    assert set(ratios) <= {"ratio_D_600K", "ratio_D_900K"}
    # the temperatures in worker processes: the same numbers (same seeds), the watch merged
    from kizuna.properties.common import Watched

    one, two = Watched(EMT()), Watched(EMT())
    serial = diffusion.compute(cu, one, cfg, {}, side="model")
    parallel = diffusion.compute(cu, two, dict(cfg, workers=2), {}, side="model")
    assert parallel["values"] == serial["values"] == model["values"]
    assert two.watch.calls == one.watch.calls > 0


def test_rdf_and_coordination_of_fcc():
    from kizuna.properties import analysis

    atoms = bulk("Cu", "fcc", a=3.6, cubic=True).repeat(3)
    r, g = analysis.rdf([atoms], 4.0, 80)
    assert r[np.argmax(g)] == pytest.approx(3.6 / np.sqrt(2), abs=0.05)
    cn, hist = analysis.coordination([atoms], 3.0)
    assert cn == 12 and hist == {12: 1.0}
    theta, adf = analysis.bond_angles([atoms], 3.0)
    peaks = theta[adf > 0]
    for angle in (60, 90, 120, 180):
        assert np.min(np.abs(peaks - angle)) < 2.0
