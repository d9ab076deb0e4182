"""The one orchestrator: contract + data → comparison cohorts → effects → gates → payments.

:func:`evaluate` runs the evaluation a contract describes and returns an :class:`Evaluation`;
:func:`run` also writes ``results.json``, ``report.html``, ``figures/`` and ``audit.json`` into a
directory, atomically.
"""

from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from sop_eval.data import ColumnRoles, EvaluationData, read_table, validate
from sop_eval.effects.estimate import EffectEstimate
from sop_eval.errors import SopEvalError, SopEvalWarning, examples, require_columns
from sop_eval.payments import Contract, PaymentSchedule, calculate, load_contract
from sop_eval.payments.contract import add_months

COHORT_COLUMN = "_contract_cohort"
DEFAULT_SEED = 20100909


@dataclass(frozen=True)
class CohortResult:
    """One contract cohort: its people, the comparison cohort built for it and the effect measured.

    ``status`` is ``"measured"``, ``"not yet measurable"`` (its outcome window — the last entry date
    plus follow-up plus court lag — closes after the data extract date) or ``"no treated people"``.
    """

    name: str
    status: str
    window_closes: dt.date | None
    n_treated: int
    n_pool: int
    matched: Any = None
    effect: EffectEstimate | None = None
    risk: pd.DataFrame | None = None
    dropped: pd.DataFrame | None = None
    sensitivity: dict[str, Any] = field(default_factory=dict)
    mde: float | None = None
    design: str = "psm"
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def measured(self) -> bool:
        """Whether an effect was estimated for this cohort."""
        return self.status == "measured"

    @property
    def status_text(self) -> str:
        """The status in words, with the first measurable date where it applies."""
        if self.status == "not yet measurable" and self.design == "did":
            return f"not yet measurable — first measurable when period {self.details.get('group')} is in the data"
        if self.status == "not yet measurable":
            return f"not yet measurable — first measurable on {self.window_closes}"
        return self.status

    def flow(self) -> dict[str, int]:
        """People in the cohort flow: eligible treated, matched, dropped; comparison pool and controls used."""
        if self.matched is None:
            return {"eligible": self.n_treated, "matched": 0, "dropped": 0, "pool": self.n_pool, "controls_used": 0}
        sizes = self.matched.summary().set_index("group")
        return {
            "eligible": self.n_treated,
            "matched": int(sizes.loc["treated", "matched"]),
            "dropped": int(sizes.loc["treated", "unmatched"]),
            "pool": self.n_pool,
            "controls_used": int(sizes.loc["control", "matched"]),
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe record of every figure for this cohort (aggregates only)."""
        out: dict[str, Any] = {
            "name": self.name,
            "status": self.status,
            "status_text": self.status_text,
            "window_closes": None if self.window_closes is None else self.window_closes.isoformat(),
            "flow": self.flow() if self.design == "psm" else None,
            "minimum_detectable_reduction": self.mde,
            "design": self.design,
            "details": self.details,
        }
        if self.matched is not None:
            out["matching"] = self.matched.to_dict()
        if self.effect is not None:
            out["effect"] = self.effect.to_dict()
        if self.risk is not None:
            out["baseline_risk"] = self.risk.reset_index().to_dict(orient="records")
        if self.dropped is not None:
            out["dropped_profile"] = self.dropped.reset_index().to_dict(orient="records")
        out["sensitivity"] = self.sensitivity
        return out


@dataclass(frozen=True)
class Evaluation:
    """A whole evaluation: validated data, per-cohort results, the pooled effect and the payment schedule."""

    contract: Contract
    data: EvaluationData | None
    outcome: str
    cohorts: tuple[CohortResult, ...]
    pooled: EffectEstimate | None
    schedule: PaymentSchedule
    payment_risk: Any = None
    parameters: dict[str, Any] = field(default_factory=dict)
    inputs: tuple[Path, ...] = ()
    did: "DidEvaluation | None" = None

    @property
    def design(self) -> str:
        """The counterfactual design: ``"psm"`` (matched cohorts) or ``"did"`` (staggered adoption)."""
        return "did" if self.did is not None else "psm"

    def cohort(self, name: str) -> CohortResult:
        """The result for the contract cohort ``name``."""
        for c in self.cohorts:
            if c.name == name:
                return c
        raise SopEvalError(f"no cohort {name!r}; cohorts: {examples([c.name for c in self.cohorts])}.")

    def headline(self) -> pd.DataFrame:
        """Per cohort and pooled: outcome per 100 treated and comparison, reduction with CI, gate, payment.

        Where a gate on the relative reduction applies, ``reduction`` and its interval are the gate's own
        figures (for the pooled row, the cohort-size-weighted mean of the cohort reductions, as the contract
        pools them); otherwise they are ``-relative`` of the estimate.
        """
        rows = []
        for c in self.cohorts:
            line = _line_for(self.schedule, self.outcome, c.name)
            rows.append(_headline_row(c.name, c.effect, line.decision if line else None, line, c.status_text))
        if self.pooled is not None:
            line = _line_for(self.schedule, self.outcome, None)
            decision = line.decision if line is not None else None
            rows.append(_headline_row("pooled", self.pooled, decision, line, "measured"))
        return pd.DataFrame(rows)

    def summary(self) -> pd.DataFrame:
        """The effect estimates, one row per measured cohort and the pooled result (Justice Data Lab layout)."""
        parts = [c.effect.summary() for c in self.cohorts if c.effect is not None]
        if self.pooled is not None:
            parts.append(self.pooled.summary())
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()

    def to_dict(self) -> dict[str, Any]:
        """Every figure of the evaluation, JSON-safe and deterministic (the content of ``results.json``)."""
        return {
            "contract": self.contract.to_dict(),
            "outcome": self.outcome,
            "design": self.design,
            "data": None if self.data is None else {k: v for k, v in self.data.to_dict().items() if k != "source"},
            "did": None if self.did is None else self.did.to_dict(),
            "parameters": self.parameters,
            "cohorts": [c.to_dict() for c in self.cohorts],
            "pooled": None if self.pooled is None else self.pooled.to_dict(),
            "headline": self.headline().to_dict(orient="records"),
            "payments": self.schedule.to_dict(),
            "payment_risk": None if self.payment_risk is None else self.payment_risk.to_dict(),
        }


@dataclass(frozen=True)
class DidEvaluation:
    """The staggered-adoption fit behind a difference-in-differences evaluation, and its diagnostics."""

    att_gt: Any
    by_group: Any
    dynamic: Any
    pretrend: Any
    means: pd.DataFrame
    units: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe record: ATT(g,t), the group and event-time aggregates, the pre-trend test, unit counts."""
        return {
            "att_gt": self.att_gt.to_dict(),
            "by_group": self.by_group.to_dict(),
            "dynamic": self.dynamic.to_dict(),
            "pretrend": None if self.pretrend is None else self.pretrend.summary().to_dict(orient="records")[0],
            "units": self.units,
        }


def _line_for(schedule: PaymentSchedule, outcome: str, cohort: str | None) -> Any:
    for line in schedule.lines:
        if line.outcome != outcome:
            continue
        if cohort is None and line.kind == "pooled catch-up":
            return line
        if cohort is not None and line.cohort == cohort:
            return line
    return None


def _headline_row(name: str, est: EffectEstimate | None, decision: Any, line: Any, status: str) -> dict[str, Any]:
    row: dict[str, Any] = {"cohort": name, "status": status}
    if est is not None:
        lo, hi = est.relative_conf_int()
        if est.design == "did":
            row.update(treated_mean=est.treated_mean, comparison_mean=est.comparison_mean)
        else:
            row.update(treated_per_100=100 * est.treated_mean, comparison_per_100=100 * est.comparison_mean)
        row.update(
            n_treated=est.n_treated,
            reduction=-est.relative,
            reduction_ci_low=-hi,
            reduction_ci_high=-lo,
            p_value=est.p_value,
        )
    if decision is not None:
        row.update(gate=float(decision.threshold), gate_met=bool(decision.met), gate_measure=float(decision.value))
        if decision.measure == "relative_reduction" and decision.ci_low is not None:
            # the contractual figure: for a pooled gate, the cohort-size-weighted mean of the cohort reductions
            row.update(reduction=float(decision.value), reduction_ci_low=float(decision.ci_low),
                       reduction_ci_high=float(decision.ci_high))
    if line is not None:
        row.update(payment=float(line.amount), payment_status=line.status)
    return row


# -- loading -------------------------------------------------------------------------------------------
def _load_data(contract: Contract, data: pd.DataFrame | None) -> tuple[pd.DataFrame, tuple[Path, ...]]:
    if data is not None:
        if not isinstance(data, pd.DataFrame):
            raise SopEvalError(f"data must be a pandas DataFrame, got {type(data).__name__}.")
        return data, ()
    settings = contract.data
    if settings is None or settings.participants is None:
        raise SopEvalError(
            f"contract '{contract.source}' has no [data] participants file; add `[data] participants = "
            "\"people.csv\"` (relative to the contract) or pass data= to evaluate()."
        )
    roles = settings.column_roles()
    frames, paths = [], []
    for path, treated in ((settings.participants, 1), (settings.comparison_pool, 0)):
        if path is None:
            continue
        frame = read_table(path)
        if settings.comparison_pool is not None and roles.treatment not in frame.columns:
            frame = frame.assign(**{roles.treatment: treated})
        frames.append(frame)
        paths.append(Path(path))
    combined = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    return combined, tuple(paths)


def _settings(contract: Contract) -> Any:
    if contract.evaluation is None:
        raise SopEvalError(
            f"contract '{contract.source}' has no [evaluation] section; add one naming the design, the outcome and "
            "the matching settings (see fixtures/contracts/peterborough.toml)."
        )
    ev = contract.evaluation
    if ev.design not in ("psm", "did"):
        raise SopEvalError(
            f"contract '{contract.source}': [evaluation] design = {ev.design!r}; the end-to-end evaluation runs "
            "matched cohorts ('psm') and staggered difference-in-differences ('did'). Estimate other designs "
            "yourself (e.g. sop_eval.effects.versus_baseline) and pay them with `sop-eval pay --estimates`."
        )
    return ev


def _assign_cohorts(frame: pd.DataFrame, roles: ColumnRoles, contract: Contract) -> pd.Series:
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
    unknown = sorted({str(v) for v, m in zip(values[frame[roles.treatment] == 1], mapped[frame[roles.treatment] == 1]) if m is None})
    if unknown:
        raise SopEvalError(
            f"cohort column '{roles.cohort}' has value(s) {examples(unknown)} among the treated that name no contract "
            f"cohort ({examples(sorted(names))}); name the cohorts alike or give them entry windows."
        )
    return mapped


# -- the evaluation --------------------------------------------------------------------------------------
def evaluate(
    contract: Contract | str | Path,
    data: pd.DataFrame | None = None,
    *,
    seed: int = DEFAULT_SEED,
    as_of: dt.date | str | None = None,
    progress: bool | None = None,
    risk_draws: int = 100_000,
) -> Evaluation:
    """Run the evaluation ``contract`` describes on ``data`` (default: the files its [data] section names).

    Validates the data; assigns each row to a contract cohort (by entry window on the index date, or by
    the cohort column); for every cohort whose outcome window has closed by the extract date, matches
    the people served to the comparison pool of the same cohort (propensity score matching with the
    contract's settings), checks balance and baseline risk, estimates the effect on the contract's
    outcome with the named standard error, then pools the cohorts (cohort-size weights), applies the
    gates and computes the payments ``as_of`` a date. ``seed`` fixes every random step.
    """
    if not isinstance(contract, Contract):
        contract = load_contract(contract)
    ev = _settings(contract)
    frame, inputs = _load_data(contract, data)
    if ev.design == "did":
        return _evaluate_did(contract, ev, frame, inputs, seed=seed, as_of=as_of, risk_draws=risk_draws)
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
    checked = validate(frame, roles, extract_date=extract, follow_up_months=follow_up, court_lag_months=lag)
    work = checked.frame.assign(**{COHORT_COLUMN: _assign_cohorts(checked.frame, roles, contract)})
    outside = work[COHORT_COLUMN].isna()
    n_outside_treated = int((outside & (work[roles.treatment] == 1)).sum())
    if n_outside_treated:
        warnings.warn(
            f"{n_outside_treated} treated row(s) fall in no contract cohort (outside every entry window, or a cohort "
            "value the contract does not name); they are left out of the evaluation.",
            SopEvalWarning,
            stacklevel=2,
        )

    m = ev.matching
    if m.method != "nearest" or m.distance not in ("glm", "logit") or m.caliper_scale == "covariates":
        raise SopEvalError(
            f"contract '{contract.source}': [evaluation.matching] asks for method = {m.method!r}, distance = "
            f"{m.distance!r}, caliper_scale = {m.caliper_scale!r}; the evaluation matches by nearest neighbour on a "
            "logistic propensity score (method = \"nearest\", distance = \"glm\", caliper_scale = \"logit\" or "
            "\"propensity\"). Change those keys, or match with sop_eval.match and pay with `sop-eval pay`."
        )
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
        },
        "follow_up_months": follow_up,
        "court_lag_months": lag,
        "extract_date": None if extract is None else extract.date().isoformat(),
        "risk_draws": int(risk_draws),
        "rows_outside_cohorts": {"treated": n_outside_treated, "comparison": int((outside & (work[roles.treatment] == 0)).sum())},
    }

    results = []
    bar = tqdm(contract.cohorts, desc="cohorts", unit="cohort", disable=_quiet(progress), leave=False)
    for index, cohort in enumerate(bar):
        rows = work[work[COHORT_COLUMN] == cohort.name]
        treated_rows = rows[rows[roles.treatment] == 1]
        n_t, n_p = len(treated_rows), int((rows[roles.treatment] == 0).sum())
        last = cohort.entry_end or (treated_rows[roles.index_date].max().date() if n_t and roles.index_date else None)
        closes = None if last is None else add_months(last, cohort.follow_up_months + cohort.court_lag_months)
        if n_t == 0:
            results.append(CohortResult(cohort.name, "no treated people", closes, 0, n_p))
            continue
        if extract is not None and closes is not None and closes > extract.date():
            results.append(CohortResult(cohort.name, "not yet measurable", closes, n_t, n_p))
            continue
        results.append(_measure(cohort.name, rows, roles, outcome, ev, m, exact, distance, closes, seed + index))

    measured = [c.effect for c in results if c.effect is not None]
    pooled = None
    outcome_terms = next((o for o in contract.outcomes if o.name == outcome), None)
    if len(measured) > 1 and outcome_terms is not None and outcome_terms.pooled is not None:
        from sop_eval.effects import pool

        members = [c.effect for c in results if c.effect is not None and c.name in outcome_terms.pooled.cohorts]
        if len(members) == len(outcome_terms.pooled.cohorts):
            pooled = pool(members, weights="n", label="pooled")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SopEvalWarning)
        schedule = calculate(contract, estimates=measured, as_of=as_of)
    payment_risk = _payment_risk(contract, measured, risk_draws, seed)
    return Evaluation(
        contract=contract, data=checked, outcome=outcome, cohorts=tuple(results), pooled=pooled,
        schedule=schedule, payment_risk=payment_risk, parameters=parameters, inputs=inputs,
    )


