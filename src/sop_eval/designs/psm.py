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
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sop_eval.cohorts.matching import MatchedCohort, match
from sop_eval.cohorts.nearest import TIE_RULE
from sop_eval.cohorts.risk import prognostic_score
from sop_eval.cohorts.weights import WEIGHTING_METHODS
from sop_eval.contract import Cohort, Contract
from sop_eval.contract.timing import window_closes
from sop_eval.contract.vocabulary import EVALUATION_DESIGNS, EVALUATION_MATCH_METHODS
from sop_eval.data import COHORT_COLUMN, ColumnRoles, validate
from sop_eval.designs.base import CohortResult, Prepared, ReportKit
from sop_eval.effects.estimate import EffectEstimate
from sop_eval.effects.matched import estimate_effect, infer_kind
from sop_eval.effects.sensitivity import e_value, pair_differences, rosenbaum_bounds
from sop_eval.errors import SopEvalError, SopEvalWarning, examples, require_columns
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
        timing = contract.cohorts[0] if contract.cohorts else None
        follow_up = timing.follow_up_months if timing else 12
        lag = timing.court_lag_months if timing else 0
        extract = None if ev.extract_date is None else pd.Timestamp(ev.extract_date)
        checked = validate(frame, roles, extract_date=extract, follow_up_months=follow_up, court_lag_months=lag,
                           cohorts=contract.cohorts, **(contract.data.reading() if contract.data else {}))
        work = checked.frame.assign(**{COHORT_COLUMN: assign_cohorts(checked.frame, roles, contract)})
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
        if m.method not in EVALUATION_MATCH_METHODS or m.distance not in ("glm", "logit") or \
                m.caliper_scale == "covariates":
            raise SopEvalError(
                f"contract '{contract.source}': [evaluation.matching] asks for method = {m.method!r}, distance = "
                f"{m.distance!r}, caliper_scale = {m.caliper_scale!r}; the evaluation matches by nearest neighbour "
                "on a logistic propensity score (method = \"nearest\", distance = \"glm\", caliper_scale = \"logit\" "
                "or \"propensity\"). Change those keys, or match with sop_eval.match and pay with `sop-eval pay`."
            )
        _check_weighting_keys(m, contract.source)
        exact = [COHORT_COLUMN] + [c for c in m.exact if c != roles.cohort]
        distance = "linear_logit" if m.caliper_scale == "logit" else "logit"
        parameters = {
            "seed": int(seed),
            "as_of": None if as_of is None else str(as_of),
            "outcome": outcome,
            "se": ev.se,
            "level": ev.level,
            "matching": {
                "method": m.method, "ratio": m.ratio, "replace": m.replace,
                "caliper": None if m.caliper is None else float(m.caliper), "caliper_scale": m.caliper_scale,
                "distance": distance, "exact": exact, "order": "largest",
                **({"estimand": m.estimand, "trim": None if m.trim is None else float(m.trim),
                    "trim_rule": m.trim_rule, "moments": m.moments} if m.method in WEIGHTING_METHODS else {}),
            },
            "follow_up_months": follow_up,
            "court_lag_months": lag,
            "extract_date": None if extract is None else extract.date().isoformat(),
            "risk_draws": int(risk_draws),
            "rows_outside_cohorts": {"treated": n_outside_treated,
                                     "comparison": int((outside & (work[roles.treatment] == 0)).sum())},
        }
        state = _State(work=work, roles=roles, settings=ev, exact=exact, distance=distance, extract=extract)
        return Prepared(outcome=outcome, parameters=parameters, data=checked, state=state)

    def measure(self, cohort: Cohort, prepared: Prepared, *, seed: int) -> CohortResult:
        """Match the cohort's people served to its comparison pool and estimate the effect, once its window closed."""
        s: _State = prepared.state
        roles = s.roles
        rows = s.work[s.work[COHORT_COLUMN] == cohort.name]
        treated_rows = rows[rows[roles.treatment] == 1]
        n_t, n_p = len(treated_rows), int((rows[roles.treatment] == 0).sum())
        last = cohort.entry_end or (treated_rows[roles.index_date].max().date() if n_t and roles.index_date else None)
        closes = None if last is None else window_closes(last, cohort)
        if n_t == 0:
            return CohortResult(cohort.name, "no treated people", closes, 0, n_p)
        if s.extract is not None and closes is not None and closes > s.extract.date():
            return CohortResult(cohort.name, "not yet measurable", closes, n_t, n_p)
        return _measure(cohort.name, rows, roles, prepared.outcome, s, closes, seed)

    def report_sections(self, evaluation: Any, kit: ReportKit) -> list[Any]:
        """Data and cohort flow (who was dropped), then balance and baseline risk per cohort."""
        return [_flow_section(evaluation, kit), _balance_section(evaluation, kit)]

    def methods(self, evaluation: Any, *, significance: str, policy: str) -> tuple[str, ...]:
        """Matching, balance, effects, pooling, gates, timing, risk, sensitivity and disclosure conventions."""
        params = evaluation.parameters
        m = params.get("matching", {})
        exact = ", ".join("the contract cohort" if x == COHORT_COLUMN else x for x in m.get("exact", []))
        matching = (f"nearest neighbour, up to {m.get('ratio')} control(s) each, "
                    f"{'with' if m.get('replace') else 'without'} replacement, caliper {m.get('caliper')} SD of the "
                    f"{'logit of the ' if m.get('caliper_scale') == 'logit' else ''}propensity score, exact on "
                    f"{exact}, treated units in order of {m.get('order')} score first; {TIE_RULE}")
        if m.get("method") == "weighting":
            rule = "truncated" if m.get("trim_rule") == "truncate" else "set to 0"
            trim = "no trimming" if m.get("trim") is None else f"weights above their {m.get('trim')} quantile {rule}"
            matching = (f"propensity score weighting within each contract cohort (estimand {m.get('estimand')}, "
                        f"weights of sop_eval.cohorts.weighting, logistic propensity score), {trim}")
        elif m.get("method") == "ebal":
            matching = (f"entropy balancing within each contract cohort (estimand {m.get('estimand')}), exact balance "
                        f"of the covariate {'means and variances' if m.get('moments') == 2 else 'means'}")
        ests = [c.effect for c in evaluation.cohorts if c.effect is not None]
        fmt = dict(matching=matching, se=_se_text(params.get("se"), ests), significance=significance, policy=policy,
                   follow_up=params.get("follow_up_months"), lag=params.get("court_lag_months"))
        return tuple(p.format(**fmt) for p in METHODS)


