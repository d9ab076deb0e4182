"""What every matching method hands back, and MatchIt's weights for matched sets and strata.

A method returns an :class:`Assignment` (positions into the data, never labels); ``sop_eval.match``
turns it into a :class:`~sop_eval.cohorts.matching.MatchedCohort`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sop_eval.errors import SopEvalError

NO_STRATUM = "no common stratum"
NOT_MATCHED = "not matched"


@dataclass(frozen=True)
class Assignment:
    """The result of one matching method on positions ``0..n-1``.

    ``weights``: MatchIt's weights. ``subclass``: matched set or stratum of each unit, 1, 2, ... (NaN
    when unmatched). ``t_pos``/``c_pos``/``slots``: treated-control pairs (empty for stratification
    methods, where ``subclass`` is the authority), ``pair_sets`` the matched set of each pair.
    ``reasons``: per treated unit (in data order), why it
    has weight 0 (None when matched). ``caliper``: the distance caliper in distance units, if any.
    ``info``: method settings as applied (cut points, subclass bounds...), JSON-safe.
    """

    weights: np.ndarray
    subclass: np.ndarray
    reasons: list[str | None]
    t_pos: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    c_pos: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    slots: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    pair_sets: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    caliper: float | None = None
    info: dict = field(default_factory=dict)


def subclass_weights(subclass: np.ndarray, treat: np.ndarray, estimand: str) -> np.ndarray:
    """MatchIt's ``weights.subclass``: weights from stratum membership (NaN: not in any stratum).

    ATT: treated 1, controls (treated in stratum / controls in stratum), rescaled so the control
    weights sum to the number of matched controls. ATC: the mirror image. ATE: treated
    (units / treated in stratum) and controls (units / controls in stratum), each group rescaled to its
    number of matched units.
    """
    sub = np.asarray(subclass, dtype=float)
    inside = ~np.isnan(sub)
    codes = np.zeros(len(sub), dtype=np.int64)
    codes[inside] = sub[inside].astype(np.int64)  # subclasses are numbered 1, 2, ... (gaps allowed)
    k = int(codes[inside].max()) + 1 if inside.any() else 0
    i1, i0 = treat & inside, ~treat & inside
    n1 = np.bincount(codes[i1], minlength=k).astype(float)
    n0 = np.bincount(codes[i0], minlength=k).astype(float)
    w = np.zeros(len(sub))
    with np.errstate(divide="ignore", invalid="ignore"):
        if estimand == "ATT":
            w[i1] = 1.0
            w[i0] = (n1 / n0)[codes[i0]]
            w[i0] *= i0.sum() / w[i0].sum()
        elif estimand == "ATC":
            w[i0] = 1.0
            w[i1] = (n0 / n1)[codes[i1]]
            w[i1] *= i1.sum() / w[i1].sum()
        else:
            w[i1] = ((n1 + n0) / n1)[codes[i1]]
            w[i0] = ((n1 + n0) / n0)[codes[i0]]
            w[i1] *= i1.sum() / w[i1].sum()
            w[i0] *= i0.sum() / w[i0].sum()
    if not (w[treat] > 0).any() or not (w[~treat] > 0).any():
        raise SopEvalError("no stratum holds both treated and control units, so nobody was matched; "
                           "coarsen the covariates further or match on fewer of them.")
    return w


def common_strata(keys: np.ndarray, treat: np.ndarray, first_group: bool) -> np.ndarray:
    """Number the strata (integer ``keys``) that hold both groups 1, 2, ... in order of first appearance
    among the units of ``first_group`` (MatchIt's ``intersect``); NaN for units in other strata.

    Hash-based, O(n): only the treated units' strata enter the hash table (every stratum holding both
    groups is among them), and each control is looked up in it.
    """
    t_codes, t_keys = pd.factorize(keys[treat])
    c_codes = pd.Index(t_keys).get_indexer(keys[~treat])  # -1: a stratum without treated units
    k = len(t_keys)
    in_common = c_codes >= 0
    with_controls = np.bincount(c_codes[in_common], minlength=k) > 0
    seen = np.arange(k) if first_group else pd.unique(c_codes[in_common])  # factorize numbers by first appearance
    kept = seen[with_controls[seen]]
    number = np.full(k, np.nan)
    number[kept] = np.arange(1, len(kept) + 1)
    out = np.empty(len(keys))
    out[treat] = number[t_codes]
    out[~treat] = np.where(in_common, number[c_codes], np.nan)
    return out


def stratum_reasons(subclass: np.ndarray, treat: np.ndarray, weights: np.ndarray, reason: str) -> list[str | None]:
    """Per treated unit: ``reason`` when it has weight 0, else None."""
    return [None if w > 0 else reason for w in weights[treat].tolist()]
