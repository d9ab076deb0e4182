"""Matched difference-in-differences: match on pre-period characteristics, then difference the outcomes.

The matching weights of a :class:`~sop_eval.cohorts.matching.MatchedCohort` (treated 1, controls by MatchIt's
convention, 0 = unmatched) weight a 2×2 DiD (:func:`sop_eval.did.basic.did2x2`); units with weight 0 are left
out. Standard errors treat the weights as fixed (MatchIt's recommendation for a weighted outcome model) and are
clustered by person when person identifiers are given, HC1 otherwise.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from sop_eval.did.basic import DidResult, did2x2
from sop_eval.errors import SopEvalError, require_columns
from sop_eval.stats.estimate import resolve_level

_W, _T, _POST, _ID = "_sop_weight", "_sop_treated", "_sop_post", "_sop_unit"


def _cohort_parts(cohort: Any) -> tuple[pd.DataFrame, pd.Series, str]:
    for attr in ("data", "weights", "treatment"):
        if not hasattr(cohort, attr):
            raise SopEvalError(f"matched_did needs a MatchedCohort (from sop_eval.match); the object given has no "
                               f".{attr}.")
    data, weights, treatment = cohort.data, cohort.weights, cohort.treatment
    if not weights.index.equals(data.index):
        raise SopEvalError("the cohort's weights are not indexed like its data; rebuild the MatchedCohort.")
    return data, weights.astype(float), treatment


def with_matching_weights(cohort: Any, panel: pd.DataFrame, id: str, *, weight: str = "match_weight",
                          treated: str = "match_treated") -> pd.DataFrame:
    """A copy of a long ``panel`` with the cohort's matching weight and treatment joined on ``id``; people with
    weight 0 (unmatched) or not in the cohort are left out. For staggered adoption pass the result to
    ``att_gt(..., weights=weight)``."""
    data, weights, treatment = _cohort_parts(cohort)
    require_columns([id], data.columns, "matched cohort data")
    require_columns([id], panel.columns, "panel")
    if data[id].duplicated().any():
        raise SopEvalError(f"column {id!r} repeats in the cohort data; it must identify one person per row.")
    lookup = pd.DataFrame({weight: weights.to_numpy(), treated: data[treatment].astype(float).to_numpy()},
                          index=data[id].to_numpy())
    joined = panel.join(lookup, on=id)
    unknown = joined[weight].isna()
    if unknown.all():
        raise SopEvalError(f"no {id!r} of the panel is in the matched cohort; check the identifier column.")
    return joined[~unknown & (joined[weight] > 0)]


def matched_did(cohort: Any, outcome: str, *, baseline: str | None = None, post: str | None = None,
                panel: pd.DataFrame | None = None, id: str | None = None, level: float | None = None,
                alpha: float | None = None) -> DidResult:
    """DiD on a matched cohort, in one of three layouts.

    - ``baseline=``: one row per person in ``cohort.data`` with the pre-period outcome in ``baseline`` and the
      post-period outcome in ``outcome`` (a person-level two-period panel in wide form).
    - ``panel=`` with ``id=`` and ``post=``: a long person-period panel; weights and treatment are joined on
      ``id`` from ``cohort.data``.
    - ``post=`` alone: ``cohort.data`` holds repeated cross-sections (people observed before or after the start,
      marked by ``post``), matched as one pool.

    Intervals are at confidence ``level`` (default 0.95); ``alpha=`` is its deprecated spelling ``1 - level``.
    """
    level = resolve_level(level, alpha, "matched_did")
    data, weights, treatment = _cohort_parts(cohort)
    if baseline is not None:
        require_columns([outcome, baseline], data.columns, "matched cohort data")
        keep = weights > 0
        wide = pd.DataFrame({_ID: np.arange(int(keep.sum())), _T: data.loc[keep, treatment].astype(float).to_numpy(),
                             _W: weights[keep].to_numpy()})
        long = pd.concat([wide.assign(**{_POST: 0.0, outcome: data.loc[keep, baseline].to_numpy(dtype=float)}),
                          wide.assign(**{_POST: 1.0, outcome: data.loc[keep, outcome].to_numpy(dtype=float)})],
                         ignore_index=True)
        res = did2x2(long, outcome, _T, _POST, unit=_ID, weights=_W, level=level)
    elif panel is not None:
        if id is None or post is None:
            raise SopEvalError("matched_did with panel= needs id= (the person identifier column in both tables) "
                               "and post= (the 0/1 post-period column of the panel).")
        joined = with_matching_weights(cohort, panel, id, weight=_W, treated=_T)
        res = did2x2(joined, outcome, _T, post, unit=id, weights=_W, level=level)
    elif post is not None:
        require_columns([outcome, post], data.columns, "matched cohort data")
        joined = data.assign(**{_W: weights, _T: data[treatment].astype(float)})
        joined = joined[joined[_W] > 0]
        res = did2x2(joined, outcome, _T, post, unit=id, weights=_W, level=level)
    else:
        raise SopEvalError("matched_did needs baseline= (wide pre/post outcomes), panel= with id= and post= (a long "
                           "panel), or post= (repeated cross-sections in the cohort data).")
    return DidResult("matched did", outcome, res.estimate, res.se, res.n_obs, res.n_treated, res.n_comparison,
                     res.treated_mean, res.comparison_mean, res.se_type, res.n_clusters, level,
                     details={"layout": "wide" if baseline else "panel" if panel is not None else "cross-sections"})
