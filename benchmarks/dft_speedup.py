"""On-the-fly learning against DFT (Quantum ESPRESSO) versus ab initio MD: the speed-up and
the accuracy, on the same system and DFT settings (examples/learn/si_qe.yaml).

    nice -n 5 python benchmarks/dft_speedup.py [--config examples/learn/si_qe.yaml]
                                               [--out runs/dft-speedup] [--frames 25]

1. learn   `kizuna learn` on the config (in this process): wall time and CPU time (this
           process + its pw.x children), MD steps, DFT calls (whole run, last half), the
           wall seconds in DFT calls and in training (the learning overhead).
2. aimd    what AIMD pays per step: pw.x itself running Born-Oppenheimer MD
           (calculation='md', same cutoffs/k-points/smearing/conv_thr, wave functions and
           charge density extrapolated from the previous steps: second_order) on the same
           cell; two runs of N1 and N2 steps, per step = (t(N2) - t(N1)) / (N2 - N1), which
           removes start-up and the first step's SCF from scratch.
           speed-up = MD steps x AIMD seconds per step / on-the-fly wall seconds (also with
           CPU seconds: the machine may be shared, CPU time is what each side consumed).
3. accuracy  frames of a longer MD run with the learned committee (other seeds, the stage
           temperatures and a strain), relabelled by pw.x: energy and force MAE, and the
           Spearman rank correlation of the committee's max force deviation with the true
           max force error per frame.

The relabelled frames are kept: <out>/accuracy_frames.xyz (extxyz, DFT energy and forces).
Every phase writes its JSON into --out and is skipped when that file exists (a killed run
resumes; `kizuna learn` resumes by itself, and the wall and CPU seconds of every session of
the on-the-fly run are added: learn_session.json / learn_sessions.json). Results:
<out>/result.json.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")


def cpu_seconds(who=None) -> float:
    """CPU seconds of this process (who="self": MD, training, bookkeeping), of its finished
    children ("children": pw.x), or of both (None)."""
    total = 0.0
    for kind, flag in (("self", resource.RUSAGE_SELF), ("children", resource.RUSAGE_CHILDREN)):
        if who in (None, kind):
            use = resource.getrusage(flag)
            total += use.ru_utime + use.ru_stime
    return total


def calls_per_stage(stages, calls_at) -> list:
    """DFT calls (MD labels) per stage of the config, and in each stage's second half."""
    out, start = [], 0
    for st in stages:
        end = start + st["steps"]
        mid = start + st["steps"] // 2
        out.append({"temperature": st["temperature"], "strain": st["strain"],
                    "steps": st["steps"],
                    "calls": sum(start < s <= end for s in calls_at),
                    "calls_second_half": sum(mid < s <= end for s in calls_at)})
        start = end
    return out


