"""The CMake switch KIZUNA_CUDA (AUTO | ON | OFF) and the CPU-only build.

A second, CPU-only copy of the Python module is built from this checkout (KIZUNA_CUDA=OFF, in
build/cpu-only-test, see extra_builds.py) and loaded in a subprocess: it says it has no CUDA,
device='cuda' raises UnsupportedError with the rebuild advice, and its CPU results equal the
main build's. Configure-only runs check that KIZUNA_CUDA=ON without a CUDA compiler stops with a
clear message and that AUTO builds CUDA only where a GPU is present (nvidia-smi lists one, or
/dev/nvidia0) and nvcc is found: a fake nvidia-smi on PATH stands for the GPU."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import shutil

import numpy as np
import pytest

import kizuna
from extra_builds import build_cpu_only, configure
from model_factory import random_model


def without_nvcc(extra_path=()):
    """An environment where CMake finds no nvcc: PATH without CUDA, CUDACXX naming no file."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([*map(str, extra_path), str(Path(sys.executable).parent),
                                   "/usr/bin", "/bin"])
    env["CUDACXX"] = "/nonexistent/nvcc"
    return env


def nvcc_path():
    """The nvcc CMake would find (CUDACXX, PATH, the default toolkit), or None."""
    for candidate in (os.environ.get("CUDACXX"), shutil.which("nvcc"), "/usr/local/cuda/bin/nvcc"):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def real_gpu_present():
    return Path("/dev/nvidia0").exists() or (
        shutil.which("nvidia-smi") is not None and
        "GPU 0:" in subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True).stdout)


def fake_gpu(folder: Path) -> Path:
    """A folder with an `nvidia-smi` that lists one GPU, as the real one does."""
    folder.mkdir(parents=True, exist_ok=True)
    smi = folder / "nvidia-smi"
    smi.write_text("#!/bin/sh\necho 'GPU 0: NVIDIA H200 (UUID: GPU-00000000-0000-0000-0000-000000000000)'\n")
    smi.chmod(0o755)
    return folder


def test_cuda_on_without_nvcc_stops_with_a_clear_message(tmp_path):
    result = configure(tmp_path / "b", "-DKIZUNA_CUDA=ON", "-DKIZUNA_PYTHON=OFF", env=without_nvcc())
    assert result.returncode != 0
    text = " ".join((result.stdout + result.stderr).split())
    assert "KIZUNA_CUDA=ON but CMake found no CUDA compiler (nvcc)" in text, text[-2000:]
    assert "-DKIZUNA_CUDA=AUTO or OFF" in text


def test_cuda_auto_with_a_gpu_but_without_nvcc_builds_cpu_only(tmp_path):
    env = without_nvcc([fake_gpu(tmp_path / "bin")])
    result = configure(tmp_path / "b", "-DKIZUNA_CUDA=AUTO", "-DKIZUNA_PYTHON=OFF", env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    text = " ".join(result.stdout.split())
    assert "this machine has a GPU (" in text and "found no CUDA compiler (nvcc): building CPU-only" in text


def test_cuda_auto_without_a_gpu_builds_cpu_only_even_with_nvcc(tmp_path):
    if real_gpu_present():
        pytest.skip("this machine has a GPU: AUTO builds CUDA here (the next test's case)")
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), "/usr/bin", "/bin"])
    if nvcc_path():
        env["CUDACXX"] = nvcc_path()  # nvcc findable: still no CUDA without a GPU
    result = configure(tmp_path / "b", "-DKIZUNA_PYTHON=OFF", env=env)  # AUTO is the default
    assert result.returncode == 0, result.stderr[-2000:]
    text = " ".join(result.stdout.split())
    assert "no NVIDIA GPU on this machine (nvidia-smi, /dev/nvidia0): building CPU-only" in text
    assert "-DKIZUNA_CUDA=ON builds the CUDA backend anyway" in text
    assert "CUDA backend with nvcc" not in text


def test_cuda_auto_with_a_gpu_and_nvcc_builds_cuda(tmp_path):
    nvcc = nvcc_path()
    if nvcc is None:
        pytest.skip("no nvcc on this machine (CUDA toolkit not installed)")
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(fake_gpu(tmp_path / "bin")), env.get("PATH", "")])
    env["CUDACXX"] = nvcc
    result = configure(tmp_path / "b", "-DKIZUNA_CUDA=AUTO", "-DKIZUNA_PYTHON=OFF", env=env)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "kizuna: CUDA backend with nvcc" in result.stdout


