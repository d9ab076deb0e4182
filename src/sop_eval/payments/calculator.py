"""The payment calculator: contract terms × effect estimates and claims → a payment schedule.

Conventions (see also :mod:`sop_eval.payments.money` and :mod:`sop_eval.payments.caps`):

- An estimate belongs to the cohort named by its ``label`` and the outcome named by its ``outcome``
  (an empty outcome matches any estimate-paid outcome).
- **Attributable** lines: units attributable = ``-estimate * n_treated`` for an outcome to reduce (events
  avoided), ``estimate * n_treated`` for one to increase; gross = units × price, paid only when the
  cohort gate is met and units > 0. A **pooled** gate is tested on the pooled result, all cohorts together
  (:func:`sop_eval.effects.pooling.pool_cohorts`); when met, the catch-up line pays the pooled due in all
  (the sum of every pooled cohort's units × price) less what was paid on those cohorts' lines, never below zero.
- **Ladder** and **sliding-scale** lines pay by the estimate's value on the outcome's measure
  (:mod:`sop_eval.payments.ladders`), times ``n_treated`` when ``per_person``, behind an optional gate.
- **Timing**: a cohort's result is measurable from its ``measurable_from`` date; ``as_of`` an earlier
  date its lines pay nothing and say when they will be measurable; a pooled line waits for its last
  cohort. A line falls due ``payment_terms_days`` after it becomes measurable (claims: after the claim
  date). Without ``as_of`` every result given is taken as measurable.
- **Versions**: a cohort line uses the terms in force when the cohort opened (``entry_start``), a claim
  those in force on its date; every line names that version.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Iterable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

from sop_eval.contract import Contract, GateTerms, Outcome, PooledTerms, load_contract
from sop_eval.errors import SopEvalError, SopEvalWarning, examples
from sop_eval.estimate import EffectEstimate
from sop_eval.payments.caps import DECIMAL, CatchUp, Entry, Ops, apply_caps
from sop_eval.payments.io import read_claims, read_estimates
from sop_eval.payments.ladders import ladder_amount, scale_amount
from sop_eval.payments.money import ZERO
from sop_eval.payments.ratecard import claim_entries
from sop_eval.payments.schedule import CapStep, PaymentLine, PaymentSchedule
from sop_eval.stats.estimate import level_of
from sop_eval.thresholds import Gate, measure_value, to_decimal

EstimatesInput = str | Path | EffectEstimate | Iterable[EffectEstimate | Mapping[str, Any]] | Mapping[str, Any] | None


def calculate(
    contract: Contract | str | Path,
    estimates: EstimatesInput = None,
    claims: str | Path | pd.DataFrame | None = None,
    as_of: dt.date | str | None = None,
    pooled: Iterable[EffectEstimate] = (),
    *,
    pending: Mapping[str, str] | None = None,
) -> PaymentSchedule:
    """Every payment the contract makes for ``estimates`` (per cohort) and ``claims`` (rate cards) ``as_of`` a date.

    ``contract`` is a :class:`Contract` or a TOML path; ``estimates`` a JSON path or a sequence of
    :class:`EffectEstimate` (or records); ``claims`` a CSV path or DataFrame. ``pooled``: pooled results a
    design computed itself (one per outcome), for cohorts that share a fit: the pooled gate tests their
    standard error instead of treating the cohorts as independent. ``pending`` names the cohorts the
    evaluation found not yet measurable, each with when it will be (e.g. "when period 2026 is in the data"):
    their lines, and a pooled line over them, are "not yet measurable". Returns a :class:`PaymentSchedule`
    with one :class:`PaymentLine` per cohort, pooled catch-up and claim.
    """
    if not isinstance(contract, Contract):
        contract = load_contract(contract)
    day = _as_date(as_of)
    ests = read_estimates(estimates) if estimates is not None else ()
    entries, notes = estimate_entries(contract, ests, day, pooled, pending=pending)
    if claims is not None:
        claim_list, claim_notes = claim_entries(contract, read_claims(claims), day)
        entries += claim_list
        notes += claim_notes
    elif any(o.mechanism == "rate_card" for o in contract.outcomes):
        notes.append("no claims given: rate-card outcomes pay nothing in this schedule.")
    if estimates is None and any(o.mechanism != "rate_card" for o in contract.outcomes):
        notes.append("no estimates given: cohort outcomes pay nothing in this schedule.")
    notes += _undated_periods_note(contract, entries)
    entries = order_entries(entries)
    capped = apply_caps(entries, contract, DECIMAL)
    lines = tuple(_line(i + 1, e, c, contract) for i, (e, c) in enumerate(zip(entries, capped, strict=False)))
    return PaymentSchedule(
        contract=contract.name, contract_version=contract.version, contract_sha256=contract.sha256,
        currency=contract.currency, as_of=day, lines=lines, payer_names=tuple(p.name for p in contract.payers),
        notes=tuple(notes),
    )


def gate_of(terms: GateTerms | PooledTerms, label: str) -> Gate:
    """The :class:`~sop_eval.thresholds.Gate` a contract's gate (or pooled gate) terms describe; the contract's
    significance ``alpha`` (its TOML key) becomes the gate's confidence level."""
    level = None if terms.alpha is None else level_of(terms.alpha)
    return Gate(terms.threshold, measure=terms.measure, level=level, label=label)