def _quiet(progress: bool | None) -> bool | None:
    # tqdm: None disables the bar when output is not a terminal (CI, notebooks, pipes)
    return None if progress is None else not progress


def _measure(
    name: str, rows: pd.DataFrame, roles: ColumnRoles, outcome: str, ev: Any, m: Any, exact: Sequence[str],
    distance: str, closes: dt.date | None, seed: int,
) -> CohortResult:
    from sop_eval import match
    from sop_eval.cohorts.risk import prognostic_score
    from sop_eval.effects.matched import infer_kind

    covariates = list(roles.covariates)
    kind = infer_kind(rows[outcome].dropna())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SopEvalWarning)
        matched = match(
            rows, roles.treatment, covariates, method=m.method, distance=distance, ratio=m.ratio, replace=m.replace,
            caliper=None if m.caliper is None else float(m.caliper), exact=list(exact), seed=seed,
        )
    effect = matched.effect(outcome, kind=kind, se=ev.se, level=ev.level, seed=seed, label=name)
    risk_score = prognostic_score(rows, outcome, covariates, roles.treatment, kind=kind)
    n_t = int((rows[roles.treatment] == 1).sum())
    return CohortResult(
        name=name, status="measured", window_closes=closes, n_treated=n_t,
        n_pool=int((rows[roles.treatment] == 0).sum()), matched=matched, effect=effect,
        risk=matched.compare_risk(risk_score), dropped=matched.dropped_profile(risk_score),
        sensitivity=_sensitivity(matched, outcome, effect), mde=_mde(effect, matched, rows, outcome, roles, kind),
    )


