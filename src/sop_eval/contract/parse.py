"""Contract TOML → frozen dataclasses, through the one schema in :mod:`sop_eval.contract.schema`.

Read with :func:`load_contract` (a path) or :func:`parse_contract` (TOML text). Every number is read
exactly (TOML floats become :class:`~decimal.Decimal`), dates are TOML dates or 'YYYY-MM-DD' text.
Each key is read as its schema entry says; a key the schema does not list, a key of another mechanism
or design, or a value the engine does not run is refused with an error naming the key path, the value
and what is supported. The sections and keys are also listed in ``fixtures/contracts/README.md``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import tomllib
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from sop_eval.contract import schema as s
from sop_eval.contract import timing as tm
from sop_eval.contract import vocabulary as v
from sop_eval.contract._toml import MISSING, Table
from sop_eval.contract.plan import (
    DataSettings,
    DidSettings,
    EvaluationSettings,
    MatchingSettings,
    ReportSettings,
    SynthSettings,
)
from sop_eval.contract.terms import (
    Amendment,
    Caps,
    Cohort,
    Contract,
    Drawdown,
    GateTerms,
    InvestorTerms,
    Outcome,
    Payer,
    PooledTerms,
    Step,
)
from sop_eval.errors import SopEvalError, examples
from sop_eval.stats.registry import check_se, se_names


def read(t: Table, keys: Sequence[s.Key], *, defaults: dict[str, Any] | None = None, finish: bool = True,
         base: Path | None = None) -> dict[str, Any]:
    """Read every key of ``keys`` from ``t`` as the schema says (``defaults`` override schema defaults).

    Sub-tables come back as :class:`Table` (or a list of them) for their own schema; with ``finish``
    any key left over is refused. ``path`` keys are resolved against ``base``.
    """
    out: dict[str, Any] = {}
    for k in keys:
        default = (defaults or {}).get(k.name, k.default)
        if default is s.SET_BY_PARSER:
            default = None
        required = default is s.REQUIRED
        d = MISSING if required else default
        name = k.name
        if k.kind == "text":
            out[name] = t.text(name, d, choices=k.choices, hint=k.note if k.choices else "")
        elif k.kind == "label":
            out[name] = t.label(name)
        elif k.kind == "texts":
            out[name] = t.texts(name, d)
        elif k.kind == "number":
            out[name] = t.number(name, d, low=k.low, high=k.high, what=k.what or "a number")
        elif k.kind == "integer":
            out[name] = t.integer(name, d, low=int(k.low or 0), high=k.high, what=k.what)
        elif k.kind == "flag":
            out[name] = t.flag(name, d)
        elif k.kind == "switches":
            out[name] = t.switches(name, d)
        elif k.kind == "date":
            out[name] = t.date(name, d)
        elif k.kind == "path":
            value = t.text(name, d)
            out[name] = None if value is None else ((base or Path.cwd()) / value).resolve()
        elif k.kind == "prices":
            out[name] = t.numbers(name, d)
        elif k.kind == "numbers":
            out[name] = t.numbers(name, d, what="non-negative numbers, e.g. [0, 0.5, 1]")
        elif k.kind == "mapping":
            out[name] = t.mapping(name)
        elif k.kind == "table":
            out[name] = t.table(name, required=required)
        elif k.kind == "tables":
            out[name] = t.tables(name, required=required)
        else:  # pragma: no cover - a schema error, not an input error
            raise AssertionError(f"schema key {name!r} has unknown kind {k.kind!r}")
    if finish:
        t.done()
    return out


def _refuse_other(t: Table, allowed: Sequence[str], every: Sequence[str], why: str) -> None:
    """Refuse keys that exist in the schema (``every``) but are not read here (``allowed``)."""
    for key in t.data:
        if key in every and key not in allowed:
            raise t.fail(key, t.data[key], f"not used {why}; the keys used are {examples(allowed, 20)}.")


def _check_std_caliper(t: Table, m: dict[str, Any]) -> None:
    """``std_caliper`` names only calipers the contract sets (``distance``: the propensity caliper)."""
    flags = m["std_caliper"]
    if not isinstance(flags, dict):
        return
    calipers = ["distance"] if m["caliper"] is not None else []
    unknown = [k for k in flags if k not in calipers]
    if unknown:
        raise t.fail("std_caliper", flags, f"names {examples(unknown)}, which {'has' if len(unknown) == 1 else 'have'} "
                     f"no caliper here; the calipers are {examples(calipers) if calipers else 'none (set caliper)'}.")


def _empty(path: str, source: str) -> Table:
    return Table({}, path, source)


def load_contract(path: str | Path) -> Contract:
    """Read and validate a contract TOML file (paths in ``[data]`` are resolved against its folder)."""
    p = Path(path)
    if not p.is_file():
        raise SopEvalError(f"contract file {str(p)!r} does not exist; give the path of a .toml contract.")
    raw = p.read_bytes()
    try:
        text = raw.decode("utf-8-sig")  # a byte-order mark (as some Windows editors write) is accepted
    except UnicodeDecodeError as exc:
        raise SopEvalError(
            f"contract file {str(p)!r} is not UTF-8 text (byte 0x{raw[exc.start]:02x} at position {exc.start}); "
            "save it as UTF-8 (in most editors: Save As, encoding UTF-8) and run again."
        ) from None
    return parse_contract(text, source=str(p), base_dir=p.parent)


def parse_contract(text: str, *, source: str = "<contract>", base_dir: str | Path | None = None) -> Contract:
    """Parse and validate contract TOML ``text`` (the keys are those of :mod:`sop_eval.contract.schema`)."""
    text = text.removeprefix("\ufeff")
    try:
        doc = tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as exc:
        raise SopEvalError(f"{source}: not valid TOML ({exc}); check quotes, brackets and '=' signs.") from None
    top_t = Table(doc, "", source)
    meta_t = read(top_t, s.TOP[:1], finish=False)["contract"]
    meta = read(meta_t, s.CONTRACT)
    currency = meta["currency"]
    if len(currency) != 3 or not currency.isalpha() or not currency.isupper():
        raise meta_t.fail("currency", currency, "expected a three-letter ISO 4217 code such as \"GBP\".")
    top = read(top_t, s.TOP[1:])

    timing_t = top["timing"] or _empty("timing", source)
    timing = read(timing_t, s.TIMING)
    overlap = timing.pop("overlap")
    cohorts = tuple(_cohort(t, timing, meta["payment_terms_days"]) for t in top["cohorts"])
    _unique([c.name for c in cohorts], "cohorts", source)
    clashes = tm.overlapping_windows(cohorts)
    if clashes and overlap is None:
        a, b = clashes[0]
        raise SopEvalError(
            f"{source}: the entry windows of cohorts {a.name!r} ({a.entry_start} to {a.entry_end}) and {b.name!r} "
            f"({b.entry_start} to {b.entry_end}) overlap, so a person entering on a shared day could belong to "
            "either. Correct the windows, or say which cohort owns those days: under [timing] add "
            "overlap = \"earlier\" (the earlier-starting cohort) or overlap = \"later\"."
        )
    _refuse_shared_periods(cohorts, overlap, source)
    names = tuple(c.name for c in cohorts)
    outcomes = tuple(_outcome(t, names) for t in top["outcomes"])
    _unique([o.name for o in outcomes], "outcomes", source)
    _org_id(meta_t, "provider_organisation_id", meta["provider_organisation_id"])
    payers = tuple(Payer(**read(t, s.PAYER)) for t in top["payers"])
    for t, p in zip(top["payers"], payers, strict=True):
        _org_id(t, "organisation_id", p.organisation_id)
    _unique([p.name for p in payers], "payers", source)
    total = sum((p.share for p in payers), Decimal(0))
    if total != s.ONE:
        raise SopEvalError(
            f"{source}: payers.share values {examples([str(p.share) for p in payers])} sum to {total} "
            f"({total * 100}%), not 1 (100%). Shares are fractions: 0.8 and 0.2 for 80% and 20%."
        )
    caps = Caps(**read(top["caps"] or _empty("caps", source), s.CAPS))
    outcome_names = {o.name for o in outcomes}
    amendments = tuple(_amendment(t, outcome_names) for t in top["amendments"])
    dates = [meta["effective"], *(a.effective for a in amendments)]
    for i in range(1, len(dates)):
        if dates[i] <= dates[i - 1]:
            raise SopEvalError(
                f"{source}: amendments[{i - 1}].effective = {dates[i]} is not after {dates[i - 1]}; amendments "
                "must follow the contract's effective date and each other in date order."
            )
    _unique([meta["version"], *(a.version for a in amendments)], "amendments.version (and contract.version)", source)
    investor = _investor(top["investor"]) if top["investor"] is not None else None
    evaluation = _evaluation(top["evaluation"]) if top["evaluation"] is not None else None
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    design = None if evaluation is None else evaluation.design
    if evaluation is not None:
        _outcome_design(evaluation, outcomes, source)
    data = _data(top["data"], base, design) if top["data"] is not None else None
    return Contract(
        **meta, cohorts=cohorts, outcomes=outcomes, payers=payers, caps=caps, amendments=amendments,
        investor=investor, data=data, evaluation=evaluation, source=source,
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(), overlap=overlap,
        report=ReportSettings(**read(top["report"] or _empty("report", source), s.REPORT)),
    )


def _refuse_shared_periods(cohorts: tuple[Cohort, ...], overlap: str | None, source: str) -> None:
    """Refuse cohorts whose period spans share periods (each would pay for them) unless ``[timing] overlap``
    says which cohort owns them, as for overlapping entry windows."""
    clashes = tm.overlapping_spans(cohorts)
    if clashes and overlap is None:
        a, b, shared = clashes[0]
        raise SopEvalError(
            f"{source}: [[cohorts]] {a.name!r} (first_period {a.first_period} to last_period {a.last_period}) and "
            f"{b.name!r} ({b.first_period} to {b.last_period}) both cover period(s) {examples(shared, 10)}, so "
            "those periods would be paid for twice. Correct first_period/last_period so each period is in one "
            "cohort, or say which cohort owns the shared periods: under [timing] add overlap = \"earlier\" (the "
            "earlier-starting cohort) or overlap = \"later\"."
        )
    for c in cohorts:
        if c.first_period is not None and not tm.owned_periods(c, cohorts, overlap):
            raise SopEvalError(
                f"{source}: [[cohorts]] {c.name!r} (first_period {c.first_period} to last_period {c.last_period}) "
                f"keeps no period of its own: [timing] overlap = {overlap!r} gives every one to another cohort. "
                "Narrow the other cohorts' spans or remove this cohort."
            )


def _refuse_staggered_start(synth_t: Table) -> None:
    """A list or table of starts (staggered adoption) is not an area contract's ``start``: say what is."""
    value = synth_t.data.get("start")
    if isinstance(value, (list, dict)):
        raise synth_t.fail("start", value, "an area-level contract has one start period, shared by every treated "
                           "area (the fit compares the periods before it with those from it on). For areas that start "
                           "in different periods, write one contract per start period (each naming the areas that "
                           "start then), or use design = \"did\" under [evaluation] for staggered adoption (a "
                           "cohort per first treated period).")