def _as_date(value: dt.date | str | None) -> dt.date | None:
    if value is None or (isinstance(value, dt.date) and not isinstance(value, dt.datetime)):
        return value
    try:
        return pd.Timestamp(value).date()
    except (ValueError, TypeError):
        raise SopEvalError(f"as_of={value!r} is not a date; give it as 'YYYY-MM-DD'.") from None


def order_entries(entries: list[Entry]) -> list[Entry]:
    """Entries in processing order (due date, stage, given order), catch-up members as indices."""
    ordered = sorted(
        enumerate(entries), key=lambda ie: (ie[1].due or dt.date.max, ie[1].stage, ie[0])
    )
    out = [e for _, e in ordered]
    position = {id(e): i for i, e in enumerate(out)}
    for e in out:
        if e.catch_up is not None:
            e.catch_up.members = tuple(position[id(m)] for m in e.catch_up.members)
    return out


def attributable_gross(units: Any, price: Decimal, met: Any, ops: Ops) -> Any:
    """Units × price when the gate is met and units are positive, else 0 (rounded to the penny)."""
    return ops.round(ops.where(met & (units > 0), units * ops.const(price), ops.const(0)))


def graded_gross(outcome: Outcome, value: Any, n_treated: int, met: Any, ops: Ops) -> Any:
    """A ladder's or sliding scale's amount for ``value`` (times ``n_treated`` when per person), if ``met``."""
    if outcome.mechanism == "ladder":
        amount = ladder_amount(value, outcome.steps, ops)
    else:
        amount = scale_amount(value, outcome.floor, outcome.ceiling, outcome.amount, outcome.amount_at_floor, ops)
    if outcome.per_person:
        amount = amount * ops.const(n_treated)
    return ops.round(ops.where(met, amount, ops.const(0)))


def units_of(estimate: EffectEstimate, outcome: Outcome) -> Decimal:
    """Units attributable to the service: ``-estimate * n_treated`` (reduction) or ``estimate * n_treated``."""
    effect = to_decimal(estimate.estimate, "estimate") * estimate.n_treated
    return -effect if outcome.direction == "reduction" else effect


