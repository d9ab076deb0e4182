"""Turn a DiD result into the :class:`~sop_eval.effects.estimate.EffectEstimate` that gates and payments use."""

from __future__ import annotations

from typing import Any

from sop_eval.effects.estimate import EffectEstimate
from sop_eval.errors import SopEvalError


def to_effect_estimate(result: Any, *, kind: str = "continuous", label: str = "", outcome: str | None = None,
                       level: float | None = None) -> EffectEstimate:
    """An ``EffectEstimate`` (design ``"did"``) from an aggregated ATT(g,t), a 2×2, TWFE or matched DiD result.

    ``estimate`` is the ATT per unit in outcome units (e.g. care days per child); ``treated_mean`` is the treated
    units' post-treatment mean and ``comparison_mean`` the counterfactual ``treated_mean - estimate``, so the
    relative change is measured against what the treated would have had without the service. Each result
    converts itself (its ``to_effect_estimate`` method); ``level`` defaults to the result's own.
    """
    convert = getattr(result, "to_effect_estimate", None)
    if convert is None:
        raise SopEvalError(f"to_effect_estimate takes a DiD result (aggregate, did2x2, twfe, matched_did), got "
                           f"{type(result).__name__}.")
    return convert(kind=kind, label=label, outcome=outcome, level=level)