def _outcome_design(evaluation: EvaluationSettings, outcomes: tuple[Outcome, ...] | list[Outcome],
                    source: str) -> None:
    """Refuse an evaluated outcome whose stated ``design`` is not how ``[evaluation]`` estimates it (the
    payment lines record the design the estimate came from)."""
    method = evaluation.matching.method if evaluation.design == "psm" else None
    runs = "weighting" if method in ("weighting", "ebal") else evaluation.design
    how = f"[evaluation.matching] method = {method!r}" if runs == "weighting" else f"[evaluation] design = {runs!r}"
    for o in outcomes:
        if o.name == evaluation.outcome and o.design != runs:
            raise SopEvalError(
                f"{source}: [[outcomes]] {o.name!r} states design = {o.design!r} but {how} estimates it by "
                f"{runs!r}; set design = {runs!r} in that [[outcomes]] table (the design its payment lines record)."
            )


_ORG_ID = re.compile(r"^[A-Z]{2}-[A-Z0-9]+-\S+$")


def _org_id(t: Table, key: str, value: str | None) -> None:
    """Refuse an organisation identifier that is not in org-id.guide form (LIST-CODE-IDENTIFIER)."""
    if value is not None and not _ORG_ID.match(value):
        raise t.fail(key, value, f"expected {s.ORG_ID_NOTE}; look the list code up at org-id.guide.")


