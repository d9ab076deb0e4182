"""Before an evaluation: a contract skeleton from a data file (``sop-eval init``) and a check of a contract and
its data that estimates nothing (``sop-eval check``).

The check reads the contract (schema), reads and validates the data (columns, dates), assigns people to
the contract cohorts and reports, under the disclosure policy, who falls in each; it compares the sizes
with the Justice Data Lab rule (at least 60 people served), projects the minimum detectable reduction of
each cohort (:func:`sop_eval.power.mde`) and the chance that the gate pays when the service has no effect
(:func:`sop_eval.power.gate_pay_probability`). Where the design has a ``check_cohort`` (matched cohorts: the
propensity model fitted on the covariates alone), each measurable cohort's treatment model is checked by
the same rule a run applies: what would stop the run (perfect separation) is a problem, what it would warn
of (near-separation) a warning, in the run's words. A design with a ``check_data`` hook (the area designs)
checks the contract and data itself, fitting nothing, and its :class:`~sop_eval.designs.base.DesignCheck`
is reported as found.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from sop_eval.contract import Cohort, Contract, load_contract
from sop_eval.data import load_contract_data, read_table
from sop_eval.data.dates import parse_dates
from sop_eval.designs import DESIGNS, Prepared
from sop_eval.designs.base import DesignCheck
from sop_eval.designs.psm import assign_cohorts
from sop_eval.effects.matched import infer_kind
from sop_eval.errors import SopEvalError, SopEvalWarning
from sop_eval.power import dispersion_from_pilot, gate_pay_probability, mde
from sop_eval.report.disclosure import DEFAULT_POLICY, DisclosurePolicy
from sop_eval.report.style import pct

JDL_MIN_TREATED = 60

_ID = re.compile(r"(^|_)(id|pnc|ref|reference|identifier)$|^person|^participant_id", re.I)
_TREAT = re.compile(r"^(treated|treatment|treat|served|participant|intervention|in_service)$|treat|served|"
                    r"programme|program$|intervention|participat|enrol", re.I)
_YES = re.compile(r"^(y|yes|true|t|treated|served|participant|in|1)$", re.I)
_DATE = re.compile(r"date|_on$|_at$|release|start", re.I)
_OUTCOME = re.compile(r"reconv|reoff|outcome|days_to|^time_to|employ|housed|readmi|re_?arrest", re.I)


def _treated_values(column: pd.Series) -> list[str]:
    """A ``treated_values`` line when the treatment column is not coded 0/1 (a guess, marked, when one of its two
    values reads as yes; otherwise a line asking for it)."""
    values = sorted({str(v) for v in column.dropna().unique()})
    if set(values) <= {"0", "1", "0.0", "1.0", "True", "False"}:
        return []
    yes = [v for v in values if _YES.match(v.strip())]
    if len(values) == 2 and len(yes) == 1:
        return [f'treated_values = ["{yes[0]}"]  # GUESS: check; the value that marks the people served '
                f"(values found: {', '.join(values)})"]
    return [f"# treated_values = [\"...\"]   # name the value(s) of '{column.name}' that mark the people served"]


def _guess(frame: pd.DataFrame) -> dict[str, Any]:
    """Column roles guessed from names and types; each guess says why."""
    roles: dict[str, Any] = {"why": {}}
    cols = list(frame.columns)
    for c in cols:
        if "id" not in roles and _ID.search(c):
            roles["id"] = c
            roles["why"][c] = "its name looks like an identifier"
        elif "treatment" not in roles and _TREAT.search(c):
            roles["treatment"] = c
            roles["why"][c] = "its name looks like the treatment flag"
        elif "cohort" not in roles and c.lower() == "cohort":
            roles["cohort"] = c
        elif "index_date" not in roles and _DATE.search(c):
            roles["index_date"] = c
            roles["why"][c] = "its name looks like a date"
    named = {roles.get(k) for k in ("id", "treatment", "cohort", "index_date")}
    outcomes = [c for c in cols if c not in named and _OUTCOME.search(c)]
    covariates = [c for c in cols if c not in named and c not in outcomes]
    counts, missing, categorical = [], [], []
    for c in outcomes + covariates:
        values = frame[c]
        if values.isna().any():
            missing.append(c)
        if pd.api.types.is_numeric_dtype(values) and infer_kind(values.dropna()) == "count":
            counts.append(c)
        if c in covariates and not pd.api.types.is_numeric_dtype(values):
            categorical.append(c)
    roles.update(outcomes=outcomes, covariates=covariates, counts=counts, allow_missing=missing,
                 categorical=categorical)
    return roles


def _toml_list(items: list[str]) -> str:
    return "[" + ", ".join(f'"{i}"' for i in items) + "]"


def contract_skeleton(data: str | Path, pool: str | Path | None = None, *, contract_dir: str | Path = ".") -> str:
    """A commented contract skeleton for ``data`` (and the comparison ``pool``); guesses are marked."""
    data, base = Path(data), Path(contract_dir)
    frame = read_table(data)
    roles = _guess(frame)
    rel = lambda p: Path(p).resolve().relative_to(base.resolve()).as_posix() if Path(p).resolve().is_relative_to(  # noqa: E731
        base.resolve()) else Path(p).resolve().as_posix()
    dates: tuple[str, str] | None = None
    date_note = ""
    if "index_date" in roles:
        try:  # the one date rule: ISO read as such, any other form never guessed
            parsed = parse_dates(frame[roles["index_date"]], roles["index_date"])
        except SopEvalError:
            shown = frame[roles["index_date"]].dropna().astype(str).head(2).tolist()
            date_note = (f"# GUESS NOT MADE: '{roles['index_date']}' is not written as ISO dates (e.g. {shown}); "
                         "add date_format (e.g. \"%d/%m/%Y\") or dayfirst = true below, and set the entry windows.")
        else:
            if parsed.notna().any():
                dates = (parsed.min().date().isoformat(), parsed.max().date().isoformat())
    outcome = roles["outcomes"][0] if roles["outcomes"] else "OUTCOME_COLUMN"
    guess = "  # GUESS: check"
    out = [
        f"# Contract skeleton written by `sop-eval init` from the header of {data.name}.",
        "# Lines marked GUESS were inferred from column names and types: check every one before you run.",
        "# Validate with `sop-eval check THIS_FILE` (it estimates nothing), then `sop-eval run THIS_FILE --out DIR`.",
        "",
        "[contract]",
        'name = "NAME OF THE CONTRACT"',
        'version = "1.0"',
        f"effective = {dates[0] if dates else dt.date.today().isoformat()}{guess if dates else ''}",
        'currency = "GBP"',
        "payment_terms_days = 30",
        '# provider = "NAME OF THE SERVICE PROVIDER"',
        '# provider_organisation_id = "GB-CHC-000000"   # org-id.guide identifier',
        "",
        "[timing]",
        "follow_up_months = 12   # Justice Data Lab: one-year follow-up",
        "court_lag_months = 6    # plus six months for court outcomes",
        "analysis_months = 3",
        "",
        "[[cohorts]]",
        'name = "cohort 1"',
        f"entry_start = {dates[0]}{guess}: first index date in the data" if dates else
        "# entry_start = 2020-01-01",
        f"entry_end = {dates[1]}{guess}: last index date in the data" if dates else "# entry_end = 2021-12-31",
        "",
        "[[outcomes]]",
        f'name = "{outcome}"' + (guess if roles["outcomes"] else "  # name the outcome column"),
        'mechanism = "attributable"',
        'design = "psm"',
        'metric = "WHAT THE OUTCOME COUNTS, IN WORDS"',
        'unit = "event"',
        'direction = "reduction"',
        "price = 1000            # amount per unit avoided",
        "",
        "[outcomes.gate]",
        "threshold = 0.10        # a 10% reduction",
        "",
        "[[payers]]",
        'name = "commissioner"',
        "share = 1",
        '# organisation_id = "GB-LAE-XXX"   # org-id.guide identifier, used by INDIGO exports of the ledger',
        "",
        "[data]",
        *([date_note] if date_note else []),
        f'participants = "{rel(data)}"',
    ]
    if pool is not None:
        out.append(f'comparison_pool = "{rel(pool)}"')
    out += ["", "[data.columns]"]
    for key in ("id", "treatment", "cohort", "index_date"):
        if key in roles:
            why = roles["why"].get(roles[key])
            out.append(f'{key} = "{roles[key]}"' + (f"{guess}: {why}" if why else ""))
            if key == "treatment":
                column = frame[roles[key]]
                if pool is not None:
                    other = read_table(pool)
                    if roles[key] in other.columns:
                        column = pd.concat([column, other[roles[key]]], ignore_index=True)
                out += _treated_values(column)
        elif key == "treatment" and pool is None:
            out.append('treatment = "treated"  # name the 0/1 column that marks the people served')
    for key in ("outcomes", "counts", "allow_missing", "categorical", "covariates"):
        if roles[key]:
            out.append(f"{key} = {_toml_list(roles[key])}{guess}")
    out += ["", "[evaluation]", 'design = "psm"', f'outcome = "{outcome}"',
            "# extract_date = 2024-01-01   # the date the data were extracted: cohorts whose window closes later wait",
            'se = "cluster"', "level = 0.95", "", "[evaluation.matching]", 'method = "nearest"', "ratio = 1",
            "caliper = 0.2", ""]
    return "\n".join(out)


@dataclass
class CheckResult:
    """What `sop-eval check` found: a table per cohort, findings that block a run, and notes."""

    cohorts: pd.DataFrame
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    """What a run would warn of (e.g. near-separation in a cohort's propensity model), in the run's words."""

    @property
    def ok(self) -> bool:
        """True when nothing blocks an evaluation."""
        return not self.problems


def _shown(n: int, policy: DisclosurePolicy) -> str:
    if n == 0:
        return "0"
    return f"fewer than {policy.threshold + 1}" if n <= policy.threshold else f"{policy.round_count(n):,}"


def _check_treatment_model(design: Any, cohort: Cohort, prepared: Prepared, result: CheckResult) -> None:
    """The design's own check of a cohort's treatment model (the rule a run applies, fitted on covariates only):
    its refusal becomes a problem, its warnings are kept with the run's wording."""
    check_cohort = getattr(design, "check_cohort", None)
    if check_cohort is None:
        return
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SopEvalWarning)
        try:
            check_cohort(cohort, prepared)
        except SopEvalError as exc:
            result.problems.append(str(exc))
    result.warnings += [str(w.message) for w in caught if issubclass(w.category, SopEvalWarning)]


