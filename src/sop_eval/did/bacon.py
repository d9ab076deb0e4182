"""Goodman-Bacon (2021) decomposition of the two-way fixed-effects DiD under staggered adoption.

For a balanced panel with an absorbing binary treatment and no covariates, the TWFE coefficient equals a weighted
average of every 2×2 DiD between timing groups: treated vs never treated, earlier vs later treated (before the
later group starts), later vs earlier treated (the earlier group, already treated, as the comparison — the
"forbidden" comparison that biases TWFE when effects change over time) and treated vs always treated. Weights
follow Goodman-Bacon's Theorem 1 (group shares × variance of treatment in each 2×2) and sum to one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sop_eval.did.panel import _gl, check_numeric
from sop_eval.errors import SopEvalError, require_columns
from sop_eval.outputs import ShortRepr
from sop_eval.outputs import json_safe as _json_safe

FORBIDDEN = "later vs earlier treated"


@dataclass(frozen=True, eq=False, repr=False)
class BaconResult(ShortRepr):
    """The 2×2 comparisons (``table``: type, treated, comparison, estimate, weight) and their weighted sum."""

    table: pd.DataFrame
    twfe_estimate: float

    @property
    def forbidden_weight(self) -> float:
        """Total weight on comparisons that use already-treated units as controls."""
        t = self.table
        return float(t.loc[t["type"].isin([FORBIDDEN]), "weight"].sum())

    def summary(self) -> pd.DataFrame:
        """Weight and weighted-average estimate by comparison type."""
        t = self.table.assign(contribution=self.table["estimate"] * self.table["weight"])
        out = t.groupby("type", sort=False).agg(weight=("weight", "sum"), contribution=("contribution", "sum"))
        out["estimate"] = out["contribution"] / out["weight"]
        return out.reset_index()[["type", "weight", "estimate"]]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe record of every comparison."""
        return _json_safe({"twfe_estimate": self.twfe_estimate, "forbidden_weight": self.forbidden_weight,
                           "comparisons": self.table.to_dict(orient="records")})


def adoption_times(data: pd.DataFrame, unit: str, time: str, treated: str) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                                                      np.ndarray]:
    """Wide treatment matrix and each unit's first treated period index (``-1`` = never treated).

    Returns ``(D, first, unit_codes, time_codes)``; raises :class:`SopEvalError` when treatment switches off.
    """
    unit_codes, _ = pd.factorize(data[unit], sort=True)
    times = np.sort(data[time].unique())
    time_codes = np.searchsorted(times, data[time].to_numpy())
    D = np.full((unit_codes.max() + 1, len(times)), np.nan)
    D[unit_codes, time_codes] = data[treated].to_numpy(dtype=float)
    filled = np.where(np.isnan(D), 0.0, D)
    if (np.diff(filled, axis=1) < 0).any():
        bad = int((np.diff(filled, axis=1) < 0).any(axis=1).sum())
        raise SopEvalError(f"treatment column {treated!r} switches off for {bad} unit(s); the staggered-adoption "
                           "tools need an absorbing treatment (once treated, always treated).")
    first = np.where(filled.any(axis=1), filled.argmax(axis=1), -1)
    return D, first, unit_codes, time_codes


def bacon_decomposition(data: pd.DataFrame, outcome: str, unit: str, time: str, treated: str) -> BaconResult:
    """Decompose the TWFE DiD coefficient of a balanced panel into its 2×2 comparisons (Goodman-Bacon 2021)."""
    require_columns([outcome, unit, time, treated], data.columns, "panel data")
    for c, what in ((outcome, "outcome"), (time, "time"), (treated, "treatment")):
        check_numeric(data, c, what)
    D, first, uc, tc = adoption_times(data, unit, time, treated)
    Y = np.full(D.shape, np.nan)
    Y[uc, tc] = data[outcome].to_numpy(dtype=float)
    if np.isnan(Y).any() or np.isnan(D).any():
        raise SopEvalError("the Goodman-Bacon decomposition needs a balanced panel with no missing outcomes; "
                           f"{int(np.isnan(Y).any(axis=1).sum())} unit(s) miss some periods.")
    times = np.sort(data[time].unique())
    T = len(times)
    starts, counts = np.unique(first, return_counts=True)
    share = counts / counts.sum()
    dbar = np.where(starts < 0, 0.0, (T - starts) / T)
    means = np.vstack([Y[first == s].mean(axis=0) for s in starts])
    period = np.arange(T)

    def did(a: int, b: int, window: np.ndarray, post: np.ndarray) -> float:
        pre = window & ~post
        po = window & post
        return float((means[a, po].mean() - means[a, pre].mean()) - (means[b, po].mean() - means[b, pre].mean()))

    def label(i: int) -> Any:
        return "never" if starts[i] < 0 else _gl(times[starts[i]])

    rows = []
    for k in range(len(starts)):
        for j in range(len(starts)):
            dk, dj = dbar[k], dbar[j]
            if not dk > dj:
                continue
            nk, nj = share[k], share[j]
            nkj = nk / (nk + nj)
            if dk < 1:
                window = period < starts[j] if starts[j] >= 0 else np.ones(T, dtype=bool)
                w = ((nk + nj) * (1 - dj)) ** 2 * nkj * (1 - nkj) * ((dk - dj) / (1 - dj)) * ((1 - dk) / (1 - dj))
                kind = "treated vs never treated" if starts[j] < 0 else "earlier vs later treated"
                rows.append((kind, label(k), label(j), did(k, j, window, period >= starts[k]), w))
            if dj > 0:
                window = period >= starts[k]
                w = ((nk + nj) * dk) ** 2 * nkj * (1 - nkj) * (dj / dk) * ((dk - dj) / dk)
                kind = "treated vs always treated" if dk == 1 else FORBIDDEN
                rows.append((kind, label(j), label(k), did(j, k, window, period >= starts[j]), w))
    if not rows:
        raise SopEvalError(f"treatment {treated!r} has no variation over time; there is no DiD to decompose.")
    table = pd.DataFrame(rows, columns=["type", "treated", "comparison", "estimate", "weight"])
    table["weight"] /= table["weight"].sum()
    return BaconResult(table=table, twfe_estimate=float(table["estimate"] @ table["weight"]))
