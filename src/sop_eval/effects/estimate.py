"""The effect estimate every design produces (defined in :mod:`sop_eval.estimate`; re-exported here)."""

from sop_eval.contract.vocabulary import DESIGNS, WEAKER_DESIGNS
from sop_eval.estimate import KINDS, EffectEstimate, effect_estimate_from

__all__ = ["EffectEstimate", "KINDS", "DESIGNS", "WEAKER_DESIGNS", "effect_estimate_from"]
