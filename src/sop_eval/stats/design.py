"""The covariate design matrix: numeric columns as they are, categorical ones as 0/1 indicators.

Hand-written rather than a wrapper of ``pandas.get_dummies`` or a formula library: the checks and messages
are this package's (the column named, the rows shown, the fix said), only the levels present in the data get
a column (an unused category never makes a regression singular), and the matrix is built once in float64.

Conventions. Categorical, string and object columns — and boolean ones unless ``booleans="numeric"`` —
become indicators named ``column_level``. Levels are a categorical's categories in their order, otherwise
the distinct values sorted by their text. The first level is the reference and gets no column (R's treatment
contrasts), unless ``all_levels=True`` (balance tables, as MatchIt's summary). ``intercept=True`` puts a
column of ones named ``(intercept)`` first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sop_eval.errors import SopEvalError, examples

INTERCEPT = "(intercept)"
MAX_LEVELS = 500
"""The most categories one categorical covariate of a matching model may have."""
ROWS_PER_LEVEL = 10
"""The fewest rows per category, on average, a categorical covariate of a matching model needs."""


def max_levels(n: int) -> int:
    """The most categories a categorical covariate may have among ``n`` rows (with ``strict=True``):
    :data:`MAX_LEVELS`, and no more than ``n / ROWS_PER_LEVEL`` (but always at least 20)."""
    return max(20, min(MAX_LEVELS, n // ROWS_PER_LEVEL))


def is_categorical(col: pd.Series, *, booleans: str = "categorical") -> bool:
    """Whether ``col`` becomes indicators: categorical, string or object dtype (and boolean, by default)."""
    if pd.api.types.is_bool_dtype(col):
        return booleans == "categorical"
    return (
        isinstance(col.dtype, pd.CategoricalDtype)
        or pd.api.types.is_string_dtype(col)
        or col.dtype == np.dtype("O")
    )


def levels(col: pd.Series) -> list[Any]:
    """The levels of ``col`` present in the data: a categorical's in category order, others sorted as text."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        present = set(col.dropna().unique())
        return [c for c in col.cat.categories if c in present]
    return sorted(col.dropna().unique(), key=str)


@dataclass(frozen=True, eq=False)
class DesignMatrix:
    """``values`` (n × p, float64) with a name per column and the covariate each column came from."""

    values: np.ndarray
    names: tuple[str, ...]
    sources: tuple[str, ...]

    def frame(self, index: pd.Index | None = None) -> pd.DataFrame:
        """The matrix as a DataFrame with the column names, on the same memory (no copy)."""
        return pd.DataFrame(self.values, index=index, columns=list(self.names), copy=False)


def design_matrix(
    data: pd.DataFrame,
    covariates: Sequence[str],
    *,
    all_levels: bool = False,
    intercept: bool = False,
    booleans: str = "categorical",
    strict: bool = True,
    remedy: str = "impute them or drop those rows first.",
) -> DesignMatrix:
    """Design matrix of ``covariates`` (columns of ``data``, which must exist).

    Missing values raise :class:`SopEvalError` naming the covariate and the rows, followed by ``remedy``.
    ``strict=True`` (the matching checks) also refuses an empty or repeated list of covariates, infinite
    values, a constant covariate, a text column with so many distinct values that it looks like an
    identifier, and a categorical with more categories than :func:`max_levels` allows (a model cannot
    estimate them, and the indicators would not fit in memory); with ``strict=False`` such columns are passed
    through for the fit to judge.
    ``booleans="numeric"`` keeps a boolean column as one 0/1 column named after it.
    """
    if isinstance(covariates, str):
        covariates = [covariates]
    covariates = list(covariates)
    if strict and not covariates:
        raise SopEvalError("covariates is empty; name at least one pre-treatment column to match on.")
    if strict and len(set(covariates)) != len(covariates):
        dup = [c for c in covariates if covariates.count(c) > 1]
        raise SopEvalError(f"covariates lists {examples(sorted(set(dup)))} more than once; list each once.")
    n = len(data)
    cols: list[np.ndarray] = [np.ones(n)] if intercept else []
    names: list[str] = [INTERCEPT] if intercept else []
    sources: list[str] = [INTERCEPT] if intercept else []
    for name in covariates:
        col = data[name]
        missing = col.isna().to_numpy()
        if missing.any():
            rows = data.index[missing]
            raise SopEvalError(f"covariate {name!r} has {len(rows)} missing value(s) (rows {examples(rows)}); {remedy}")
        if is_categorical(col, booleans=booleans):
            lev = levels(col)
            if strict and len(lev) > 20 and len(lev) > len(col) / 2:
                # an identifier or free text: its levels would name people in term labels and messages
                raise SopEvalError(
                    f"covariate {name!r} has {len(lev)} distinct text values among {len(col)} rows; it looks like "
                    "an identifier or free text, not a pre-treatment characteristic. Remove it from covariates, or "
                    "group it into a few categories first."
                )
            if strict and len(lev) > max_levels(len(col)):
                raise SopEvalError(
                    f"covariate {name!r} has {len(lev)} categories among {len(col)} rows, more than the "
                    f"{max_levels(len(col))} a propensity model can estimate here (at most {MAX_LEVELS} categories, "
                    f"and at least {ROWS_PER_LEVEL} rows per category on average). Group its rare categories into "
                    "broader ones (e.g. 'other') before matching, or match exactly on it instead."
                )
            if strict and len(lev) < 2:
                raise SopEvalError(f"covariate {name!r} is constant (only {examples(lev)}); "
                                   "remove it from covariates.")
            values = col.astype(object).to_numpy() if not isinstance(col.dtype, pd.CategoricalDtype) else col
            for level in lev if all_levels else lev[1:]:
                cols.append(np.asarray(values == level, dtype=float))
                names.append(f"{name}_{level}")
                sources.append(name)
            continue
        x = col.to_numpy(dtype=float)
        if strict:
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
        cols.append(x)
        names.append(name)
        sources.append(name)
    # column-major: each column is written (and later read) contiguously
    matrix = np.empty((n, len(cols)), order="F")
    for j, col_values in enumerate(cols):
        matrix[:, j] = col_values
    return DesignMatrix(values=matrix, names=tuple(names), sources=tuple(sources))


def collinear_terms(gram: np.ndarray, names: Sequence[str], tol: float = 1e-9) -> list[str]:
    """Terms that are linear combinations of the intercept and earlier terms.

    ``gram`` is ``X'X / n`` of a design whose first column is the intercept (best with columns scaled to a
    common range); ``names`` name the other columns in order. One QR decomposition of ``gram`` (no pivoting)
    gives, column by column, what each term adds beyond the columns before it (``|R[j, j]|``; the columns
    of ``X'X`` depend on each other exactly as those of ``X`` do); a term is collinear when that is at most
    ``tol`` times the largest diagonal entry of ``gram`` (or ``tol``). Cost: one O(p³) factorisation.
    """
    p = gram.shape[0]
    if p <= 1:
        return []
    r = np.linalg.qr(np.asarray(gram, dtype=float), mode="r")
    added = np.abs(np.diag(r))
    scale = max(float(np.max(np.abs(np.diag(gram)))), 1.0)
    return [str(names[j - 1]) for j in range(1, p) if added[j] <= tol * scale]