def _sensitivity(matched: Any, outcome: str, effect: EffectEstimate) -> dict[str, Any]:
    from sop_eval.effects.sensitivity import e_value, pair_differences, rosenbaum_bounds

    out: dict[str, Any] = {}
    try:
        out["rosenbaum"] = rosenbaum_bounds(pair_differences(matched, outcome)).to_dict()
    except SopEvalError as exc:
        out["rosenbaum"] = {"not_computed": str(exc)}
    try:
        out["e_value"] = e_value(effect).to_dict()
    except SopEvalError as exc:
        out["e_value"] = {"not_computed": str(exc)}
    return out


def _mde(effect: EffectEstimate, matched: Any, rows: pd.DataFrame, outcome: str, roles: ColumnRoles, kind: str) -> float | None:
    if kind not in ("count", "binary"):
        return None
    from sop_eval.power import dispersion_from_pilot, mde

    pool_values = rows.loc[rows[roles.treatment] == 0, outcome].dropna()
    ratio = max(1.0, effect.n_comparison / max(effect.n_treated, 1))
    dispersion = dispersion_from_pilot(pool_values) if kind == "count" else 1.0
    value = mde(n_treated=effect.n_treated, baseline_mean=effect.comparison_mean, ratio=ratio, kind=kind,
                dispersion=dispersion)
    return None if not np.isfinite(value) else float(value)


