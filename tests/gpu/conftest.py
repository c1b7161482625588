"""GPU tests of the CUDA backend (docs/gpu.md). They need a CUDA device: where none is usable
(a CPU-only build, or no GPU / driver, as in CI) this folder is not collected at all, so nothing
here is ever reported as skipped or passed without a GPU. On the GPU machine:

    python -m pytest -q tests/gpu          # or: make gpu-check (tests + benchmark)
"""
from __future__ import annotations

from kizuna import _core

GPU_AVAILABLE = bool(_core.has_cuda) and _core.cuda_device_count() > 0
if not GPU_AVAILABLE:
    collect_ignore_glob = ["test_*.py"]
