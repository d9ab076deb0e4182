"""Matched cohorts: each contract cohort's people served matched to its comparison pool by propensity score.

Per cohort whose outcome window has closed by the extract date: nearest-neighbour matching on a
logistic propensity score with the contract's settings (exact on the contract cohort), balance and
baseline risk, the effect on the outcome with the named standard error, sensitivity to hidden bias
and the minimum detectable reduction. The cohorts are pooled by :func:`sop_eval.evaluation.evaluate`,
as for every design.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from sop_eval.cohorts.assessment import DEFAULT_THRESHOLDS, balance
from sop_eval.cohorts.descriptions import describe
from sop_eval.cohorts.matching import MatchedCohort, match, treatment_model
from sop_eval.cohorts.risk import prognostic_score
from sop_eval.cohorts.ties import tie_share
from sop_eval.cohorts.weights import WEIGHTING_METHODS
from sop_eval.contract import Cohort, Contract
from sop_eval.contract.timing import assignment_order, window_closes
from sop_eval.contract.vocabulary import COVARIATE_DISTANCES, EVALUATION_DESIGNS
from sop_eval.data import COHORT_COLUMN, ColumnRoles, EvaluationData, validate
from sop_eval.data.identifiers import shown_values
from sop_eval.designs.base import CohortResult, OutcomeMeasure, Prepared, ReportKit
from sop_eval.effects.estimate import EffectEstimate
from sop_eval.effects.matched import estimate_effect, infer_kind
from sop_eval.effects.sensitivity import e_value, pair_differences, rosenbaum_bounds
from sop_eval.errors import SopEvalError, SopEvalWarning, examples, require_columns
from sop_eval.outputs import json_safe
from sop_eval.power import dispersion_from_pilot, mde

METHODS = (
    "Comparison cohorts: for each contract cohort, the people served are matched to people in the comparison "
    "pool who entered in the same cohort window, on pre-treatment characteristics only; the matching never "
    "sees the outcome.",
    "Propensity score: logistic regression of being served on the covariates (categorical covariates as "
    "indicators, first level dropped). Matching: {matching}.",
    "Balance: standardised mean differences use the treated group's standard deviation in the full sample "
    "as denominator (the ATT convention of MatchIt and cobalt); binary terms use the same denominator; "
    "terms with |SMD| above 0.1 after matching are flagged.",
    "Effects: the average effect on the treated (treated mean minus matched comparison mean), from a "
    "weighted regression of the outcome on treatment in the matched sample; standard error: {se}. The "
    "relative change is the difference over the comparison mean, its interval by the delta method. "
    "{significance}.",
    "Pooling: the pooled result is all cohorts together: the cohort-size-weighted mean of the cohort effects "
    "and of their comparison means, with the variance of a weighted sum of independent estimates; its relative "
    "change is the pooled effect over the pooled comparison mean. The pooled gate compares that relative change "
    "with its threshold, as the contract states.",
    "Gates: each gate is decided on the unrounded point estimate; the statistical test is shown beside it and "
    "decides nothing unless the contract requires significance. Per-100 figures are rounded for display only.",
    "Timing: a cohort's outcome window closes {follow_up} months of follow-up plus {lag} months of court lag "
    "after its last entry date; a cohort whose window has not closed by the data extract date is not "
    "measurable and triggers no payment.",
    "Baseline risk: a prognostic score (expected outcome without the service given the covariates) is fitted "
    "on the comparison pool only and compared between the people served, the matched comparison group and "
    "the people dropped from the match.",
    "Sensitivity: Rosenbaum bounds on the signed-rank test of matched-set differences give the hidden-bias "
    "factor Γ at which the conclusion would change; the E-value is the minimum strength of association an "
    "unmeasured confounder would need with both service and outcome to explain the effect away.",
    "Payment risk: effects are drawn from each estimate's normal sampling distribution and passed through the "
    "contract's gates, caps and payer shares.",
    "Disclosure control: {policy}. No identifiers or person-level rows appear in this report.",
)

BALANCE_COLUMNS = ["term", "smd_before", "smd_after", "var_ratio_before", "var_ratio_after", "ecdf_mean_after",
                   "ecdf_max_after", "flag"]


@dataclass(frozen=True)
class _State:
    work: pd.DataFrame
    roles: ColumnRoles
    settings: Any
    exact: list[str]
    distance: str
    extract: pd.Timestamp | None
    measures: tuple[tuple[str, str], ...] = ()
    horizon_days: int = 365


class PsmDesign:
    """Propensity score matching within each contract cohort (``[evaluation] design = "psm"``)."""

    name = "psm"
    title = "matched cohorts"
    contract_keys, data_columns = EVALUATION_DESIGNS["psm"]

    def prepare(self, contract: Contract, frame: pd.DataFrame, *, seed: int, as_of: dt.date | str | None,
                risk_draws: int) -> Prepared:
        """Validate the person-level data, assign contract cohorts and check the matching settings."""
        ev = contract.evaluation
        assert ev is not None  # evaluate() refuses a contract without [evaluation]
        settings = contract.data
        roles = settings.column_roles() if settings is not None and settings.columns else None
        if roles is None:
            raise SopEvalError(f"contract '{contract.source}' has no [data.columns] section naming the column roles.")
        outcome = ev.outcome or (roles.outcomes[0] if roles.outcomes else None)
        if outcome is None:
            raise SopEvalError(f"contract '{contract.source}': name the outcome in [evaluation] outcome = \"...\".")
        if outcome not in roles.outcomes:
            roles = roles.with_(outcomes=(*roles.outcomes, outcome))
        require_columns(roles.columns(), frame.columns, f"data for contract '{contract.source}'")
        _require_outcome(frame, outcome, roles)
        timing = contract.cohorts[0] if contract.cohorts else None
        follow_up = timing.follow_up_months if timing else 12
        lag = timing.court_lag_months if timing else 0
        extract = None if ev.extract_date is None else pd.Timestamp(ev.extract_date)
        checked = validate(frame, roles, extract_date=extract, follow_up_months=follow_up, court_lag_months=lag,
                           cohorts=contract.cohorts, overlap=contract.overlap,
                           **(contract.data.reading() if contract.data else {}))
        work = canonical_order(checked.frame, roles)
        work = work.assign(**{COHORT_COLUMN: assign_cohorts(work, roles, contract)})
        outside = work[COHORT_COLUMN].isna()
        n_outside_treated = int((outside & (work[roles.treatment] == 1)).sum())
        if n_outside_treated:
            warnings.warn(
                f"{n_outside_treated} treated row(s) fall in no contract cohort (outside every entry window, or a "
                "cohort value the contract does not name); they are left out of the evaluation.",
                SopEvalWarning,
                stacklevel=3,
            )

        m = ev.matching
        _check_weighting_keys(m, contract.source)
        exact = [COHORT_COLUMN] + [c for c in m.exact if c != roles.cohort]
        distance = m.distance if m.distance in COVARIATE_DISTANCES else m.score
        parameters: dict[str, Any] = {
            "seed": int(seed),
            "as_of": None if as_of is None else str(as_of),
            "outcome": outcome,
            "se": ev.se,
            "level": ev.level,
            "matching": {
                "method": m.method, "ratio": m.ratio, "replace": m.replace,
                "caliper": None if m.caliper is None else float(m.caliper), "caliper_scale": m.caliper_scale,
                "distance": m.distance, "score": distance, "exact": exact, "order": "largest", "ties": m.ties,
                **{k: v for k, v in match_options(m).items() if k != "caliper"},
            },
            "row_order": (f"rows sorted by '{roles.id}'" if roles.id
                          else "rows sorted by every column the evaluation reads"),
            "follow_up_months": follow_up,
            "court_lag_months": lag,
            "extract_date": None if extract is None else extract.date().isoformat(),
            "risk_draws": int(risk_draws),
            "rows_outside_cohorts": {"treated": n_outside_treated,
                                     "comparison": int((outside & (work[roles.treatment] == 0)).sum())},
        }
        measures = jdl_measures(checked, outcome) if contract.report.layout == "jdl" else ()
        if measures:
            parameters["jdl_measures"] = [{"column": column, "kind": kind} for column, kind in measures]
        state = _State(work=work, roles=roles, settings=ev, exact=exact, distance=distance, extract=extract,
                       measures=measures, horizon_days=round(365 * (follow_up or 12) / 12))
        return Prepared(outcome=outcome, parameters=parameters, data=checked, state=state)

    def measure(self, cohort: Cohort, prepared: Prepared, *, seed: int) -> CohortResult:
        """Match the cohort's people served to its comparison pool and estimate the effect, once its window closed."""
        s: _State = prepared.state
        rows, unmeasured, closes = _cohort_rows(cohort, s)
        if unmeasured is not None:
            return unmeasured
        return _measure(cohort.name, rows, s.roles, prepared.outcome, s, closes, seed)

    def check_cohort(self, cohort: Cohort, prepared: Prepared) -> None:
        """What :meth:`measure` would meet in the cohort's propensity model, without matching or outcomes.

        The treatment model is fitted on the covariates alone, as the match would fit it, and the same
        rules apply: a :class:`SopEvalError` for a cohort that cannot be matched (no comparison pool, perfect
        separation, too few people served for the covariates) and the same :class:`SopEvalWarning` for
        near-separation. Cohorts not measured yet are not checked (a run does not match them).
        """
        s: _State = prepared.state
        rows, unmeasured, _ = _cohort_rows(cohort, s)
        if unmeasured is not None:
            return
        covariates = list(s.roles.covariates)
        with _in_cohort(cohort.name, rows, s.roles, covariates):
            fit = treatment_model(rows, s.roles.treatment, covariates, method=s.settings.matching.method,
                                  distance=s.distance)
        if fit is not None:
            _warn_separation(cohort.name, fit.score[rows[s.roles.treatment].to_numpy() == 1])

    def report_sections(self, evaluation: Any, kit: ReportKit) -> list[Any]:
        """Data and cohort flow (who was dropped), then balance and baseline risk per cohort."""
        return [_flow_section(evaluation, kit), _balance_section(evaluation, kit)]

    def methods(self, evaluation: Any, *, significance: str, policy: str) -> tuple[str, ...]:
        """Matching, balance, effects, pooling, gates, timing, risk, sensitivity and disclosure conventions."""
        params = evaluation.parameters
        m = params.get("matching", {})
        exact = ["the contract cohort" if x == COHORT_COLUMN else x for x in m.get("exact", [])]
        matching = matching_text(m, exact)
        ests = [c.effect for c in evaluation.cohorts if c.effect is not None]
        fmt = dict(matching=matching, se=_se_text(params.get("se"), ests), significance=significance, policy=policy,
                   follow_up=params.get("follow_up_months"), lag=params.get("court_lag_months"))
        return tuple(p.format(**fmt) for p in METHODS)


