"""Contract terms as data: a TOML file parsed into frozen dataclasses, validated with key-path errors.

Read with :func:`load_contract` (a path) or :func:`parse_contract` (TOML text). Every number is read
exactly (TOML floats become :class:`~decimal.Decimal`), dates are TOML dates or 'YYYY-MM-DD' text,
unknown keys are errors. The sections and keys are listed in ``fixtures/contracts/README.md``; in short:

``[contract]`` name, version, effective, currency, description, payment_terms_days ·
``[timing]`` follow_up_months, court_lag_months, analysis_months (defaults for every cohort) ·
``[[cohorts]]`` name, entry_start, entry_end, size, and timing overrides ·
``[[outcomes]]`` name, mechanism (attributable | rate_card | ladder | sliding_scale), design, metric,
unit, cohorts, cap, plus the mechanism's own keys and optional ``[outcomes.gate]`` / ``[outcomes.pooled]`` ·
``[[payers]]`` name, share, cap · ``[caps]`` contract, per_person · ``[[amendments]]`` version,
effective, description, ``[amendments.prices]`` · ``[investor]`` name, return_cap, multiple_cap,
excess_to, ``[[investor.drawdowns]]`` date, amount · ``[data]`` paths and ``[data.columns]`` roles ·
``[evaluation]`` design, extract_date, outcome, se, level, ``[evaluation.matching]``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Mapping

from sop_eval.data import ColumnRoles
from sop_eval.effects.estimate import DESIGNS, WEAKER_DESIGNS
from sop_eval.errors import SopEvalError, examples
from sop_eval.payments._toml import Table
from sop_eval.stats.estimate import level_of
from sop_eval.thresholds import MEASURES, Gate

MECHANISMS = ("attributable", "rate_card", "ladder", "sliding_scale")
_ONE = Decimal(1)


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` plus whole calendar months (the day clipped to the month's length)."""
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    days = [31, 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28, 31, 30, 31, 30, 31, 31,
            30, 31, 30, 31][month - 1]
    return dt.date(year, month, min(day.day, days))


@dataclass(frozen=True)
class Cohort:
    """A contract cohort: who entered when, and when its result can first be measured.

    ``measurable_from`` = ``entry_end`` + follow-up + court/data lag + analysis months: the last entrant's
    outcome window closes, lagged data arrive, and the analysis is done.
    """

    name: str
    entry_start: dt.date | None = None
    entry_end: dt.date | None = None
    follow_up_months: int = 0
    court_lag_months: int = 0
    analysis_months: int = 0
    size: int | None = None
    group: int | None = None

    @property
    def measurable_from(self) -> dt.date | None:
        """First date the cohort's result can be measured (None when no entry window is stated)."""
        if self.entry_end is None:
            return None
        months = self.follow_up_months + self.court_lag_months + self.analysis_months
        return add_months(self.entry_end, months)


def _level(alpha: float | None) -> float | None:
    """The confidence level of a contract's significance ``alpha`` (its TOML key), None when none is required."""
    return None if alpha is None else level_of(alpha)


@dataclass(frozen=True)
class GateTerms:
    """A gate as the contract writes it (threshold on ``measure``, optional significance ``alpha``)."""

    threshold: Decimal
    measure: str = "relative_reduction"
    alpha: float | None = None

    def gate(self, label: str) -> Gate:
        """The :class:`sop_eval.thresholds.Gate` these terms describe."""
        return Gate(self.threshold, measure=self.measure, level=_level(self.alpha), label=label)


@dataclass(frozen=True)
class PooledTerms:
    """The pooled gate over ``cohorts`` (weighted by cohort size) and whether it pays a catch-up."""

    threshold: Decimal
    cohorts: tuple[str, ...]
    measure: str = "relative_reduction"
    alpha: float | None = None
    catch_up: bool = True

    def gate(self, label: str) -> Gate:
        """The pooled :class:`sop_eval.thresholds.Gate`."""
        return Gate(self.threshold, measure=self.measure, level=_level(self.alpha), label=label)


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
    """An outcome payer, its ``share`` of every payment (fraction) and its own total ``cap``."""

    name: str
    share: Decimal
    cap: Decimal | None = None


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
class DataSettings:
    """Where the evaluation data live (absolute paths, resolved against the contract file) and column roles."""

    participants: Path | None = None
    comparison_pool: Path | None = None
    estimates: Path | None = None
    claims: Path | None = None
    columns: Mapping[str, Any] = field(default_factory=dict)

    def column_roles(self) -> Any:
        """The column roles as :class:`sop_eval.data.ColumnRoles`."""
        return ColumnRoles(**{k: v for k, v in self.columns.items() if k not in PANEL_ROLES})

    def panel_columns(self) -> dict[str, str]:
        """The panel roles of a difference-in-differences evaluation: ``unit``, ``time`` and ``group``."""
        return {k: v for k, v in self.columns.items() if k in PANEL_ROLES}