def _payment_risk(contract: Contract, estimates: Sequence[EffectEstimate], draws: int, seed: int) -> Any:
    if not estimates or draws <= 0:
        return None
    try:
        from sop_eval.finance import payment_risk
    except ImportError:
        return None
    return payment_risk(contract, estimates, n_draws=draws, seed=seed)


# -- difference-in-differences -------------------------------------------------------------------------
def _evaluate_did(
    contract: Contract, ev: Any, frame: pd.DataFrame, inputs: tuple[Path, ...], *, seed: int,
    as_of: dt.date | str | None, risk_draws: int,
) -> Evaluation:
    """A staggered roll-out: Callaway–Sant'Anna ATT(g,t) on the panel, one contract cohort per adoption group.

    Each cohort's effect is the group aggregate (the mean of its post-treatment ATT(g,t), per area and
    period) with its standard error; its ``n_treated`` counts the cohort's area-periods after adoption,
    so the units attributable (``-estimate × n_treated``) are the total avoided over the window. The
    pooled effect is the group aggregate over all cohorts, weighted by cohort size.
    """
    from sop_eval.did import att_gt, raw_means, to_effect_estimate

    settings = contract.data
    cols = settings.panel_columns() if settings is not None else {}
    missing = [k for k in ("unit", "time", "group") if k not in cols]
    if missing:
        raise SopEvalError(
            f"contract '{contract.source}': a difference-in-differences evaluation needs [data.columns] "
            f"{', '.join(missing)} (the area, the period and the first treated period, 0 for never)."
        )
    roles = settings.column_roles()
    outcome = ev.outcome or (roles.outcomes[0] if roles.outcomes else None)
    if outcome is None:
        raise SopEvalError(f"contract '{contract.source}': name the outcome in [evaluation] outcome = \"...\".")
    unit, time, group = cols["unit"], cols["time"], cols["group"]
    covariates = list(roles.covariates) or None
    require_columns([unit, time, group, outcome, *(covariates or [])], frame.columns,
                    f"data for contract '{contract.source}'")
    no_group = [c.name for c in contract.cohorts if c.group is None]
    if no_group:
        raise SopEvalError(
            f"contract '{contract.source}': cohort(s) {examples(no_group)} have no `group`; in a difference-in-"
            "differences evaluation each [[cohorts]] names its first treated period, e.g. group = 4."
        )
    d = ev.did
    fit = att_gt(frame, outcome, unit, time, group, control=d.control, covariates=covariates, method=d.method,
                 anticipation=d.anticipation, base_period=d.base_period, se=d.se, n_boot=d.n_boot, seed=seed,
                 alpha=1 - ev.level)
    by_group = fit.aggregate("group")
    unit_group = frame.groupby(unit)[group].first().fillna(0)
    last = frame[time].max()
    estimated = {int(g): (float(a), float(se)) for g, a, se in zip(by_group.labels, by_group.att, by_group.se)}
    results = []
    for cohort in contract.cohorts:
        g = int(cohort.group)
        n_units = int((unit_group == g).sum())
        comparison = (unit_group == 0) | ((unit_group > g) if d.control == "not_yet" else False)
        n_comp = int(comparison.sum())
        info: dict[str, Any] = {"group": g, "areas": n_units}
        if n_units == 0:
            results.append(CohortResult(cohort.name, "no treated people", None, 0, n_comp, design="did", details=info))
            continue
        if g > last:
            results.append(CohortResult(cohort.name, "not yet measurable", None, n_units, n_comp, design="did",
                                        details=info))
            continue
        if g not in estimated:
            raise SopEvalError(
                f"no effect could be estimated for cohort {cohort.name!r} (group {g}); see the warnings about its cells."
            )
        att, se = estimated[g]
        post = (fit.group == g) & (fit.time >= g)
        periods = int(post.sum())
        treated_mean = float(np.mean(fit.treated_mean[post]))
        info.update(post_periods=periods, per="area and period")
        effect = EffectEstimate(
            estimate=att, se=se, treated_mean=treated_mean, comparison_mean=treated_mean - att,
            n_treated=n_units * periods, n_comparison=n_comp, outcome=outcome, kind="continuous", design="did",
            method=f"att_gt group aggregate ({d.method}, {d.control} controls, {d.se} SE)", label=cohort.name,
            level=ev.level, details=info,
        )
        results.append(CohortResult(cohort.name, "measured", None, n_units * periods, n_comp, effect=effect,
                                    design="did", details=info))
    measured = [c.effect for c in results if c.effect is not None]
    pooled = None
    terms = next((o for o in contract.outcomes if o.name == outcome), None)
    if terms is not None and terms.pooled is not None and len(measured) == len(terms.pooled.cohorts) > 1:
        from dataclasses import replace

        pooled = replace(to_effect_estimate(by_group, label="pooled", outcome=outcome, level=ev.level),
                         n_treated=sum(e.n_treated for e in measured))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SopEvalWarning)
        schedule = calculate(contract, estimates=measured, as_of=as_of)
    pretrend = fit.pretrend_test() if (fit.time < fit.group).any() else None
    did = DidEvaluation(
        att_gt=fit, by_group=by_group, dynamic=fit.aggregate("dynamic"), pretrend=pretrend,
        means=raw_means(frame, outcome, time, group),
        units={"treated": int((unit_group > 0).sum()), "never_treated": int((unit_group == 0).sum())},
    )
    parameters = {
        "seed": int(seed), "as_of": None if as_of is None else str(as_of), "outcome": outcome, "design": "did",
        "level": ev.level, "risk_draws": int(risk_draws),
        "did": {"unit": unit, "time": time, "group": group, "covariates": covariates or [], "control": d.control,
                "method": d.method, "anticipation": d.anticipation, "base_period": d.base_period, "se": d.se,
                "n_boot": d.n_boot},
    }
    return Evaluation(
        contract=contract, data=None, outcome=outcome, cohorts=tuple(results), pooled=pooled, schedule=schedule,
        payment_risk=_payment_risk(contract, measured, risk_draws, seed), parameters=parameters, inputs=inputs,
        did=did,
    )


