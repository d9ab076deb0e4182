"""What a contract says: cohorts, paid outcomes and their gates, payers, caps, amendments, investor terms.

Frozen dataclasses built by :func:`sop_eval.contract.parse_contract`; money and thresholds are exact
decimals. How the evaluation behind the payments is run is in :mod:`sop_eval.contract.plan`; when a
cohort's window closes is :mod:`sop_eval.contract.timing`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sop_eval.contract import timing
from sop_eval.contract.plan import DataSettings, EvaluationSettings, ReportSettings
from sop_eval.contract.vocabulary import WEAKER_DESIGNS
from sop_eval.errors import SopEvalError, examples


@dataclass(frozen=True)
class Cohort:
    """A contract cohort: who entered when, how many, and when its result can first be measured.

    ``measurable_from`` = ``entry_end`` + follow-up + court/data lag + analysis months: the last entrant's
    outcome window closes, lagged data arrive, and the analysis is done (:mod:`sop_eval.contract.timing`).
    A cohort of periods (``first_period`` to ``last_period``) is measurable from ``data_available``, the date
    its last period's data are published, plus ``analysis_months``.
    ``size`` is the number of people the contract expects in the cohort; data validation warns when the
    data hold a different number of people served in it.
    """

    name: str
    entry_start: dt.date | None = None
    entry_end: dt.date | None = None
    follow_up_months: int = 0
    court_lag_months: int = 0
    analysis_months: int = 0
    size: int | None = None
    group: int | None = None
    first_period: int | None = None
    last_period: int | None = None
    data_available: dt.date | None = None

    @property
    def measurable_from(self) -> dt.date | None:
        """First date the cohort's result can be measured (None when neither an entry window nor, for a span of
        periods, the date its data are published is stated)."""
        if self.entry_end is None:
            return None if self.data_available is None else timing.published_measurable_from(self.data_available,
                                                                                              self)
        return timing.measurable_from(self.entry_end, self)

    @property
    def window_closes(self) -> dt.date | None:
        """The day the last entrant's outcome window closes (None when no entry window is stated)."""
        return None if self.entry_end is None else timing.window_closes(self.entry_end, self)


@dataclass(frozen=True)
class GateTerms:
    """A gate as the contract writes it (threshold on ``measure``, optional significance ``alpha``)."""

    threshold: Decimal
    measure: str = "relative_reduction"
    alpha: float | None = None


@dataclass(frozen=True)
class PooledTerms:
    """The pooled gate over ``cohorts`` (weighted by cohort size) and whether it pays a catch-up."""

    threshold: Decimal
    cohorts: tuple[str, ...]
    measure: str = "relative_reduction"
    alpha: float | None = None
    catch_up: bool = True


@dataclass(frozen=True)
class Step:
    """One rung of a ladder: from ``at_least`` on the measure, pay ``amount``."""

    at_least: Decimal
    amount: Decimal


@dataclass(frozen=True)
class Outcome:
    """One paid outcome and how it pays.

    ``attributable``: ``price`` per unit attributable to the service (units = ``-estimate * n_treated``
    when ``direction`` is "reduction", ``estimate * n_treated`` for "increase"), behind a cohort ``gate``
    and an optional ``pooled`` gate with catch-up. ``rate_card``: ``price`` per validated claim, at most
    ``max_per_person`` times per person (``tier_prices`` give the 1st, 2nd, … price), at most
    ``volume_cap`` paid claims in all. ``ladder``: the highest ``steps`` rung reached by ``measure``.
    ``sliding_scale``: nothing below ``floor``, ``amount`` at or above ``ceiling``, linear from
    ``amount_at_floor`` in between. Ladders and scales pay per person served when ``per_person``.
    ``cap`` limits the outcome's total payments.
    """

    name: str
    mechanism: str
    design: str
    metric: str = ""
    unit: str = ""
    cohorts: tuple[str, ...] = ()
    cap: Decimal | None = None
    price: Decimal | None = None
    direction: str = "reduction"
    gate: GateTerms | None = None
    pooled: PooledTerms | None = None
    max_per_person: int = 1
    tier_prices: tuple[Decimal, ...] = ()
    volume_cap: int | None = None
    measure: str = "relative_reduction"
    steps: tuple[Step, ...] = ()
    floor: Decimal | None = None
    ceiling: Decimal | None = None
    amount: Decimal | None = None
    amount_at_floor: Decimal = Decimal(0)
    per_person: bool = False

    def trigger(self) -> GateTerms | None:
        """The gate that triggers payment: the explicit ``gate``, else a ladder's first rung or a scale's floor.

        Only an explicit gate withholds payment; the implied trigger of a ladder or scale is reported.
        """
        if self.gate is not None or self.mechanism not in ("ladder", "sliding_scale"):
            return self.gate
        start = self.steps[0].at_least if self.mechanism == "ladder" else self.floor
        if start is None or (self.measure.startswith("relative") and not 0 <= start <= 1):
            return None
        return GateTerms(threshold=start, measure=self.measure)

    @property
    def assumed_rate(self) -> bool:
        """True when the counterfactual is an assumed rate (no comparison group at all)."""
        return self.design == "assumed_rate"

    @property
    def weaker_evidence(self) -> bool:
        """True for a historical baseline or an assumed rate."""
        return self.design in WEAKER_DESIGNS