def match_options(m: Any) -> dict[str, Any]:
    """The :func:`sop_eval.match` options that ``[evaluation.matching]`` sets for its method (JSON-safe)."""
    num = (lambda v: None if v is None else float(v))  # noqa: E731
    out: dict[str, Any] = {"method": m.method}
    if m.method in WEIGHTING_METHODS:
        out.update(estimand=m.estimand, trim=num(m.trim), trim_rule=m.trim_rule, moments=m.moments)
    if m.method in ("nearest", "optimal"):
        out["ratio"] = m.ratio
    if m.method == "nearest":
        out["replace"] = m.replace
    if m.method in ("nearest", "optimal", "full"):
        out["caliper"] = num(m.caliper)
        if m.std_caliper is not True:
            out["std_caliper"] = dict(m.std_caliper) if isinstance(m.std_caliper, dict) else bool(m.std_caliper)
        if m.mahvars:
            out["mahvars"] = list(m.mahvars)
        if m.antiexact:
            out["antiexact"] = list(m.antiexact)
    if m.method in ("nearest", "full"):
        if m.min_controls is not None:
            out["min_controls"] = num(m.min_controls)
        if m.max_controls is not None:
            out["max_controls"] = num(m.max_controls)
    if m.method == "subclass":
        out.update(subclass=m.subclass, min_n=m.min_n)
    if m.method == "cem":
        out["cutpoints"] = {k: ([float(x) for x in v] if isinstance(v, list) else
                                float(v) if isinstance(v, Decimal) and v != int(v) else
                                int(v) if isinstance(v, (int, Decimal)) else v) for k, v in m.cutpoints.items()}
        out["k2k"] = bool(m.k2k)
    return out


