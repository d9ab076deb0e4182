"""Two-period panel DiD estimators of the ATT with their influence functions (Sant'Anna & Zhao 2020).

Each kernel takes the outcome change ``dy = y_post - y_pre``, the treatment indicator ``d`` (1 = the cohort,
0 = the comparison units), a design ``X`` whose first column is the intercept and unit weights ``w``, and returns
``(att, influence)`` with ``influence`` of length ``len(d)`` in the convention of R ``DRDID``: the ATT's
standard error is ``sqrt(mean(influence**2) / n)``. The formulas are those of ``DRDID::reg_did_panel``,
``DRDID::std_ipw_did_panel`` (normalised, "Hajek" IPW) and ``DRDID::drdid_panel`` (the doubly robust estimator
with a logit propensity score and a linear outcome model fitted on the comparison units) — the estimators
R ``did::att_gt`` calls for ``est_method = "reg"``, ``"ipw"`` and ``"dr"``. The ``*_rc`` kernels are the
repeated cross-section versions (``y`` the outcome, ``post`` 1 in the later period), as ``DRDID::*_rc``.
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


def ols_rep(y: np.ndarray, X: np.ndarray, wm: np.ndarray, what: str = "outcome regression"
            ) -> tuple[np.ndarray, np.ndarray]:
    """Weighted least squares of ``y`` on ``X`` with weights ``wm`` (zero outside the fitting sample); returns the
    fitted values for all rows and the estimator's asymptotic linear representation (rows × columns of X)."""
    n = len(y)
    if X.shape[1] == 1:
        total = np.sum(wm)
        if total == 0:
            raise CellNotEstimable(f"the {what} has no observations")
        beta = np.array([np.sum(wm * y) / total])
        inv = np.array([[n / total]])
    else:
        inv = _solve_inv((X * wm[:, None]).T @ X / n, what)
        beta = inv @ ((X * wm[:, None]).T @ y / n)
    fitted = X @ beta
    return fitted, (X * (wm * (y - fitted))[:, None]) @ inv


