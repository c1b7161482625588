"""LAMMPS throughput of pair_style kizuna on liquid water, next to LAMMPS built-in yardsticks
measured in the same run, and the implied speed ratio to n2p2.

Systems (1 MPI rank, OMP_NUM_THREADS=1, each in its own `lmp` process, NVE MD):
  kizuna  water (n2p2 H2O_RPBE-D3 imported), cfg1 liquid 1,080 atoms replicated to 1,080,
          12,960 (2x2x3) and 103,680 (4x4x6) atoms: the sizes n2p2 was measured at
  sw      Si, diamond, 12,288 atoms
  snap    Ta06A (with its ZBL core), bcc, 12,288 atoms
  snap    W_2940_2017_2 (with its ZBL core), bcc, 12,288 atoms

For every run: loop time, LAMMPS's "Pair" time, atom-steps/s, µs of pair time per atom-step,
the CPU share LAMMPS saw (a loaded machine shows < 100 %) and the peak resident memory of the
process (wait4). Absolute speeds drift on shared machines, so kizuna is compared with n2p2
through the yardsticks: n2p2's time per atom-step divided by a yardstick's was measured in one
sitting (../shared/peers/n2p2/README.md; constants below), kizuna's is measured here.

    python benchmarks/lammps_throughput.py                 # all sizes, 1 repeat
    python benchmarks/lammps_throughput.py --quick         # skip 103,680 atoms
    python benchmarks/lammps_throughput.py --repeats 3 --json out.json
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from kizuna.lammps import environment, lmp_executable, plugin_path
from kizuna.n2p2 import import_n2p2

ROOT = Path(__file__).resolve().parent.parent
WATER_DATA = ROOT / "tests" / "data" / "n2p2" / "reference" / "water" / "cfg1_liquid1080.data"
WATER_N2P2 = ROOT / "tests" / "data" / "n2p2" / "H2O_RPBE-D3"

# n2p2 (pair_style hdnnp, H2O_RPBE-D3, ~12 k atoms) time per atom-step divided by the yardstick's,
# interleaved repeats in one sitting (peers/n2p2/README.md): (least favourable to kizuna, other end)
N2P2_TIME_RATIO = {
    "snap-Ta06A": (4.3, 6.5),      # n2p2 263-380 µs vs SNAP-Ta 53-80 µs per atom-step
    "snap-W": (1.3, 1.8),          # vs SNAP-W 189-294 µs
    "sw-Si": (263 / 1.1, 380 / 1.0),  # vs SW 1.0-1.1 µs
}
# n2p2's absolute throughput from the same README (atom-steps/s), for reference only
N2P2_THROUGHPUT = {1080: 2960, 12960: 3800, 103680: 2900}

HEADER = """units metal
atom_style atomic
boundary p p p
"""
WATER = """plugin load {plugin}
""" + HEADER + """atom_modify map array
read_data {data}
replicate {replicate}
mass 1 1.00794
mass 2 15.9994
pair_style kizuna {model} extrapolation ignore
pair_coeff * * H O
velocity all create 300 4928459 mom yes rot yes dist gaussian
timestep 0.0005
fix 1 all nve
thermo {steps}
run {steps}
"""
CRYSTAL = HEADER + """lattice {lattice} {a}
region box block 0 {nx} 0 {ny} 0 {nz}
create_box 1 box
create_atoms 1 box
mass 1 {mass}
{pair}
velocity all create {temp} 4928459 mom yes rot yes dist gaussian
neighbor 1.0 bin
neigh_modify once no every 1 delay 0 check yes
timestep 0.0005
fix 1 all nve
thermo {steps}
run {steps}
"""
YARDSTICKS = {
    "sw-Si": dict(lattice="diamond", a=5.431, nx=16, ny=16, nz=6, mass=28.0855, temp=1000,
                  pair="pair_style sw\npair_coeff * * Si.sw Si", steps=200),
    "snap-Ta06A": dict(lattice="bcc", a=3.316, nx=16, ny=16, nz=24, mass=180.88, temp=600,
                       pair="include {pot}/Ta06A.snap", steps=20),
    "snap-W": dict(lattice="bcc", a=3.1803, nx=16, ny=16, nz=24, mass=183.84, temp=600,
                   pair="include {pot}/W_2940_2017_2.snap", steps=6),
}
WATER_SIZES = {1080: ("1 1 1", 20), 12960: ("2 2 3", 4), 103680: ("4 4 6", 2)}


def potentials_dir() -> Path:
    return lmp_executable().parent / "share" / "lammps" / "potentials"


def run_lammps(script: str, workdir: Path) -> dict:
    """Run one LAMMPS input; parse its timings; peak RSS of the process from wait4."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "in.bench").write_text(script)
    env = environment(threads=1)
    env["LAMMPS_POTENTIALS"] = str(potentials_dir())
    with open(workdir / "stdout", "w") as out:
        proc = subprocess.Popen([str(lmp_executable()), "-in", "in.bench", "-log", "log.lammps",
                                 "-nocite"], cwd=workdir, env=env, stdout=out,
                                stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    text = (workdir / "stdout").read_text()
    if proc.returncode != 0:
        raise RuntimeError(f"LAMMPS failed in {workdir}:\n{text[-3000:]}")
    loop = re.search(r"Loop time of (\S+) on \d+ procs for (\d+) steps with (\d+) atoms", text)
    pair = re.search(r"^Pair\s*\|\s*(\S+)", text, re.MULTILINE)
    cpu = re.search(r"(\S+)% CPU use", text)
    seconds, steps, atoms = float(loop.group(1)), int(loop.group(2)), int(loop.group(3))
    pair_seconds = float(pair.group(1))
    return dict(atoms=atoms, steps=steps, loop_s=seconds, pair_s=pair_seconds,
                atom_steps_per_s=atoms * steps / seconds,
                pair_us_per_atom_step=1e6 * pair_seconds / (atoms * steps),
                cpu_percent=float(cpu.group(1)) if cpu else None,
                peak_rss_mb=usage.ru_maxrss / 1024.0,
                process_cpu_s=usage.ru_utime + usage.ru_stime)


def schedule(sizes):
    """(name, water atoms or None) alternating yardsticks and water boxes."""
    yardsticks, out = list(YARDSTICKS), []
    for k in range(max(len(sizes), len(yardsticks))):
        if k < len(yardsticks):
            out.append((yardsticks[k], None))
        if k < len(sizes):
            out.append((f"kizuna-water-{sizes[k]}", sizes[k]))
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="skip the 103,680-atom water box")
    p.add_argument("--repeats", type=int, default=1, help="interleaved repeats (median kept)")
    p.add_argument("--json", type=Path, help="write all measurements to this file")
    p.add_argument("--workdir", type=Path, help="keep the runs here (default: a temp folder)")
    args = p.parse_args(argv)

    sizes = [1080, 12960] + ([] if args.quick else [103680])
    tmp = None if args.workdir else tempfile.TemporaryDirectory()
    workdir = (args.workdir or Path(tmp.name)).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    model = workdir / "water.kzn"
    import_n2p2(WATER_N2P2, model, cflength=1.8897261328, cfenergy=0.0367493254)

    results = {}
    started = time.time()
    for repeat in range(args.repeats):
        for name, atoms in schedule(sizes):
            if atoms is not None:
                replicate, steps = WATER_SIZES[atoms]
                script = WATER.format(plugin=plugin_path(), data=WATER_DATA, model=model,
                                      replicate=replicate, steps=steps)
            else:
                settings = dict(YARDSTICKS[name])
                settings["pair"] = settings["pair"].format(pot=potentials_dir())
                script = CRYSTAL.format(**settings)
            r = run_lammps(script, workdir / f"{name}-{repeat}")
            results.setdefault(name, []).append(r)
            print(f"  {name:22s} {r['atoms']:7d} atoms  {r['atom_steps_per_s']:12.1f} "
                  f"atom-steps/s  {r['pair_us_per_atom_step']:9.3f} µs/atom-step (pair)  "
                  f"CPU {r['cpu_percent']}%  RSS {r['peak_rss_mb']:.0f} MB", flush=True)
    report(results, time.time() - started)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


