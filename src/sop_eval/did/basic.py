"""The canonical 2×2 DiD regression and the two-way fixed-effects (TWFE) DiD, with robust inference."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from sop_eval.did.bacon import BaconResult, adoption_times, bacon_decomposition
from sop_eval.did.ols import demean, fit_ols
from sop_eval.did.panel import _rows, check_numeric, covariate_matrix
from sop_eval.effects.estimate import EffectEstimate, effect_estimate_from
from sop_eval.errors import SopEvalError, SopEvalWarning, require_columns
from sop_eval.outputs import ShortRepr
from sop_eval.outputs import json_safe as _json_safe
from sop_eval.stats.estimate import alpha_of, resolve_level


@dataclass(frozen=True, eq=False, repr=False)
class DidResult(ShortRepr):
    """A single DiD coefficient with its standard error (normal-approximation inference at confidence ``level``).

    ``treated_mean`` is the treated units' mean outcome after treatment and ``comparison_mean`` the implied
    counterfactual mean ``treated_mean - estimate``. ``caveats`` lists warnings that belong with the number
    (e.g. TWFE under staggered adoption); ``bacon`` holds the Goodman-Bacon decomposition when it applies.
    """

    estimator: str
    outcome: str
    estimate: float
    se: float
    n_obs: int
    n_treated: int
    n_comparison: int
    treated_mean: float
    comparison_mean: float
    se_type: str
    n_clusters: int | None
    level: float = 0.95
    caveats: tuple[str, ...] = ()
    bacon: BaconResult | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def p_value(self) -> float:
        """Two-sided normal p-value of no effect."""
        return float(2 * stats.norm.sf(abs(self.estimate / self.se))) if self.se > 0 else float("nan")

    @property
    def alpha(self) -> float:
        """Deprecated: ``1 - level``."""
        return alpha_of(self.level)

    def conf_int(self, level: float | None = None) -> tuple[float, float]:
        """Normal confidence interval at ``level`` (default: the result's level)."""
        z = stats.norm.ppf(0.5 + (self.level if level is None else level) / 2)
        return (self.estimate - z * self.se, self.estimate + z * self.se)

    def to_effect_estimate(self, *, kind: str = "continuous", label: str = "", outcome: str | None = None,
                           level: float | None = None) -> EffectEstimate:
        """This DiD effect as an :class:`EffectEstimate` (design ``"did"``) for gates and payments."""
        return effect_estimate_from(
            self, treated_mean=self.treated_mean, kind=kind, label=label, outcome=outcome, level=level,
            method=f"{self.estimator} ({self.se_type})",
            details={"estimator": self.estimator, "caveats": list(self.caveats)},
        )

    def summary(self) -> pd.DataFrame:
        """One tidy row, with any caveat in the ``warning`` column."""
        lo, hi = self.conf_int()
        return pd.DataFrame([{
            "estimator": self.estimator, "outcome": self.outcome, "estimate": self.estimate, "se": self.se,
            "ci_low": lo, "ci_high": hi, "p_value": self.p_value, "n_obs": self.n_obs, "n_treated": self.n_treated,
            "n_comparison": self.n_comparison, "se_type": self.se_type, "warning": " ".join(self.caveats),
        }])

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe record, including the Goodman-Bacon decomposition when present."""
        out = self.summary().iloc[0].to_dict()
        out.update(treated_mean=self.treated_mean, comparison_mean=self.comparison_mean, level=self.level,
                   n_clusters=self.n_clusters, caveats=list(self.caveats), details=self.details,
                   bacon=self.bacon.to_dict() if self.bacon is not None else None)
        return _json_safe(out)


def binary(data: pd.DataFrame, column: str, what: str) -> np.ndarray:
    """A 0/1 column as floats; :class:`SopEvalError` naming the rows otherwise."""
    check_numeric(data, column, what)
    v = data[column].astype(float)
    bad = ~v.isin([0.0, 1.0])
    if bad.any():
        raise SopEvalError(f"{what} column {column!r} must be coded 0/1 (or True/False); rows {_rows(bad, data.index)} "
                           "hold other values or are missing.")
    return v.to_numpy()


def _weights(data: pd.DataFrame, weights: str | None) -> np.ndarray:
    if weights is None:
        return np.ones(len(data))
    check_numeric(data, weights, "weights")
    w = data[weights].astype(float)
    bad = w.isna() | (w < 0)
    if bad.any():
        raise SopEvalError(f"weights column {weights!r} has missing or negative values in rows "
                           f"{_rows(bad, data.index)}.")
    return w.to_numpy()


def did2x2(data: pd.DataFrame, outcome: str, treated: str, post: str, *, unit: str | None = None,
           cluster: str | None = None, covariates: Sequence[str] | None = None, weights: str | None = None,
           level: float | None = None, alpha: float | None = None) -> DidResult:
    """The 2×2 DiD: OLS of ``outcome`` on treated, post, treated×post (and ``covariates``); the effect is the
    interaction. Works on panels (give ``unit``) and repeated cross-sections. Standard errors are clustered by
    ``cluster``, else by ``unit``, else HC1. ``weights`` (e.g. matching weights) give weighted least squares.
    Intervals are at confidence ``level`` (default 0.95); ``alpha=`` is its deprecated spelling ``1 - level``.
    """
    level = resolve_level(level, alpha, "did2x2")
    cols = [outcome, treated, post, *(covariates or [])] + [c for c in (unit, cluster, weights) if c]
    require_columns(cols, data.columns, "data")
    check_numeric(data, outcome, "outcome")
    if data[outcome].isna().any():
        raise SopEvalError(f"outcome {outcome!r} has missing values in rows {_rows(data[outcome].isna(), data.index)}.")
    d, p = binary(data, treated, "treatment"), binary(data, post, "post-period")
    w = _weights(data, weights)
    for dv, pv, name in ((1, 1, "treated units after"), (1, 0, "treated units before"),
                         (0, 1, "comparison units after"), (0, 0, "comparison units before")):
        if not ((d == dv) & (p == pv) & (w > 0)).any():
            raise SopEvalError(f"the 2×2 DiD needs {name} the start, but there are none; "
                               f"check {treated!r} and {post!r}.")
    xc, _ = covariate_matrix(data, covariates or [])
    X = np.column_stack([np.ones(len(d)), d, p, d * p, xc])
    y = data[outcome].to_numpy(dtype=float)
    by = cluster or unit
    codes = pd.factorize(data[by])[0] if by else None
    fit = fit_ols(y, X, w=w, cluster=codes)
    est = float(fit.beta[3])
    tp = (d == 1) & (p == 1)
    treated_mean = float(np.average(y[tp], weights=w[tp]))
    if unit:
        n_t, n_c = data.loc[d == 1, unit].nunique(), data.loc[d == 0, unit].nunique()
    else:
        n_t, n_c = int((d == 1).sum()), int((d == 0).sum())
    return DidResult("did2x2", outcome, est, float(np.sqrt(fit.vcov[3, 3])), len(y), int(n_t), int(n_c),
                     treated_mean, treated_mean - est, fit.se_type, fit.n_clusters, level)


def twfe(data: pd.DataFrame, outcome: str, unit: str, time: str, treated: str, *, cluster: str | None = None,
         weights: str | None = None, level: float | None = None, alpha: float | None = None) -> DidResult:
    """Two-way fixed-effects DiD: OLS of ``outcome`` on ``treated`` with unit and period effects, clustered by
    ``cluster`` (default: ``unit``). Under staggered adoption the summary warns that the estimate can be biased
    when effects differ across cohorts or over time and :attr:`DidResult.bacon` holds its Goodman-Bacon
    decomposition (balanced panels, unweighted). Intervals are at confidence ``level`` (default 0.95); ``alpha=``
    is its deprecated spelling ``1 - level``.
    """
    level = resolve_level(level, alpha, "twfe")
    cols = [outcome, unit, time, treated] + [c for c in (cluster, weights) if c]
    require_columns(cols, data.columns, "panel data")
    check_numeric(data, outcome, "outcome")
    check_numeric(data, time, "time")
    if data[[outcome, time]].isna().any().any():
        bad = data[[outcome, time]].isna().any(axis=1)
        raise SopEvalError(f"outcome or time is missing in rows {_rows(bad, data.index)}; drop those rows first.")
    dup = data.duplicated([unit, time], keep=False)
    if dup.any():
        raise SopEvalError(f"rows {_rows(dup, data.index)} repeat a ({unit!r}, {time!r}) pair; keep one row per unit "
                           "and period.")
    d = binary(data, treated, "treatment")
    w = _weights(data, weights)
    uc = pd.factorize(data[unit], sort=True)[0]
    tc = pd.factorize(data[time], sort=True)[0]
    resid = demean(np.column_stack([data[outcome].to_numpy(dtype=float), d]), [uc, tc], w)
    cl = pd.factorize(data[cluster])[0] if cluster else uc
    nested = (pd.Series(cl).groupby(uc).nunique() == 1).all()
    n_u, n_t = uc.max() + 1, tc.max() + 1
    fit = fit_ols(resid[:, 0], resid[:, 1:], w=w, cluster=cl, n_absorbed=n_u + n_t - 1,
                  n_absorbed_nested=n_u if nested else 0)
    est = float(fit.beta[0])
    y = data[outcome].to_numpy(dtype=float)
    treated_mean = float(np.average(y[d == 1], weights=w[d == 1])) if (d == 1).any() else float("nan")
    ever = pd.Series(d).groupby(uc).max().to_numpy()
    caveats: list[str] = []
    bacon = None
    try:
        first = adoption_times(data, unit, time, treated)[1]
    except SopEvalError:  # treatment switches off: not a staggered adoption design
        first = np.array([-1])
    if len(np.unique(first[first >= 0])) > 1:
        msg = ("staggered adoption: the TWFE estimate is a weighted average of 2×2 comparisons, some using "
               "already-treated units as controls, and can be biased (even of the wrong sign) when effects differ "
               "across cohorts or over time; prefer att_gt.")
        try:
            bacon = bacon_decomposition(data, outcome, unit, time, treated)
            msg += f" {bacon.forbidden_weight:.0%} of its weight is on such comparisons (Goodman-Bacon)."
        except SopEvalError as err:
            msg += f" (No Goodman-Bacon decomposition: {err})"
        caveats.append(msg)
        warnings.warn("TWFE under " + msg, SopEvalWarning, stacklevel=2)
    return DidResult("twfe", outcome, est, float(np.sqrt(fit.vcov[0, 0])), fit.n_obs, int(ever.sum()),
                     int((ever == 0).sum()), treated_mean, treated_mean - est, fit.se_type, fit.n_clusters, level,
                     tuple(caveats), bacon)
