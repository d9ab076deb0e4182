"""Covariate balance of any comparison group: ``balance(data, treatment, covariates, weights=, subclass=)``.

Works on the weights of a matching or weighting result, DiD unit weights or weights made elsewhere, and on
subclasses. For every term (each level of a categorical; the distance when given) before (unweighted) and
after (weighted):

- standardised mean difference: weighted mean difference over the full, unweighted sample's SD (treated SD for
  the ATT, control SD for the ATC, ``sqrt((var_t + var_c) / 2)`` for the ATE and ATO; binary terms
  ``p(1 - p)``, others ``n - 1``). ``binary="std"`` (default, MatchIt's ``summary()``) standardises binary
  terms too; ``binary="raw"`` reports their raw difference in proportions (cobalt's ``bal.tab`` default);
- variance ratio treated / control with the reliability-weights correction (continuous terms only);
- eCDF mean and max (the Kolmogorov–Smirnov statistic) of the weighted empirical CDFs, evaluated at every
  distinct value of the term (MatchIt; for binary terms both are the absolute difference in proportions).

``thresholds`` (cobalt's ``thresholds=``) flag each term: ``|SMD| <= smd``, ``1/v <= VR <= v`` for
``var_ratio=v``, ``KS <= ks``; :meth:`Balance.tally` counts balanced and not balanced terms and
:meth:`Balance.largest` names the largest imbalance of each statistic (cobalt's compact view). With
``subclass`` the balance within each subclass is reported too, as MatchIt's ``summary(subclass = TRUE)``: its
SMD over the subclass's own treated SD (ATT) or control SD (ATC), over the full sample's pooled SD for the ATE and
ATO; where that SD is zero (a group constant on the term within the subclass), over the full sample's pooled SD
with each group weighted by its size (MatchIt's fallback); an SMD or variance ratio over a zero denominator is
±inf (0/0: NaN), as R divides. When no weights are given the subclass weights are MatchIt's (ATT: treated 1,
controls ``n_t,s / n_c,s`` rescaled to the number of controls; ATC mirrored; ATE ``n_s / n_g,s``).

The one balance rule of the package: ``MatchedCohort.balance()`` (:mod:`sop_eval.cohorts.balance`) and the report
take their statistics from here. Checked against R MatchIt 4.5.1's ``summary()`` in ``tests/results/balance``
(to 1e-10). The variance-ratio
"percent balance improvement" MatchIt 4.5.1 prints for subclassification does not follow its own formula
``100 (|log VR before| - |log VR after|) / |log VR before|``, which sop_eval applies throughout.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sop_eval.cohorts import design
from sop_eval.errors import SopEvalError, examples
from sop_eval.outputs import json_safe

_EPS = np.sqrt(np.finfo(float).eps)
STATS = ("mean_treated", "mean_control", "smd", "var_ratio", "ecdf_mean", "ecdf_max")
DEFAULT_THRESHOLDS: Mapping[str, float | None] = {"smd": 0.1, "var_ratio": 2.0, "ks": None}
BINARY_RULES = ("std", "raw")
ESTIMANDS = ("ATT", "ATC", "ATE", "ATO")
_THRESHOLD_STAT = {"smd": "smd", "var_ratio": "var_ratio", "ks": "ecdf_max"}


def _weighted_var(x: np.ndarray, w: np.ndarray) -> float:
    s = w.sum()
    if s <= 0:
        return float("nan")
    p = w / s
    m = float(p @ x)
    denom = 1 - float(p @ p)
    return float(p @ (x - m) ** 2 / denom) if denom > 0 else float("nan")


def _group_var(v: np.ndarray, binary: bool) -> float:
    if binary:
        m = v.mean()
        return float(m * (1 - m))
    return float(v.var(ddof=1)) if len(v) > 1 else float("nan")


def _proportional_sd(x: np.ndarray, treat: np.ndarray, binary: bool) -> float:
    """MatchIt's ``pooled_sd(contribution = "proportional")``: the within-group spread pooled over the whole
    sample, each group in proportion to its size (binary terms ``sum_g n_g p_g (1 - p_g) / n``, others the
    within-group sum of squares over ``n - 1``). MatchIt's denominator when the chosen group's SD is zero."""
    total = 0.0
    for g in (True, False):
        v = x[treat == g]
        if len(v):
            total += float(v.sum() * (1 - v.mean())) if binary else float(np.sum((v - v.mean()) ** 2))
    n = len(x) if binary else len(x) - 1
    return float(np.sqrt(total / n)) if n > 0 else float("nan")


def _subclass_denominator(xt: np.ndarray, xc: np.ndarray, binary: bool, estimand: str, full: float,
                          fallback: float) -> float:
    """MatchIt's SD for an SMD within one subclass (``bal1var.subclass``): the subclass's own treated (ATT) or
    control (ATC) SD, the full sample's pooled SD ``full`` for the ATE (and ATO); when that SD is zero or
    undefined, the full sample's size-proportional pooled SD ``fallback``."""
    if estimand in ("ATT", "ATC"):
        sd = float(np.sqrt(_group_var(xt if estimand == "ATT" else xc, binary)))
    else:
        sd = full
    return sd if np.isfinite(sd) and sd >= _EPS else fallback


