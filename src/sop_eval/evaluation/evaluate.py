"""The one orchestrator: contract + data → comparison cohorts → effects → gates → payments.

:func:`evaluate` runs the evaluation a contract describes and returns an :class:`Evaluation`;
:func:`run` also writes ``results.json``, ``report.html``, ``figures/`` and ``audit.json`` into a
directory, atomically.
"""

from __future__ import annotations

import datetime as dt
import warnings
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from sop_eval.data import ColumnRoles, read_table, validate
from sop_eval.effects.estimate import EffectEstimate
from sop_eval.errors import SopEvalError, SopEvalWarning, examples, require_columns
from sop_eval.evaluation import CohortResult, DidEvaluation, Evaluation
from sop_eval.payments import Contract, calculate, load_contract
from sop_eval.payments.contract import add_months

COHORT_COLUMN = "_contract_cohort"
DEFAULT_SEED = 20100909


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
