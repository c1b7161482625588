"""The CUDA backend's host side, without a GPU: what the build says about CUDA, and device='cuda'
failing with a clear error (never a crash or a hang) where it cannot run -- in Python, in the
ASE calculator and in LAMMPS. Each test checks the state this machine is in (no CUDA built /
CUDA built but no usable GPU / a GPU) and asserts what must happen in that state; the GPU
results themselves are checked by tests/gpu (docs/gpu.md)."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

import kizuna
from kizuna import _core
from kizuna.errors import InputError, UnsupportedError
from model_factory import random_model
from test_lammps_support import lammps_models, setup_script  # noqa: F401


def cuda_state() -> str:
    if not _core.has_cuda:
        return "not built"
    return "gpu" if _core.cuda_device_count() > 0 else "no device"


def nvcc_findable() -> bool:
    """What CMake's check_language(CUDA) finds: $CUDACXX, nvcc on PATH, the default toolkit."""
    cudacxx = os.environ.get("CUDACXX")
    if cudacxx:
        return Path(cudacxx).is_file()
    return shutil.which("nvcc") is not None or Path("/usr/local/cuda/bin/nvcc").is_file()


def gpu_present() -> bool:
    """What CMake's KIZUNA_CUDA=AUTO looks for: nvidia-smi listing a GPU, or /dev/nvidia0."""
    import subprocess

    smi = shutil.which("nvidia-smi")
    if smi is not None:
        listed = subprocess.run([smi, "-L"], capture_output=True, text=True)
        if listed.returncode == 0 and "GPU 0:" in listed.stdout:
            return True
    return Path("/dev/nvidia0").exists()


@pytest.fixture(scope="module")
def model():
    return random_model(seed=3)


def test_has_cuda_matches_the_build():
    info = _core.build_info
    assert info["cuda"] is _core.has_cuda
    option = info["cuda_option"]
    assert option in ("AUTO", "ON", "OFF")
    if option == "OFF":
        assert not _core.has_cuda
    elif option == "ON":
        assert _core.has_cuda
    else:  # AUTO: CUDA exactly when the build machine has a GPU and the build found nvcc (the
        # build ran in this environment)
        expected = gpu_present() and nvcc_findable()
        assert _core.has_cuda == expected, (info, gpu_present(), nvcc_findable())
    if _core.has_cuda:
        assert info["cuda_architectures"], info
        assert info["nvcc_version"].split(".")[0].isdigit(), info
    else:
        assert info["cuda_architectures"] == "" and info["nvcc_version"] == ""
        assert _core.cuda_device_count() == 0
        assert "built without CUDA" in _core.cuda_unavailable_reason()


def test_device_count_and_reason_agree():
    count = _core.cuda_device_count()
    assert count >= 0
    reason = _core.cuda_unavailable_reason()
    assert (reason == "") == (count > 0), reason


def test_device_cuda_is_usable_or_says_why(model):
    state = cuda_state()
    if state == "gpu":
        pot = kizuna.Potential(model, device="cuda")
        assert pot.device == "cuda" and pot.precision == "float64"
        assert "(device 0)" in pot.device_name
        return
    with pytest.raises(UnsupportedError) as info:
        kizuna.Potential(model, device="cuda")
    message = str(info.value)
    if state == "not built":
        assert "built without CUDA" in message and "-DKIZUNA_CUDA=ON" in message
        assert "device='cpu'" in message
    else:
        assert "no CUDA device found" in message and "cudaGetDeviceCount" in message
        assert "Use device cpu" in message
    # the CPU keeps working in the same process after the refusal
    pot = kizuna.Potential(model, threads=1)
    out = pot.compute(np.array([[0.0, 0, 0], [0.9, 0.1, 0], [-0.2, 0.95, 0.1]]), ["O", "H", "H"])
    assert np.isfinite(out["energy"])


def test_calculator_device_cuda_is_usable_or_says_why(model):
    if cuda_state() == "gpu":
        assert kizuna.Calculator(model, device="cuda").potential.device == "cuda"
        return
    with pytest.raises(UnsupportedError, match="CUDA"):
        kizuna.Calculator(model, device="cuda", precision="float32")


def test_cpu_is_the_default_device(model):
    pot = kizuna.Potential(model)
    assert (pot.device, pot.precision, pot.device_name) == ("cpu", "float64", "cpu")


@pytest.mark.parametrize("kwargs, message", [
    (dict(device="tpu"), "device must be 'cpu' or 'cuda'"),
    (dict(device="cuda", precision="half"), "precision must be 'float64' or 'float32'"),
    (dict(precision="float32"), "option of the CUDA backend"),
])
def test_bad_device_options(model, kwargs, message):
    with pytest.raises(InputError, match=message):
        kizuna.Potential(model, **kwargs)


# ------------------------------------------------------------------------------------- LAMMPS
@pytest.mark.parametrize("nprocs", [1, 2])
def test_lammps_device_cuda_is_usable_or_says_why(lammps_models, tmp_path, nprocs):  # noqa: F811
    from kizuna.lammps import run
    from test_lammps_errors import failed_with

    script = setup_script("cfg4_ice384", lammps_models, "device cuda") + "run 0\n"
    result = run(script, tmp_path, nprocs=nprocs)
    state = cuda_state()
    if state == "gpu":
        result.check()
        assert "pair_style kizuna: device cuda, precision float64" in result.output
    elif state == "not built":
        failed_with(result, "built without CUDA", "-DKIZUNA_CUDA=ON", "device cpu")
    else:
        failed_with(result, f"rank 0 of {nprocs}: no CUDA device found", "cudaGetDeviceCount",
                    "device cpu")


@pytest.mark.parametrize("keywords, message", [
    ("device gpu", "device must be cpu or cuda, got 'gpu'"),
    ("device cuda precision half", "precision must be float64 or float32, got 'half'"),
    ("precision float32", "precision float32 is an option of 'device cuda'"),
    ("device", "keyword 'device' needs a value"),
])
def test_lammps_bad_device_keywords(lammps_models, tmp_path, keywords, message):  # noqa: F811
    from kizuna.lammps import run
    from test_lammps_errors import failed_with

    failed_with(run(setup_script("cfg4_ice384", lammps_models, keywords), tmp_path), message)
