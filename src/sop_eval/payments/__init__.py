"""Contract terms (TOML), the payment calculator, caps, rate cards, ladders and payer splits.

``load_contract(path)`` reads a contract; ``calculate(contract, estimates=..., claims=..., as_of=...)``
returns a :class:`PaymentSchedule` of :class:`PaymentLine`. Money is exact (decimals, rounded to the
penny at stated points); caps are applied in the order documented in :mod:`sop_eval.payments.caps`.
"""

from sop_eval.payments.calculator import calculate
from sop_eval.payments.contract import (
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
    load_contract,
    parse_contract,
)
from sop_eval.payments.io import read_claims, read_estimates
from sop_eval.payments.schedule import CapStep, PaymentLine, PaymentSchedule

__all__ = [
    "calculate", "load_contract", "parse_contract", "read_estimates", "read_claims",
    "Contract", "Cohort", "Outcome", "GateTerms", "PooledTerms", "Step", "Payer", "Caps", "Amendment",
    "InvestorTerms", "Drawdown", "DataSettings", "EvaluationSettings", "MatchingSettings", "DidSettings",
    "PaymentSchedule", "PaymentLine", "CapStep",
]
