"""The regression event study: TWFE with event-time indicators relative to each unit's first treated period."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from sop_eval.did.ols import demean, fit_ols
from sop_eval.did.panel import _rows, check_numeric
from sop_eval.errors import SopEvalError, SopEvalWarning, require_columns
from sop_eval.outputs import ShortRepr, json_safe
from sop_eval.seeds import rng as seeded_rng
from sop_eval.stats.estimate import alpha_of, resolve_level

_BAND_DRAWS = 20_000


@dataclass(frozen=True, eq=False, repr=False)
class EventStudyResult(ShortRepr):
    """Event-time coefficients (``event_time``, ``att``, ``se``) relative to ``reference`` (fixed at 0).

    The uniform band uses the sup-t critical value ``crit_val`` of the coefficients' estimated joint normal
    distribution (simulated with a fixed seed, so the band is reproducible).
    """

    outcome: str
    event_time: np.ndarray
    att: np.ndarray
    se: np.ndarray
    vcov: np.ndarray
    reference: int
    window: tuple[int, int]
    crit_val: float
    level: float
    n_obs: int
    n_clusters: int | None
    se_type: str
    caveats: tuple[str, ...] = ()

    def summary(self) -> pd.DataFrame:
        """One row per event time (the reference row has att 0 and no SE) with pointwise and uniform intervals."""
        z = stats.norm.ppf(0.5 + self.level / 2)
        ev = np.append(self.event_time, self.reference)
        att, se = np.append(self.att, 0.0), np.append(self.se, np.nan)
        order = np.argsort(ev)
        ev, att, se = ev[order], att[order], se[order]
        return pd.DataFrame({"term": "event_time", "label": ev.astype(int), "att": att, "se": se,
                             "ci_low": att - z * se, "ci_high": att + z * se,
                             "band_low": att - self.crit_val * se, "band_high": att + self.crit_val * se})

    @property
    def estimate(self) -> np.ndarray:
        """The coefficient of every event time (``att``)."""
        return self.att

    @property
    def alpha(self) -> float:
        """Deprecated: ``1 - level``."""
        return alpha_of(self.level)

    def conf_int(self, level: float | None = None, uniform: bool = False) -> pd.DataFrame:
        """Intervals by event time at the result's level: pointwise, or the uniform band with ``uniform=True``;
        another ``level`` gives pointwise intervals at that level."""
        s = self.summary()
        if level is not None and not uniform:
            z = stats.norm.ppf(0.5 + level / 2)
            s = s.assign(ci_low=s["att"] - z * s["se"], ci_high=s["att"] + z * s["se"])
        cols = ["band_low", "band_high"] if uniform else ["ci_low", "ci_high"]
        return s[["label", *cols]].set_axis(["event_time", "low", "high"], axis=1)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe record."""
        return json_safe({"estimator": "event_study", "outcome": self.outcome, "reference": self.reference,
                          "window": list(self.window), "crit_val": self.crit_val, "level": self.level,
                          "n_obs": self.n_obs, "se_type": self.se_type, "caveats": list(self.caveats),
                          "rows": self.summary().to_dict(orient="records")})


def sup_t_critical(vcov: np.ndarray, level: float = 0.95, seed: int | None = None) -> float:
    """The ``level`` quantile of max |Z_k| / sd_k for Z ~ N(0, vcov) (a uniform band's critical value);
    ``seed=None`` means :data:`sop_eval.seeds.DEFAULT_SEED`."""
    sd = np.sqrt(np.diag(vcov))
    corr = vcov / np.outer(sd, sd)
    draws = seeded_rng(seed).multivariate_normal(np.zeros(len(sd)), corr, size=_BAND_DRAWS,
                                                            method="eigh")
    return float(np.quantile(np.abs(draws).max(axis=1), level))


