"""Time to event in a matched cohort: weighted Kaplan–Meier, medians, restricted means and Cox.

Conventions. Weights are case weights (matching weights for the comparison group, 1 for the treated).
The Kaplan–Meier estimate at an event time ``u`` multiplies ``1 - d_w(u) / Y_w(u)`` (weighted events
over weighted number at risk, ``time >= u``), as R ``survival::survfit(weights=)``. The median is the
smallest time at which survival falls to 0.5 or below (``NaN`` when it never does). The restricted mean
time to event (RMST) up to ``horizon`` is the area under the curve; its variance comes from the
influence function of the weighted Nelson–Aalen/Kaplan–Meier estimator, summed within matched sets.
The Cox model (Breslow ties) is fitted with case weights and a robust (Lin–Wei) sandwich variance
clustered on matched set, as R ``coxph(Surv(time, event) ~ treat, weights = w, cluster = set,
ties = "breslow")``; statsmodels' ``PHReg`` has no case weights, so the fit is done here and checked
against ``PHReg(...).fit(groups=...)`` when all weights are 1.

With a ``horizon`` every time beyond it is censored at it, events included (an event after the
window is not an event within it), so passing pre-censored data gives the same results.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats

from sop_eval.effects.estimate import EffectEstimate
from sop_eval.errors import SopEvalError
from sop_eval.outputs import ShortRepr

if TYPE_CHECKING:
    from sop_eval.effects.matched import MatchedSample

JDL_MIN_EVENTS = 30


def _risk_tables(time: np.ndarray, event: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct event times, weighted events and weighted number at risk at each."""
    ev_times = np.unique(time[event > 0])
    d_w = np.bincount(np.searchsorted(ev_times, time[event > 0]), weights=weights[event > 0], minlength=len(ev_times))
    order = np.argsort(time)
    tail = np.r_[np.cumsum(weights[order][::-1])[::-1], 0.0]
    y_w = tail[np.searchsorted(time[order], ev_times, "left")]
    return ev_times, d_w, y_w


def kaplan_meier(time: Any, event: Any, weights: Any = None) -> pd.DataFrame:
    """Weighted Kaplan–Meier curve: one row per distinct event time (``time``, ``at_risk``, ``events``,
    ``survival``), weighted counts when ``weights`` are given."""
    t = np.asarray(time, dtype=float)
    d = np.asarray(event, dtype=float)
    w = np.ones(len(t)) if weights is None else np.asarray(weights, dtype=float)
    ev_times, d_w, y_w = _risk_tables(t, d, w)
    surv = np.cumprod(1.0 - d_w / y_w)
    return pd.DataFrame({"time": ev_times, "at_risk": y_w, "events": d_w, "survival": surv})


def km_median(curve: pd.DataFrame) -> float:
    """Smallest time at which the Kaplan–Meier survival is at most 0.5 (NaN if it never is)."""
    hit = curve["survival"].to_numpy() <= 0.5 + 1e-12
    return float(curve["time"].to_numpy()[hit][0]) if hit.any() else float("nan")


def rmst(time: Any, event: Any, weights: Any = None, horizon: float | None = None) -> tuple[float, np.ndarray]:
    """Restricted mean time to event up to ``horizon`` and each unit's influence on it.

    The influence of unit ``i`` (infinitesimal jackknife, as R ``survfit(influence = TRUE)``) is
    ``-w_i * sum_{u <= min(t_i, horizon)} A(u) (dN_i(u) - Y_i(u) d_w(u) / Y_w(u)) / (Y_w(u) - d_w(u))``
    with ``A(u)`` the area under the curve from ``u`` to ``horizon``; the variance of the RMST is the
    sum of squared influences (summed within clusters first).
    """
    t = np.asarray(time, dtype=float)
    d = np.asarray(event, dtype=float)
    w = np.ones(len(t)) if weights is None else np.asarray(weights, dtype=float)
    tau = float(np.max(t)) if horizon is None else float(horizon)
    ev_times, d_w, y_w = _risk_tables(t, d, w)
    inside = ev_times <= tau
    ev_times, d_w, y_w = ev_times[inside], d_w[inside], y_w[inside]
    surv = np.cumprod(1.0 - d_w / y_w)
    knots = np.r_[0.0, ev_times, tau]
    steps = np.r_[1.0, surv]
    areas = steps * np.diff(knots)
    area_after = np.cumsum(areas[::-1])[::-1][1:]
    value = float(areas.sum())
    survivors = y_w - d_w
    per_survivor = np.divide(area_after, survivors, out=np.zeros_like(area_after), where=survivors > 0)
    compensator_steps = np.cumsum(per_survivor * d_w / y_w)
    k = np.searchsorted(ev_times, np.minimum(t, tau), "right") - 1
    kk = np.clip(k, 0, None)
    at_own = np.where((d > 0) & (t <= tau) & (k >= 0), per_survivor[kk], 0.0)
    compensator = np.where(k >= 0, compensator_steps[kk], 0.0)
    return value, -w * (at_own - compensator)


