"""Covariate balance before and after matching or weighting, in MatchIt's conventions.

For each term (each level of a categorical) and for the distance:

- means of the treated and control groups, weighted by the matching weights after matching;
- standardised mean difference: (treated mean - control mean) / SD, where SD is computed in the
  full, unweighted sample — the treated group's SD for the ATT, the control group's for the ATC,
  sqrt((var_t + var_c) / 2) for the ATE. For a binary (0/1) term the variance is p(1 - p); for others
  the sample variance (n - 1). Differences below sqrt(machine epsilon) are reported unstandardised;
- variance ratio treated / control (weighted, with the reliability-weights correction
  1 / (1 - sum w^2) for normalised weights); not defined for binary terms;
- eCDF mean and max: the mean and maximum absolute difference between the weighted empirical CDFs
  of the two groups, evaluated at every distinct value (of all units, including those with weight
  zero); for binary terms both equal the absolute difference in means.

These reproduce MatchIt 4.5's ``summary()`` (``standardize = TRUE``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sop_eval.outputs import ShortRepr, json_safe

_EPS = np.sqrt(np.finfo(float).eps)
_STATS = ("mean_treated", "mean_control", "smd", "var_ratio", "ecdf_mean", "ecdf_max")


def _wvar(x: np.ndarray, w: np.ndarray, binary: bool) -> float:
    w = w / w.sum()
    mx = float(np.sum(w * x))
    if binary:
        return mx * (1 - mx)
    return float(np.sum(w * (x - mx) ** 2) / (1 - np.sum(w**2)))


def weighted_ecdf_gap(x: np.ndarray, treat: np.ndarray, w: np.ndarray) -> np.ndarray:
    """|F_treated(v) - F_control(v)| at each distinct value v of ``x`` (weights normalised per group)."""
    w = w.astype(float).copy()
    for g in (True, False):
        total = w[treat == g].sum()
        if total > 0:
            w[treat == g] /= total
    order = np.argsort(x, kind="stable")
    xs = x[order]
    signed = np.where(treat[order], -w[order], w[order])
    gaps = np.abs(np.cumsum(signed))
    last_of_value = np.r_[xs[1:] != xs[:-1], True]
    return gaps[last_of_value]


def weighted_ecdf(x: np.ndarray, treat: np.ndarray, w: np.ndarray) -> pd.DataFrame:
    """Weighted empirical CDFs of both groups at each distinct value of ``x`` (tidy frame)."""
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


def _denominator(x: np.ndarray, treat: np.ndarray, binary: bool, estimand: str) -> float:
    ones = np.ones(len(x))
    vt = _wvar(x[treat], ones[treat], binary)
    vc = _wvar(x[~treat], ones[~treat], binary)
    sd = {"ATT": np.sqrt(vt), "ATC": np.sqrt(vc)}.get(estimand, np.sqrt((vt + vc) / 2))
    if not np.isfinite(sd) or sd < _EPS:
        sd = np.sqrt((vt + vc) / 2)
    return float(sd)


def term_balance(x: np.ndarray, treat: np.ndarray, w: np.ndarray, estimand: str = "ATT") -> dict[str, float]:
    """Balance statistics of one term under weights ``w`` (see the module docstring for conventions)."""
    binary = bool(np.all((x == 0) | (x == 1)))
    t, c = treat, ~treat
    out = dict.fromkeys(_STATS, np.nan)
    too_small = np.count_nonzero(w[t]) < 2 and np.count_nonzero(w[c]) < 2
    mt = float(np.sum(x[t] * w[t]) / np.sum(w[t])) if np.sum(w[t]) > 0 else np.nan
    mc = float(np.sum(x[c] * w[c]) / np.sum(w[c])) if np.sum(w[c]) > 0 else np.nan
    out["mean_treated"], out["mean_control"] = mt, mc
    diff = mt - mc
    if abs(diff) > _EPS:
        if not too_small:
            out["smd"] = diff / _denominator(x, treat, binary, estimand)
    else:
        out["smd"] = diff
    if binary:
        out["ecdf_mean"] = out["ecdf_max"] = abs(diff)
    elif not too_small:
        out["var_ratio"] = _wvar(x[t], w[t], False) / _wvar(x[c], w[c], False)
        gaps = weighted_ecdf_gap(x, treat, w)
        out["ecdf_mean"], out["ecdf_max"] = float(gaps.mean()), float(gaps.max())
    return out


def effective_sample_size(w: np.ndarray) -> float:
    """Kish's effective sample size (sum w)^2 / sum w^2 of the positive weights."""
    w = w[w > 0]
    return float(w.sum() ** 2 / np.sum(w**2)) if len(w) else 0.0


