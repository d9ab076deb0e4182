"""Covariate distances for matching: Mahalanobis and robust (rank-based) Mahalanobis, as MatchIt.

Covariates become a numeric matrix as MatchIt's ``get.covs.matrix.for.dist``: numeric columns as they
are, each level of a categorical (string, boolean) column an indicator divided by sqrt(2); columns
without variation are dropped. ``"mahalanobis"``: the inverse of the pooled within-group covariance
matrix (groups centred separately, divisor n - 2) over the non-discarded units; ``"robust_mahalanobis"``
(Rosenbaum 2010, ch. 8): each column replaced by its ranks (ties averaged), the rank covariance rescaled
so every column has the variance of the ranks 1..n. A singular matrix is inverted by SVD (generalised
inverse). Units are returned as rows of a matrix ``Z`` with ``|Z_i - Z_j|`` the distance.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from sop_eval.contract.vocabulary import COVARIATE_DISTANCES
from sop_eval.errors import SopEvalError

MAHALANOBIS = COVARIATE_DISTANCES


def distance_covariates(data: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    """The covariates as MatchIt builds them for a distance (categoricals: all levels / sqrt(2))."""
    parts = []
    for name in columns:
        col = data[name]
        if pd.api.types.is_bool_dtype(col) or not pd.api.types.is_numeric_dtype(col):
            if col.isna().any():
                raise SopEvalError(f"covariate {name!r} has missing values; matching needs complete covariates.")
            levels = pd.Categorical(col)
            dummies = np.eye(len(levels.categories))[levels.codes] / np.sqrt(2.0)
            parts.append(dummies)
        else:
            x = col.to_numpy(dtype=float)
            if not np.isfinite(x).all():
                raise SopEvalError(f"covariate {name!r} has missing or infinite values; matching needs complete "
                                   "covariates: impute them or drop those rows first.")
            parts.append(x[:, None])
    X = np.hstack(parts) if parts else np.empty((len(data), 0))
    spread = X.max(axis=0) - X.min(axis=0) if len(X) else np.zeros(X.shape[1])
    keep = spread >= np.sqrt(np.finfo(float).eps)
    return X[:, keep] if keep.any() else X[:, :1]


def _inverse(var: np.ndarray) -> np.ndarray:
    if np.linalg.det(var) > 1e-8:
        try:
            return np.linalg.inv(var)
        except np.linalg.LinAlgError:
            pass
    u, d, vt = np.linalg.svd(var)
    pos = d > max(1e-8 * d[0], 0)
    return (vt[pos].T / d[pos]) @ u[:, pos].T


def _factor(inv_var: np.ndarray) -> np.ndarray:
    """A matrix L with L L' = inv_var (symmetric, positive semi-definite)."""
    vals, vecs = np.linalg.eigh((inv_var + inv_var.T) / 2)
    return vecs * np.sqrt(np.clip(vals, 0, None))


def transform(X: np.ndarray, treat: np.ndarray, discarded: np.ndarray, kind: str) -> np.ndarray:
    """Rows ``Z`` such that the Euclidean distance between rows is the ``kind`` distance."""
    keep = ~discarded
    if kind == "mahalanobis":
        sd = X.std(axis=0, ddof=1)
        sd[sd == 0] = 1.0
        Xs = (X - X.mean(axis=0)) / sd
        Xk, tk = Xs[keep], treat[keep]
        centred = Xk.copy()
        for g in (True, False):
            centred[tk == g] -= centred[tk == g].mean(axis=0)
        groups = len(np.unique(tk))
        var = np.atleast_2d(np.cov(centred, rowvar=False)) * (len(Xk) - 1) / (len(Xk) - groups)
        return Xs @ _factor(_inverse(var))
    if kind == "robust_mahalanobis":
        R = np.zeros_like(X)
        R[keep] = pd.DataFrame(X[keep]).rank(method="average").to_numpy()
        var = np.atleast_2d(np.cov(R[keep], rowvar=False))
        multiplier = np.std(np.arange(1, keep.sum() + 1), ddof=1) / np.sqrt(np.diag(var))
        var = var * np.outer(multiplier, multiplier)
        return R @ _factor(_inverse(var))
    raise SopEvalError(f"distance={kind!r} is not a covariate distance; use one of {MAHALANOBIS}.")


def cost_matrix(t: np.ndarray, c: np.ndarray, score: np.ndarray | None, Z: np.ndarray | None,
                calipers: Sequence[tuple[np.ndarray, float]] = (), antiexact: np.ndarray | None = None) -> np.ndarray:
    """Distances between treated positions ``t`` (rows) and control positions ``c`` (columns).

    On ``Z`` rows (Mahalanobis) when given, else on the scalar ``score``; ``inf`` where a caliper
    (values, width) is exceeded or an ``antiexact`` column (integer codes, one column each) is equal.
    """
    if Z is not None:
        zt, zc = Z[t], Z[c]
        sq = (zt**2).sum(1)[:, None] + (zc**2).sum(1)[None, :] - 2 * zt @ zc.T
        cost = np.sqrt(np.clip(sq, 0, None))
    else:
        assert score is not None
        cost = np.abs(score[t][:, None] - score[c][None, :])
    for values, width in calipers:
        cost[np.abs(values[t][:, None] - values[c][None, :]) > width] = np.inf
    if antiexact is not None:
        for j in range(antiexact.shape[1]):
            cost[antiexact[t, j][:, None] == antiexact[c, j][None, :]] = np.inf
    return cost
