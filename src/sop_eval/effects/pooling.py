"""Pooling effect estimates from independent cohorts into one (the Peterborough final result).

The pooled result of a contract is :func:`pool_cohorts`: all cohorts together. Its effect and its
comparison mean are the cohort-size-weighted (``n_treated``) means of the cohorts' effects and comparison
means, so its relative change is the change across all cohorts together (for counts: the events avoided
in all cohorts over the events expected in all cohorts). The contract's pooled gate is tested on it.
:func:`mean_of_cohort_reductions` — the weighted mean of each cohort's own relative reduction — is a
different, descriptive figure.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from sop_eval.effects.estimate import EffectEstimate
from sop_eval.errors import SopEvalError, examples

POOL_WEIGHTS = ("n", "inverse_variance")


def pool_cohorts(
    estimates: Sequence[EffectEstimate], weights: str | Sequence[float] = "n", label: str = "pooled"
) -> EffectEstimate:
    """The pooled result of a contract's cohorts: all cohorts together (see the module docstring).

    ``weights`` are the cohort sizes (``"n"``, the contract's rule) unless the contract gives others; the
    standard error treats the cohorts as independent.
    """
    return pool(estimates, weights=weights, label=label)


def mean_of_cohort_reductions(estimates: Sequence[EffectEstimate], weights: str | Sequence[float] = "n") -> float:
    """The weighted mean of the cohorts' relative reductions ``-estimate / comparison_mean`` (weights as
    :func:`pool`, normalised). Descriptive only: the pooled gate is decided on :func:`pool_cohorts`."""
    items = list(estimates)
    if not items:
        raise SopEvalError("mean_of_cohort_reductions() got no estimates.")
    if isinstance(weights, str) and weights == "n":
        raw = np.array([e.n_treated for e in items], dtype=float)
    elif isinstance(weights, str):
        raise SopEvalError(f"weights={weights!r} must be 'n' or a list of numbers.")
    else:
        raw = np.asarray(list(weights), dtype=float)
    if raw.shape != (len(items),) or (raw < 0).any() or raw.sum() <= 0:
        raise SopEvalError(f"weights= needs {len(items)} non-negative numbers with a positive total.")
    return float((raw / raw.sum()) @ [-e.relative for e in items])


def pool(
    estimates: Sequence[EffectEstimate], weights: str | Sequence[float] = "n", label: str = "pooled"
) -> EffectEstimate:
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
            raise SopEvalError(f"weights= needs {len(items)} finite non-negative numbers, one per estimate; "
                               f"got {examples(raw.tolist())}.")
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
            "mean_of_cohort_reductions": float(w @ [-e.relative for e in items]),
            "n_events_treated": sum(int(e.details.get("n_events_treated", 0)) for e in items)
            if all("n_events_treated" in e.details for e in items) else None,
            **_shared_rate_base(items),
        },
    )


def _shared_rate_base(items: Sequence[EffectEstimate]) -> dict[str, Any]:
    """``{"rate_per": base}`` when every estimate is an area-level rate per the same base (else nothing)."""
    bases = {e.details.get("rate_per") for e in items}
    return {"rate_per": bases.pop()} if len(bases) == 1 and None not in bases else {}