def matching_text(m: dict[str, Any], exact: list[str]) -> str:
    """The methods sentence for the matching the contract asked for, as the method words it (``exact``: the
    exact-matching columns as the report names them)."""
    return describe({**m, "exact": exact, "within": "each contract cohort"})


def canonical_order(frame: pd.DataFrame, roles: ColumnRoles) -> pd.DataFrame:
    """The rows sorted by the id column (unique, so the order is tie-free), labelled 0, 1, …

    Everything order-dependent downstream (the propensity fit's sums, MatchIt's data-order tie rule)
    then sees the same order whatever the order of the input files. Without an id column the rows are
    sorted by every column the evaluation reads; rows equal in all of them are interchangeable.
    """
    keys = [roles.id] if roles.id else [c for c in roles.columns() if c in frame.columns]
    try:
        ordered = frame.sort_values(keys, kind="mergesort")
    except TypeError:  # mixed types (numbers and text) in one column: order by their text
        ordered = frame.sort_values(keys, kind="mergesort", key=lambda col: col.astype(str))
    return ordered.reset_index(drop=True)


def _require_outcome(frame: pd.DataFrame, outcome: str, roles: ColumnRoles) -> None:
    """The evaluation's outcome must be known for every person (unless missing by design: allow_missing)."""
    if outcome not in frame.columns or outcome in roles.allow_missing:
        return
    missing = int(frame[outcome].isna().sum())
    if missing:
        raise SopEvalError(
            f"outcome column '{outcome}' (the evaluation's outcome) has {missing} missing value(s); every person "
            f"needs a known outcome. Drop those rows (e.g. df.dropna(subset=['{outcome}'])) or fill them, and run "
            "again; allow_missing is only for outcomes missing by design."
        )


def assign_cohorts(frame: pd.DataFrame, roles: ColumnRoles, contract: Contract) -> pd.Series:
    """Contract cohort of every row: by entry window on the index date, else by the data's cohort column.

    A day inside two cohorts' entry windows goes to the cohort ``[timing] overlap`` names (the contract
    parser refuses overlapping windows without that rule).
    """
    windows = [(c.name, c.entry_start, c.entry_end) for c in contract.cohorts]
    if roles.index_date and all(s is not None and e is not None for _, s, e in windows):
        dates = frame[roles.index_date].dt.date
        out = pd.Series(None, index=frame.index, dtype=object)
        for c in assignment_order(contract.cohorts, contract.overlap):
            out[(dates >= c.entry_start) & (dates <= c.entry_end)] = c.name
        if roles.cohort is not None:
            _check_cohort_column(frame, roles, contract, out)
        return out
    if roles.cohort is None:
        raise SopEvalError(
            "the contract's cohorts have no entry windows and the data has no cohort column; give each [[cohorts]] "
            "entry_start and entry_end, or declare [data.columns] cohort."
        )
    names = {c.name for c in contract.cohorts}
    values = frame[roles.cohort]
    mapped = values.map(lambda v: str(v) if str(v) in names else (f"cohort {v}" if f"cohort {v}" in names else None))
    treated = frame[roles.treatment] == 1
    unknown = sorted({str(v) for v, m in zip(values[treated], mapped[treated], strict=True) if m is None})
    if unknown:
        raise SopEvalError(
            f"cohort column '{roles.cohort}' has value(s) {shown_values(unknown, values, id_column=roles.id)} "
            "among the "
            "treated that name no contract "
            f"cohort ({examples(sorted(names))}); name the cohorts alike or give them entry windows."
        )
    return mapped


def _check_cohort_column(frame: pd.DataFrame, roles: ColumnRoles, contract: Contract, by_window: pd.Series) -> None:
    """With entry windows and a cohort column both given, the windows decide: refuse a column that disagrees."""
    names = {c.name for c in contract.cohorts}
    values = frame[roles.cohort].map(lambda v: str(v) if str(v) in names else
                                     (f"cohort {v}" if f"cohort {v}" in names else None))
    treated = (frame[roles.treatment] == 1) & values.notna() & by_window.notna()
    differ = int((values[treated] != by_window[treated]).sum())
    if differ:
        raise SopEvalError(
            f"cohort column '{roles.cohort}' puts {differ} people served in a different contract cohort than the "
            "[[cohorts]] entry windows do (the windows decide, by the index date). Remove `cohort` from "
            "[data.columns] to use the windows alone, or remove the entry windows to use the column."
        )