# -- writing a run -------------------------------------------------------------------------------------
def run(
    contract: str | Path,
    out: str | Path,
    *,
    seed: int = DEFAULT_SEED,
    as_of: dt.date | str | None = None,
    progress: bool | None = None,
    risk_draws: int = 100_000,
    policy: Any = None,
) -> Evaluation:
    """Evaluate ``contract`` and write ``results.json``, ``report.html``, ``figures/`` and ``audit.json`` into ``out``.

    Everything is built in a temporary directory next to ``out`` and moved into place only when the
    whole run has succeeded, so an interrupted run leaves no half-written output.
    """
    from sop_eval.audit import write_audit
    from sop_eval.outputs import atomic_directory, dumps
    from sop_eval.report.disclosure import DEFAULT_POLICY
    from sop_eval.report.evaluation_report import build_report

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise SopEvalError(f"output '{out}' exists and is not a directory; name a directory for the results.")
    contract_path = Path(contract).resolve()
    if not contract_path.is_file():
        raise SopEvalError(f"contract file '{contract}' does not exist; give the path of a contract .toml file.")
    policy = policy or DEFAULT_POLICY
    evaluation = evaluate(contract_path, seed=seed, as_of=as_of, progress=progress, risk_draws=risk_draws)
    results_text = dumps(evaluation.to_dict())
    html, figures, protected = build_report(evaluation, policy)
    with atomic_directory(out) as staging:
        (staging / "results.json").write_text(results_text, encoding="utf-8")
        (staging / "report.html").write_text(html, encoding="utf-8")
        (staging / "figures").mkdir()
        for fig in figures:
            (staging / "figures" / fig.name).write_bytes(fig.png)
        write_audit(staging / "audit.json", contract_path, evaluation, results_text, protected, policy, out)
    return evaluation
