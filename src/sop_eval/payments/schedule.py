"""Payment lines and the payment schedule the calculator returns."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pandas as pd

from sop_eval.errors import SopEvalError
from sop_eval.outputs import ShortRepr, format_table
from sop_eval.payments.money import ZERO, fmt_money
from sop_eval.thresholds import TriggerDecision

STATUSES = (
    "payable", "gate not met", "not yet measurable", "no estimate", "not validated", "duplicate",
    "capped to zero", "no effect", "nothing due",
)


@dataclass(frozen=True)
class CapStep:
    """One cap applied to a line: its ``name``, ``limit`` left before the line, and the amount before/after."""

    name: str
    limit: Decimal
    before: Decimal
    after: Decimal

    @property
    def binding(self) -> bool:
        """True when the cap reduced the amount."""
        return self.after < self.before


@dataclass(frozen=True)
class PaymentLine:
    """One payment: what, for which cohort or claim, on which decision, under which terms, and who pays.

    ``gross`` is the amount before caps (units × price, or the ladder/scale amount, rounded to the
    penny); ``caps`` lists every cap applied in order with the amount before and after; ``amount`` is
    what is paid; ``payers`` splits it. ``due`` is when it falls due (measurable date or claim date plus
    payment terms); a line not yet measurable ``as_of`` pays nothing and ``due`` says when it will be.
    """

    number: int
    outcome: str
    mechanism: str
    kind: str
    cohort: str | None
    claim_row: int | None
    contract_version: str
    design: str
    assumed_rate: bool
    weaker_evidence: bool
    status: str
    units: Decimal | None
    price: Decimal | None
    gross: Decimal
    amount: Decimal
    caps: tuple[CapStep, ...] = ()
    payers: tuple[tuple[str, Decimal], ...] = ()
    decision: TriggerDecision | None = field(default=None, repr=False)
    measurable_from: dt.date | None = None
    due: dt.date | None = None
    note: str = ""

    @property
    def payer_amounts(self) -> dict[str, Decimal]:
        """``{payer: amount}`` for this line."""
        return dict(self.payers)

    @property
    def capped_by(self) -> str:
        """Names of the caps that reduced this line, joined by ', '."""
        return ", ".join(c.name for c in self.caps if c.binding)

    @property
    def reference(self) -> str:
        """What the line pays for: the cohort, or the claim's row in the claims file."""
        if self.claim_row is not None:
            return f"claim row {self.claim_row}"
        return self.cohort or ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe record (amounts as numbers in currency units, exact to the penny)."""
        return {
            "number": self.number,
            "outcome": self.outcome,
            "mechanism": self.mechanism,
            "kind": self.kind,
            "cohort": self.cohort,
            "claim_row": self.claim_row,
            "contract_version": self.contract_version,
            "design": self.design,
            "assumed_rate": self.assumed_rate,
            "weaker_evidence": self.weaker_evidence,
            "status": self.status,
            "units": None if self.units is None else float(self.units),
            "price": None if self.price is None else float(self.price),
            "gross": float(self.gross),
            "caps": [
                {"name": c.name, "limit": float(c.limit), "before": float(c.before), "after": float(c.after),
                 "binding": c.binding}
                for c in self.caps
            ],
            "amount": float(self.amount),
            "payers": {k: float(v) for k, v in self.payers},
            "decision": None if self.decision is None else self.decision.to_dict(),
            "measurable_from": None if self.measurable_from is None else self.measurable_from.isoformat(),
            "due": None if self.due is None else self.due.isoformat(),
            "note": self.note,
        }


@dataclass(frozen=True, repr=False)
class PaymentSchedule(ShortRepr):
    """Every payment line of a contract for the given estimates/claims ``as_of`` a date, with totals.

    Totals count only the lines' ``amount`` (after all caps). ``summary()`` is one row per line;
    ``to_dict()`` carries ``total_payment``, ``payments_by_payer``, ``payments_by_outcome`` and ``lines``.
    """

    contract: str
    contract_version: str
    contract_sha256: str
    currency: str
    as_of: dt.date | None
    lines: tuple[PaymentLine, ...]
    payer_names: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def total(self) -> Decimal:
        """Total paid (after caps)."""
        return sum((line.amount for line in self.lines), ZERO)

    @property
    def by_payer(self) -> dict[str, Decimal]:
        """Total paid by each payer."""
        out = {name: ZERO for name in self.payer_names}
        for line in self.lines:
            for name, amount in line.payers:
                out[name] = out.get(name, ZERO) + amount
        return out

    @property
    def by_outcome(self) -> dict[str, Decimal]:
        """Total paid for each outcome."""
        out: dict[str, Decimal] = {}
        for line in self.lines:
            out[line.outcome] = out.get(line.outcome, ZERO) + line.amount
        return out

    @property
    def decisions(self) -> dict[str, TriggerDecision]:
        """The gate decisions behind the lines, by gate label."""
        return {line.decision.gate: line.decision for line in self.lines if line.decision is not None}

    def line(self, *, outcome: str | None = None, cohort: str | None = None, kind: str | None = None,
             claim_row: int | None = None) -> PaymentLine:
        """The one line matching all the given fields (raises when none or several match)."""
        want = {"outcome": outcome, "cohort": cohort, "kind": kind, "claim_row": claim_row}
        found = [ln for ln in self.lines if all(v is None or getattr(ln, k) == v for k, v in want.items())]
        if len(found) != 1:
            given = {k: v for k, v in want.items() if v is not None}
            raise SopEvalError(f"{len(found)} payment lines match {given}; expected one.")
        return found[0]

    def summary(self) -> pd.DataFrame:
        """One tidy row per line: reference, decision, design, version, gross, caps, amount, payer split."""
        rows = []
        for ln in self.lines:
            d = ln.decision
            row = {
                "line": ln.number,
                "outcome": ln.outcome,
                "kind": ln.kind,
                "reference": ln.reference,
                "version": ln.contract_version,
                "design": ln.design + (" (assumed rate)" if ln.assumed_rate else ""),
                "value": None if d is None else d.value,
                "threshold": None if d is None else d.threshold,
                "gate_met": None if d is None else d.met,
                "units": None if ln.units is None else float(ln.units),
                "gross": float(ln.gross),
                "capped_by": ln.capped_by,
                "amount": float(ln.amount),
                **{f"paid_by_{name}": float(dict(ln.payers).get(name, ZERO)) for name in self.payer_names},
                "status": ln.status,
                "due": None if ln.due is None else ln.due.isoformat(),
            }
            rows.append(row)
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe record of the schedule."""
        return {
            "contract": self.contract,
            "contract_version": self.contract_version,
            "contract_sha256": self.contract_sha256,
            "currency": self.currency,
            "as_of": None if self.as_of is None else self.as_of.isoformat(),
            "rounding": "amounts in currency units, rounded to the penny (ROUND_HALF_UP) when a line's gross is formed",
            "total_payment": float(self.total),
            "payments_by_payer": {k: float(v) for k, v in self.by_payer.items()},
            "payments_by_outcome": {k: float(v) for k, v in self.by_outcome.items()},
            "lines": [ln.to_dict() for ln in self.lines],
            "notes": list(self.notes),
        }

    def format(self) -> str:
        """A readable plain-text table of the lines and the totals (no person identifiers)."""
        cur = self.currency
        table = pd.DataFrame(
            [
                {
                    "#": ln.number,
                    "outcome": ln.outcome,
                    "kind": ln.kind,
                    "for": ln.reference,
                    "version": ln.contract_version,
                    "design": ln.design + ("!" if ln.assumed_rate else ""),
                    "decision": _decision_text(ln.decision),
                    "gross": fmt_money(ln.gross, cur),
                    "paid": fmt_money(ln.amount, cur),
                    "status": ln.status + (f" ({ln.capped_by})" if ln.capped_by else ""),
                    "due": "" if ln.due is None else ln.due.isoformat(),
                }
                for ln in self.lines
            ]
        )
        head = f"{self.contract} (version {self.contract_version})" + (f", as of {self.as_of}" if self.as_of else "")
        out = [head, "", format_table(table) if len(table) else "(no payment lines)", ""]
        out.append(f"total payment: {fmt_money(self.total, cur)}")
        out += [f"  {name}: {fmt_money(amount, cur)}" for name, amount in self.by_payer.items()]
        if any(ln.assumed_rate for ln in self.lines):
            out.append("! counterfactual is an assumed rate: no comparison group stands behind these lines")
        out += list(self.notes)
        return "\n".join(out)


def _decision_text(d: TriggerDecision | None) -> str:
    if d is None:
        return ""
    pct = d.measure.startswith("relative")
    val = f"{100 * d.value:.2f}%" if pct else f"{d.value:.4g}"
    thr = f"{100 * d.threshold:.2f}%" if pct else f"{d.threshold:.4g}"
    return f"{val} {'>=' if d.met_threshold else '<'} {thr}"