@dataclass(frozen=True, repr=False)
class BalanceTable(ShortRepr):
    """Balance of each term before and after matching (or weighting).

    ``table`` is indexed by term (``distance`` first, then each covariate, categoricals as one row per
    level) with columns ``<stat>_before`` and ``<stat>_after`` for ``mean_treated``, ``mean_control``,
    ``smd``, ``var_ratio``, ``ecdf_mean``, ``ecdf_max``, plus ``binary`` and ``covariate`` (the source
    column). ``sample_sizes`` holds counts and effective sample sizes by group. Conventions: see the
    ``sop_eval.cohorts.balance`` module docstring; ``smd_denominator`` names the SD used.
    """

    table: pd.DataFrame
    sample_sizes: pd.DataFrame
    estimand: str = "ATT"
    threshold: float = 0.1
    smd_denominator: str = "treated SD, full sample"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def imbalanced(self) -> list[str]:
        """Terms whose |SMD| after matching exceeds ``threshold`` (the distance excluded)."""
        t = self.table.drop(index="distance", errors="ignore")
        return [str(k) for k in t.index[np.abs(t["smd_after"].fillna(0.0)) > self.threshold]]

    def summary(self) -> pd.DataFrame:
        """Tidy table: one row per term with before/after statistics and a ``flag`` (|SMD after| > threshold)."""
        out = self.table.reset_index(names="term")
        out["flag"] = np.abs(out["smd_after"].fillna(0.0)) > self.threshold
        out.attrs["smd_denominator"] = self.smd_denominator
        out.attrs["threshold"] = self.threshold
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary of the table, the sample sizes and the conventions."""
        rows = json_safe(self.summary().to_dict(orient="records"))
        sizes = json_safe(self.sample_sizes.to_dict(orient="index"))
        return {
            "estimand": self.estimand,
            "threshold": float(self.threshold),
            "smd_denominator": self.smd_denominator,
            "terms": rows,
            "sample_sizes": sizes,
            "imbalanced": self.imbalanced,
        }


def compute_balance(
    X: pd.DataFrame,
    treat: np.ndarray,
    weights: np.ndarray,
    *,
    distance: np.ndarray | None = None,
    sources: dict[str, str] | None = None,
    estimand: str = "ATT",
    threshold: float = 0.1,
) -> BalanceTable:
    """Build a :class:`BalanceTable` from a design matrix (all levels), treatment and weights."""
    terms = {"distance": distance} if distance is not None else {}
    terms.update({str(k): X[k].to_numpy(dtype=float) for k in X.columns})
    ones = np.ones(len(treat))
    rows = {}
    for name, x in terms.items():
        before = term_balance(x, treat, ones, estimand)
        after = term_balance(x, treat, weights, estimand)
        row: dict[str, Any] = {
            "covariate": "distance" if name == "distance" else (sources or {}).get(name, name),
            "binary": bool(np.all((x == 0) | (x == 1))),
        }
        for stat in _STATS:
            row[f"{stat}_before"] = before[stat]
            row[f"{stat}_after"] = after[stat]
        rows[name] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    sizes = pd.DataFrame(
        {
            "all": [int((~treat).sum()), int(treat.sum())],
            "matched": [int(np.count_nonzero(weights[~treat])), int(np.count_nonzero(weights[treat]))],
            "ess_after": [effective_sample_size(weights[~treat]), effective_sample_size(weights[treat])],
            "unmatched": [int(np.sum(weights[~treat] == 0)), int(np.sum(weights[treat] == 0))],
        },
        index=["control", "treated"],
    )
    denom = {"ATT": "treated SD, full sample", "ATC": "control SD, full sample"}.get(
        estimand, "pooled SD sqrt((var_t + var_c) / 2), full sample"
    )
    return BalanceTable(table, sizes, estimand, float(threshold), denom)
