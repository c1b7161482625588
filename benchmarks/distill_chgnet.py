"""A CHGNet-distilled kizuna student against its teacher: accuracy and speed.

For each finished distillation run (`kizuna learn examples/distill/<x>_chgnet.yaml`):

  accuracy  the run's own independent test (summary.json): an MD trajectory driven by CHGNet
            from a different seed, never seen in training; energy and force MAE of the
            student (committee mean) against CHGNet, and the rank correlation between the
            committee's max force deviation and the true max force error per frame.
  speed     CHGNet through ASE (its CHGNetCalculator, CPU) on the run's start structure and
            on a larger supercell, with 1 torch thread and with torch's default threads
            (OMP_NUM_THREADS, else the cores): seconds per force call / atoms = s per
            atom-step; the student in LAMMPS (pair_style kizuna, 1 MPI rank,
            OMP_NUM_THREADS=1, NVE MD after a warm-up) on a supercell of ~8,000 atoms, as
            the committee mean (uncertainty_every 0) and as one member. Ratio = CHGNet's
            best (lowest) time per atom-step / the student's.

            Times are CPU time of the process (robust to other jobs on a shared machine):
            CHGNet's time.process_time() over its force calls (all its threads summed, so
            CPU-seconds per atom-step), the student's LAMMPS loop time x LAMMPS's "% CPU
            use" (the loop's CPU time). Wall times are reported beside them.

    python benchmarks/distill_chgnet.py runs/distill-si runs/distill-li2o
    python benchmarks/distill_chgnet.py runs/distill-si --lammps-atoms 4000 --steps 50
    python benchmarks/distill_chgnet.py runs/distill-si --json out.json
    # before/after in one sitting: the student with another build's plugin, CHGNet from a JSON
    python benchmarks/distill_chgnet.py runs/distill-si --speed-only --chgnet-from out.json \
        --plugin /tmp/kz_main/b/lammps_plugin/kizunaplugin.so
"""
from __future__ import annotations

import argparse
import json
import os
import re
import tempfile
import time
from pathlib import Path

import numpy as np


def load_run(run: Path, speed_only: bool = False) -> dict:
    """The run's config, summary and committee; with speed_only a run still going (or
    stopped) has no summary yet: its latest committee is timed, its accuracy not reported."""
    from kizuna.learn.config import load_learn_config

    needed = ("committee.kzn", "config.yaml") if speed_only else ("summary.json", "committee.kzn",
                                                                    "config.yaml")
    for name in needed:
        if not (run / name).is_file():
            raise SystemExit(f"{run}: no {name}; finish the distillation first "
                             f"(kizuna learn examples/distill/...yaml)")
    cfg = load_learn_config(run / "config.yaml")
    summary = run / "summary.json"
    return {"cfg": cfg, "model": run / "committee.kzn",
            "summary": json.loads(summary.read_text()) if summary.is_file() else None}


def supercell(atoms, target: int):
    """The structure repeated (equal factors) to at least ``target`` atoms."""
    n = 1
    while len(atoms) * n ** 3 < target:
        n += 1
    return atoms.repeat((n, n, n))


def chgnet_cell(atoms, target: int):
    """The structure repeated to at least ``target`` atoms, one axis at a time (2x1x1, 2x2x1,
    2x2x2, 3x2x2, ...): CHGNet's memory grows fast with the cell (a 768-atom Li2O cell took
    12 GB), so a finer step than supercell() keeps it in reach."""
    reps = [1, 1, 1]
    while len(atoms) * reps[0] * reps[1] * reps[2] < target:
        reps[reps.index(min(reps))] += 1
    return atoms.repeat(reps)


def chgnet_seconds_per_atom_step(atoms, threads: int | None, calls: int = 3) -> dict:
    """CHGNet (ASE calculator, CPU) time of one energy+forces call, per atom: CPU time of
    this process (all threads, time.process_time) and wall time."""
    import torch

    from kizuna.learn.reference import make_reference

    default = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        calc = make_reference("chgnet")
        work = atoms.copy()
        work.calc = calc
        rng = np.random.default_rng(0)
        work.positions += rng.normal(0, 0.03, work.positions.shape)
        work.get_forces()  # warm-up (graph construction code paths, allocator)
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(calls):
            work.positions += rng.normal(0, 0.005, work.positions.shape)
            work.get_forces()
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        return {"s_per_atom_step": cpu / calls / len(work),
                "wall_s_per_atom_step": wall / calls / len(work),
                "threads": torch.get_num_threads()}
    finally:
        torch.set_num_threads(default)


def write_lammps_data(atoms, path: Path, elements: list) -> None:
    from ase.io import write

    write(path, atoms, format="lammps-data", specorder=elements, masses=True,
          atom_style="atomic")


