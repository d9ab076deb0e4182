"""Investor finance: IRR, money multiple, investor cash flows, return caps and the repayment waterfall,
the pay-for-inputs vs pay-for-outcomes scenario table, and Monte Carlo payment risk.

Conventions: amounts are signed from the investor's side (drawdowns negative, repayments positive).
Times are in years; from dates they are ``days / 365.25`` after the first cash flow. The IRR is the
rate ``r > -1`` with ``sum(a_i / (1 + r) ** t_i) = 0`` (annual compounding), found to machine
precision by bracketing and Brent's method. The money multiple is money received / money paid in.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import brentq

from sop_eval.contract import Contract, Drawdown, InvestorTerms
from sop_eval.errors import SopEvalError, examples
from sop_eval.outputs import ShortRepr
from sop_eval.payments.risk import PaymentRisk, payment_risk
from sop_eval.payments.schedule import PaymentSchedule

DAYS_PER_YEAR = 365.25
# rates scanned for sign changes of the NPV: near -100%, 0-100% finely, then up to 1,000,000%
_GRID = np.concatenate([-1 + np.logspace(-6, 0, 60)[:-1], np.linspace(0, 1, 101)[1:], np.logspace(0.05, 4, 80)])


def _flows(amounts: Sequence[Any], times: Sequence[float] | None) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray([float(x) for x in amounts], dtype=float)
    t = np.arange(len(a), dtype=float) if times is None else np.asarray([float(x) for x in times], dtype=float)
    if a.ndim != 1 or len(a) == 0:
        raise SopEvalError("amounts must be a non-empty list of cash flows.")
    if len(t) != len(a):
        raise SopEvalError(f"amounts ({len(a)}) and times ({len(t)}) must have the same length.")
    if not (np.isfinite(a).all() and np.isfinite(t).all()):
        raise SopEvalError("amounts and times must be finite numbers.")
    if (t < 0).any():
        raise SopEvalError(f"times must be >= 0 (years from the first cash flow); got {examples(t[t < 0])}.")
    return a, t


def npv(rate: float, amounts: Sequence[Any], times: Sequence[float] | None = None) -> float:
    """Net present value ``sum(a_i / (1 + rate) ** t_i)`` (times in years; default 0, 1, 2, …)."""
    a, t = _flows(amounts, times)
    if rate <= -1:
        raise SopEvalError(f"rate={rate} must be greater than -1.")
    return float(np.sum(a / (1.0 + rate) ** t))


def irr(amounts: Sequence[Any], times: Sequence[float] | None = None) -> float:
    """Internal rate of return of cash flows ``amounts`` at ``times`` (years; default 0, 1, 2, …).

    Raises :class:`SopEvalError` when the flows never change sign (no rate makes them worth zero), when
    no root exists, or when several rates do (the IRR is then ambiguous; use :func:`npv` or the
    money multiple).
    """
    a, t = _flows(amounts, times)
    nonzero = a[a != 0]
    if not ((nonzero > 0).any() and (nonzero < 0).any()):
        raise SopEvalError(
            "the cash flows never change sign (all money goes one way), so no internal rate of return exists; "
            "include both the investment (negative) and the repayments (positive)."
        )

    def f(r: float) -> float:
        return float(np.sum(a * np.exp(-t * np.log1p(r))))

    values = (a[None, :] * np.exp(-t[None, :] * np.log1p(_GRID)[:, None])).sum(axis=1)
    grid = _GRID
    roots = [float(r) for r, v in zip(grid, values, strict=True) if v == 0]
    for i in np.nonzero(np.sign(values[:-1]) * np.sign(values[1:]) < 0)[0]:
        roots.append(float(brentq(f, grid[i], grid[i + 1], xtol=1e-15, rtol=4 * np.finfo(float).eps, maxiter=500)))
    if not roots:
        raise SopEvalError(
            "no rate of return between -100% and 1,000,000% makes these cash flows worth zero; the IRR is undefined "
            "(report the money multiple instead)."
        )
    if len(roots) > 1:
        raise SopEvalError(
            f"these cash flows have {len(roots)} internal rates of return ({examples([round(r, 6) for r in roots])}); "
            "the IRR is ambiguous. Report the NPV at a stated rate or the money multiple."
        )
    return roots[0]


def money_multiple(amounts: Sequence[Any]) -> float:
    """Money received divided by money paid in (positive flows over the absolute negative flows)."""
    a, _ = _flows(amounts, None)
    paid = -a[a < 0].sum()
    if paid == 0:
        raise SopEvalError("no money was paid in (no negative cash flow); the money multiple is undefined.")
    return float(a[a > 0].sum() / paid)


def years_between(start: dt.date, dates: Iterable[dt.date]) -> list[float]:
    """Years from ``start`` to each date (days / 365.25)."""
    return [(d - start).days / DAYS_PER_YEAR for d in dates]


@dataclass(frozen=True, repr=False)
class Waterfall(ShortRepr):
    """Outcome payments split between investor capital, investor return (up to the caps) and the excess.

    ``rows`` has one row per cash event (drawdown or receipt) with the columns date, drawdown,
    receipt, capital_repaid, return_paid, excess, capital_outstanding. ``irr`` and ``multiple`` are the
    investor's (None when undefined, e.g. nothing repaid yet).
    """

    rows: pd.DataFrame = field(repr=False)
    investor: str
    excess_to: str
    return_cap: float | None
    multiple_cap: float | None
    irr: float | None
    multiple: float | None
    max_loss: float

    @property
    def investor_flows(self) -> pd.DataFrame:
        """Dated investor cash flows: minus drawdowns, plus capital repaid and return paid."""
        r = self.rows
        return pd.DataFrame({"date": r["date"], "amount": -r["drawdown"] + r["capital_repaid"] + r["return_paid"]})

    def summary(self) -> pd.DataFrame:
        """The waterfall table."""
        return self.rows.copy()

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe record."""
        rows = self.rows.assign(date=self.rows["date"].map(lambda d: d.isoformat()))
        return {
            "investor": self.investor, "excess_to": self.excess_to, "return_cap": self.return_cap,
            "multiple_cap": self.multiple_cap, "irr": self.irr, "multiple": self.multiple, "max_loss": self.max_loss,
            "rows": rows.to_dict(orient="records"),
        }