@dataclass(frozen=True, repr=False)
class CoxFit(ShortRepr):
    """A one-covariate weighted Cox fit: log hazard ratio, its robust SE and the information."""

    coef: float
    se: float
    information: float
    n_events: float
    converged: bool
    level: float = 0.95

    @property
    def estimate(self) -> float:
        """The log hazard ratio (``coef``); :meth:`conf_int` gives the hazard ratio's interval."""
        return self.coef

    @property
    def hazard_ratio(self) -> float:
        return float(np.exp(self.coef))

    def conf_int(self, level: float | None = None) -> tuple[float, float]:
        """Confidence interval of the hazard ratio (Wald on the log scale) at ``level`` (default: the fit's)."""
        c = stats.norm.ppf(0.5 + (self.level if level is None else level) / 2)
        return float(np.exp(self.coef - c * self.se)), float(np.exp(self.coef + c * self.se))

    @property
    def p_value(self) -> float:
        return float(2 * stats.norm.sf(abs(self.coef / self.se))) if self.se > 0 else float("nan")

    def summary(self) -> pd.DataFrame:
        """One row: log hazard ratio, its SE, the hazard ratio with its interval, the p-value."""
        lo, hi = self.conf_int()
        return pd.DataFrame([{"log_hazard_ratio": self.coef, "se": self.se, "hazard_ratio": self.hazard_ratio,
                              "ci_low": lo, "ci_high": hi, "level": self.level, "p_value": self.p_value,
                              "n_events": self.n_events, "converged": self.converged}])

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe record."""
        return {k: (v.item() if hasattr(v, "item") else v) for k, v in self.summary().iloc[0].to_dict().items()}


def weighted_cox(time: Any, event: Any, x: Any, weights: Any = None, cluster: Any = None, max_iter: int = 50) -> CoxFit:
    """Cox proportional hazards for one covariate ``x``: case weights, Breslow ties, robust SE.

    The robust variance is ``sum_g (sum_{i in g} w_i r_i)^2 / I^2`` with ``r_i`` the score residuals
    and ``I`` the observed information (Lin and Wei 1989), clustered on ``cluster`` when given.
    """
    t = np.asarray(time, dtype=float)
    d = np.asarray(event, dtype=float)
    x = np.asarray(x, dtype=float)
    w = np.ones(len(t)) if weights is None else np.asarray(weights, dtype=float)
    ev_times = np.unique(t[d > 0])
    if len(ev_times) == 0:
        raise SopEvalError("no events: a hazard ratio needs at least one event in the matched cohort.")
    at_event = np.searchsorted(ev_times, t[d > 0])
    d_w = np.bincount(at_event, weights=w[d > 0], minlength=len(ev_times))
    dx_w = np.bincount(at_event, weights=(w * x)[d > 0], minlength=len(ev_times))
    order = np.argsort(t)
    start = np.searchsorted(t[order], ev_times, "left")

    def sums(beta: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        r = (w * np.exp(beta * x))[order]
        tails = [np.r_[np.cumsum(v[::-1])[::-1], 0.0][start] for v in (r, r * x[order], r * x[order] ** 2)]
        return tails[0], tails[1], tails[2]

    beta, converged = 0.0, False
    for _ in range(max_iter):
        s0, s1, s2 = sums(beta)
        score = float((dx_w - d_w * s1 / s0).sum())
        info = float((d_w * (s2 / s0 - (s1 / s0) ** 2)).sum())
        if info <= 0:
            raise SopEvalError("the hazard ratio cannot be estimated: the covariate does not vary among those at risk.")
        step = score / info
        beta += step
        if abs(step) < 1e-10:
            converged = True
            break
    s0, s1, s2 = sums(beta)
    info = float((d_w * (s2 / s0 - (s1 / s0) ** 2)).sum())
    xbar = s1 / s0
    c1 = np.cumsum(d_w / s0)
    c2 = np.cumsum(xbar * d_w / s0)
    k = np.searchsorted(ev_times, t, "right") - 1
    own = np.where(d > 0, x - xbar[np.clip(k, 0, None)], 0.0)
    comp = np.where(k >= 0, np.exp(beta * x) * (x * c1[np.clip(k, 0, None)] - c2[np.clip(k, 0, None)]), 0.0)
    resid = w * (own - comp)
    if cluster is not None:
        resid = np.bincount(np.unique(np.asarray(cluster), return_inverse=True)[1], weights=resid)
    return CoxFit(
        coef=float(beta), se=float(np.sqrt((resid**2).sum()) / info), information=info,
        n_events=float(d_w.sum()), converged=converged,
    )


def time_to_event_effect(
    sample: MatchedSample,
    time: np.ndarray,
    event: np.ndarray | None,
    *,
    outcome: str,
    se: str = "cluster",
    horizon: float | None = None,
    level: float = 0.95,
    label: str = "",
) -> EffectEstimate:
    """Difference in restricted mean time to event (treated minus comparison) in a matched sample.

    With ``horizon`` every time beyond it is censored at ``horizon``, events included; without
    ``event`` a missing time is no event by ``horizon``. ``details`` holds the Kaplan–Meier curves
    (``km_treated``, ``km_comparison``), medians, event counts within the window and the weighted Cox
    hazard ratio with its robust interval. ``se`` sets the clusters of both the RMST and the Cox
    variance: ``"cluster"`` (matched set) or ``"robust"`` (person: a comparison person who serves
    several matched sets, as in matching with replacement, is one cluster; without replacement every
    row is its own person).
    """
    if se not in ("cluster", "robust"):
        raise SopEvalError(f"se={se!r} is not available for time_to_event outcomes; use 'cluster' or 'robust'.")
    if horizon is not None and not (isinstance(horizon, (int, float)) and horizon > 0):
        raise SopEvalError(f"horizon={horizon!r} for {outcome!r} must be a positive number of time units (e.g. 365).")
    t = np.asarray(time, dtype=float)
    if event is None:
        if np.isnan(t).any() and horizon is None:
            raise SopEvalError(
                f"{outcome!r} has missing times (no event) but no horizon= was given to censor them at; "
                "pass horizon= (e.g. 365 for a one-year window) or an event= column."
            )
        d = (~np.isnan(t)).astype(float)
        t = np.where(np.isnan(t), horizon if horizon is not None else 0.0, t)
    else:
        d = np.asarray(event, dtype=float)
        if np.isnan(t).any() or np.isnan(d).any() or not np.isin(d, (0, 1)).all():
            raise SopEvalError(f"time {outcome!r} must be complete and event must be 0/1 for every matched row.")
    if (t < 0).any():
        raise SopEvalError(f"time column {outcome!r} has negative values; times must be >= 0.")
    if horizon is not None:
        d = np.where(t > horizon, 0.0, d)
        t = np.minimum(t, float(horizon))
    tau = float(np.max(t)) if horizon is None else float(horizon)
    tr, w = sample.treat, sample.weights
    cluster = sample.cluster if se == "cluster" else pd.factorize(sample.frame.index)[0]
    r_t, inf_t = rmst(t[tr], d[tr], w[tr], tau)
    r_c, inf_c = rmst(t[~tr], d[~tr], w[~tr], tau)
    n_g = int(cluster.max()) + 1
    g_t = np.bincount(cluster[tr], weights=inf_t, minlength=n_g)
    g_c = np.bincount(cluster[~tr], weights=inf_c, minlength=n_g)
    var_t, var_c, cov_tc = float(g_t @ g_t), float(g_c @ g_c), float(g_t @ g_c)
    cox = weighted_cox(t, d, tr.astype(float), w, cluster)
    km_t, km_c = kaplan_meier(t[tr], d[tr], w[tr]), kaplan_meier(t[~tr], d[~tr], w[~tr])
    details = {
        "se_name": se,
        "se_clusters": "matched set" if se == "cluster" else "person",
        "n_clusters": len(np.unique(cluster)),
        "horizon": tau,
        "measure": f"restricted mean time to event up to {tau:g}",
        "n_events_treated": int(d[tr].sum()),
        "n_events_comparison": int(d[~tr].sum()),
        "median_treated": km_median(km_t),
        "median_comparison": km_median(km_c),
        "hazard_ratio": cox.hazard_ratio,
        "hazard_ratio_ci": list(cox.conf_int(level)),
        "hazard_ratio_p_value": cox.p_value,
        "log_hazard_ratio_se": cox.se,
        "km_treated": {"time": km_t["time"].tolist(), "survival": km_t["survival"].tolist()},
        "km_comparison": {"time": km_c["time"].tolist(), "survival": km_c["survival"].tolist()},
    }
    return EffectEstimate(
        estimate=r_t - r_c,
        se=float(np.sqrt(max(var_t + var_c - 2 * cov_tc, 0.0))),
        treated_mean=r_t,
        comparison_mean=r_c,
        n_treated=sample.n_treated,
        n_comparison=sample.n_comparison,
        outcome=outcome,
        kind="time_to_event",
        method=(
            "RMST difference (influence-function SE) and Cox hazard ratio (robust SE), clustered on "
            + ("matched set" if se == "cluster" else "person (a comparison person in several matched sets counts once)")
        ),
        label=label,
        level=level,
        comparison_mean_se=float(np.sqrt(var_c)),
        cov_estimate_comparison=cov_tc - var_c,
        details=details,
    )
