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

from sop_eval.stats.influence import (
    NotEstimable,
    checked_inverse,
    hajek_mean,
    logit_influence,
    wls_influence,
)
from sop_eval.stats.logit import newton_logit

TRIM_LEVEL = 0.995  # comparison units with propensity >= this are trimmed, as in DRDID

CellNotEstimable = NotEstimable  # raised inside a kernel when a 2x2 cell cannot be estimated; att_gt warns


def outcome_regression(dy: np.ndarray, d: np.ndarray, X: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted least squares of ``dy`` on ``X`` among comparison units; returns (fitted for all, OLS IF rep)."""
    return wls_influence(dy, X, w * (1 - d))


def propensity(d: np.ndarray, X: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fitted propensity (capped at 1 - 1e-6), trimming indicator and the score's linear representation."""
    if X.shape[1] > 1:
        checked_inverse((X * w[:, None]).T @ X, "propensity score")
    with np.errstate(over="ignore", divide="ignore"):
        ps = newton_logit(X, d, w).fitted
    if X.shape[1] > 1:
        # R did's overlap check fits an unweighted preliminary logit
        check = ps if np.all(w == w[0]) else newton_logit(X, d, np.ones_like(w)).fitted
    if X.shape[1] > 1 and np.nanmax(check) >= 0.999:
        raise CellNotEstimable("the propensity score reaches 0.999 (no overlap: covariates separate the cohort "
                               "from its comparison units)")
    ps = np.minimum(ps, 1 - 1e-6)
    trim = np.where(d == 1, True, ps < TRIM_LEVEL)
    score_rep = logit_influence(d, X, w, ps)
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


def reg_did_rc(
    y: np.ndarray, post: np.ndarray, d: np.ndarray, X: np.ndarray, w: np.ndarray
) -> tuple[float, np.ndarray]:
    """Outcome-regression DiD for repeated cross-sections, as ``DRDID::reg_did_rc``."""
    out_pre, rep_pre = wls_influence(y, X, w * (1 - d) * (1 - post))
    out_post, rep_post = wls_influence(y, X, w * (1 - d) * post)
    w_t = w * d
    a_pre, inf_pre, _ = hajek_mean(w_t * (1 - post), y)
    a_post, inf_post, _ = hajek_mean(w_t * post, y)
    a_c, inf_c, m_t = hajek_mean(w_t, out_post - out_pre)
    moment = np.mean(w_t[:, None] * X, axis=0)
    inf_control = inf_c + (rep_post @ moment - rep_pre @ moment) / m_t
    return a_post - a_pre - a_c, inf_post - inf_pre - inf_control


def ipw_did_rc(
    y: np.ndarray, post: np.ndarray, d: np.ndarray, X: np.ndarray, w: np.ndarray
) -> tuple[float, np.ndarray]:
    """Normalised IPW DiD for repeated cross-sections, as ``DRDID::std_ipw_did_rc``."""
    ps, trim, score_rep = propensity(d, X, w)
    odds = ps * (1 - d) / (1 - ps)
    parts = {}
    for name, wt in (("t_pre", trim * w * d * (1 - post)), ("t_post", trim * w * d * post),
                     ("c_pre", trim * w * odds * (1 - post)), ("c_post", trim * w * odds * post)):
        parts[name] = (*hajek_mean(wt, y), wt)
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
    c_pre, rep_c_pre = wls_influence(y, X, w * (1 - d) * pre)
    c_post, rep_c_post = wls_influence(y, X, w * (1 - d) * post)
    t_pre, rep_t_pre = wls_influence(y, X, w * d * pre)
    t_post, rep_t_post = wls_influence(y, X, w * d * post)
    c_fit = post * c_post + pre * c_pre
    odds = ps * (1 - d) / (1 - ps)
    w_tpre, w_tpost = trim * w * d * pre, trim * w * d * post
    w_cpre, w_cpost = trim * w * odds * pre, trim * w * odds * post
    w_d = trim * w * d
    resid = y - c_fit
    a_tpre, i_tpre, m_tpre = hajek_mean(w_tpre, resid)
    a_tpost, i_tpost, m_tpost = hajek_mean(w_tpost, resid)
    a_cpre, i_cpre, m_cpre = hajek_mean(w_cpre, resid)
    a_cpost, i_cpost, m_cpost = hajek_mean(w_cpost, resid)
    a_dpost, i_dpost, m_d = hajek_mean(w_d, t_post - c_post)
    a_dt1, i_dt1, m_dt1 = hajek_mean(w_tpost, t_post - c_post)
    a_dpre, i_dpre, _ = hajek_mean(w_d, t_pre - c_pre)
    a_dt0, i_dt0, m_dt0 = hajek_mean(w_tpre, t_pre - c_pre)
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