def waterfall(
    drawdowns: Sequence[tuple[dt.date, Any]] | Sequence[Drawdown],
    receipts: Sequence[tuple[dt.date, Any]],
    *,
    return_cap: float | None = None,
    multiple_cap: float | None = None,
    investor: str = "investors",
    excess_to: str = "outcome payers",
) -> Waterfall:
    """Split receipts (outcome payments) in order: investor capital, then return, then excess.

    The return is capped so that the investor's IRR never exceeds ``return_cap`` (the capital
    outstanding accrues at that annual rate; receipts beyond the accrued balance are excess) and the
    total received never exceeds ``multiple_cap`` × the capital drawn. On the same date drawdowns come
    before receipts.
    """
    events = [(d.date, 0, float(d.amount)) if isinstance(d, Drawdown) else (d[0], 0, float(d[1])) for d in drawdowns]
    events += [(d, 1, float(x)) for d, x in receipts]
    if not events:
        raise SopEvalError("the waterfall needs at least one drawdown or receipt.")
    if any(x < 0 for _, _, x in events):
        raise SopEvalError("drawdowns and receipts must be amounts >= 0 (direction is implied).")
    events.sort(key=lambda e: (e[0], e[1]))
    capital = balance = drawn = received = 0.0
    last = events[0][0]
    rows = []
    for day, is_receipt, x in events:
        if return_cap is not None:
            balance *= (1 + float(return_cap)) ** ((day - last).days / DAYS_PER_YEAR)
        last = day
        row = {"date": day, "drawdown": 0.0, "receipt": 0.0, "capital_repaid": 0.0, "return_paid": 0.0, "excess": 0.0}
        if not is_receipt:
            capital += x
            balance += x
            drawn += x
            row["drawdown"] = x
        else:
            row["receipt"] = x
            to_capital = min(x, capital)
            room = math.inf if return_cap is None else max(balance - capital, 0.0)
            if multiple_cap is not None:
                room = min(room, max(float(multiple_cap) * drawn - received - to_capital, 0.0))
            to_return = min(x - to_capital, room)
            capital -= to_capital
            balance = max(balance - to_capital - to_return, 0.0)
            received += to_capital + to_return
            row.update(capital_repaid=to_capital, return_paid=to_return, excess=x - to_capital - to_return)
        row["capital_outstanding"] = capital
        rows.append(row)
    table = pd.DataFrame(rows)
    flows = -table["drawdown"] + table["capital_repaid"] + table["return_paid"]
    times = years_between(table["date"].iloc[0], table["date"])
    try:
        rate = irr(flows.tolist(), times)
    except SopEvalError:
        rate = None
    cumulative = flows.cumsum()
    return Waterfall(
        rows=table, investor=investor, excess_to=excess_to,
        return_cap=None if return_cap is None else float(return_cap),
        multiple_cap=None if multiple_cap is None else float(multiple_cap),
        irr=rate, multiple=(received / drawn) if drawn else None, max_loss=float(max(-cumulative.min(), 0.0)),
    )