def _unique(names: list[str], what: str, source: str) -> None:
    seen = [n for i, n in enumerate(names) if n in names[:i]]
    if seen:
        raise SopEvalError(f"{source}: {what} names must be unique; repeated: {examples(seen)}.")


def _cohort(t: Table, timing: dict[str, int], payment_terms_days: int) -> Cohort:
    kw = read(t, s.COHORT, defaults=timing)
    first, last = kw["first_period"], kw["last_period"]
    if last is not None and first is None:
        raise t.fail("last_period", last, "give first_period too (the cohort's first period).")
    if last is not None and last < first:
        raise t.fail("last_period", last, f"expected a period on or after first_period ({first}).")
    if last is None:
        kw["last_period"] = first
    c = Cohort(**kw)
    if c.entry_start and c.entry_end and c.entry_end < c.entry_start:
        raise t.fail("entry_end", c.entry_end.isoformat(),
                     f"expected a date on or after entry_start ({c.entry_start}).")
    if c.entry_start and not c.entry_end:
        raise t.fail("entry_start", c.entry_start.isoformat(), "give entry_end too (the last entry date).")
    if c.entry_end is not None:
        months = c.follow_up_months + c.court_lag_months + c.analysis_months
        try:
            tm.measurable_from(c.entry_end, c) + dt.timedelta(days=payment_terms_days)  # type: ignore[operator]
        except (SopEvalError, OverflowError):
            raise t.fail("entry_end", c.entry_end,
                         f"plus {months} months of follow-up, court lag and analysis and {payment_terms_days} days of "
                         "payment terms lies beyond the calendar (year 9999); correct the date or the months."
                         ) from None
    _check_data_available(t, c, payment_terms_days)
    return c


