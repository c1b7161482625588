"""Exception classes. The compiled core raises the same classes (see ``csrc/python``)."""


class KizunaError(Exception):
    """Base class of every error kizuna raises on purpose."""


class ModelFormatError(KizunaError, ValueError):
    """A model file is malformed: message names file, line, what was expected and what was found."""


class InputError(KizunaError, ValueError):
    """Bad input to a computation: unknown element, non-finite coordinates, bad cell."""


class DataError(KizunaError, ValueError):
    """Bad training data: missing forces, NaN values, overlapping atoms, inconsistent counts."""


class ConfigError(KizunaError, ValueError):
    """A configuration file has an unknown key or a bad value."""


class NumericalError(KizunaError, ArithmeticError):
    """A model produced a non-finite result (NaN or infinite energy, forces or virial) on a
    structure: it overflows there (e.g. a huge zeta, energy scale or offset). The message names
    the model and, when known, the atom."""


class ExtrapolationError(InputError):
    """Too many atoms outside the model's training range (the ``extrapolation`` policy of
    :class:`~kizuna.Calculator`): the structure has left what the model was trained on."""


class UnsupportedError(KizunaError, NotImplementedError):
    """A feature that this build or this importer does not support (named in the message)."""


class ModelIntegrityWarning(UserWarning):
    """A model file could not be checked for corruption (it has no checksum line: written by
    an older kizuna) or carries a known defect of an older writer (named in the message)."""
