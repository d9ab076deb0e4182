"""Checked inputs for matching: the treatment indicator and the covariate design matrix."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from sop_eval.errors import SopEvalError, examples, require_columns
from sop_eval.stats.design import design_matrix


def check_frame(data: pd.DataFrame, treatment: str, columns: Sequence[str]) -> None:
    """Raise :class:`SopEvalError` for an empty frame, duplicate row labels or missing columns."""
    if not isinstance(data, pd.DataFrame):
        raise SopEvalError(f"data must be a pandas DataFrame; got {type(data).__name__}.")
    if len(data) == 0:
        raise SopEvalError("data is empty (0 rows); matching needs treated and comparison rows.")
    if not data.index.is_unique:
        dup = data.index[data.index.duplicated()].unique()
        raise SopEvalError(
            f"data has {len(dup)} duplicate index label(s) ({examples(dup)}); pairs and weights are "
            "keyed by row label, so make them unique first, e.g. data.reset_index(drop=True)."
        )
    require_columns([treatment, *columns], data.columns)


def treatment_indicator(data: pd.DataFrame, treatment: str) -> np.ndarray:
    """The treatment column as a boolean array; it must be 0/1 (or boolean) with both groups present."""
    col = data[treatment]
    if isinstance(col.dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(col) or not (
        pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col)
    ):
        raise SopEvalError(
            f"treatment column {treatment!r} has dtype {col.dtype} (values {examples(col.unique()[:5])}); "
            "it must be numeric 0/1 or boolean (1 = received the service), e.g. (df[col] == 'yes').astype(int)."
        )
    if col.isna().any():
        rows = data.index[col.isna()]
        raise SopEvalError(
            f"treatment column {treatment!r} has {len(rows)} missing value(s) (rows {examples(rows)}); "
            "drop those rows or code them 0/1."
        )
    values = col.to_numpy()
    bad = ~np.isin(values, [0, 1])
    if bad.any():
        raise SopEvalError(
            f"treatment column {treatment!r} must be binary 0/1; found other values "
            f"{examples(pd.unique(values[bad]))} (rows {examples(data.index[bad])})."
        )
    treat = values.astype(bool)
    if treat.all():
        raise SopEvalError(f"treatment column {treatment!r} has no controls (no rows with value 0); "
                           "add the comparison pool to data.")
    if not treat.any():
        raise SopEvalError(f"treatment column {treatment!r} has no treated rows (no rows with value 1).")
    return treat


def covariate_matrix(data: pd.DataFrame, covariates: Sequence[str], *, all_levels: bool) -> pd.DataFrame:
    """Numeric design matrix of ``covariates`` (no intercept), one column per term.

    Categorical, string and boolean columns become 0/1 indicators named ``column_level``: every level
    when ``all_levels`` (for balance tables, as MatchIt's summary), all but the first otherwise (for
    model fitting, as R's treatment contrasts). Missing or infinite values and constant covariates
    raise :class:`SopEvalError` naming the column (:func:`sop_eval.stats.design.design_matrix`).
    """
    design = design_matrix(data, covariates, all_levels=all_levels,
                           remedy="matching needs complete covariates: impute them or drop those rows first.")
    return design.frame(data.index)


def exact_codes(data: pd.DataFrame, exact: Sequence[str] | str | None) -> np.ndarray | None:
    """Integer stratum codes for the ``exact`` columns (None when there are none)."""
    if exact is None:
        return None
    cols = [exact] if isinstance(exact, str) else list(exact)
    if not cols:
        return None
    require_columns(cols, data.columns, what="data (exact)")
    for name in cols:
        missing = data[name].isna().to_numpy()
        if missing.any():
            raise SopEvalError(
                f"exact column {name!r} has {int(missing.sum())} missing value(s) (rows "
                f"{examples(data.index[missing])}); fill or drop them before matching."
            )
    return data.groupby(cols, sort=True, observed=True).ngroup().to_numpy()