@dataclass(frozen=True)
class MatchingSettings:
    """Matching settings: ``method``, up to ``ratio`` controls each, ``replace``, ``caliper`` (in SDs of
    ``caliper_scale``), ``exact`` columns and the propensity ``distance`` model."""

    method: str = "nearest"
    ratio: int = 1
    replace: bool = False
    caliper: Decimal | None = None
    caliper_scale: str = "logit"
    exact: tuple[str, ...] = ()
    distance: str = "glm"


@dataclass(frozen=True)
class DidSettings:
    """Staggered-adoption settings (Callaway–Sant'Anna ``att_gt``): comparison units, estimator, base period,
    anticipation and the standard error (``analytic`` or multiplier ``bootstrap`` with ``n_boot`` draws)."""

    control: str = "not_yet"
    method: str = "dr"
    anticipation: int = 0
    base_period: str = "varying"
    se: str = "analytic"
    n_boot: int = 999


@dataclass(frozen=True)
class EvaluationSettings:
    """How the evaluation that feeds the payments is run (read by the pipeline)."""

    design: str = "psm"
    outcome: str | None = None
    extract_date: dt.date | None = None
    se: str = "cluster"
    level: float = 0.95
    matching: MatchingSettings = field(default_factory=MatchingSettings)
    did: DidSettings = field(default_factory=DidSettings)


@dataclass(frozen=True)
class Contract:
    """A whole contract: metadata, timing, cohorts, outcomes, payers, caps, amendments, investor, evaluation."""

    name: str
    version: str
    effective: dt.date
    currency: str
    description: str = ""
    payment_terms_days: int = 0
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

    def cohort(self, name: str) -> Cohort:
        """The cohort called ``name``."""
        for c in self.cohorts:
            if c.name == name:
                return c
        raise SopEvalError(f"contract {self.name!r} has no cohort {name!r}; cohorts: {examples([c.name for c in self.cohorts])}.")

    def outcome(self, name: str) -> Outcome:
        """The outcome called ``name``."""
        for o in self.outcomes:
            if o.name == name:
                return o
        raise SopEvalError(
            f"contract {self.name!r} has no outcome {name!r}; outcomes: {examples([o.name for o in self.outcomes], 10)}."
        )

    def terms_on(self, day: dt.date | None) -> tuple[str, Mapping[str, Decimal]]:
        """The version in force on ``day`` and the prices it changed (amendments in effective order)."""
        version, prices = self.version, {}
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


# -- parsing ----------------------------------------------------------------------------------------


def load_contract(path: str | Path) -> Contract:
    """Read and validate a contract TOML file (paths in ``[data]`` are resolved against its folder)."""
    p = Path(path)
    if not p.is_file():
        raise SopEvalError(f"contract file {str(p)!r} does not exist; give the path of a .toml contract.")
    raw = p.read_bytes()
    return parse_contract(raw.decode("utf-8"), source=str(p), base_dir=p.parent)


