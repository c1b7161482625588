"""kizuna: Behler-Parrinello neural-network potentials, from training to LAMMPS."""
__version__ = "0.1.0"

from .errors import (ConfigError, DataError, ExtrapolationError, InputError,  # noqa: F401
                     KizunaError, ModelFormatError, NumericalError, UnsupportedError)
from .model import Model  # noqa: F401
from .model_io import read_model as load_model  # noqa: F401
from .n2p2 import import_n2p2  # noqa: F401
from .potential import Potential  # noqa: E402,F401
from .calculator import Calculator  # noqa: E402,F401