def _check_data_available(t: Table, c: Cohort, payment_terms_days: int) -> None:
    """``data_available`` dates a cohort of periods: refuse it on an entry-window cohort or past the calendar."""
    if c.data_available is None:
        return
    if c.first_period is None or c.entry_end is not None:
        raise t.fail("data_available", c.data_available, "data_available dates a cohort of periods (first_period to "
                     "last_period, area designs); an entry-window cohort is measurable from entry_end plus the "
                     "[timing] months: remove data_available or the entry window.")
    try:
        tm.published_measurable_from(c.data_available, c) + dt.timedelta(days=payment_terms_days)
    except (SopEvalError, OverflowError):
        raise t.fail("data_available", c.data_available, f"plus {c.analysis_months} analysis months and "
                     f"{payment_terms_days} days of payment terms lies beyond the calendar (year 9999).") from None


def _gate(t: Table, keys: Sequence[s.Key], default_measure: str, **defaults: Any) -> dict[str, Any]:
    kw = read(t, keys, defaults={"measure": default_measure, **defaults})
    if kw["measure"].startswith("relative") and kw["threshold"] > s.ONE:
        raise t.fail("threshold", kw["threshold"], "expected a threshold (0.10 for 10%) <= 1.")
    alpha, level = kw["alpha"], kw.pop("level")
    if level is not None:
        if alpha is not None:
            raise t.fail("level", level, "give either level or alpha (= 1 - level), not both.")
        if not 0 < level < 1:
            raise t.fail("level", level, "expected a confidence level strictly between 0 and 1, such as 0.95.")
        alpha = s.ONE - level
    if alpha is not None and not 0 < alpha < 1:
        raise t.fail("alpha", alpha, "expected a significance level strictly between 0 and 1.")
    kw["alpha"] = None if alpha is None else float(alpha)
    return kw


