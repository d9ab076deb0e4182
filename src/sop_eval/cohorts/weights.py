"""Matching and inverse-probability weights, in MatchIt's convention."""

from __future__ import annotations

import numpy as np


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