def student_seconds_per_atom_step(model: Path, atoms, elements: list, steps: int,
                                  uncertainty_every: int, workdir: Path, skin: float = 1.0,
                                  plugin: Path | None = None) -> dict:
    """pair_style kizuna in LAMMPS, 1 rank, 1 thread: loop time per atom-step of NVE MD,
    CPU (loop time x LAMMPS's "% CPU use" of the loop) and wall. ``skin``: the neighbour
    skin (Å, `neighbor SKIN bin`, LAMMPS's default rebuild check); ``plugin``: another build's
    kizunaplugin.so (A/B timings in one sitting), else the installed one."""
    from kizuna.lammps import run

    write_lammps_data(atoms, workdir / "system.data", elements)
    keyword = f" uncertainty_every {uncertainty_every}" if uncertainty_every is not None else ""
    script = f"""plugin load ${{kizuna_plugin}}
units metal
atom_style atomic
boundary p p p
read_data system.data
pair_style kizuna {model}{keyword}
pair_coeff * * {' '.join(elements)}
neighbor {skin} bin
velocity all create 600 1 loop geom
fix nve all nve
timestep 0.001
thermo 50
run 10
run {steps}
"""
    variables = {"kizuna_plugin": str(plugin)} if plugin else None
    result = run(script, workdir, threads=1, timeout=1800, variables=variables).check()
    loops = re.findall(r"Loop time of ([0-9.eE+-]+) on (\d+) procs for (\d+) steps with "
                       r"(\d+) atoms", result.log)
    cpu_use = re.findall(r"([0-9.]+)% CPU use", result.log)
    if len(cpu_use) != len(loops):
        raise RuntimeError(f"{workdir}: LAMMPS log has {len(loops)} 'Loop time' lines but "
                           f"{len(cpu_use)} '% CPU use' lines; expected one per run")
    seconds, _, n_steps, n_atoms = loops[-1]
    wall = float(seconds) / (int(n_steps) * int(n_atoms))
    per = wall * float(cpu_use[-1]) / 100.0
    return {"atoms": int(n_atoms), "steps": int(n_steps), "s_per_atom_step": per,
            "wall_s_per_atom_step": wall, "cpu_percent": float(cpu_use[-1]),
            "atom_steps_per_s": 1.0 / per}


def single_member(model: Path, out: Path) -> Path:
    from kizuna.learn.committee import split_members
    from kizuna.model_io import read_model, write_model

    write_model(split_members(read_model(model))[0], out)
    return out


def benchmark_run(run: Path, args) -> dict:
    from kizuna.learn.md import start_structure
    from kizuna.model_io import read_model

    info = load_run(run, args.speed_only)
    cfg, summary = info["cfg"], info["summary"] or {}
    test = summary.get("test") or {}
    elements = read_model(info["model"]).elements
    start = start_structure(cfg)
    out = {"run": str(run), "formula": start.get_chemical_formula(),
           "labelled_structures": summary.get("labelled_structures"),
           "reference_calls": summary.get("reference_calls"), "md_steps": summary.get("md_steps"),
           "test_frames": test.get("frames"),
           "energy_mae_meV_atom": test.get("energy_mae_meV_atom"),
           "forces_mae_eV_A": test.get("forces_mae_eV_A"),
           "forces_rmse_eV_A": test.get("forces_rmse_eV_A"),
           "spearman": test.get("spearman_max_deviation_vs_max_error"), "chgnet": [],
           "student": {}}
    earlier = {}
    if args.chgnet_from:  # CHGNet's timings of an earlier --json of the same run
        earlier = {r["run"]: r["chgnet"] for r in json.loads(args.chgnet_from.read_text())}
        if str(run) not in earlier:
            raise SystemExit(f"{args.chgnet_from} has no CHGNet timings of {run}")
        out["chgnet"] = earlier[str(run)]
        out["chgnet_from"] = str(args.chgnet_from)
    for atoms in () if earlier else (start, chgnet_cell(start, args.chgnet_atoms)):
        for threads in (1, None):
            t = chgnet_seconds_per_atom_step(atoms, threads)
            out["chgnet"].append({"atoms": len(atoms), **t})
            print(f"  CHGNet {len(atoms):5d} atoms, {t['threads']} thread(s): "
                  f"{t['s_per_atom_step'] * 1e6:8.0f} µs/atom-step CPU "
                  f"({t['wall_s_per_atom_step'] * 1e6:.0f} wall)", flush=True)
    big = supercell(start, args.lammps_atoms)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        member = single_member(info["model"], tmp / "member0.kzn")
        cases = [("committee mean", info["model"], 0, None), ("one member", member, None, None)]
        if args.triplets_too:  # every angular group on the triplet list, no moment tensors
            cases += [("committee mean, triplets", info["model"], 0, "0"),
                      ("one member, triplets", member, None, "0")]
        for name, model, every, moments in cases:
            work = tmp / name.replace(" ", "_").replace(",", "")
            work.mkdir()
            saved = os.environ.pop("KIZUNA_ANGULAR_MOMENTS", None)
            if moments is not None:
                os.environ["KIZUNA_ANGULAR_MOMENTS"] = moments
            try:
                r = student_seconds_per_atom_step(model.resolve(), big, elements, args.steps,
                                                  every, work, args.skin, args.plugin)
            finally:
                os.environ.pop("KIZUNA_ANGULAR_MOMENTS", None)
                if saved is not None:
                    os.environ["KIZUNA_ANGULAR_MOMENTS"] = saved
            out["student"][name] = r
            print(f"  student ({name}) LAMMPS {r['atoms']} atoms, 1 core: "
                  f"{r['s_per_atom_step'] * 1e6:8.2f} µs/atom-step CPU "
                  f"({r['wall_s_per_atom_step'] * 1e6:.2f} wall, {r['cpu_percent']:.1f}% CPU "
                  f"use)", flush=True)
    best_chgnet = min(c["s_per_atom_step"] for c in out["chgnet"])
    one_thread = min(c["s_per_atom_step"] for c in out["chgnet"] if c["threads"] == 1)
    best_wall = min(c["wall_s_per_atom_step"] for c in out["chgnet"])
    for name, r in out["student"].items():
        r["speedup_vs_chgnet_best"] = best_chgnet / r["s_per_atom_step"]
        r["speedup_vs_chgnet_1_thread"] = one_thread / r["s_per_atom_step"]
        r["speedup_wall_vs_chgnet_best_wall"] = best_wall / r["wall_s_per_atom_step"]
    return out


