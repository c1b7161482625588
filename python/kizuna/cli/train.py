"""kizuna train CONFIG.yaml: fit a model to DFT data (resumes an interrupted run)."""
COMMAND = "train"
HELP = ("train a model from a YAML config (see examples/training/si.yaml); an interrupted run "
        "in the same output directory is resumed")


def add_arguments(parser):
    parser.add_argument("config", help="training configuration (YAML)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="override a config key, e.g. "
                        "--set training.epochs=50 --set output.directory=runs/b (repeatable)")
    parser.add_argument("--init", metavar="MODEL.kzn", help="fine-tune: start from this "
                        "model's symmetry functions, scaling and weights")
    parser.add_argument("--restart", action="store_true", help="ignore an existing checkpoint "
                        "in the output directory and start again")
    parser.add_argument("--committee", type=int, metavar="N", help="train N members (seeds "
                        "seed .. seed+N-1: other initial weights, validation split and batch "
                        "order) and merge them into <output.directory>/committee.kzn")
    parser.add_argument("--check", action="store_true", help="validate the config and exit")


def run(args):
    from ..training.config import load_config

    cfg = load_config(args.config, args.overrides)
    if args.check:
        print(f"{args.config}: configuration is valid")
        return 0
    if args.committee is not None:
        from ..errors import ConfigError
        from ..training.committee import train_committee

        if args.committee < 2:
            raise ConfigError(f"--committee {args.committee}: a committee needs at least 2 "
                              "members")
        result = train_committee(args.config, args.committee, args.overrides,
                                 restart=args.restart, init=args.init)
        if result["table"]:
            print("committee mean on the test data:")
            print(result["table"])
        print(f"committee: {result['model']} ({args.committee} members)")
        return 0
    from ..training import train

    result = train(args.config, args.overrides, restart=args.restart, init=args.init)
    print(result["table"])
    print(f"model: {result['model']}")
    return 0
