"""A second build of this checkout without CUDA (KIZUNA_CUDA=OFF) in build/cpu-only-test, shared
by test_cuda_cmake.py (the CPU-only Python module) and test_cuda_emulation.py (the CUDA kernels
run on the CPU). Reused between runs: about a minute on two cores the first time, seconds after.
Not a test module (no tests in here)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build" / "cpu-only-test"


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


def build_cpu_only(target: str) -> Path:
    """Configures build/cpu-only-test (CUDA off, emulation test on) and builds `target`; returns
    the build folder. Raises AssertionError with the build log's end on failure."""
    result = configure(BUILD, "-DKIZUNA_CUDA=OFF", "-DKIZUNA_EMULATION_TEST=ON")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "CUDA backend with nvcc" not in result.stdout
    jobs = str(max(1, min(2, os.cpu_count() or 1)))
    build = subprocess.run([tool("cmake"), "--build", str(BUILD), "--target", target, "-j", jobs],
                           capture_output=True, text=True)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    return BUILD
