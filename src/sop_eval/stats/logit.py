"""Logistic regression by Newton–Raphson: the one logit behind propensity scores and DiD's propensity models.

Hand-written for speed: a propensity model is refitted for every cohort and every ATT(g,t) cell, and
statsmodels' ``Logit`` spends more time building its model object (and checking rank, copying the n × k
design) than the handful of Newton steps take. The estimates are the maximum-likelihood ones statsmodels and
R ``glm(family = binomial)`` give; tests pin them to statsmodels.

Conventions: the first column of ``X`` is the intercept (Newton starts from the intercept-only fit, the
weighted log-odds of ``y``); a step solves ``(X' W P(1-P) X) step = X' W (y - P)`` and is halved while it
lowers the log-likelihood (a full step from the intercept-only fit overshoots when a covariate is strongly, but
not perfectly, predictive); iteration stops when ``max|step| < tol * (1 + max|beta|)`` or after ``max_iter``
steps. Perfect prediction is flagged as
statsmodels does (every fitted probability within 1e-8 of its 0/1 outcome at some step); the caller decides
what to do with it (a matching propensity model refuses, a DiD cell is left out).

Large data (``n >= WARM_START_ROWS``). Each Newton step is one pass over ``X`` in blocks of ``CHUNK_ROWS`` rows
(linear predictor, gradient and information together, no n × k temporaries), blocks shared among threads
(numpy's kernels release the GIL) and summed in block order, so the result does not depend on the thread count
or timing. Newton then starts from the fit to a seeded random subsample of ``WARM_START_ROWS`` rows instead of
the intercept-only fit; the iteration and its stopping rule are unchanged, so the estimates are the full-data
maximum-likelihood ones (agreeing with the intercept-start fit to the tolerance), in about half the passes.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
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


CHUNK_ROWS = 65_536
#: A Newton step is halved at most this many times while it lowers the log-likelihood.
MAX_HALVINGS = 30
WARM_START_ROWS = 1_000_000


def _workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def _blocks(n: int) -> list[slice]:
    return [slice(i, min(i + CHUNK_ROWS, n)) for i in range(0, n, CHUNK_ROWS)]


def _pass(X: np.ndarray, y: np.ndarray, w: np.ndarray | None, beta: np.ndarray, eta: np.ndarray,
          pool: ThreadPoolExecutor | None) -> tuple[np.ndarray, np.ndarray, bool, float]:
    """One pass at ``beta``: fills ``eta``; returns the information ``X'WVX``, the score ``X'W(y-p)``, whether
    every probability is within 1e-8 of its outcome, and the log-likelihood."""

    def block(rows: slice) -> tuple[np.ndarray, np.ndarray, bool, float]:
        Xb = X[rows]
        e = Xb[:, 0] * beta[0]
        for j in range(1, len(beta)):  # column by column: equal rows get equal linear predictors, bit for bit
            e += Xb[:, j] * beta[j]
        eta[rows] = e
        p = 1.0 / (1.0 + np.exp(-e))
        r = y[rows] - p
        close = bool(np.all(np.abs(r) <= 1e-8))
        ll = y[rows] * e - np.logaddexp(0.0, e)
        v = p * (1 - p)
        if w is not None:
            r, v, ll = w[rows] * r, w[rows] * v, w[rows] * ll
        return (Xb * v[:, None]).T @ Xb, Xb.T @ r, close, float(np.sum(ll))

    parts = list(pool.map(block, _blocks(len(y)))) if pool is not None else [block(b) for b in _blocks(len(y))]
    info = np.sum([p[0] for p in parts], axis=0)
    score = np.sum([p[1] for p in parts], axis=0)
    return info, score, all(p[2] for p in parts), float(np.sum([p[3] for p in parts]))


def _newton(X: np.ndarray, y: np.ndarray, w: np.ndarray | None, beta: np.ndarray, tol: float, max_iter: int,
            pool: ThreadPoolExecutor | None) -> LogitFit:
    eta = np.empty(len(y))
    perfect, converged, n_iter = False, False, 0
    info, score, close, ll = _pass(X, y, w, beta, eta, pool)
    while n_iter < max_iter:
        n_iter += 1
        step = np.linalg.solve(info, score)
        for halvings in range(MAX_HALVINGS + 1):
            new = _pass(X, y, w, beta + step, eta, pool)
            if halvings == MAX_HALVINGS or (np.isfinite(new[3]) and new[3] >= ll - 1e-10 * (1 + abs(ll))):
                break
            step = step / 2
        beta = beta + step
        info, score, close, ll = new
        perfect = perfect or close
        if np.max(np.abs(step)) < tol * (1 + np.max(np.abs(beta))):
            converged = True
            break
    with np.errstate(over="ignore"):
        p = 1.0 / (1.0 + np.exp(-eta))
    return LogitFit(beta, eta, p, n_iter, converged, perfect)


def newton_logit(X: np.ndarray, y: np.ndarray, w: np.ndarray | None = None, *, tol: float = 1e-11,
                 max_iter: int = 100, warm_start: bool | None = None) -> LogitFit:
    """Weighted maximum-likelihood logistic regression of 0/1 ``y`` on ``X`` (first column the intercept).

    ``w`` are case weights (None: all 1). With ``X`` a single column of ones the fit is the closed form
    ``log(p / (1 - p))`` of the weighted share ``p``. Raises ``numpy.linalg.LinAlgError`` when a Newton step
    meets a singular information matrix (collinear columns, or separation driving probabilities to 0 and 1).
    ``warm_start`` (None: when ``n >= WARM_START_ROWS``) starts from a subsample fit (module docstring).
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
        big = len(y) >= WARM_START_ROWS if warm_start is None else warm_start
        workers = _workers() if len(y) > 4 * CHUNK_ROWS else 1
        pool = ThreadPoolExecutor(max_workers=workers) if workers > 1 else None
        try:
            if big:
                rows = np.sort(np.random.default_rng(0).choice(len(y), size=min(WARM_START_ROWS, len(y)) // 2,
                                                                 replace=False))
                sub = _newton(X[rows], y[rows], None if w is None else w[rows], beta, 1e-6, max_iter, pool)
                if sub.converged and np.all(np.isfinite(sub.coef)):
                    beta = sub.coef
            return _newton(X, y, w, beta, tol, max_iter, pool)
        finally:
            if pool is not None:
                pool.shutdown()
