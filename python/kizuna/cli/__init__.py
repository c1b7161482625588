"""``kizuna`` command line. Each module of this package that defines ``COMMAND`` (the
sub-command name), ``HELP``, ``add_arguments(parser)`` and ``run(args)`` is a sub-command."""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from ..errors import KizunaError


def _commands():
    found = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):  # __main__ runs the command line when imported
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "COMMAND"):
            found.append(module)
    return sorted(found, key=lambda m: m.COMMAND)


def build_parser():
    from .. import __version__

    parser = argparse.ArgumentParser(prog="kizuna", description="kizuna: neural-network "
                                     "interatomic potentials (train, evaluate, run in LAMMPS)")
    parser.add_argument("--version", action="version", version=f"kizuna {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="<command>")
    for module in _commands():
        p = sub.add_parser(module.COMMAND, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except (KizunaError, OSError) as exc:
        print(f"kizuna {args.command}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
