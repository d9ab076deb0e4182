"""Two-period panel DiD estimators of the ATT with their influence functions (Sant'Anna & Zhao 2020).

Each kernel takes the outcome change ``dy = y_post - y_pre``, the treatment indicator ``d`` (1 = the cohort,
0 = the comparison units), a design ``X`` whose first column is the intercept and unit weights ``w``, and returns
``(att, influence)`` with ``influence`` of length ``len(d)`` in the convention of R ``DRDID``: the ATT's
standard error is ``sqrt(mean(influence**2) / n)``. The formulas are those of ``DRDID::reg_did_panel``,
``DRDID::std_ipw_did_panel`` (normalised, "Hajek" IPW) and ``DRDID::drdid_panel`` (the doubly robust estimator
with a logit propensity score and a linear outcome model fitted on the comparison units) — the estimators
R ``did::att_gt`` calls for ``est_method = "reg"``, ``"ipw"`` and ``"dr"``.
"""

from __future__ import annotations

import numpy as np

TRIM_LEVEL = 0.995  # comparison units with propensity >= this are trimmed, as in DRDID


class CellNotEstimable(Exception):
    """Raised inside a kernel when a 2x2 cell cannot be estimated; the caller turns it into a warning."""


def _rcond(m: np.ndarray) -> float:
    try:
        return 1.0 / np.linalg.cond(m, 1)
    except np.linalg.LinAlgError:
        return 0.0


def _solve_inv(gram: np.ndarray, what: str) -> np.ndarray:
    r = _rcond(gram)
    if not np.isfinite(r) or r < np.finfo(float).eps:
        raise CellNotEstimable(f"the {what} design is singular (covariates collinear or constant in this cell)")
    return np.linalg.inv(gram)


