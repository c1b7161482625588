"""The whole CUDA backend without a GPU: the module and LAMMPS plugin built with
KIZUNA_CUDA=EMULATE (build/cuda-emulated-test: csrc/cuda compiled as C++ against a CPU
emulation of the CUDA runtime and of CUDA threads, tests/cuda_emulation) run the fast part of
the GPU test suite (tests/gpu) in a subprocess: Python -> Potential -> CudaEngine (uploads,
buffers, launch shapes, slot learning and retry, downloads, the Result contract) -> kernels,
compared with the CPU core at 1e-10. The rest of tests/gpu (the 1,080-atom and LAMMPS cases)
takes ~15 minutes under the emulation: `make gpu-emulation-check` runs all of it. What only a
GPU can show (its memory model, math library, speed) stays for tests/gpu on a GPU."""
from __future__ import annotations

import pytest

from extra_builds import emulated_package, run_gpu_tests

# the quick part of tests/gpu: small systems, every symmetry-function kind and cutoff, open and
# periodic, a cell smaller than the cutoff, committees with member forces, input errors
QUICK = "every_kind or small or committee_members or bad_input"

@pytest.fixture(scope="module")
def package_root(tmp_path_factory):
    return emulated_package(tmp_path_factory.mktemp("emulated"))


def test_quick_gpu_tests_pass_on_the_emulated_backend(package_root):
    result = run_gpu_tests(package_root, "tests/gpu/test_cuda_vs_cpu.py", "-k", QUICK)
    tail = result.stdout[-3000:] + result.stderr[-2000:]
    assert result.returncode == 0, tail
    summary = result.stdout.strip().splitlines()[-1]
    assert "passed" in summary and "skipped" not in summary and "failed" not in summary, tail
    assert int(summary.split()[0]) >= 18, summary  # 16 kinds x pbc, small cell, committee, ...
