"""When a cohort's outcome window closes: the one rule, used by data validation, the evaluation and payments.

A window closes ``follow_up_months + court_lag_months`` calendar months after the last entry (the
cohort's ``entry_end``, or the last index date in the data); its result is measurable
``analysis_months`` later. The months are added in one step with :class:`dateutil.relativedelta`, so a
day past the end of the target month is clipped to its last day (31 January + 1 month = 28 or
29 February) and the result never depends on how the months are split between the terms.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from dateutil.relativedelta import relativedelta

from sop_eval.errors import SopEvalError

D = TypeVar("D", bound=dt.date)


class Timing(Protocol):
    """Anything with a cohort's timing terms (a :class:`~sop_eval.contract.Cohort`)."""

    @property
    def follow_up_months(self) -> int: ...

    @property
    def court_lag_months(self) -> int: ...

    @property
    def analysis_months(self) -> int: ...


def add_months(day: D, months: int) -> D:
    """``day`` plus whole calendar months, clipped to the target month's last day."""
    if isinstance(months, bool) or not isinstance(months, int) or months < 0:
        raise SopEvalError(f"months={months!r} must be a whole number >= 0.")
    try:
        return day + relativedelta(months=months)  # type: ignore[no-any-return]
    except (OverflowError, ValueError):
        raise SopEvalError(
            f"{day} plus {months} months lies beyond the calendar (year 9999); check the entry dates and the "
            "follow-up, court lag and analysis months."
        ) from None


def window_closes(last_entry: D, timing: Timing) -> D:
    """The day the outcome window of the cohort's last entrant closes: + follow-up + court lag months."""
    return add_months(last_entry, timing.follow_up_months + timing.court_lag_months)


def measurable_from(last_entry: D, timing: Timing) -> D:
    """The first day the cohort's result can be measured: the window closes, then ``analysis_months``."""
    return add_months(last_entry, timing.follow_up_months + timing.court_lag_months + timing.analysis_months)


def published_measurable_from(published: D, timing: Timing) -> D:
    """A cohort of periods (area designs): measurable ``analysis_months`` after its data are published."""
    return add_months(published, timing.analysis_months)


@dataclass(frozen=True)
class WindowTiming:
    """Timing terms on their own (for data without a contract cohort)."""

    follow_up_months: int = 12
    court_lag_months: int = 0
    analysis_months: int = 0


def overlapping_windows(cohorts: Sequence[Any]) -> list[tuple[Any, Any]]:
    """Pairs of cohorts whose entry windows (``entry_start`` to ``entry_end``, both included) share a day."""
    windows = [c for c in cohorts if c.entry_start is not None and c.entry_end is not None]
    return [(a, b) for i, a in enumerate(windows) for b in windows[i + 1:]
            if a.entry_start <= b.entry_end and b.entry_start <= a.entry_end]


def assignment_order(cohorts: Sequence[Any], overlap: str | None) -> list[Any]:
    """The cohorts with entry windows, in the order a day is assigned to them (the last window holding it wins).

    ``overlap`` is the contract's ``[timing] overlap``: ``"later"`` gives a day inside two windows to the
    cohort whose window starts later, ``"earlier"`` to the one that starts earlier. Windows that do not
    overlap are unaffected by the order.
    """
    windows = [c for c in cohorts if c.entry_start is not None and c.entry_end is not None]
    ordered = sorted(windows, key=lambda c: (c.entry_start, c.entry_end))
    return ordered[::-1] if overlap == "earlier" else ordered


def overlapping_spans(cohorts: Sequence[Any]) -> list[tuple[Any, Any, list[int]]]:
    """Pairs of cohorts whose period spans (``first_period`` to ``last_period``, both included) share periods,
    with the shared periods."""
    spans = [c for c in cohorts if c.first_period is not None and c.last_period is not None]
    out = []
    for i, a in enumerate(spans):
        for b in spans[i + 1:]:
            low, high = max(a.first_period, b.first_period), min(a.last_period, b.last_period)
            if low <= high:
                out.append((a, b, list(range(low, high + 1))))
    return out


def owned_periods(cohort: Any, cohorts: Sequence[Any], overlap: str | None) -> list[int]:
    """The periods of ``cohort``'s span that belong to it: a period inside two cohorts' spans goes to the cohort
    ``overlap`` names (``"later"``: the span that starts later; ``"earlier"``: the one that starts earlier), the
    rule :func:`assignment_order` applies to entry days. Without overlapping spans: its whole span."""
    spans = sorted((c for c in cohorts if c.first_period is not None and c.last_period is not None),
                   key=lambda c: (c.first_period, c.last_period))
    owner: dict[int, str] = {}
    for c in spans[::-1] if overlap == "earlier" else spans:
        owner.update(dict.fromkeys(range(c.first_period, c.last_period + 1), c.name))
    return [t for t in range(cohort.first_period, cohort.last_period + 1) if owner.get(t, cohort.name) == cohort.name]
