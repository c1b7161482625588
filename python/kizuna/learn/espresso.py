"""Quantum ESPRESSO (pw.x) as the reference of on-the-fly learning: a thin ASE calculator
around pw.x that a long unattended run can rely on.

    reference:
      type: espresso
      command: "pw.x"                   # or "mpirun -np 2 pw.x"; "-in <file>" is appended
      pseudopotentials: {Si: Si.pbe-rrkj.UPF}
      pseudo_dir: /usr/share/espresso/pseudo
      ecutwfc: 24                       # Ry (pw.x's unit)
      kpts: [2, 2, 2]                   # or kspacing: 0.25 (1/Å, ASE's definition, no 2π)

One call = one fresh scratch folder (input, output, pw.x's outdir) removed afterwards. The
result is accepted only when pw.x exited with 0, printed "convergence has been achieved" and
not "convergence NOT achieved", and its output has the energy and the forces (and the stress
when asked for). Otherwise the call is tried again with safer mixing (`retries`: smaller
mixing_beta, more SCF steps); when every try fails, :class:`ReferenceFailed` is raised with
the reasons, and the learner skips the structure (an event in events.jsonl), never labelling
from an unconverged SCF. A crashed or killed pw.x, or one over `timeout` seconds, is a failed
try like a non-converged SCF.

Units: pw.x works in Ry and bohr; ASE's reader converts: energy (the "!" total energy, with
smearing the free energy whose derivatives the forces are) Ry -> eV, forces Ry/bohr -> eV/Å,
stress Ry/bohr^3 -> eV/Å^3 with ASE's sign (pw.x prints the pressure P = -trace(stress)/3);
the constants are CODATA 2006 (Ry = 13.60569193 eV, bohr = 0.52917720859 Å), pw.x's own.
"""
from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from ase.calculators.calculator import Calculator, all_changes

from ..errors import ConfigError
from .reference import ReferenceFailed

DEFAULT_PSEUDO_DIR = "/usr/share/espresso/pseudo"  # Debian's quantum-espresso-data

# key: (default, description); every key of the `reference:` mapping of type espresso
SETTINGS = {
    "command": ("pw.x", "pw.x command line; '-in <input>' is appended (mpirun -np N pw.x)"),
    "pseudopotentials": (None, "{element: UPF file name in pseudo_dir}"),
    "pseudo_dir": (DEFAULT_PSEUDO_DIR, "folder of the UPF files"),
    "xc": ("PBE", "exchange-correlation (input_dft); the pseudopotentials' if null"),
    "ecutwfc": (30.0, "Ry, wave-function cutoff"),
    "ecutrho": (None, "Ry, charge-density cutoff (default 4 x ecutwfc)"),
    "kpts": (None, "Monkhorst-Pack grid [n1, n2, n3] or 'gamma'"),
    "kspacing": (None, "1/Å: the grid from this spacing (ASE's definition, no 2π)"),
    "koffset": ([0, 0, 0], "MP grid offset (0 or 1 per direction)"),
    "smearing": ("mv", "pw.x smearing (mv, gaussian, fd, ...) or null: fixed occupations"),
    "degauss": (0.01, "Ry, smearing width"),
    "conv_thr": (1e-8, "Ry, SCF convergence threshold (per cell)"),
    "mixing_beta": (0.5, "first try's mixing"),
    "electron_maxstep": (100, "first try's SCF iterations"),
    "retries": ([{"mixing_beta": 0.2, "electron_maxstep": 200},
                 {"mixing_beta": 0.1, "electron_maxstep": 300, "mixing_mode": "local-TF"}],
                "tries after a failed one: overrides of the &electrons namelist"),
    "timeout": (None, "seconds: a pw.x call running longer is killed (a failed try)"),
    "stress": (True, "compute the stress (tstress) of periodic cells"),
    "scratch": (None, "folder for the per-call scratch folders (default: the run folder's "
                      "dft/scratch, or the system temporary folder)"),
    "input_data": ({}, "more pw.x namelist settings, e.g. {system: {nosym: true}}"),
}