def _ratio(a: float, b: float) -> float:
    """``a / b`` as R divides: ``x / 0`` is ±inf, ``0 / 0`` NaN."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.float64(a) / np.float64(b))


def _sd_denominator(vt: float, vc: float, estimand: str) -> float:
    sd = {"ATT": np.sqrt(vt), "ATC": np.sqrt(vc)}.get(estimand, np.sqrt((vt + vc) / 2))
    if not np.isfinite(sd) or sd < _EPS:
        sd = np.sqrt((vt + vc) / 2)
    return float(sd)


def effective_sample_size(w: np.ndarray) -> float:
    """Kish's effective sample size (sum w)^2 / sum w^2 of the positive weights."""
    w = w[w > 0]
    return float(w.sum() ** 2 / np.sum(w**2)) if len(w) else 0.0


def ecdf_gaps(x: np.ndarray, treat: np.ndarray, w: np.ndarray) -> np.ndarray:
    """|F_treated(v) - F_control(v)| at each distinct value v of ``x``, ascending (weights normalised per group)."""
    w = w.astype(float).copy()
    for g in (True, False):
        total = w[treat == g].sum()
        if total > 0:
            w[treat == g] /= total
    order = np.argsort(x, kind="stable")
    xs = x[order]
    gaps = np.abs(np.cumsum(np.where(treat[order], -w[order], w[order])))
    return gaps[np.r_[xs[1:] != xs[:-1], True]]


def weighted_ecdf(x: np.ndarray, treat: np.ndarray, w: np.ndarray) -> pd.DataFrame:
    """Weighted empirical CDFs of both groups at each distinct value of ``x``: columns value, treated, control."""
    values = np.unique(x)
    out = {"value": values}
    for name, g in (("treated", True), ("control", False)):
        keep = (treat == g) & (w > 0)
        xs, ws = x[keep], w[keep]
        order = np.argsort(xs, kind="stable")
        cum = np.cumsum(ws[order]) / ws.sum() if ws.sum() > 0 else np.zeros(len(order))
        idx = np.searchsorted(xs[order], values, side="right") - 1
        out[name] = np.where(idx >= 0, cum[np.clip(idx, 0, None)] if len(cum) else 0.0, 0.0)
    return pd.DataFrame(out)


@dataclass(frozen=True)
class _Term:
    """One term with its evaluation points found once, so each weighting's eCDF gaps cost a search of the
    positively weighted units among the points (not of the points among the units).

    The eCDFs are evaluated at every distinct value of the term: ``points`` holds two sorted arrays, the control
    group's distinct values and the treated group's values not among them (the order is irrelevant to a mean
    or a max). ``before_c``: the unweighted control eCDF there; ``var_t``, ``var_c``: unweighted variances;
    ``sorted_t``: the treated values sorted (searching sorted values among the points is cache-friendly).
    """

    xt: np.ndarray
    xc: np.ndarray
    binary: bool
    denominator: float
    points: tuple[np.ndarray, ...] = ()
    before_c: np.ndarray | None = None
    var_t: float = float("nan")
    var_c: float = float("nan")
    sorted_t: np.ndarray | None = None


