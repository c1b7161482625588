"""kizuna validate CONFIG: the property suite, model and reference side by side."""
COMMAND = "validate"
HELP = ("property suite: EOS, elastic tensor, phonons, vacancy, NEB barrier, surface energy, "
        "melt-quench structure, diffusion; model vs a reference, with a Markdown report")


def add_arguments(parser):
    parser.add_argument("config", help="suite configuration (YAML), see examples/validate/")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY.PATH=VALUE", help="override a configuration key "
                        "(e.g. --set reference=null, --set output.directory=out)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")


def run(args):
    from pathlib import Path

    from ..properties.config import load_validate_config
    from ..properties.report import format_value, value_rows
    from ..properties.suite import run_suite

    cfg = load_validate_config(args.config, args.overrides)
    results = run_suite(cfg, say=(lambda *_: None) if args.quiet else print)
    for name, key, unit, mv, rv, err, rel in value_rows(results):
        if isinstance(mv, str) or isinstance(rv, str):
            print(f"{name:12s} {key:28s} {mv} {rv}")
            continue
        ref = "" if rv is None else f"  reference {format_value(rv, 6)}"
        ref += "" if err is None else f"  error {format_value(err)}"
        print(f"{name:12s} {key:28s} {format_value(mv, 6)} {unit}{ref}")
    print(f"report: {Path(cfg['output']['directory']) / 'report.md'}")
    return 0