def outcome_regression(dy: np.ndarray, d: np.ndarray, X: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted least squares of ``dy`` on ``X`` among comparison units; returns (fitted for all, OLS IF rep)."""
    return ols_rep(dy, X, w * (1 - d))


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
    if X.shape[1] > 1:
        # R did's overlap check fits an unweighted preliminary logit
        check = ps if np.all(w == w[0]) else 1.0 / (1.0 + np.exp(-(X @ logit(d, X, np.ones_like(w)))))
    if X.shape[1] > 1 and np.nanmax(check) >= 0.999:
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


def _hajek(wt: np.ndarray, v: np.ndarray) -> tuple[float, np.ndarray, float]:
    """Weighted mean ``sum(wt v) / sum(wt)``, its influence function and ``mean(wt)``."""
    m = wt.mean()
    if m == 0:
        raise CellNotEstimable("the cohort or its comparison units have no observations in one of the two periods")
    eta = wt * v / m
    a = float(eta.mean())
    return a, eta - wt * a / m, m


def reg_did_rc(y: np.ndarray, post: np.ndarray, d: np.ndarray, X: np.ndarray, w: np.ndarray) -> tuple[float, np.ndarray]:
    """Outcome-regression DiD for repeated cross-sections, as ``DRDID::reg_did_rc``."""
    out_pre, rep_pre = ols_rep(y, X, w * (1 - d) * (1 - post))
    out_post, rep_post = ols_rep(y, X, w * (1 - d) * post)
    w_t = w * d
    a_pre, inf_pre, _ = _hajek(w_t * (1 - post), y)
    a_post, inf_post, _ = _hajek(w_t * post, y)
    a_c, inf_c, m_t = _hajek(w_t, out_post - out_pre)
    moment = np.mean(w_t[:, None] * X, axis=0)
    inf_control = inf_c + (rep_post @ moment - rep_pre @ moment) / m_t
    return a_post - a_pre - a_c, inf_post - inf_pre - inf_control


def ipw_did_rc(y: np.ndarray, post: np.ndarray, d: np.ndarray, X: np.ndarray, w: np.ndarray) -> tuple[float, np.ndarray]:
    """Normalised IPW DiD for repeated cross-sections, as ``DRDID::std_ipw_did_rc``."""
    ps, trim, score_rep = propensity(d, X, w)
    odds = ps * (1 - d) / (1 - ps)
    parts = {}
    for name, wt in (("t_pre", trim * w * d * (1 - post)), ("t_post", trim * w * d * post),
                     ("c_pre", trim * w * odds * (1 - post)), ("c_post", trim * w * odds * post)):
        parts[name] = (*_hajek(wt, y), wt)
    m2 = {k: np.mean((parts[k][3] * (y - parts[k][0]))[:, None] * X, axis=0) / parts[k][2] for k in ("c_pre", "c_post")}
    inf_t = parts["t_post"][1] - parts["t_pre"][1]
    inf_c = parts["c_post"][1] - parts["c_pre"][1] + score_rep @ (m2["c_post"] - m2["c_pre"])
    att = (parts["t_post"][0] - parts["t_pre"][0]) - (parts["c_post"][0] - parts["c_pre"][0])
    return float(att), inf_t - inf_c


def dr_did_rc(y: np.ndarray, post: np.ndarray, d: np.ndarray, X: np.ndarray, w: np.ndarray) -> tuple[float, np.ndarray]:
    """Locally efficient doubly robust DiD for repeated cross-sections (Sant'Anna & Zhao 2020), as
    ``DRDID::drdid_rc``: outcome models for comparison and treated units in each period plus a logit propensity."""
    ps, trim, score_rep = propensity(d, X, w)
    pre = 1 - post
    c_pre, rep_c_pre = ols_rep(y, X, w * (1 - d) * pre)
    c_post, rep_c_post = ols_rep(y, X, w * (1 - d) * post)
    t_pre, rep_t_pre = ols_rep(y, X, w * d * pre)
    t_post, rep_t_post = ols_rep(y, X, w * d * post)
    c_fit = post * c_post + pre * c_pre
    odds = ps * (1 - d) / (1 - ps)
    w_tpre, w_tpost = trim * w * d * pre, trim * w * d * post
    w_cpre, w_cpost = trim * w * odds * pre, trim * w * odds * post
    w_d = trim * w * d
    resid = y - c_fit
    a_tpre, i_tpre, m_tpre = _hajek(w_tpre, resid)
    a_tpost, i_tpost, m_tpost = _hajek(w_tpost, resid)
    a_cpre, i_cpre, m_cpre = _hajek(w_cpre, resid)
    a_cpost, i_cpost, m_cpost = _hajek(w_cpost, resid)
    a_dpost, i_dpost, m_d = _hajek(w_d, t_post - c_post)
    a_dt1, i_dt1, m_dt1 = _hajek(w_tpost, t_post - c_post)
    a_dpre, i_dpre, _ = _hajek(w_d, t_pre - c_pre)
    a_dt0, i_dt0, m_dt0 = _hajek(w_tpre, t_pre - c_pre)
    att = (a_tpost - a_tpre) - (a_cpost - a_cpre) + (a_dpost - a_dt1) - (a_dpre - a_dt0)

    def mom(wt: np.ndarray, m: float, z: np.ndarray) -> np.ndarray:
        return np.mean((wt * z)[:, None] * X, axis=0) / m

    inf_treat_or = rep_c_post @ -mom(w_tpost, m_tpost, post) - rep_c_pre @ -mom(w_tpre, m_tpre, pre)
    inf_cont_ps = score_rep @ (mom(w_cpost, m_cpost, resid - a_cpost) - mom(w_cpre, m_cpre, resid - a_cpre))
    inf_cont_or = rep_c_post @ -mom(w_cpost, m_cpost, post) - rep_c_pre @ -mom(w_cpre, m_cpre, pre)
    inf_eff = (i_dpost - i_dt1) - (i_dpre - i_dt0)
    mom_post = np.mean((w_d / m_d - w_tpost / m_dt1)[:, None] * X, axis=0)
    mom_pre = np.mean((w_d / m_d - w_tpre / m_dt0)[:, None] * X, axis=0)
    inf_or = (rep_t_post - rep_c_post) @ mom_post - (rep_t_pre - rep_c_pre) @ mom_pre
    inf_treat = i_tpost - i_tpre + inf_treat_or
    inf_cont = i_cpost - i_cpre + inf_cont_ps + inf_cont_or
    return float(att), inf_treat - inf_cont + inf_eff + inf_or


ESTIMATORS = {"reg": reg_did, "ipw": ipw_did, "dr": dr_did}
RC_ESTIMATORS = {"reg": reg_did_rc, "ipw": ipw_did_rc, "dr": dr_did_rc}
