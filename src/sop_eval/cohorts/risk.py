"""Baseline risk: a prognostic score fitted on the comparison pool only."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import statsmodels.api as sm

from sop_eval.cohorts.design import covariate_matrix
from sop_eval.errors import SopEvalError


def prognostic_score(
    data: pd.DataFrame, outcome: str, covariates: Sequence[str], treatment: str, *, kind: str = "count"
) -> pd.Series:
    """Expected outcome without the service given the covariates, for every row (a baseline risk score).

    Fitted on comparison rows only — a Poisson log-linear model for counts, a logistic model for binary
    outcomes, least squares otherwise — so treated outcomes never inform it. Used to compare the baseline
    risk of the people served, the matched comparison group and the people dropped from the match.
    """
    X = covariate_matrix(data, covariates, all_levels=False)
    X = sm.add_constant(X.astype(float), has_constant="add")
    pool = (data[treatment].to_numpy() == 0) & data[outcome].notna().to_numpy()
    if pool.sum() <= X.shape[1]:
        raise SopEvalError(
            f"a risk score for '{outcome}' needs more comparison rows with the outcome ({int(pool.sum())}) than "
            f"model terms ({X.shape[1]})."
        )
    y = data.loc[pool, outcome].astype(float)
    family = {"count": sm.families.Poisson(), "binary": sm.families.Binomial()}.get(kind, sm.families.Gaussian())
    fit = sm.GLM(y.to_numpy(), X.to_numpy()[pool], family=family).fit()
    return pd.Series(np.asarray(fit.predict(X.to_numpy())), index=data.index, name=f"expected_{outcome}")
