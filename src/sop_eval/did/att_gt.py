"""Group-time average treatment effects ATT(g,t) under staggered adoption (Callaway & Sant'Anna 2021).

The estimator reproduces R ``did::att_gt`` (panels, unbalanced panels and repeated cross-sections): each
ATT(g,t) is a two-period DiD of cohort ``g`` (units first treated in period ``g``) between a base period and
period ``t`` against a comparison group (never-treated units, or units not yet treated by
``max(t, base) + anticipation``), estimated with outcome regression, normalised IPW or the doubly robust estimator
on the outcome change. The base period is the last
period before ``g - anticipation`` for post-treatment cells; for pre-treatment cells it is the previous period
(``base_period="varying"``) or that same last pre-treatment period (``"universal"``, the reference cell being 0).
Standard errors come from the influence functions (``se="analytic"``) or the multiplier bootstrap
(``se="bootstrap"``); the per-unit influence functions are kept so aggregations and tests are exact.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from sop_eval.contract.vocabulary import DID_BASE_PERIODS as BASE_PERIODS
from sop_eval.contract.vocabulary import DID_CONTROLS as CONTROLS
from sop_eval.did.aggregate import AggregateResult, aggregate
from sop_eval.did.diagnostics import WaldTest, pretrend_test
from sop_eval.did.estimators import ESTIMATORS, RC_ESTIMATORS, CellNotEstimable
from sop_eval.did.inference import standard_errors
from sop_eval.did.panel import Observations, _gl, prepare_cross_sections, prepare_panel
from sop_eval.errors import SopEvalError, SopEvalWarning
from sop_eval.outputs import ShortRepr
from sop_eval.outputs import json_safe as _json_safe
from sop_eval.seeds import resolve_seed
from sop_eval.stats.bootstrap import multiplier_bootstrap
from sop_eval.stats.estimate import alpha_of, resolve_level
from sop_eval.stats.influence import cluster_sums
from sop_eval.stats.registry import check_se, se_names

_SE_TINY = math.sqrt(np.finfo(float).eps) * 10
SE_METHODS = se_names("did")


def _choice(value: Any, name: str, allowed: Sequence[str]) -> str:
    if value not in allowed:
        raise SopEvalError(f"{name}={value!r} is not one of {', '.join(map(repr, allowed))}.")
    return value


@dataclass(frozen=True, eq=False, repr=False)
class AttGtResult(ShortRepr):
    """ATT(g,t) estimates with per-unit influence functions (``influence[i, k]`` for unit ``i``, cell ``k``; for
    repeated cross-sections, ``panel=False``, the "units" are the observations).

    ``se`` is analytic or bootstrap (``se_method``); ``crit_val`` is the uniform (sup-t) critical value over all
    cells when ``se_method == "bootstrap"`` and the pointwise normal value otherwise. ``unit_group`` and
    ``unit_weights`` (mean 1) describe the units the estimates use, for aggregation; ``treated_mean`` is the
    cohort's (weighted) mean outcome in each cell's period and ``unit_cluster`` each unit's cluster code (None:
    units are independent).
    """

    outcome: str
    group: np.ndarray
    time: np.ndarray
    att: np.ndarray
    se: np.ndarray
    influence: np.ndarray
    unit_group: np.ndarray
    unit_weights: np.ndarray
    times: np.ndarray
    control: str
    method: str
    base_period: str
    anticipation: int
    se_method: str
    n_boot: int
    seed: int | None
    level: float
    crit_val: float
    treated_mean: np.ndarray
    unit_cluster: np.ndarray | None = None
    covariates: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)
    panel: bool = True

    @property
    def estimate(self) -> np.ndarray:
        """The ATT(g,t) of every cell (``att``)."""
        return self.att

    @property
    def alpha(self) -> float:
        """Deprecated: ``1 - level``."""
        return alpha_of(self.level)

    @property
    def n_units(self) -> int:
        return int(self.influence.shape[0])

    @property
    def event_time(self) -> np.ndarray:
        return self.time - self.group

    @property
    def post(self) -> np.ndarray:
        return self.time >= self.group

    def conf_int(self, level: float | None = None, uniform: bool = False) -> pd.DataFrame:
        """Pointwise normal intervals at ``level`` (default: the result's); ``uniform=True`` gives the
        simultaneous band at the result's level."""
        c = self.crit_val if uniform else stats.norm.ppf(0.5 + (self.level if level is None else level) / 2)
        return pd.DataFrame({"ci_low": self.att - c * self.se, "ci_high": self.att + c * self.se})

    def summary(self) -> pd.DataFrame:
        """One row per cell: group, time, event_time, att, se, ci_low, ci_high (pointwise), band_low/high."""
        ci, band = self.conf_int(), self.conf_int(uniform=True)
        return pd.DataFrame({
            "group": [_gl(v) for v in self.group], "time": [_gl(v) for v in self.time],
            "event_time": [_gl(v) for v in self.event_time], "post": self.post,
            "att": self.att, "se": self.se, "ci_low": ci["ci_low"], "ci_high": ci["ci_high"],
            "band_low": band["ci_low"], "band_high": band["ci_high"],
        })

    def to_effect_estimate(self, **_: Any) -> Any:
        """Not defined for a grid of ATT(g,t): a payment needs one number, so aggregate first."""
        raise SopEvalError("aggregate the ATT(g,t) first, e.g. to_effect_estimate(res.aggregate('simple')); a payment "
                           "needs one number.")

    def aggregate(self, kind: str = "simple", *, balance_e: int | None = None, min_e: float = -math.inf,
                  max_e: float = math.inf) -> AggregateResult:
        """Aggregate ATT(g,t): ``"simple"``, ``"group"``, ``"dynamic"`` (event time) or ``"calendar"``.

        See :func:`sop_eval.did.aggregate.aggregate` for the weights and the inference.
        """
        return aggregate(self, kind, balance_e=balance_e, min_e=min_e, max_e=max_e)

    def pretrend_test(self) -> WaldTest:
        """Wald test that every pre-treatment ATT(g,t) is zero (see :func:`sop_eval.did.diagnostics.pretrend_test`)."""
        return pretrend_test(self)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe record: settings, notes and the cell table (influence functions are not included)."""
        return _json_safe({
            "estimator": "att_gt", "outcome": self.outcome, "control": self.control, "method": self.method,
            "base_period": self.base_period, "anticipation": self.anticipation, "se_method": self.se_method,
            "n_boot": self.n_boot, "seed": self.seed, "level": self.level, "crit_val": self.crit_val,
            "n_units": self.n_units, "panel": self.panel,
            "n_clusters": None if self.unit_cluster is None else int(self.unit_cluster.max()) + 1,
            "covariates": list(self.covariates), "notes": list(self.notes),
            "cells": self.summary().to_dict(orient="records"),
        })


def _plan(panel: Observations, base_period: str, anticipation: int) -> list[tuple[float, int, int]]:
    """The (group, period index, base index) of every cell, in R ``did``'s order."""
    times = panel.times
    cells = []
    for g in panel.groups:
        last_pre = int(np.nonzero(times + anticipation < g)[0][-1])
        start = 1 if base_period == "varying" else 0
        for j in range(start, len(times)):
            if base_period == "universal" or g - anticipation <= times[j]:
                base = last_pre
            else:
                base = j - 1
            cells.append((float(g), j, base))
    return cells


def att_gt(
    data: pd.DataFrame,
    outcome: str,
    unit: str | None,
    time: str,
    group: str,
    *,
    control: str = "never",
    covariates: Sequence[str] | None = None,
    method: str = "dr",
    anticipation: int = 0,
    base_period: str = "varying",
    se: str = "analytic",
    n_boot: int = 999,
    seed: int | None = None,
    weights: str | None = None,
    cluster: str | None = None,
    panel: bool = True,
    allow_unbalanced: bool = False,
    level: float | None = None,
    alpha: float | None = None,
) -> AttGtResult:
    """Estimate every ATT(g,t) of a staggered-adoption design (Callaway & Sant'Anna 2021, as R ``did``).

    ``group`` holds each unit's first treated period (0 or missing = never treated), on the scale of ``time``.
    ``control``: ``"never"`` (never-treated units) or ``"not_yet"`` (never treated plus not yet treated).
    ``method``: ``"dr"`` (doubly robust, R's default), ``"ipw"`` or ``"reg"``; ``covariates`` enter the
    propensity and outcome models with the values of the earlier of the two periods. ``weights`` names a
    column of unit weights (e.g. matching weights). ``se``: ``"analytic"`` (influence function) or ``"bootstrap"``
    (``n_boot`` Rademacher multiplier draws, ``seed``; ``None`` means :data:`sop_eval.seeds.DEFAULT_SEED`, so
    results are reproducible); the uniform band over all cells needs the bootstrap. ``cluster`` names a column
    constant within units (e.g. a person's local authority) by which standard errors are clustered, as R's
    ``clustervars``. ``panel=False`` treats the rows as repeated cross-sections (different people each period;
    ``unit`` may be None) and uses the ``DRDID`` cross-section estimators, each row then being an observation.
    ``allow_unbalanced=True`` keeps the units of an unbalanced panel: the rows are read as cross-sections and each
    unit's influence functions are summed (R's ``allow_unbalanced_panel``); otherwise units missing a period are
    dropped with a warning. Messy input is reported, not hidden: see :func:`sop_eval.did.panel.prepare_panel`.
    Intervals are at confidence ``level`` (default 0.95); ``alpha=`` is its deprecated spelling ``1 - level``.
    """
    _choice(control, "control", CONTROLS)
    _choice(method, "method", tuple(ESTIMATORS))
    _choice(base_period, "base_period", BASE_PERIODS)
    se_method = check_se(se, "did", panel=bool(panel), covariates=bool(covariates), weights=weights is not None,
                         cluster=cluster is not None)
    se = se_method.name
    if not (isinstance(n_boot, (int, np.integer)) and n_boot >= 2):
        raise SopEvalError(f"n_boot={n_boot!r} must be a whole number of bootstrap draws >= 2, e.g. 999.")
    level = resolve_level(level, alpha, "att_gt")
    alpha = alpha_of(level)
    if panel and unit is None:
        raise SopEvalError("att_gt needs unit= for a panel; pass panel=False for repeated cross-sections.")
    seed = resolve_seed(seed)
    options = dict(covariates=covariates, weights=weights, control=control, anticipation=anticipation,
                   cluster=cluster)
    units = None  # unit code of each row when an unbalanced panel is read as cross-sections
    if panel and allow_unbalanced:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            rows = prepare_cross_sections(data, outcome, time, group, unit=unit, **options)
        if rows.balanced:
            prepared = prepare_panel(data, outcome, unit, time, group, **options)
        else:
            for w_ in caught:
                warnings.warn(w_.message, w_.category, stacklevel=2)
            prepared, units, panel = rows, rows.unit, False
            rows.notes.append("unbalanced panel: every observation is kept and read as repeated cross-sections; "
                              "influence functions are summed within units")
    elif panel:
        prepared = prepare_panel(data, outcome, unit, time, group, **options)
    else:
        prepared = prepare_cross_sections(data, outcome, time, group, **options)
    cells = _plan(prepared, base_period, anticipation)
    n, times, g_obs, w = prepared.n, prepared.times, prepared.group, prepared.weights
    n_scale = n if units is None else int(units.max()) + 1
    ones = np.ones((n, 1))
    has_x = prepared.x.shape[-1] > 0
    att = np.full(len(cells), np.nan)
    psi = np.zeros((n, len(cells)))
    if panel:
        tmean = np.array([np.average(prepared.y[g_obs == g, j], weights=w[g_obs == g]) for g, j, _ in cells])
    else:
        tmean = np.array([np.average(prepared.y[(g_obs == g) & (prepared.period == j)],
                                     weights=w[(g_obs == g) & (prepared.period == j)]) for g, j, _ in cells])
    notes = list(prepared.notes)

    def not_estimable(k: int, reason: str) -> None:
        g, j = cells[k][0], cells[k][1]
        msg = f"ATT(g={_gl(g)}, t={_gl(times[j])}) is not estimable: {reason}; the cell is left out of aggregations."
        notes.append(msg)
        warnings.warn(msg, SopEvalWarning, stacklevel=3)
        psi[:, k] = np.nan

    for k, (g, j, base) in enumerate(cells):
        if j == base:  # universal base period: the reference cell
            att[k] = 0.0
            continue
        cohort = g_obs == g
        if control == "never":
            comparison = g_obs == 0
        else:
            comparison = (g_obs == 0) | ((g_obs > times[max(j, base)] + anticipation) & ~cohort)
        sel = cohort | comparison
        if not panel:
            sel &= (prepared.period == j) | (prepared.period == base)
        if not (comparison & sel).any():
            not_estimable(k, f"no comparison units are left in period {_gl(times[j])}")
            continue
        try:
            with np.errstate(all="ignore"):
                if panel:
                    X = np.hstack([ones[sel], prepared.x[sel, min(j, base), :]]) if has_x else ones[sel]
                    dy = prepared.y[sel, j] - prepared.y[sel, base]
                    est, inf = ESTIMATORS[method](dy, cohort[sel].astype(float), X, w[sel])
                else:
                    X = np.hstack([ones[sel], prepared.x[sel]]) if has_x else ones[sel]
                    post = (prepared.period[sel] == j).astype(float)
                    est, inf = RC_ESTIMATORS[method](prepared.y[sel], post, cohort[sel].astype(float), X, w[sel])
            if not (np.isfinite(est) and np.all(np.isfinite(inf))):
                raise CellNotEstimable("the estimate is not finite")
        except (CellNotEstimable, np.linalg.LinAlgError) as err:
            not_estimable(k, f"{err}. Check the covariates in this cell (collinear, constant or separating the cohort "
                             "from its comparison units)" + (", or use method='reg'" if method != "reg" else ""))
            continue
        att[k] = est
        psi[sel, k] = inf * (n_scale / sel.sum())
    clusters = prepared.cluster
    if units is not None:
        psi = cluster_sums(psi, units)
        first = np.unique(units, return_index=True)[1]
        g_obs, w = g_obs[first], w[first] / w[first].mean()
        clusters = None if clusters is None else pd.factorize(clusters[first])[0]
    draws = functools.cache(lambda: multiplier_bootstrap(psi, n_boot, seed, clusters))
    se_vals = standard_errors(se, psi, clusters, draws)
    crit = float(stats.norm.ppf(1 - alpha / 2))
    if se_method.uniform_band:
        band = draws().uniform_critical(level)
        crit = band if np.isfinite(band) and band >= crit else crit
    se_vals = np.where(se_vals <= _SE_TINY, np.nan, se_vals)
    return AttGtResult(
        outcome=outcome, group=np.array([c[0] for c in cells]), time=times[[c[1] for c in cells]], att=att,
        se=se_vals, influence=psi, unit_group=g_obs, unit_weights=w, times=times, control=control,
        method=method, base_period=base_period, anticipation=int(anticipation), se_method=se, n_boot=int(n_boot),
        seed=seed, level=level, crit_val=crit, treated_mean=tmean, unit_cluster=clusters,
        covariates=tuple(covariates or ()), notes=tuple(notes), panel=panel,
    )
