"""Import n2p2 (RuNNer-format) Behler-Parrinello potentials into kizuna models.

An n2p2 potential directory holds ``input.nn`` (settings and symmetry functions),
``scaling.data`` (feature statistics) and ``weights.ZZZ.data`` (one file per element, ZZZ = atomic
number). What the importer reproduces exactly:

* n2p2's *sorted* symmetry-function order (n2p2 feeds the network in the order of
  ``Element::sortSymmetryFunctions``, not in the order of lines in ``input.nn``);
* units: lengths in the potential's units are divided by ``cflength`` (units per Å), energies by
  ``cfenergy`` (units per eV), exactly as n2p2's LAMMPS interface converts them;
* data-set normalisation (``mean_energy``, ``conv_energy``, ``conv_length``) and ``atom_energy``
  offsets: E_i[eV] = (NN_i / conv_energy + mean_energy + atom_energy_Z) / cfenergy;
* ``normalize_nodes`` (folded into the weights: each layer's input is divided by its width).
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from .errors import ModelFormatError, UnsupportedError
from .model import (N2P2_SF_TYPES, WEIGHTED_KINDS, DenseLayer, ElementModel, Member, Model, Scaling,
                    SymmetryFunction)

#: CODATA 2018
BOHR_IN_ANGSTROM = 0.529177210903
HARTREE_IN_EV = 27.211386245988
LENGTH_UNITS = {"angstrom": 1.0, "bohr": 1.0 / BOHR_IN_ANGSTROM}  # potential units per Å
ENERGY_UNITS = {"ev": 1.0, "hartree": 1.0 / HARTREE_IN_EV}  # potential units per eV
_UNIT_ALIASES = {"a": "angstrom", "ang": "angstrom", "angstrom": "angstrom", "å": "angstrom",
                 "bohr": "bohr", "au": "bohr", "ev": "ev", "ha": "hartree", "hartree": "hartree"}

ACTIVATION_LETTERS = {"l": "linear", "t": "tanh", "s": "logistic", "p": "softplus", "r": "relu",
                      "g": "gaussian", "c": "cos", "S": "revlogistic", "e": "negexp",
                      "h": "harmonic"}
CUTOFF_TYPES = {0: "hard", 1: "cos", 2: "tanhu", 3: "tanh", 4: "exp", 5: "poly1", 6: "poly2",
                7: "poly3", 8: "poly4"}
#: n2p2 symmetry-function type -> kizuna kind (the core's table of kinds, sf_kinds.hpp)
SF_TYPE_NAMES = dict(N2P2_SF_TYPES)
#: n2p2 weighs the neighbours of its weighted types (12, 13, 23, 24, 25) by their atomic number Z
#: (ElementMap::atomicNumber): imported as weight channel 1 with w(element) = Z
WEIGHTED_SF_TYPES = tuple(t for t, kind in SF_TYPE_NAMES.items() if kind in WEIGHTED_KINDS)
UNSUPPORTED_KEYWORDS = {
    "nnp_generation": "HDNNP generations other than 2 (short range only)",
    "nnp_type": "HDNNP generations other than 2 (short range only)",
    "use_electrostatics": "electrostatics (3G/4G HDNNP)",
    "element_nodes_short": "per-element network shapes (element_nodes_short)",
    "element_activation_short": "per-element activations (element_activation_short)",
}


def _parse_input_nn(path: Path):
    settings = {}  # keyword -> list of token lists (keywords may repeat)
    lines = {}
    header = path.read_text().splitlines()
    for number, raw in enumerate(header, start=1):
        content = raw.split("#", 1)[0].strip()
        if not content:
            continue
        tokens = content.split()
        settings.setdefault(tokens[0], []).append(tokens[1:])
        lines.setdefault(tokens[0], []).append(number)
    units = {}
    for raw in header:
        m = re.match(r"\s*#\s*(Length|Energy) unit\s*:\s*(\S+)", raw, re.IGNORECASE)
        if m:
            units[m.group(1).lower()] = m.group(2)
    return settings, lines, units


def _conversion(name, explicit_factor, explicit_unit, header_unit, table, what, path):
    if explicit_factor is not None:
        return float(explicit_factor), f"{explicit_factor} (given)"
    unit = explicit_unit or header_unit
    if unit is None:
        raise ModelFormatError(
            f"{path}: cannot tell the {what} unit of this potential (input.nn has no "
            f"'# {what.capitalize()} unit : ...' comment); give the unit "
            f"({'/'.join(table)}: --{name}-unit on the command line, {name}_unit= in Python) "
            f"or the n2p2/LAMMPS factor (--cf{name} / cf{name}=)")
    key = _UNIT_ALIASES.get(unit.lower())
    if key is None or key not in table:
        raise ModelFormatError(f"{path}: unknown {what} unit '{unit}'; expected one of "
                               f"{', '.join(table)}")
    return table[key], f"{key}"


def _element_order(elements):
    """n2p2 indexes elements by increasing atomic number."""
    from ase.data import atomic_numbers

    unknown = [e for e in elements if e not in atomic_numbers]
    if unknown:
        raise ModelFormatError(f"unknown element symbol(s) {unknown} in input.nn")
    return sorted(elements, key=lambda e: atomic_numbers[e])


def _read_symmetry_functions(settings, lines, order, path):
    """Return {element: [(sort_key, SymmetryFunction-in-potential-units)]}."""
    cutoff_entry = settings.get("cutoff_type", [["0"]])[0]
    cutoff_type = int(cutoff_entry[0])
    if cutoff_type not in CUTOFF_TYPES:
        raise UnsupportedError(f"{path}: cutoff_type {cutoff_type} is not supported; kizuna "
                               f"supports {sorted(CUTOFF_TYPES)}")
    alpha = float(cutoff_entry[1]) if len(cutoff_entry) > 1 else 0.0
    cutoff = CUTOFF_TYPES[cutoff_type]
    index = {e: i for i, e in enumerate(order)}
    per_element = {e: [] for e in order}
    for tokens, number in zip(settings.get("symfunction_short", []),
                              lines.get("symfunction_short", [])):
        where = f"{path}:{number}"
        try:
            centre, sf_type = tokens[0], int(tokens[1])
        except (IndexError, ValueError):
            raise ModelFormatError(f"{where}: malformed symfunction_short line") from None
        if centre not in index:
            raise ModelFormatError(f"{where}: central element {centre} not in 'elements'")
        if sf_type not in SF_TYPE_NAMES:
            raise UnsupportedError(f"{where}: unknown n2p2 symmetry function type {sf_type}; "
                                   f"supported types: {sorted(SF_TYPE_NAMES)}")
        try:
            sf, key = _make_sf(sf_type, tokens, index, cutoff, alpha)
        except (IndexError, ValueError) as exc:
            raise ModelFormatError(f"{where}: malformed type {sf_type} symmetry function "
                                   f"({exc})") from None
        except KeyError as exc:
            raise ModelFormatError(f"{where}: neighbour element {exc} not in 'elements'") from None
        per_element[centre].append((key, number, sf))
    for e in order:
        per_element[e].sort(key=lambda item: item[0])
    return per_element


def _make_sf(sf_type, tokens, index, cutoff, alpha):
    """One n2p2 symfunction_short line -> (n2p2 sort key, SymmetryFunction in potential units).

    Sort keys follow n2p2's ``SymFnc*::operator<`` (type first, then the listed parameters).
    """
    if sf_type == 2:  # <ec> 2 <e1> <eta> <rs> <rc>
        e1 = tokens[2]
        eta, rs, rc = map(float, tokens[3:6])
        sf = SymmetryFunction("radial", (e1,), eta=eta, rs=rs, rc=rc, cutoff=cutoff, alpha=alpha)
        return sf, (2, rc, eta, rs, index[e1])
    if sf_type == 12:  # <ec> 12 <eta> <rs> <rc>: sum_j Z_j exp(-eta (r_ij - rs)^2) fc(r_ij)
        eta, rs, rc = map(float, tokens[2:5])
        sf = SymmetryFunction("weighted_radial", (), channel=1, eta=eta, rs=rs, rc=rc,
                              cutoff=cutoff, alpha=alpha)
        return sf, (12, rc, eta, rs)
    if sf_type == 13:  # <ec> 13 <eta> <rs> <lambda> <zeta> <rc>: narrow, Z_j Z_k per triplet
        eta, rs, lam, zeta, rc = map(float, tokens[2:7])
        sf = SymmetryFunction("weighted_angular_narrow", (), channel=1, eta=eta, rs=rs,
                              zeta=zeta, lam=lam, rc=rc, cutoff=cutoff, alpha=alpha)
        return sf, (13, rc, eta, rs, zeta, lam)
    if sf_type in (3, 9):  # <ec> 3 <e1> <e2> <eta> <lambda> <zeta> <rc> [<rs>]
        e1, e2 = sorted(tokens[2:4], key=lambda e: index[e])
        eta, lam, zeta, rc = map(float, tokens[4:8])
        rs = float(tokens[8]) if len(tokens) > 8 else 0.0
        kind = "angular_narrow" if sf_type == 3 else "angular_wide"
        sf = SymmetryFunction(kind, (e1, e2), eta=eta, rs=rs, zeta=zeta, lam=lam, rc=rc,
                              cutoff=cutoff, alpha=alpha)
        return sf, (sf_type, rc, eta, rs, zeta, lam, index[e1], index[e2])
    core, asym = _compact_subtype(tokens[-1])
    if sf_type == 23:  # <ec> 23 <rl> <rc> <subtype>: sum_j Z_j C(r_ij)
        rl, rc = map(float, tokens[2:4])
        sf = SymmetryFunction("weighted_compact_radial", (), channel=1, rl=rl, rc=rc, core=core,
                              asymmetric=asym)
        return sf, (23, tokens[4], rc, rl)
    if sf_type in (24, 25):  # <ec> 25 <rl> <rc> <angle left> <angle right> <subtype>: Z_j Z_k
        # per pair (24: narrow, each term times C_r(r_jk) as well)
        rl, rc, left, right = map(float, tokens[2:6])
        kind = ("weighted_compact_angular_wide" if sf_type == 25
                else "weighted_compact_angular_narrow")
        sf = SymmetryFunction(kind, (), channel=1, rl=rl, rc=rc, angle_left=left,
                              angle_right=right, core=core, asymmetric=asym,
                              angle_asymmetric=False)
        return sf, (sf_type, tokens[6], rc, rl, left, right)
    if sf_type == 20:  # <ec> 20 <e1> <rl> <rc> <subtype>
        e1 = tokens[2]
        rl, rc = map(float, tokens[3:5])
        sf = SymmetryFunction("compact_radial", (e1,), rl=rl, rc=rc, core=core, asymmetric=asym)
        return sf, (20, tokens[5], index[e1], rc, rl)
    # 22 (wide), 21 (narrow: each term times C_r(r_jk) as well):
    # <ec> 22 <e1> <e2> <rl> <rc> <angle left> <angle right> <subtype>
    # n2p2 (SymFncBaseCompAng::setParameters): the subtype's 'a' makes only the radial bump
    # asymmetric (cr.setAsymmetric); the angular bump ca takes the core type only.
    e1, e2 = sorted(tokens[2:4], key=lambda e: index[e])
    rl, rc, left, right = map(float, tokens[4:8])
    kind = "compact_angular_wide" if sf_type == 22 else "compact_angular_narrow"
    sf = SymmetryFunction(kind, (e1, e2), rl=rl, rc=rc, angle_left=left,
                          angle_right=right, core=core, asymmetric=asym, angle_asymmetric=False)
    return sf, (sf_type, tokens[8], index[e1], index[e2], rc, rl, left, right)


def _compact_subtype(subtype: str):
    m = re.fullmatch(r"p([1-4])(a?)", subtype)
    if m:
        return f"poly{m.group(1)}", m.group(2) == "a"
    if subtype.startswith("e"):
        return "exp", False
    raise ValueError(f"unknown compact subtype {subtype!r}; expected p1..p4, p1a..p4a or e")


def _convert_sf_units(sf: SymmetryFunction, cflength: float) -> SymmetryFunction:
    """Potential length units -> Å (x_Å = x / cflength, eta_Å = eta * cflength^2)."""
    return SymmetryFunction(sf.kind, sf.neighbors, eta=sf.eta * cflength ** 2,
                            rs=sf.rs / cflength, zeta=sf.zeta, lam=sf.lam, rc=sf.rc / cflength,
                            cutoff=sf.cutoff, alpha=sf.alpha, rl=sf.rl / cflength,
                            angle_left=sf.angle_left, angle_right=sf.angle_right, core=sf.core,
                            asymmetric=sf.asymmetric, angle_asymmetric=sf.angle_asymmetric,
                            channel=sf.channel)


def _read_scaling(path: Path, order, counts):
    stats = {e: [] for e in order}
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        content = raw.split("#", 1)[0].split()
        if not content:
            continue
        if len(content) not in (5, 6):
            raise ModelFormatError(f"{path}:{number}: expected 'element_index sf_index min max "
                                   f"mean [sigma]', got {len(content)} columns")
        e_index, sf_index = int(content[0]), int(content[1])
        if not 1 <= e_index <= len(order):
            raise ModelFormatError(f"{path}:{number}: element index {e_index} out of range")
        values = [float(x) for x in content[2:]] + ([0.0] if len(content) == 5 else [])
        rows = stats[order[e_index - 1]]
        if sf_index != len(rows) + 1:
            raise ModelFormatError(f"{path}:{number}: expected symmetry function index "
                                   f"{len(rows) + 1}, got {sf_index}")
        rows.append(values)
    for e in order:
        if len(stats[e]) != counts[e]:
            raise ModelFormatError(f"{path}: element {e} has {counts[e]} symmetry functions in "
                                   f"input.nn but {len(stats[e])} lines in scaling.data")
    return {e: np.array(v, dtype=float).reshape(-1, 4) for e, v in stats.items()}


def _read_weights(path: Path, sizes):
    """weights.ZZZ.data -> list of (W (n_out, n_in), b (n_out,)) for the layer sizes given."""
    Ws = [np.full((sizes[i + 1], sizes[i]), np.nan) for i in range(len(sizes) - 1)]
    bs = [np.full(sizes[i + 1], np.nan) for i in range(len(sizes) - 1)]
    count = 0
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        content = raw.split("#", 1)[0].split()
        if not content:
            continue
        try:
            value, kind = float(content[0]), content[1]
            if kind == "a":
                l_s, n_s, l_e, n_e = (int(x) for x in content[3:7])
                Ws[l_s][n_e - 1, n_s - 1] = value
            elif kind == "b":
                l_e, n_e = int(content[3]), int(content[4])
                bs[l_e - 1][n_e - 1] = value
            else:
                raise ValueError(f"connection type {kind!r}")
        except (IndexError, ValueError) as exc:
            raise ModelFormatError(f"{path}:{number}: malformed connection line ({exc}); "
                                   "expected 'value a|b index l_s n_s [l_e n_e]'") from None
        count += 1
    expected = sum(W.size + b.size for W, b in zip(Ws, bs))
    if count != expected or any(np.isnan(W).any() for W in Ws) or any(np.isnan(b).any()
                                                                       for b in bs):
        raise ModelFormatError(f"{path}: expected {expected} connections for layer sizes "
                               f"{sizes}, found {count} (or some were missing/duplicated)")
    if not all(np.isfinite(W).all() for W in Ws):
        raise ModelFormatError(f"{path}: non-finite weight")
    return list(zip(Ws, bs))


def read_n2p2(directory, *, length_unit=None, energy_unit=None, cflength=None, cfenergy=None,
              weights_epoch=None) -> Model:
    """Read an n2p2 potential directory and return an equivalent kizuna :class:`Model`.

    Units come from the ``# Length unit`` / ``# Energy unit`` comments of ``input.nn`` or from the
    arguments: ``length_unit`` ('bohr' or 'angstrom'), ``energy_unit`` ('hartree' or 'eV'), or the
    n2p2 LAMMPS factors ``cflength`` (potential length units per Å) and ``cfenergy`` (potential
    energy units per eV), which take precedence.
    """
    directory = Path(directory)
    input_nn = directory / "input.nn"
    if not input_nn.is_file():
        raise ModelFormatError(f"{directory}: no input.nn (is this an n2p2 potential directory?)")
    settings, lines, header_units = _parse_input_nn(input_nn)
    for keyword, what in UNSUPPORTED_KEYWORDS.items():
        if keyword in settings and not (keyword in ("nnp_generation", "nnp_type")
                                        and settings[keyword][0][:1] in (["2"], ["2G"])):
            raise UnsupportedError(f"{input_nn}:{lines[keyword][0]}: {what} is not supported "
                                   f"by kizuna")
    for required in ("elements", "global_hidden_layers_short", "global_nodes_short",
                     "global_activation_short"):
        if required not in settings:
            raise ModelFormatError(f"{input_nn}: missing required keyword '{required}'")
    cfl, length_label = _conversion("length", cflength, length_unit, header_units.get("length"),
                                    LENGTH_UNITS, "length", input_nn)
    cfe, energy_label = _conversion("energy", cfenergy, energy_unit, header_units.get("energy"),
                                    ENERGY_UNITS, "energy", input_nn)
    elements = settings["elements"][0]
    order = _element_order(elements)

    atom_energy = {e: 0.0 for e in order}
    for tokens in settings.get("atom_energy", []):
        atom_energy[tokens[0]] = float(tokens[1])
    normalised = "conv_energy" in settings
    mean_energy = float(settings["mean_energy"][0][0]) if "mean_energy" in settings else 0.0
    conv_energy = float(settings["conv_energy"][0][0]) if normalised else 1.0

    if "scale_symmetry_functions_sigma" in settings:
        mode = "scale_sigma"
    else:
        scale = "scale_symmetry_functions" in settings
        center = "center_symmetry_functions" in settings
        mode = {(False, False): "none", (True, False): "scale", (False, True): "center",
                (True, True): "scale_center"}[(scale, center)]
    smin = float(settings.get("scale_min_short", [["0.0"]])[0][0])
    smax = float(settings.get("scale_max_short", [["1.0"]])[0][0])

    n_hidden = int(settings["global_hidden_layers_short"][0][0])
    nodes = [int(x) for x in settings["global_nodes_short"][0]]
    letters = settings["global_activation_short"][0]
    if len(nodes) != n_hidden or len(letters) != n_hidden + 1:
        raise ModelFormatError(f"{input_nn}: {n_hidden} hidden layers need {n_hidden} node counts "
                               f"and {n_hidden + 1} activations, got {nodes} and {letters}")
    for letter in letters:
        if letter not in ACTIVATION_LETTERS:
            raise UnsupportedError(f"{input_nn}: activation '{letter}' is not supported; known: "
                                   f"{', '.join(ACTIVATION_LETTERS)}")
    activations = [ACTIVATION_LETTERS[x] for x in letters]
    normalize_nodes = "normalize_nodes" in settings

    sfs = _read_symmetry_functions(settings, lines, order, input_nn)
    counts = {e: len(sfs[e]) for e in order}
    for e in order:
        if counts[e] == 0:
            raise ModelFormatError(f"{input_nn}: element {e} has no symmetry functions")
    stats = _read_scaling(directory / "scaling.data", order, counts)

    from ase.data import atomic_numbers

    element_models = []
    for e in order:
        sizes = [counts[e]] + nodes + [1]
        name = (f"weights.{atomic_numbers[e]:03d}.data" if weights_epoch is None else
                f"weights.{atomic_numbers[e]:03d}.{int(weights_epoch):06d}.out")
        wpath = directory / name
        if not wpath.is_file():
            raise ModelFormatError(f"{directory}: missing weights file {name} for element {e}")
        layers = []
        for (W, b), act, n_in in zip(_read_weights(wpath, sizes), activations, sizes[:-1]):
            if normalize_nodes:  # n2p2 divides each neuron's input sum by the layer width
                W, b = W / n_in, b / n_in
            layers.append(DenseLayer(W, b, act))
        st = stats[e]
        scaling = Scaling(mode, smin, smax, st[:, 0].copy(), st[:, 1].copy(), st[:, 2].copy(),
                          st[:, 3].copy())
        member = Member(scaling=scaling, layers=layers,
                        energy_offset=(mean_energy + atom_energy[e]) / cfe,
                        energy_scale=1.0 / (conv_energy * cfe))
        converted = [_convert_sf_units(sf, cfl) for _, _, sf in sfs[e]]
        element_models.append(ElementModel(e, converted, [member]))
    meta = {"source": f"n2p2 import of {directory.resolve()}",
            "n2p2_units": f"length {length_label} (cflength {cfl!r}), energy {energy_label} "
                          f"(cfenergy {cfe!r})",
            "n2p2_normalisation": f"mean_energy {mean_energy!r} conv_energy {conv_energy!r}"
                                  if normalised else "none"}
    from . import __version__

    meta["code_version"] = f"kizuna {__version__}"
    weighted = any(sf.is_weighted for em in element_models for sf in em.symmetry_functions)
    channel_weights = {e: (float(atomic_numbers[e]),) for e in order} if weighted else {}
    from .model_io import attach_channel_weights

    return attach_channel_weights(Model(elements=list(order), element_models=element_models,
                                        meta=meta, channel_weights=channel_weights))


def n2p2_sf_line_numbers(directory) -> dict:
    """{element: [input.nn line number of each symmetry function in n2p2's sorted order]}."""
    input_nn = Path(directory) / "input.nn"
    settings, lines, _ = _parse_input_nn(input_nn)
    order = _element_order(settings["elements"][0])
    sfs = _read_symmetry_functions(settings, lines, order, input_nn)
    return {e: [number for _, number, _ in sfs[e]] for e in order}


def read_n2p2_committee(directories, **kwargs) -> Model:
    """Several n2p2 potentials with the same elements and symmetry functions (a committee, e.g.
    Schran et al. 2020) -> one kizuna committee model; member m keeps its own scaling data,
    weights and energy normalisation. Keyword arguments as for :func:`read_n2p2`."""
    directories = list(directories)
    if not directories:
        raise ModelFormatError("a committee needs at least one n2p2 directory")
    models = [read_n2p2(d, **kwargs) for d in directories]
    first = models[0]
    for d, m in zip(directories[1:], models[1:]):
        if m.elements != first.elements:
            raise ModelFormatError(f"{d}: elements {m.elements} differ from {first.elements} "
                                   f"of {directories[0]}")
        for a, b in zip(first.element_models, m.element_models):
            if a.symmetry_functions != b.symmetry_functions:
                raise ModelFormatError(f"{d}: the symmetry functions of {b.symbol} differ from "
                                       f"those of {directories[0]}; committee members must share "
                                       "them")
    for m in models[1:]:
        for a, b in zip(first.element_models, m.element_models):
            a.members.extend(b.members)
    first.meta["source"] = "n2p2 committee import of " + ", ".join(
        str(Path(d).resolve()) for d in directories)
    return first


def import_n2p2(directory, output=None, **kwargs) -> Model:
    """Read an n2p2 potential (see :func:`read_n2p2`) -- or a committee, when ``directory`` is a
    list of directories -- and optionally write it to ``output``."""
    if isinstance(directory, (list, tuple)):
        model = (read_n2p2_committee(directory, **kwargs) if len(directory) > 1
                 else read_n2p2(directory[0], **kwargs))
    else:
        model = read_n2p2(directory, **kwargs)
    if output is not None:
        model.save(output)
    return model
