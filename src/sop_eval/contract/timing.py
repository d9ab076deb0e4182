"""When a cohort's outcome window closes: the one rule, used by data validation, the evaluation and payments.

A window closes ``follow_up_months + court_lag_months`` calendar months after the last entry (the
cohort's ``entry_end``, or the last index date in the data); its result is measurable
``analysis_months`` later. The months are added in one step with :class:`dateutil.relativedelta`, so a
day past the end of the target month is clipped to its last day (31 January + 1 month = 28 or
29 February) and the result never depends on how the months are split between the terms.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol, TypeVar

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
    return day + relativedelta(months=months)  # type: ignore[no-any-return]


def window_closes(last_entry: D, timing: Timing) -> D:
    """The day the outcome window of the cohort's last entrant closes: + follow-up + court lag months."""
    return add_months(last_entry, timing.follow_up_months + timing.court_lag_months)


def measurable_from(last_entry: D, timing: Timing) -> D:
    """The first day the cohort's result can be measured: the window closes, then ``analysis_months``."""
    return add_months(last_entry, timing.follow_up_months + timing.court_lag_months + timing.analysis_months)


@dataclass(frozen=True)
class WindowTiming:
    """Timing terms on their own (for data without a contract cohort)."""

    follow_up_months: int = 12
    court_lag_months: int = 0
    analysis_months: int = 0
