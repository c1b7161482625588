# kizuna developer entry points. `make test` and `make demo` do all set-up on a fresh machine:
# they create .venv, install the dependencies (torch pinned to the local CPU build) and build
# the C++ core, the Python module and the LAMMPS plugin.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
export OMP_NUM_THREADS ?= 1
SOURCES := $(shell find csrc lammps_plugin -type f \( -name '*.cpp' -o -name '*.hpp' -o -name '*.h' -o -name '*.cu' -o -name '*.cuh' -o -name 'CMakeLists.txt' -o -name '*.cmake' -o -name '*.py' -o -name '*.map' \) 2>/dev/null) CMakeLists.txt pyproject.toml

.PHONY: install test test-fast demo bench gpu-check gpu-emulation-check debian-lammps dft-deps clean FORCE

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
	    "lammps[mpi]==2025.7.22.*" scikit-build-core pybind11 cmake ninja chgnet==0.4.2 phonopy
	touch $@

# The development build runs where it is built: the core tuned for this CPU (KIZUNA_ARCH=native;
# `pip install .` is portable unless asked, see README). KIZUNA_ARCH= (empty) for a portable one.
KIZUNA_ARCH ?= native
$(VENV)/.built: $(VENV)/.deps $(VENV)/.pyfiles $(SOURCES)
	KIZUNA_ARCH=$(KIZUNA_ARCH) $(PIP) install -q --no-build-isolation -c constraints.txt -e .
	touch $@

install: $(VENV)/.built

# Debian's LAMMPS (lammps + liblammps-dev, OpenMPI) for tests/test_lammps_own_build.py, which
# builds the plugin against it (or checks that the build says why it cannot). Installed when
# running as root with apt-get; elsewhere skipped with a note (the test then skips, saying so).
debian-lammps:
	@if [ -x /usr/bin/lmp ] && [ -f /usr/include/lammps/pair.h ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian's lammps + liblammps-dev (for tests/test_lammps_own_build.py)"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q lammps liblammps-dev >/dev/null || \
	    { apt-get update -q >/dev/null && \
	      DEBIAN_FRONTEND=noninteractive apt-get install -y -q lammps liblammps-dev >/dev/null; } || \
	    echo "NOTE: apt-get could not install lammps liblammps-dev; the Debian-LAMMPS test skips"; \
	else echo "NOTE: not root or no apt-get: Debian's LAMMPS not installed; the Debian-LAMMPS test skips"; fi

# Quantum ESPRESSO's pw.x and its pseudopotentials (Debian packages), the DFT reference of
# `kizuna learn` (docs/learning.md); tests/test_learn_dft_pwx.py needs them. Nothing to do when
# present; installed with apt-get when root; otherwise a hint (the pw.x tests then skip,
# except under CI=true).
DFT_PACKAGES := quantum-espresso quantum-espresso-data
dft-deps:
	@if command -v pw.x >/dev/null && test -f /usr/share/espresso/pseudo/Si.pbe-rrkj.UPF; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get install -y -q $(DFT_PACKAGES) >/dev/null 2>&1 || \
	    { apt-get update -q && apt-get install -y -q $(DFT_PACKAGES); }; \
	else echo "dft-deps: pw.x not found: sudo apt-get install $(DFT_PACKAGES)"; fi

test: install debian-lammps dft-deps
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
