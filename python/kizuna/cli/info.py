"""kizuna info MODEL: print a readable summary of a model file."""
COMMAND = "info"
HELP = "print a summary of a kizuna model file"


def add_arguments(parser):
    parser.add_argument("model", help="model file (.kzn)")


def run(args):
    from ..model_io import read_model

    print(read_model(args.model).summary())
    return 0
