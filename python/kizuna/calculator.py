"""ASE calculator for kizuna models.

Implemented properties (ASE conventions, eV and Å):

* ``energy``, ``free_energy`` -- total energy (eV); the model has no electronic entropy, so both
  are equal;
* ``energies`` -- per-atom energies (eV), summing to ``energy``;
* ``forces`` -- (n, 3) eV/Å, F = -dE/dx;
* ``stress`` -- 6 components, eV/Å^3, Voigt order xx yy zz yz xz xy, sigma = (1/V) dE/d(strain)
  = -W/V (periodic cells only);
* ``stresses`` -- per-atom stress contributions (n, 6), same order (each atom's virial divided
  by the cell volume), summing to ``stress``;
* extras in ``calc.results``: ``num_extrapolating`` (atoms whose features leave the training
  range) and, for committee models (the prediction is the members' mean):
  ``member_energies`` (eV), ``energy_std`` (eV, spread of the total energy),
  ``force_std`` (n,) eV/Å per atom = sqrt(mean_m |F_m - <F>|^2), ``max_force_deviation``
  (eV/Å, the largest ``force_std``; the usual active-learning trigger). The force spread costs
  one force pass per member; ``committee_forces=False`` skips it.

Device: ``device="cuda"`` (and ``precision="float32"``, ``device_id``) evaluates on a GPU, see
:class:`~kizuna.potential.Potential`.

Extrapolation (atoms with a symmetry function outside the training range stored in the model):

* ``extrapolation="stop"`` (default) warns, and raises :class:`~kizuna.errors.ExtrapolationError`
  when more than ``max_extrapolating_fraction`` (default 0.1) of the atoms extrapolate in
  ``stop_after`` (default 10) consecutive calculations: an MD run or relaxation that has left the
  model's domain stops instead of going on with guessed forces. A single evaluation of an unusual
  structure only warns.
* ``"warn"`` only warns; ``"error"`` raises :class:`~kizuna.errors.ExtrapolationError` (an
  :class:`~kizuna.errors.InputError`) at the first extrapolating atom; ``"ignore"`` stays
  silent (and does not compute the per-atom flags).

Warnings are rate-limited (after a warning, the next ``warn_every`` calculations with
extrapolation stay silent) while the extrapolation goes on as before, but a new event is
always reported at once: at least twice as many atoms extrapolating as the most in the last
``warn_every`` calculations (and than reported since), or extrapolation starting again, after a
calculation without any, on atoms not seen extrapolating in that time.

Pickling and ``copy.deepcopy`` work (multiprocessing, workflow tools): the compiled model is not
pickled; a model given as a file path is re-opened from that path on unpickling, a model given
as a :class:`~kizuna.model.Model` (or Potential) travels as its data. ``todict()`` returns the
constructor arguments (``Calculator(**calc.todict())`` makes an equivalent calculator when the
model was given as a file path).

"""
from __future__ import annotations

import warnings

import numpy as np
from ase.calculators.calculator import Calculator as ASECalculator
from ase.calculators.calculator import PropertyNotImplementedError, all_changes

from .errors import ExtrapolationError
from .potential import Potential

POLICIES = ("stop", "warn", "error", "ignore")

_VIRIAL_TO_ASE = [0, 1, 2, 5, 4, 3]  # core xx yy zz xy xz yz -> ASE xx yy zz yz xz xy


class ExtrapolationWarning(UserWarning):
    """Atoms outside the range of the training data: the prediction is an extrapolation."""


