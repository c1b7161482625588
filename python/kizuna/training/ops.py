"""Custom autograd operators: exact forces and virials from the core inside torch graphs.

For one structure with features G(x) and beta = dE/dG (computed by torch through the networks),
the core's adjoint pass gives (J_x = dG/dx, J_e = dG/d(strain), r_ij = x_j - x_i):

    F = vjp_F(beta) = -J_x^T beta                      forces, eV/Å
    W = vjp_W(beta),  W_ab = -sum_pairs r_ij,a dE/dr_ij,b   virial, eV
    so that  beta . J_e(eps) = -sum_ab eps_ab W_ba     (jvp with dr_ij = eps . r_ij)

Both are linear in beta. For a loss L(F, W) with gF = dL/dF, gW = dL/dW:

    dL/dbeta = -J_x gF - J_e(gW^T)  = -jvp(dpos=gF, dstrain=gW^T)

which is :class:`_Tangent`. (For rotation-invariant G, W is symmetric and J_e vanishes on
antisymmetric strains, so gW and gW^T give the same result; the transpose is kept because it
is the general adjoint.) Its own adjoint maps ggbeta back to (vjp_F(ggbeta), vjp_W(ggbeta))
(the transpose of a transpose), so both operators are differentiable any number of times; the
second derivatives of the loss w.r.t. the weights flow through the networks only (beta's graph).
"""
from __future__ import annotations

import torch


class _Forces(torch.autograd.Function):
    @staticmethod
    def forward(ctx, beta_flat, batch):
        ctx.batch = batch
        F, W = batch.vjp(beta_flat.detach().cpu().numpy())
        return torch.from_numpy(F), torch.from_numpy(W)

    @staticmethod
    def backward(ctx, gF, gW):
        return _Tangent.apply(gF, gW, ctx.batch), None


class _Tangent(torch.autograd.Function):
    @staticmethod
    def forward(ctx, gF, gW, batch):
        ctx.batch = batch
        dG = batch.jvp(gF.detach().contiguous().cpu().numpy(),
                       gW.detach().transpose(1, 2).contiguous().cpu().numpy())
        return -torch.from_numpy(dG)

    @staticmethod
    def backward(ctx, gg):
        # <gg, -J_x gF - J_e(gW^T)> = <vjp_F(gg), gF> + <vjp_W(gg), gW>
        F, W = _Forces.apply(gg, ctx.batch)
        return F, W, None


def core_forces(beta_flat: torch.Tensor, batch):
    """(forces (N, 3) eV/Å, virials (B, 3, 3) eV) of a batch for beta = dE/dG in the core's
    flat layout; differentiable w.r.t. beta."""
    return _Forces.apply(beta_flat, batch)
