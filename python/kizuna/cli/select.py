"""kizuna select RUN_DIR: keep the informative symmetry functions of a finished run and write
(and optionally train) the config of the reduced model."""
COMMAND = "select"
HELP = ("select the symmetry functions of a finished training run that carry the information "
        "(pivoted QR on the scaled features, or network sensitivity) and write the config of a "
        "reduced model (--train: train it)")


def add_arguments(parser):
    parser.add_argument("run", metavar="RUN_DIR", help="folder of a finished `kizuna train` run")
    rule = parser.add_mutually_exclusive_group(required=True)
    rule.add_argument("--keep", type=int, metavar="N", help="functions kept per element")
    rule.add_argument("--fraction", type=float, metavar="F", help="fraction kept per element "
                      "(0 < F <= 1)")
    rule.add_argument("--tolerance", type=float, metavar="T", help="qr: keep the fewest "
                      "functions leaving a relative residual <= T of the scaled features")
    parser.add_argument("--method", choices=("qr", "sensitivity"), default="qr",
                        help="qr: column-pivoted QR on the scaled training features (default); "
                        "sensitivity: mean |dE/dG_k| x std(G_k) of the run's model")
    parser.add_argument("-o", "--output", required=True, metavar="OUT.yaml",
                        help="config of the reduced model (the run's config with the kept "
                        "functions as symmetry_functions.explicit)")
    parser.add_argument("--directory", metavar="DIR", help="output.directory of the new config "
                        "(default: RUN_DIR-selected)")
    parser.add_argument("--train", action="store_true", help="train the reduced model now")


def run(args):
    from ..training.select_run import select_from_run, write_config

    cfg, _, report = select_from_run(args.run, args.method, keep=args.keep,
                                     fraction=args.fraction, tolerance=args.tolerance,
                                     directory=args.directory)
    path = write_config(cfg, args.output, f"kizuna select {args.run} ({args.method})\n{report}")
    print(report)
    print(f"config written: {path}")
    if args.train:
        from ..training import train

        result = train(str(path))
        print(result["table"])
        print(f"model: {result['model']}")
    return 0
