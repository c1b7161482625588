"""Exponential moving average of the network weights (Adam stage).

    w_avg <- d w_avg + (1 - d) w      after every optimiser step, d = min(decay, (1+n)/(10+n))

(n = steps so far; the ramp keeps the first steps from being dominated by the initial weights).
Validation, model selection and the exported model use the averaged weights, which removes most
of the step-to-step noise of mini-batch training.
"""
from __future__ import annotations

from contextlib import contextmanager

import torch


class WeightAverage:
    def __init__(self, net: torch.nn.Module, decay: float):
        self.decay = float(decay)
        self.steps = 0
        self.shadow = {n: p.detach().clone() for n, p in net.named_parameters()}

    @torch.no_grad()
    def update(self, net: torch.nn.Module):
        self.steps += 1
        d = min(self.decay, (1.0 + self.steps) / (10.0 + self.steps))
        for n, p in net.named_parameters():
            self.shadow[n].mul_(d).add_(p.detach(), alpha=1.0 - d)

    @contextmanager
    def applied(self, net: torch.nn.Module):
        """Temporarily put the averaged weights into ``net``."""
        saved = {n: p.detach().clone() for n, p in net.named_parameters()}
        with torch.no_grad():
            for n, p in net.named_parameters():
                p.copy_(self.shadow[n])
        try:
            yield net
        finally:
            with torch.no_grad():
                for n, p in net.named_parameters():
                    p.copy_(saved[n])

    def state_dict(self) -> dict:
        return {"decay": self.decay, "steps": self.steps,
                "shadow": {n: v.clone() for n, v in self.shadow.items()}}

    def load_state_dict(self, state: dict):
        self.decay, self.steps = state["decay"], state["steps"]
        self.shadow = {n: v.clone() for n, v in state["shadow"].items()}
