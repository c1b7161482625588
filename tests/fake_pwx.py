"""A stand-in for pw.x that fails the ways pw.x fails (tests of the DFT reference's failure
handling). Called as `python fake_pwx.py -in espresso.pwi` in the call's scratch folder.

It reads the pw.x input (ASE's reader), computes EMT energy/forces/stress and writes them in
pw.x's output format (Ry, Ry/bohr, Ry/bohr^3 with pw.x's sign). What each call does is the
next line of the plan file $FAKE_PWX_PLAN (the last line repeats):

    ok        a converged SCF
    noconv    "convergence NOT achieved" (pw.x 6.7 then still prints forces; exit status 0)
    crash     a truncated output, exit status 1
    kill      a truncated output, then SIGKILL to itself
    hang      a truncated output, then sleep (a test kills the caller meanwhile)

Every call appends "<mode> mixing_beta=<value> electron_maxstep=<value> cwd=<folder>" to
$FAKE_PWX_PLAN.log.
"""
import os
import re
import signal
import sys
import time
from pathlib import Path

# numpy and ASE are imported where needed: a hanging call starts hanging at once
# pw.x's constants: CODATA 2006 (Ry = 13.60569193 eV, bohr = 0.52917720859 Å)
PW_UNITS = {"Ry": 13.60569193, "Bohr": 0.52917720859}


def plan_mode():
    plan = Path(os.environ["FAKE_PWX_PLAN"])
    log = Path(str(plan) + ".log")
    modes = plan.read_text().split()
    done = len(log.read_text().splitlines()) if log.is_file() else 0
    return modes[min(done, len(modes) - 1)], log


def header(atoms):
    import numpy as np

    Bohr = PW_UNITS["Bohr"]
    alat = np.linalg.norm(atoms.cell[0]) / Bohr  # bohr
    lines = ["", "     Program PWSCF v.6.7MaX starts on  1Jan2026 at  0: 0: 0 ", "",
             f"     number of atoms/cell      = {len(atoms):12d}",
             f"     number of atomic types    = {len(set(atoms.numbers)):12d}",
             f"     celldm(1)= {alat:11.6f}  celldm(2)=   0.000000  celldm(3)=   0.000000", "",
             "     crystal axes: (cart. coord. in units of alat)"]
    for i, row in enumerate(atoms.cell / (alat * Bohr)):
        lines.append(f"               a({i + 1}) = ( {row[0]:10.6f} {row[1]:10.6f} "
                     f"{row[2]:10.6f} )  ")
    lines += ["", "     site n.     atom                  positions (alat units)"]
    for i, (sym, pos) in enumerate(zip(atoms.get_chemical_symbols(),
                                       atoms.positions / (alat * Bohr))):
        lines.append(f"     {i + 1:4d}           {sym:2s}  tau({i + 1:4d}) = ( {pos[0]:11.7f} "
                     f"{pos[1]:11.7f} {pos[2]:11.7f}  )")
    lines += ["", "     Self-consistent Calculation", "",
              "     iteration #  1     ecut=    20.00 Ry     beta= 0.50", ""]
    return lines


def results(atoms, converged):
    import numpy as np
    from ase.calculators.emt import EMT

    Bohr, Ry = PW_UNITS["Bohr"], PW_UNITS["Ry"]
    calc = EMT()
    atoms.calc = calc
    energy = atoms.get_potential_energy() / Ry
    forces = atoms.get_forces() / (Ry / Bohr)
    stress = -atoms.get_stress(voigt=False) / (Ry / Bohr ** 3)  # pw.x's sign
    lines = [""]  # (no "End of self-consistent calculation": ASE would look for bands)
    if converged:
        lines += [f"!    total energy              = {energy:17.8f} Ry", "",
                  "     convergence has been achieved in   8 iterations", ""]
    else:
        lines += [f"     total energy              = {energy + 0.01:17.8f} Ry", "",
                  "     convergence NOT achieved after   2 iterations: stopping", ""]
    lines += ["     Forces acting on atoms (cartesian axes, Ry/au):", ""]
    for i, f in enumerate(forces):
        lines.append(f"     atom {i + 1:4d} type  1   force = {f[0]:14.8f}{f[1]:14.8f}{f[2]:14.8f}")
    pressure = -np.trace(stress) / 3 * 0  # only the matrix is read
    lines += ["", "     Total force =     0.000000     Total SCF correction =     0.000000", "",
              "     Computing stress (Cartesian axis) and pressure", "",
              f"          total   stress  (Ry/bohr**3)                   (kbar)     P= "
              f"{pressure:12.2f}"]
    for row in stress:
        lines.append(f"  {row[0]:11.8f}  {row[1]:11.8f}  {row[2]:11.8f}        0.00        "
                     "0.00        0.00")
    lines += ["", "=" * 78, "   JOB DONE.", "=" * 78]
    return lines


def main():
    mode, log = plan_mode()
    pwi = Path(sys.argv[sys.argv.index("-in") + 1])
    text = pwi.read_text()
    beta = re.search(r"mixing_beta\s*=\s*([0-9.eE+-]+)", text)
    steps = re.search(r"electron_maxstep\s*=\s*([0-9]+)", text)
    with open(log, "a") as handle:
        handle.write(f"{mode} mixing_beta={beta.group(1) if beta else None} "
                     f"electron_maxstep={steps.group(1) if steps else None} cwd={os.getcwd()}\n")
    if mode == "hang":
        print("     Program PWSCF v.6.7MaX starts on  1Jan2026 at  0: 0: 0 ", flush=True)
        Path(os.environ["FAKE_PWX_PLAN"] + ".hanging").write_text(str(os.getpid()))
        time.sleep(600)
        sys.exit(3)
    from ase.io import read

    atoms = read(pwi, format="espresso-in")
    out = header(atoms)
    if mode in ("crash", "kill"):
        print("\n".join(out[:-3]), flush=True)
        if mode == "crash":
            print("     Error in routine cdiaghg (1):\n     problems computing cholesky",
                  flush=True)
            sys.exit(1)
        os.kill(os.getpid(), signal.SIGKILL)
    print("\n".join(out + results(atoms, converged=(mode == "ok"))), flush=True)


if __name__ == "__main__":
    main()
