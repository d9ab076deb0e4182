"""The numerical core shared by cohorts, effects and DiD: design matrix, Newton logit, weighted least squares
with HC/CR sandwiches (one- and two-way), bootstraps, influence functions, and the registry of named
standard errors.

Imports nothing from sop_eval but :mod:`sop_eval.errors`, so every layer above may use it.
"""

from sop_eval.stats.registry import (
    DESIGNS,
    SE_REGISTRY,
    SEMethod,
    check_se,
    register_se,
    se_implementation,
    se_methods,
    se_names,
)

__all__ = [
    "DESIGNS", "SE_REGISTRY", "SEMethod", "check_se", "register_se", "se_implementation", "se_methods", "se_names",
]