def _distinct(sorted_x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values of a sorted array and the count of values <= each."""
    is_last = np.empty(len(sorted_x), dtype=bool)
    np.not_equal(sorted_x[1:], sorted_x[:-1], out=is_last[:-1])
    is_last[-1:] = True
    last = np.flatnonzero(is_last)
    return (sorted_x if len(last) == len(sorted_x) else sorted_x[last]), last + 1


def _prepare(x: np.ndarray, treat: np.ndarray, estimand: str, binary: bool | None = None,
             denominator: float | None = None) -> _Term:
    binary = bool(np.all((x == 0) | (x == 1))) if binary is None else binary
    xt, xc = x[treat], x[~treat]  # split once: every statistic works on the two groups
    var_t, var_c = _group_var(xt, binary), _group_var(xc, binary)
    if denominator is None:
        denominator = _sd_denominator(var_t, var_c, estimand)
    if binary:
        return _Term(xt, xc, binary, denominator)
    st, sc = np.sort(xt), np.sort(xc)
    dc, count_c = _distinct(sc)
    dt = _distinct(st)[0]
    pos = np.searchsorted(sc, dt)
    only_t = dt[(pos >= len(sc)) | (sc[np.minimum(pos, len(sc) - 1)] != dt)]
    before_c = np.r_[count_c, np.searchsorted(sc, only_t, side="right")] / len(sc)
    return _Term(xt, xc, binary, denominator, (dc, only_t), before_c, var_t, var_c, st)


def _cdf(x: np.ndarray, w: np.ndarray, points: tuple[np.ndarray, ...]) -> np.ndarray:
    """Weighted eCDF of one group's values ``x`` at each sorted array of ``points`` (concatenated)."""
    keep = w > 0
    xs, ws = x[keep], w[keep]
    uniform = ws.min() == ws.max()
    parts = []
    for p in points:
        below = np.searchsorted(p, xs, side="left")  # a value counts at every point >= it
        mass = np.bincount(below, weights=None if uniform else ws, minlength=len(p) + 1)
        parts.append(np.cumsum(mass[: len(p)]) / (len(xs) if uniform else ws.sum()))
    return np.concatenate(parts)


def _positions(points: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``searchsorted(points, values, side="left")`` in the values' own order, searched in sorted order: a
    sorted search walks the points once instead of jumping through memory for every value."""
    order = np.argsort(values, kind="stable")
    out = np.empty(len(values), dtype=np.intp)
    out[order] = np.searchsorted(points, values[order], side="left")
    return out


def _gap_summary(term: _Term, xt: np.ndarray, wt: np.ndarray, xc: np.ndarray, wc: np.ndarray) -> tuple[float, float]:
    """Mean and max of |F_t - F_c| over the points, from the steps of the two weighted eCDFs: both are constant
    between the positions where a positively weighted unit enters, so the work grows with those units only."""
    kt, kc = wt > 0, wc > 0
    step = np.r_[wt[kt] / wt[kt].sum(), -wc[kc] / wc[kc].sum()]
    total, largest, count = 0.0, 0.0, 0
    for p in term.points:
        if len(p) == 0:
            continue
        at = np.r_[_positions(p, xt[kt]), _positions(p, xc[kc])]
        order = np.argsort(at, kind="stable")
        at, gap = at[order], np.cumsum(step[order])
        last = np.r_[at[1:] != at[:-1], True]  # the gap after all units entering at one position
        at, gap = at[last], np.abs(gap[last])
        length = np.diff(np.r_[at, len(p)])
        inside = (at < len(p)) & (length > 0)
        total += float(gap[inside] @ length[inside])
        largest = max(largest, float(gap[inside].max()) if inside.any() else 0.0)
        count += len(p)
    return total / count, largest


def _stats(term: _Term, wt: np.ndarray, wc: np.ndarray, raw_binary: bool, before: bool = False) -> dict[str, float]:
    """Balance statistics of one term under weights ``wt`` (treated) and ``wc`` (controls), MatchIt's rules."""
    out = dict.fromkeys(STATS, float("nan"))
    xt, xc = term.xt, term.xc
    st, sc = wt.sum(), wc.sum()
    too_small = np.count_nonzero(wt) < 2 and np.count_nonzero(wc) < 2
    mt = float(wt @ xt / st) if st > 0 else float("nan")
    mc = float(wc @ xc / sc) if sc > 0 else float("nan")
    out["mean_treated"], out["mean_control"] = mt, mc
    diff = mt - mc
    if term.binary and raw_binary:
        out["smd"] = diff
    elif abs(diff) > _EPS:
        if not too_small:
            out["smd"] = _ratio(diff, term.denominator)
    else:
        out["smd"] = diff
    if term.binary:
        out["ecdf_mean"] = out["ecdf_max"] = abs(diff)
    elif not too_small and st > 0 and sc > 0:
        if before:
            out["var_ratio"] = _ratio(term.var_t, term.var_c)
        else:
            kt, kc = wt > 0, wc > 0
            out["var_ratio"] = _ratio(_weighted_var(xt[kt], wt[kt]), _weighted_var(xc[kc], wc[kc]))
        if before:
            assert term.before_c is not None
            # unit weights before: the eCDF counts units, so the sorted values give the same counts
            gaps = np.abs(_cdf(term.sorted_t if term.sorted_t is not None else xt, wt, term.points) - term.before_c)
            out["ecdf_mean"], out["ecdf_max"] = float(gaps.mean()), float(gaps.max())
        else:
            out["ecdf_mean"], out["ecdf_max"] = _gap_summary(term, xt, wt, xc, wc)
    return out


def term_stats(x: np.ndarray, treat: np.ndarray, w: np.ndarray, estimand: str = "ATT",
               raw_binary: bool = False) -> dict[str, float]:
    """Balance statistics of one term under weights ``w`` (one per unit), by the rules of :func:`balance`."""
    w = np.asarray(w, dtype=float)
    return _stats(_prepare(np.asarray(x, dtype=float), treat, estimand), w[treat], w[~treat], raw_binary)


def subclass_weights(treat: np.ndarray, subclass: np.ndarray, estimand: str = "ATT") -> np.ndarray:
    """MatchIt's subclassification weights (units in a subclass lacking either group get 0)."""
    codes, inverse = np.unique(subclass, return_inverse=True)
    n_t = np.bincount(inverse, weights=treat.astype(float), minlength=len(codes))
    n_c = np.bincount(inverse, weights=(~treat).astype(float), minlength=len(codes))
    both = (n_t > 0) & (n_c > 0)
    ok = both[inverse]
    w = np.zeros(len(treat))
    with np.errstate(divide="ignore", invalid="ignore"):
        if estimand == "ATT":
            w[treat & ok] = 1.0
            w[~treat & ok] = (n_t / n_c)[inverse][~treat & ok]
            w[~treat] *= np.count_nonzero(~treat & ok) / max(w[~treat].sum(), 1e-300)
        elif estimand == "ATC":
            w[~treat & ok] = 1.0
            w[treat & ok] = (n_c / n_t)[inverse][treat & ok]
            w[treat] *= np.count_nonzero(treat & ok) / max(w[treat].sum(), 1e-300)
        else:
            n_s = n_t + n_c
            w[treat & ok] = (n_s / n_t)[inverse][treat & ok]
            w[~treat & ok] = (n_s / n_c)[inverse][~treat & ok]
    return w


@dataclass(frozen=True)
class Balance:
    """Balance of each term before and after weighting, with thresholds, a tally and the largest imbalance.

    ``table``: one row per term (``distance`` first when given) with ``<stat>_before`` / ``<stat>_after`` for
    ``mean_treated``, ``mean_control``, ``smd``, ``var_ratio``, ``ecdf_mean``, ``ecdf_max``, plus ``binary``,
    ``covariate`` (the source column) and one ``balanced_<threshold>`` column per threshold set.
    ``sample_sizes``: counts and effective sample sizes by group. ``subclass_table``: per-subclass statistics
    (MultiIndex subclass, term) when ``subclass`` was given. Conventions: :mod:`sop_eval.cohorts.assessment`.
    """

    table: pd.DataFrame
    sample_sizes: pd.DataFrame
    estimand: str
    thresholds: Mapping[str, float | None]
    binary: str
    smd_denominator: str
    subclass_table: pd.DataFrame | None = None
    subclass_sizes: pd.DataFrame | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def threshold(self) -> float:
        """The SMD threshold (what a Love plot draws)."""
        return float(self.thresholds.get("smd") or 0.1)

    @property
    def imbalanced(self) -> list[str]:
        """Terms (the distance excluded) failing any threshold after weighting."""
        t = self.table.drop(index="distance", errors="ignore")
        cols = [c for c in t.columns if c.startswith("balanced_")]
        bad = ~t[cols].fillna(True).astype(bool).all(axis=1) if cols else pd.Series(False, index=t.index)
        return [str(k) for k in t.index[bad.to_numpy()]]

    def tally(self) -> pd.DataFrame:
        """cobalt's balance tally: for each threshold, how many terms (distance excluded) are balanced or not."""
        t = self.table.drop(index="distance", errors="ignore")
        rows = {}
        for name, value in self.thresholds.items():
            if value is None:
                continue
            flags = t[f"balanced_{name}"].dropna().astype(bool)
            rule = (f"1/{value:g} <= var_ratio after <= {value:g}" if name == "var_ratio"
                    else f"|{_THRESHOLD_STAT[name]} after| <= {value:g}")
            rows[name] = {"threshold": float(value), "balanced": int(flags.sum()), "not_balanced": int((~flags).sum()),
                          "rule": rule}
        return pd.DataFrame.from_dict(rows, orient="index")

    def largest(self) -> pd.DataFrame:
        """The largest imbalance after weighting of each statistic: the term and its value (distance excluded)."""
        t = self.table.drop(index="distance", errors="ignore")
        rows = {}
        for stat in ("smd", "var_ratio", "ecdf_mean", "ecdf_max"):
            col = t[f"{stat}_after"].astype(float)
            size = np.abs(np.log(col)) if stat == "var_ratio" else np.abs(col)
            if size.notna().any():
                k = size.idxmax()
                rows[stat] = {"term": str(k), "value": float(col[k])}
        return pd.DataFrame.from_dict(rows, orient="index")

    def summary(self) -> pd.DataFrame:
        """Tidy table: one row per term, before/after statistics and the threshold flags (tally and largest
        imbalance in ``attrs``)."""
        out = self.table.reset_index(names="term")
        out.insert(1, "type", np.where(out["binary"], "binary", "continuous"))
        out.loc[out["term"] == "distance", "type"] = "distance"
        out.attrs.update({"estimand": self.estimand, "smd_denominator": self.smd_denominator, "binary": self.binary,
                          "thresholds": dict(self.thresholds), "tally": self.tally().to_dict(orient="index"),
                          "largest": self.largest().to_dict(orient="index")})
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe record: terms, sample sizes, thresholds, tally, largest imbalance, per-subclass balance."""
        out = {
            "estimand": self.estimand,
            "binary": self.binary,
            "smd_denominator": self.smd_denominator,
            "thresholds": dict(self.thresholds),
            "terms": self.table.reset_index(names="term").to_dict(orient="records"),
            "sample_sizes": self.sample_sizes.to_dict(orient="index"),
            "tally": self.tally().to_dict(orient="index"),
            "largest": self.largest().to_dict(orient="index"),
            "imbalanced": self.imbalanced,
        }
        if self.subclass_table is not None:
            out["subclasses"] = self.subclass_table.reset_index().to_dict(orient="records")
            out["subclass_sizes"] = None if self.subclass_sizes is None else (
                self.subclass_sizes.reset_index().to_dict(orient="records"))
        return dict(json_safe(out))

    def __repr__(self) -> str:
        tally = self.tally()
        parts = [f"{name} {r.balanced}/{r.balanced + r.not_balanced} balanced" for name, r in tally.iterrows()]
        largest = self.largest()
        worst = ""
        if "smd" in largest.index:
            worst = f"; largest |SMD| {abs(largest.loc['smd', 'value']):.3g} ({largest.loc['smd', 'term']})"
        ess = self.sample_sizes["ess"]
        return (f"<Balance {self.estimand}: {len(self.table)} terms; {', '.join(parts)}{worst}; "
                f"ESS treated {ess['treated']:.1f}, control {ess['control']:.1f}>")


def _vector(values: Any, data: pd.DataFrame, name: str) -> np.ndarray:
    if isinstance(values, str):
        if values not in data.columns:
            raise SopEvalError(f"{name}={values!r} is not a column of data; columns: "
                               f"{examples(list(data.columns), 12)}.")
        return data[values].to_numpy()
    if isinstance(values, pd.Series):
        if not values.index.equals(data.index):
            missing = data.index.difference(values.index)
            if len(missing):
                raise SopEvalError(f"{name} (a Series) has no value for {len(missing)} row label(s) of data "
                                   f"({examples(missing)}); give one value per row.")
            values = values.reindex(data.index)
        return values.to_numpy()
    arr = np.asarray(values)
    if arr.ndim != 1 or len(arr) != len(data):
        raise SopEvalError(f"{name} has shape {arr.shape}; it needs one value per row of data ({len(data)}).")
    return arr


def _check_weights(w: np.ndarray) -> np.ndarray:
    w = np.asarray(w, dtype=float)
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        raise SopEvalError(f"weights has {int(bad.sum())} missing, infinite or negative value(s) (positions "
                           f"{examples(np.flatnonzero(bad))}); weights must be finite and >= 0.")
    return w


def balance(
    data: Any,
    treatment: str | None = None,
    covariates: Sequence[str] | None = None,
    weights: Any = None,
    subclass: Any = None,
    *,
    estimand: str | None = None,
    binary: str = "std",
    thresholds: Mapping[str, float | None] | None = None,
    distance: Any = None,
    workers: int | None = None,
) -> Balance:
    """Balance of ``covariates`` between the groups of ``treatment`` before and after ``weights``.

    ``data`` is a DataFrame, or a matching/weighting result (``MatchedCohort``), whose data, treatment,
    covariates, weights, distance and estimand are then used unless given. ``weights``/``subclass``/``distance``:
    a column name, a Series on ``data.index`` or an array (one value per row); weights None means
    unweighted (or subclass weights when ``subclass`` is given). ``estimand`` (default ATT) picks the SMD
    denominator; ``binary`` is ``"std"`` (MatchIt, default) or ``"raw"`` (cobalt); ``thresholds`` maps
    ``smd``, ``var_ratio`` and ``ks`` to limits (None: not checked; defaults :data:`DEFAULT_THRESHOLDS`).
    ``workers``: threads over terms (default: the CPU count, at most 4).
    """
    if not isinstance(data, pd.DataFrame) and hasattr(data, "weights") and hasattr(data, "data"):
        cohort = data
        data = cohort.data
        treatment = treatment or cohort.treatment
        covariates = list(covariates or cohort.covariates)
        weights = cohort.weights if weights is None else weights
        if distance is None and not pd.isna(cohort.distance).all():  # no score (CEM, exact): no distance row
            distance = cohort.distance
        estimand = estimand or cohort.estimand
    estimand = estimand or "ATT"
    if treatment is None or covariates is None:
        raise SopEvalError("balance() needs treatment= and covariates= when data is a DataFrame.")
    if estimand not in ESTIMANDS:
        raise SopEvalError(f"estimand={estimand!r} is not one of {examples(ESTIMANDS)}.")
    if binary not in BINARY_RULES:
        raise SopEvalError(f"binary={binary!r} is not 'std' (standardise, as MatchIt) or 'raw' (as cobalt).")
    limits = dict(DEFAULT_THRESHOLDS)
    for key, value in (thresholds or {}).items():
        if key not in DEFAULT_THRESHOLDS:
            raise SopEvalError(f"thresholds key {key!r} is not one of {examples(list(DEFAULT_THRESHOLDS))}.")
        if value is not None and not (isinstance(value, (int, float)) and value > 0):
            raise SopEvalError(f"thresholds[{key!r}]={value!r} must be a positive number or None.")
        limits[key] = None if value is None else float(value)
    covariates = [covariates] if isinstance(covariates, str) else list(covariates)
    if not covariates or len(set(covariates)) != len(covariates):
        raise SopEvalError(f"covariates={covariates!r} must name at least one column, each once.")
    design.check_frame(data, treatment, covariates)
    treat = design.treatment_indicator(data, treatment)
    sub = None if subclass is None else _vector(subclass, data, "subclass")
    if weights is not None:
        w = _check_weights(_vector(weights, data, "weights"))
    elif sub is not None:
        w = subclass_weights(treat, sub, estimand)
    else:
        w = np.ones(len(data))
    if not (w[treat] > 0).any() or not (w[~treat] > 0).any():
        raise SopEvalError("weights give no positive weight to the treated or to the controls; nothing to compare.")
    dist = None if distance is None else _vector(distance, data, "distance").astype(float)
    ones = np.ones(len(data))
    w_t, w_c = w[treat], w[~treat]
    ones_t, ones_c = np.ones(len(w_t)), np.ones(len(w_c))
    raw = binary == "raw"

    def one_term(x: np.ndarray, source: str) -> tuple[dict[str, Any], dict[Any, Any]]:
        term = _prepare(x, treat, estimand)
        before = _stats(term, ones_t, ones_c, raw, before=True)
        after = _stats(term, w_t, w_c, raw)
        row: dict[str, Any] = {"covariate": source, "binary": term.binary}
        for stat in STATS:
            row[f"{stat}_before"], row[f"{stat}_after"] = before[stat], after[stat]
        per_sub: dict[Any, Any] = {}
        if sub is not None:
            fallback = _proportional_sd(x, treat, term.binary)
            for s in pd.unique(sub):
                keep = sub == s
                if treat[keep].any() and (~treat[keep]).any():
                    xs, ts = x[keep], treat[keep]
                    sd = _subclass_denominator(xs[ts], xs[~ts], term.binary, estimand, term.denominator, fallback)
                    part = _prepare(xs, ts, estimand, term.binary, sd)
                    ws = w[keep] if weights is not None else ones[keep]
                    per_sub[s] = _stats(part, ws[treat[keep]], ws[~treat[keep]], raw)
        return row, per_sub

    def one(item: str | None) -> list[tuple[str, tuple[dict[str, Any], dict[Any, Any]]]]:
        # the design columns of one covariate at a time: no copy of the whole matrix
        if item is None:
            assert dist is not None
            return [("distance", one_term(dist, "distance"))]
        X = design.covariate_matrix(data, [item], all_levels=True)
        return [(str(k), one_term(X[k].to_numpy(dtype=float), item)) for k in X.columns]

    n_workers = workers or min(os.cpu_count() or 1, 4)
    items: list[str | None] = ([None] if dist is not None else []) + list(covariates)
    with ThreadPoolExecutor(max_workers=max(n_workers, 1)) as pool:
        results = dict(pair for part in pool.map(one, items) for pair in part)
    table = pd.DataFrame.from_dict({k: r[0] for k, r in results.items()}, orient="index")
    for name, value in limits.items():
        if value is None:
            continue
        stat = table[f"{_THRESHOLD_STAT[name]}_after"].astype(float)
        if name == "var_ratio":
            flag = (stat >= 1 / value) & (stat <= value)
        else:
            flag = np.abs(stat) <= value
        table[f"balanced_{name}"] = flag.where(stat.notna(), None)
    sizes = pd.DataFrame(
        {
            "all": [int((~treat).sum()), int(treat.sum())],
            "weighted": [int(np.count_nonzero(w[~treat])), int(np.count_nonzero(w[treat]))],
            "ess": [effective_sample_size(w[~treat]), effective_sample_size(w[treat])],
            "zero_weight": [int(np.sum(w[~treat] == 0)), int(np.sum(w[treat] == 0))],
        },
        index=["control", "treated"],
    )
    sub_table = sub_sizes = None
    if sub is not None:
        records = [{"subclass": s, "term": name, **stats} for name, r in results.items() for s, stats in r[1].items()]
        sub_table = pd.DataFrame(records).set_index(["subclass", "term"]).sort_index(level=0, sort_remaining=False)
        sub_sizes = (pd.DataFrame({"subclass": sub, "group": np.where(treat, "treated", "control")})
                     .value_counts().unstack(fill_value=0).sort_index())
    denom = {"ATT": "treated SD, full sample", "ATC": "control SD, full sample"}.get(
        estimand, "pooled SD sqrt((var_t + var_c) / 2), full sample")
    if raw:
        denom += "; binary terms: raw difference in proportions"
    return Balance(table, sizes, estimand, limits, binary, denom, sub_table, sub_sizes)
