"""Optimal pair and k:1 matching (MatchIt ``method = "optimal"``): the match that minimises the total
treated-control distance, found exactly by the Hungarian algorithm (``scipy.optimize.linear_sum_assignment``).

For k:1 matching every focal unit is repeated k times, so the assignment gives each k distinct
controls at the least total distance (optmatch's ``pairmatch(controls = k)``). Exact strata are solved
separately. Calipers and anti-exact columns make pairs infeasible: they get a cost larger than any
feasible total, so the assignment first matches as many focal units as feasible pairs allow, then
minimises the distance; pairs left at that cost are dropped and their focal units are unmatched
(reason ``caliper``). When there are fewer controls than k per focal unit, the focal units whose
replicas cannot all be served keep the controls the optimum gives them. Matched sets are the
subclasses; weights are MatchIt's stratum weights.

Scale: the cost matrix is dense, (k · focal units) × controls per stratum, and the algorithm is
O(n^3): strata above :data:`MAX_CELLS` cells (2.5e7, 200 MB) are refused (use exact strata, a
caliper with ``method="nearest"``, or ``method="full"``). A 2,000 × 10,000 problem takes seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from sop_eval.cohorts import wording
from sop_eval.cohorts.nearest import CALIPER
from sop_eval.cohorts.strata import Assignment, subclass_weights
from sop_eval.errors import SopEvalError

MAX_CELLS = 25_000_000


def optimal_match(groups: Sequence[tuple[np.ndarray, np.ndarray]], cost: Callable[[np.ndarray, np.ndarray], np.ndarray],
                  treat: np.ndarray, ratio: int, estimand: str) -> Assignment:
    """Solve each stratum ``(focal positions, other positions)``; ``cost(focal, other)`` gives the distances."""
    n = len(treat)
    out_f, out_o, out_s = [], [], []
    for f, o in groups:
        if len(f) == 0 or len(o) == 0:
            continue
        if len(f) * ratio * len(o) > MAX_CELLS:
            raise SopEvalError(
                f"optimal matching of {len(f)} units to {len(o)} in one stratum needs a {len(f) * ratio:,} x "
                f"{len(o):,} cost matrix (over {MAX_CELLS:,} cells); split the data with exact=, or use "
                "method='nearest' (greedy) or method='full'."
            )
        c = cost(f, o)
        finite = np.isfinite(c)
        big = (float(c[finite].max()) + 1.0) * (min(len(f) * ratio, len(o)) + 1) if finite.any() else 1.0
        c = np.where(finite, c, big)
        rows, cols = linear_sum_assignment(np.repeat(c, ratio, axis=0))
        ok = finite[rows // ratio, cols]
        rows, cols = rows[ok], cols[ok]
        out_f.append(f[rows // ratio])
        out_o.append(o[cols])
        out_s.append(rows % ratio + 1)
    f_pos = np.concatenate(out_f) if out_f else np.empty(0, np.int64)
    o_pos = np.concatenate(out_o) if out_o else np.empty(0, np.int64)
    slots = np.concatenate(out_s) if out_s else np.empty(0, np.int64)
    if len(f_pos) == 0:
        raise SopEvalError("optimal matching found no feasible pair; widen the caliper or relax exact/antiexact.")
    order = np.lexsort((slots, f_pos))
    f_pos, o_pos, slots = f_pos[order], o_pos[order], slots[order]
    sub = np.full(n, np.nan)
    set_no = np.unique(f_pos, return_inverse=True)[1] + 1
    sub[f_pos] = set_no
    sub[o_pos] = set_no
    w = subclass_weights(sub, treat, estimand)
    t_pos, c_pos = (f_pos, o_pos) if estimand != "ATC" else (o_pos, f_pos)
    return Assignment(weights=w, subclass=sub, reasons=[], t_pos=t_pos, c_pos=c_pos, slots=slots,
                      pair_sets=sub[f_pos].astype(np.int64),
                      info={"default_reason": CALIPER})


def describe(options: Mapping[str, Any]) -> str:
    """The methods sentence for optimal k:1 matching with these :func:`sop_eval.match` options."""
    return (f"optimal {options.get('ratio', 1)}:1 matching (estimand {wording.estimand(options)}) minimising the "
            f"total distance on {wording.matched_on(options)} (Hungarian algorithm), without replacement"
            f"{wording.calipers(options)}{wording.exact(options)}; weights as MatchIt's for matched sets")
