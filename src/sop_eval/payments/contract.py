"""Contract terms and their parser, now in :mod:`sop_eval.contract` (re-exported here for compatibility)."""

from sop_eval.contract import (
    Amendment,
    Caps,
    Cohort,
    Contract,
    DataSettings,
    DidSettings,
    Drawdown,
    EvaluationSettings,
    GateTerms,
    InvestorTerms,
    MatchingSettings,
    Outcome,
    Payer,
    PooledTerms,
    Step,
    add_months,
    load_contract,
    parse_contract,
)
from sop_eval.contract.vocabulary import MECHANISMS, PANEL_ROLES

__all__ = [
    "Amendment", "Caps", "Cohort", "Contract", "DataSettings", "DidSettings", "Drawdown", "EvaluationSettings",
    "GateTerms", "InvestorTerms", "MatchingSettings", "Outcome", "Payer", "PooledTerms", "Step", "add_months",
    "load_contract", "parse_contract", "MECHANISMS", "PANEL_ROLES",
]
