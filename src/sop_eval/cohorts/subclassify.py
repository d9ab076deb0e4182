"""Subclassification on the propensity score (MatchIt ``method = "subclass"``).

Cut points are quantiles (R type 7) of the distance among the treated (ATT), the controls (ATC) or
all units (ATE) at ``subclass`` equal steps (or at the given probabilities); non-discarded units fall
in the subclass whose interval holds their distance (``findInterval(..., all.inside = TRUE)``). When
a subclass has fewer than ``min_n`` treated or control units, units are moved in from neighbouring
subclasses as MatchIt's ``subclass_scoot`` does (the unit nearest the boundary moves); with
``min_n = 0`` subclasses missing a group are left unmatched. Weights: MatchIt's stratum weights
(:func:`sop_eval.cohorts.strata.subclass_weights`). Cost: one sort of the distance, O(n log n).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from sop_eval.cohorts import wording
from sop_eval.cohorts.strata import NOT_MATCHED, Assignment, stratum_reasons, subclass_weights
from sop_eval.errors import SopEvalError, SopEvalWarning


def _probs(subclass: int | Sequence[float]) -> np.ndarray:
    if isinstance(subclass, (int, np.integer)) and not isinstance(subclass, bool):
        if round(subclass) <= 1:
            raise SopEvalError(f"subclass={subclass!r} must be greater than 1 (the number of subclasses).")
        k = int(round(subclass))
        return np.array([i / k for i in range(k + 1)])
    probs = np.sort(np.asarray(subclass, dtype=float))
    if probs.ndim != 1 or len(probs) == 0 or probs.min() < 0 or probs.max() > 1:
        raise SopEvalError(f"subclass={subclass!r} must be a number of subclasses or quantiles between 0 and 1.")
    if probs[0] != 0:
        probs = np.r_[0.0, probs]
    if probs[-1] != 1:
        probs = np.r_[probs, 1.0]
    return probs


def _scoot(sub: np.ndarray, treat: np.ndarray, x: np.ndarray, nsub: int, min_n: int) -> np.ndarray:
    """MatchIt's ``subclass_scoot``: fill subclasses below ``min_n`` units of a group from neighbours."""
    sub = sub.copy()
    for g in (True, False):
        if np.count_nonzero(treat == g) < nsub * min_n:
            raise SopEvalError(f"not enough {'treated' if g else 'control'} units for {min_n} in each of {nsub} "
                               "subclasses; lower subclass= or min_n=.")
    groups = [g for g in (bool(treat[0]), not treat[0])]
    for g in groups:
        if np.count_nonzero(treat == g) == nsub:
            sub[treat == g] = np.arange(1, nsub + 1)
    for g in groups:
        mine = treat == g
        tab = np.bincount(sub[mine], minlength=nsub + 1)[1:].astype(np.int64)
        for _ in range(min_n):
            while (tab == 0).any():
                first0 = int(np.flatnonzero(tab == 0)[0])  # 0-based
                left = np.maximum(tab[:first0] - 1, 0) / np.abs(first0 - np.arange(first0)) if first0 else None
                right_idx = np.arange(first0 + 1, nsub)
                right = np.maximum(tab[first0 + 1:] - 1, 0) / np.abs(first0 - right_idx)
                if first0 == nsub - 1 or (first0 != 0 and left is not None and left.sum() >= right.sum()):
                    src = int(np.flatnonzero(tab[:first0] > 0).max())
                    members = np.flatnonzero(mine & (sub == src + 1))
                    mover = members[np.flatnonzero(x[members] == x[members].max())[0]]
                else:
                    src = int(right_idx[tab[first0 + 1:] > 0].min())
                    members = np.flatnonzero(mine & (sub == src + 1))
                    mover = members[np.flatnonzero(x[members] == x[members].min())[0]]
                sub[mover] = first0 + 1
                tab[first0] = 1
                tab[src] -= 1
            tab -= 1
    return sub


def subclassify(distance: np.ndarray, treat: np.ndarray, discarded: np.ndarray, estimand: str,
                subclass: int | Sequence[float] = 6, min_n: int = 1) -> Assignment:
    """Subclasses on ``distance``; see the module docstring."""
    if isinstance(min_n, bool) or not isinstance(min_n, (int, np.integer)) or min_n < 0:
        raise SopEvalError(f"min_n={min_n!r} must be a whole number >= 0.")
    probs = _probs(subclass)
    nsub = len(probs) - 1
    base = distance[treat] if estimand == "ATT" else distance[~treat] if estimand == "ATC" else distance
    q = np.quantile(base, probs)
    keep = ~discarded
    inner = q[1:-1]
    codes = np.searchsorted(inner, distance[keep], side="right") + 1  # findInterval, all.inside
    present = np.flatnonzero(np.bincount(codes, minlength=nsub + 1))  # codes are 1..nsub: counted, not sorted
    if len(present) != nsub:
        warnings.warn("due to ties in the distance, fewer subclasses were formed than requested.",
                      SopEvalWarning, stacklevel=3)
    t_keep = treat[keep]
    if min_n == 0:
        both = np.intersect1d(codes[t_keep], codes[~t_keep])
        sub_keep = np.where(np.isin(codes, both), codes, 0)
    else:
        tab1 = np.bincount(codes[t_keep], minlength=nsub + 1)[1:]
        tab0 = np.bincount(codes[~t_keep], minlength=nsub + 1)[1:]
        if (tab1[present - 1] < min_n).any() or (tab0[present - 1] < min_n).any():
            # subclass_scoot renumbers the subclasses present 1..k first
            renum = np.searchsorted(present, codes) + 1
            codes = _scoot(renum, t_keep, distance[keep], len(present), min_n)
        sub_keep = codes
    sub = np.full(len(distance), np.nan)
    sub[keep] = np.where(sub_keep > 0, sub_keep, np.nan)
    # MatchIt: factor levels renumbered 1..k over the subclasses that hold units
    inside = ~np.isnan(sub)
    held = np.bincount(sub[inside].astype(np.int64))
    number = np.cumsum(held > 0)  # rank of each subclass among those holding units
    sub[inside] = number[sub[inside].astype(np.int64)]
    w = subclass_weights(sub, treat, estimand)
    return Assignment(weights=w, subclass=sub, reasons=stratum_reasons(sub, treat, w, NOT_MATCHED),
                      info={"cut_points": [float(v) for v in q], "min_n": int(min_n)})


def describe(options: Mapping[str, Any]) -> str:
    """The methods sentence for subclassification with these :func:`sop_eval.match` options."""
    e = wording.estimand(options)
    whose = {"ATT": "the treated people's", "ATC": "the comparison people's"}.get(e, "everyone's")
    return (f"subclassification into {options.get('subclass', 6)} subclasses at quantiles of {whose} propensity "
            f"score (estimand {e}; at least {options.get('min_n', 1)} of each group per subclass)"
            f"{',' + wording.within(options) if options.get('within') else ''}; weights as MatchIt's for subclasses")
