"""LAMMPS cost of the mlearn-accuracy configuration against SNAP Ta06A in the same run.

The models of benchmarks/mlearn_accuracy.py (examples/training/mlearn.yaml: 16 shifted radial +
64 `angular_wide` shifted-shell functions, zeta {1, 2, 4, 16} x lambda +-1, rc 5.5 Å, 96-96 tanh
networks) with random weights: a trained model of the same architecture costs the same (the
cost depends on the symmetry functions and the network sizes, not on the weights). NVE MD,
1 MPI rank, OMP_NUM_THREADS=1, each run its own `lmp` process:

  kizuna  Si, diamond a = 5.431 Å, 12 x 12 x 7 cells = 8,064 atoms
  kizuna  Mo, bcc a = 3.147 Å, 16 x 16 x 16 cells = 8,192 atoms
  snap    Ta06A (with its ZBL core), bcc, 12,288 atoms (lammps_throughput.py's yardstick)

Each kizuna system runs twice per repeat: with the wide angular functions evaluated by moments
and pair loops (the default) and on the triplet list (KIZUNA_ANGULAR_MOMENTS=0, the path before
them); the runs alternate. Prints LAMMPS's pair time per atom-step (best of the repeats: the
least disturbed by other jobs), the same times LAMMPS's CPU share (the CPU time, for a loaded
machine), their ratios to SNAP-Ta's, and whether both paths print the same thermo output.

    python benchmarks/lammps_mlearn.py --repeats 3
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lammps_throughput import CRYSTAL, YARDSTICKS, potentials_dir, run_lammps  # noqa: E402
from profile_core import mlearn_model  # noqa: E402

from kizuna.lammps import plugin_path  # noqa: E402

SYSTEMS = {
    "Si": dict(lattice="diamond", a=5.431, nx=12, ny=12, nz=7, mass=28.0855, temp=600, steps=10),
    "Mo": dict(lattice="bcc", a=3.147, nx=16, ny=16, nz=16, mass=95.95, temp=600, steps=10),
}


def thermo_lines(workdir: Path) -> list[str]:
    """The thermo table of a run (step, temperature, energies, pressure)."""
    text = (workdir / "stdout").read_text()
    return re.findall(r"^\s+\d+\s+[-0-9.e+ ]+$", text, re.MULTILINE)


def cpu_us(out: dict) -> float:
    """Pair time per atom-step times the CPU share LAMMPS saw: the CPU time on a loaded machine."""
    return out["pair_us_per_atom_step"] * (out["cpu_percent"] or 100.0) / 100.0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--elements", nargs="+", default=list(SYSTEMS))
    p.add_argument("--workdir", type=Path, help="keep the runs here (default: a temp folder)")
    p.add_argument("--memory", action="store_true",
                   help="instead: peak RSS of each system at its size and at ~100,000 atoms")
    a = p.parse_args(argv)
    work = (a.workdir or Path(tempfile.mkdtemp(prefix="kizuna-mlearn-"))).resolve()
    work.mkdir(parents=True, exist_ok=True)
    if a.memory:
        return memory(a.elements, work)
    results: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}
    same = {}
    for el in a.elements:
        mlearn_model(el).save(work / f"{el}.kzn")
    for r in range(a.repeats):
        snap = dict(YARDSTICKS["snap-Ta06A"])
        snap["pair"] = snap["pair"].format(pot=potentials_dir())
        out = run_lammps(CRYSTAL.format(**snap), work / f"snap-{r}")
        results.setdefault("snap-Ta06A", []).append(out["pair_us_per_atom_step"])
        cpu.setdefault("snap-Ta06A", []).append(cpu_us(out))
        for el in a.elements:
            s = dict(SYSTEMS[el])
            s["pair"] = f"pair_style kizuna {work / (el + '.kzn')} extrapolation ignore\npair_coeff * * {el}"
            script = f"plugin load {plugin_path()}\n" + CRYSTAL.format(**s)
            thermo = {}
            for path in ("moments", "triplets"):
                if path == "triplets":
                    os.environ["KIZUNA_ANGULAR_MOMENTS"] = "0"
                try:
                    out = run_lammps(script, work / f"{el}-{path}-{r}")
                finally:
                    os.environ.pop("KIZUNA_ANGULAR_MOMENTS", None)
                results.setdefault(f"{el}-{path}", []).append(out["pair_us_per_atom_step"])
                cpu.setdefault(f"{el}-{path}", []).append(cpu_us(out))
                thermo[path] = thermo_lines(work / f"{el}-{path}-{r}")
            same[el] = thermo["moments"] == thermo["triplets"]
    print(f"runs in {work}; load average {os.getloadavg()[0]:.2f}")
    print("best of the repeats; wall: LAMMPS's pair time per atom-step, cpu: times its CPU share")
    print(f"{'system':>14} {'wall µs':>9} {'/ SNAP-Ta':>10} {'cpu µs':>9} {'/ SNAP-Ta':>10}")
    snap_w, snap_c = min(results["snap-Ta06A"]), min(cpu["snap-Ta06A"])
    print(f"{'snap-Ta06A':>14} {snap_w:9.1f} {1.0:10.2f} {snap_c:9.1f} {1.0:10.2f}")
    for el in a.elements:
        for path in ("triplets", "moments"):
            w, c = min(results[f"{el}-{path}"]), min(cpu[f"{el}-{path}"])
            print(f"{el + ' ' + path:>14} {w:9.1f} {w / snap_w:10.2f} {c:9.1f} {c / snap_c:10.2f}")
        ratio_w = min(results[f"{el}-moments"]) / min(results[f"{el}-triplets"])
        ratio_c = min(cpu[f"{el}-moments"]) / min(cpu[f"{el}-triplets"])
        print(f"{el}: moments / triplets = {ratio_w:.3f} (wall), {ratio_c:.3f} (cpu); thermo output "
              f"{'identical' if same[el] else 'differs (round-off)'}")

# about 100,000 atoms: Si 23 x 23 x 24 diamond cells (101,568), Mo 37^3 bcc cells (101,306)
BIG = {"Si": dict(nx=23, ny=23, nz=24), "Mo": dict(nx=37, ny=37, nz=37)}


def memory(elements, work: Path):
    """Peak resident memory of the whole LAMMPS process (wait4) for each system at its
    benchmark size and at ~100,000 atoms, 2 MD steps each: memory per atom should not grow."""
    print(f"{'system':>6} {'atoms':>8} {'peak RSS MB':>12} {'kB/atom (difference)':>22}")
    for el in elements:
        mlearn_model(el).save(work / f"{el}.kzn")
        rows = []
        for label, size in (("small", {}), ("big", BIG[el])):
            s = dict(SYSTEMS[el], steps=2, **size)
            per_cell = 8 if s["lattice"] == "diamond" else 2
            atoms = per_cell * s["nx"] * s["ny"] * s["nz"]
            s["pair"] = (f"pair_style kizuna {work / (el + '.kzn')} extrapolation ignore\n"
                         f"pair_coeff * * {el}")
            # wait4's ru_maxrss would include this (torch-sized) Python process: the child
            # starts as its fork. VmHWM of the lmp process itself, read by LAMMPS's `shell`
            # at the end of the run, is the peak of the exec'd program alone.
            folder = work / f"{el}-memory-{label}"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "hwm.sh").write_text(
                "#!/bin/sh\ngrep VmHWM /proc/$(pgrep -n -x lmp)/status > vmhwm.txt\n")
            (folder / "hwm.sh").chmod(0o755)
            run_lammps(f"plugin load {plugin_path()}\n" + CRYSTAL.format(**s)
                       + "\nshell ./hwm.sh\n", folder)
            kb = int((folder / "vmhwm.txt").read_text().split()[1])
            rows.append((atoms, kb / 1024.0))
        (n0, m0), (n1, m1) = rows
        for n, m in rows:
            print(f"{el:>6} {n:8d} {m:12.0f}")
        print(f"{el:>6} growth {(m1 - m0) * 1024 / (n1 - n0):.2f} kB per added atom")


if __name__ == "__main__":
    main()