def report(results: list) -> str:
    lines = ["| system | labelled (calls / MD steps) | test frames | E MAE (meV/atom) | "
             "F MAE (eV/Å) | Spearman | CHGNet best (CPU µs/atom-step) | student mean / one "
             "member (CPU µs/atom-step) | speed ratio mean / one member |",
             "|---|---|---|---|---|---|---|---|---|"]

    def num(x, fmt):  # accuracy of a run without summary (--speed-only): "-"
        return "-" if x is None else format(x, fmt)

    for r in results:
        best = min(c["s_per_atom_step"] for c in r["chgnet"])
        mean, one = r["student"]["committee mean"], r["student"]["one member"]
        lines.append(
            f"| {r['formula']} | {num(r['reference_calls'], 'd')} / {num(r['md_steps'], 'd')} | "
            f"{num(r['test_frames'], 'd')} | {num(r['energy_mae_meV_atom'], '.2f')} | "
            f"{num(r['forces_mae_eV_A'], '.3f')} | {num(r['spearman'], '.2f')} | "
            f"{best * 1e6:.0f} | {mean['s_per_atom_step'] * 1e6:.2f} / "
            f"{one['s_per_atom_step'] * 1e6:.2f} | {mean['speedup_vs_chgnet_best']:.0f}x / "
            f"{one['speedup_vs_chgnet_best']:.0f}x |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path, help="finished distillation run folders")
    parser.add_argument("--lammps-atoms", type=int, default=8000,
                        help="student benchmark: supercell of at least this many atoms")
    parser.add_argument("--chgnet-atoms", type=int, default=500,
                        help="CHGNet benchmark: the start structure and a supercell of at "
                             "least this many atoms (one axis repeated at a time)")
    parser.add_argument("--steps", type=int, default=100, help="timed LAMMPS MD steps")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--skin", type=float, default=1.0,
                        help="LAMMPS neighbour skin of the student runs, Å (neighbor SKIN bin)")
    parser.add_argument("--plugin", type=Path,
                        help="time the student with this kizunaplugin.so (another build, for "
                             "before/after timings in one sitting) instead of the installed one")
    parser.add_argument("--triplets-too", action="store_true",
                        help="also time the student with KIZUNA_ANGULAR_MOMENTS=0 (every "
                             "angular group on the triplet list, no moment tensors; the "
                             "default chooses per centre)")
    parser.add_argument("--chgnet-from", type=Path,
                        help="take CHGNet's timings from an earlier --json of the same runs "
                             "(time only the student)")
    parser.add_argument("--speed-only", action="store_true",
                        help="time runs without summary.json too (still going or stopped: their "
                             "latest committee.kzn; no accuracy)")
    args = parser.parse_args(argv)
    results = []
    for run in args.runs:
        print(f"{run}:", flush=True)
        results.append(benchmark_run(run, args))
    print()
    print(report(results))
    for r in results:
        for name, s in r["student"].items():
            print(f"{r['formula']} {name}: {s['s_per_atom_step'] * 1e6:.2f} CPU µs/atom-step, "
                  f"{s['speedup_vs_chgnet_best']:.0f}x CHGNet (CPU), "
                  f"{s['speedup_wall_vs_chgnet_best_wall']:.0f}x (wall)")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