def _cohort_rows(cohort: Cohort, s: _State) -> tuple[pd.DataFrame, CohortResult | None, dt.date | None]:
    """The cohort's rows, its result when it is not measured (no treated people, window still open) and the
    day its window closes; refuses a cohort with people served but no comparison pool."""
    roles = s.roles
    rows = s.work[s.work[COHORT_COLUMN] == cohort.name]
    treated_rows = rows[rows[roles.treatment] == 1]
    n_t, n_p = len(treated_rows), int((rows[roles.treatment] == 0).sum())
    last = cohort.entry_end or (treated_rows[roles.index_date].max().date() if n_t and roles.index_date else None)
    closes = None if last is None else window_closes(last, cohort)
    if n_t == 0:
        return rows, CohortResult(cohort.name, "no treated people", closes, 0, n_p), closes
    if s.extract is not None and closes is not None and closes > s.extract.date():
        return rows, CohortResult(cohort.name, "not yet measurable", closes, n_t, n_p), closes
    if n_p == 0:
        where = (f"an index date ('{roles.index_date}') within its entry window "
                 f"{cohort.entry_start} to {cohort.entry_end}" if cohort.entry_start and roles.index_date else
                 f"the value {cohort.name!r} in the cohort column" + (f" '{roles.cohort}'" if roles.cohort else ""))
        raise SopEvalError(
            f"contract cohort {cohort.name!r} has people served but nobody from the comparison pool: pool rows "
            f"join a cohort by {where}. Check the pool's dates or cohort labels against [[cohorts]]."
        )
    return rows, None, closes


