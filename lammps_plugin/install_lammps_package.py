#!/usr/bin/env python3
"""Install kizuna into a LAMMPS source tree as the package ML-KIZUNA (pair_style kizuna and
compute kizuna/deviation compiled into LAMMPS), for a LAMMPS built from source with CMake:

    python3 lammps_plugin/install_lammps_package.py /path/to/lammps
    cmake -S /path/to/lammps/cmake -B build -D PKG_ML-KIZUNA=on && cmake --build build

It copies
  lammps_plugin/{pair_kizuna,compute_kizuna_deviation}.{cpp,h} and ML-KIZUNA/*_style.h, README
                                  -> <lammps>/src/ML-KIZUNA/
  csrc/include, csrc/src (the C++ core, CPU only)
                                  -> <lammps>/src/ML-KIZUNA/kizuna/{include,src}
  ML-KIZUNA/ML-KIZUNA.cmake       -> <lammps>/cmake/Modules/Packages/ML-KIZUNA.cmake
and adds ML-KIZUNA to set(STANDARD_PACKAGES ...) and to the first foreach(PKG_WITH_INCL ...) of
<lammps>/cmake/CMakeLists.txt (LAMMPS's documented way to add a package). Running it again
replaces the copies (e.g. after updating kizuna) and leaves the lists alone. Standard library only.
"""
from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent        # lammps_plugin/
ROOT = HERE.parent                            # the kizuna checkout
PACKAGE = "ML-KIZUNA"
MARKER = ".kizuna-package"                    # names a folder this script may replace
ADAPTER = ["pair_kizuna.cpp", "pair_kizuna.h", "compute_kizuna_deviation.cpp",
           "compute_kizuna_deviation.h"]
PACKAGE_FILES = ["pair_kizuna_style.h", "compute_kizuna_deviation_style.h", "README"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


class InstallError(Exception):
    pass


def lammps_version(src: Path) -> int:
    """LAMMPS_VERSION of src/version.h ("22 Jul 2025") as its date number (20250722)."""
    text = (src / "version.h").read_text(errors="replace")
    found = re.search(r'#define\s+LAMMPS_VERSION\s+"(\d+) (\w{3}) (\d{4})"', text)
    if not found or found.group(2) not in MONTHS:
        raise InstallError(f"{src / 'version.h'}: no LAMMPS_VERSION \"DD Mon YYYY\" line")
    day, month, year = found.groups()
    return int(year) * 10000 + (MONTHS.index(month) + 1) * 100 + int(day)


def add_to_list(text: str, opening: str, name: str, path: Path) -> tuple[str, bool]:
    """Adds `name` before the closing parenthesis of the first `opening ... )` in `text`
    (a CMake list); returns (text, changed)."""
    start = text.find(opening)
    if start < 0:
        raise InstallError(f"{path}: no '{opening.strip()}' list (is this LAMMPS's "
                           "cmake/CMakeLists.txt?)")
    end = text.find(")", start)
    if end < 0:
        raise InstallError(f"{path}: '{opening.strip()}' is not closed")
    if name in text[start + len(opening):end].split():
        return text, False
    body = text[start:end]
    # one name per line where the list is written that way, else on the same line
    separator = "\n  " if "\n" in body else " "
    return text[:end].rstrip() + separator + name + text[end:], True


def copy_package(src: Path) -> Path:
    target = src / PACKAGE
    if target.exists():
        if not (target / MARKER).is_file():
            raise InstallError(f"{target} exists and was not installed by this script; "
                               "remove it first")
        shutil.rmtree(target)
    (target / "kizuna").mkdir(parents=True)
    for name in ADAPTER:
        shutil.copy2(HERE / name, target / name)
    for name in PACKAGE_FILES:
        shutil.copy2(HERE / PACKAGE / name, target / name)
    shutil.copytree(ROOT / "csrc" / "include", target / "kizuna" / "include")
    (target / "kizuna" / "src").mkdir()
    for source in sorted((ROOT / "csrc" / "src").iterdir()):
        if source.suffix in (".cpp", ".hpp", ".h"):
            shutil.copy2(source, target / "kizuna" / "src" / source.name)
    (target / MARKER).write_text(f"installed from {ROOT}\n")
    return target


def install(lammps: Path) -> list:
    """Installs the package into the LAMMPS tree `lammps`; returns what it did (lines)."""
    lammps = lammps.resolve()
    src, cmake_lists = lammps / "src", lammps / "cmake" / "CMakeLists.txt"
    if not (src / "version.h").is_file() or not cmake_lists.is_file():
        raise InstallError(f"{lammps} is not a LAMMPS source tree (needs src/version.h and "
                           "cmake/CMakeLists.txt)")
    version = lammps_version(src)
    neighbor = src / "neighbor.h"
    if neighbor.is_file() and "add_request" not in neighbor.read_text(errors="replace"):
        raise InstallError(f"LAMMPS {version} at {lammps} predates the neighbour-list request "
                           "API (Neighbor::add_request, LAMMPS 2022) that pair_style kizuna uses; "
                           "use a LAMMPS release from 2022 or newer")
    done = [f"LAMMPS {version} at {lammps}"]
    target = copy_package(src)
    done.append(f"copied the package to {target}")
    packages = lammps / "cmake" / "Modules" / "Packages"
    if not packages.is_dir():
        raise InstallError(f"{packages} does not exist (is this LAMMPS's source tree?)")
    shutil.copy2(HERE / PACKAGE / "ML-KIZUNA.cmake", packages / "ML-KIZUNA.cmake")
    done.append(f"copied ML-KIZUNA.cmake to {packages}")
    text = cmake_lists.read_text()
    text, added_standard = add_to_list(text, "set(STANDARD_PACKAGES", PACKAGE, cmake_lists)
    text, added_incl = add_to_list(text, "foreach(PKG_WITH_INCL ", PACKAGE, cmake_lists)
    if added_standard or added_incl:
        cmake_lists.write_text(text)
        done.append(f"added {PACKAGE} to the package lists of {cmake_lists}")
    else:
        done.append(f"{cmake_lists} already lists {PACKAGE}")
    return done


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("lammps", type=Path, help="the LAMMPS source tree (holds src/, cmake/)")
    args = parser.parse_args(argv)
    try:
        done = install(args.lammps)
    except (InstallError, OSError) as exc:
        print(f"install_lammps_package: {exc}", file=sys.stderr)
        return 1
    print("\n".join(done))
    print(f"\nnow build LAMMPS with the package:\n  cmake -S {args.lammps.resolve()}/cmake -B "
          "build-lammps -D PKG_ML-KIZUNA=on [your other options] && cmake --build build-lammps")
    return 0


if __name__ == "__main__":
    sys.exit(main())