def parse_contract(text: str, *, source: str = "<contract>", base_dir: str | Path | None = None) -> Contract:
    """Parse and validate contract TOML ``text`` (see the module docstring for the schema)."""
    try:
        doc = tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as exc:
        raise SopEvalError(f"{source}: not valid TOML ({exc}); check quotes, brackets and '=' signs.") from None
    top = Table(doc, "", source)
    meta = top.table("contract", required=True)
    assert meta is not None
    name = meta.text("name")
    version = meta.label("version")
    effective = meta.date("effective")
    currency = meta.text("currency")
    if len(currency) != 3 or not currency.isalpha() or not currency.isupper():
        raise meta.fail("currency", currency, "expected a three-letter ISO 4217 code such as \"GBP\".")
    description = meta.text("description", "")
    terms_days = meta.integer("payment_terms_days", 0)
    meta.done()

    timing = top.table("timing") or Table({}, "timing", source)
    defaults = {k: timing.integer(k, 0) for k in ("follow_up_months", "court_lag_months", "analysis_months")}
    timing.done()

    cohorts = tuple(_cohort(t, defaults) for t in top.tables("cohorts"))
    _unique([c.name for c in cohorts], "cohorts", source)
    names = tuple(c.name for c in cohorts)
    outcomes = tuple(_outcome(t, names) for t in top.tables("outcomes", required=True))
    _unique([o.name for o in outcomes], "outcomes", source)
    payers = tuple(_payer(t) for t in top.tables("payers", required=True))
    _unique([p.name for p in payers], "payers", source)
    total = sum((p.share for p in payers), Decimal(0))
    if total != _ONE:
        raise SopEvalError(
            f"{source}: payers.share values {examples([str(p.share) for p in payers])} sum to {total} "
            f"({total * 100}%), not 1 (100%). Shares are fractions: 0.8 and 0.2 for 80% and 20%."
        )
    caps_t = top.table("caps") or Table({}, "caps", source)
    caps = Caps(
        contract=caps_t.number("contract", None, what="an amount"),
        per_person=caps_t.number("per_person", None, what="an amount"),
    )
    caps_t.done()
    outcome_names = {o.name for o in outcomes}
    amendments = tuple(_amendment(t, outcome_names) for t in top.tables("amendments"))
    dates = [effective, *(a.effective for a in amendments)]
    for i in range(1, len(dates)):
        if dates[i] <= dates[i - 1]:
            raise SopEvalError(
                f"{source}: amendments[{i - 1}].effective = {dates[i]} is not after {dates[i - 1]}; amendments "
                "must follow the contract's effective date and each other in date order."
            )
    _unique([version, *(a.version for a in amendments)], "amendments.version (and contract.version)", source)
    inv_t = top.table("investor")
    investor = _investor(inv_t) if inv_t is not None else None
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    data_t = top.table("data")
    data = _data(data_t, base) if data_t is not None else None
    eval_t = top.table("evaluation")
    evaluation = _evaluation(eval_t) if eval_t is not None else None
    top.done()
    return Contract(
        name=name, version=version, effective=effective, currency=currency, description=description,
        payment_terms_days=terms_days, cohorts=cohorts, outcomes=outcomes, payers=payers, caps=caps,
        amendments=amendments, investor=investor, data=data, evaluation=evaluation, source=source,
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
    )


def _unique(names: list[str], what: str, source: str) -> None:
    seen = [n for i, n in enumerate(names) if n in names[:i]]
    if seen:
        raise SopEvalError(f"{source}: {what} names must be unique; repeated: {examples(seen)}.")


def _cohort(t: Table, defaults: dict[str, int]) -> Cohort:
    c = Cohort(
        name=t.text("name"),
        entry_start=t.date("entry_start", None),
        entry_end=t.date("entry_end", None),
        size=t.integer("size", None, low=1),
        group=t.integer("group", None, low=1),
        **{k: t.integer(k, v) for k, v in defaults.items()},
    )
    if c.entry_start and c.entry_end and c.entry_end < c.entry_start:
        raise t.fail("entry_end", c.entry_end.isoformat(), f"expected a date on or after entry_start ({c.entry_start}).")
    if c.entry_start and not c.entry_end:
        raise t.fail("entry_start", c.entry_start.isoformat(), "give entry_end too (the last entry date).")
    t.done()
    return c


def _gate(t: Table | None, default_measure: str) -> GateTerms | None:
    if t is None:
        return None
    measure = t.text("measure", default_measure, choices=MEASURES)
    high = _ONE if measure.startswith("relative") else None
    threshold = t.number("threshold", high=high, what="a threshold (0.10 for 10%)" if high else "a threshold")
    alpha = t.number("alpha", None, low=Decimal("0"), high=_ONE, what="a significance level such as 0.05")
    t.done()
    if alpha is not None and not 0 < alpha < 1:
        raise t.fail("alpha", alpha, "expected a significance level strictly between 0 and 1.")
    return GateTerms(threshold=threshold, measure=measure, alpha=None if alpha is None else float(alpha))


_MECHANISM_KEYS = {
    "attributable": {"price", "direction", "gate", "pooled"},
    "rate_card": {"price", "max_per_person", "tier_prices", "volume_cap"},
    "ladder": {"measure", "steps", "gate", "per_person"},
    "sliding_scale": {"measure", "floor", "ceiling", "amount", "amount_at_floor", "gate", "per_person"},
}


