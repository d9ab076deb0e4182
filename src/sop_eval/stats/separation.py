"""Whether a logit's maximum-likelihood estimate exists: the linear-programming test for separation.

The logit MLE of 0/1 ``y`` on ``X`` is infinite exactly when a direction ``b != 0`` has ``x_i'b >= 0`` for every
``y_i = 1`` and ``x_i'b <= 0`` for every ``y_i = 0`` with at least one strict inequality (Albert & Anderson 1984):
along ``b`` the likelihood keeps increasing and the fitted probabilities of the strictly separated rows reach 0
or 1. Complete separation has every row strict, quasi-complete separation some. The test is the linear programme
of Konis (2007, R ``safeBinaryRegression``/``detectseparation``): maximise ``sum_i s_i x_i'b`` subject to
``s_i x_i'b >= 0`` and ``-1 <= b <= 1`` (``s_i = 2 y_i - 1``); separation is a positive optimum. A strong but
imperfect predictor (a covariate that is 1 for 98% of one group and 1% of the other) has no such direction.

The terms responsible are the fewest non-intercept columns that still separate with every other column's
coefficient held at 0 (dropped one by one while separation remains).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linprog

#: A row counts as strictly separated when its margin ``s_i x_i'b`` exceeds this (columns scaled to [-1, 1]).
MARGIN = 1e-6


def _separated_rows(S: np.ndarray, free: np.ndarray) -> int:
    """Rows of ``S`` (rows ``s_i x_i``) strictly separated by the best direction using only ``free`` columns."""
    bounds = [(-1.0, 1.0) if f else (0.0, 0.0) for f in free]
    res = linprog(-S.sum(axis=0), A_ub=-S, b_ub=np.zeros(len(S)), bounds=bounds, method="highs")
    if res.status != 0 or res.x is None:
        return 0
    margins = S @ res.x
    if margins.min() < -MARGIN:
        return 0
    return int(np.count_nonzero(margins > MARGIN))


def separating_columns(X: np.ndarray, y: np.ndarray) -> list[int]:
    """Indices of the non-intercept columns of ``X`` (column 0 the intercept) whose coefficients go to infinity
    because they separate ``y`` completely or quasi-completely; empty when the logit MLE exists.

    Columns should be scaled to about [-1, 1] (the margin tolerance :data:`MARGIN` is absolute).
    """
    s = 2.0 * np.asarray(y, dtype=float) - 1.0
    S = np.unique(np.asarray(X, dtype=float) * s[:, None], axis=0)
    free = np.ones(S.shape[1], dtype=bool)
    if not _separated_rows(S, free):
        return []
    for j in range(1, S.shape[1]):
        free[j] = False
        if not _separated_rows(S, free):
            free[j] = True
    return [j for j in range(1, S.shape[1]) if free[j]]
