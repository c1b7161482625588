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
                        "order) and merge them into <output.directory>/committee.kzn; "
                        "overrides the config's 'committee: N' key")
    parser.add_argument("--progress", choices=["auto", "bar", "line", "none"], default=None,
                        help="progress display (overrides output.progress): bar (live, on a "
                        "terminal), line (one line per epoch with rate and ETA, for batch "
                        "logs), none, auto (bar on a terminal, else line; the default)")
    parser.add_argument("--check", action="store_true", help="validate the config and exit")


def run(args):
    from ..training.config import load_config

    if getattr(args, "progress", None) is not None:
        args.overrides = list(args.overrides) + [f"output.progress={args.progress}"]
    cfg = load_config(args.config, args.overrides)
    if args.check:
        print(f"{args.config}: configuration is valid")
        return 0
    members = cfg["committee"] if args.committee is None else args.committee
    if args.committee is not None or members > 1:
        from ..errors import ConfigError
        from ..training.committee import train_committee

        if members < 2:
            raise ConfigError(f"--committee {members}: a committee needs at least 2 members")
        result = train_committee(args.config, members, args.overrides,
                                 restart=args.restart, init=args.init)
        if result["table"]:
            print("committee mean on the test data:")
            print(result["table"])
        print(f"committee: {result['model']} ({members} members)")
        return 0
    from ..training import train

    result = train(args.config, args.overrides, restart=args.restart, init=args.init)
    print(result["table"])
    print(f"model: {result['model']}")
    return 0
