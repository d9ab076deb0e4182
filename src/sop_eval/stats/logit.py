"""Logistic regression by Newton–Raphson: the one logit behind propensity scores and DiD's propensity models.

Hand-written for speed: a propensity model is refitted for every cohort and every ATT(g,t) cell, and
statsmodels' ``Logit`` spends more time building its model object (and checking rank, copying the n × k
design) than the handful of Newton steps take. The estimates are the maximum-likelihood ones statsmodels and
R ``glm(family = binomial)`` give; tests pin them to statsmodels.

Conventions: the first column of ``X`` is the intercept (Newton starts from the intercept-only fit, the
weighted log-odds of ``y``); a step solves ``(X' W P(1-P) X) step = X' W (y - P)``; iteration stops when
``max|step| < tol * (1 + max|beta|)`` or after ``max_iter`` steps. Perfect prediction is flagged as
statsmodels does (every fitted probability within 1e-8 of its 0/1 outcome at some step); the caller decides
what to do with it (a matching propensity model refuses, a DiD cell is left out).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class LogitFit:
    """Coefficients, linear predictor and fitted probabilities of a logit, with how the iteration ended."""

    coef: np.ndarray
    linear_predictor: np.ndarray
    fitted: np.ndarray
    n_iter: int
    converged: bool
    perfect_prediction: bool


def newton_logit(X: np.ndarray, y: np.ndarray, w: np.ndarray | None = None, *, tol: float = 1e-11,
                 max_iter: int = 100) -> LogitFit:
    """Weighted maximum-likelihood logistic regression of 0/1 ``y`` on ``X`` (first column the intercept).

    ``w`` are case weights (None: all 1). With ``X`` a single column of ones the fit is the closed form
    ``log(p / (1 - p))`` of the weighted share ``p``. Raises ``numpy.linalg.LinAlgError`` when a Newton step
    meets a singular information matrix (collinear columns, or separation driving probabilities to 0 and 1).
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    share = np.sum(y) / len(y) if w is None else np.sum(w * y) / np.sum(w)
    with np.errstate(over="ignore", divide="ignore"):
        start = np.log(share / (1 - share))
        if X.shape[1] == 1 and np.all(X[:, 0] == 1.0):
            beta = np.array([start])
            eta = X @ beta
            p = 1.0 / (1.0 + np.exp(-eta))
            return LogitFit(beta, eta, p, 0, True, bool(np.all(np.abs(p - y) <= 1e-8)))
        beta = np.zeros(X.shape[1])
        beta[0] = start
        p = np.full(len(y), share)
        eta = X @ beta
        perfect, converged, n_iter = False, False, 0
        while n_iter < max_iter:
            n_iter += 1
            if w is None:
                r, v = y - p, p * (1 - p)
            else:
                r, v = w * (y - p), w * p * (1 - p)
            step = np.linalg.solve((X * v[:, None]).T @ X, X.T @ r)
            beta = beta + step
            eta = X @ beta
            p = 1.0 / (1.0 + np.exp(-eta))
            perfect = perfect or bool(np.all(np.abs(p - y) <= 1e-8))
            if np.max(np.abs(step)) < tol * (1 + np.max(np.abs(beta))):
                converged = True
                break
    return LogitFit(beta, eta, p, n_iter, converged, perfect)
