"""kizuna import-n2p2 DIR -o model.kzn: convert an n2p2 potential directory."""
COMMAND = "import-n2p2"
HELP = "convert an n2p2 potential (input.nn, scaling.data, weights.*.data) to a kizuna model"


def add_arguments(parser):
    parser.add_argument("directory", nargs="+", help="n2p2 potential directory; several "
                        "directories (same symmetry functions) make one committee model")
    parser.add_argument("-o", "--output", required=True, help="kizuna model file to write")
    parser.add_argument("--length-unit", choices=["bohr", "angstrom"],
                        help="length unit of the potential (default: from input.nn comments)")
    parser.add_argument("--energy-unit", choices=["hartree", "eV"],
                        help="energy unit of the potential (default: from input.nn comments)")
    parser.add_argument("--cflength", type=float, help="n2p2/LAMMPS factor: potential length "
                        "units per Å (overrides --length-unit; e.g. 1.8897261328)")
    parser.add_argument("--cfenergy", type=float, help="n2p2/LAMMPS factor: potential energy "
                        "units per eV (overrides --energy-unit; e.g. 0.0367493254)")


def run(args):
    from ..n2p2 import import_n2p2

    model = import_n2p2(args.directory, args.output, length_unit=args.length_unit,
                        energy_unit=args.energy_unit and args.energy_unit.lower(),
                        cflength=args.cflength, cfenergy=args.cfenergy)
    print(model.summary())
    print(f"written: {args.output}")
    return 0
