"""Readers of labelled structures; units are converted here and nowhere else.

* anything ASE reads (extxyz, VASP OUTCAR / vasprun.xml, ...): :func:`read_ase`;
* n2p2 / RuNNer ``input.data``: :func:`read_n2p2`;
* DeePMD ``npy`` systems (``type.raw``, ``set.*/{box,coord,energy,force[,virial]}.npy``):
  :func:`read_deepmd`;
* mlearn (Zuo et al. 2020) JSON lists of pymatgen structures with outputs: :func:`read_mlearn_json`.

:func:`read_structures` picks the reader from the path. Every structure gets a ``name``
(``file#index``, ``file:line``) used by every error message.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import DataError
from .structure import VOIGT, Structure

#: CODATA 2018
BOHR_IN_ANGSTROM = 0.529177210903
HARTREE_IN_EV = 27.211386245988
#: 1 eV/Å^3 in GPa (e = 1.602176634e-19 C)
EV_PER_A3_IN_GPA = 160.21766208
LENGTH_UNITS = {"angstrom": 1.0, "bohr": BOHR_IN_ANGSTROM, "nm": 10.0}  # Å per unit
ENERGY_UNITS = {"ev": 1.0, "hartree": HARTREE_IN_EV, "kcal/mol": 0.0433641043,
                "kj/mol": 0.0103642688, "rydberg": HARTREE_IN_EV / 2}  # eV per unit
FORMATS = ("auto", "ase", "n2p2", "deepmd", "mlearn_json")


def unit_factors(length_unit="angstrom", energy_unit="eV"):
    """(Å per length unit, eV per energy unit); unknown names raise DataError."""
    lu, eu = str(length_unit).lower(), str(energy_unit).lower()
    if lu not in LENGTH_UNITS:
        raise DataError(f"unknown length unit {length_unit!r}; known: {', '.join(LENGTH_UNITS)}")
    if eu not in ENERGY_UNITS:
        raise DataError(f"unknown energy unit {energy_unit!r}; known: {', '.join(ENERGY_UNITS)}")
    return LENGTH_UNITS[lu], ENERGY_UNITS[eu]


def _voigt(tensor3x3) -> np.ndarray:
    t = np.asarray(tensor3x3, dtype=float).reshape(3, 3)
    return np.array([t[a, b] for a, b in VOIGT])


# ------------------------------------------------------------------------------------------ ASE
def _ase_energy(atoms, key):
    if key in (None, "energy", "free_energy") and atoms.calc is not None:
        try:
            return float(atoms.get_potential_energy(force_consistent=(key == "free_energy")))
        except Exception:  # noqa: BLE001 - property not present: fall back to info
            pass
    for k in ([key] if key else ["energy", "Energy", "dft_energy", "DFT_energy", "total_energy"]):
        if k in atoms.info:
            return float(atoms.info[k])
    return None


def _ase_forces(atoms, key):
    if key in (None, "forces") and atoms.calc is not None:
        try:
            return np.array(atoms.get_forces(apply_constraint=False), dtype=float)
        except Exception:  # noqa: BLE001
            pass
    for k in ([key] if key else ["forces", "force", "dft_forces", "DFT_forces"]):
        if k in atoms.arrays:
            return np.array(atoms.arrays[k], dtype=float)
    return None


def _ase_stress(atoms, key):
    """ASE-convention stress (eV/Å^3, Voigt) from the calculator, info['stress'] or
    info['virial'] (eV, virial = -stress * V, the extxyz/GAP convention)."""
    if key in (None, "stress") and atoms.calc is not None:
        try:
            return np.array(atoms.get_stress(voigt=True), dtype=float)
        except Exception:  # noqa: BLE001
            pass
    if key in (None, "stress") and "stress" in atoms.info:
        value = np.asarray(atoms.info["stress"], dtype=float).ravel()
        return value if value.size == 6 else _voigt(value)
    if key in (None, "virial") and "virial" in atoms.info:
        virial = np.asarray(atoms.info["virial"], dtype=float).ravel()
        virial = _voigt(virial) if virial.size == 9 else virial
        return -virial / atoms.get_volume()
    if key not in (None, "stress", "virial"):
        raise DataError(f"stress_key must be 'stress' or 'virial', got {key!r}")
    return None


def read_ase(path, index=":", format=None, energy_key=None, forces_key=None, stress_key=None,
             use_stress=True) -> list:
    """Structures from any file ASE reads. ASE readers already give eV, Å, eV/Å, eV/Å^3."""
    from ase.io import read

    try:
        frames = read(str(path), index=index, format=format)
    except Exception as exc:  # noqa: BLE001 - ASE raises many kinds
        raise DataError(f"{path}: ASE cannot read this file ({type(exc).__name__}: {exc}); "
                        "set data format / check the file") from None
    if not isinstance(frames, list):
        frames = [frames]
    out = []
    for k, atoms in enumerate(frames):
        cell = np.array(atoms.cell, dtype=float) if atoms.cell.rank == 3 else None
        out.append(Structure(
            symbols=atoms.get_chemical_symbols(), positions=np.array(atoms.positions, dtype=float),
            cell=cell, pbc=tuple(bool(p) for p in atoms.pbc) if cell is not None else (False,) * 3,
            energy=_ase_energy(atoms, energy_key), forces=_ase_forces(atoms, forces_key),
            stress=_ase_stress(atoms, stress_key) if use_stress and cell is not None else None,
            name=f"{path}#{k}"))
    return out


# ----------------------------------------------------------------------------------------- n2p2
def read_n2p2(path, length_unit="angstrom", energy_unit="eV") -> list:
    """n2p2/RuNNer ``input.data``: begin / comment / lattice x3 / atom x y z E q e fx fy fz /
    energy / charge / end. Lengths and energies in the given units (converted to Å, eV)."""
    a, ev = unit_factors(length_unit, energy_unit)
    out, cur = [], None
    path = Path(path)
    with open(path) as handle:
        for number, raw in enumerate(handle, start=1):
            tokens = raw.split()
            if not tokens or tokens[0].startswith("#"):
                continue
            where = f"{path}:{number}"
            key = tokens[0]
            try:
                if key == "begin":
                    if cur is not None:
                        raise DataError(f"{where}: 'begin' before the 'end' of the structure "
                                        f"that began at line {cur['line']}")
                    cur = {"line": number, "lattice": [], "atoms": [], "energy": None}
                    continue
                if cur is None:
                    raise DataError(f"{where}: '{key}' outside a begin ... end block")
                if key == "lattice":
                    cur["lattice"].append([float(t) * a for t in tokens[1:4]])
                elif key == "atom":
                    if len(tokens) < 10:
                        raise DataError(f"{where}: 'atom' needs x y z element charge energy fx "
                                        f"fy fz (9 values), got {len(tokens) - 1}")
                    cur["atoms"].append((tokens[4], [float(t) * a for t in tokens[1:4]],
                                         [float(t) * ev / a for t in tokens[7:10]]))
                elif key == "energy":
                    cur["energy"] = float(tokens[1]) * ev
                elif key == "end":
                    out.append(_n2p2_structure(cur, f"{path}:{cur['line']}"))
                    cur = None
            except (ValueError, IndexError):
                raise DataError(f"{where}: cannot read '{raw.strip()[:80]}'") from None
    if cur is not None:
        raise DataError(f"{path}: structure beginning at line {cur['line']} has no 'end' "
                        "(truncated file?)")
    return out


def _n2p2_structure(cur, name) -> Structure:
    if cur["lattice"] and len(cur["lattice"]) != 3:
        raise DataError(f"{name}: {len(cur['lattice'])} lattice lines, expected 0 or 3")
    cell = np.array(cur["lattice"]) if cur["lattice"] else None
    symbols = [t[0] for t in cur["atoms"]]
    positions = np.array([t[1] for t in cur["atoms"]]).reshape(-1, 3)
    forces = np.array([t[2] for t in cur["atoms"]]).reshape(-1, 3)
    return Structure(symbols=symbols, positions=positions, cell=cell,
                     pbc=(True,) * 3 if cell is not None else (False,) * 3,
                     energy=cur["energy"], forces=forces, name=name)


# --------------------------------------------------------------------------------------- DeePMD
def read_deepmd(folder, type_map=None, use_stress=True) -> list:
    """A DeePMD npy system (Å, eV, eV/Å; virial in eV with stress = -virial/V)."""
    folder = Path(folder)
    if not (folder / "type.raw").is_file():
        raise DataError(f"{folder}: not a DeePMD system (no type.raw)")
    types = np.loadtxt(folder / "type.raw", dtype=int, ndmin=1)
    if type_map is None:
        if not (folder / "type_map.raw").is_file():
            raise DataError(f"{folder}: no type_map.raw; give the element of each type "
                            "(data type_map: [O, H])")
        type_map = np.loadtxt(folder / "type_map.raw", dtype=str, ndmin=1).tolist()
    if types.max() >= len(type_map):
        raise DataError(f"{folder}: type {types.max()} has no element in type_map {type_map}")
    symbols = [type_map[t] for t in types]
    n = len(types)
    nopbc = (folder / "nopbc").exists()
    sets = sorted(folder.glob("set.*"))
    if not sets:
        raise DataError(f"{folder}: no set.* folders")
    out = []
    for d in sets:
        def load(name, required=True):
            f = d / f"{name}.npy"
            if not f.is_file():
                if required:
                    raise DataError(f"{d}: missing {name}.npy")
                return None
            return np.load(f).astype(float)

        coord = load("coord").reshape(-1, n, 3) if load("coord").size % (3 * n) == 0 else None
        if coord is None:
            raise DataError(f"{d}/coord.npy: size is not a multiple of 3 x {n} atoms (type.raw)")
        m = len(coord)
        box = load("box", required=not nopbc)
        energy = load("energy", required=False)
        force = load("force", required=False)
        virial = load("virial", required=False) if use_stress else None
        for name, arr, per in (("box", box, 9), ("energy", energy, 1), ("force", force, 3 * n),
                               ("virial", virial, 9)):
            if arr is not None and arr.size != m * per:
                raise DataError(f"{d}/{name}.npy: {arr.size} values, expected {m} frames x {per} "
                                "(inconsistent counts)")
        for k in range(m):
            cell = None if box is None or nopbc else box.reshape(m, 3, 3)[k]
            stress = None
            if virial is not None and cell is not None:
                stress = -_voigt(virial.reshape(m, 3, 3)[k]) / abs(np.linalg.det(cell))
            out.append(Structure(
                symbols=list(symbols), positions=coord[k].copy(), cell=cell,
                pbc=(True,) * 3 if cell is not None else (False,) * 3,
                energy=None if energy is None else float(energy.ravel()[k]),
                forces=None if force is None else force.reshape(m, n, 3)[k].copy(),
                stress=stress, name=f"{d}#{k}"))
    return out


# --------------------------------------------------------------------------------------- mlearn
def read_mlearn_json(path, use_stress=True) -> list:
    """mlearn JSON (Zuo et al. 2020): pymatgen Structure dicts with ``outputs`` energy (eV,
    total), forces (eV/Å), virial_stress (VASP: kBar, order xx yy zz xy yz zx, positive =
    compressive). Converted: stress_ASE = -virial_stress * 0.1 GPa, reordered to
    xx yy zz yz xz xy (the sign and order are checked against energy differences of the
    strained structures in tests/test_data_readers.py)."""
    path = Path(path)
    try:
        entries = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot read JSON ({exc})") from None
    out = []
    for k, entry in enumerate(entries):
        name = f"{path}#{k}"
        try:
            lattice = np.array(entry["structure"]["lattice"]["matrix"], dtype=float)
            sites = entry["structure"]["sites"]
            outputs = entry["outputs"]
        except (KeyError, TypeError):
            raise DataError(f"{name}: not an mlearn entry (needs structure.lattice.matrix, "
                            "structure.sites, outputs)") from None
        symbols = [site["species"][0]["element"] for site in sites]
        stress = None
        vs = outputs.get("virial_stress")
        if use_stress and vs is not None:
            xx, yy, zz, xy, yz, zx = (float(v) for v in vs)
            stress = -np.array([xx, yy, zz, yz, zx, xy]) * 0.1 / EV_PER_A3_IN_GPA
        forces = outputs.get("forces")
        out.append(Structure(
            symbols=symbols, positions=np.array([site["xyz"] for site in sites], dtype=float),
            cell=lattice, pbc=(True,) * 3, energy=outputs.get("energy"),
            forces=None if forces is None else np.array(forces, dtype=float), stress=stress,
            name=name))
    return out


# ------------------------------------------------------------------------------------- dispatch
def detect_format(path) -> str:
    path = Path(path)
    if path.is_dir():
        if (path / "type.raw").is_file():
            return "deepmd"
        raise DataError(f"{path}: a folder, but not a DeePMD system (no type.raw)")
    if not path.is_file():
        raise DataError(f"{path}: no such data file")
    if path.suffix == ".json":
        return "mlearn_json"
    with open(path, errors="replace") as handle:
        for raw in handle:
            if raw.strip() and not raw.lstrip().startswith("#"):
                return "n2p2" if raw.split()[0] == "begin" else "ase"
    raise DataError(f"{path}: empty data file")


def read_structures(path, format="auto", index=":", length_unit="angstrom", energy_unit="eV",
                    energy_key=None, forces_key=None, stress_key=None, type_map=None,
                    use_stress=True, ase_format=None) -> list:
    """Read one data source (file or DeePMD folder), converting to eV/Å."""
    if format not in FORMATS:
        raise DataError(f"unknown data format {format!r}; known: {', '.join(FORMATS)}")
    fmt = detect_format(path) if format == "auto" else format
    if fmt == "ase":
        if (length_unit, energy_unit) != ("angstrom", "eV"):
            raise DataError(f"{path}: ASE readers already convert to Å and eV; length_unit / "
                            "energy_unit apply to n2p2 files only")
        return read_ase(path, index=index, format=ase_format, energy_key=energy_key,
                        forces_key=forces_key, stress_key=stress_key, use_stress=use_stress)
    if fmt == "n2p2":
        return read_n2p2(path, length_unit, energy_unit)
    if fmt == "deepmd":
        return read_deepmd(path, type_map, use_stress=use_stress)
    return read_mlearn_json(path, use_stress=use_stress)
