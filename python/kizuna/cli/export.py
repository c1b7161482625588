"""kizuna export RUN_DIR -o model.kzn: write the model of a (possibly unfinished) run."""
COMMAND = "export"
HELP = "export the best (or last) model of a training run folder or checkpoint"


def add_arguments(parser):
    parser.add_argument("run", help="training run folder (or its checkpoint.pt)")
    parser.add_argument("-o", "--output", required=True, help="model file to write (.kzn)")
    parser.add_argument("--which", choices=["best", "last"], default="best",
                        help="best validation state (default) or the last epoch's weights")


def run(args):
    from ..model_io import read_model
    from ..training import export

    path = export(args.run, args.output, which=args.which)
    print(read_model(path).summary())
    print(f"written: {path}")
    return 0
