"""Matching and inverse-probability weights, in MatchIt's convention, and the dispatch to the weighting methods."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from sop_eval.cohorts import ebal, weighting
from sop_eval.errors import SopEvalError


def matching_weights(n: int, treated_pos: np.ndarray, control_pos: np.ndarray) -> np.ndarray:
    """ATT weights from matched pairs given as positions (one row per treated-control pair).

    A matched treated unit gets weight 1. Each control gets the sum, over the matched sets it belongs
    to, of 1 / (number of controls in that set); control weights are then rescaled to sum to the
    number of distinct matched controls. Unmatched units get 0. This is MatchIt's convention.
    """
    w = np.zeros(n)
    if len(treated_pos) == 0:
        return w
    sets, inverse, counts = np.unique(treated_pos, return_inverse=True, return_counts=True)
    w[sets] = 1.0
    contribution = np.bincount(control_pos, weights=1.0 / counts[inverse], minlength=n)
    used = contribution > 0
    w[used] = contribution[used] * (used.sum() / contribution[used].sum())
    return w


def odds_weights(score: np.ndarray, treat: np.ndarray, estimand: str) -> np.ndarray:
    """Inverse-probability weights: ATT treated 1, controls e / (1 - e); ATE 1/e and 1/(1 - e).

    Weights are not rescaled (WeightIt's convention); a discarded unit should be given weight 0 by the caller.
    """
    if estimand == "ATT":
        return np.where(treat, 1.0, score / (1.0 - score))
    return np.where(treat, 1.0 / score, 1.0 / (1.0 - score))


WEIGHTING_METHODS = ("weighting", "ebal")
ESTIMANDS = {"weighting": weighting.ESTIMANDS, "ebal": ebal.ESTIMANDS}


def weigh(method: str, score: np.ndarray, treat: np.ndarray, X: pd.DataFrame, estimand: str, discarded: np.ndarray,
          *, trim: float | None = None, trim_rule: str = "truncate",
          moments: int = 1) -> tuple[np.ndarray, dict[str, Any]]:
    """Weights of ``method`` (``"weighting"``: propensity weights, :mod:`~sop_eval.cohorts.weighting`;
    ``"ebal"``: entropy balancing, :mod:`~sop_eval.cohorts.ebal`), 0 for discarded units, and a record of how
    they were made (trimming, moments, convergence)."""
    keep = ~discarded
    w = np.zeros(len(treat))
    if method == "ebal":
        if trim is not None:
            raise SopEvalError(f"trim={trim!r} applies to method='weighting' only; entropy balancing weights "
                               "are not trimmed (they would no longer balance). Leave trim out.")
        fit = ebal.entropy_balance(X[keep], treat[keep], estimand, moments=moments)
        w[keep] = fit.weights
        return w, {"ebal": fit.to_dict()}
    raw = np.where(keep, weighting.propensity_weights(score, treat, estimand), 0.0)
    w, trimming = weighting.trim_weights(raw, treat, estimand, trim, trim_rule)
    return w, {"trimming": trimming.to_dict()}
