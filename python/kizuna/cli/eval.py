"""kizuna eval MODEL DATA...: errors of a model on labelled data (per element)."""
COMMAND = "eval"
HELP = "evaluate a model on labelled data: energy/force/stress MAE and RMSE per element"


def add_arguments(parser):
    parser.add_argument("model", help="model file (.kzn)")
    parser.add_argument("data", nargs="+", help="data files (extxyz, OUTCAR, vasprun.xml, n2p2 "
                        "input.data, DeePMD folder, mlearn JSON)")
    parser.add_argument("--plot", metavar="PNG", help="write parity plots to this file")
    parser.add_argument("--json", metavar="FILE", help="write the metrics as JSON")
    parser.add_argument("--threads", type=int, default=1, help="core threads (default 1)")
    parser.add_argument("--details", "-d", metavar="PREFIX",
                        help="write per-structure (PREFIX.structures.tsv, worst first) and "
                        "per-atom (PREFIX.atoms.tsv) errors, committee spread and extrapolating "
                        "atoms; for committees also the calibration of the spread against the "
                        "error (PREFIX.calibration.json/.png)")


def run(args):
    import json

    from ..training import evaluate

    results, table = evaluate(args.model, args.data, threads=args.threads, plot=args.plot,
                              details=args.details)
    print(table)
    if args.details:
        d = results["details"]
        print("details: " + ", ".join(d["files"].values()))
        cal = d["calibration"]
        for key in ("spearman_structure_max_deviation_vs_max_force_error",
                    "spearman_structure_energy_std_vs_energy_error",
                    "spearman_atom_deviation_vs_force_error", "rms_error_over_rms_sigma"):
            if key in cal:
                print(f"{key}: {cal[key]:.3f}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=1)
    if args.plot:
        print(f"parity plots: {args.plot}")
    return 0
