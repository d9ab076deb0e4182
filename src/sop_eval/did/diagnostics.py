"""Diagnostics for DiD designs: the pre-trend Wald test over pre-treatment ATT(g,t)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats

from sop_eval.did.panel import check_numeric
from sop_eval.errors import SopEvalError, require_columns
from sop_eval.outputs import ShortRepr
from sop_eval.outputs import json_safe as _json_safe
from sop_eval.stats.influence import influence_covariance

if TYPE_CHECKING:
    from sop_eval.did.att_gt import AttGtResult


@dataclass(frozen=True, repr=False)
class WaldTest(ShortRepr):
    """A chi-squared Wald test: ``statistic`` on ``df`` degrees of freedom with its ``p_value``."""

    statistic: float
    df: int
    p_value: float
    hypothesis: str

    def summary(self) -> pd.DataFrame:
        """One tidy row: hypothesis, statistic, df, p_value."""
        return pd.DataFrame([{"hypothesis": self.hypothesis, "statistic": self.statistic, "df": self.df,
                              "p_value": self.p_value}])

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe record."""
        return _json_safe(dict(statistic=self.statistic, df=self.df, p_value=self.p_value, hypothesis=self.hypothesis))


def pretrend_test(res: AttGtResult) -> WaldTest:
    """Wald test that all pre-treatment ATT(g,t) (``t < g - anticipation``) are jointly zero.

    As R ``did``: ``W = n · att_pre' V_pre⁻¹ att_pre`` with ``V = psi'psi / n`` from the analytic influence
    functions (also when the SEs are bootstrapped), over pre-treatment cells with a non-zero variance;
    ``W ~ chi²(number of cells)`` under parallel pre-trends. With clusters, ``V`` sums the influence functions
    within clusters first.
    """
    psi = res.influence
    n = psi.shape[0]
    pre = (res.time < res.group - res.anticipation) & np.isfinite(res.att) & np.isfinite(psi).all(axis=0)
    var = np.mean(psi**2, axis=0)
    pre &= var > 0
    idx = np.flatnonzero(pre)
    if idx.size == 0:
        raise SopEvalError("no pre-treatment ATT(g,t) is available for the pre-trend test; the panel needs periods "
                           "before each cohort's base period.")
    V = influence_covariance(psi[:, idx], res.unit_cluster)
    if 1.0 / np.linalg.cond(V, 1) <= np.finfo(float).eps:
        raise SopEvalError("the covariance of the pre-treatment ATT(g,t) is singular; the pre-trend test cannot be "
                           "computed (too few units per cohort).")
    a = res.att[idx]
    W = float(n * a @ np.linalg.solve(V, a))
    return WaldTest(statistic=W, df=int(idx.size), p_value=float(stats.chi2.sf(W, idx.size)),
                    hypothesis="all pre-treatment ATT(g,t) are zero (parallel pre-trends)")


def raw_means(data: pd.DataFrame, outcome: str, time: str, group: str) -> pd.DataFrame:
    """Mean outcome by group (cohort or treated/comparison indicator; missing counts as 0) and period, with the
    number of observations — the input of the raw-means parallel-trends plot."""
    require_columns([outcome, time, group], data.columns, "data")
    check_numeric(data, outcome, "outcome")
    df = data[[outcome, time, group]].assign(**{group: data[group].fillna(0)})
    out = df.groupby([group, time], sort=True)[outcome].agg(["mean", "count"]).reset_index()
    return out.rename(columns={group: "group", time: "time", "count": "n"})
