"""Does a pw.x single point get cheaper when it starts from the previous label's converged
charge density / wave functions (startingpot='file', startingwfc='file' from a kept outdir)?

    OMP_NUM_THREADS=1 python benchmarks/pwx_restart.py [--out runs/pwx-restart]

The si_qe.yaml settings (8 Si atoms, PBE, Si.pbe-rrkj.UPF, 20 Ry, 2x2x2 k-points, MV 0.01 Ry,
conv_thr 1e-8 Ry). Structure A: the diamond cell rattled by 0.12 Å (Gaussian, per coordinate);
B_near / B_far: A displaced again by 0.03 / 0.25 Å. Each B from scratch (atomic density, random +
atomic wave functions: pw.x's default) and restarted from A's outdir (potential and wave
functions, or the potential only). Prints SCF iterations and the CPU seconds of pw.x.
Standard library only (pw.x input written here), 1 MPI rank.
"""
import argparse
import os
import random
import resource
import shutil
import subprocess
import time
from pathlib import Path

A_LAT = 5.47  # Å
FRACTIONAL = [(0, 0, 0), (0, .5, .5), (.5, 0, .5), (.5, .5, 0),
              (.25, .25, .25), (.25, .75, .75), (.75, .25, .75), (.75, .75, .25)]


def write_input(positions, folder: Path, electrons: dict) -> None:
    extra = "".join(f"  {k} = '{v}',\n" for k, v in electrons.items())
    atoms = "\n".join("Si %.6f %.6f %.6f" % p for p in positions)
    (folder / "espresso.pwi").write_text(f"""&CONTROL
  calculation='scf', tprnfor=.true., tstress=.true., pseudo_dir='/usr/share/espresso/pseudo',
  outdir='./out', prefix='pwscf', disk_io='low'
/
&SYSTEM
  ibrav=0, nat=8, ntyp=1, ecutwfc=20.0, input_dft='PBE', occupations='smearing',
  smearing='mv', degauss=0.01
/
&ELECTRONS
  conv_thr=1e-8, mixing_beta=0.5, electron_maxstep=100,
{extra}/
ATOMIC_SPECIES
Si 28.085 Si.pbe-rrkj.UPF
K_POINTS automatic
2 2 2 0 0 0
CELL_PARAMETERS angstrom
{A_LAT} 0 0
0 {A_LAT} 0
0 0 {A_LAT}
ATOMIC_POSITIONS angstrom
{atoms}
""")


def run(positions, folder: Path, electrons=None) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    write_input(positions, folder, electrons or {})
    k0, t0 = resource.getrusage(resource.RUSAGE_CHILDREN), time.time()
    with open(folder / "espresso.pwo", "w") as out:
        subprocess.run(["pw.x", "-in", "espresso.pwi"], cwd=folder, stdout=out,
                       stderr=subprocess.STDOUT, check=True)
    k1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    text = (folder / "espresso.pwo").read_text()
    iterations = [int(line.split()[-2]) for line in text.splitlines()
                  if "convergence has been achieved in" in line]
    energy = [float(line.split()[-2]) for line in text.splitlines() if line.startswith("!")]
    result = {"case": folder.name, "start": electrons or "scratch", "scf_iterations": iterations,
              "energy_ry": energy, "wall_s": round(time.time() - t0, 2),
              "cpu_s": round(k1.ru_utime - k0.ru_utime + k1.ru_stime - k0.ru_stime, 2)}
    print(result, flush=True)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="runs/pwx-restart")
    out = Path(parser.parse_args().out)
    shutil.rmtree(out, ignore_errors=True)
    random.seed(1)
    a = [tuple(A_LAT * x + random.gauss(0, 0.12) for x in p) for p in FRACTIONAL]
    run(a, out / "A")
    for name, sigma in (("near", 0.03), ("far", 0.25)):
        b = [tuple(x + random.gauss(0, sigma) for x in p) for p in a]
        run(b, out / f"B_{name}_scratch")
        for tag, start in (("restart", {"startingpot": "file", "startingwfc": "file"}),
                           ("pot", {"startingpot": "file"})):
            shutil.copytree(out / "A", out / f"B_{name}_{tag}")
            run(b, out / f"B_{name}_{tag}", start)


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