def _outcome(t: Table, cohort_names: tuple[str, ...]) -> Outcome:
    kw = read(t, s.OUTCOME[:2], finish=False)
    name, mech = kw["name"], kw["mechanism"]
    own = s.MECHANISM_KEYS[mech]
    every = {k.name for keys in s.MECHANISM_KEYS.values() for k in keys}
    _refuse_other(t, [k.name for k in own], sorted(every), f"by mechanism {mech!r}")
    kw.update(read(t, (*s.OUTCOME[2:], *own)))
    listed = kw["cohorts"] or ()
    unknown = [c for c in listed if c not in cohort_names]
    if unknown:
        raise t.fail("cohorts", list(listed),
                     f"unknown cohort(s) {examples(unknown)}; [[cohorts]] names: {examples(cohort_names)}.")
    kw["cohorts"] = listed or cohort_names
    gate_t, pooled_t = kw.pop("gate", None), kw.pop("pooled", None)
    if mech == "attributable":
        measure = "relative_reduction" if kw["direction"] == "reduction" else "relative_increase"
        kw["gate"] = GateTerms(**_gate(gate_t, s.GATE, measure)) if gate_t is not None else None
        if pooled_t is not None:
            pooled = _gate(pooled_t, s.POOLED, kw["gate"].measure if kw["gate"] else measure, cohorts=kw["cohorts"])
            bad = [c for c in pooled["cohorts"] if c not in kw["cohorts"]]
            if not pooled["cohorts"] or bad:
                raise pooled_t.fail(
                    "cohorts", list(pooled["cohorts"]),
                    "a pooled gate needs cohorts paid by this outcome "
                    f"(its cohorts: {examples(kw['cohorts']) or 'none declared'}).",
                )
            kw["pooled"] = PooledTerms(**{**pooled, "cohorts": tuple(pooled["cohorts"])})
    elif mech == "rate_card":
        if kw["tier_prices"] and len(kw["tier_prices"]) != kw["max_per_person"]:
            raise t.fail("tier_prices", [str(p) for p in kw["tier_prices"]],
                         f"expected {kw['max_per_person']} prices (one per occurrence up to max_per_person).")
    else:
        kw["gate"] = GateTerms(**_gate(gate_t, s.GATE, kw["measure"])) if gate_t is not None else None
    if mech == "ladder":
        steps = tuple(Step(**read(st, s.STEP)) for st in kw["steps"])
        for i in range(1, len(steps)):
            if steps[i].at_least <= steps[i - 1].at_least:
                raise t.fail(f"steps[{i}].at_least", steps[i].at_least,
                             "expected rungs in increasing order of at_least.")
        kw["steps"] = steps
    if mech == "sliding_scale":
        if kw["ceiling"] <= kw["floor"]:
            raise t.fail("ceiling", kw["ceiling"], f"expected a ceiling above the floor ({kw['floor']}).")
        if kw["amount_at_floor"] > kw["amount"]:
            raise t.fail("amount_at_floor", kw["amount_at_floor"],
                         f"expected at most the full amount ({kw['amount']}).")
    if mech in ("attributable", "ladder", "sliding_scale") and not cohort_names:
        raise SopEvalError(f"{t.source}: {t.path} ({name!r}, {mech}) is paid per cohort; declare [[cohorts]].")
    return Outcome(**kw)


def _amendment(t: Table, outcome_names: set[str]) -> Amendment:
    kw = read(t, s.AMENDMENT)
    prices = {}
    for key, value in kw["prices"].items():
        if key not in outcome_names:
            raise t.fail(f"prices.{key}", value, f"no such outcome; outcomes: {examples(sorted(outcome_names), 10)}.")
        if isinstance(value, bool) or not isinstance(value, (int, Decimal)) or value < 0:
            raise t.fail(f"prices.{key}", value, "expected a non-negative price.")
        prices[key] = Decimal(value)
    return Amendment(**{**kw, "prices": prices})


def _investor(t: Table) -> InvestorTerms:
    kw = read(t, s.INVESTOR)
    draws = [Drawdown(**read(d, s.DRAWDOWN)) for d in kw["drawdowns"]]
    return InvestorTerms(**{**kw, "drawdowns": tuple(sorted(draws, key=lambda d: d.date))})


def _data(t: Table, base: Path, design: str | None) -> DataSettings:
    for key, why in s.REFUSED.items():
        section, _, name = key.rpartition(".")
        if section == t.path and name in t.data:
            raise t.fail(name, t.data[name], why + ".")
    kw = read(t, s.DATA, base=base)
    cols_t = kw.pop("columns") or _empty("data.columns", t.source)
    if design is not None:
        _refuse_other(cols_t, v.EVALUATION_DESIGNS[design][1], [k.name for k in s.COLUMNS], f"by design {design!r}")
    columns = {k: v for k, v in read(cols_t, s.COLUMNS).items() if v is not None}
    for column, label in kw["labels"].items():
        if not isinstance(label, str) or not label.strip():
            raise t.fail(f"labels.{column}", label, "expected a label as text, e.g. \"prior convictions\".")
    return DataSettings(columns=columns, **kw)