def _outcome(t: Table, cohort_names: tuple[str, ...]) -> Outcome:
    name = t.text("name")
    mech = t.text("mechanism", choices=MECHANISMS)
    for key in t.data:
        others = set().union(*_MECHANISM_KEYS.values()) - _MECHANISM_KEYS[mech]
        if key in others:
            raise t.fail(key, t.data[key], f"not used by mechanism {mech!r}; its keys are {examples(sorted(_MECHANISM_KEYS[mech]))}.")
    design = t.text("design", choices=DESIGNS)
    kw: dict[str, Any] = dict(
        name=name, mechanism=mech, design=design, metric=t.text("metric", ""), unit=t.text("unit", ""),
        cap=t.number("cap", None, what="an amount"),
    )
    listed = t.texts("cohorts", ())
    unknown = [c for c in listed if c not in cohort_names]
    if unknown:
        raise t.fail("cohorts", list(listed), f"unknown cohort(s) {examples(unknown)}; [[cohorts]] names: {examples(cohort_names)}.")
    kw["cohorts"] = listed or cohort_names
    if mech in ("attributable", "rate_card"):
        kw["price"] = t.number("price", what="a price (amount per unit)")
    if mech == "attributable":
        kw["direction"] = t.text("direction", "reduction", choices=("reduction", "increase"))
        gate_measure = "relative_reduction" if kw["direction"] == "reduction" else "relative_increase"
        kw["gate"] = _gate(t.table("gate"), gate_measure)
        pooled_t = t.table("pooled")
        if pooled_t is not None:
            measure = pooled_t.text("measure", kw["gate"].measure if kw["gate"] else gate_measure, choices=MEASURES)
            threshold = pooled_t.number("threshold", high=_ONE if measure.startswith("relative") else None,
                                        what="a threshold (0.075 for 7.5%)")
            alpha = pooled_t.number("alpha", None, high=_ONE, what="a significance level")
            pooled_cohorts = pooled_t.texts("cohorts", kw["cohorts"])
            bad = [c for c in pooled_cohorts if c not in kw["cohorts"]]
            if not pooled_cohorts or bad:
                raise pooled_t.fail(
                    "cohorts", list(pooled_cohorts),
                    f"a pooled gate needs cohorts paid by this outcome (its cohorts: {examples(kw['cohorts']) or 'none declared'}).",
                )
            kw["pooled"] = PooledTerms(threshold, tuple(pooled_cohorts), measure,
                                       None if alpha is None else float(alpha), pooled_t.flag("catch_up", True))
            pooled_t.done()
    elif mech == "rate_card":
        kw["max_per_person"] = t.integer("max_per_person", 1, low=1)
        tiers = t._take("tier_prices", [])
        if not isinstance(tiers, list) or any(isinstance(v, bool) or not isinstance(v, (int, Decimal)) or v < 0 for v in tiers):
            raise t.fail("tier_prices", tiers, "expected a list of non-negative prices, one per occurrence.")
        if tiers and len(tiers) != kw["max_per_person"]:
            raise t.fail("tier_prices", tiers, f"expected {kw['max_per_person']} prices (one per occurrence up to max_per_person).")
        kw["tier_prices"] = tuple(Decimal(v) for v in tiers)
        kw["volume_cap"] = t.integer("volume_cap", None, low=0)
    else:
        kw["measure"] = t.text("measure", "relative_reduction", choices=MEASURES)
        kw["gate"] = _gate(t.table("gate"), kw["measure"])
        kw["per_person"] = t.flag("per_person", False)
    if mech == "ladder":
        steps = []
        for s in t.tables("steps", required=True):
            steps.append(Step(s.number("at_least", low=None, what="a value on the measure"), s.number("amount", what="an amount")))
            s.done()
        for i in range(1, len(steps)):
            if steps[i].at_least <= steps[i - 1].at_least:
                raise t.fail(f"steps[{i}].at_least", steps[i].at_least, "expected rungs in increasing order of at_least.")
        kw["steps"] = tuple(steps)
    if mech == "sliding_scale":
        kw["floor"] = t.number("floor", low=None, what="the value below which nothing is paid")
        kw["ceiling"] = t.number("ceiling", low=None, what="the value at which the full amount is paid")
        if kw["ceiling"] <= kw["floor"]:
            raise t.fail("ceiling", kw["ceiling"], f"expected a ceiling above the floor ({kw['floor']}).")
        kw["amount"] = t.number("amount", what="the full amount")
        kw["amount_at_floor"] = t.number("amount_at_floor", Decimal(0), what="an amount")
        if kw["amount_at_floor"] > kw["amount"]:
            raise t.fail("amount_at_floor", kw["amount_at_floor"], f"expected at most the full amount ({kw['amount']}).")
    t.done()
    if mech in ("attributable", "ladder", "sliding_scale") and not cohort_names:
        raise SopEvalError(f"{t.source}: {t.path} ({name!r}, {mech}) is paid per cohort; declare [[cohorts]].")
    return Outcome(**kw)