def median(runs, key):
    return statistics.median(r[key] for r in runs)


def report(results, elapsed):
    print(f"\nmedians over repeats (wall time of the benchmark: {elapsed:.0f} s)")
    print(f"{'system':22s} {'atoms':>7s} {'atom-steps/s':>13s} {'µs/atom-step':>13s} "
          f"{'peak RSS MB':>12s}")
    for name, runs in results.items():
        print(f"{name:22s} {runs[0]['atoms']:7d} {median(runs, 'atom_steps_per_s'):13.1f} "
              f"{median(runs, 'pair_us_per_atom_step'):13.3f} {median(runs, 'peak_rss_mb'):12.0f}")
    water = results.get("kizuna-water-12960")
    if not water:
        return
    t_kizuna = median(water, "pair_us_per_atom_step")
    print("\nkizuna (water, 12,960 atoms) against the yardsticks, pair time per atom-step:")
    print(f"{'yardstick':12s} {'kizuna/yardstick':>17s} {'n2p2/yardstick':>17s} "
          f"{'kizuna speed-up over n2p2':>27s}")
    for name, (low, high) in N2P2_TIME_RATIO.items():
        if name not in results:
            continue
        ratio = t_kizuna / median(results[name], "pair_us_per_atom_step")
        print(f"{name:12s} {ratio:17.3f} {low:8.2f} .. {high:<6.2f} "
              f"{low / ratio:10.2f} x (least favourable) .. {high / ratio:.2f} x")
    print("\nn2p2's absolute throughput on its machine (README, not comparable across sittings): "
          + ", ".join(f"{a:,} atoms {v:,} atom-steps/s" for a, v in N2P2_THROUGHPUT.items()))


if __name__ == "__main__":
    main()