def check_settings(spec: dict) -> dict:
    """The settings of a `reference: {type: espresso, ...}` mapping, defaults filled in;
    ConfigError for unknown keys or bad values."""
    given = {k: v for k, v in spec.items() if k != "type"}
    unknown = sorted(set(given) - set(SETTINGS))
    if unknown:
        import difflib

        near = difflib.get_close_matches(unknown[0], SETTINGS, n=1)
        raise ConfigError(f"reference (espresso): unknown key {unknown[0]!r}"
                          + (f"; did you mean {near[0]!r}?" if near else
                             f"; allowed: {', '.join(SETTINGS)}"))
    s = {k: (given[k] if k in given else default) for k, (default, _) in SETTINGS.items()}
    where = "reference (espresso)"
    if not isinstance(s["pseudopotentials"], dict) or not s["pseudopotentials"]:
        raise ConfigError(f"{where}: pseudopotentials: expected {{element: UPF file}}, e.g. "
                          f"{{Si: Si.pbe-rrkj.UPF}} (files in pseudo_dir, default "
                          f"{DEFAULT_PSEUDO_DIR}), got {s['pseudopotentials']!r}")
    pdir = Path(str(s["pseudo_dir"])).expanduser()
    for element, name in s["pseudopotentials"].items():
        if not (pdir / str(name)).is_file():
            raise ConfigError(f"{where}: pseudopotential of {element}: {pdir / str(name)} not "
                              "found (Debian: apt-get install quantum-espresso-data; or set "
                              "pseudo_dir)")
    s["pseudo_dir"] = str(pdir.resolve())
    if not isinstance(s["command"], str) or not s["command"].strip():
        raise ConfigError(f"{where}: command: expected a command line such as 'pw.x' or "
                          f"'mpirun -np 2 pw.x', got {s['command']!r}")
    exe = shlex.split(s["command"])[0]
    if shutil.which(exe) is None:
        raise ConfigError(f"{where}: command {s['command']!r}: {exe!r} not found on PATH "
                          "(make dft-deps installs pw.x: apt-get install quantum-espresso)")
    for key in ("ecutwfc", "degauss", "conv_thr", "mixing_beta"):
        if not isinstance(s[key], (int, float)) or isinstance(s[key], bool) or s[key] <= 0:
            raise ConfigError(f"{where}: {key}: expected a number > 0, got {s[key]!r}")
    if s["ecutrho"] is not None and (not isinstance(s["ecutrho"], (int, float))
                                     or s["ecutrho"] < s["ecutwfc"]):
        raise ConfigError(f"{where}: ecutrho: expected a number >= ecutwfc (Ry), "
                          f"got {s['ecutrho']!r}")
    if (s["kpts"] is None) == (s["kspacing"] is None):
        raise ConfigError(f"{where}: give exactly one of kpts ([n1, n2, n3] or 'gamma') and "
                          "kspacing (1/Å)")
    if s["kpts"] is not None and s["kpts"] != "gamma" and not (
            isinstance(s["kpts"], (list, tuple)) and len(s["kpts"]) == 3
            and all(isinstance(n, int) and n >= 1 for n in s["kpts"])):
        raise ConfigError(f"{where}: kpts: expected [n1, n2, n3] (integers >= 1) or 'gamma', "
                          f"got {s['kpts']!r}")
    if s["kspacing"] is not None and (not isinstance(s["kspacing"], (int, float))
                                      or s["kspacing"] <= 0):
        raise ConfigError(f"{where}: kspacing: expected a number > 0 (1/Å), "
                          f"got {s['kspacing']!r}")
    if not isinstance(s["retries"], list) or not all(isinstance(r, dict) for r in s["retries"]):
        raise ConfigError(f"{where}: retries: expected a list of &electrons overrides, e.g. "
                          f"[{{mixing_beta: 0.2, electron_maxstep: 200}}], got {s['retries']!r}")
    if s["timeout"] is not None and (not isinstance(s["timeout"], (int, float))
                                     or s["timeout"] <= 0):
        raise ConfigError(f"{where}: timeout: expected seconds > 0 or null, "
                          f"got {s['timeout']!r}")
    if not isinstance(s["input_data"], dict):
        raise ConfigError(f"{where}: input_data: expected a mapping of pw.x namelists")
    return s


