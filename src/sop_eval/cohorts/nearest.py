"""Greedy nearest-neighbour matching on a scalar score in O(n log n), with MatchIt's tie rule.

The rule (MatchIt >= 4.5.4, ``nn_matchC_vec``): all units are sorted by score with a stable sort, so
units with equal scores keep data order. From a treated unit's sorted position, the nearest eligible
control below (lower or equal score) and the nearest above are found; the closer one is taken, and
the one below wins an exact tie. Among controls with the same score, one below the treated unit is
therefore the last of them in data order, one above the first.

Units are sorted once; each treated unit's position is known from the sort. Without replacement,
used controls are skipped with two path-compressed "next free" maps (to the left and to the right of
a sorted position), so each search costs amortised near-constant time and the whole match costs
O((n_treated + n_controls) log(n_treated + n_controls)). Only used positions are stored, so memory
beyond the sort is O(n_treated * ratio).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from sop_eval.cohorts import wording

# reasons a treated unit has no (first) match
NO_CONTROLS = "no controls left"
CALIPER = "caliper"

TIE_RULE = (
    "ties between controls go to the nearest in MatchIt's stable sort by distance (data order among "
    "equal distances): the control below the treated unit wins an exact tie with the one above; among "
    "equal-distance controls below it the last in data order is taken, above it the first"
)


class _FreeSlots:
    """Next unused sorted position to the right (or left) of a position, with path compression."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.right: dict[int, int] = {}
        self.left: dict[int, int] = {}

    def _find(self, jump: dict[int, int], i: int) -> int:
        root = i
        while root in jump:
            root = jump[root]
        while i in jump and jump[i] != root:
            jump[i], i = root, jump[i]
        return root

    def next_right(self, i: int) -> int:
        """Smallest free position >= i (``n`` when there is none)."""
        return self._find(self.right, i)

    def next_left(self, i: int) -> int:
        """Largest free position <= i (``-1`` when there is none)."""
        return self._find(self.left, i)

    def take(self, i: int) -> None:
        self.right[i] = i + 1
        self.left[i] = i - 1


def sorted_positions(
    t_score: np.ndarray, c_score: np.ndarray, t_rank: np.ndarray, c_rank: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Stable sort of all units by score, ties by rank (data order).

    Returns the controls in sorted order (positions into ``c_score``) and, per treated unit, the
    number of controls sorted before it (its insertion point among the sorted controls).
    """
    n_t = len(t_score)
    order = np.lexsort((np.concatenate([t_rank, c_rank]), np.concatenate([t_score, c_score])))
    is_c = order >= n_t
    before = np.cumsum(is_c)
    starts = np.empty(n_t, dtype=np.int64)
    starts[order[~is_c]] = before[~is_c]
    return order[is_c] - n_t, starts


def match_stratum(
    t_score: np.ndarray,
    c_score: np.ndarray,
    t_rank: np.ndarray,
    c_rank: np.ndarray,
    t_sequence: np.ndarray,
    ratio: int,
    replace: bool,
    caliper: float,
    ties: bool = False,
) -> tuple[list[list[int]], list[str | None]]:
    """Match treated units (in ``t_sequence`` order) to controls within one stratum.

    ``t_rank`` and ``c_rank`` give every unit's place in the data (distinct integers): they order
    units with equal scores in the sort, and so decide ties by the rule in the module docstring.
    Without replacement, matching runs in ``ratio`` rounds: every treated unit gets a first control
    before any gets a second, and a unit left without a match in a round is not offered later ones.
    With replacement each unit takes its ``ratio`` nearest controls, merging the controls below and
    above it by distance (below first on ties); with ``ties`` it also keeps every further control at
    exactly the last chosen distance. Returns, per treated unit (by position in ``t_score``), the
    chosen control positions (into ``c_score``) and the reason it has no first match (None when
    matched).
    """
    n_t = len(t_score)
    chosen: list[list[int]] = [[] for _ in range(n_t)]
    reason: list[str | None] = [None] * n_t
    if len(c_score) == 0:
        return chosen, [NO_CONTROLS] * n_t
    order, starts_arr = sorted_positions(t_score, c_score, t_rank, c_rank)
    cs = c_score[order]
    n = len(cs)
    starts = starts_arr.tolist()
    tsl = t_score.tolist()
    # the per-control arrays stay numpy (no Python lists): memory stays O(n) bytes at 10^7 controls
    if replace:
        for i in t_sequence.tolist():
            picks, why = _k_nearest(cs, tsl[i], starts[i], ratio, caliper, ties, n)
            chosen[i] = [int(order[p]) for p in picks]
            reason[i] = why
        return chosen, reason
    free = _FreeSlots(n)
    inf = float("inf")
    active = t_sequence.tolist()
    for rnd in range(ratio):
        still = []
        for i in active:
            s, p = tsl[i], starts[i]
            left = free.next_left(p - 1)
            right = free.next_right(p)
            dl = s - cs[left] if left >= 0 else inf
            dr = cs[right] - s if right < n else inf
            if dl <= dr:  # the control below wins an exact tie
                best, d = left, dl
            else:
                best, d = right, dr
            if d == inf:
                if rnd == 0:
                    reason[i] = NO_CONTROLS
                continue
            if d > caliper:
                if rnd == 0:
                    reason[i] = CALIPER
                continue
            free.take(best)
            chosen[i].append(int(order[best]))
            still.append(i)
        active = still
    return chosen, reason


def _k_nearest(
    cs: np.ndarray, s: float, p: int, k: int, caliper: float, ties: bool, n: int
) -> tuple[list[int], str | None]:
    """The k nearest sorted positions to score ``s`` (inserted at ``p``), two pointers outwards.

    The controls below and above are merged by distance, below first on ties (MatchIt's k rounds).
    """
    lo, hi = p - 1, p
    picks: list[int] = []
    last = None
    inf = float("inf")
    while lo >= 0 or hi < n:
        dl = s - cs[lo] if lo >= 0 else inf
        dr = cs[hi] - s if hi < n else inf
        take_left = dl <= dr
        d = dl if take_left else dr
        if d > caliper:
            break
        if len(picks) >= k and not (ties and d == last):
            break
        if take_left:
            picks.append(lo)
            lo -= 1
        else:
            picks.append(hi)
            hi += 1
        last = d
    if not picks:
        return picks, CALIPER
    return picks, None


def describe(options: Mapping[str, Any]) -> str:
    """The methods sentence for greedy nearest-neighbour matching with these :func:`sop_eval.match` options."""
    e = wording.estimand(options)
    focal, partner = ("comparison", "treated unit(s)") if e == "ATC" else ("treated", "control(s)")
    if options.get("max_controls") is not None:
        low = wording.number(options.get("min_controls") or 1)
        each = (f"between {low} and {wording.number(options['max_controls'])} {partner} each "
                f"({wording.number(options.get('ratio', 1))} on average, variable ratio)")
    else:
        each = f"up to {wording.number(options.get('ratio', 1))} {partner} each"
    tied = (", keeping every control tied at the last matched distance" if options.get("ties") else "")
    order = options.get("order") or ("smallest" if e == "ATC" else "largest")
    return (f"nearest neighbour on {wording.matched_on(options)} (estimand {e}), {each}, "
            f"{'with' if options.get('replace') else 'without'} replacement{tied}{wording.calipers(options)}"
            f"{wording.exact(options)}, {focal} units in order of {order} score first; {TIE_RULE}")