def investor_cash_flows(
    schedule: PaymentSchedule,
    terms: InvestorTerms | Contract,
    *,
    share: float = 1.0,
) -> Waterfall:
    """The investor's waterfall from a payment schedule's payable lines (at their due dates) and the drawdowns.

    ``share`` is the fraction of outcome payments passed to the investors (1 when the whole payment
    repays the social investment). Lines without a due date cannot be placed in time and are refused.
    """
    if isinstance(terms, Contract):
        if terms.investor is None:
            raise SopEvalError(f"contract {terms.name!r} has no [investor] section with drawdowns.")
        terms = terms.investor
    undated = [ln.number for ln in schedule.lines if ln.amount > 0 and ln.due is None]
    if undated:
        raise SopEvalError(f"payment line(s) {examples(undated)} have no due date; give the cohorts entry windows.")
    receipts = [(ln.due, float(ln.amount) * share) for ln in schedule.lines if ln.amount > 0]
    return waterfall(
        terms.drawdowns, receipts, return_cap=None if terms.return_cap is None else float(terms.return_cap),
        multiple_cap=None if terms.multiple_cap is None else float(terms.multiple_cap),
        investor=terms.name, excess_to=terms.excess_to,
    )


# -- pay for inputs vs pay for outcomes ---------------------------------------------------------------

SEED_SCENARIOS: tuple[Mapping[str, Any], ...] = (
    {"scenario": "pay for inputs, design", "basis": "inputs", "budget": 10_000_000, "people": 1000,
     "success_rate": 0.60},
    {"scenario": "pay for inputs, actual", "basis": "inputs", "budget": 10_000_000, "people": 800,
     "success_rate": 0.40},
    {"scenario": "pay for outcomes, design", "basis": "outcomes", "price": 17_000, "people": 1000,
     "success_rate": 0.60},
    {"scenario": "pay for outcomes, under-performing", "basis": "outcomes", "price": 17_000, "people": 800,
     "success_rate": 0.40},
    {"scenario": "pay for outcomes, over-performing", "basis": "outcomes", "price": 15_000, "people": 1200,
     "success_rate": 0.72},
)
"""The pay-for-inputs vs pay-for-outcomes example of the Cabinet Office / Bridges worked example."""

FAMILY_THERAPY: tuple[Mapping[str, Any], ...] = (
    {"scenario": "contracted therapy delivery", "basis": "inputs", "costs": {"therapy delivery": 4_500_000},
     "outcomes": 225, "areas": 5, "quality": 3.5},
    {"scenario": "total cost to government", "basis": "inputs",
     "costs": {"therapy delivery": 4_500_000, "innovations": 1_800_000, "financing": 300_000},
     "outcomes": 410, "areas": 10, "quality": 4.5},
)
"""Family therapy for Greater London boroughs (3 teams for 3 years): families treated are the outcomes."""


def scenario_table(scenarios: Sequence[Mapping[str, Any]] = SEED_SCENARIOS) -> pd.DataFrame:
    """Outcomes, total paid and cost per outcome for pay-for-inputs and pay-for-outcomes scenarios.

    Each scenario gives ``basis`` "inputs" (a ``budget``, or ``costs`` {item: amount} summed) or
    "outcomes" (a ``price`` per outcome), and either ``people`` × ``success_rate`` or ``outcomes``;
    optional ``areas`` (cost per area) and ``quality`` are carried along. Nothing is rounded.
    """
    rows = []
    for i, s in enumerate(scenarios):
        name = s.get("scenario", f"scenario {i}")
        basis = s.get("basis")
        if basis not in ("inputs", "outcomes"):
            raise SopEvalError(f"scenario {name!r}: basis={basis!r}; expected 'inputs' or 'outcomes'.")
        if "outcomes" in s:
            outcomes = float(s["outcomes"])
        elif "people" in s and "success_rate" in s:
            outcomes = float(s["people"]) * float(s["success_rate"])
        else:
            raise SopEvalError(f"scenario {name!r}: give 'outcomes', or 'people' and 'success_rate'.")
        if basis == "outcomes":
            if "price" not in s:
                raise SopEvalError(f"scenario {name!r} pays for outcomes: give 'price' per outcome.")
            paid = float(s["price"]) * outcomes
        elif "costs" in s:
            paid = float(sum(float(v) for v in dict(s["costs"]).values()))
        elif "budget" in s:
            paid = float(s["budget"])
        else:
            raise SopEvalError(f"scenario {name!r} pays for inputs: give 'budget' or 'costs'.")
        row = {
            "scenario": name, "basis": basis, "people": s.get("people"), "success_rate": s.get("success_rate"),
            "outcomes": outcomes, "total_paid": paid,
            "cost_per_outcome": paid / outcomes if outcomes else math.nan,
        }
        if "areas" in s:
            row["areas"] = s["areas"]
            row["cost_per_area"] = paid / float(s["areas"])
        if "quality" in s:
            row["quality"] = s["quality"]
        rows.append(row)
    return pd.DataFrame(rows)


__all__ = [
    "irr", "npv", "money_multiple", "years_between", "waterfall", "Waterfall", "investor_cash_flows",
    "scenario_table", "SEED_SCENARIOS", "FAMILY_THERAPY", "payment_risk", "PaymentRisk", "DAYS_PER_YEAR",
]