@contextmanager
def _in_cohort(name: str, rows: pd.DataFrame, roles: ColumnRoles, covariates: list[str]) -> Iterator[None]:
    """Matching steps for cohort ``name``: their warnings and errors said in the cohort's name, and a propensity
    model the cohort has too few people served for refused in the contract's terms."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SopEvalWarning)
        try:
            yield
        except SopEvalError as exc:
            n_t, terms = int((rows[roles.treatment] == 1).sum()), _n_terms(rows, covariates)
            if str(exc).startswith("perfect separation") and n_t <= terms:
                raise SopEvalError(
                    f"cohort {name!r} has too few people served ({n_t}) to fit a propensity score on {terms} "
                    "covariate term(s): with so few, the covariates single them out. Wait for the cohort's "
                    "remaining people, merge it with another cohort in the contract, or match on fewer covariates."
                ) from None
            if str(exc).startswith("perfect separation"):
                raise SopEvalError(f"cohort {name!r}: {exc}") from None
            raise
    for w in caught:
        warnings.warn(f"cohort {name!r}: {w.message}", w.category, stacklevel=3)


def _measure(name: str, rows: pd.DataFrame, roles: ColumnRoles, outcome: str, s: _State, closes: dt.date | None,
             seed: int) -> CohortResult:
    ev, m = s.settings, s.settings.matching
    covariates = list(roles.covariates)
    kind = infer_kind(rows[outcome].dropna())
    n_t = int((rows[roles.treatment] == 1).sum())
    with _in_cohort(name, rows, roles, covariates):
        options = match_options(m)
        if m.method == "nearest":
            options["ties"] = m.ties
        exact = list(s.exact) if m.method in ("nearest", "optimal", "full") else None  # rows hold one cohort
        matched = match(rows, roles.treatment, covariates, distance=s.distance, exact=exact, seed=seed,
                        warn_dropped=1.0, **options)  # dropped shares are said below, in the contract's words
    ties_share = tie_share(matched)
    _warn_matching(name, matched, ties_share, m.ties)
    effect = estimate_effect(matched, outcome, kind=kind, se=ev.se, level=ev.level, seed=seed, label=name,
                             allow_small=ev.allow_small)
    risk_score = prognostic_score(rows, outcome, covariates, roles.treatment, kind=kind)
    dropped = matched.dropped_profile(risk_score)
    _warn_dropped_risk(name, dropped, m.method)
    details: dict[str, Any] = {"tie_share": ties_share}
    if matched.method == "subclass":
        details["subclass_balance"] = subclass_balance(matched)
    return CohortResult(
        name=name, status="measured", window_closes=closes, n_treated=n_t,
        n_pool=int((rows[roles.treatment] == 0).sum()), matched=matched, effect=effect,
        risk=matched.compare_risk(risk_score), dropped=dropped,
        sensitivity=_sensitivity(matched, outcome, effect), mde=_mde(effect, rows, outcome, roles, kind),
        details=details, measures=_extra_measures(name, matched, outcome, effect, s),
    )


#: |SMD| beyond which a term counts as imbalanced, overall and within a subclass.
SMD_THRESHOLD = float(DEFAULT_THRESHOLDS["smd"] or 0.1)


def subclass_balance(matched: MatchedCohort, threshold: float = SMD_THRESHOLD) -> dict[str, Any]:
    """Balance within each subclass of a subclassification (MatchIt's ``summary(subclass = TRUE)``), as the
    aggregates results.json records: per subclass the people in each group, each covariate term's SMD (the
    distance left out; conventions of :func:`sop_eval.balance`), the largest |SMD| and its term and how many
    terms exceed ``threshold``; and how many subclasses hold a term beyond it. An SMD that cannot be computed
    (a subclass with fewer than two people in both groups) is None and counts as not exceeding."""
    got = balance(matched, subclass=matched.subclass.to_numpy(), thresholds={"smd": threshold, "var_ratio": None})
    assert got.subclass_table is not None and got.subclass_sizes is not None
    smd = got.subclass_table["smd"].drop(index="distance", level="term", errors="ignore").astype(float)
    sizes = got.subclass_sizes.reindex(columns=["treated", "control"], fill_value=0)
    rows: list[dict[str, Any]] = []
    for label, (n_t, n_c) in zip(sizes.index.to_numpy(dtype=float), sizes.to_numpy(dtype=int), strict=True):
        values = smd.xs(label, level="subclass") if label in smd.index.get_level_values("subclass") else smd.iloc[:0]
        size = values.abs()
        found = bool(size.notna().any())
        rows.append({
            "subclass": int(label), "treated": int(n_t), "control": int(n_c),
            "largest_abs_smd": float(size.max()) if found else None,
            "largest_term": str(size.idxmax()) if found else None,
            "terms_over_threshold": int((size > threshold).sum()),
            "smd": {str(k): float(v) for k, v in values.items()},
        })
    return dict(json_safe({
        "threshold": threshold, "n_subclasses": len(rows),
        "smd_denominator": f"{_SUBCLASS_SD[got.estimand]}; where it is zero, the full sample's pooled SD "
                           "(groups weighted by size)",
        "subclasses_over_threshold": sum(r["terms_over_threshold"] > 0 for r in rows), "subclasses": rows,
    }))


_SUBCLASS_SD = {
    "ATT": "the subclass's treated SD",
    "ATC": "the subclass's control SD",
    "ATE": "the full sample's pooled SD",
    "ATO": "the full sample's pooled SD",
}


#: The Justice Data Lab headline measures by outcome kind, in the order its layout shows them.
JDL_KINDS = ("binary", "count", "time_to_event")


def _jdl_kind(data: EvaluationData, column: str) -> str | None:
    """The Justice Data Lab measure a column holds: a 0/1 rate, a count, or days to a first event (missing when
    none, by design); None for anything else."""
    values = data.frame[column]
    if column in data.roles.allow_missing and values.isna().any() and ("day" in column or "time" in column):
        return "time_to_event"
    kind = infer_kind(values.dropna())
    return kind if kind in ("binary", "count") else None


def jdl_measures(data: EvaluationData, outcome: str) -> tuple[tuple[str, str], ...]:
    """(column, kind) of each Justice Data Lab headline measure the data have: the reoffending rate, then the
    frequency, then the time to first reoffence; of several columns of one kind, the contract's outcome first,
    then the first named."""
    found = [(c, k) for c in data.roles.outcomes if c in data.frame and (k := _jdl_kind(data, c)) is not None]
    firsts: dict[str, tuple[str, str]] = {}
    for column, kind in sorted(found, key=lambda ck: (JDL_KINDS.index(ck[1]), ck[0] != outcome)):
        firsts.setdefault(kind, (column, kind))
    return tuple(firsts.values())


def _extra_measures(name: str, matched: MatchedCohort, outcome: str, effect: EffectEstimate,
                    s: _State) -> tuple[OutcomeMeasure, ...]:
    """The further outcomes the contract's layout reports, each estimated on the cohort's existing match (same
    matched sets, weights and standard error as the contract's outcome; nothing is re-matched). Time to event
    is censored at the end of the follow-up window; small cohorts are estimated (the layout says so)."""
    out = []
    for column, kind in s.measures:
        if column == outcome:
            out.append(OutcomeMeasure(column, kind, effect))
            continue
        extra: dict[str, Any] = {"horizon": s.horizon_days} if kind == "time_to_event" else {}
        try:
            found = estimate_effect(matched, column, kind=kind, se=s.settings.se, level=s.settings.level,
                                    allow_small=True, label=name, **extra)
        except SopEvalError as exc:
            out.append(OutcomeMeasure(column, kind, not_estimated=str(exc)))
            continue
        out.append(OutcomeMeasure(column, kind, found))
    return tuple(out)


#: Warn when more than this share of the people served is left out of the match (the README's promise).
WARN_DROPPED = 0.05
#: Warn when the people left out of the match shift their group's mean baseline risk by more than this share
#: (half of a 10% reduction gate: enough to move a payment; the share left out is warned of separately).
WARN_DROPPED_RISK = 0.05
#: Warn when more than this share of the matched people served had an equally near control not chosen.
WARN_TIES = 0.10
#: Propensity scores beyond this distance from 0 or 1 count as near-separation.
NEAR_SEPARATION = 0.01
#: Warn when more than this share of the people served has a near-separated score.
WARN_SEPARATION = 0.05


def _n_terms(rows: pd.DataFrame, covariates: list[str]) -> int:
    """Columns the propensity model gets: one per numeric covariate, levels - 1 per categorical one."""
    n = 0
    for name in covariates:
        col = rows[name]
        numeric = pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)
        n += 1 if numeric else max(int(col.nunique(dropna=True)) - 1, 1)
    return n


def _warn_matching(name: str, matched: MatchedCohort, ties_share: float, ties: bool) -> None:
    """Warnings that bear on the payment: many people served left out, near-separation, arbitrary ties."""
    n_t, dropped = int(matched.focal.sum()), len(matched.unmatched)
    who = "comparison people" if matched.focal_group == "control" else "people served"
    if n_t and dropped / n_t > WARN_DROPPED:
        reasons = matched.unmatched["reason"].value_counts().sort_index()
        warnings.warn(
            f"cohort {name!r}: {dropped} of {n_t} {who} ({dropped / n_t:.1%}) were left out of the match "
            f"({', '.join(f'{v} people: {k}' for k, v in reasons.items())}); the effect and the payment describe only "
            "those matched, who may differ from those left out (see the report's cohort flow and baseline risk).",
            SopEvalWarning, stacklevel=3,
        )
    _warn_separation(name, matched.propensity.to_numpy(float)[matched.treated.to_numpy()])
    if not ties and ties_share > WARN_TIES:
        warnings.warn(
            f"cohort {name!r}: for {ties_share:.1%} of the matched people served another comparison person was "
            "exactly as near as the one chosen, so the choice among equals decides a large share of the match "
            "(here by the order of the id column). Add ties = true under [evaluation.matching] (with "
            "replace = true) to keep every tied comparison person and remove the arbitrariness.",
            SopEvalWarning, stacklevel=3,
        )


def _warn_dropped_risk(name: str, dropped: pd.DataFrame, method: str) -> None:
    """Warn when leaving people out moves the baseline risk of the group they belong to by more than
    :data:`WARN_DROPPED_RISK` of its mean: ``share left out x |risk left out - risk matched| / |mean risk of all|``,
    however few they are by head count (a few people of much higher risk can matter more than many like the rest)."""
    risk = [term for term in dropped.index if str(term).startswith("risk: ")]
    n_in, n_out = dropped.loc["n", ["matched", "unmatched"]].to_numpy(dtype=float)
    if not risk or not n_out or not n_in:
        return
    kept, out = dropped.loc[risk[0], ["matched", "unmatched"]].to_numpy(dtype=float)
    share = n_out / (n_in + n_out)
    overall = kept + share * (out - kept)
    if not np.isfinite(overall) or overall == 0 or share * abs(out - kept) / abs(overall) <= WARN_DROPPED_RISK:
        return
    who = "comparison people" if dropped.attrs.get("group") == "control" else "people served"
    fix = {"nearest": "widen the caliper (or drop it)", "optimal": "widen the caliper", "full": "widen the caliper",
           "cem": "use coarser cut points (fewer, wider bins under cutpoints)", "exact": "use method = \"cem\" with "
           "coarse cut points", "subclass": "use fewer subclasses or a smaller min_n"}.get(method, "widen the match")
    warnings.warn(
        f"cohort {name!r}: the {int(n_out)} of {int(n_in + n_out)} {who} left out of the match ({share:.1%}) had a "
        f"mean baseline risk (expected outcome without the service) of {out:.3g} against {kept:.3g} for those "
        f"matched, which moves the group's mean risk by {share * abs(out - kept) / abs(overall):.1%}: the effect and "
        f"the payment describe a group of {'higher' if out < kept else 'lower'} risk than all {who}. Under "
        f"[evaluation.matching], {fix} so that fewer are left out, and see the report's cohort flow and baseline "
        "risk.",
        SopEvalWarning, stacklevel=3,
    )


def _warn_separation(name: str, score: np.ndarray) -> None:
    """Warn when more than :data:`WARN_SEPARATION` of the people served (their propensity ``score``) have scores
    within :data:`NEAR_SEPARATION` of 0 or 1."""
    n_t = len(score)
    near = int(np.count_nonzero((score < NEAR_SEPARATION) | (score > 1 - NEAR_SEPARATION)))
    if n_t and near / n_t > WARN_SEPARATION:
        warnings.warn(
            f"cohort {name!r}: {near} of {n_t} people served ({near / n_t:.1%}) have propensity scores within "
            f"{NEAR_SEPARATION} of 0 or 1: the covariates nearly separate them from the comparison pool, so few "
            "comparable people exist. Coarsen or drop the covariates that separate them, or restrict the cohort "
            "to the range where both groups occur.",
            SopEvalWarning, stacklevel=4,
        )


def _check_weighting_keys(m: Any, source: str) -> None:
    """Refuse [evaluation.matching] keys that the chosen method does not read."""
    where = f"contract '{source}': [evaluation.matching]"
    if m.method not in WEIGHTING_METHODS:
        if m.estimand != "ATT" or m.trim is not None or m.moments != 1 or m.trim_rule != "truncate":
            raise SopEvalError(f"{where} estimand, trim, trim_rule and moments apply to method = \"weighting\" or "
                               f"\"ebal\"; method = {m.method!r} estimates the ATT here. Remove them or change the "
                               "method.")
        return
    if m.ratio != 1 or m.replace or m.caliper is not None or m.exact:
        raise SopEvalError(f"{where} ratio, replace, caliper and exact apply to method = \"nearest\"; method = "
                           f"{m.method!r} weights everyone in the cohort. Remove them.")
    if m.method == "ebal" and (m.trim is not None or m.estimand == "ATO"):
        raise SopEvalError(f"{where} method = \"ebal\" takes estimand ATT, ATC or ATE and no trim (trimming would "
                           "undo the exact balance).")
    if m.method == "weighting" and m.moments != 1:
        raise SopEvalError(f"{where} moments applies to method = \"ebal\" only.")
    if m.moments not in (1, 2):
        raise SopEvalError(f"{where} moments = {m.moments}: use 1 (means) or 2 (means and variances).")
    if m.trim is not None and not 0 < m.trim < 1:
        raise SopEvalError(f"{where} trim = {m.trim}: use a quantile strictly between 0 and 1, such as 0.99.")


def _sensitivity(matched: MatchedCohort, outcome: str, effect: EffectEstimate) -> dict[str, Any]:
    out: dict[str, Any] = {}
    try:
        out["rosenbaum"] = rosenbaum_bounds(pair_differences(matched, outcome), effect=effect.estimate).to_dict()
    except SopEvalError as exc:
        out["rosenbaum"] = {"not_computed": str(exc)}
    try:
        out["e_value"] = e_value(effect).to_dict()
    except SopEvalError as exc:
        out["e_value"] = {"not_computed": str(exc)}
    return out


def _mde(effect: EffectEstimate, rows: pd.DataFrame, outcome: str, roles: ColumnRoles, kind: str) -> float | None:
    if kind not in ("count", "binary"):
        return None
    pool_values = rows.loc[rows[roles.treatment] == 0, outcome].dropna()
    ratio = max(1.0, effect.n_comparison / max(effect.n_treated, 1))
    dispersion = dispersion_from_pilot(pool_values) if kind == "count" else 1.0
    value = mde(n_treated=effect.n_treated, baseline_mean=effect.comparison_mean, ratio=ratio, kind=kind,
                dispersion=dispersion)
    return None if not np.isfinite(value) else float(value)


# -- report sections -------------------------------------------------------------------------------------
def _count(x: Any) -> str:
    return f"{x:,}" if isinstance(x, int) else str(x)


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in text.lower()).strip("_")


def _flow_section(ev: Any, kit: ReportKit) -> Any:
    """Eligible → matched → dropped per cohort, the comparison pool, and the profile of the people dropped."""
    policy = kit.policy
    flows = pd.DataFrame([{"cohort": k.name, "status": k.status_text, **k.flow()} for k in ev.cohorts])
    flows = flows.set_index("cohort")
    flow = kit.protect(flows, ["matched", "dropped", "eligible"], name="cohort flow", row_total="eligible")
    pool_t = kit.protect(flows, ["pool", "controls_used"], name="comparison pool")
    flow_table = flow.table[["status", "eligible", "matched", "dropped"]].join(pool_t.table[["pool", "controls_used"]])
    tables: list[tuple[str, pd.DataFrame]] = [
        ("Eligible → matched → dropped (people served) and comparison pool", flow_table.reset_index())]
    notes: list[str] = []
    outside = ev.parameters.get("rows_outside_cohorts", {}).get("treated", 0)
    if outside:
        shown_outside = (f"fewer than {policy.threshold + 1}" if outside <= policy.threshold
                         else f"about {policy.round_count(outside):,}")
        notes.append(f"{shown_outside} people served fall in no contract cohort (outside every entry window) and are "
                     "left out.")
    for k in ev.cohorts:
        if k.dropped is None:
            continue
        n_dropped = k.flow()["dropped"]
        if 1 <= n_dropped <= policy.threshold:
            notes.append(f"{k.name}: the profile of the people dropped is not shown: fewer than {policy.threshold + 1} "
                         "people.")
            continue
        if n_dropped:
            profile = k.dropped.drop(index="n", errors="ignore").reset_index().round(3)
            tables.append((f"{k.name}: people dropped from the match against those matched (means)",
                           profile.assign(**{profile.columns[0]: profile.iloc[:, 0].map(_labels(ev))})))
        shown = policy.share(n_dropped, k.flow()["eligible"])
        if shown:
            notes.append(f"{k.name}: {shown} of the people served were left out of the match.")
    sizes = kit.protect(pd.DataFrame([ev.data.to_dict()])[["n_treated", "n_pool"]], ["n_treated", "n_pool"],
                        name="people in the data")
    shown_sizes = sizes.table.iloc[0]
    return kit.section("Data and cohort flow", paragraphs=(
        f"{_count(shown_sizes['n_treated'])} people served and {_count(shown_sizes['n_pool'])} in the comparison pool "
        f"(counts under the disclosure policy); data extract date {ev.parameters.get('extract_date')}.",),
        tables=tables, notes=notes)


def _balance_section(ev: Any, kit: ReportKit) -> Any:
    """Balance before and after matching, baseline risk, Love plots and propensity overlap per cohort."""
    tables, figures, notes = [], [], []
    taken: dict[str, int] = {}
    label = _labels(ev)
    for k in ev.cohorts:
        if k.matched is None:
            continue
        after = _adjustment(k.matched.method)
        balance = k.matched.balance()
        summary = balance.summary()
        shown = summary[[x for x in BALANCE_COLUMNS if x in summary]].round(3)
        tables.append((f"{k.name}: balance before and after {after}",
                       shown.assign(term=shown["term"].map(label)) if "term" in shown else shown))
        if k.details.get("subclass_balance"):
            sub_table, sub_notes = _subclass_balance_table(k.name, k.details["subclass_balance"], kit, label)
            tables.append((f"{k.name}: balance within each subclass (people and the largest |SMD|)", sub_table))
            notes.extend(sub_notes)
        if k.matched.method in WEIGHTING_METHODS:
            sizes = k.matched.summary()
            tables.append((f"{k.name}: weights and effective sample size (ESS)", _weight_table(k.matched).round(3)))
            for key in ("trimming", "ebal"):
                info = sizes.attrs.get(key)
                if key == "trimming" and info:
                    notes.append(f"{k.name}: {info['description']}.")
                elif key == "ebal" and info:
                    notes.append(f"{k.name}: entropy balancing reached a largest imbalance of "
                                 f"{info['max_imbalance_sd']:.1e} SD in {info['n_iter']} Newton iterations.")
        if k.risk is not None:
            tables.append((f"{k.name}: baseline risk (expected {label(ev.outcome)} without the service)",
                           k.risk.reset_index().round(3)))
        if balance.imbalanced:
            notes.append(f"{k.name}: terms still imbalanced after {after} (|SMD| > {balance.threshold}): "
                         f"{', '.join(map(label, balance.imbalanced))}.")
        slug = _slug(k.name) or "cohort"
        taken[slug] = taken.get(slug, 0) + 1
        if taken[slug] > 1:  # "cohort 1" and "cohort-1" must not share figure files
            slug = f"{slug}_{taken[slug]}"
        figures.append(kit.figure(f"love_{slug}.png",
                                  f"{k.name}: standardised mean differences before and after {after} (Love plot)",
                                  "love_plot", balance, size=(6.4, 4.2), labels=label))
        if np.isfinite(k.matched.propensity.to_numpy(float)).any():  # CEM, exact, Mahalanobis: no score to show
            figures.append(kit.figure(f"overlap_{slug}.png",
                                      f"{k.name}: propensity score overlap before and after {after}",
                                      "propensity_overlap", k.matched, policy=kit.policy))
    return kit.section("Balance and baseline risk", tables=tables, figures=figures, notes=notes)


def _adjustment(method: str) -> str:
    """What the report calls the step balance is assessed after: weighting, subclassification or matching."""
    if method in WEIGHTING_METHODS:
        return "weighting"
    return "subclassification" if method == "subclass" else "matching"


def _subclass_balance_table(name: str, record: dict[str, Any], kit: ReportKit,
                            label: Callable[[str], str]) -> tuple[pd.DataFrame, list[str]]:
    """One row per subclass: people served and comparison people (under the disclosure policy), the largest
    |SMD| within the subclass, its term and how many terms exceed the threshold; and the sentence counting the
    subclasses with a term beyond it. A subclass group of 1 to ``threshold`` people shows no statistics (as
    the profile of a small group of people dropped is not shown)."""
    policy = kit.policy
    threshold = record["threshold"]
    frame = pd.DataFrame([{k: r[k] for k in ("subclass", "treated", "control", "largest_abs_smd", "largest_term",
                                             "terms_over_threshold")} for r in record["subclasses"]])
    total = {"subclass": "all subclasses", "treated": int(frame["treated"].sum()),
             "control": int(frame["control"].sum()), "largest_abs_smd": None, "largest_term": None,
             "terms_over_threshold": None}
    frame = pd.concat([frame, pd.DataFrame([total])], ignore_index=True)
    # the total row lets secondary suppression stop a hidden subclass count being recovered by subtraction
    sizes = kit.protect(frame.set_index("subclass"), ["treated", "control"], name=f"{name}: subclass sizes",
                        total_row="all subclasses")
    table = sizes.table.reset_index()
    small = ((frame[["treated", "control"]] >= 1) & (frame[["treated", "control"]] <= policy.threshold)).any(axis=1)
    small.iloc[-1] = False
    largest = frame["largest_abs_smd"].map(lambda v: "—" if v is None or pd.isna(v) else f"{v:.3f}")
    term = frame["largest_term"].map(lambda v: "—" if v is None or pd.isna(v) else label(str(v)))
    over = frame["terms_over_threshold"].map(lambda v: "—" if v is None or pd.isna(v) else f"{int(v):d}")
    for column, values in (("largest_abs_smd", largest), ("largest_term", term), ("terms_over_threshold", over)):
        table[column] = values.where(~small, policy.mask)
    table = table.rename(columns={"treated": "people served", "control": "comparison", "largest_abs_smd":
                                  "largest |SMD|", "largest_term": "term", "terms_over_threshold":
                                  f"terms |SMD| > {threshold:g}"})
    n_over, n_sub = record["subclasses_over_threshold"], record["n_subclasses"]
    notes = [f"{name}: within subclasses, {n_over} of {n_sub} subclasses have at least one term with |SMD| > "
             f"{threshold:g} (each SMD over {record['smd_denominator']})."]
    if small.any():
        notes.append(f"{name}: the balance statistics of {int(small.sum())} subclass(es) with fewer than "
                     f"{policy.threshold + 1} people in a group are not shown.")
    return table, notes


def _labels(ev: Any) -> Callable[[str], str]:
    """How the report names a column or covariate term: the contract's labels, else a readable name."""
    data = ev.contract.data
    return data.label if data is not None else (lambda name: str(name).replace("_", " "))


def _weight_table(matched: MatchedCohort) -> pd.DataFrame:
    """Per group: people, the weights' minimum, mean and maximum, and Kish's effective sample size."""
    sizes = matched.summary().set_index("group")
    rows = []
    for group, g in (("control", ~matched.treated), ("treated", matched.treated)):
        w = matched.weights[g]
        rows.append({"group": group, "people": int(g.sum()), "weight_min": float(w.min()),
                     "weight_mean": float(w.mean()), "weight_max": float(w.max()),
                     "ess": float(sizes.loc[group, "ess"])})
    return pd.DataFrame(rows)


def _se_text(name: Any, ests: list[EffectEstimate]) -> str:
    """The SE's name, its method and what it clusters on, as the first cohort's estimate records them."""
    first = next((e for e in ests if e.details.get("clusters_on")), None)
    if first is None:
        return str(name)
    return f"{name} — {first.method}, clustered on {first.details['clusters_on']}"
