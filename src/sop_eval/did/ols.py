"""Least squares with absorbed fixed effects and cluster-robust or heteroskedasticity-robust covariance.

Conventions: fixed effects are absorbed by alternating projections (exact in one sweep for balanced panels).
The cluster-robust covariance is CR1, ``G/(G-1) · (N-1)/(N-K)`` times the sandwich, where ``K`` counts the
regressors plus the absorbed effects not nested in the clusters (the reghdfe convention: unit effects nested
in unit clusters do not count). Without clusters the covariance is HC1, ``N/(N-K)`` times the sandwich with
``K`` counting every absorbed effect.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from sop_eval.errors import SopEvalError


def demean(M: np.ndarray, factors: Sequence[np.ndarray], w: np.ndarray, tol: float = 1e-13,
           max_iter: int = 10_000) -> np.ndarray:
    """Residuals of the columns of ``M`` after (weighted) projection on the dummies of every factor."""
    out = np.array(M, dtype=float, copy=True)
    if out.ndim == 1:
        out = out[:, None]
    sizes = [np.bincount(f, weights=w) for f in factors]
    for _ in range(max_iter):
        before = out.copy()
        for f, size in zip(factors, sizes):
            means = np.vstack([np.bincount(f, weights=w * out[:, j], minlength=len(size)) for j in
                               range(out.shape[1])]).T / size[:, None]
            out -= means[f]
        if len(factors) < 2 or np.max(np.abs(out - before)) < tol * (1 + np.max(np.abs(before))):
            break
    return out


@dataclass(frozen=True, eq=False)
class OlsFit:
    """Coefficients, their covariance and the residual degrees of freedom of a least-squares fit."""

    beta: np.ndarray
    vcov: np.ndarray
    n_obs: int
    n_clusters: int | None
    se_type: str


def fit_ols(y: np.ndarray, X: np.ndarray, *, w: np.ndarray | None = None, cluster: np.ndarray | None = None,
            n_absorbed: int = 0, n_absorbed_nested: int = 0) -> OlsFit:
    """Weighted least squares of ``y`` on ``X`` with CR1 (``cluster`` codes given) or HC1 covariance."""
    n, k = X.shape
    w = np.ones(n) if w is None else w
    Xw = X * w[:, None]
    gram = Xw.T @ X
    if np.linalg.matrix_rank(gram) < k:
        raise SopEvalError("the regressors are collinear (e.g. treatment does not vary within units and periods "
                           "after the fixed effects, or a covariate duplicates another); the DiD is not identified.")
    bread = np.linalg.inv(gram)
    beta = bread @ (Xw.T @ y)
    scores = Xw * (y - X @ beta)[:, None]
    if cluster is not None:
        codes = np.unique(cluster, return_inverse=True)[1]
        g = int(codes.max()) + 1
        if g < 2:
            raise SopEvalError("cluster-robust standard errors need at least two clusters.")
        summed = np.zeros((g, k))
        np.add.at(summed, codes, scores)
        kk = k + n_absorbed - n_absorbed_nested
        factor = g / (g - 1) * (n - 1) / (n - kk)
        return OlsFit(beta, factor * bread @ (summed.T @ summed) @ bread, n, g, "CR1 (cluster-robust)")
    kk = k + n_absorbed
    factor = n / (n - kk)
    return OlsFit(beta, factor * bread @ (scores.T @ scores) @ bread, n, None, "HC1 (heteroskedasticity-robust)")