def _evaluation(t: Table) -> EvaluationSettings:
    design = read(t, s.EVALUATION[:1], finish=False)["design"]
    if design not in v.EVALUATION_DESIGNS:
        raise t.fail("design", design, f"not supported; expected one of the supported values "
                     f"{examples(sorted(v.EVALUATION_DESIGNS), 20)}; {s.EVALUATION[0].note}.")
    allowed = v.EVALUATION_DESIGNS[design][0]
    _refuse_other(t, allowed, [k.name for k in s.EVALUATION], f"by design {design!r}")
    kw = read(t, [k for k in s.EVALUATION[1:] if k.name in allowed])
    if not 0 < kw["level"] < 1:
        raise t.fail("level", kw["level"], "expected a confidence level strictly between 0 and 1.")
    kw["level"] = float(kw["level"])
    extract = kw.get("extract_date")
    if extract is not None and extract > dt.date.today():
        raise t.fail("extract_date", extract, f"the data extract date is after today ({dt.date.today()}); give the "
                     "date the data were extracted.")
    if "matching" in allowed:
        matching_t = kw.pop("matching") or _empty("evaluation.matching", t.source)
        m = read(matching_t, s.MATCHING)
        if m["ties"] and not m["replace"]:
            raise matching_t.fail("ties", True, "keeping tied controls needs replace = true (tied controls are "
                                  "shared between people served); add replace = true or remove ties.")
        _check_std_caliper(matching_t, m)
        kw["matching"] = MatchingSettings(**m)
        if kw["se"] is None:
            kw["se"] = v.DEFAULT_SE[m["method"]]
        elif str(kw["se"]).lower() == "cluster" and m["method"] in v.FEW_CLUSTERS_SE:
            raise t.fail("se", kw["se"], "a cluster-robust standard error needs many clusters, and "
                         f"[evaluation.matching] method = {m['method']!r} forms only a few subclasses (strata, not "
                         "matched sets). Remove se to use the default 'robust' (HC1), or set se = \"HC3\" (MatchIt's "
                         "advice after subclassification).")
        try:
            kw["se"] = check_se(kw["se"], "psm", replace=bool(m["replace"]), ratio=int(m["ratio"])).name
        except SopEvalError:
            usable = se_names("psm", replace=bool(m["replace"]))
            other = se_names("psm", replace=not m["replace"])
            hint = (f" (or set replace = {str(not m['replace']).lower()} under [evaluation.matching])"
                    if kw["se"] in other else "")
            known = {n.lower() for n in se_names("psm")}
            why = (f"not available with [evaluation.matching] replace = {str(bool(m['replace'])).lower()}"
                   if str(kw["se"]).lower() in known else "not a standard error sop_eval computes")
            raise t.fail("se", kw["se"], f"{why}; use one of {examples(usable, 10)}{hint}.") from None
    if "did" in allowed:
        did_t = kw.pop("did") or _empty("evaluation.did", t.source)
        d = read(did_t, s.DID)
        try:
            d["se"] = check_se(d["se"], "did").name
        except SopEvalError as exc:
            raise did_t.fail("se", d["se"], str(exc)) from None
        kw["did"] = DidSettings(**d)
    if "synth" in allowed:
        synth_t = kw.pop("synth")
        if synth_t is None:
            raise SopEvalError(f"{t.source}: design {design!r} needs an [evaluation.synth] table naming the treated "
                               "area(s), the first treated period and the outcome's rate base, e.g. treated = "
                               "[\"LA-001\"], start = 2021, rate_per = 10000.")
        _refuse_staggered_start(synth_t)
        kw["synth"] = _synth(synth_t, design)
    if kw.get("se", "") is None:
        del kw["se"]
    return EvaluationSettings(design=design, **kw)


def _synth(t: Table, design: str) -> SynthSettings:
    """``[evaluation.synth]``: predictors are for the synthetic control (SDID fits outcomes only)."""
    kw = read(t, s.SYNTH)
    if design == "sdid":
        for key in ("predictors", "outcome_periods"):
            if kw[key]:
                raise t.fail(key, list(kw[key]), "not used by design 'sdid': SDID weights donors on the "
                             "pre-period outcomes only (sop_eval's SDID has no covariate adjustment, R synthdid's X); "
                             "for predictors use design = \"synthetic_control\", or remove the key.")
    periods = kw["outcome_periods"]
    if any(p != p.to_integral_value() for p in periods):
        raise t.fail("outcome_periods", [str(p) for p in periods], "expected whole-number periods (values of "
                     "the time column), e.g. [2016, 2018, 2020].")
    if len(set(periods)) != len(periods) or len(set(kw["predictors"])) != len(kw["predictors"]):
        key = "predictors" if len(set(kw["predictors"])) != len(kw["predictors"]) else "outcome_periods"
        raise t.fail(key, [str(x) for x in kw[key]], "expected each entry once; remove the repeat.")
    kw["outcome_periods"] = tuple(int(p) for p in periods)
    return SynthSettings(**kw)
