"""sop_eval: counterfactual impact evaluation and payments for social outcomes contracts.

The flow is data → comparison cohort (matching or difference-in-differences) → attributable
effect with inference → contractual gates → payments → report and audit trail. Heavy modules
are imported on first use, so ``import sop_eval`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

from sop_eval import datasets
from sop_eval._version import __version__
from sop_eval.errors import SopEvalError, SopEvalWarning

# public name -> "module:attribute", resolved lazily on first access
_LAZY = {
    "data": "sop_eval.data:",
    "cohorts": "sop_eval.cohorts:",
    "effects": "sop_eval.effects:",
    "did": "sop_eval.did:",
    "thresholds": "sop_eval.thresholds:",
    "power": "sop_eval.power:",
    "payments": "sop_eval.payments:",
    "finance": "sop_eval.finance:",
    "report": "sop_eval.report:",
    "designs": "sop_eval.designs:",
    "evaluation": "sop_eval.evaluation:",
    "audit": "sop_eval.audit:",
    "match": "sop_eval.cohorts.matching:match",
    "balance": "sop_eval.cohorts.assessment:balance",
    "love_plot": "sop_eval.report.balance_plots:love_plot",
    "MatchedCohort": "sop_eval.cohorts.matching:MatchedCohort",
    "pool": "sop_eval.effects.pooling:pool",
    "EffectEstimate": "sop_eval.effects.estimate:EffectEstimate",
    "evaluate": "sop_eval.evaluation:evaluate",
    "Evaluation": "sop_eval.evaluation:Evaluation",
}

__all__ = ["__version__", "datasets", "SopEvalError", "SopEvalWarning", *_LAZY]


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'sop_eval' has no attribute {name!r}")
    module_name, _, attribute = target.partition(":")
    module = importlib.import_module(module_name)
    value = getattr(module, attribute) if attribute else module
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