class SessionClock:
    """Wall and CPU seconds of one `kizuna learn` session in this process, written to
    <out>/learn_session.json every ``every`` seconds and when the process is terminated
    (SIGTERM), so that a killed run's cost is not lost: a resumed run adds it
    (``earlier_sessions``). CPU = this process (MD, training) + its waited-for children
    (pw.x); a pw.x call killed with the process is repeated after the resume (its label was
    pending) and only the repeat is counted."""

    def __init__(self, path: Path, every: float = 10.0):
        import threading

        self.path, self.every = path, every
        self.t0, self.c0, self.k0 = time.time(), cpu_seconds(), cpu_seconds("children")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def now(self) -> dict:
        return {"wall_s": time.time() - self.t0, "cpu_s": cpu_seconds() - self.c0,
                "dft_cpu_s": cpu_seconds("children") - self.k0}

    def write(self) -> dict:
        import threading

        data = self.now()  # the clock thread and a SIGTERM may write at once: own tmp names
        tmp = self.path.with_name(f"{self.path.name}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps(data))
        tmp.replace(self.path)
        return data

    def _loop(self):
        while not self._stop.wait(self.every):
            self.write()

    def __enter__(self):
        import signal

        def terminated(signum, frame):
            self.write()
            raise SystemExit(f"terminated (signal {signum}); this session's time is in "
                             f"{self.path}, run the same command again to resume")

        self._previous_handler = signal.signal(signal.SIGTERM, terminated)
        self.write()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        import signal

        self._stop.set()
        self._thread.join()
        signal.signal(signal.SIGTERM, self._previous_handler)
        return False


def earlier_sessions(out: Path, run_dir: Path) -> list:
    """The sessions of an interrupted on-the-fly run (<out>/learn_sessions.json), the last
    one's clock (learn_session.json, written by SessionClock) moved into that list. An
    interrupted run without any clock cannot be timed: refused."""
    sessions_path, clock = out / "learn_sessions.json", out / "learn_session.json"
    sessions = json.loads(sessions_path.read_text()) if sessions_path.is_file() else []
    if clock.is_file():
        sessions.append(json.loads(clock.read_text()))
        sessions_path.write_text(json.dumps(sessions, indent=1))
        clock.unlink()
    if (run_dir / "state.json").is_file() and not sessions:
        raise SystemExit(f"{run_dir} holds a run interrupted earlier whose time was not "
                         f"recorded ({clock} missing): remove it, or write its sessions' "
                         f"wall_s / cpu_s / dft_cpu_s into {sessions_path}")
    return sessions


def phase_learn(cfg_path, out: Path) -> dict:
    """`kizuna learn` from no data to the final model; a run killed before (SIGTERM, or any
    kill: the clock is written every 10 s) resumes and its sessions' times are added."""
    from kizuna.learn import learn

    path = out / "learn.json"
    if path.is_file():
        return json.loads(path.read_text())
    run_dir = out / "learn"
    sessions = earlier_sessions(out, run_dir)
    with SessionClock(out / "learn_session.json") as clock:
        summary = learn(str(cfg_path), overrides=[f"output.directory={run_dir}",
                                                  "output.progress=line"])
        sessions.append(clock.now())
    state = json.loads((run_dir / "state.json").read_text())
    result = {key: sum(s[key] for s in sessions) for key in ("wall_s", "cpu_s", "dft_cpu_s")}
    result.update(sessions=sessions, summary=summary, calls_at=state["calls_at"])
    path.write_text(json.dumps(result, indent=1))
    (out / "learn_session.json").unlink(missing_ok=True)
    return result


def _pw_md(cfg, atoms, steps: int, folder: Path) -> dict:
    """pw.x Born-Oppenheimer MD of ``steps`` steps: wall and CPU seconds of the whole run."""
    from ase.io.espresso import write_espresso_in
    from ase.units import fs

    from kizuna.learn.reference import make_reference

    ref = make_reference(cfg["reference"])
    data = ref._input(atoms, {})
    # pw.x's time unit is the Rydberg atomic unit, 4.8378e-17 s
    dt_ry = cfg["md"]["timestep"] * 1e-15 / 4.8377686e-17
    data["control"].update(calculation="md", dt=dt_ry, nstep=steps, tstress=False)
    data["ions"] = {"pot_extrapolation": "second_order", "wfc_extrapolation": "second_order",
                    "ion_temperature": "not_controlled"}
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "md.pwi", "w") as handle:
        write_espresso_in(handle, atoms, input_data=data,
                          pseudopotentials=ref.settings["pseudopotentials"], **ref._kpts(atoms))
    cmd = shlex.split(ref.settings["command"]) + ["-in", "md.pwi"]
    k0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.time()
    with open(folder / "md.pwo", "w") as out:
        code = subprocess.run(cmd, cwd=folder, stdout=out, stderr=subprocess.STDOUT).returncode
    wall = time.time() - t0
    k1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    text = (folder / "md.pwo").read_text()
    done = text.count("Entering Dynamics")
    if code != 0 or done != steps or "convergence NOT achieved" in text:
        raise RuntimeError(f"pw.x MD in {folder} failed (status {code}, {done}/{steps} steps)")
    return {"steps": steps, "wall_s": wall,
            "cpu_s": (k1.ru_utime - k0.ru_utime) + (k1.ru_stime - k0.ru_stime),
            "scf_iterations": [int(line.split()[-2]) for line in text.splitlines()
                               if "convergence has been achieved in" in line]}


def phase_aimd(cfg, out: Path, n1=3, n2=13) -> dict:
    from kizuna.learn.md import start_structure

    path = out / "aimd.json"
    if path.is_file():
        return json.loads(path.read_text())
    atoms = start_structure(cfg)
    rng = np.random.default_rng(11)
    atoms.positions += rng.normal(0.0, 0.08, atoms.positions.shape)  # ~ a 900 K snapshot
    with tempfile.TemporaryDirectory(prefix="aimd-", dir=out) as tmp:
        short = _pw_md(cfg, atoms, n1, Path(tmp) / "short")
        long = _pw_md(cfg, atoms, n2, Path(tmp) / "long")
    result = {"runs": [short, long], "command": cfg["reference"]["command"],
              "wall_s_per_step": (long["wall_s"] - short["wall_s"]) / (n2 - n1),
              "cpu_s_per_step": (long["cpu_s"] - short["cpu_s"]) / (n2 - n1)}
    path.write_text(json.dumps(result, indent=1))
    return result


def score(model, frames) -> dict:
    """Errors of the committee ``model`` on DFT-labelled ``frames`` (info: temperature,
    strain): energy and force MAE, Spearman of max deviation vs max error, and per condition
    (also used by dft_refinalise.py on the kept accuracy_frames.xyz)."""
    from kizuna.learn.evaluate import committee_errors

    errors = committee_errors(model, frames)
    errors["by_condition"] = []
    conditions = []
    for f in frames:
        key = (float(f.info["temperature"]), float(f.info["strain"]))
        if key not in conditions:
            conditions.append(key)
    for temperature, strain in conditions:
        sub = [f for f in frames if (float(f.info["temperature"]),
                                     float(f.info["strain"])) == (temperature, strain)]
        e = committee_errors(model, sub)
        errors["by_condition"].append({
            "temperature": temperature, "strain": strain, "frames": len(sub),
            "forces_mae_eV_A": e["forces_mae_eV_A"],
            "energy_mae_meV_atom": e["energy_mae_meV_atom"]})
    return errors


