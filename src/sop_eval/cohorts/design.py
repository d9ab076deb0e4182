"""Checked inputs for matching: the treatment indicator and the covariate design matrix."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from sop_eval.errors import SopEvalError, examples, require_columns


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


def _is_categorical(col: pd.Series) -> bool:
    return (
        isinstance(col.dtype, pd.CategoricalDtype)
        or pd.api.types.is_string_dtype(col)
        or pd.api.types.is_bool_dtype(col)
        or col.dtype == np.dtype("O")
    )


def _levels(col: pd.Series) -> list:
    if isinstance(col.dtype, pd.CategoricalDtype):
        present = set(col.dropna().unique())
        return [c for c in col.cat.categories if c in present]
    return sorted(col.dropna().unique(), key=str)


def covariate_matrix(data: pd.DataFrame, covariates: Sequence[str], *, all_levels: bool) -> pd.DataFrame:
    """Numeric design matrix of ``covariates`` (no intercept), one column per term.

    Categorical, string and boolean columns become 0/1 indicators named ``column_level``: every level
    when ``all_levels`` (for balance tables, as MatchIt's summary), all but the first otherwise (for
    model fitting, as R's treatment contrasts). Missing or infinite values and constant covariates
    raise :class:`SopEvalError` naming the column.
    """
    if isinstance(covariates, str):
        covariates = [covariates]
    covariates = list(covariates)
    if not covariates:
        raise SopEvalError("covariates is empty; name at least one pre-treatment column to match on.")
    if len(set(covariates)) != len(covariates):
        dup = [c for c in covariates if covariates.count(c) > 1]
        raise SopEvalError(f"covariates lists {examples(sorted(set(dup)))} more than once; list each once.")
    parts: dict[str, np.ndarray] = {}
    for name in covariates:
        col = data[name]
        missing = col.isna().to_numpy()
        if missing.any():
            rows = data.index[missing]
            raise SopEvalError(
                f"covariate {name!r} has {len(rows)} missing value(s) (rows {examples(rows)}); "
                "matching needs complete covariates: impute them or drop those rows first."
            )
        if _is_categorical(col):
            levels = _levels(col)
            if len(levels) > 20 and len(levels) > len(col) / 2:
                # an identifier or free text: its levels would name people in term labels and messages
                raise SopEvalError(
                    f"covariate {name!r} has {len(levels)} distinct text values among {len(col)} rows; it looks like "
                    "an identifier or free text, not a pre-treatment characteristic. Remove it from covariates, or "
                    "group it into a few categories first."
                )
            if len(levels) < 2:
                raise SopEvalError(f"covariate {name!r} is constant (only {examples(levels)}); "
                                   "remove it from covariates.")
            values = col.astype(object).to_numpy() if not isinstance(col.dtype, pd.CategoricalDtype) else col
            for level in levels if all_levels else levels[1:]:
                parts[f"{name}_{level}"] = np.asarray(values == level, dtype=float)
            continue
        x = col.to_numpy(dtype=float)
        infinite = ~np.isfinite(x)
        if infinite.any():
            rows = data.index[infinite]
            raise SopEvalError(
                f"covariate {name!r} has {len(rows)} infinite value(s) (rows {examples(rows)}); "
                "replace or drop them before matching."
            )
        if x.size and np.all(x == x[0]):
            raise SopEvalError(f"covariate {name!r} is constant (every value is {x[0]:g}); "
                               "remove it from covariates.")
        parts[name] = x
    return pd.DataFrame(parts, index=data.index)


def term_sources(data: pd.DataFrame, covariates: Sequence[str], terms: Sequence[str]) -> dict[str, str]:
    """Map each design-matrix term back to the covariate it came from."""
    out = {}
    for term in terms:
        if term in covariates:
            out[term] = term
        else:
            out[term] = next((c for c in covariates if term.startswith(f"{c}_")), term)
    return out


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
