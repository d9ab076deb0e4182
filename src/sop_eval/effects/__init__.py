"""Attributable effects: estimators for matched cohorts, inference by name, pooling, baselines."""

from sop_eval.effects.estimate import EffectEstimate

__all__ = ["EffectEstimate"]