def event_study(data: pd.DataFrame, outcome: str, unit: str, time: str, group: str, *,
                window: tuple[int, int] | None = None, reference: int = -1, cluster: str | None = None,
                level: float | None = None, alpha: float | None = None) -> EventStudyResult:
    """TWFE event study: ``outcome`` on indicators of event time ``e = time - group`` within ``window = (-k, m)``
    (event times beyond the window are binned into its end points), with unit and period effects; ``reference``
    is the omitted event time. ``group`` is the first treated period (0 or missing = never treated); SEs are
    clustered by ``cluster`` (default ``unit``). Under staggered adoption the coefficients can mix effects of
    other event times (Sun & Abraham 2021); the result then carries that caveat — prefer
    ``att_gt(...).aggregate("dynamic")``. Intervals are at confidence ``level`` (default 0.95); ``alpha=`` is its
    deprecated spelling ``1 - level``.
    """
    level = resolve_level(level, alpha, "event_study")
    require_columns([outcome, unit, time, group] + ([cluster] if cluster else []), data.columns, "panel data")
    for c, what in ((outcome, "outcome"), (time, "time"), (group, "group")):
        check_numeric(data, c, what)
    bad = data[[outcome, time]].isna().any(axis=1)
    if bad.any():
        raise SopEvalError(f"outcome or time is missing in rows {_rows(bad, data.index)}; drop those rows first.")
    g = data[group].fillna(0).to_numpy(dtype=float)
    if (pd.Series(g).groupby(data[unit].to_numpy()).nunique() > 1).any():
        raise SopEvalError(f"group column {group!r} changes over time within some units; it must hold each unit's "
                           "first treated period on every row.")
    t = data[time].to_numpy(dtype=float)
    treated = g > 0
    e = np.where(treated, t - g, np.nan)
    if not np.allclose(e[treated], np.round(e[treated])):
        raise SopEvalError(f"time {time!r} and group {group!r} must be whole periods so event times are integers.")
    if not treated.any():
        raise SopEvalError(f"no unit is ever treated ({group!r} is 0 or missing everywhere).")
    lo, hi = (int(np.nanmin(e)), int(np.nanmax(e))) if window is None else (int(window[0]), int(window[1]))
    if not lo <= reference <= hi or lo >= hi:
        raise SopEvalError(f"window={window} must satisfy low < high and contain reference={reference}.")
    e = np.clip(e, lo, hi)
    events = np.array([k for k in range(lo, hi + 1) if k != reference])
    X = (e[:, None] == events[None, :]).astype(float)
    keep = X.any(axis=0)
    events, X = events[keep], X[:, keep]
    uc = pd.factorize(data[unit], sort=True)[0]
    tc = pd.factorize(data[time], sort=True)[0]
    w = np.ones(len(t))
    resid = demean(np.column_stack([data[outcome].to_numpy(dtype=float), X]), [uc, tc], w)
    cl = pd.factorize(data[cluster])[0] if cluster else uc
    nested = (pd.Series(cl).groupby(uc).nunique() == 1).all()
    fit = fit_ols(resid[:, 0], resid[:, 1:], cluster=cl, n_absorbed=uc.max() + tc.max() + 1,
                  n_absorbed_nested=uc.max() + 1 if nested else 0)
    se = np.sqrt(np.diag(fit.vcov))
    caveats = []
    if len(np.unique(g[treated])) > 1:
        caveats.append("staggered adoption: TWFE event-study coefficients can be contaminated by effects at other "
                       "event times and cohorts (Sun & Abraham 2021); prefer att_gt(...).aggregate('dynamic').")
        warnings.warn("event_study under " + caveats[0], SopEvalWarning, stacklevel=2)
    return EventStudyResult(outcome=outcome, event_time=events, att=fit.beta, se=se, vcov=fit.vcov,
                            reference=int(reference), window=(lo, hi), crit_val=sup_t_critical(fit.vcov, level),
                            level=level, n_obs=fit.n_obs, n_clusters=fit.n_clusters, se_type=fit.se_type,
                            caveats=tuple(caveats))

