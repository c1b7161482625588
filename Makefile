# kizuna developer entry points. `make test` and `make demo` do all set-up on a fresh machine:
# they create .venv, install the dependencies (torch pinned to the local CPU build) and build
# the C++ core, the Python module and the LAMMPS plugin.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
export OMP_NUM_THREADS ?= 1
SOURCES := $(shell find csrc lammps_plugin -type f \( -name '*.cpp' -o -name '*.hpp' -o -name '*.h' -o -name '*.cu' -o -name '*.cuh' -o -name 'CMakeLists.txt' -o -name '*.py' -o -name '*.map' \) 2>/dev/null) CMakeLists.txt pyproject.toml

.PHONY: install test test-fast demo bench gpu-check gpu-emulation-check clean FORCE

# the editable install maps Python modules by name: adding or removing a module needs a
# reinstall, so the list of module files is part of the build stamp
PYFILES := $(shell find python -name '*.py' 2>/dev/null | sort)
$(VENV)/.pyfiles: FORCE
	@mkdir -p $(VENV)
	@echo "$(PYFILES)" | cmp -s - $@ || echo "$(PYFILES)" > $@

$(VENV)/.deps: constraints.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -c constraints.txt torch==2.13.0
	$(PIP) install -q -c constraints.txt numpy scipy ase pyyaml matplotlib tqdm pytest \
	    "lammps[mpi]" scikit-build-core pybind11 cmake ninja chgnet==0.4.2
	touch $@

$(VENV)/.built: $(VENV)/.deps $(VENV)/.pyfiles $(SOURCES)
	$(PIP) install -q --no-build-isolation -c constraints.txt -e .
	touch $@

install: $(VENV)/.built

test: install
	$(PY) -m pytest -q tests

demo: install
	$(PY) examples/demo.py

bench: install
	$(PY) benchmarks/core_throughput.py

# On a machine with an NVIDIA GPU (docs/gpu.md): the GPU tests (not collected elsewhere) and the
# GPU benchmark without its 10^6-atom box
gpu-check: install
	$(PY) -m pytest -q tests/gpu
	$(PY) benchmarks/gpu_throughput.py --quick

# Without a GPU: all of tests/gpu on the CUDA backend compiled for a CPU emulation of CUDA
# (KIZUNA_CUDA=EMULATE, tests/cuda_emulation); ~15 min on 2 cores. CI runs its quick part.
gpu-emulation-check: install
	$(PY) tests/cuda_emulation/run_gpu_tests.py

clean:
	rm -rf build $(VENV)/.built