def _design_check(check_data: Any, contract: Contract, frame: pd.DataFrame) -> CheckResult:
    """A design's own check of the contract and data (``check_data``; area designs): its refusal of the data
    becomes a problem, its warnings are kept with the run's wording."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SopEvalWarning)
        try:
            found: DesignCheck = check_data(contract, frame)
        except SopEvalError as exc:
            found = DesignCheck(pd.DataFrame(), problems=(str(exc),))
    return CheckResult(found.cohorts, problems=list(found.problems), notes=list(found.notes),
                       warnings=[str(w.message) for w in caught if issubclass(w.category, SopEvalWarning)])


def check(contract: str | Path | Contract, policy: DisclosurePolicy = DEFAULT_POLICY) -> CheckResult:
    """Validate ``contract`` and its data without estimating anything (see the module docstring)."""
    c = contract if isinstance(contract, Contract) else load_contract(contract)
    if c.evaluation is None:
        return CheckResult(pd.DataFrame(), problems=["the contract has no [evaluation] section: nothing to check "
                                                     "against data (payments only: use `sop-eval pay`)."])
    design = DESIGNS[c.evaluation.design]
    if "extract_date" in design.contract_keys and c.evaluation.extract_date is None:
        return CheckResult(pd.DataFrame(), problems=[
            "[evaluation] extract_date is missing: a run pays only for cohorts whose outcome window closed by the "
            "date the data were extracted. Add `extract_date = YYYY-MM-DD` to [evaluation] (or pass --as-of to "
            "`sop-eval run`)."])
    frame, _ = load_contract_data(c)
    check_data = getattr(design, "check_data", None)
    if check_data is not None:
        return _design_check(check_data, c, frame)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SopEvalWarning)
        prepared = design.prepare(c, frame, seed=0, as_of=None, risk_draws=0)
    result = CheckResult(pd.DataFrame(), warnings=[str(w.message) for w in caught
                                                   if issubclass(w.category, SopEvalWarning)])
    data = prepared.data
    check_panel = getattr(design, "check_panel", None)
    if data is None and check_panel is not None:
        result.cohorts, notes = check_panel(c, prepared, policy)
        result.notes += notes
        return result
    if data is None:
        result.notes.append(f"design {c.evaluation.design}: the panel is read and checked; per-cohort counts are not "
                            "shown for this design.")
        return result
    roles = data.roles
    work = data.frame.assign(_cohort=assign_cohorts(data.frame, roles, c))
    outcome = prepared.outcome
    terms = next((o for o in c.outcomes if o.name == outcome), None)
    gate = float(terms.gate.threshold) if terms is not None and terms.gate is not None else None
    ratio = c.evaluation.matching.ratio
    extract = c.evaluation.extract_date
    rows = []
    for k in c.cohorts:
        part = work[work["_cohort"] == k.name]
        treated = part[part[roles.treatment] == 1]
        pool = part[part[roles.treatment] == 0]
        closes = k.measurable_from
        measurable = extract is None or closes is None or closes <= extract
        row: dict[str, Any] = {"cohort": k.name, "people served": _shown(len(treated), policy),
                               "comparison pool": _shown(len(pool), policy),
                               "measurable from": "—" if closes is None else closes.isoformat(),
                               "measurable at extract": "yes" if measurable else "no"}
        if len(treated) < JDL_MIN_TREATED and measurable and not c.evaluation.allow_small:
            result.problems.append(f"{k.name}: {_shown(len(treated), policy)} people served, below the Justice Data "
                                   f"Lab minimum of {JDL_MIN_TREATED}; the run will refuse it (or set [evaluation] "
                                   "allow_small = true).")
        values = pool[outcome].dropna() if outcome in pool else pd.Series(dtype=float)
        kind = infer_kind(values) if len(values) else "continuous"
        if len(treated) and len(values) and kind in ("count", "binary") and values.mean() > 0:
            scenario = {"n_treated": len(treated), "baseline_mean": float(values.mean()),
                        "ratio": max(1.0, min(float(ratio), len(pool) / max(len(treated), 1))), "kind": kind,
                        "dispersion": dispersion_from_pilot(values) if kind == "count" and len(values) > 1 else 1.0}
            found = mde(**scenario)
            shown_mde = pct(found) if math.isfinite(found) else "none"
            row["projected minimum detectable reduction (before matching, 80% power)"] = shown_mde
            if gate is not None:
                row["gate pays with no effect"] = pct(gate_pay_probability(gate, 0.0, **scenario), 1)
        rows.append(row)
        _check_treatment_model(design, k, prepared, result)
    result.cohorts = pd.DataFrame(rows)
    if not any(r["measurable at extract"] == "yes" for r in rows):
        result.notes.append("no cohort's outcome window has closed by the extract date: nothing is payable yet.")
    result.notes += list(data.warnings)
    return result