def _payer(t: Table) -> Payer:
    p = Payer(t.text("name"), t.number("share", high=_ONE, what="a share between 0 and 1 (0.8 for 80%)"),
              t.number("cap", None, what="an amount"))
    t.done()
    return p


def _amendment(t: Table, outcome_names: set[str]) -> Amendment:
    a_version, effective, description = t.label("version"), t.date("effective"), t.text("description", "")
    prices = {}
    for key, value in t.mapping("prices").items():
        if key not in outcome_names:
            raise t.fail(f"prices.{key}", value, f"no such outcome; outcomes: {examples(sorted(outcome_names), 10)}.")
        if isinstance(value, bool) or not isinstance(value, (int, Decimal)) or value < 0:
            raise t.fail(f"prices.{key}", value, "expected a non-negative price.")
        prices[key] = Decimal(value)
    t.done()
    return Amendment(a_version, effective, description, prices)


def _investor(t: Table) -> InvestorTerms:
    draws = []
    for d in t.tables("drawdowns"):
        draws.append(Drawdown(d.date("date"), d.number("amount", what="an amount")))
        d.done()
    inv = InvestorTerms(
        name=t.text("name", "investors"),
        drawdowns=tuple(sorted(draws, key=lambda d: d.date)),
        return_cap=t.number("return_cap", None, high=Decimal(10), what="an annual rate (0.06 for 6%)"),
        multiple_cap=t.number("multiple_cap", None, low=_ONE, what="a money multiple >= 1"),
        excess_to=t.text("excess_to", "outcome payers"),
    )
    t.done()
    return inv


PANEL_ROLES = ("unit", "time", "group")
_COLUMN_ROLES = ("id", "treatment", "cohort", "index_date", "covariates", "outcomes", "counts", "allow_missing",
                 *PANEL_ROLES)


def _data(t: Table, base: Path) -> DataSettings:
    def path(key: str) -> Path | None:
        value = t.text(key, None)
        return None if value is None else (base / value).resolve()

    kw = {k: path(k) for k in ("participants", "comparison_pool", "estimates", "claims")}
    cols = t.table("columns") or Table({}, "data.columns", t.source)
    columns: dict[str, Any] = {}
    for role in _COLUMN_ROLES:
        if role in ("covariates", "outcomes", "counts", "allow_missing"):
            value = cols.texts(role, None)
        else:
            value = cols.text(role, None)
        if value is not None:
            columns[role] = value
    cols.done()
    t.done()
    return DataSettings(columns=columns, **kw)


def _evaluation(t: Table) -> EvaluationSettings:
    m = t.table("matching") or Table({}, "evaluation.matching", t.source)
    caliper = m.number("caliper", None, what="a caliper width in standard deviations")
    matching = MatchingSettings(
        method=m.text("method", "nearest", choices=("nearest", "optimal", "full", "exact")),
        ratio=m.integer("ratio", 1, low=1),
        replace=m.flag("replace", False),
        caliper=caliper,
        caliper_scale=m.text("caliper_scale", "logit", choices=("logit", "propensity", "covariates")),
        exact=m.texts("exact", ()),
        distance=m.text("distance", "glm", choices=("glm", "logit", "probit", "gbm", "mahalanobis")),
    )
    m.done()
    d = t.table("did") or Table({}, "evaluation.did", t.source)
    did = DidSettings(
        control=d.text("control", "not_yet", choices=("never", "not_yet")),
        method=d.text("method", "dr", choices=("dr", "ipw", "reg")),
        anticipation=d.integer("anticipation", 0),
        base_period=d.text("base_period", "varying", choices=("varying", "universal")),
        se=d.text("se", "analytic", choices=("analytic", "bootstrap")),
        n_boot=d.integer("n_boot", 999, low=1),
    )
    d.done()
    level = t.number("level", Decimal("0.95"), what="a confidence level such as 0.95")
    if not 0 < level < 1:
        raise t.fail("level", level, "expected a confidence level strictly between 0 and 1.")
    ev = EvaluationSettings(
        design=t.text("design", "psm", choices=DESIGNS),
        outcome=t.text("outcome", None),
        extract_date=t.date("extract_date", None),
        se=t.text("se", "cluster"),
        level=float(level),
        matching=matching,
        did=did,
    )
    t.done()
    return ev