def match_estimates(contract: Contract, estimates: Iterable[EffectEstimate]) -> dict[tuple[str, str], EffectEstimate]:
    """``{(outcome, cohort): estimate}``; an error names any estimate that fits no cohort or outcome."""
    paid = [o for o in contract.outcomes if o.mechanism != "rate_card"]
    cohorts = {c.name for c in contract.cohorts}
    out: dict[tuple[str, str], EffectEstimate] = {}
    for e in estimates:
        if e.label not in cohorts:
            raise SopEvalError(
                f"estimate labelled {e.label!r} (outcome {e.outcome!r}) names no cohort of contract "
                f"{contract.name!r}; cohorts: {examples(sorted(cohorts))}. Set the estimate's label/cohort."
            )
        targets = [o for o in paid if not e.outcome or e.outcome == o.name]
        if not targets:
            raise SopEvalError(
                f"estimate for {e.label!r} measures {e.outcome!r}, which is not an estimate-paid outcome of "
                f"contract {contract.name!r} ({examples([o.name for o in paid]) or 'none'})."
            )
        for o in targets:
            if e.label not in o.cohorts:
                continue
            if (o.name, e.label) in out:
                raise SopEvalError(f"two estimates given for outcome {o.name!r}, cohort {e.label!r}; give one.")
            out[(o.name, e.label)] = e
    return out


def estimate_entries(
    contract: Contract, estimates: Iterable[EffectEstimate], as_of: dt.date | None,
    pooled: Iterable[EffectEstimate] = (), *,
    pending: Mapping[str, str] | None = None,
) -> tuple[list[Entry], list[str]]:
    """Entries for every cohort line, ladder/scale line and pooled catch-up (exact decimals); ``pooled`` as
    :func:`calculate`."""
    found = match_estimates(contract, estimates)
    given = {p.outcome: p for p in pooled}
    entries: list[Entry] = []
    notes: list[str] = []
    terms = dt.timedelta(days=contract.payment_terms_days)
    for o in contract.outcomes:
        if o.mechanism == "rate_card":
            continue
        members: dict[str, Entry] = {}
        for name in o.cohorts:
            cohort = contract.cohort(name)
            price, version = contract.price(o, cohort.entry_start or contract.effective)
            when = cohort.measurable_from
            kind = {"attributable": "cohort", "ladder": "ladder", "sliding_scale": "sliding scale"}[o.mechanism]
            e = Entry(outcome=o, kind=kind, gross=ZERO, cohort=name, version=version, price=price,
                      measurable_from=when, due=None if when is None else when + terms)
            members[name] = e
            entries.append(e)
            est = found.get((o.name, name))
            if as_of is not None and when is not None and as_of < when:
                e.status, e.note = "not yet measurable", f"measurable from {when}; due {e.due}"
                continue
            if est is None and pending and name in pending:
                e.status, e.note = "not yet measurable", _pending_note(pending[name], e.due)
                continue
            if est is None:
                e.status, e.note = "no estimate", f"no estimate given for {o.name!r}, {name!r}"
                continue
            _check_design(o, est)
            trigger = o.trigger()
            e.decision = gate_of(trigger, f"{o.name} / {name}").evaluate(est) if trigger else None
            met = e.decision.met if e.decision and o.gate else True
            if o.mechanism == "attributable":
                assert price is not None  # the parser requires a price for attributable outcomes
                e.units = units_of(est, o)
                e.gross = attributable_gross(e.units, price, met, DECIMAL)
                if met and e.units <= 0:
                    e.status, e.note = "no effect", "no units attributable to the service"
            else:
                value = measure_value(est, o.measure)
                e.units = None
                e.gross = graded_gross(o, value, est.n_treated, met, DECIMAL)
                e.note = f"{o.measure.replace('_', ' ')} {value:.6g}"
            if not met or (e.decision and not e.decision.met):
                e.status = "gate not met"
        if o.pooled is not None:
            entries.append(_pooled_entry(contract, o, members, found, as_of, terms, pending or {}, given.get(o.name)))
    return entries, notes


