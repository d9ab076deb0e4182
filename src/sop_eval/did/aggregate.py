"""Aggregations of ATT(g,t) into summary effects, as R ``did::aggte`` (Callaway & Sant'Anna 2021, section 3).

Weights: a cell's weight within an aggregate is its cohort's share of units ``P(G = g)`` (unit-weighted),
renormalised over the cells aggregated. ``"simple"``: all post-treatment cells; ``"group"``: the mean of a cohort's
post-treatment cells, and overall the cohort-size weighted mean of those; ``"dynamic"``: by event time
``e = t - g``, and overall the mean over ``e >= 0``; ``"calendar"``: by period, and overall the mean over periods.
Influence functions include the estimation of the weights (R's ``wif``). Standard errors are analytic or
multiplier-bootstrap as in the ATT(g,t) result (clustered when it is); the uniform band (``band_low``,
``band_high``) always uses the bootstrap's sup-t critical value over the rows of the aggregate.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats

from sop_eval.did.inference import standard_errors
from sop_eval.did.panel import _gl
from sop_eval.effects.estimate import EffectEstimate, effect_estimate_from
from sop_eval.errors import SopEvalError, SopEvalWarning, examples
from sop_eval.outputs import ShortRepr
from sop_eval.outputs import json_safe as _json_safe
from sop_eval.stats.bootstrap import multiplier_bootstrap
from sop_eval.stats.estimate import alpha_of
from sop_eval.stats.influence import influence_covariance

if TYPE_CHECKING:
    from sop_eval.did.att_gt import AttGtResult

KINDS = {"simple": None, "group": "group", "dynamic": "event_time", "calendar": "time"}
_SE_TINY = math.sqrt(np.finfo(float).eps) * 10


@dataclass(frozen=True, eq=False, repr=False)
class AggregateResult(ShortRepr):
    """An aggregated DiD effect: ``overall_att`` with ``overall_se`` and, except for ``"simple"``, one row per
    event time, cohort or period (``labels``: ``att`` with ``row_se``) with pointwise and uniform intervals at
    ``level``. As an :class:`~sop_eval.stats.estimate.Estimate`, ``estimate`` is ``overall_att`` and ``se`` is
    ``overall_se``.

    ``overall_influence`` is the per-unit influence function of ``overall_att`` (SE = sqrt(mean(psi²)/n)).
    ``treated_mean`` averages the treated cohorts' outcomes over the same cells with the same weights as
    ``overall_att``, so ``treated_mean - overall_att`` is the counterfactual mean.
    """

    kind: str
    outcome: str
    overall_att: float
    overall_se: float
    labels: np.ndarray
    att: np.ndarray
    row_se: np.ndarray
    crit_val: float
    level: float
    se_method: str
    n_boot: int
    control: str
    method: str
    n_treated: int
    n_comparison: int
    overall_influence: np.ndarray
    treated_mean: float
    balance_e: int | None = None
    row_vcov: np.ndarray | None = None
    anticipation: int = 0
    """Periods before adoption in which the fit allows effects (event times ``-anticipation`` to -1)."""

    @property
    def vcov(self) -> np.ndarray:
        """Covariance of the row estimates ``att`` from their influence functions (clustered when the ATT(g,t)
        are), e.g. the event-time estimates of a dynamic aggregate for HonestDiD; its diagonal is the analytic
        ``row_se**2`` (a reference event time under a universal base has variance 0)."""
        if self.row_vcov is None:
            return np.full((len(self.att), len(self.att)), np.nan)
        return self.row_vcov

    @property
    def estimate(self) -> float:
        """The overall aggregate effect (``overall_att``)."""
        return self.overall_att

    @property
    def se(self) -> float:
        """Standard error of the overall effect (``overall_se``); the rows' are in ``row_se``."""
        return self.overall_se

    @property
    def alpha(self) -> float:
        """Deprecated: ``1 - level``."""
        return alpha_of(self.level)

    def conf_int(self, level: float | None = None) -> tuple[float, float]:
        """Pointwise normal interval of ``overall_att`` at ``level`` (default: the result's level)."""
        c = stats.norm.ppf(0.5 + (self.level if level is None else level) / 2)
        return (self.overall_att - c * self.overall_se, self.overall_att + c * self.overall_se)

    def to_effect_estimate(self, *, kind: str = "continuous", label: str = "", outcome: str | None = None,
                           level: float | None = None) -> EffectEstimate:
        """The overall effect as an :class:`EffectEstimate` (design ``"did"``) for gates and payments."""
        return effect_estimate_from(
            self, treated_mean=self.treated_mean, kind=kind, label=label, outcome=outcome, level=level,
            method=f"att_gt {self.kind} aggregate ({self.method}, {self.control} controls, {self.se_method} SE)",
            details={"estimator": "att_gt", "aggregation": self.kind, "n_boot": self.n_boot},
        )

    def summary(self) -> pd.DataFrame:
        """Tidy table: an ``overall`` row then one row per label (``event_time``, ``group`` or ``time``)."""
        z = stats.norm.ppf(0.5 + self.level / 2)
        lo, hi = self.conf_int()
        rows = [{"term": "overall", "label": np.nan, "att": self.overall_att, "se": self.overall_se,
                 "ci_low": lo, "ci_high": hi, "band_low": np.nan, "band_high": np.nan}]
        for lab, a, s in zip(self.labels, self.att, self.row_se, strict=True):
            rows.append({"term": KINDS[self.kind], "label": _gl(lab), "att": a, "se": s, "ci_low": a - z * s,
                         "ci_high": a + z * s, "band_low": a - self.crit_val * s, "band_high": a + self.crit_val * s})
        out = pd.DataFrame(rows)
        if all(float(v).is_integer() for v in self.labels):
            out["label"] = out["label"].astype("Int64")
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe record of the aggregate (without influence functions)."""
        return _json_safe({
            "estimator": "att_gt aggregate", "kind": self.kind, "outcome": self.outcome,
            "overall_att": self.overall_att, "overall_se": self.overall_se, "crit_val": self.crit_val,
            "level": self.level, "se_method": self.se_method, "n_boot": self.n_boot, "control": self.control,
            "method": self.method, "balance_e": self.balance_e, "n_treated": self.n_treated,
            "n_comparison": self.n_comparison, "rows": self.summary().to_dict(orient="records"),
        })


def _weight_if(keep: np.ndarray, pg: np.ndarray, w: np.ndarray, G: np.ndarray, cell_g: np.ndarray) -> np.ndarray:
    """Influence function of the estimated weights ``pg[keep] / sum(pg[keep])`` (n × len(keep))."""
    pk = pg[keep]
    s = pk.sum()
    num = w[:, None] * (G[:, None] == cell_g[keep][None, :]) - pk[None, :]
    return num / s - np.outer(num.sum(axis=1), pk / s**2)


def _combine(psi: np.ndarray, att: np.ndarray, keep: np.ndarray, weights: np.ndarray,
             wif: np.ndarray | None) -> np.ndarray:
    out = psi[:, keep] @ weights
    if wif is not None:
        out = out + wif @ att[keep]
    return out


def aggregate(res: AttGtResult, kind: str = "simple", *, balance_e: int | None = None,
              min_e: float = -math.inf, max_e: float = math.inf) -> AggregateResult:
    """Aggregate an :class:`~sop_eval.did.att_gt.AttGtResult` (see the module docstring for the conventions).

    ``balance_e`` (dynamic only) keeps the cohorts observed for at least ``balance_e`` periods after treatment
    and event times up to ``balance_e``; ``min_e``/``max_e`` bound the event times used.
    """
    if kind not in KINDS:
        raise SopEvalError(f"kind={kind!r} is not one of {', '.join(map(repr, KINDS))}.")
    ok = np.isfinite(res.att) & np.isfinite(res.influence).all(axis=0)
    if not ok.all():
        bad = [f"(g={_gl(g)}, t={_gl(t)})" for g, t in zip(res.group[~ok], res.time[~ok], strict=True)]
        warnings.warn(f"{int((~ok).sum())} ATT(g,t) cell(s) {examples(bad)} could not be estimated and are left "
                      f"out of the {kind} aggregation.", SopEvalWarning, stacklevel=3)
    if res.base_period == "universal":
        # reference cells (identically 0) fall on different event times when periods are unevenly spaced; they
        # carry no information, so they are left out rather than averaged with other cohorts' estimates
        ref = ok & (res.att == 0) & (res.time < res.group) & (np.abs(res.influence).sum(axis=0) == 0)
        if len(np.unique((res.time - res.group)[ref])) > 1:
            ok = ok & ~ref
    g, t, att, psi = res.group[ok], res.time[ok], res.att[ok], res.influence[:, ok]
    w, G = res.unit_weights, res.unit_group
    glist = np.unique(g)
    pg_group = np.array([np.mean(w * (G == gl)) for gl in glist])
    pg = pg_group[np.searchsorted(glist, g)]
    e = t - g
    window = (g <= t) & (e >= min_e) & (e <= max_e)
    if not window.any():
        raise SopEvalError(f"no post-treatment ATT(g,t) lies in the event-time window [{min_e}, {max_e}].")

    labels = np.array([])
    rows_if: list[np.ndarray] = []
    rows_att: list[float] = []
    cell_w = np.zeros(len(g))
    if kind == "simple":
        keep = np.flatnonzero(window)
        wk = pg[keep] / pg[keep].sum()
        overall = float(att[keep] @ wk)
        cell_w[keep] = wk
        overall_if = _combine(psi, att, keep, wk, _weight_if(keep, pg, w, G, g))
    elif kind == "group":
        labels = np.array([gl for gl in glist if (window & (g == gl)).any()])
        for gl in labels:
            keep = np.flatnonzero(window & (g == gl))
            rows_att.append(float(att[keep].mean()))
            cell_w[keep] += pg_group[glist == gl][0] / len(keep)
            rows_if.append(_combine(psi, att, keep, np.full(len(keep), 1 / len(keep)), None))
        pgl = pg_group[np.searchsorted(glist, labels)]
        cell_w /= pgl.sum()
        all_rows = np.arange(len(labels))
        ra = np.array(rows_att)
        overall = float(ra @ (pgl / pgl.sum()))
        overall_if = _combine(np.column_stack(rows_if), ra, all_rows, pgl / pgl.sum(),
                              _weight_if(all_rows, pgl, w, G, labels))
    elif kind == "dynamic":
        include = np.ones(len(g), dtype=bool)
        eseq = np.unique(e)
        if balance_e is not None:
            t_max, t_min = res.times.max(), res.times.min()
            include = (t_max - g) >= balance_e
            eseq = np.unique(e[include])
            eseq = eseq[(eseq <= balance_e) & (eseq >= balance_e - t_max + t_min)]
        labels = eseq[(eseq >= min_e) & (eseq <= max_e)]
        if labels.size == 0:
            raise SopEvalError(f"no event time lies in the window [{min_e}, {max_e}] (balance_e={balance_e}).")
        n_pos = int((labels >= 0).sum())
        for ev in labels:
            keep = np.flatnonzero((e == ev) & include)
            wk = pg[keep] / pg[keep].sum()
            if ev >= 0:
                cell_w[keep] += wk / n_pos
            rows_att.append(float(att[keep] @ wk))
            rows_if.append(_combine(psi, att, keep, wk, _weight_if(keep, pg, w, G, g)))
        epos = labels >= 0
        if not epos.any():
            raise SopEvalError("the dynamic aggregation has no event time >= 0 in the requested window.")
        overall = float(np.mean(np.array(rows_att)[epos]))
        overall_if = np.column_stack(rows_if)[:, epos].mean(axis=1)
    else:
        labels = np.array([tt for tt in np.unique(t) if tt >= g.min() and ((t == tt) & (g <= t)).any()])
        for tt in labels:
            keep = np.flatnonzero((t == tt) & (g <= t))
            wk = pg[keep] / pg[keep].sum()
            cell_w[keep] += wk / len(labels)
            rows_att.append(float(att[keep] @ wk))
            rows_if.append(_combine(psi, att, keep, wk, _weight_if(keep, pg, w, G, g)))
        overall = float(np.mean(rows_att))
        overall_if = np.column_stack(rows_if).mean(axis=1)

    row_if = np.column_stack(rows_if) if rows_if else np.empty((res.n_units, 0))
    full = np.column_stack([row_if, overall_if])
    draws = multiplier_bootstrap(full, res.n_boot, res.seed, res.unit_cluster)
    ses = standard_errors(res.se_method, full, res.unit_cluster, lambda: draws)
    ses = np.where(ses <= _SE_TINY, np.nan, ses)
    z = float(stats.norm.ppf(1 - res.alpha / 2))
    crit = z
    if len(labels):
        crit = draws.uniform_critical(res.level, columns=np.arange(len(labels)))
        if not np.isfinite(crit) or crit < z:
            crit = z
    treated = np.isin(G, np.unique(g[window]))
    return AggregateResult(
        kind=kind, outcome=res.outcome, overall_att=overall, overall_se=float(ses[-1]), labels=labels,
        att=np.array(rows_att), row_se=ses[:-1], crit_val=float(crit), level=res.level, se_method=res.se_method,
        n_boot=res.n_boot, control=res.control, method=res.method, n_treated=int(treated.sum()),
        n_comparison=int((G == 0).sum()) if res.control == "never" else int((~treated).sum()),
        overall_influence=overall_if, treated_mean=float(cell_w @ res.treated_mean[ok]), balance_e=balance_e,
        row_vcov=influence_covariance(row_if, res.unit_cluster) / res.n_units if row_if.shape[1] else None,
        anticipation=int(res.anticipation),
    )
