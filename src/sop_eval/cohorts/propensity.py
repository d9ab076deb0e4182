"""Propensity scores: logistic regression, scikit-learn classifiers or a precomputed column."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit

from sop_eval.contract.vocabulary import PROPENSITY_DISTANCES as _BUILTIN
from sop_eval.errors import SopEvalError, SopEvalWarning, examples
from sop_eval.stats.design import collinear_terms
from sop_eval.stats.logit import LogitFit, newton_logit
from sop_eval.stats.separation import separating_columns


@dataclass(frozen=True)
class PropensityFit:
    """A fitted propensity model.

    ``score`` is P(treated | covariates); ``distance`` is what matching uses (the score, or the
    linear predictor for ``"linear_logit"``). ``coefficients`` holds the logit coefficients
    (intercept first) when the model is a logistic regression, otherwise it is empty.
    """

    score: np.ndarray
    distance: np.ndarray
    kind: str
    coefficients: pd.Series


def _separation_error(terms: list[str]) -> SopEvalError:
    return SopEvalError(
        f"perfect separation: covariate term(s) {examples(terms, 8)} predict treatment exactly, so treated "
        "and comparison people do not overlap and no propensity model can be fitted. Remedies: drop or "
        "coarsen these covariates, match exactly on them instead (exact=...), or restrict the data to "
        "the range where both groups occur."
    )


def _strongest_terms(X: pd.DataFrame, params: np.ndarray, k: int = 3) -> list[str]:
    """The ``k`` terms with the largest |coefficient| x SD (column by column: no copy of X)."""
    std_coef = np.abs(params[1:]) * np.array([np.std(X[c].to_numpy()) for c in X.columns])
    return [str(X.columns[j]) for j in np.argsort(-np.nan_to_num(std_coef, nan=np.inf))[:k]]


def fit_logit(X: pd.DataFrame, treat: np.ndarray) -> tuple[np.ndarray, np.ndarray, pd.Series]:
    """Maximum-likelihood logistic regression of ``treat`` on ``X`` plus an intercept (Newton–Raphson,
    :func:`sop_eval.stats.logit.newton_logit`).

    Returns the fitted probabilities, the linear predictor and the coefficients. Collinear terms, and
    separation (complete or quasi-complete: the maximum-likelihood estimate does not exist), raise
    :class:`SopEvalError` naming the terms responsible. Separation is diagnosed by one rule,
    :func:`sop_eval.stats.separation.separating_columns`, whenever Newton's iteration does not end at a finite
    maximum; a strong but imperfect predictor fits (near-separation is warned of, not refused).
    """
    values = X.to_numpy(dtype=float)
    # scale columns so Newton steps are well conditioned; coefficients are unscaled afterwards
    scale = np.r_[1.0, np.maximum(values.max(axis=0), -values.min(axis=0))]
    scale[scale == 0] = 1.0
    design = np.empty((len(X), X.shape[1] + 1), order="F")  # column-major, filled column by column
    design[:, 0] = 1.0
    for j in range(values.shape[1]):
        np.divide(values[:, j], scale[j + 1], out=design[:, j + 1])
    del values
    y = treat.astype(float)
    gram = design.T @ design / len(design)
    collinear = collinear_terms(gram, list(map(str, X.columns)))
    if collinear:
        raise SopEvalError(
            f"the propensity model cannot be fitted: covariate term(s) {examples(collinear, 8)} are "
            "linear combinations of the other covariates; remove them from covariates."
        )
    try:
        fit: LogitFit | None = newton_logit(design, y)
    except np.linalg.LinAlgError:
        fit = None
    if fit is None or not fit.converged or fit.perfect_prediction or not np.all(np.isfinite(fit.coef)):
        separating = separating_columns(design, y)
        if separating:
            raise _separation_error([str(X.columns[j - 1]) for j in separating])
        raise SopEvalError(
            "the propensity model did not converge although no covariate term separates treated from comparison "
            f"people (covariate terms {examples(list(map(str, X.columns)), 8)}); rescale or drop covariates with "
            "extreme values, or coarsen them."
        )
    params = fit.coef / scale
    lp = fit.linear_predictor
    score = expit(lp)
    extreme = int(np.count_nonzero((score < 1e-8) | (score > 1 - 1e-8)))
    if extreme:
        worst = _strongest_terms(X, params)
        warnings.warn(
            f"{extreme} fitted propensity score(s) are numerically 0 or 1 (quasi-separation); the terms "
            f"with the largest standardised coefficients are {examples(worst)}. Consider coarsening them, "
            "matching exactly on them, or discard='both'.",
            SopEvalWarning,
            stacklevel=4,
        )
    coefficients = pd.Series(params, index=["(intercept)", *map(str, X.columns)], name="coefficient")
    return score, lp, coefficients


def _classifier_scores(model: Any, X: pd.DataFrame, treat: np.ndarray) -> np.ndarray:
    # lazy: scikit-learn is slow to import and needed only when a classifier is passed as distance=
    from sklearn.base import clone
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    try:
        check_is_fitted(model)
        fitted = model
    except NotFittedError:
        fitted = clone(model).fit(X.to_numpy(dtype=float), treat.astype(int))
    except TypeError as exc:
        raise SopEvalError(f"distance={model!r} is not a scikit-learn estimator ({exc}).") from None
    classes = list(getattr(fitted, "classes_", [0, 1]))
    if 1 not in classes and True not in classes:
        raise SopEvalError(f"distance classifier {type(model).__name__} was fitted without class 1 (treated).")
    try:
        proba = fitted.predict_proba(X.to_numpy(dtype=float))
    except ValueError as exc:
        raise SopEvalError(
            f"distance classifier {type(model).__name__} cannot score the covariate terms "
            f"{examples(list(map(str, X.columns)), 12)} ({exc}); pass it unfitted, or fitted on these terms."
        ) from None
    return np.asarray(proba[:, classes.index(1)], dtype=float)


def fit_propensity(data: pd.DataFrame, X: pd.DataFrame, treat: np.ndarray, distance: Any) -> PropensityFit:
    """Propensity scores by ``distance``: ``"logit"``, ``"linear_logit"``, a classifier, or a column name.

    A scikit-learn classifier is used as given when already fitted, otherwise a clone is fitted on the
    covariate design matrix. A column name takes the scores from ``data`` (values in [0, 1] are read
    as probabilities, others are matched on as given).
    """
    empty = pd.Series(dtype=float, name="coefficient")
    if isinstance(distance, str) and distance in _BUILTIN:
        score, lp, coef = fit_logit(X, treat)
        return PropensityFit(score, lp if distance == "linear_logit" else score, distance, coef)
    if isinstance(distance, str):
        if distance not in data.columns:
            raise SopEvalError(
                f"distance={distance!r} is neither 'logit', 'linear_logit', a scikit-learn classifier nor a "
                f"column of data; available columns: {examples(list(data.columns), 12)}."
            )
        col = data[distance]
        if not pd.api.types.is_numeric_dtype(col):
            raise SopEvalError(f"distance column {distance!r} must be numeric; it has dtype {col.dtype}.")
        x = col.to_numpy(dtype=float)
        bad = ~np.isfinite(x)
        if bad.any():
            raise SopEvalError(
                f"distance column {distance!r} has {int(bad.sum())} missing or infinite value(s) (rows "
                f"{examples(data.index[bad])}); every row needs a score."
            )
        return PropensityFit(x, x, "column", empty)
    if hasattr(distance, "predict_proba"):
        score = _classifier_scores(distance, X, treat)
        return PropensityFit(score, score, type(distance).__name__, empty)
    raise SopEvalError(
        f"distance={distance!r} is not understood; use 'logit', 'linear_logit', a scikit-learn classifier "
        "with predict_proba, or the name of a column holding precomputed scores."
    )
