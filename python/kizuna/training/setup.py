"""Everything a training run needs before its first step, built from a validated config:
data and split, symmetry functions, cached descriptors, statistics, the torch model.

Deterministic for a given config: the split comes from (seed), the initial weights from
torch.manual_seed(seed); nothing here depends on the number of threads.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import torch

from ..errors import ConfigError
from ..model import SymmetryFunction
from .dataset import EnginePool, prepare
from .nets import AtomicEnergyModel
from .sources import data_hash, elements_of, load_sources, split_indices
from .statistics import (feature_statistics, fit_reference_energies, make_scaling,
                         energy_scale)
from .symmetry import SymmetryFunctionSpec, generate_symmetry_functions


@dataclass
class RunData:
    elements: list
    sfs: dict                 # element -> [SymmetryFunction]
    scalings: dict            # element -> Scaling (training statistics)
    model_args: dict          # AtomicEnergyModel(**model_args) rebuilds the network shape
    pool: EnginePool
    train: list               # Prepared
    validation: list
    test: list
    split: dict = field(default_factory=dict)   # names of the structures in each part
    data_hash: str = ""
    init_state: dict = None   # weights of --init model


def parse_explicit(explicit, elements) -> dict:
    """Explicit symmetry functions: lines in model-file syntax without the leading 'sf'
    (``radial Si eta=0.5 rs=0 rc=5 cutoff=cos alpha=0``), a list for every element or a
    mapping element -> list."""
    from ..model_io import _Lines, _read_sf

    if isinstance(explicit, list):
        explicit = {e: explicit for e in elements}
    if not isinstance(explicit, dict):
        raise ConfigError("symmetry_functions.explicit: expected a list of lines or "
                          "{element: [lines]}")
    out = {}
    for e in elements:
        if e not in explicit:
            raise ConfigError(f"symmetry_functions.explicit: no functions for element {e}")
        lines = explicit[e]
        text = "\n".join("sf " + str(line) for line in lines)
        cursor = _Lines(text, f"symmetry_functions.explicit.{e}")
        out[e] = [_read_sf(cursor, elements, e) for _ in lines]
    return out


def symmetry_functions(cfg: dict, elements) -> dict:
    sf = cfg["symmetry_functions"]
    if sf["from_model"]:
        from ..model_io import read_model

        m = read_model(sf["from_model"])
        missing = [e for e in elements if e not in m.elements]
        if missing:
            raise ConfigError(f"symmetry_functions.from_model: {sf['from_model']} has no "
                              f"element(s) {missing}")
        return {e: [SymmetryFunction(**vars(x)) for x in m.element(e).symmetry_functions]
                for e in elements}
    if sf["explicit"] is not None:
        return parse_explicit(sf["explicit"], elements)
    spec = SymmetryFunctionSpec(
        cutoff=sf["cutoff"], cutoff_function=sf["cutoff_function"], cutoff_alpha=sf["cutoff_alpha"],
        n_radial=sf["n_radial"], radial_mode=sf["radial_mode"], r_min=sf["r_min"],
        n_angular=sf["n_angular"], angular_kind=sf["angular_kind"],
        angular_mode=sf["angular_mode"],
        r_min_angular=sf["r_min_angular"], zetas=sf["zetas"], lambdas=sf["lambdas"],
        angular_cutoff=sf.get("angular_cutoff"), element_mode=sf.get("element_mode", "pair"),
        channels=sf.get("channels", 2))
    return generate_symmetry_functions(elements, spec)


def build_run(cfg: dict, init_model=None) -> RunData:
    d, m, w = cfg["data"], cfg["model"], cfg["loss"]
    need_forces = w["forces_weight"] > 0
    structures = load_sources(d["train"], on_error=d["on_error"], min_distance=d["min_distance"],
                              need_forces=need_forces, max_structures=d["max_structures"])
    test_given = load_sources(d["test"], on_error=d["on_error"], min_distance=d["min_distance"],
                              need_forces=False) if d["test"] else []
    val_given = load_sources(d.get("validation"), on_error=d["on_error"],
                             min_distance=d["min_distance"],
                             need_forces=need_forces) if d.get("validation") else []
    init = None
    if init_model is not None:
        from .export import from_kizuna_model

        init = from_kizuna_model(init_model)
        elements = list(init_model.elements)
        if m["elements"] and list(m["elements"]) != elements:
            raise ConfigError(f"model.elements {m['elements']} differ from the --init model's "
                              f"{elements}")
    else:
        elements = list(m["elements"]) if m["elements"] else elements_of(structures)
    for s in structures + val_given + test_given:
        s.bind(elements)
    train_i, val_i, test_i = split_indices(len(structures), d["validation_fraction"],
                                           d["test_fraction"], cfg["seed"])
    train = [structures[i] for i in train_i]
    val = [structures[i] for i in val_i] + val_given
    test = [structures[i] for i in test_i] + test_given
    learn = cfg["symmetry_functions"].get("learn_weights", False)
    if init is not None:
        if learn:
            raise ConfigError("symmetry_functions.learn_weights: fine-tuning an --init model "
                              "with learned weights is not supported; train from scratch")
        net0, sfs, scalings = init
    else:
        sfs = symmetry_functions(cfg, elements)
    contraction = None
    engine_sfs = sfs
    if learn:
        # the core computes the element-resolved (pair) features once; the networks see
        # G = Gres M(w) with trainable w (learned_weights.py)
        from .learned_weights import WeightContraction

        contraction = WeightContraction(sfs, elements)
        engine_sfs = contraction.resolved_sfs
    pool = EnginePool(elements, engine_sfs, cfg["threads"])
    p_train = prepare(pool, train, elements)
    if cfg["symmetry_functions"]["select"]["method"] is not None:
        if init is not None:
            raise ConfigError("symmetry_functions.select: cannot select functions of an --init "
                              "model (its networks take all of them); use kizuna select")
        from .selection import select_for_config

        sfs = select_for_config(cfg, p_train, sfs, elements)
        pool.close()
        pool = EnginePool(elements, sfs, cfg["threads"])
        p_train = prepare(pool, train, elements)
    p_val = prepare(pool, val, elements)
    p_test = prepare(pool, test, elements)
    if init is not None:
        model_args = dict(elements=elements, num_features={e: len(sfs[e]) for e in elements},
                          hidden=net0.hidden, activations=net0.hidden_activations,
                          shift={e: getattr(net0, f"shift_{e}").numpy() for e in elements},
                          factor={e: getattr(net0, f"factor_{e}").numpy() for e in elements},
                          smin=net0.smin,
                          energy_offset={e: float(net0.offsets[k]) for k, e in enumerate(elements)},
                          energy_scale={e: float(net0.scales[k]) for k, e in enumerate(elements)})
        if list(m["hidden_layers"]) != list(net0.hidden):
            warnings.warn(f"--init model has hidden layers {net0.hidden}; model.hidden_layers "
                          f"{m['hidden_layers']} is ignored", stacklevel=2)
        init_state = {k: v.clone() for k, v in net0.state_dict().items()}
    else:
        if contraction is not None:
            from .learned_weights import weighted_statistics

            stats = weighted_statistics(contraction, p_train)  # with the initial weights
        else:
            stats = feature_statistics(p_train, elements)
        scalings = {e: make_scaling(stats[e], m["scaling"], m["scale_min"], m["scale_max"])
                    for e in elements}
        if m["reference_energies"]:
            missing = [e for e in elements if e not in m["reference_energies"]]
            if missing:
                raise ConfigError(f"model.reference_energies: no value for {missing}")
            reference = {e: float(m["reference_energies"][e]) for e in elements}
        else:
            reference = fit_reference_energies(train, elements)
        scale = m["energy_scale"] or energy_scale(train, elements, reference)
        shift, factor, smin = {}, {}, 0.0
        for e in elements:
            shift[e], factor[e], smin = scalings[e].shift_factor()
        model_args = dict(elements=elements, num_features={e: len(sfs[e]) for e in elements},
                          hidden=list(m["hidden_layers"]),
                          activations=[m["activation"]] * len(m["hidden_layers"]),
                          shift=shift, factor=factor, smin=smin, energy_offset=reference,
                          energy_scale=scale)
        if contraction is not None:
            model_args["weighted_sfs"] = sfs
        init_state = None
    split = {"train": [s.name for s in train], "validation": [s.name for s in val],
             "test": [s.name for s in test]}
    return RunData(elements, sfs, scalings, model_args, pool, p_train, p_val, p_test, split,
                   data_hash(train + val), init_state)


def new_network(run: RunData, seed: int) -> AtomicEnergyModel:
    """The torch model with seeded initial weights (or the --init model's weights)."""
    torch.manual_seed(seed)
    net = AtomicEnergyModel(**run.model_args)
    if run.init_state is not None:
        net.load_state_dict(run.init_state)
    return net


def numpy_args(model_args: dict) -> dict:
    """model_args with numpy arrays (picklable without torch tensors)."""
    return {k: ({e: np.asarray(x) for e, x in v.items()} if k in ("shift", "factor") else v)
            for k, v in model_args.items()}
