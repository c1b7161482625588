"""The plugin built against a LAMMPS other than the one pip builds it for (docs/lammps.md, "Your
own LAMMPS"): a separate CMake build of this checkout with -DKIZUNA_PYTHON=OFF and
-DKIZUNA_LAMMPS_DIR=<that LAMMPS>, as a user does for a centre's LAMMPS.

- The PyPI wheel's LAMMPS taken as an installed LAMMPS (its prefix site-packages/lammps, with
  include/lammps, cmake/LAMMPS and pkgconfig, and its MPICH's mpicxx found by find_package(MPI)):
  the plugin builds, loads, and `run 0` equals the pip-built plugin's energy, virial and forces
  to 1e-12; 2 MPI ranks equal 1.
- Debian's LAMMPS (packages lammps + liblammps-dev, OpenMPI; `make test` installs them as root):
  where it can host plugins (`lmp -h` lists the PLUGIN package) the same comparison runs with
  /usr/bin/lmp and /usr/bin/mpirun; where it cannot (Debian 12's LAMMPS 29 Sep 2021), the
  configuration stops and says why (no PLUGIN package, incomplete headers, pre-2022 neighbour
  API), and the binary confirms it: its `plugin` command does not exist.

The builds live in build/own-lammps-*-test and are reused (about a minute on two cores the
first time).
"""
from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from extra_builds import ROOT, tool
from kizuna.lammps import plugin_path, read_dump
from test_lammps_support import RUN0_OUTPUT, lammps_models, printed, require_lammps, setup_script  # noqa: F401

DEBIAN_LMP = Path("/usr/bin/lmp")
DEBIAN_MPIRUN = Path("/usr/bin/mpirun")
DEBIAN_HEADERS = Path("/usr/include/lammps/pair.h")


def configure_and_build(build_dir: Path, lammps_dir: Path, env=None):
    """(configure result, plugin path or None): this checkout's plugin for `lammps_dir`."""
    configured = subprocess.run(
        [tool("cmake"), "-S", str(ROOT), "-B", str(build_dir), "-G", "Ninja",
         f"-DCMAKE_MAKE_PROGRAM={tool('ninja')}", "-DCMAKE_BUILD_TYPE=Release",
         "-DKIZUNA_PYTHON=OFF", "-DKIZUNA_CUDA=OFF", "-DKIZUNA_LAMMPS=ON",
         f"-DKIZUNA_LAMMPS_DIR={lammps_dir}"],
        capture_output=True, text=True, env=env, cwd=ROOT)
    if configured.returncode != 0:
        return configured, None
    jobs = str(max(1, min(2, os.cpu_count() or 1)))
    made = subprocess.run([tool("cmake"), "--build", str(build_dir), "--target", "kizunaplugin",
                           "-j", jobs], capture_output=True, text=True, env=env)
    assert made.returncode == 0, made.stdout[-3000:] + made.stderr[-3000:]
    return configured, build_dir / "lammps_plugin" / "kizunaplugin.so"


def run_lammps(lmp, script, workdir: Path, plugin, nprocs=1, mpirun=None, mpirun_args=(),
               env=None):
    """`lmp` (under `mpirun -np nprocs` when nprocs > 1) on `script`, the plugin given as the
    variable kizuna_plugin; returns (stdout, dump of forces.dump)."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "in.lammps").write_text(script)
    command = [str(lmp), "-in", "in.lammps", "-log", "log.lammps", "-nocite",
               "-var", "kizuna_plugin", str(plugin)]
    if nprocs > 1:
        command = [str(mpirun), *mpirun_args, "-np", str(nprocs), *command]
    proc = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True,
                          timeout=300)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "ERROR" not in output, output[-3000:]
    return proc.stdout, read_dump(workdir / "forces.dump")


class Printed:
    """What printed() of test_lammps_support needs from a LAMMPS run."""
    def __init__(self, stdout):
        self.stdout = stdout

    def printed(self, tag):
        return [[float(x) for x in line.split()[1:]] for line in self.stdout.splitlines()
                if line.startswith(tag + " ")]


def numbers(stdout, dump):
    """Energy (eV), virial (6, eV) and forces (N x 3, eV/Å) of a run0 script's output."""
    out = Printed(stdout)
    forces = np.stack([dump["fx"], dump["fy"], dump["fz"]], axis=1)
    return printed(out, "PE")[0], np.array(printed(out, "W")), forces


def assert_same(a, b, what):
    (ea, wa, fa), (eb, wb, fb) = a, b
    assert abs(ea - eb) <= 1e-12 * abs(eb), (what, ea, eb)
    assert np.abs(wa - wb).max() <= 1e-12 * np.abs(wb).max(), (what, wa, wb)
    assert np.abs(fa - fb).max() <= 1e-12 * np.abs(fb).max(), (what, np.abs(fa - fb).max())


@pytest.fixture(scope="module")
def reference(lammps_models, tmp_path_factory):  # noqa: F811
    """run 0 of the water reference configuration with the pip-built plugin in the wheel's
    LAMMPS: (script, numbers)."""
    from kizuna.lammps import run

    script = setup_script("cfg1_liquid1080", lammps_models) + RUN0_OUTPUT
    workdir = tmp_path_factory.mktemp("pip_plugin")
    result = run(script, workdir).check()
    return script, numbers(result.stdout, read_dump(workdir / "forces.dump"))


