"""Who was dropped from the match, and whether the comparison group carries the same baseline risk.

A caliper or common-support trimming that drops the hardest cases, or a comparison group at lower
baseline risk than the people served, changes what a contract pays. These tables make both visible.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from sop_eval.errors import SopEvalError, examples

if TYPE_CHECKING:
    from sop_eval.cohorts.matching import MatchedCohort


def _risk(cohort: MatchedCohort, risk: str | pd.Series | None) -> pd.Series:
    """The risk score on the cohort's index: a column, a Series, or the propensity when None."""
    if risk is None:
        return cohort.propensity.rename("propensity")
    if isinstance(risk, str):
        if risk not in cohort.data.columns:
            raise SopEvalError(
                f"risk column {risk!r} is not in the data; columns: {examples(list(cohort.data.columns), 12)}."
            )
        values = cohort.data[risk]
    else:
        values = pd.Series(risk)
        if not values.index.equals(cohort.data.index):
            values = values.reindex(cohort.data.index)
    if not pd.api.types.is_numeric_dtype(values) or values.isna().any():
        name = risk if isinstance(risk, str) else getattr(risk, "name", "risk")
        raise SopEvalError(f"risk score {name!r} must be numeric with a value for every row of data.")
    return values.astype(float).rename(risk if isinstance(risk, str) else (values.name or "risk"))


def _weighted_mean(x: np.ndarray, w: np.ndarray) -> float:
    return float(np.sum(x * w) / np.sum(w)) if np.sum(w) > 0 else float("nan")


def dropped_profile(cohort: MatchedCohort, risk: str | pd.Series | None = None) -> pd.DataFrame:
    """Matched against unmatched focal units (treated; controls for the ATC): count, then the mean of every
    term, the propensity and ``risk``.

    Columns ``matched``, ``unmatched``, ``difference`` (unmatched - matched) and ``smd`` (difference in
    SDs of all focal units). Rows: ``n`` (count), ``propensity``, each covariate term, and the risk
    score when given; ``attrs["group"]`` names the group. No person-level rows are shown.
    """
    t = cohort.focal.to_numpy()
    kept = cohort.weights.to_numpy()[t] > 0
    X = cohort.design_matrix()[t]
    terms = {"propensity": cohort.propensity.to_numpy()[t]}
    terms.update({str(c): X[c].to_numpy(dtype=float) for c in X.columns})
    if risk is not None:
        r = _risk(cohort, risk)
        terms[f"risk: {r.name}"] = r.to_numpy()[t]
    rows = {"n": {"matched": float(kept.sum()), "unmatched": float((~kept).sum()),
                  "difference": np.nan, "smd": np.nan}}
    for name, x in terms.items():
        m_in = float(x[kept].mean()) if kept.any() else np.nan
        m_out = float(x[~kept].mean()) if (~kept).any() else np.nan
        sd = float(np.std(x, ddof=1)) if len(x) > 1 else np.nan
        rows[name] = {"matched": m_in, "unmatched": m_out, "difference": m_out - m_in,
                      "smd": (m_out - m_in) / sd if sd and sd > 0 else np.nan}
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "term"
    out.attrs["share_dropped"] = float((~kept).mean())
    out.attrs["group"] = cohort.focal_group
    return out


def compare_risk(cohort: MatchedCohort, risk: str | pd.Series | None = None) -> pd.DataFrame:
    """Mean baseline risk of treated and comparison groups, before (all units) and after matching (weighted).

    ``risk`` is a column or Series of predicted baseline risk (e.g. expected reconvictions without the
    service); the propensity score when None. Rows ``before`` and ``after``; columns ``treated``,
    ``control``, ``difference`` (treated - control), ``relative`` (difference / control) and ``smd``
    (difference in SDs of the treated group's risk, full sample). A negative difference after
    matching means the comparison group is at higher risk than the people served; a positive one, at
    lower risk — the situation that biases a reduction towards zero.
    """
    r = _risk(cohort, risk).to_numpy()
    t = cohort.treated.to_numpy()
    w = cohort.weights.to_numpy(dtype=float)
    sd = float(np.std(r[t], ddof=1)) if t.sum() > 1 else np.nan
    rows = {}
    for sample, weights in (("before", np.ones(len(r))), ("after", w)):
        mt, mc = _weighted_mean(r[t], weights[t]), _weighted_mean(r[~t], weights[~t])
        rows[sample] = {"treated": mt, "control": mc, "difference": mt - mc,
                        "relative": (mt - mc) / mc if mc else np.nan,
                        "smd": (mt - mc) / sd if sd and sd > 0 else np.nan}
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "sample"
    out.attrs["risk"] = str(_risk(cohort, risk).name)
    return out