def test_unknown_cuda_value_is_refused(tmp_path):
    result = configure(tmp_path / "b", "-DKIZUNA_CUDA=yes", "-DKIZUNA_PYTHON=OFF", env=without_nvcc())
    assert result.returncode != 0
    assert "KIZUNA_CUDA must be AUTO, ON or OFF, not 'yes'" in " ".join(result.stderr.split())


@pytest.fixture(scope="module")
def cpu_only_module():
    """Path of a CPU-only build of kizuna._core (KIZUNA_CUDA=OFF)."""
    found = sorted(build_cpu_only("_core").glob("_core*.so"))
    assert len(found) == 1, found
    return found[0]


# Runs in a fresh interpreter: the package's Python files with the CPU-only _core (the installed
# _core must not be loaded in the same process: both register the same pybind11 types).
LOADER = """
import importlib.util, json, sys, types
import numpy as np
package_dir, module_path, model_text, positions, symbols_species, cell = sys.argv[1:7]
pkg = types.ModuleType("kizuna")
pkg.__path__ = [package_dir]          # kizuna.errors without running kizuna/__init__.py
sys.modules["kizuna"] = pkg
spec = importlib.util.spec_from_file_location("kizuna._core", module_path)
core = importlib.util.module_from_spec(spec)
sys.modules["kizuna._core"] = core
spec.loader.exec_module(core)
model = core.Model.parse(open(model_text).read(), "<test>")
out = {"has_cuda": core.has_cuda, "build_info": dict(core.build_info),
       "count": core.cuda_device_count(), "reason": core.cuda_unavailable_reason()}
for precision in ("float64", "float32"):
    try:
        core.Potential(model, 1, "cuda", precision)
        out["error_" + precision] = None
    except Exception as exc:
        out["error_" + precision] = [type(exc).__module__ + "." + type(exc).__name__, str(exc)]
pot = core.Potential(model, 1, "cpu")
r = pot.compute(np.load(positions), np.load(symbols_species), np.load(cell), True, True, True)
out["energy"] = r["energy"]
out["forces"] = r["forces"].tolist()
out["virial"] = r["virial"].tolist()
print(json.dumps(out))
"""


def test_cpu_only_build_refuses_cuda_and_computes_like_the_main_build(cpu_only_module, tmp_path):
    rng = np.random.default_rng(21)
    model = random_model(seed=4, committee=2)
    cell = np.diag([6.5, 6.8, 6.6])
    positions = rng.uniform(0, 1, (30, 3)) @ cell
    symbols = ["O" if i % 3 == 0 else "H" for i in range(30)]
    pot = kizuna.Potential(model, threads=1)
    species = pot.species(symbols)
    files = {"model": tmp_path / "m.kzn", "x": tmp_path / "x.npy", "s": tmp_path / "s.npy",
             "c": tmp_path / "c.npy"}
    model.save(files["model"])
    np.save(files["x"], positions)
    np.save(files["s"], species)
    np.save(files["c"], cell)
    package_dir = Path(kizuna.errors.__file__).parent
    result = subprocess.run([sys.executable, "-c", LOADER, str(package_dir), str(cpu_only_module),
                             str(files["model"]), str(files["x"]), str(files["s"]),
                             str(files["c"])], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["has_cuda"] is False and out["build_info"]["cuda_option"] == "OFF"
    assert out["count"] == 0 and "built without CUDA" in out["reason"]
    for precision in ("float64", "float32"):
        kind, message = out["error_" + precision]
        assert kind == "kizuna.errors.UnsupportedError"
        assert "this kizuna was built without CUDA" in message
        assert "-DKIZUNA_CUDA=ON" in message and "nvcc" in message and "device='cpu'" in message
    main = pot.compute(positions, symbols, cell, True, virial=True)
    assert abs(out["energy"] - main["energy"]) <= 1e-12 * abs(main["energy"])
    assert np.allclose(out["forces"], main["forces"], rtol=0, atol=1e-12 * np.abs(main["forces"]).max())
    assert np.allclose(out["virial"], main["virial"], rtol=0, atol=1e-12 * np.abs(main["virial"]).max())
