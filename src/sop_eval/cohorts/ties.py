"""How much the choice among equally near controls decides a nearest-neighbour match."""

from __future__ import annotations

from typing import Any

import numpy as np


def tie_share(matched: Any) -> float:
    """The share of matched treated units whose farthest chosen control had an unchosen alternative at
    exactly the same distance (0.0 when nothing was matched).

    Alternatives are the controls of the same exact-matching stratum that were not discarded. When this
    share is large, the tie rule (MatchIt's data order, see :mod:`sop_eval.cohorts.nearest`) decides many
    matches; ``ties=True`` (with replacement) keeps every tied control instead.
    """
    pairs = matched.pairs
    if len(pairs) == 0 or matched.method != "nearest":
        return 0.0
    data = matched.data
    exact = list(matched.settings.get("exact") or [])
    keys = (data[exact].astype(str).agg("\x1f".join, axis=1).to_numpy(dtype=object) if exact
            else np.full(len(data), "", dtype=object))
    d = matched.distance.to_numpy(float)
    controls = ~matched.treated.to_numpy() & ~matched.discarded.to_numpy()
    pools = {k: np.sort(d[controls & (keys == k)]) for k in set(keys[controls].tolist())}
    position = pd_positions(data.index)
    t_pos = position(pairs["treated"])
    c_pos = position(pairs["control"])
    gap = np.abs(d[c_pos] - d[t_pos])
    order = np.argsort(t_pos, kind="stable")
    t_sorted, gap_sorted = t_pos[order], gap[order]
    starts = np.flatnonzero(np.r_[True, t_sorted[1:] != t_sorted[:-1]])
    ends = np.r_[starts[1:], len(t_sorted)]
    tied = 0
    for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
        t = int(t_sorted[a])
        far = float(gap_sorted[a:b].max())
        pool = pools.get(keys[t], np.empty(0))
        s = float(d[t])
        tol = 1e-9 * max(1.0, abs(s), far)
        equal = 0
        for centre in {s - far, s + far}:
            lo, hi = np.searchsorted(pool, [centre - tol, centre + tol], side="left")
            equal += int(np.count_nonzero(np.abs(pool[lo:hi] - s) == far))
        if equal > int(np.count_nonzero(gap_sorted[a:b] == far)):
            tied += 1
    return tied / len(starts)


def pd_positions(index: Any) -> Any:
    """A function from row labels to their positions in ``index``."""
    lookup = {label: i for i, label in enumerate(index)}
    return lambda labels: np.fromiter((lookup[x] for x in labels), dtype=np.int64)
