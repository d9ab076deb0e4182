"""Greedy nearest-neighbour matching on a scalar score in O(n log n).

Controls are sorted once by score; each treated unit finds its place by binary search. Without
replacement, used controls are skipped with two path-compressed "next free" maps (to the left and
to the right of a sorted position), so each search costs amortised near-constant time and the whole
match costs O((n_treated + n_controls) log n_controls). Only used positions are stored, so memory
beyond the sort is O(n_treated * ratio).
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

# reasons a treated unit has no (first) match
NO_CONTROLS = "no controls left"
CALIPER = "caliper"


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


def _sorted_controls(c_score: np.ndarray, c_rank: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Controls sorted by score, ties by ``c_rank``; returns (order, sorted scores, sorted ranks)."""
    order = np.lexsort((c_rank, c_score))
    return order, c_score[order], c_rank[order]


def match_stratum(
    t_score: np.ndarray,
    c_score: np.ndarray,
    c_rank: np.ndarray,
    t_sequence: np.ndarray,
    ratio: int,
    replace: bool,
    caliper: float,
    ties: bool = False,
) -> tuple[list[list[int]], list[str | None]]:
    """Match treated units (in ``t_sequence`` order) to controls within one stratum.

    ``c_rank`` breaks ties between controls at the same distance: the lower rank wins (MatchIt picks
    the control that comes first in the data). Without replacement, matching runs in ``ratio`` rounds:
    every treated unit gets a first control before any gets a second, and a unit left without a first
    match is not offered later ones. With replacement each unit takes its ``ratio`` nearest controls;
    with ``ties`` it also keeps every further control at exactly the last chosen distance.
    Returns, per treated unit (by position in ``t_score``), the chosen control positions (into
    ``c_score``) and the reason it has no first match (None when matched).
    """
    n_t = len(t_score)
    chosen: list[list[int]] = [[] for _ in range(n_t)]
    reason: list[str | None] = [None] * n_t
    if len(c_score) == 0:
        return chosen, [NO_CONTROLS] * n_t
    order, cs, cr = _sorted_controls(c_score, c_rank)
    n = len(cs)
    starts = np.searchsorted(cs, t_score, side="left").tolist()
    tsl = t_score.tolist()
    # the per-control arrays stay numpy (no Python lists): memory stays O(n) bytes at 10^7 controls
    if replace:
        for i in t_sequence.tolist():
            picks, why = _k_nearest(cs, cr, tsl[i], starts[i], ratio, caliper, ties, n)
            chosen[i] = [int(order[p]) for p in picks]
            reason[i] = why
        return chosen, reason
    free = _FreeSlots(n)
    has_runs = bool(np.any(cs[1:] == cs[:-1]))
    active = t_sequence.tolist()
    for rnd in range(ratio):
        still = []
        for i in active:
            s, p = tsl[i], starts[i]
            r = free.next_right(p)
            left = free.next_left(p - 1)
            if has_runs and left > 0 and cs[left - 1] == cs[left]:
                # among free controls with the same score, the lowest rank (first in the data) wins
                candidate = free.next_right(int(np.searchsorted(cs, cs[left], side="left")))
                if candidate <= left:
                    left = candidate
            best = r if r < n else -1
            if left >= 0:
                dl, dr = s - cs[left], (cs[r] - s) if r < n else np.inf
                if dl < dr or (dl == dr and cr[left] < cr[r]):
                    best = left
            if best < 0:
                if rnd == 0:
                    reason[i] = NO_CONTROLS
                continue
            if abs(cs[best] - s) > caliper:
                if rnd == 0:
                    reason[i] = CALIPER
                continue
            free.take(best)
            chosen[i].append(int(order[best]))
            still.append(i)
        active = still
    return chosen, reason


def _leftwards(cs: np.ndarray, lo: int) -> Iterator[int]:
    """Sorted positions from ``lo`` down to 0, each run of equal scores in ascending rank order."""
    while lo >= 0:
        first = int(np.searchsorted(cs, cs[lo], side="left"))
        yield from range(first, lo + 1)
        lo = first - 1


def _k_nearest(
    cs: np.ndarray, cr: np.ndarray, s: float, p: int, k: int, caliper: float, ties: bool, n: int
) -> tuple[list[int], str | None]:
    """The k nearest sorted positions to score ``s`` (inserted at ``p``), two pointers outwards."""
    left = _leftwards(cs, p - 1)
    lo = next(left, -1)
    hi = p
    picks: list[int] = []
    last = None
    while lo >= 0 or hi < n:
        dl = s - cs[lo] if lo >= 0 else np.inf
        dr = cs[hi] - s if hi < n else np.inf
        take_left = dl < dr or (dl == dr and cr[lo] < cr[hi])
        d = dl if take_left else dr
        if d > caliper:
            break
        if len(picks) >= k and not (ties and d == last):
            break
        if take_left:
            picks.append(lo)
            lo = next(left, -1)
        else:
            picks.append(hi)
            hi += 1
        last = d
    if not picks:
        return picks, CALIPER
    return picks, None