@dataclass(frozen=True)
class Payer:
    """An outcome payer, its ``share`` of every payment (fraction), its own total ``cap`` and its org-id.guide
    ``organisation_id`` (``GB-LAE-KIR``; None where the contract does not give it)."""

    name: str
    share: Decimal
    cap: Decimal | None = None
    organisation_id: str | None = None


@dataclass(frozen=True)
class Caps:
    """Contract-wide caps: the whole contract's total and each person's total (rate cards)."""

    contract: Decimal | None = None
    per_person: Decimal | None = None


@dataclass(frozen=True)
class Amendment:
    """A formal change of terms from ``effective`` on: new ``version`` and changed ``prices`` by outcome."""

    version: str
    effective: dt.date
    description: str = ""
    prices: Mapping[str, Decimal] = field(default_factory=dict)


@dataclass(frozen=True)
class Drawdown:
    """Investor capital drawn on ``date``."""

    date: dt.date
    amount: Decimal


@dataclass(frozen=True)
class InvestorTerms:
    """Investor terms: drawdowns, a cap on the return (annual rate and/or money multiple) and who gets the excess."""

    name: str = "investors"
    drawdowns: tuple[Drawdown, ...] = ()
    return_cap: Decimal | None = None
    multiple_cap: Decimal | None = None
    excess_to: str = "outcome payers"


@dataclass(frozen=True)
class Contract:
    """A whole contract: metadata, timing, cohorts, outcomes, payers, caps, amendments, investor, evaluation.

    ``overlap`` is ``[timing] overlap``: which cohort owns a day inside two cohorts' entry windows
    (``"earlier"`` or ``"later"`` starting; required when windows overlap).
    """

    name: str
    version: str
    effective: dt.date
    currency: str
    description: str = ""
    payment_terms_days: int = 0
    provider: str | None = None
    provider_organisation_id: str | None = None
    cohorts: tuple[Cohort, ...] = ()
    outcomes: tuple[Outcome, ...] = ()
    payers: tuple[Payer, ...] = ()
    caps: Caps = field(default_factory=Caps)
    amendments: tuple[Amendment, ...] = ()
    investor: InvestorTerms | None = None
    data: DataSettings | None = None
    evaluation: EvaluationSettings | None = None
    source: str = "<contract>"
    sha256: str = ""
    overlap: str | None = None
    report: ReportSettings = field(default_factory=ReportSettings)

    def cohort(self, name: str) -> Cohort:
        """The cohort called ``name``."""
        for c in self.cohorts:
            if c.name == name:
                return c
        raise SopEvalError(
            f"contract {self.name!r} has no cohort {name!r}; cohorts: {examples([c.name for c in self.cohorts])}."
        )

    def outcome(self, name: str) -> Outcome:
        """The outcome called ``name``."""
        for o in self.outcomes:
            if o.name == name:
                return o
        raise SopEvalError(
            f"contract {self.name!r} has no outcome {name!r}; "
            f"outcomes: {examples([o.name for o in self.outcomes], 10)}."
        )

    def terms_on(self, day: dt.date | None) -> tuple[str, Mapping[str, Decimal]]:
        """The version in force on ``day`` and the prices it changed (amendments in effective order)."""
        version, prices = self.version, dict[str, Decimal]()
        for a in self.amendments:
            if day is not None and day >= a.effective:
                version = a.version
                prices = {**prices, **a.prices}
        return version, prices

    def price(self, outcome: Outcome, day: dt.date | None) -> tuple[Decimal | None, str]:
        """The price of ``outcome`` on ``day`` and the contract version it comes from."""
        version, prices = self.terms_on(day)
        return prices.get(outcome.name, outcome.price), version

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe summary of the terms that identify the contract."""
        return {
            "name": self.name,
            "version": self.version,
            "versions": [self.version, *(a.version for a in self.amendments)],
            "effective": self.effective.isoformat(),
            "currency": self.currency,
            "source": self.source,
            "sha256": self.sha256,
            "cohorts": [c.name for c in self.cohorts],
            "outcomes": [{"name": o.name, "mechanism": o.mechanism, "design": o.design} for o in self.outcomes],
            "payers": [{"name": p.name, "share": str(p.share), "cap": _s(p.cap)} for p in self.payers],
            "caps": {"contract": _s(self.caps.contract), "per_person": _s(self.caps.per_person)},
        }


def _s(value: Decimal | None) -> str | None:
    return None if value is None else str(value)
