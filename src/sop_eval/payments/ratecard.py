"""Rate-card claims to payment lines: validation, once-only per person (or tiers), versioned prices.

Claims are taken in date order (then file order). A claim pays only when ``validated``; the k-th
eligible claim of an outcome for one person pays the k-th tier price (``tier_prices``) or the price in
force on the claim date, up to ``max_per_person`` times; later ones are reported as duplicates and pay
nothing. Claims dated after ``as_of`` are left out (the schedule says how many). Volume, per-person and
other caps are applied afterwards by :func:`sop_eval.payments.caps.apply_caps`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

import pandas as pd

from sop_eval.contract import Contract
from sop_eval.errors import SopEvalError, examples
from sop_eval.payments.caps import Entry


def claim_due(contract: Contract, achieved: dt.date) -> dt.date:
    """The day a claim achieved on ``achieved`` falls due: ``payment_terms_days`` later."""
    return achieved + dt.timedelta(days=contract.payment_terms_days)


def repeat_numbers(contract: Contract, persons: Iterable[str], outcomes: Iterable[str],
                   taken: Mapping[tuple[str, str], int] | None = None) -> list[tuple[int, bool]]:
    """``(k, duplicate)`` of each validated claim given in processing order (date, then file order): it is the
    k-th of its outcome for its person, counting ``taken`` claims already paid for, and a duplicate (pays
    nothing) when k exceeds the outcome's ``max_per_person``."""
    limit = {o.name: o.max_per_person for o in contract.outcomes}
    seen = dict(taken or {})
    out = []
    for person, outcome in zip(persons, outcomes, strict=True):
        key = (str(person), str(outcome))
        k = seen.get(key, 0) + 1
        seen[key] = k
        out.append((k, k > limit[outcome]))
    return out


def claim_entries(contract: Contract, claims: pd.DataFrame, as_of: dt.date | None) -> tuple[list[Entry], list[str]]:
    """One :class:`Entry` per claim (see the module docstring) and notes for the schedule."""
    cards = {o.name: o for o in contract.outcomes if o.mechanism == "rate_card"}
    unknown = sorted(set(claims["outcome"]) - set(cards))
    if unknown:
        rows = claims.loc[claims["outcome"].isin(unknown), "row"].tolist()
        raise SopEvalError(
            f"claims name outcome(s) {examples(unknown)} (rows {examples(rows)}) that are not rate-card outcomes "
            f"of contract {contract.name!r}; its rate-card outcomes are {examples(sorted(cards), 10) or 'none'}."
        )
    notes: list[str] = []
    ordered = claims.sort_values(["date", "row"], kind="stable")
    if as_of is not None:
        later = ordered["date"] > as_of
        if later.any():
            notes.append(f"{int(later.sum())} claim(s) dated after {as_of} are not included.")
        ordered = ordered.loc[~later]
    valid = ordered.loc[ordered["validated"].astype(bool)]
    numbers = iter(repeat_numbers(contract, valid["person"].astype(str), valid["outcome"]))
    entries = []
    claim: Any
    for claim in ordered.itertuples(index=False):
        outcome = cards[claim.outcome]
        price, version = contract.price(outcome, claim.date)
        assert price is not None  # the parser requires a price for rate-card outcomes
        entry = Entry(
            outcome=outcome, kind="rate card", person=str(claim.person), claim_row=int(claim.row),
            version=version, units=None, gross=price * 0, measurable_from=claim.date,
            due=claim_due(contract, claim.date),
        )
        if not claim.validated:
            entry.status, entry.note = "not validated", "claim not validated: pays nothing until validated"
        else:
            k, duplicate = next(numbers)
            if duplicate:
                entry.status = "duplicate"
                entry.note = f"already paid {outcome.max_per_person} time(s) for this person: pays nothing"
            else:
                entry.units = Decimal(1)
                entry.price = outcome.tier_prices[k - 1] if outcome.tier_prices else price
                entry.gross = entry.price
                if outcome.tier_prices:
                    entry.note = f"tier {k} price"
        entries.append(entry)
    return entries, notes
