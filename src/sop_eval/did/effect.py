"""Turn a DiD result into the :class:`~sop_eval.effects.estimate.EffectEstimate` that gates and payments use."""

from __future__ import annotations

from typing import Any

from sop_eval.did.aggregate import AggregateResult
from sop_eval.did.att_gt import AttGtResult
from sop_eval.did.basic import DidResult
from sop_eval.effects.estimate import EffectEstimate
from sop_eval.errors import SopEvalError


def to_effect_estimate(result: Any, *, kind: str = "continuous", label: str = "", outcome: str | None = None,
                       level: float | None = None) -> Any:
    """An ``EffectEstimate`` (design ``"did"``) from an aggregated ATT(g,t), a 2×2, TWFE or matched DiD result.

    ``estimate`` is the ATT per unit in outcome units (e.g. care days per child); ``treated_mean`` is the treated
    units' post-treatment mean and ``comparison_mean`` the counterfactual ``treated_mean - estimate``, so the
    relative change is measured against what the treated would have had without the service.
    """
    if isinstance(result, AttGtResult):
        raise SopEvalError("aggregate the ATT(g,t) first, e.g. to_effect_estimate(res.aggregate('simple')); a payment "
                           "needs one number.")
    if isinstance(result, AggregateResult):
        est, se, tmean = result.overall_att, result.overall_se, result.treated_mean
        method = f"att_gt {result.kind} aggregate ({result.method}, {result.control} controls, {result.se_method} SE)"
        details = {"estimator": "att_gt", "aggregation": result.kind, "n_boot": result.n_boot}
        alpha = result.alpha
    elif isinstance(result, DidResult):
        est, se, tmean = result.estimate, result.se, result.treated_mean
        method = f"{result.estimator} ({result.se_type})"
        details = {"estimator": result.estimator, "caveats": list(result.caveats)}
        alpha = result.alpha
    else:
        raise SopEvalError(f"to_effect_estimate takes a DiD result (aggregate, did2x2, twfe, matched_did), got "
                           f"{type(result).__name__}.")
    if not (se == se and se >= 0):
        raise SopEvalError("the DiD result has no usable standard error (too few units?); it cannot feed a gate.")
    return EffectEstimate(
        estimate=float(est), se=float(se), treated_mean=float(tmean), comparison_mean=float(tmean - est),
        n_treated=int(result.n_treated), n_comparison=int(result.n_comparison), outcome=outcome or result.outcome,
        kind=kind, design="did", method=method, label=label, level=level if level is not None else 1 - alpha,
        details=details,
    )