def phase_accuracy(cfg, out: Path, model: Path, frames_wanted: int) -> dict:
    from ase.calculators.singlepoint import SinglePointCalculator

    from kizuna.calculator import Calculator
    from kizuna.learn.md import dynamics, stage_structure, start_structure, thermalise
    from kizuna.learn.reference import ReferenceFailed, make_reference

    path = out / "accuracy.json"
    if path.is_file():
        return json.loads(path.read_text())
    conditions = [(600.0, 0.0), (900.0, 0.0), (1200.0, 0.0), (1500.0, 0.0), (900.0, 0.02)]
    per = -(-frames_wanted // len(conditions))
    steps_between = 200
    base = start_structure(cfg)
    ref = make_reference(cfg["reference"], out / "accuracy-dft")
    frames, failed = [], 0
    for k, (temperature, strain) in enumerate(conditions):
        seed = 90_000 + 17 * k  # seeds the learning never used
        atoms = stage_structure(base, {"temperature": temperature, "strain": strain,
                                       "vacancies": 0}, seed)
        thermalise(atoms, temperature, seed)
        atoms.calc = Calculator(model, threads=1, extrapolation="ignore")
        dyn = dynamics(atoms, cfg, temperature, seed)
        dyn.run(500)  # equilibrate
        for _ in range(per):
            dyn.run(steps_between)
            frame = atoms.copy()
            frame.calc = ref
            try:
                e, f = frame.get_potential_energy(), frame.get_forces()
            except ReferenceFailed:
                failed += 1
                continue
            frame.calc = SinglePointCalculator(frame, energy=e, forces=f)
            frame.info.update(temperature=temperature, strain=strain)
            frames.append(frame)
    from ase.io import write

    # the relabelled frames (DFT energy, forces): other models can be scored on them
    write(out / "accuracy_frames.xyz", frames, format="extxyz")
    errors = score(model, frames)
    errors.update(dft_failures=failed, model_md_steps_between_frames=steps_between,
                  conditions=[{"temperature": t, "strain": s} for t, s in conditions])
    path.write_text(json.dumps(errors, indent=1))
    return errors


def main(argv=None):
    from kizuna.learn.config import load_learn_config

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="examples/learn/si_qe.yaml")
    parser.add_argument("--out", default="runs/dft-speedup")
    parser.add_argument("--frames", type=int, default=25)
    args = parser.parse_args(argv)
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    cfg = load_learn_config(args.config)

    aimd = phase_aimd(cfg, out)
    print("aimd:", json.dumps({k: v for k, v in aimd.items() if k != "runs"}), flush=True)
    learned = phase_learn(args.config, out)
    print("learn:", json.dumps({k: v for k, v in learned.items() if k != "summary"}), flush=True)
    accuracy = phase_accuracy(cfg, out, out / "learn" / "committee.kzn", args.frames)

    s = learned["summary"]
    steps = s["md_steps"]
    result = {
        "system": f"{args.config}", "md_steps": steps,
        "dft_calls": s["reference_calls"], "dft_calls_bootstrap": s["bootstrap_calls"],
        "dft_calls_md": s["md_reference_calls"], "dft_failures": s.get("reference_failures", 0),
        "dft_call_fraction_whole_run": s["md_reference_calls"] / steps,
        "dft_calls_last_half": s["reference_calls_last_half"],
        "dft_call_fraction_last_half": s["reference_call_fraction_last_half"],
        "training_rounds": s["training_rounds"],
        "on_the_fly_wall_s": learned["wall_s"], "on_the_fly_cpu_s": learned["cpu_s"],
        "on_the_fly_dft_wall_s": s.get("reference_seconds"),
        "on_the_fly_training_wall_s": s.get("training_seconds"),
        "on_the_fly_dft_cpu_s": learned.get("dft_cpu_s"),
        "on_the_fly_learning_cpu_s": (learned["cpu_s"] - learned["dft_cpu_s"]
                                      if "dft_cpu_s" in learned else None),
        "final_training": s.get("final_training"),
        "dft_calls_per_stage": (calls_per_stage(cfg["md"]["stages"], learned["calls_at"])
                                if "calls_at" in learned else None),
        "aimd_wall_s_per_step": aimd["wall_s_per_step"],
        "aimd_cpu_s_per_step": aimd["cpu_s_per_step"],
        "speedup_wall": steps * aimd["wall_s_per_step"] / learned["wall_s"],
        "speedup_cpu": steps * aimd["cpu_s_per_step"] / learned["cpu_s"],
        # what the DFT calls alone allow (no training, no MD): the call count's share
        "speedup_cpu_dft_only": (steps * aimd["cpu_s_per_step"] / learned["dft_cpu_s"]
                                 if learned.get("dft_cpu_s") else None),
        "accuracy": {k: v for k, v in accuracy.items()
                     if k not in ("max_force_deviation", "max_force_error")},
    }
    (out / "result.json").write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))
    main()
