"""Caps, applied to payment lines in due-date order, and the payer split.

The order (the same for every line, documented in the README):

1. **per-outcome volume cap** — at most ``volume_cap`` paid lines of that outcome (rate cards);
2. **per-person cap** — a person's lines together at most ``[caps] per_person`` (rate cards);
3. **per-outcome cap** — the outcome's payments together at most its ``cap``;
4. **contract cap** — all payments together at most ``[caps] contract``;
5. **payer split and payer caps** — the line is split by the payers' shares (whole pennies, adding up to
   the line), then each payer's part is cut to what is left of that payer's own ``cap``; another payer
   does not make up a cut part.

Lines are processed in order of due date (then cohort lines before pooled lines, then contract/claim
order), so a line's amount depends only on lines due before it: a schedule computed at an earlier
``as_of`` is never changed by later results. A pooled catch-up pays ``max(0, due in all - paid on its
cohorts' lines after caps)``.

The pass is written once for two number systems: exact decimals for the calculator
(:data:`DECIMAL`, rounding to the penny) and float arrays of draws for the Monte Carlo view
(:data:`ARRAY`); :class:`Ops` lives in :mod:`sop_eval.arithmetic`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sop_eval.arithmetic import ARRAY, EXACT, Ops
from sop_eval.contract import Contract, Outcome
from sop_eval.payments.money import ZERO, split, to_pennies

DECIMAL = dataclasses.replace(EXACT, round=to_pennies, split=split)


@dataclass
class CatchUp:
    """A pooled catch-up: pays ``due_all - paid on members`` (never below zero) when ``met``."""

    members: tuple[Any, ...]  # the member entries, replaced by their indices once the entries are ordered
    due_all: Any
    met: Any


@dataclass
class Entry:
    """A payment line before caps: the cap pass reads ``outcome``, ``gross``, ``person`` and ``catch_up``.

    ``person`` is an internal key for the per-person cap and is never printed. ``stage`` orders lines
    due on the same day (0 cohort, ladder, scale and claim lines; 1 pooled catch-up).
    """

    outcome: Outcome
    kind: str
    gross: Any = None
    person: str | None = None
    catch_up: CatchUp | None = None
    cohort: str | None = None
    claim_row: int | None = None
    version: str = ""
    price: Decimal | None = None
    units: Any = None
    status: str = "payable"
    decision: Any = None
    measurable_from: dt.date | None = None
    due: dt.date | None = None
    note: str = ""
    stage: int = 0


@dataclass
class Capped:
    """The cap pass's result for one line."""

    gross: Any
    steps: list[tuple[str, Any, Any, Any]]
    amount: Any
    payers: list[tuple[str, Any]]


def apply_caps(entries: Sequence[Entry], contract: Contract, ops: Ops) -> list[Capped]:
    """Apply the caps in the documented order to ``entries`` (already in processing order)."""
    zero = ops.const(0)
    count: dict[str, Any] = {}
    by_person: dict[str, Any] = {}
    by_outcome: dict[str, Any] = {}
    by_payer: dict[str, Any] = {}
    total = zero
    results: list[Capped] = []
    for entry in entries:
        gross = entry.gross
        if entry.catch_up is not None:
            cu = entry.catch_up
            paid = sum((results[m].amount for m in cu.members), zero)
            gross = ops.where(cu.met, ops.maximum(cu.due_all - paid, zero), zero)
        amount = gross
        steps: list[tuple[str, Any, Any, Any]] = []
        o = entry.outcome

        def cut(name: str, limit: Any, new: Any) -> None:
            nonlocal amount
            steps.append((name, limit, amount, new))  # noqa: B023 - called only within this iteration
            amount = new

        if o.volume_cap is not None:
            left = ops.const(o.volume_cap) - count.get(o.name, zero)
            cut(f"volume cap of {o.name} ({o.volume_cap} paid)", left, ops.where(left > 0, amount, zero))
        if entry.person is not None and contract.caps.per_person is not None:
            left = ops.const(contract.caps.per_person) - by_person.get(entry.person, zero)
            cut("per-person cap", left, ops.minimum(amount, ops.maximum(left, zero)))
        if o.cap is not None:
            left = ops.const(o.cap) - by_outcome.get(o.name, zero)
            cut(f"cap of {o.name}", left, ops.minimum(amount, ops.maximum(left, zero)))
        if contract.caps.contract is not None:
            left = ops.const(contract.caps.contract) - total
            cut("contract cap", left, ops.minimum(amount, ops.maximum(left, zero)))
        parts = ops.split(amount, [p.share for p in contract.payers])
        payers = []
        for payer, part in zip(contract.payers, parts, strict=False):
            if payer.cap is not None:
                left = ops.const(payer.cap) - by_payer.get(payer.name, zero)
                new = ops.minimum(part, ops.maximum(left, zero))
                steps.append((f"payer cap of {payer.name}", left, part, new))
                part = new
            by_payer[payer.name] = by_payer.get(payer.name, zero) + part
            payers.append((payer.name, part))
        amount = sum((p for _, p in payers), zero)
        count[o.name] = count.get(o.name, zero) + ops.where(amount > 0, ops.const(1), zero)
        if entry.person is not None:
            by_person[entry.person] = by_person.get(entry.person, zero) + amount
        by_outcome[o.name] = by_outcome.get(o.name, zero) + amount
        total = total + amount
        results.append(Capped(gross, steps, amount, payers))
    return results


__all__ = ["Ops", "DECIMAL", "ARRAY", "Entry", "CatchUp", "Capped", "apply_caps", "ZERO"]
