"""Influence functions: standard errors and covariances from them, and the linear representations of the
building blocks (weighted least squares, a logit, a weighted mean) that DiD estimators combine.

Hand-written: these are a few lines of numpy each, in the convention of R ``DRDID``/``did`` (an estimator's
influence function ``psi`` has one row per unit; its variance is ``mean(psi**2) / n``), which no Python
library exposes.
"""

from __future__ import annotations

import numpy as np


class NotEstimable(Exception):
    """A quantity cannot be estimated from this sample (a singular design, no observations).

    Not a :class:`~sop_eval.errors.SopEvalError`: the caller decides whether it is an error or a warning.
    """


def cluster_sums(psi: np.ndarray, clusters: np.ndarray) -> np.ndarray:
    """Sum the rows of ``psi`` (n × k) within each cluster code 0..G-1 (G × k)."""
    out = np.zeros((int(clusters.max()) + 1, psi.shape[1]))
    np.add.at(out, clusters, psi)
    return out


def as_columns(psi: np.ndarray) -> np.ndarray:
    """``psi`` as a float matrix with one column per estimate."""
    psi = np.asarray(psi, dtype=float)
    return psi[:, None] if psi.ndim == 1 else psi


def analytic_se(psi: np.ndarray, clusters: np.ndarray | None = None) -> np.ndarray:
    """Influence-function standard error ``sqrt(mean(psi**2) / n)`` of each column; with ``clusters``,
    ``sqrt(sum over clusters of (cluster sum of psi)**2) / n``."""
    psi = as_columns(psi)
    n = psi.shape[0]
    if clusters is not None:
        return np.sqrt(np.sum(cluster_sums(psi, clusters) ** 2, axis=0)) / n
    return np.sqrt(np.mean(psi**2, axis=0) / n)


def influence_covariance(psi: np.ndarray, clusters: np.ndarray | None = None) -> np.ndarray:
    """``V`` with ``Var(estimates) = V / n``: ``psi'psi / n``, or from the cluster sums with ``clusters``."""
    psi = as_columns(psi)
    s = cluster_sums(psi, clusters) if clusters is not None else psi
    return s.T @ s / psi.shape[0]


def _rcond(m: np.ndarray) -> float:
    try:
        return 1.0 / np.linalg.cond(m, 1)
    except np.linalg.LinAlgError:
        return 0.0


def checked_inverse(gram: np.ndarray, what: str) -> np.ndarray:
    """``gram^-1``; :class:`NotEstimable` naming ``what`` when its reciprocal condition number is below eps."""
    r = _rcond(gram)
    if not np.isfinite(r) or r < np.finfo(float).eps:
        raise NotEstimable(f"the {what} design is singular (covariates collinear or constant in this cell)")
    return np.linalg.inv(gram)


def wls_influence(y: np.ndarray, X: np.ndarray, wm: np.ndarray, what: str = "outcome regression"
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Weighted least squares of ``y`` on ``X`` with weights ``wm`` (zero outside the fitting sample); returns the
    fitted values for all rows and the coefficients' asymptotic linear representation (rows × columns of X),
    ``x_i wm_i e_i (X'WX / n)^-1``, as ``DRDID``."""
    n = len(y)
    if X.shape[1] == 1:
        total = np.sum(wm)
        if total == 0:
            raise NotEstimable(f"the {what} has no observations")
        beta = np.array([np.sum(wm * y) / total])
        inv = np.array([[n / total]])
    else:
        inv = checked_inverse((X * wm[:, None]).T @ X / n, what)
        beta = inv @ ((X * wm[:, None]).T @ y / n)
    fitted = X @ beta
    return fitted, (X * (wm * (y - fitted))[:, None]) @ inv


def logit_influence(d: np.ndarray, X: np.ndarray, w: np.ndarray, p: np.ndarray, what: str = "propensity score"
                    ) -> np.ndarray:
    """Asymptotic linear representation of logit coefficients fitted to ``d`` with weights ``w`` and fitted
    probabilities ``p``: ``x_i w_i (d_i - p_i) (X' W P (1-P) X / n)^-1`` (rows × columns of X), as ``DRDID``."""
    info = (X * (w * p * (1 - p))[:, None]).T @ X
    hess = checked_inverse(info, what) * len(d)
    return (X * (w * (d - p))[:, None]) @ hess


def hajek_mean(wt: np.ndarray, v: np.ndarray) -> tuple[float, np.ndarray, float]:
    """Weighted mean ``sum(wt v) / sum(wt)``, its influence function and ``mean(wt)``."""
    m = wt.mean()
    if m == 0:
        raise NotEstimable("the cohort or its comparison units have no observations in one of the two periods")
    eta = wt * v / m
    a = float(eta.mean())
    return a, eta - wt * a / m, m
