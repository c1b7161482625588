"""``python -m kizuna.cli``: the same as the ``kizuna`` command."""
import sys

from . import main

if __name__ == "__main__":
    sys.exit(main())
