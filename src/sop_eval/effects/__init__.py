"""Attributable effects: estimators for matched cohorts, inference by name, pooling, baselines, sensitivity."""

from sop_eval.effects.baseline import versus_baseline
from sop_eval.effects.estimate import EffectEstimate
from sop_eval.effects.inference import SE_METHODS, get_se_method
from sop_eval.effects.matched import estimate_by, estimate_effect
from sop_eval.effects.pooling import mean_of_cohort_reductions, pool, pool_cohorts
from sop_eval.effects.sensitivity import EValue, RosenbaumBounds, e_value, rosenbaum_bounds

__all__ = [
    "EffectEstimate",
    "EValue",
    "RosenbaumBounds",
    "SE_METHODS",
    "e_value",
    "estimate_by",
    "estimate_effect",
    "get_se_method",
    "mean_of_cohort_reductions",
    "pool",
    "pool_cohorts",
    "rosenbaum_bounds",
    "versus_baseline",
]