def test_plugin_built_against_the_wheel_as_an_installed_lammps(reference, tmp_path):
    from kizuna.lammps import environment, lmp_executable, mpirun_executable

    require_lammps()
    prefix = lmp_executable().parent  # site-packages/lammps: include/lammps, cmake/LAMMPS, ...
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(mpirun_executable().parent), env.get("PATH", "")])
    configured, plugin = configure_and_build(ROOT / "build" / "own-lammps-wheel-test", prefix, env)
    assert plugin is not None, configured.stdout[-2000:] + configured.stderr[-2000:]
    log = " ".join(configured.stdout.split())
    assert "kizuna: LAMMPS plugin for LAMMPS 20250722" in log and "LAMMPS_SMALLBIG" in log
    assert plugin.resolve() != plugin_path().resolve()
    script, expected = reference
    run_env = environment(1)
    one = numbers(*run_lammps(lmp_executable(), script, tmp_path / "np1", plugin, env=run_env))
    two = numbers(*run_lammps(lmp_executable(), script, tmp_path / "np2", plugin, nprocs=2,
                              mpirun=mpirun_executable(), env=run_env))
    assert_same(one, expected, "own build vs pip build, 1 rank")
    assert_same(two, one, "own build, 2 ranks vs 1")


def debian_lammps_help() -> str:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env.pop("LAMMPS_PLUGIN_PATH", None)
    return subprocess.run([str(DEBIAN_LMP), "-h"], capture_output=True, text=True, env=env,
                          timeout=60).stdout


def debian_env():
    """Debian's LAMMPS and OpenMPI, nothing of the Python environment's MPICH."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("LD_LIBRARY_PATH", "LAMMPS_PLUGIN_PATH")}
    env["PATH"] = "/usr/bin:/bin"
    env["OMP_NUM_THREADS"] = "1"
    return env


def test_debian_lammps(reference, tmp_path):
    if not (DEBIAN_LMP.is_file() and DEBIAN_HEADERS.is_file()):
        pytest.skip("Debian's lammps + liblammps-dev are not installed (make test installs them "
                    "as root with apt-get)")
    help_text = debian_lammps_help()
    version = re.search(r"Parallel Simulator - (\d+ \w{3} \d{4})", help_text)
    assert version, help_text[:500]
    day, month, year = version.group(1).split()
    number = int(year) * 10000 + (["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep",
                                   "Oct", "Nov", "Dec"].index(month) + 1) * 100 + int(day)
    packages = help_text.split("Installed packages:")[1].split("List of individual")[0].split()
    env = debian_env()
    configured, plugin = configure_and_build(ROOT / "build" / "own-lammps-debian-test",
                                             Path("/usr"), env)
    text = " ".join((configured.stdout + configured.stderr).split())
    if "PLUGIN" not in packages:
        # Debian 12: LAMMPS 29 Sep 2021 without the PLUGIN package; the build says so and why
        assert plugin is None, text[-2000:]
        assert f"cannot be built against LAMMPS {number} at /usr" in text, text[-2000:]
        assert "has no plugin support (LAMMPS was built without the PLUGIN package" in text
        assert "ML-KIZUNA package (docs/lammps.md)" in text
        missing = [h for h in ("exceptions.h", "fmt/format.h")
                   if not (Path("/usr/include/lammps") / h).is_file()]
        if missing:  # Debian 12's liblammps-dev: the headers that LAMMPS's error.h/utils.h include
            assert f"lacks {', '.join(missing)} (an incomplete header set" in text, text[-2000:]
        # the binary agrees: it has no plugin command
        (tmp_path / "in.plugin").write_text("plugin list\n")
        proc = subprocess.run([str(DEBIAN_LMP), "-in", "in.plugin", "-log", "none"],
                              cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
        assert "Unknown command: plugin list" in proc.stdout + proc.stderr
        return
    # a Debian LAMMPS that hosts plugins: the full comparison with its own lmp and OpenMPI
    assert plugin is not None, text[-3000:]
    assert f"kizuna: LAMMPS plugin for LAMMPS {number}" in text
    script, expected = reference
    mpirun_args = ["--allow-run-as-root", "--oversubscribe"] if os.geteuid() == 0 else []
    one = numbers(*run_lammps(DEBIAN_LMP, script, tmp_path / "np1", plugin, env=env))
    two = numbers(*run_lammps(DEBIAN_LMP, script, tmp_path / "np2", plugin, nprocs=2,
                              mpirun=DEBIAN_MPIRUN, mpirun_args=mpirun_args, env=env))
    assert_same(one, expected, "Debian LAMMPS vs the wheel, 1 rank")
    assert_same(two, one, "Debian LAMMPS, 2 ranks vs 1")


def test_a_folder_that_is_no_lammps_is_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    configured, plugin = configure_and_build(tmp_path / "b", tmp_path / "empty")
    assert plugin is None
    text = " ".join(configured.stderr.split())
    assert "is neither an installed LAMMPS (include/lammps/pair.h) nor a LAMMPS source tree" in text
