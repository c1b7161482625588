"""All of tests/gpu on the CUDA backend running on the CPU emulation (KIZUNA_CUDA=EMULATE): about
15 minutes on two cores. `make gpu-emulation-check`; extra arguments go to pytest, e.g.
`python tests/cuda_emulation/run_gpu_tests.py -k lammps`."""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/: extra_builds
from extra_builds import emulated_package, run_gpu_tests  # noqa: E402

if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        root = emulated_package(Path(tmp))
        args = sys.argv[1:] or ["tests/gpu"]
        if not any(a.startswith("tests/gpu") for a in args):
            args = ["tests/gpu"] + args
        sys.exit(run_gpu_tests(root, *args, capture=False).returncode)