def assign_cohorts(frame: pd.DataFrame, roles: ColumnRoles, contract: Contract) -> pd.Series:
    """Contract cohort of every row: by entry window on the index date, else by the data's cohort column."""
    windows = [(c.name, c.entry_start, c.entry_end) for c in contract.cohorts]
    if roles.index_date and all(s is not None and e is not None for _, s, e in windows):
        dates = frame[roles.index_date].dt.date
        out = pd.Series(None, index=frame.index, dtype=object)
        for name, start, end in windows:
            out[(dates >= start) & (dates <= end)] = name
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
            f"cohort column '{roles.cohort}' has value(s) {examples(unknown)} among the treated that name no contract "
            f"cohort ({examples(sorted(names))}); name the cohorts alike or give them entry windows."
        )
    return mapped


def _measure(name: str, rows: pd.DataFrame, roles: ColumnRoles, outcome: str, s: _State, closes: dt.date | None,
             seed: int) -> CohortResult:
    ev, m = s.settings, s.settings.matching
    covariates = list(roles.covariates)
    kind = infer_kind(rows[outcome].dropna())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SopEvalWarning)
        if m.method in WEIGHTING_METHODS:  # the rows are one contract cohort already: no exact strata
            matched = match(rows, roles.treatment, covariates, method=m.method, distance=s.distance,
                            estimand=m.estimand, trim=None if m.trim is None else float(m.trim),
                            trim_rule=m.trim_rule, moments=m.moments, seed=seed)
        else:
            matched = match(
                rows, roles.treatment, covariates, method=m.method, distance=s.distance, ratio=m.ratio,
                replace=m.replace, caliper=None if m.caliper is None else float(m.caliper), exact=list(s.exact),
                seed=seed,
            )
    effect = estimate_effect(matched, outcome, kind=kind, se=ev.se, level=ev.level, seed=seed, label=name,
                             allow_small=ev.allow_small)
    risk_score = prognostic_score(rows, outcome, covariates, roles.treatment, kind=kind)
    n_t = int((rows[roles.treatment] == 1).sum())
    return CohortResult(
        name=name, status="measured", window_closes=closes, n_treated=n_t,
        n_pool=int((rows[roles.treatment] == 0).sum()), matched=matched, effect=effect,
        risk=matched.compare_risk(risk_score), dropped=matched.dropped_profile(risk_score),
        sensitivity=_sensitivity(matched, outcome, effect), mde=_mde(effect, rows, outcome, roles, kind),
    )


def _check_weighting_keys(m: Any, source: str) -> None:
    """Refuse [evaluation.matching] keys that the chosen method does not read."""
    where = f"contract '{source}': [evaluation.matching]"
    if m.method == "nearest":
        if m.estimand != "ATT" or m.trim is not None or m.moments != 1 or m.trim_rule != "truncate":
            raise SopEvalError(f"{where} estimand, trim, trim_rule and moments apply to method = \"weighting\" or "
                               f"\"ebal\"; nearest-neighbour matching estimates the ATT. Remove them or change the "
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
    notes = list(ev.data.warnings)
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
            tables.append((f"{k.name}: people dropped from the match against those matched (means)",
                           k.dropped.drop(index="n", errors="ignore").reset_index().round(3)))
        share = k.dropped.attrs.get("share_dropped")
        if share:
            notes.append(f"{k.name}: {share:.1%} of the people served were left out of the match.")
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
    for k in ev.cohorts:
        if k.matched is None:
            continue
        balance = k.matched.balance()
        summary = balance.summary()
        tables.append((f"{k.name}: balance before and after matching",
                       summary[[x for x in BALANCE_COLUMNS if x in summary]].round(3)))
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
            tables.append((f"{k.name}: baseline risk (expected {ev.outcome} without the service)",
                           k.risk.reset_index().round(3)))
        if balance.imbalanced:
            notes.append(f"{k.name}: terms still imbalanced after matching (|SMD| > {balance.threshold}): "
                         f"{', '.join(balance.imbalanced)}.")
        slug = _slug(k.name)
        figures.append(kit.figure(f"love_{slug}.png",
                                  f"{k.name}: standardised mean differences before and after matching (Love plot)",
                                  "love_plot", balance, size=(6.4, 4.2)))
        figures.append(kit.figure(f"overlap_{slug}.png",
                                  f"{k.name}: propensity score overlap before and after matching",
                                  "propensity_overlap", k.matched))
    return kit.section("Balance and baseline risk", tables=tables, figures=figures, notes=notes)


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