class Calculator(ASECalculator):
    implemented_properties = ["energy", "free_energy", "energies", "forces", "stress", "stresses"]

    def __init__(self, model, threads: int = 0, extrapolation: str = "stop", warn_every: int = 100,
                 committee_forces: bool = True, device: str = "cpu", precision: str = "float64",
                 device_id: int = -1, max_extrapolating_fraction: float = 0.1,
                 stop_after: int = 10, **kwargs):
        super().__init__(**kwargs)
        if extrapolation not in POLICIES:
            raise ValueError(f"extrapolation must be one of {', '.join(map(repr, POLICIES))}, got "
                             f"{extrapolation!r}")
        if not 0.0 <= max_extrapolating_fraction < 1.0:
            raise ValueError("max_extrapolating_fraction is a fraction of the atoms in [0, 1), "
                             f"got {max_extrapolating_fraction!r}")
        if int(stop_after) < 1:
            raise ValueError(f"stop_after is a number of calculations >= 1, got {stop_after!r}")
        if isinstance(model, Potential):
            self.potential = model
        else:
            self.potential = Potential(model, threads, device=device, precision=precision,
                                       device_id=device_id)
        self.extrapolation = extrapolation
        self.warn_every = max(1, int(warn_every))
        self.max_extrapolating_fraction = float(max_extrapolating_fraction)
        self.stop_after = int(stop_after)
        self.committee_forces = bool(committee_forces)
        # rate limit: a "window" is the span between two periodic warnings
        self._calls_since_warning = None  # silent calculations with extrapolation; None: none yet
        self._reference = 0               # a count above this is a rise, reported at once
        self._window_max = 0              # the largest count of the current window
        self._known = set()               # atoms seen extrapolating in this and the last window
        self._window_atoms = set()        # atoms seen extrapolating in this window
        self._previous_count = 0          # atoms extrapolating in the previous calculation
        self._over_fraction = 0           # consecutive calculations above the fraction
        self._model_arguments = _model_arguments(model, threads, device, precision, device_id)

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        atoms = self.atoms
        want_stress = "stress" in properties or "stresses" in properties
        periodic = bool(np.all(atoms.pbc))
        if want_stress and not periodic:
            raise PropertyNotImplementedError("stress needs a periodic cell in all three directions")
        committee = self.potential.model.committee_size > 1
        out = self.potential.compute_atoms(
            atoms, forces=True, virial=periodic, atom_energies=True,
            atom_virials="stresses" in properties, member_energies=committee,
            extrapolation_flags=self.extrapolation != "ignore",
            member_forces=committee and self.committee_forces)
        self.results["energy"] = out["energy"]
        self.results["free_energy"] = out["energy"]
        self.results["energies"] = out["energies"]
        self.results["forces"] = out["forces"]
        self.results["num_extrapolating"] = int(out["num_extrapolating"])
        if periodic:
            volume = atoms.get_volume()
            self.results["stress"] = -out["virial"][_VIRIAL_TO_ASE] / volume
            if "atom_virials" in out:
                self.results["stresses"] = -out["atom_virials"][:, _VIRIAL_TO_ASE] / volume
        if committee:
            members = out["member_energies"]
            self.results["member_energies"] = members
            self.results["energy_std"] = float(np.std(members))
            if "force_std" in out:
                self.results["force_std"] = out["force_std"]
                self.results["max_force_deviation"] = float(out["max_force_deviation"])
        self._handle_extrapolation(out)

    def _handle_extrapolation(self, out):
        if self.extrapolation == "ignore":
            return
        n = int(out["num_extrapolating"])
        n_atoms = len(out["extrapolating"])
        previous, self._previous_count = self._previous_count, n
        over = n > 0 and n > self.max_extrapolating_fraction * n_atoms
        self._over_fraction = self._over_fraction + 1 if over else 0
        if n == 0:
            return
        atoms_out = np.flatnonzero(out["extrapolating"])
        model = self.potential.source
        message = (f"{n} of {n_atoms} atom(s) have symmetry functions outside the training range "
                   f"of model {model} (e.g. atoms {atoms_out[:10].tolist()}); the prediction is "
                   "an extrapolation")
        if self.extrapolation == "error":
            raise ExtrapolationError(message + " (extrapolation='error'; 'warn' goes on)")
        if self.extrapolation == "stop" and self._over_fraction >= self.stop_after:
            raise ExtrapolationError(
                f"{n} of {n_atoms} atoms ({100.0 * n / n_atoms:.1f}%) are outside the training "
                f"range of model {model}, more than max_extrapolating_fraction="
                f"{self.max_extrapolating_fraction:g} in {self._over_fraction} consecutive "
                "calculations (extrapolation='stop'): the structure has left what the model was "
                "trained on and its forces are guesses. Teach the model such structures ('kizuna "
                "learn' runs this MD and retrains as it goes, see docs/learning.md), or go on "
                "anyway with extrapolation='warn'.")
        # rate limit: one warning per warn_every calculations with extrapolation, except for a
        # new event: a count at least twice the largest of the last window (or reported since),
        # or extrapolation resuming after a calculation without any on atoms not seen recently
        flagged = set(atoms_out.tolist())
        window = self._calls_since_warning is None or self._calls_since_warning >= self.warn_every
        rise = n > self._reference and n >= 2 * self._reference
        new_event = previous == 0 and not flagged <= self._known
        if window:
            self._reference = max(self._window_max, n)
            self._known = self._window_atoms | flagged
            self._window_max, self._window_atoms = n, set(flagged)
            self._calls_since_warning = 0
        else:
            self._reference = max(self._reference, n)
            self._known |= flagged
            self._window_max = max(self._window_max, n)
            self._window_atoms |= flagged
        if window or rise or new_event:
            warnings.warn(message, ExtrapolationWarning, stacklevel=3)
        else:
            self._calls_since_warning += 1

    # ------------------------------------------------------------------ pickling, todict
    def todict(self, skip_default=True) -> dict:
        """The constructor arguments, JSON-serialisable (ASE writes them into every
        trajectory frame): ``model`` (the file path as given; a model passed as an object is
        described, not embedded: give a path for a ``todict()`` that re-creates it),
        ``threads``, ``extrapolation``, ``warn_every``, ``committee_forces``,
        ``max_extrapolating_fraction``, ``stop_after``, ``device``, ``precision``, ``device_id``."""
        args = dict(self._model_arguments)
        model = args["model"]
        if not isinstance(model, str):
            args["model"] = (f"<in-memory model: elements {' '.join(model.elements)}, "
                             f"committee size {model.committee_size}>")
        elif model.startswith("kizuna-model"):
            args["model"] = "<model text>"
        args.update(extrapolation=self.extrapolation, warn_every=self.warn_every,
                    committee_forces=self.committee_forces,
                    max_extrapolating_fraction=self.max_extrapolating_fraction,
                    stop_after=self.stop_after)
        return args

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("potential", None)  # compiled core objects are not picklable: re-opened
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        a = self._model_arguments
        self.potential = Potential(a["model"], a["threads"], device=a["device"],
                                   precision=a["precision"], device_id=a["device_id"])


def _model_arguments(model, threads, device, precision, device_id) -> dict:
    """What re-creates the calculator's Potential: a path stays a path (re-opened on
    unpickling), a Potential gives its Model and settings."""
    from pathlib import Path

    if isinstance(model, Potential):
        return {"model": model.model, "threads": int(model._core.threads),
                "device": model.device, "precision": model.precision, "device_id": -1}
    if isinstance(model, Path):
        model = str(model)
    return {"model": model, "threads": threads, "device": device, "precision": precision,
            "device_id": device_id}
