"""kizuna learn CONFIG: on-the-fly learning (resumes an interrupted run)."""
COMMAND = "learn"
HELP = "on-the-fly learning: MD with a committee, labelling uncertain structures with a reference"


def add_arguments(parser):
    parser.add_argument("config", help="learning configuration (YAML), see examples/learn/")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY.PATH=VALUE", help="override a configuration key")
    parser.add_argument("--progress", choices=["auto", "bar", "line", "none"], default=None,
                        help="progress display (overrides output.progress): bar (live, on a "
                        "terminal), line (plain lines with rate and ETA, for batch logs), none, "
                        "auto (bar on a terminal, else line; the default)")


def run(args):
    import json

    from ..learn import learn

    summary = learn(args.config, args.overrides, progress=args.progress)
    print(json.dumps({k: v for k, v in summary.items() if k != "test"}, indent=1))
    if "test" in summary:
        t = summary["test"]
        print(f"independent test ({t['frames']} frames): energy MAE "
              f"{t['energy_mae_meV_atom']:.2f} meV/atom, force MAE {t['forces_mae_eV_A']:.4f} "
              f"eV/Å, rank correlation (deviation vs error) "
              f"{t['spearman_max_deviation_vs_max_error']:.2f}")
    return 0
