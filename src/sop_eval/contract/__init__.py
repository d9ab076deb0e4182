"""The contract: what it says (terms), how its evaluation is run (plan), how it is read (parse) and timing.

``load_contract(path)`` reads a TOML contract into a frozen :class:`Contract`; the keys and their
allowed values are the schema in :mod:`sop_eval.contract.schema` and the words in
:mod:`sop_eval.contract.vocabulary`; :mod:`sop_eval.contract.timing` is the one rule for when a
cohort's outcome window closes. This package imports nothing of sop_eval but :mod:`sop_eval.errors`.
"""

from sop_eval.contract import timing, vocabulary
from sop_eval.contract.parse import load_contract, parse_contract
from sop_eval.contract.plan import (
    ColumnRoles,
    DataSettings,
    DidSettings,
    EvaluationSettings,
    MatchingSettings,
    ReportSettings,
)
from sop_eval.contract.terms import (
    Amendment,
    Caps,
    Cohort,
    Contract,
    Drawdown,
    GateTerms,
    InvestorTerms,
    Outcome,
    Payer,
    PooledTerms,
    Step,
)
from sop_eval.contract.timing import add_months, measurable_from, window_closes

__all__ = [
    "load_contract", "parse_contract",
    "Contract", "Cohort", "Outcome", "GateTerms", "PooledTerms", "Step", "Payer", "Caps", "Amendment",
    "InvestorTerms", "Drawdown",
    "ColumnRoles", "DataSettings", "EvaluationSettings", "MatchingSettings", "DidSettings", "ReportSettings",
    "timing", "vocabulary", "add_months", "window_closes", "measurable_from",
]
