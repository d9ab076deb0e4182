"""Greedy nearest-neighbour matching on any distance, with per-unit eligibility (MatchIt's ``nn_matchC``).

Used by ``method="nearest"`` when the match needs more than a scalar score: a Mahalanobis distance
(``distance="mahalanobis"``/``"robust_mahalanobis"`` or ``mahvars=``), calipers on covariates,
``antiexact=`` columns, or a variable number of controls (``min_controls``/``max_controls``).

Rule (MatchIt 4.5): without replacement, matching runs in rounds r = 1..max ratio; in each round the
focal units (treated for the ATT, controls for the ATC) pick in ``order``, skipping units whose own
ratio is below r and units left without a match. A unit's eligible partners are the unused units of
the other group in its exact stratum that differ on every anti-exact column and lie within every
caliper (the propensity caliper on the score, covariate calipers on the raw values); of these it takes
the nearest. On the propensity distance, ties are broken as MatchIt's sorted scan (``nn_matchC_vec``)
breaks them, the rule of :mod:`sop_eval.cohorts.nearest` (:func:`sorted_scan_order`), so wherever the
fast path can run the same match both give the same pairs; on a Mahalanobis distance the first in data
order among equal distances is taken. With replacement each focal unit takes its ``ratio`` nearest
eligible partners at once (all of them when there are no more), in the same order, and with ``ties``
every further one at exactly the last chosen distance. Cost: one
distance row per focal unit and round, O(focal × others × terms) time and O(others) memory.

Variable ratio (Ming and Rosenbaum 2000, as MatchIt): with m = round(ratio × focal units), the
focal units sorted by score — descending when the focal group's mean score exceeds the other group's
— get ``min_controls`` each for the first k_min, then one unit k_med, then ``max_controls``, with
k_max = floor((m - min (n - 1)) / (max - min)), k_min = n - k_max - 1, k_med = m - min k_min - max
k_max (a k_med of 0 is raised to 1 at the next unit's expense).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sop_eval.cohorts.nearest import CALIPER, NO_CONTROLS


def variable_ratios(score_f: np.ndarray, score_o: np.ndarray, ratio: float, min_controls: int,
                    max_controls: int) -> np.ndarray:
    """Number of partners of each focal unit (by position in ``score_f``); see the module docstring."""
    n1 = len(score_f)
    m = int(np.floor(ratio * n1 + 0.5))
    kmax = int(np.floor((m - min_controls * (n1 - 1)) / (max_controls - min_controls)))
    kmin = n1 - kmax - 1
    kmed = m - (min_controls * kmin + max_controls * kmax)
    ratio0 = np.r_[np.full(kmin, min_controls), kmed, np.full(kmax, max_controls)].astype(np.int64)
    zero = np.flatnonzero(ratio0 == 0)
    ratio0[zero] = 1
    ratio0[zero + 1] -= 1
    descending = score_f.mean() > score_o.mean()
    order = np.argsort(-score_f if descending else score_f, kind="stable")
    out = np.empty(n1, dtype=np.int64)
    out[order] = ratio0
    return out


def sorted_scan_order(values: np.ndarray, positions: np.ndarray, value: float, position: int) -> np.ndarray:
    """Candidates (``values`` at data ``positions``) ordered as MatchIt's sorted scan reaches them from a unit.

    All units are sorted by score, equal scores in data order; a candidate sorted before the unit is below
    it. Nearest first; on equal distances the ones below come first, the nearest in the sort first (the
    last in data order among equal scores below, the first above): the rule of :mod:`sop_eval.cohorts.nearest`.
    """
    below = (values < value) | ((values == value) & (positions < position))
    d = np.where(below, value - values, values - value)
    return np.lexsort((np.where(below, -positions, positions), ~below, d))


def greedy_match(
    focal: np.ndarray,
    others: np.ndarray,
    sequence: np.ndarray,
    ratios: np.ndarray,
    replace: bool,
    score: np.ndarray | None,
    Z: np.ndarray | None,
    calipers: Sequence[tuple[np.ndarray, float]],
    antiexact: np.ndarray | None,
    ties: bool = False,
) -> tuple[list[list[int]], list[str | None]]:
    """Match focal positions (picking in ``sequence``, indices into ``focal``) to positions in ``others``.

    ``ratios[i]``: partners wanted by focal unit i. Distances on ``Z`` rows when given, else on
    ``score``. With ``ties`` (and ``replace``) every further partner at exactly the last chosen distance is kept
    too, as :func:`sop_eval.cohorts.nearest.match_stratum`. Returns per focal unit the chosen positions (into
    the data) and the reason it has none.
    """
    n_f = len(focal)
    chosen: list[list[int]] = [[] for _ in range(n_f)]
    reason: list[str | None] = [None] * n_f
    free = np.ones(len(others), dtype=bool)
    rounds = 1 if replace else int(ratios.max(initial=0))
    for rnd in range(rounds):
        for i in sequence.tolist():
            if ratios[i] < rnd + 1 or (rnd > 0 and len(chosen[i]) < rnd):
                continue
            if not free.any():
                if rnd == 0:
                    reason[i] = NO_CONTROLS
                continue
            p = focal[i]
            cand = np.flatnonzero(free)
            pos = others[cand]
            ok = np.ones(len(cand), dtype=bool)
            if antiexact is not None:
                ok &= (antiexact[pos] != antiexact[p]).all(axis=1)
            for values, width in calipers:
                ok &= np.abs(values[pos] - values[p]) <= width
            cand, pos = cand[ok], pos[ok]
            if len(cand) == 0:
                if rnd == 0:
                    reason[i] = CALIPER
                continue
            if Z is not None:
                d = np.sqrt(((Z[pos] - Z[p]) ** 2).sum(axis=1))
                ranked = np.argsort(d, kind="stable")
            else:
                assert score is not None
                d = np.abs(score[pos] - score[p])
                ranked = sorted_scan_order(score[pos], pos, float(score[p]), int(p))
            if replace:
                k = int(ratios[i])
                if ties and len(ranked) > k:
                    k += int(np.count_nonzero(d[ranked[k:]] == d[ranked[k - 1]]))
                chosen[i] = [int(x) for x in pos[ranked[:k]]]
                continue
            j = int(ranked[0])
            chosen[i].append(int(pos[j]))
            free[cand[j]] = False
    return chosen, reason
