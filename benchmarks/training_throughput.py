"""Training throughput (structures per second per core, force training) and memory per epoch.

Force training on the Zuo et al. Si training set (214 structures, 12-96 atoms; the repository
copy in tests/data/mlearn/Si): Adam steps with energy + force loss, i.e. per structure the core's
vjp (forces) and jvp (backward of the force loss) plus the torch networks. Descriptors are
computed once before the timed epochs (setup time is printed separately).

    python benchmarks/training_throughput.py                 # examples/training/mlearn.yaml SFs
    python benchmarks/training_throughput.py --threads 2 --epochs 10
    python benchmarks/training_throughput.py --config examples/training/si.yaml

Prints per epoch: seconds, structures/s, structures/s per thread, RSS and peak RSS (MB); then
the time split (core operators vs the rest) and whether RSS grew over the epochs.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def rss_mb(field="VmRSS") -> float:
    """Resident memory (VmRSS) or its peak so far (VmHWM) of this process, MB."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default=str(REPO / "examples" / "training" / "mlearn.yaml"))
    parser.add_argument("--data", default=str(REPO / "tests" / "data" / "mlearn" / "Si" /
                                              "Si_train.xyz"))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=None)
    args = parser.parse_args(argv)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)

    import torch

    import kizuna.training  # noqa: F401 - measure the import baseline
    base = rss_mb()
    from kizuna.training.config import load_config
    from kizuna.training.dataset import Batch
    from kizuna.training.epochs import adam_epoch
    from kizuna.training.optim import make_optimizer
    from kizuna.training.progress import Progress
    from kizuna.training.trainer import Trainer

    overrides = [f"data.train={args.data}", "data.test=[]", "data.validation_fraction=0",
                 f"threads={args.threads}", "output.directory=/tmp/kizuna-throughput",
                 "output.progress=none"]
    if args.batch_size:
        overrides.append(f"training.batch_size={args.batch_size}")
    cfg = load_config(args.config, overrides)
    t0 = time.perf_counter()
    trainer = Trainer(cfg, restart=True, progress=Progress("none"))
    setup = time.perf_counter() - t0
    run = trainer.run
    n = len(run.train)
    atoms = sum(p.n_atoms for p in run.train)
    nf = {e: len(v) for e, v in run.sfs.items()}
    print(f"data {args.data}: {n} structures, {atoms} atoms; symmetry functions {nf}; network "
          f"{cfg['model']['hidden_layers']}; batch {cfg['training']['batch_size']}; threads "
          f"{args.threads} (torch {torch.get_num_threads()})")
    print(f"setup (read, check, descriptors of every structure, statistics): {setup:.2f} s; "
          f"RSS {rss_mb():.1f} MB (of which torch + numpy + kizuna after import: {base:.1f} MB)")

    # time spent in the core operators, measured by wrapping them
    core_time = [0.0]
    vjp, jvp = Batch.vjp, Batch.jvp

    def timed(fn):
        def wrapper(*a, **k):
            start = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                core_time[0] += time.perf_counter() - start
        return wrapper

    Batch.vjp, Batch.jvp = timed(vjp), timed(jvp)
    opt = make_optimizer("adam", trainer.net.parameters(), cfg["training"])
    # wall time, and CPU time of the whole process (all threads): structures per CPU-second is
    # the per-core throughput, and it is not distorted by other programs on a shared machine
    print(f"{'epoch':>5} {'wall s':>7} {'CPU s':>7} {'struct/s':>9} {'struct/CPU-s':>12} "
          f"{'RSS MB':>8} {'peak MB':>8}")
    rates, cpu_rates, rss = [], [], []
    total, core_total = 0.0, 0.0
    for epoch in range(args.epochs):
        core_time[0] = 0.0
        start, cpu0 = time.perf_counter(), time.process_time()
        adam_epoch(trainer.net, opt, run, trainer.weights, seed=0, epoch=epoch,
                   batch_size=cfg["training"]["batch_size"], stress=False)
        dt, cpu = time.perf_counter() - start, time.process_time() - cpu0
        total += dt
        core_total += core_time[0]
        rates.append(n / dt)
        cpu_rates.append(n / cpu)
        rss.append(rss_mb())
        peak = rss_mb("VmHWM")
        print(f"{epoch + 1:5d} {dt:7.2f} {cpu:7.2f} {n / dt:9.1f} {n / cpu:12.1f} "
              f"{rss[-1]:8.1f} {peak:8.1f}", flush=True)
    Batch.vjp, Batch.jvp = vjp, jvp
    median = sorted(rates)[len(rates) // 2]
    per_core = sorted(cpu_rates)[len(cpu_rates) // 2]
    print(f"\nforce training: {per_core:.1f} structures per CPU-second (per core; "
          f"{atoms * per_core / n:.0f} atoms/s/core); wall clock {median:.1f} structures/s "
          f"with {args.threads} thread(s)")
    print(f"core operators (vjp + jvp): {100 * core_total / total:.0f}% of the epoch time")
    growth = rss[-1] - rss[1] if len(rss) > 2 else float("nan")
    print(f"RSS after epoch 2: {rss[1]:.1f} MB, after epoch {len(rss)}: {rss[-1]:.1f} MB "
          f"(change {growth:+.1f} MB); peak RSS {rss_mb('VmHWM'):.1f} MB")
    run.pool.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
