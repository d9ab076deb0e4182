"""A payer's statement: every payment run, clawback and adjustment for that payer, what it has paid, what is due
and the balance, as a result object (the report layer renders it as HTML or PDF)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pandas as pd

from sop_eval.errors import SopEvalError, examples
from sop_eval.ledger.due import cumulative_due, paid_by_due
from sop_eval.ledger.pence import to_money
from sop_eval.ledger.state import State
from sop_eval.outputs import ShortRepr


@dataclass(frozen=True)
class StatementLine:
    """One ledger entry on a statement: its number, kind (``payment run``, ``clawback``, ``adjustment``), the
    day it was recorded, what it was and the payer's amount (a recovery is negative)."""

    entry: int
    kind: str
    what: str
    amount: Decimal
    date: str = ""


@dataclass(frozen=True, repr=False)
class Statement(ShortRepr):
    """What one payer has paid and owes under the contract, as of the ledger's last entry.

    ``paid`` is net of recoveries; ``due`` is what the contract makes due to date (up to the last payment
    run's period end); ``balance`` is ``due - paid`` (positive: owed to the provider). ``issued`` is the day
    the statement was drawn up; ``provider`` (and its organisation id) is who is paid.
    """

    payer: str
    organisation_id: str | None
    contract: str
    provider: str | None
    provider_organisation_id: str | None
    issued: dt.date
    currency: str
    role: str
    share: Decimal
    cap: Decimal | None
    last_entry: int
    lines: tuple[StatementLine, ...]
    paid: Decimal
    due: Decimal

    @property
    def balance(self) -> Decimal:
        """What is owed to the provider (negative: owed back by the provider)."""
        return self.due - self.paid

    def summary(self) -> pd.DataFrame:
        """One row per ledger entry: entry, kind, date (recorded), what, amount."""
        return pd.DataFrame([{"entry": x.entry, "kind": x.kind, "date": x.date, "what": x.what, "amount": x.amount}
                             for x in self.lines], columns=["entry", "kind", "date", "what", "amount"])

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe figures (amounts as decimal strings)."""
        return {"payer": self.payer, "organisation_id": self.organisation_id, "contract": self.contract,
                "provider": self.provider, "provider_organisation_id": self.provider_organisation_id,
                "issued": self.issued.isoformat(), "currency": self.currency, "role": self.role,
                "share": str(self.share),
                "cap": None if self.cap is None else str(self.cap), "last_entry": self.last_entry,
                "lines": [{"entry": x.entry, "kind": x.kind, "date": x.date, "what": x.what, "amount": str(x.amount)}
                          for x in self.lines],
                "paid": str(self.paid), "due": str(self.due), "balance": str(self.balance)}

    def _repr_items(self) -> list[tuple[str, Any]]:
        return [("payer", self.payer), ("paid", self.paid), ("due", self.due), ("balance", self.balance)]


def statement(state: State, payer: str, issued: dt.date | None = None) -> Statement:
    """The statement of ``payer`` (no person-level data), issued on ``issued`` (default: today)."""
    if payer not in state.payers:
        raise SopEvalError(f"payer {payer!r} is not a payer of the contract; payers: {examples(state.payers)}.")
    c = state.contract
    i = state.payers.index(payer)
    lines = []
    for r in sorted(state.runs + state.clawbacks, key=lambda r: r["seq"]):
        if "claims" in r:
            lines.append(StatementLine(r["seq"], "clawback", f"clawback: {r['reason']}", to_money(r["paid"][i]),
                                       _day(r)))
        else:
            lines.append(StatementLine(r["seq"], "payment run", f"payment run to {r['period_end']}",
                                       to_money(r["paid"][i]), _day(r)))
    for a in state.adjustments:
        if a["payer"] == payer:
            lines.append(StatementLine(a["seq"], "adjustment", f"adjustment (due at the next run): {a['reason']}",
                                       to_money(a["amount"]), _day(a)))
    due = cumulative_due(state, state.last_period_end, paid_by_due(state)).totals()[i]
    p = c.payers[i]
    return Statement(payer=payer, organisation_id=p.organisation_id, contract=c.name, provider=c.provider,
                     provider_organisation_id=c.provider_organisation_id, issued=issued or dt.date.today(),
                     currency=c.currency, role="commissioner" if i == 0 else "co-funder (top-up)",
                     share=p.share, cap=p.cap, last_entry=state.last_seq, lines=tuple(lines),
                     paid=to_money(state.paid()[i]), due=to_money(due))


def _day(body: dict[str, Any]) -> str:
    """The day an entry was recorded (YYYY-MM-DD)."""
    return str(body.get("recorded_at", ""))[:10]
