"""Torch model -> plain kizuna model (python/kizuna/model.py), written with model_io."""
from __future__ import annotations

import numpy as np

from ..model import DenseLayer, ElementModel, Member, Model


def to_kizuna_model(net, sfs_by_element: dict, scalings: dict, meta=None,
                    refreshed: dict = None) -> Model:
    """A :class:`~kizuna.model.Model` whose core energy equals ``net``'s (same formulas).

    ``scalings``: the feature scaling ``net`` was trained with. With learned element weights
    (``net.contraction``) the weighted functions get the learned table, and ``refreshed``
    (element -> Scaling from the training statistics of the learned features) replaces the
    scaling, its difference folded into the first layer (learned_weights.fold_scaling); an
    element whose old scaling cannot be re-expressed keeps it (with a warning)."""
    import warnings

    if getattr(net, "contraction", None) is not None:
        sfs_by_element = net.contraction.weighted_functions()
    ems = []
    for k, e in enumerate(net.elements):
        enet = net.nets[e]
        layers = [DenseLayer(lin.weight.detach().numpy().astype(np.float64).copy(),
                             lin.bias.detach().numpy().astype(np.float64).copy(), act)
                  for lin, act in zip(enet.layers, enet.activations)]
        scaling = scalings[e]
        if refreshed is not None:
            from .learned_weights import fold_scaling

            old = (getattr(net, f"shift_{e}").numpy(), getattr(net, f"factor_{e}").numpy(),
                   net.smin)
            folded = fold_scaling(layers[0].weights, layers[0].bias, old,
                                  refreshed[e].shift_factor())
            if folded is None:
                warnings.warn(f"element {e}: a feature is constant with the learned weights; "
                              "the model keeps the scaling of the initial weights",
                              stacklevel=2)
            else:
                layers[0] = DenseLayer(folded[0], folded[1], layers[0].activation)
                scaling = refreshed[e]
        member = Member(scaling=scaling, layers=layers,
                        energy_offset=float(net.offsets[k]), energy_scale=float(net.scales[k]))
        ems.append(ElementModel(e, list(sfs_by_element[e]), [member]))
    return Model(list(net.elements), ems, dict(meta or {}))


def from_kizuna_model(model: Model, member: int = 0):
    """(torch AtomicEnergyModel, sfs_by_element, scalings) from a kizuna model (fine-tuning);
    ``member``: which committee member."""
    import torch

    from ..errors import UnsupportedError
    from .nets import AtomicEnergyModel

    first = model.element_models[0].members[member]
    hidden = [layer.n_out for layer in first.layers[:-1]]
    acts = [layer.activation for layer in first.layers[:-1]]
    for em in model.element_models:
        m = em.members[member]
        if [layer.n_out for layer in m.layers[:-1]] != hidden or \
                [layer.activation for layer in m.layers] != acts + ["linear"] or \
                m.scaling.shift_factor()[2] != first.scaling.shift_factor()[2]:
            raise UnsupportedError(f"fine-tuning needs the same hidden layers, activations (last "
                                   f"layer linear) and scaling smin for every element; element "
                                   f"{em.symbol} differs")
    scalings = {em.symbol: em.members[member].scaling for em in model.element_models}
    shift, factor = {}, {}
    for e, sc in scalings.items():
        shift[e], factor[e], _ = sc.shift_factor()
    net = AtomicEnergyModel(model.elements,
                            {em.symbol: em.num_features for em in model.element_models},
                            hidden, acts, shift=shift, factor=factor,
                            smin=scalings[model.elements[0]].shift_factor()[2],
                            energy_offset={em.symbol: em.members[member].energy_offset
                                           for em in model.element_models},
                            energy_scale={em.symbol: em.members[member].energy_scale
                                          for em in model.element_models})
    with torch.no_grad():
        for em in model.element_models:
            for lin, layer in zip(net.nets[em.symbol].layers, em.members[member].layers):
                lin.weight.copy_(torch.from_numpy(layer.weights))
                lin.bias.copy_(torch.from_numpy(layer.bias))
    sfs = {em.symbol: list(em.symmetry_functions) for em in model.element_models}
    return net, sfs, scalings
