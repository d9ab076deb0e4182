"""Weight solvers: Frank–Wolfe on the simplex (as R ``synthdid``) and a simplex-constrained least squares.

:func:`fw_weights` minimises ``zeta² ||x||² + ||A x - b||² / n`` over the unit simplex with exact line-search
Frank–Wolfe steps, stopping when an iteration lowers the objective by less than ``min_decrease²`` or after
``max_iter`` iterations — R ``synthdid``'s ``sc.weight.fw``, step for step. :func:`simplex_lstsq` solves
``min ||A w - b||²`` over the simplex exactly (active-set NNLS with the sum-to-one row weighted heavily, then
renormalised), for the classical synthetic control.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import nnls


def sparsify(v: np.ndarray) -> np.ndarray:
    """R ``synthdid``'s sparsification: zero every weight at most a quarter of the largest, renormalise."""
    out = np.where(v <= v.max() / 4, 0.0, v)
    return out / out.sum()


def collapsed_form(Y: np.ndarray, N0: int, T0: int) -> np.ndarray:
    """The (N0+1) × (T0+1) matrix: controls' pre-period outcomes with their post-period means, and a last row of
    the treated units' means (for a stack ``Y`` (R, N, T), one such matrix per problem)."""
    top = np.concatenate([Y[..., :N0, :T0], Y[..., :N0, T0:].mean(axis=-1, keepdims=True)], axis=-1)
    bottom = np.concatenate([Y[..., N0:, :T0].mean(axis=-2), Y[..., N0:, T0:].mean(axis=(-2, -1))[..., None]],
                            axis=-1)
    return np.concatenate([top, bottom[..., None, :]], axis=-2)


_GRAM_BYTES = 256 * 2**20


def fw_batch(A: np.ndarray, b: np.ndarray, zeta: float, start: np.ndarray, min_decrease: float,
             max_iter: int) -> np.ndarray:
    """Frank–Wolfe for a batch of problems of one shape: ``A`` (R, n, k), ``b`` (R, n), ``start`` (R, k).

    Each problem iterates exactly as it would alone (R ``synthdid``'s ``fw.step`` with exact line search and its
    stopping rule) and is frozen once it stops; stopped problems are dropped from the batch as it thins out. The
    gradient ``Aᵀ(Ax - b) + ηx`` is kept up to date through the Gram matrix ``AᵀA`` when it fits in memory, so an
    iteration costs O(R (n + k)).
    """
    R, n, k = A.shape
    eta = n * zeta**2
    x = np.array(start, dtype=float, copy=True)
    Ax = np.einsum("rnk,rk->rn", A, x)
    At = np.ascontiguousarray(np.swapaxes(A, 1, 2))  # columns of A as contiguous rows, for the gathers below
    use_gram = R * k * k * 8 <= _GRAM_BYTES
    if use_gram:
        G = np.einsum("rnk,rnj->rkj", A, A)
        c = np.einsum("rnk,rn->rk", A, b)
        Gx = np.einsum("rkj,rj->rk", G, x)
    out = x.copy()
    live = np.arange(R)  # the original index of each problem still in the arrays
    rows = np.arange(R)
    active = np.ones(R, dtype=bool)
    last = np.full(R, np.inf)
    md2 = min_decrease**2
    for t in range(max_iter):
        if 4 * int((~active).sum()) >= len(active) > 1 and active.any():
            out[live[~active]] = x[~active]
            keep = np.flatnonzero(active)
            live, x, Ax, A, At, b, last = live[keep], x[keep], Ax[keep], A[keep], At[keep], b[keep], last[keep]
            if use_gram:
                G, c, Gx = G[keep], c[keep], Gx[keep]
            rows, active = np.arange(len(keep)), np.ones(len(keep), dtype=bool)
        half_grad = (Gx - c if use_gram else np.einsum("rn,rnk->rk", Ax - b, A)) + eta * x
        i = np.argmin(half_grad, axis=1)
        gi = half_grad[rows, i]
        xi = x[rows, i]
        d_err = At[rows, i, :] - Ax
        num = -(gi - np.einsum("rk,rk->r", half_grad, x))
        den = np.einsum("rn,rn->r", d_err, d_err) + eta * (1.0 - 2.0 * xi + np.einsum("rk,rk->r", x, x))
        with np.errstate(divide="ignore", invalid="ignore"):
            step = np.where(den > 0, num / den, 0.0)
        step = np.where(active, np.clip(step, 0.0, 1.0), 0.0)
        x *= (1.0 - step)[:, None]
        x[rows, i] += step
        Ax += step[:, None] * d_err
        if use_gram:
            Gx = (1.0 - step)[:, None] * Gx + step[:, None] * G[rows, i, :]  # G is symmetric: row i = column i
        err = Ax - b
        val = zeta**2 * np.einsum("rk,rk->r", x, x) + np.einsum("rn,rn->r", err, err) / n
        if t >= 1:
            active &= (last - val) > md2
        last = np.where(active | (t < 1), val, last)
        if not active.any():
            break
    out[live] = x
    return out


def fw_weights(Y: np.ndarray, zeta: float, intercept: bool = True, start: np.ndarray | None = None,
               min_decrease: float = 1e-3, max_iter: int = 1000) -> np.ndarray:
    """Frank–Wolfe weights for ``Y[:, -1] ≈ Y[:, :-1] @ x`` (rows are the fitting observations), as R's
    ``sc.weight.fw``."""
    return fw_weights_batch(Y[None], zeta, intercept, None if start is None else np.asarray(start)[None],
                            min_decrease, max_iter)[0]


def fw_weights_batch(Y: np.ndarray, zeta: float, intercept: bool, start: np.ndarray | None, min_decrease: float,
                     max_iter: int) -> np.ndarray:
    """:func:`fw_weights` for a stack of problems ``Y`` (R, n, k + 1)."""
    k = Y.shape[2] - 1
    if intercept:
        Y = Y - Y.mean(axis=1, keepdims=True)
    x0 = np.full((Y.shape[0], k), 1.0 / k) if start is None else start
    return fw_batch(Y[:, :, :k], Y[:, :, k], zeta, x0, min_decrease, max_iter)


def fw_sparse(Y: np.ndarray, zeta: float, intercept: bool, start: np.ndarray | None, min_decrease: float,
              max_iter: int, max_iter_pre_sparsify: int, sparsifier: bool = True) -> np.ndarray:
    """Two rounds as R ``synthdid_estimate`` for a stack ``Y`` (R, n, k + 1): ``max_iter_pre_sparsify``
    iterations, sparsify each solution, then iterate to convergence (one round when ``sparsifier`` is False)."""
    if not sparsifier:
        return fw_weights_batch(Y, zeta, intercept, start, min_decrease, max_iter)
    first = fw_weights_batch(Y, zeta, intercept, start, min_decrease, max_iter_pre_sparsify)
    return fw_weights_batch(Y, zeta, intercept, np.apply_along_axis(sparsify, 1, first), min_decrease, max_iter)


def simplex_lstsq(A: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``argmin ||A w - b||²`` over ``w >= 0, sum(w) = 1`` (columns of ``A`` are the candidates)."""
    scale = max(float(np.abs(A).max()), float(np.abs(b).max()), 1.0)
    big = 1e4 * scale * np.sqrt(A.shape[0])
    w, _ = nnls(np.vstack([A, np.full((1, A.shape[1]), big)]), np.append(b, big), maxiter=50 * A.shape[1])
    total = w.sum()
    return w / total if total > 0 else np.full(A.shape[1], 1.0 / A.shape[1])
