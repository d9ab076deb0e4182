"""Pooling effect estimates from independent cohorts into one (the Peterborough final result)."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from sop_eval.effects.estimate import EffectEstimate
from sop_eval.errors import SopEvalError, examples

POOL_WEIGHTS = ("n", "inverse_variance")


def pool(estimates: Sequence[EffectEstimate], weights: str | Sequence[float] = "n", label: str = "pooled") -> EffectEstimate:
    """Weighted mean of cohort estimates, with the SE of a weighted sum of independent estimates.

    ``weights``: ``"n"`` (treated cohort sizes, the Peterborough rule), ``"inverse_variance"``
    (fixed-effect meta-analysis, ``1 / se^2``) or explicit non-negative numbers, normalised to sum to 1.
    The pooled treated and comparison means are the same weighted means, so the pooled relative change
    is ``pooled estimate / pooled comparison mean``; variances add as ``sum w_c^2 var_c`` because the
    cohorts are independent. All estimates must share outcome kind and design.
    """
    items = list(estimates)
    if not items:
        raise SopEvalError("pool() got no estimates; pass a list of EffectEstimate, one per cohort.")
    bad = [type(e).__name__ for e in items if not isinstance(e, EffectEstimate)]
    if bad:
        raise SopEvalError(f"pool() takes EffectEstimate objects; got {examples(bad)}.")
    for attr in ("kind", "design", "outcome"):
        values = sorted({str(getattr(e, attr)) for e in items})
        if len(values) > 1:
            raise SopEvalError(f"pool() needs estimates of one {attr}; got {examples(values)}. Pool like with like.")
    if isinstance(weights, str):
        if weights == "n":
            raw = np.array([e.n_treated for e in items], dtype=float)
        elif weights == "inverse_variance":
            se = np.array([e.se for e in items], dtype=float)
            if (se <= 0).any():
                raise SopEvalError("weights='inverse_variance' needs every estimate to have se > 0.")
            raw = 1.0 / se**2
        else:
            raise SopEvalError(f"weights={weights!r} is not one of {', '.join(POOL_WEIGHTS)} or a list of numbers.")
    else:
        raw = np.asarray(list(weights), dtype=float)
        if raw.shape != (len(items),) or (raw < 0).any() or not np.isfinite(raw).all():
            raise SopEvalError(f"weights= needs {len(items)} finite non-negative numbers, one per estimate; got {examples(raw.tolist())}.")
    if raw.sum() <= 0:
        raise SopEvalError("pool() weights sum to zero; at least one cohort must carry weight.")
    w = raw / raw.sum()
    cm_se = [e.comparison_mean_se for e in items]
    known = all(s is not None for s in cm_se)
    dfs = [e.df for e in items]
    return EffectEstimate(
        estimate=float(w @ [e.estimate for e in items]),
        se=float(np.sqrt(w**2 @ [e.se**2 for e in items])),
        treated_mean=float(w @ [e.treated_mean for e in items]),
        comparison_mean=float(w @ [e.comparison_mean for e in items]),
        n_treated=int(sum(e.n_treated for e in items)),
        n_comparison=int(sum(e.n_comparison for e in items)),
        outcome=items[0].outcome,
        kind=items[0].kind,
        design=items[0].design,
        method=f"pooled ({weights if isinstance(weights, str) else 'given weights'}) of: "
        + "; ".join(sorted({e.method for e in items})),
        label=label,
        level=items[0].level,
        df=None if any(d is None for d in dfs) else float(sum(dfs)),
        comparison_mean_se=float(np.sqrt(w**2 @ [s**2 for s in cm_se])) if known else None,
        cov_estimate_comparison=float(w**2 @ [e.cov_estimate_comparison for e in items]),
        details={
            "pool_weights": w.tolist(),
            "cohorts": [e.label or f"estimate {i + 1}" for i, e in enumerate(items)],
            "cohort_relative": [e.relative for e in items],
            "n_events_treated": sum(int(e.details.get("n_events_treated", 0)) for e in items)
            if all("n_events_treated" in e.details for e in items) else None,
        },
    )
