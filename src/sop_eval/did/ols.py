"""Least squares with absorbed fixed effects and cluster-robust or heteroskedasticity-robust covariance.

The DiD regressions' conventions on top of :mod:`sop_eval.stats.wls`: fixed effects are absorbed by
alternating projections (:func:`sop_eval.stats.wls.demean`, exact in one sweep for balanced panels). The
cluster-robust covariance is CR1, ``G/(G-1) · (N-1)/(N-K)`` times the sandwich, where ``K`` counts the
regressors plus the absorbed effects not nested in the clusters (the reghdfe convention: unit effects nested
in unit clusters do not count). Without clusters the covariance is HC1, ``N/(N-K)`` times the sandwich with
``K`` counting every absorbed effect.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sop_eval.errors import SopEvalError
from sop_eval.stats.wls import SingularDesign, cluster_vcov, demean, hc_vcov, wls

__all__ = ["OlsFit", "demean", "fit_ols"]


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
    try:
        fit = wls(y, X, w)
    except SingularDesign:
        raise SopEvalError(
            "the regressors are collinear (e.g. treatment does not vary within units and periods after the fixed "
            "effects, or a covariate duplicates another); the DiD is not identified."
        ) from None
    if cluster is not None:
        cov = cluster_vcov(fit, cluster, extra_params=n_absorbed - n_absorbed_nested)
        assert isinstance(cov.n_clusters, int)
        return OlsFit(fit.beta, cov.vcov, fit.n_obs, cov.n_clusters, "CR1 (cluster-robust)")
    cov = hc_vcov(fit, "HC1", extra_params=n_absorbed)
    return OlsFit(fit.beta, cov.vcov, fit.n_obs, None, "HC1 (heteroskedasticity-robust)")
