"""GPU throughput of kizuna's CUDA backend on liquid water -- to be run on the GPU machine.

The n2p2 water potential (H2O_RPBE-D3) on n2p2's cfg1 liquid (1,080 atoms) replicated to
12,960 (2x2x3), 103,680 (4x4x6) and 1,049,760 (9x9x12) atoms, in float64 and float32:

  python   kizuna.Potential(device="cuda").compute (energy + forces) called repeatedly on one
           structure; the time per call includes the neighbour list, which the Python module
           builds on the CPU every call (timed separately and printed), the upload of the list
           with its image shifts, and the download of the forces;
  lammps   NVE MD with `pair_style kizuna water.kzn device cuda [precision float32]`, one MPI
           rank on the GPU (`--ranks 2`: two ranks sharing it), skin `--skin` Å; the loop time
           of a timed run after a warm-up run. LAMMPS's own "Pair" share is printed too.

Prints atom-steps/s (atoms x steps / wall seconds) for each case, the GPU/CPU energy agreement
at the smallest size, and a table at the end; --json keeps every number. The target of
issue 6 is >= 5 M atom-steps/s at 10^6 atoms (LAMMPS, float64 or float32).

    python benchmarks/gpu_throughput.py                    # everything (~10 min on an H100)
    python benchmarks/gpu_throughput.py --quick            # without the 10^6-atom box
    python benchmarks/gpu_throughput.py --only lammps --precisions float32 --sizes 1049760
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the n2p2 reference readers

WATER_N2P2 = ROOT / "tests" / "data" / "n2p2" / "H2O_RPBE-D3"
WATER_DATA = ROOT / "tests" / "data" / "n2p2" / "reference" / "water" / "cfg1_liquid1080.data"
SIZES = {12960: (2, 2, 3), 103680: (4, 4, 6), 1049760: (9, 9, 12)}
# calls (python) and MD steps (lammps) per size: a few seconds each on an H100
PY_CALLS = {12960: 20, 103680: 10, 1049760: 3}
MD_STEPS = {12960: 400, 103680: 100, 1049760: 30}

LAMMPS_INPUT = """plugin load {plugin}
units metal
atom_style atomic
boundary p p p
atom_modify map array
read_data {data}
replicate {replicate}
mass 1 1.00794
mass 2 15.9994
pair_style kizuna {model} extrapolation ignore device cuda precision {precision}
pair_coeff * * H O
neighbor {skin} bin
neigh_modify every 1 delay 0 check yes
velocity all create 300 4928459 mom yes rot yes dist gaussian
timestep 0.0005
fix 1 all nve
thermo {steps}
run {warmup}
run {steps}
"""


def water_model(path: Path):
    from kizuna.n2p2 import import_n2p2

    import_n2p2(WATER_N2P2, path, cflength=1.8897261328, cfenergy=0.0367493254)
    return path


def replicated_liquid(reps):
    """Positions, symbols and cell of cfg1_liquid1080 repeated reps = (nx, ny, nz) times."""
    from n2p2_reference import load

    ref = load("cfg1_liquid1080")
    shifts = np.array([[i, j, k] for i in range(reps[0]) for j in range(reps[1])
                       for k in range(reps[2])], dtype=float) @ ref.cell
    positions = (ref.positions[None, :, :] + shifts[:, None, :]).reshape(-1, 3)
    symbols = list(ref.symbols) * len(shifts)
    cell = ref.cell * np.array(reps)[:, None]
    return positions, symbols, cell


def bench_python(model_path, atoms, precision, threads):
    import kizuna
    from kizuna import _core

    positions, symbols, cell = replicated_liquid(SIZES[atoms])
    pot = kizuna.Potential(model_path, threads=threads, device="cuda", precision=precision)
    for _ in range(2):  # warm-up: buffers, slots learnt
        pot.compute(positions, symbols, cell, True)
    calls = PY_CALLS[atoms]
    start = time.perf_counter()
    for _ in range(calls):
        out = pot.compute(positions, symbols, cell, True)
    seconds = (time.perf_counter() - start) / calls
    start = time.perf_counter()
    _core.neighbor_list(positions, cell, True, pot.cutoff)
    nl_seconds = time.perf_counter() - start
    return dict(path="python", atoms=atoms, precision=precision, seconds_per_step=seconds,
                neighbor_list_s=nl_seconds, atom_steps_per_s=atoms / seconds,
                energy=out["energy"], device=pot.device_name)


def bench_lammps(model_path, atoms, precision, workdir: Path, ranks: int, skin: float):
    from kizuna.lammps import environment, lmp_executable, mpirun_executable, plugin_path

    reps = SIZES[atoms]
    steps = MD_STEPS[atoms]
    script = LAMMPS_INPUT.format(plugin=plugin_path(), data=WATER_DATA, model=model_path,
                                 replicate=" ".join(map(str, reps)), precision=precision,
                                 skin=skin, steps=steps, warmup=max(5, steps // 10))
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "in.bench").write_text(script)
    command = [str(lmp_executable()), "-in", "in.bench", "-log", "log.lammps", "-nocite"]
    if ranks > 1:
        command = [str(mpirun_executable()), "-np", str(ranks)] + command
    proc = subprocess.run(command, cwd=workdir, env=environment(threads=1), capture_output=True,
                          text=True)
    text = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise RuntimeError(f"LAMMPS failed in {workdir}:\n{text[-3000:]}")
    loops = re.findall(r"Loop time of (\S+) on (\d+) procs for (\d+) steps with (\d+) atoms", text)
    seconds, _, nsteps, natoms = loops[-1]  # the timed run, after the warm-up
    pair = re.findall(r"^Pair\s*\|\s*\S+\s*\|\s*(\S+)", text, re.MULTILINE)
    builds = re.findall(r"Neighbor list builds = (\d+)", text)
    seconds, nsteps, natoms = float(seconds), int(nsteps), int(natoms)
    return dict(path="lammps", atoms=natoms, precision=precision, ranks=ranks, skin=skin,
                steps=nsteps, loop_s=seconds, atom_steps_per_s=natoms * nsteps / seconds,
                pair_avg_s=float(pair[-1]) if pair else None,
                neighbor_builds=int(builds[-1]) if builds else None)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="skip the 10^6-atom box")
    p.add_argument("--sizes", type=int, nargs="+", choices=sorted(SIZES), help="atoms")
    p.add_argument("--precisions", nargs="+", default=["float64", "float32"],
                   choices=["float64", "float32"])
    p.add_argument("--only", choices=["python", "lammps"], help="one path only")
    p.add_argument("--ranks", type=int, default=1, help="LAMMPS MPI ranks sharing the GPU")
    p.add_argument("--skin", type=float, default=1.0, help="LAMMPS neighbour skin (Å)")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                   help="CPU threads of the Python neighbour list")
    p.add_argument("--json", type=Path, help="write every measurement to this file")
    p.add_argument("--workdir", type=Path, help="keep LAMMPS runs here (default: temp folder)")
    args = p.parse_args(argv)

    from kizuna import _core

    if not (_core.has_cuda and _core.cuda_device_count() > 0):
        sys.exit("gpu_throughput.py needs a CUDA device: " + (_core.cuda_unavailable_reason()
                                                               or "none found"))
    sizes = args.sizes or [s for s in sorted(SIZES) if not (args.quick and s > 200000)]
    tmp = None if args.workdir else tempfile.TemporaryDirectory()
    workdir = (args.workdir or Path(tmp.name)).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    model = water_model(workdir / "water.kzn")
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))

    results = []
    if args.only != "lammps":
        check_against_cpu(model, min(sizes), args.threads)
    for atoms in sizes:
        for precision in args.precisions:
            if args.only != "lammps":
                r = bench_python(model, atoms, precision, args.threads)
                results.append(r)
                print(f"  python {atoms:9,d} atoms {precision}: {r['atom_steps_per_s']:14,.0f} "
                      f"atom-steps/s ({r['seconds_per_step'] * 1e3:.1f} ms/call, of which CPU "
                      f"neighbour list ~{r['neighbor_list_s'] * 1e3:.1f} ms)", flush=True)
            if args.only != "python":
                r = bench_lammps(model, atoms, precision, workdir / f"lmp-{atoms}-{precision}",
                                 args.ranks, args.skin)
                results.append(r)
                print(f"  lammps {atoms:9,d} atoms {precision}: {r['atom_steps_per_s']:14,.0f} "
                      f"atom-steps/s ({r['loop_s']:.2f} s for {r['steps']} steps, pair "
                      f"{r['pair_avg_s']} s, {r['neighbor_builds']} list builds)", flush=True)
    print(f"\n{'path':8s} {'atoms':>10s} {'precision':>9s} {'atom-steps/s':>15s}")
    for r in results:
        print(f"{r['path']:8s} {r['atoms']:10,d} {r['precision']:>9s} {r['atom_steps_per_s']:15,.0f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


def check_against_cpu(model, atoms, threads):
    """GPU vs CPU energy and forces at one size (a benchmark of wrong numbers is worthless)."""
    import kizuna

    positions, symbols, cell = replicated_liquid(SIZES[atoms])
    cpu = kizuna.Potential(model, threads=threads).compute(positions, symbols, cell, True)
    for precision in ("float64", "float32"):
        gpu = kizuna.Potential(model, device="cuda", precision=precision).compute(
            positions, symbols, cell, True)
        de = abs(gpu["energy"] - cpu["energy"]) / abs(cpu["energy"])
        df = np.linalg.norm(gpu["forces"] - cpu["forces"]) / np.linalg.norm(cpu["forces"])
        print(f"  {atoms:,d} atoms {precision}: GPU vs CPU relative error energy {de:.2e}, "
              f"forces {df:.2e}", flush=True)


if __name__ == "__main__":
    main()