def outcome_regression(dy: np.ndarray, d: np.ndarray, X: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted least squares of ``dy`` on ``X`` among comparison units; returns (fitted for all, OLS IF rep)."""
    n = len(d)
    wc = w * (1 - d)
    if X.shape[1] == 1:
        beta = np.array([np.sum(wc * dy) / np.sum(wc)])
        fitted = np.full(n, beta[0])
        inv = np.array([[n / np.sum(wc)]])
    else:
        inv = _solve_inv((X * wc[:, None]).T @ X / n, "outcome regression")
        beta = inv @ ((X * wc[:, None]).T @ dy / n)
        fitted = X @ beta
    lin_rep = (X * (wc * (dy - fitted))[:, None]) @ inv
    return fitted, lin_rep


def logit(d: np.ndarray, X: np.ndarray, w: np.ndarray, tol: float = 1e-11, max_iter: int = 100) -> np.ndarray:
    """Weighted logistic regression of ``d`` on ``X`` by Newton–Raphson; returns the coefficients."""
    if X.shape[1] == 1:
        p = np.sum(w * d) / np.sum(w)
        return np.array([np.log(p / (1 - p))])
    beta = np.zeros(X.shape[1])
    p = np.full(len(d), np.sum(w * d) / np.sum(w))
    beta[0] = np.log(p[0] / (1 - p[0]))
    for _ in range(max_iter):
        grad = X.T @ (w * (d - p))
        info = (X * (w * p * (1 - p))[:, None]).T @ X
        step = np.linalg.solve(info, grad)
        beta = beta + step
        p = 1.0 / (1.0 + np.exp(-(X @ beta)))
        if np.max(np.abs(step)) < tol * (1 + np.max(np.abs(beta))):
            break
    return beta


def propensity(d: np.ndarray, X: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fitted propensity (capped at 1 - 1e-6), trimming indicator and the score's linear representation."""
    n = len(d)
    if X.shape[1] > 1:
        _solve_inv((X * w[:, None]).T @ X, "propensity score")
    with np.errstate(over="ignore", divide="ignore"):
        beta = logit(d, X, w)
        ps = 1.0 / (1.0 + np.exp(-(X @ beta)))
    if X.shape[1] > 1 and np.nanmax(ps) >= 0.999:
        raise CellNotEstimable("the propensity score reaches 0.999 (no overlap: covariates separate the cohort "
                               "from its comparison units)")
    ps = np.minimum(ps, 1 - 1e-6)
    trim = np.where(d == 1, True, ps < TRIM_LEVEL)
    info = (X * (w * ps * (1 - ps))[:, None]).T @ X
    hess = _solve_inv(info, "propensity score") * n
    score_rep = (X * (w * (d - ps))[:, None]) @ hess
    return ps, trim.astype(float), score_rep


def reg_did(dy: np.ndarray, d: np.ndarray, X: np.ndarray, w: np.ndarray) -> tuple[float, np.ndarray]:
    """Outcome-regression DiD (Heckman, Ichimura & Todd 1997), as ``DRDID::reg_did_panel``."""
    fitted, lin_rep = outcome_regression(dy, d, X, w)
    w_t = w * d
    m_t = w_t.mean()
    if m_t == 0:
        raise CellNotEstimable("the cohort has no units with positive weight")
    eta_t = np.mean(w_t * dy) / m_t
    eta_c = np.mean(w_t * fitted) / m_t
    inf_t = (w_t * dy - w_t * eta_t) / m_t
    inf_c = (w_t * fitted - w_t * eta_c + lin_rep @ np.mean(w_t[:, None] * X, axis=0)) / m_t
    return float(eta_t - eta_c), inf_t - inf_c


def ipw_did(dy: np.ndarray, d: np.ndarray, X: np.ndarray, w: np.ndarray) -> tuple[float, np.ndarray]:
    """Normalised inverse-probability-weighted DiD (Abadie 2005), as ``DRDID::std_ipw_did_panel``."""
    ps, trim, score_rep = propensity(d, X, w)
    w_t = trim * w * d
    w_c = trim * w * ps * (1 - d) / (1 - ps)
    m_t, m_c = w_t.mean(), w_c.mean()
    if m_t == 0 or m_c == 0:
        raise CellNotEstimable("the cohort or its comparison units have no weight after trimming")
    eta_t = np.mean(w_t * dy) / m_t
    eta_c = np.mean(w_c * dy) / m_c
    inf_t = (w_t * dy - w_t * eta_t) / m_t
    m2 = np.mean((w_c * (dy - eta_c))[:, None] * X, axis=0)
    inf_c = (w_c * dy - w_c * eta_c + score_rep @ m2) / m_c
    return float(eta_t - eta_c), inf_t - inf_c


def dr_did(dy: np.ndarray, d: np.ndarray, X: np.ndarray, w: np.ndarray) -> tuple[float, np.ndarray]:
    """Doubly robust DiD (Sant'Anna & Zhao 2020), as ``DRDID::drdid_panel``."""
    ps, trim, score_rep = propensity(d, X, w)
    fitted, lin_rep = outcome_regression(dy, d, X, w)
    w_t = trim * w * d
    w_c = trim * w * ps * (1 - d) / (1 - ps)
    m_t, m_c = w_t.mean(), w_c.mean()
    if m_t == 0 or m_c == 0:
        raise CellNotEstimable("the cohort or its comparison units have no weight after trimming")
    resid = dy - fitted
    eta_t = np.mean(w_t * resid) / m_t
    eta_c = np.mean(w_c * resid) / m_c
    inf_t = (w_t * resid - w_t * eta_t - lin_rep @ np.mean(w_t[:, None] * X, axis=0)) / m_t
    m2 = np.mean((w_c * (resid - eta_c))[:, None] * X, axis=0)
    m3 = np.mean(w_c[:, None] * X, axis=0)
    inf_c = (w_c * resid - w_c * eta_c + score_rep @ m2 - lin_rep @ m3) / m_c
    return float(eta_t - eta_c), inf_t - inf_c


ESTIMATORS = {"reg": reg_did, "ipw": ipw_did, "dr": dr_did}
