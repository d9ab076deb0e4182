"""The money terms of a contract — what decides how much is paid, when and by whom — for comparing restatements.

A restatement of a contract (``ledger init`` again) may change its metadata (description, organisation ids,
provider name) but at the same version not its money terms: those change only through a variation from a
dated effective day, or under a new version.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from sop_eval.payments import Contract

#: Outcome fields that decide an amount (name, design, metric and unit only describe it).
_OUTCOME_MONEY = ("mechanism", "price", "cap", "direction", "gate", "pooled", "max_per_person", "tier_prices",
                  "volume_cap", "measure", "steps", "floor", "ceiling", "amount", "amount_at_floor", "per_person",
                  "cohorts")


def _s(value: Any) -> str:
    if hasattr(value, "__dataclass_fields__"):
        return repr(asdict(value))
    if isinstance(value, tuple):
        return repr(tuple(_s(v) for v in value))
    return "none" if value is None else str(value)


def money_terms(c: Contract) -> dict[str, str]:
    """``{term: value}`` of every money term: effective date, currency, payment terms, each outcome's price,
    caps, tiers and gate, each payer's share and cap, contract caps, the price versions and cohort timing."""
    terms = {"effective date": str(c.effective), "currency": c.currency,
             "payment_terms_days": str(c.payment_terms_days),
             "outcomes": ", ".join(o.name for o in c.outcomes), "payers": ", ".join(p.name for p in c.payers),
             "contract cap": _s(c.caps.contract), "per-person cap": _s(c.caps.per_person)}
    for o in c.outcomes:
        for f in _OUTCOME_MONEY:
            terms[f"{f} of outcome {o.name}"] = _s(getattr(o, f))
    for p in c.payers:
        terms[f"share of payer {p.name}"] = str(p.share)
        terms[f"cap of payer {p.name}"] = _s(p.cap)
    for a in c.amendments:
        terms[f"version {a.version}"] = f"from {a.effective}: {dict(sorted(a.prices.items()))}"
    for h in c.cohorts:
        terms[f"cohort {h.name}"] = _s(h)
    terms["investor"] = _s(c.investor)
    return terms


def changed_terms(old: Contract, new: Contract) -> list[str]:
    """The money terms that differ, each as ``term old -> new``."""
    a, b = money_terms(old), money_terms(new)
    keys = list(a) + [k for k in b if k not in a]
    return [f"{k}: {a.get(k, 'absent')} -> {b.get(k, 'absent')}" for k in keys if a.get(k) != b.get(k)]
