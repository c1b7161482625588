"""Vibrational density of states of one (large, disordered) structure by stochastic Lanczos
quadrature on the finite-difference dynamical matrix: no Hessian is built, every Lanczos step
costs two force calls, so the reference (a DFT code, CHGNet) can afford it on hundreds of atoms.

Dynamical matrix D = M^-1/2 H M^-1/2 (3N x 3N, Γ point of the cell; H the Hessian, eV/Å²,
M the masses, amu). Its product with a vector v is a central difference of the forces along
the displacement u = M^-1/2 v:

    H u = -(F(x + s u) - F(x - s u)) / (2 s),   s = displacement / max_i |u_i|

(the largest atomic displacement is ``displacement`` Å). The spectral measure of D seen from a
random unit vector v (Rademacher entries) is sum_j w_j delta(theta - theta_j): theta_j the
eigenvalues of the k x k Lanczos tridiagonal matrix T, w_j the squared first components of its
eigenvectors (Gauss quadrature; Golub & Meurant). Averaged over random vectors it is the
density of the eigenvalues of D (Hutchinson: E[v^T f(D) v] = tr f(D) / 3N), with a relative
noise of ~ sqrt(2 / 3N) per vector. Frequencies nu = sqrt(theta) / 2 pi (THz; theta < 0, an
unstable direction of a structure not at a minimum, is shown at -sqrt(|theta|) / 2 pi), and
g(nu) = sum_j w_j exp(-(nu - nu_j)^2 / 2 sigma^2) / sqrt(2 pi) sigma, normalised to 1.
Full reorthogonalisation keeps the Lanczos vectors orthogonal (k is small).
"""
from __future__ import annotations

import numpy as np
from ase import units

# sqrt(eV / (Å^2 amu)) in rad/s -> THz after / 2 pi
_OMEGA_UNIT_THZ = np.sqrt(units._e / (1e-20 * units._amu)) / (2 * np.pi) / 1e12


def dynamical_matrix_product(atoms, calc, displacement: float = 0.01):
    """A function v -> D v (eV/(Å² amu)) by central force differences; counts its calls."""
    x0 = atoms.positions.copy()
    inv_sqrt_m = 1.0 / np.sqrt(atoms.get_masses())
    work = atoms.copy()
    work.calc = calc

    def forces_at(x):
        work.positions = x
        return work.get_forces().copy()

    def product(v):
        u = (v.reshape(-1, 3) * inv_sqrt_m[:, None])
        s = displacement / np.max(np.linalg.norm(u, axis=1))
        hu = -(forces_at(x0 + s * u) - forces_at(x0 - s * u)) / (2 * s)
        product.calls += 2
        return (hu * inv_sqrt_m[:, None]).ravel()

    product.calls = 0
    return product


def lanczos_nodes(matvec, n: int, steps: int, rng):
    """(theta_j, w_j) of the spectral measure of the symmetric operator ``matvec`` (size n)
    seen from one random unit vector: ``steps`` Lanczos steps, full reorthogonalisation."""
    from scipy.linalg import eigh_tridiagonal

    steps = min(steps, n)
    v = rng.choice([-1.0, 1.0], size=n) / np.sqrt(n)
    basis = [v]
    alpha, beta = [], []
    for k in range(steps):
        w = matvec(basis[-1])
        a = float(basis[-1] @ w)
        alpha.append(a)
        w = w - a * basis[-1] - (beta[-1] * basis[-2] if k > 0 else 0.0)
        Q = np.array(basis)
        w -= Q.T @ (Q @ w)            # full reorthogonalisation (twice is enough)
        w -= Q.T @ (Q @ w)
        b = float(np.linalg.norm(w))
        if k == steps - 1 or b < 1e-10 * max(1.0, abs(a)):
            break                     # an invariant subspace: the quadrature is exact
        beta.append(b)
        basis.append(w / b)
    theta, vectors = eigh_tridiagonal(np.array(alpha), np.array(beta[:len(alpha) - 1]))
    return theta, vectors[0] ** 2


def frequencies_thz(theta) -> np.ndarray:
    """sqrt(theta) / 2 pi in THz, negative for theta < 0 (imaginary)."""
    theta = np.asarray(theta, dtype=float)
    return np.sign(theta) * np.sqrt(np.abs(theta)) * _OMEGA_UNIT_THZ


def vdos(atoms, calc, steps: int = 40, vectors: int = 1, displacement: float = 0.01,
         sigma: float = 0.3, freq_range=(-2.0, 20.0), pitch: float = 0.05, seed: int = 0):
    """The vibrational DOS of ``atoms`` with ``calc``: {frequency, dos (1/THz, normalised),
    nodes, weights (THz, summing to 1 per vector), imaginary_fraction, mean_frequency (THz,
    over the real modes), calls}."""
    product = dynamical_matrix_product(atoms, calc, displacement)
    rng = np.random.default_rng(seed)
    nodes, weights = [], []
    for _ in range(vectors):
        theta, w = lanczos_nodes(product, 3 * len(atoms), steps, rng)
        nodes.append(frequencies_thz(theta))
        weights.append(w / vectors)
    nu, w = np.concatenate(nodes), np.concatenate(weights)
    grid = np.arange(freq_range[0], freq_range[1] + 0.5 * pitch, pitch)
    g = (w[None, :] * np.exp(-0.5 * ((grid[:, None] - nu[None, :]) / sigma) ** 2)).sum(1)
    g /= np.sqrt(2 * np.pi) * sigma
    area = np.trapezoid(g, grid)
    g = g / area if area > 0 else g
    real = nu >= 0
    return {"frequency": grid, "dos": g, "nodes": nu, "weights": w,
            "imaginary_fraction": float(w[~real].sum()),
            "mean_frequency": float((w[real] * nu[real]).sum() / max(w[real].sum(), 1e-300)),
            "calls": product.calls}


def overlap(freq, g1, g2) -> float:
    """int min(g1, g2) d nu of two DOS normalised to 1 (1: identical)."""
    freq, g1, g2 = map(np.asarray, (freq, g1, g2))
    return float(np.trapezoid(np.minimum(g1 / np.trapezoid(g1, freq), g2 / np.trapezoid(g2, freq)),
                              freq))