def _pooled_entry(
    contract: Contract, o: Outcome, members: dict[str, Entry], found: Mapping[tuple[str, str], EffectEstimate],
    as_of: dt.date | None, terms: dt.timedelta, pending: Mapping[str, str], given: EffectEstimate | None = None,
) -> Entry:
    pooled = o.pooled
    assert pooled is not None
    names = pooled.cohorts
    dates = [contract.cohort(n).measurable_from for n in names]
    when = None if any(d is None for d in dates) else max(dates)  # type: ignore[type-var]
    e = Entry(outcome=o, kind="pooled catch-up", gross=ZERO, cohort="pooled: " + " + ".join(names),
              version=members[names[-1]].version, price=o.price, measurable_from=when,
              due=None if when is None else when + terms, stage=1)
    ests = [found.get((o.name, n)) for n in names]
    if as_of is not None and when is not None and as_of < when:
        e.status, e.note = "not yet measurable", f"pooled result measurable from {when}; due {e.due}"
        return e
    missing = [n for n, est in zip(names, ests, strict=False) if est is None]
    waiting = [n for n in missing if n in pending]
    if waiting:
        e.status = "not yet measurable"
        e.note = "pooled result measurable once " + "; ".join(f"{n!r} is ({pending[n]})" for n in waiting)
        return e
    if missing:
        e.status, e.note = "no estimate", f"the pooled result needs estimates for {examples(missing)}"
        return e
    e.decision = gate_of(pooled, f"{o.name} / pooled").evaluate_pooled(ests, pooled=given)  # type: ignore[arg-type]
    e.units = sum((units_of(est, o) for est in ests), Decimal(0))  # type: ignore[arg-type]
    # each cohort's part rounded to the penny as its own line is, so equal results never leave a 1p catch-up
    due_all = sum(
        (DECIMAL.round(units_of(est, o) * members[n].price) for n, est in zip(names, ests, strict=False)),  # type: ignore[arg-type,operator]
        Decimal(0),
    )
    e.note = f"due in all {due_all} less paid on {', '.join(names)}"
    if not pooled.catch_up:
        e.note = "catch-up off: the pooled result is reported but pays nothing beyond the cohort lines"
        return e
    e.catch_up = CatchUp(members=tuple(members[n] for n in names), due_all=due_all, met=e.decision.met)
    if not e.decision.met:
        e.status = "gate not met"
    return e


def _undated_periods_note(contract: Contract, entries: list[Entry]) -> list[str]:
    """Why cohorts of periods have no due date: they are dated only by ``data_available``."""
    undated = sorted({e.cohort for e in entries if e.kind in ("cohort", "ladder", "sliding scale") and e.cohort
                      and e.due is None
                      and contract.cohort(e.cohort).first_period is not None})
    if not undated:
        return []
    return [f"no due date for cohort(s) {examples(undated)}: a cohort of periods is dated by the day its last "
            "period's data are published; add data_available = YYYY-MM-DD to its [[cohorts]] table (due "
            f"payment_terms_days = {contract.payment_terms_days} days after, plus any [timing] analysis_months)."]


def _pending_note(when: str, due: dt.date | None) -> str:
    """A not-yet-measurable line's note: when it will be measurable, and its due date where the contract gives one."""
    return f"measurable {when}" + ("" if due is None else f"; due {due}")


def _check_design(o: Outcome, est: EffectEstimate) -> None:
    if est.design != o.design:
        warnings.warn(
            f"estimate for {o.name!r}, {est.label!r} uses design {est.design!r} but the contract states "
            f"{o.design!r}; the payment line names the estimate's design.",
            SopEvalWarning,
            stacklevel=3,
        )


def _line(number: int, e: Entry, c: Any, contract: Contract) -> PaymentLine:
    status = e.status
    if status == "payable":
        if c.gross > 0 and c.amount == 0:
            status = "capped to zero"
        elif c.gross == 0:
            status = "nothing due"
    design = e.decision.design if e.decision is not None and e.decision.design else e.outcome.design
    steps = tuple(CapStep(name, Decimal(limit), before, after) for name, limit, before, after in c.steps)
    return PaymentLine(
        number=number, outcome=e.outcome.name, mechanism=e.outcome.mechanism, kind=e.kind, cohort=e.cohort,
        claim_row=e.claim_row, contract_version=e.version, design=design, assumed_rate=design == "assumed_rate",
        weaker_evidence=design in ("historical_baseline", "assumed_rate"), status=status, units=e.units,
        price=e.price, gross=c.gross, amount=c.amount, caps=steps, payers=tuple(c.payers), decision=e.decision,
        measurable_from=e.measurable_from, due=e.due, note=e.note,
    )
