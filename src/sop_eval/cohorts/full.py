"""Optimal full matching (MatchIt ``method = "full"``, Rosenbaum 1991; Hansen and Klopfer 2006).

Every unit with at least one feasible partner is placed in a matched set holding one treated unit and
one or more controls, or one control and several treated units, so that the total treated-control
distance within the sets is the least possible. ``min_controls`` and ``max_controls`` bound the
controls per treated unit in every set (fractions allowed: ``min_controls = 0.5`` lets a control take
two treated units). Sets are the subclasses; weights are MatchIt's stratum weights
(ATT: treated 1, controls treated/controls in their set, rescaled to the number of matched controls).

Solver: a minimum-cost flow on OR-Tools' ``SimpleMinCostFlow`` (C++, network simplex / cost scaling;
``ortools`` from PyPI). A full match is a star forest covering the units, so it is a minimum-cost
edge cover with degree bounds: each treated unit sends 1 (or ``min_controls``) unit of flow on its
arcs to controls and may take up to ``max_controls`` in all; each control receives at least 1 (or
1/``max_controls``) and at most 1/``min_controls``. Spare flow runs through a source-sink bypass.
Costs are integers: distances scaled so the largest is 10^9 (the objective is exact to 10^-9 of the
largest distance per set). Zero-cost edges joining two set centres are then removed, which leaves
every component a star without raising the cost. Units whose every partner is beyond a caliper (or
anti-exact) are left unmatched.

Scale: the network is dense, treated × controls arcs per exact stratum. Measured (2 cores,
benchmarks/matching/strata_scale.json): 1,000 treated and 10,000 controls (10^7 arcs) in 37 s, the
largest pool tried that fits in 60 s; 2,000 and 20,000 took 193 s. Strata above :data:`MAX_ARCS` arcs
are refused (split with exact=, or use a caliper, which removes arcs).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from sop_eval.cohorts import wording
from sop_eval.cohorts.strata import NOT_MATCHED, Assignment, subclass_weights
from sop_eval.errors import SopEvalError

MAX_ARCS = 40_000_000
_SCALE = 1e9


def _bounds(min_controls: float, max_controls: float, n_t: int, n_c: int) -> tuple[int, int, int, int]:
    """Degree bounds (treated low, treated high, control low, control high)."""
    if min_controls >= 1:
        return int(math.ceil(min_controls)), int(min(max_controls, n_c)), 1, 1
    if max_controls <= 1:
        hi = n_t if min_controls <= 0 else int(math.floor(1 / min_controls + 1e-12))
        return 1, 1, int(math.ceil(1 / max_controls - 1e-12)), min(hi, n_t)
    hi = n_t if min_controls <= 0 else int(math.floor(1 / min_controls + 1e-12))
    return 1, int(min(max_controls, n_c)), 1, min(hi, n_t)


def check_controls(min_controls: float | None, max_controls: float | None) -> tuple[float, float]:
    """Validate ``min_controls``/``max_controls`` for full matching (defaults 0 and infinity)."""
    lo = 0.0 if min_controls is None else float(min_controls)
    hi = math.inf if max_controls is None else float(max_controls)
    for name, v in (("min_controls", lo), ("max_controls", hi)):
        if v < 0 or (0 < v < 1 and abs(1 / v - round(1 / v)) > 1e-9) or (v > 1 and math.isfinite(v) and v != int(v)):
            raise SopEvalError(f"{name}={v!r} must be a whole number or 1/k (e.g. 0.5, 0.25) for full matching.")
    if hi <= 0 or lo > hi:
        raise SopEvalError(f"min_controls={lo} and max_controls={hi}: need 0 <= min_controls <= max_controls, "
                           "max_controls > 0.")
    return lo, hi


def solve_stratum(cost: np.ndarray, min_controls: float, max_controls: float) -> tuple[np.ndarray, np.ndarray]:
    """Optimal full match of one stratum: (row, column) of the chosen edges. ``cost`` may hold ``inf``."""
    try:
        from ortools.graph.python import min_cost_flow  # heavy; loaded only when full matching runs
    except ImportError:
        raise SopEvalError("method='full' needs OR-Tools: pip install 'ortools>=9.10'.") from None

    n_t, n_c = cost.shape
    lt, ut, lc, uc = _bounds(min_controls, max_controls, n_t, n_c)
    rows, cols = np.nonzero(np.isfinite(cost))
    d = cost[rows, cols]
    top = float(d.max()) if len(d) else 0.0
    unit = np.rint(d * (_SCALE / top)).astype(np.int64) if top > 0 else np.zeros(len(d), np.int64)
    src, sink = n_t + n_c, n_t + n_c + 1
    extra = n_t + n_c
    starts = [rows, np.full(n_t, src), np.arange(n_t, n_t + n_c), np.array([src])]
    ends = [cols + n_t, np.arange(n_t), np.full(n_c, sink), np.array([sink])]
    caps = [np.ones(len(rows), np.int64), np.full(n_t, ut - lt), np.full(n_c, uc - lc), np.array([extra])]
    costs = [unit, np.zeros(n_t, np.int64), np.zeros(n_c, np.int64), np.zeros(1, np.int64)]
    flow = min_cost_flow.SimpleMinCostFlow()
    arcs = flow.add_arcs_with_capacity_and_unit_cost(
        np.concatenate(starts).astype(np.int32), np.concatenate(ends).astype(np.int32),
        np.concatenate(caps).astype(np.int64), np.concatenate(costs).astype(np.int64))
    supplies = np.r_[np.full(n_t, lt), np.full(n_c, -lc), extra, -(extra + n_t * lt - n_c * lc)]
    flow.set_nodes_supplies(np.arange(n_t + n_c + 2, dtype=np.int32), supplies.astype(np.int64))
    status = flow.solve()
    if status != flow.OPTIMAL:
        raise SopEvalError(
            f"full matching has no solution with min_controls={min_controls}, max_controls={max_controls} for "
            f"{n_t} treated and {n_c} control units (each must be matched); relax min_controls/max_controls "
            "or the caliper."
        )
    used = flow.flows(arcs[: len(rows)]) > 0
    r, c = rows[used], cols[used]
    # drop zero-cost edges between two centres (both ends of degree >= 2) so every set is a star
    while True:
        deg_r = np.bincount(r, minlength=n_t)
        deg_c = np.bincount(c, minlength=n_c)
        both = (deg_r[r] >= 2) & (deg_c[c] >= 2)
        if not both.any():
            return r, c
        i = int(np.flatnonzero(both)[0])
        r, c = np.delete(r, i), np.delete(c, i)


def full_match(groups: Sequence[tuple[np.ndarray, np.ndarray]], cost: Callable[[np.ndarray, np.ndarray], np.ndarray],
               treat: np.ndarray, estimand: str, min_controls: float | None = None,
               max_controls: float | None = None) -> Assignment:
    """Full matching within each stratum ``(treated positions, control positions)``; see the module docstring."""
    lo, hi = check_controls(min_controls, max_controls)
    n = len(treat)
    sub = np.full(n, np.nan)
    pairs_t, pairs_c = [], []
    next_set = 1
    for t, c in groups:
        if len(t) == 0 or len(c) == 0:
            continue
        if len(t) * len(c) > MAX_ARCS:
            raise SopEvalError(f"full matching of {len(t):,} treated and {len(c):,} controls in one stratum needs "
                               f"{len(t) * len(c):,} arcs (over {MAX_ARCS:,}); split the data with exact= or add a "
                               "caliper.")
        m = cost(t, c)
        ok_t = np.isfinite(m).any(axis=1)
        ok_c = np.isfinite(m).any(axis=0)
        if not ok_t.any():
            continue
        r, k = solve_stratum(m[np.ix_(ok_t, ok_c)], lo, hi)
        tt, cc = t[ok_t][r], c[ok_c][k]
        # a set is a star: its centre is the end that appears more than once (either end for a pair)
        deg_t = np.bincount(r)[r]
        centre = np.where(deg_t >= 2, tt, cc)
        ids = np.unique(centre, return_inverse=True)[1] + next_set
        sub[tt] = ids
        sub[cc] = ids
        next_set = int(ids.max()) + 1
        pairs_t.append(tt)
        pairs_c.append(cc)
    if next_set == 1:
        raise SopEvalError("full matching found no feasible treated-control pair; widen the caliper.")
    t_pos, c_pos = np.concatenate(pairs_t), np.concatenate(pairs_c)
    order = np.lexsort((c_pos, sub[t_pos]))
    t_pos, c_pos = t_pos[order], c_pos[order]
    w = subclass_weights(sub, treat, estimand)
    return Assignment(weights=w, subclass=sub, reasons=[], t_pos=t_pos, c_pos=c_pos,
                      slots=np.ones(len(t_pos), np.int64), pair_sets=sub[t_pos].astype(np.int64),
                      info={"default_reason": NOT_MATCHED,
                      "min_controls": lo, "max_controls": hi if math.isfinite(hi) else None})


def describe(options: Mapping[str, Any]) -> str:
    """The methods sentence for optimal full matching with these :func:`sop_eval.match` options."""
    lo, hi = options.get("min_controls"), options.get("max_controls")
    bounds = ([f"at least {wording.number(lo)}"] if lo is not None else []) + (
        [f"at most {wording.number(hi)}"] if hi is not None else [])
    sizes = f", {' and '.join(bounds)} comparison people per treated person" if bounds else ""
    return (f"optimal full matching on {wording.matched_on(options)} (minimum-cost flow, estimand "
            f"{wording.estimand(options)}), every matched set one treated person with one or more comparison people "
            f"or the reverse{sizes}{wording.calipers(options)}{wording.exact(options)}; comparison weights as "
            "MatchIt's: treated over comparison people in the set, rescaled to the number matched")
