"""The balance table of a matched cohort (``MatchedCohort.balance()``), in MatchIt's ``summary()`` layout.

The statistics are :func:`sop_eval.cohorts.assessment.balance`'s (one rule in one place; its module docstring
states the conventions, checked against MatchIt's ``summary()``); this module only shapes them into a
:class:`BalanceTable` and keeps the older import path of the helpers it once defined.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sop_eval.cohorts.assessment import balance, effective_sample_size, weighted_ecdf
from sop_eval.cohorts.assessment import ecdf_gaps as weighted_ecdf_gap
from sop_eval.cohorts.assessment import term_stats as term_balance
from sop_eval.outputs import ShortRepr, json_safe

__all__ = ["BalanceTable", "cohort_balance", "effective_sample_size", "term_balance", "weighted_ecdf",
           "weighted_ecdf_gap"]

_NO_THRESHOLDS = {"smd": None, "var_ratio": None, "ks": None}
_SIZES = {"weighted": "matched", "ess": "ess_after", "zero_weight": "unmatched"}


@dataclass(frozen=True, repr=False)
class BalanceTable(ShortRepr):
    """Balance of each term before and after matching (or weighting).

    ``table`` is indexed by term (``distance`` first, then each covariate, categoricals as one row per
    level) with columns ``covariate`` (the source column), ``binary`` and ``<stat>_before``, ``<stat>_after``
    for ``mean_treated``, ``mean_control``, ``smd``, ``var_ratio``, ``ecdf_mean``, ``ecdf_max``.
    ``sample_sizes`` holds counts and effective sample sizes by group. Conventions: see
    :mod:`sop_eval.cohorts.assessment`; ``smd_denominator`` names the SD used.
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


def cohort_balance(cohort: Any, threshold: float = 0.1) -> BalanceTable:
    """Balance of a ``MatchedCohort``'s covariate terms (and its distance, unless it has none) under its weights."""
    distance = None if cohort.distance.isna().all() else cohort.distance
    got = balance(cohort.data, cohort.treatment, list(cohort.covariates), weights=cohort.weights,
                  distance=distance, estimand=cohort.estimand, thresholds=_NO_THRESHOLDS)
    sizes = got.sample_sizes.rename(columns=_SIZES)[["all", "matched", "ess_after", "unmatched"]]
    return BalanceTable(got.table, sizes, cohort.estimand, float(threshold), got.smd_denominator)