def _death_signal():
    """In the child: receive SIGTERM when the parent dies (Linux), so that a killed
    `kizuna learn` does not leave pw.x (or mpirun, which passes SIGTERM on) running."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def _kill_group(proc) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()
    proc.wait()


def check_output(text: str, returncode: int | None) -> str | None:
    """None when a pw.x output is a converged, finished SCF; else the reason it is not."""
    if returncode is None:
        return "timed out (killed)"
    if returncode < 0:
        return f"killed by signal {-returncode} ({signal.Signals(-returncode).name})" \
            if -returncode in signal.valid_signals() else f"killed by signal {-returncode}"
    if "convergence NOT achieved" in text:
        return "SCF convergence NOT achieved"
    if returncode != 0:
        tail = " | ".join(line.strip() for line in text.strip().splitlines()[-3:])
        return f"pw.x exited with status {returncode} (output ends: {tail[-200:]!r})"
    if "convergence has been achieved" not in text:
        return "no 'convergence has been achieved' in the output (truncated?)"
    if "!    total energy" not in text or "Forces acting on atoms" not in text:
        return "no total energy or forces in the output (truncated?)"
    return None


class Espresso(Calculator):
    """pw.x single points with retries; energy (eV), forces (eV/Å), stress (eV/Å^3)."""

    implemented_properties = ["energy", "free_energy", "forces", "stress"]

    def __init__(self, settings: dict, scratch=None, **kwargs):
        super().__init__(**kwargs)
        self.settings = settings
        self.scratch = Path(settings["scratch"] or scratch or tempfile.gettempdir())
        self.last_files = None  # {name: text} of the last successful call (input, output)
        self.last_attempts = []

    # ----------------------------------------------------------------------- input
    def _input(self, atoms, electrons: dict) -> dict:
        s = self.settings
        periodic = bool(atoms.pbc.all())
        system = {"ecutwfc": float(s["ecutwfc"])}
        if s["ecutrho"] is not None:
            system["ecutrho"] = float(s["ecutrho"])
        if s["xc"]:
            system["input_dft"] = str(s["xc"])
        if s["smearing"]:
            system.update(occupations="smearing", smearing=s["smearing"],
                          degauss=float(s["degauss"]))
        data = {
            "control": {"calculation": "scf", "tprnfor": True,
                        "tstress": bool(s["stress"] and periodic), "pseudo_dir": s["pseudo_dir"],
                        "outdir": "./out", "prefix": "pwscf", "disk_io": "low"},
            "system": system,
            "electrons": {"conv_thr": float(s["conv_thr"]), "mixing_beta": float(s["mixing_beta"]),
                          "electron_maxstep": int(s["electron_maxstep"]), **electrons},
        }
        for section, values in (s["input_data"] or {}).items():
            data.setdefault(section, {}).update(values or {})
        return data

    def _kpts(self, atoms):
        s = self.settings
        if s["kspacing"] is not None:
            return {"kspacing": float(s["kspacing"]), "koffset": tuple(s["koffset"])}
        if s["kpts"] == "gamma":
            return {"kpts": None}
        return {"kpts": tuple(s["kpts"]), "koffset": tuple(s["koffset"])}

    # ----------------------------------------------------------------------- one try
    def _run_once(self, atoms, electrons, folder: Path):
        from ase.io.espresso import write_espresso_in

        missing = sorted(set(atoms.get_chemical_symbols()) - set(self.settings["pseudopotentials"]))
        if missing:
            raise ConfigError(f"reference (espresso): no pseudopotential for {missing} "
                              "(pseudopotentials: {element: file})")
        pwi, pwo = folder / "espresso.pwi", folder / "espresso.pwo"
        atoms = atoms.copy()
        atoms.constraints = []  # MD's FixCom etc. mean nothing to a single point
        with open(pwi, "w") as handle:
            write_espresso_in(handle, atoms, input_data=self._input(atoms, electrons),
                              pseudopotentials=self.settings["pseudopotentials"],
                              **self._kpts(atoms))
        cmd = shlex.split(self.settings["command"]) + ["-in", pwi.name]
        env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
        if hasattr(os, "geteuid") and os.geteuid() == 0:  # OpenMPI refuses root otherwise
            env.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")
            env.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        with open(pwo, "w") as out:
            # own process group: a timeout kills mpirun and its pw.x ranks together
            proc = subprocess.Popen(cmd, cwd=folder, stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, env=env, start_new_session=True,
                                    preexec_fn=_death_signal if sys.platform == "linux" else None)
            try:
                code = proc.wait(timeout=self.settings["timeout"])
            except subprocess.TimeoutExpired:
                _kill_group(proc)
                code = None
            except BaseException:  # KeyboardInterrupt etc.: do not leave pw.x running
                _kill_group(proc)
                raise
        text = pwo.read_text(errors="replace")
        reason = check_output(text, code)
        if reason is not None:
            return None, reason, text
        from ase.io.espresso import read_espresso_out

        try:
            with open(pwo) as handle:
                result = next(read_espresso_out(handle, index=slice(-1, None)))
            calc = result.calc
            values = {"energy": calc.results["energy"], "forces": calc.results["forces"]}
            if "stress" in calc.results:
                values["stress"] = calc.results["stress"]
        except Exception as exc:  # noqa: BLE001 - any unreadable output is a failed try
            return None, f"output not readable ({type(exc).__name__}: {exc})", text
        if len(values["forces"]) != len(atoms):
            return None, f"{len(values['forces'])} forces for {len(atoms)} atoms", text
        if self.settings["stress"] and atoms.pbc.all() and "stress" not in values:
            return None, "no stress in the output", text
        return values, None, (pwi.read_text(), text)

    # ----------------------------------------------------------------------- ASE interface
    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        tries = [{}] + [dict(r) for r in self.settings["retries"]]
        self.last_attempts, self.last_files = [], None
        self.scratch.mkdir(parents=True, exist_ok=True)
        for k, electrons in enumerate(tries):
            folder = Path(tempfile.mkdtemp(prefix="pw-", dir=self.scratch))
            t0 = time.time()
            try:
                values, reason, text = self._run_once(self.atoms, electrons, folder)
            finally:
                shutil.rmtree(folder, ignore_errors=True)
            self.last_attempts.append({"try": k + 1, "electrons": electrons,
                                       "seconds": round(time.time() - t0, 2),
                                       "reason": reason or "converged"})
            if values is not None:
                self.results = {"energy": values["energy"], "free_energy": values["energy"],
                                "forces": np.asarray(values["forces"])}
                if "stress" in values:
                    self.results["stress"] = np.asarray(values["stress"])
                self.last_files = {"espresso.pwi": text[0], "espresso.pwo": text[1]}
                return
        raise ReferenceFailed(
            f"pw.x failed {len(tries)} times: "
            + "; ".join(f"try {a['try']}: {a['reason']}" for a in self.last_attempts),
            self.last_attempts)

    def get_stress(self, atoms=None):
        if not self.settings["stress"]:
            from ase.calculators.calculator import PropertyNotImplementedError

            raise PropertyNotImplementedError("stress: off (reference.stress: false)")
        return super().get_stress(atoms)

    def keep_last(self, folder) -> None:
        """Write the input and output of the last successful call into ``folder`` (the
        learner keeps them for labelled structures only)."""
        if not self.last_files:
            return
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in self.last_files.items():
            (folder / name).write_text(text)


def make_espresso(spec: dict, workdir=None) -> Espresso:
    settings = check_settings(spec)
    scratch = Path(workdir) / "dft" / "scratch" if workdir is not None else None
    return Espresso(settings, scratch=scratch)
