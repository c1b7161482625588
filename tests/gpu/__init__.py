"""GPU tests of the CUDA backend (see conftest.py: collected only where a CUDA device is usable)."""
