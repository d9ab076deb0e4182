"""Staggered difference-in-differences: Callaway–Sant'Anna ATT(g,t) on an area panel, one cohort per wave.

Each cohort's effect is the group aggregate (the mean of its post-treatment ATT(g,t), per area and
period) with its standard error; its ``n_treated`` counts the cohort's area-periods after adoption,
so the units attributable (``-estimate × n_treated``) are the total avoided over the window. The
pooled result (formed by :func:`sop_eval.evaluation.evaluate`, as for every design) is all cohorts
together, weights ``n_treated``; its standard error treats the waves as independent although they
share comparison areas.
"""

from __future__ import annotations

import datetime as dt
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from sop_eval.contract import Cohort, Contract
from sop_eval.contract.vocabulary import EVALUATION_DESIGNS
from sop_eval.designs.base import CohortResult, Prepared, ReportKit
from sop_eval.did import att_gt, raw_means
from sop_eval.did.honest import HonestResult, event_study_inputs, honest_did, post_weights
from sop_eval.effects.estimate import EffectEstimate
from sop_eval.effects.pooling import pool_cohorts
from sop_eval.errors import SopEvalError, SopEvalWarning, examples, require_columns
from sop_eval.stats.estimate import percent

METHODS = (
    "Counterfactual: difference-in-differences across areas that adopt the service at different times "
    "(Callaway and Sant'Anna 2021, as the R package did): each adoption wave is compared, period by period, "
    "with comparison areas, using {did}.",
    "Effects: each contract cohort is one adoption wave; its effect is the mean of its post-treatment ATT(g,t) "
    "(per area and period); the units attributable are that effect times the wave's area-periods after "
    "adoption. The pooled result takes all waves together, weighted by their area-periods after adoption. "
    "The relative change is the "
    "effect over the counterfactual mean (treated mean minus effect), its interval by the delta method. "
    "{significance}.",
    "Diagnostics: the Wald test over pre-treatment ATT(g,t) checks parallel pre-trends; the event study shows "
    "effects by time since adoption with a uniform band from the multiplier bootstrap.{honest}",
    "Gates: each gate is decided on the unrounded point estimate; the statistical test is shown beside it and "
    "decides nothing unless the contract requires significance.",
    "Payment risk: effects are drawn from each estimate's normal sampling distribution and passed through the "
    "contract's gates, caps and payer shares.",
    "Disclosure control: {policy}. The data are area-level; no identifiers or person-level rows appear.",
)

ESTIMATORS = {"dr": "doubly robust", "ipw": "inverse probability weighting", "reg": "outcome regression"}
HONEST_METHODS = (
    " Sensitivity to parallel trends (HonestDiD, Rambachan and Roth 2023, as the R package HonestDiD): robust "
    "confidence sets for the event study's {targets} when post-treatment departures from parallel trends are "
    "bounded — {restrictions}. The breakdown value is the smallest bound at which the robust set includes zero, "
    "searched on a grid whose step the report states."
)
HONEST_WORDS = {
    "relative_magnitudes": "by relative magnitudes (each post-treatment change in the departure at most Mbar times "
                           "the largest change between consecutive pre-treatment periods; conditional least-favourable "
                           "hybrid sets)",
    "smoothness": "by smoothness (the departure's slope changes by at most M from one period to the next, M in "
                  "outcome units per period squared; fixed-length intervals)",
}


def honest_sensitivity_of(dynamic: Any, settings: Any, level: float) -> tuple[tuple[HonestResult, ...], str | None]:
    """The HonestDiD results a contract asks for on the event study ``dynamic`` (``[evaluation.did] honest``,
    ``honest_target``, ``honest_mbar``, ``honest_m``), and why there are none when the event study cannot have
    them (no pre-treatment estimate)."""
    if settings.honest == "none":
        return (), None
    try:
        b, V, n_pre, n_post = event_study_inputs(dynamic)
        if n_post < 1:
            raise SopEvalError("the event study has no post-treatment estimate yet.")
        post_weights(dynamic, "average")  # refuses an event study with anticipation periods only
    except SopEvalError as exc:
        return (), f"HonestDiD sensitivity is not available: {exc}"
    restrictions = ("relative_magnitudes", "smoothness") if settings.honest == "both" else (settings.honest,)
    choices: dict[str, tuple[int | str, ...]] = {"average": ("average",), "first": (0,), "both": ("average", 0)}
    targets = choices[settings.honest_target]
    out = []
    for restriction in restrictions:
        bounds = settings.honest_mbar if restriction == "relative_magnitudes" else settings.honest_m
        grid = sorted({float(m) for m in bounds}) or None
        for target in targets:
            weights, label = post_weights(dynamic, target)  # anticipation periods: post-treatment, no weight
            with warnings.catch_warnings():  # a set open at the grid's end is marked in the report's table instead
                warnings.filterwarnings("ignore", "HonestDiD: the robust set is open", SopEvalWarning)
                out.append(honest_did(b, V, n_pre, n_post, restriction=restriction, grid=grid, target=weights,
                                      level=level, target_label=label))
    return tuple(out), None


def _honest_record(r: HonestResult) -> dict[str, Any]:
    grid_end = 20 * r.se if r.restriction == "relative_magnitudes" else None
    return {**r.to_dict(), "breakdown_found": bool(np.isfinite(r.breakdown)), "grid_end": grid_end}


@dataclass(frozen=True)
class DidEvaluation:
    """The staggered-adoption fit behind a difference-in-differences evaluation, and its diagnostics."""

    att_gt: Any
    by_group: Any
    dynamic: Any
    pretrend: Any
    means: pd.DataFrame
    units: dict[str, int]
    honest: tuple[HonestResult, ...] = ()
    honest_note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe record: ATT(g,t), the group and event-time aggregates, the pre-trend test, unit counts and the
        HonestDiD sensitivity (robust sets by bound, breakdown value; ``breakdown_found`` false when no bound up to
        four times the largest reported includes zero)."""
        return {
            "att_gt": self.att_gt.to_dict(),
            "by_group": self.by_group.to_dict(),
            "dynamic": self.dynamic.to_dict(),
            "pretrend": None if self.pretrend is None else self.pretrend.summary().to_dict(orient="records")[0],
            "units": self.units,
            "honest": [_honest_record(r) for r in self.honest],
            "honest_note": self.honest_note,
        }

    def __repr__(self) -> str:
        return (f"DidEvaluation(groups={len(self.by_group.labels)}, treated units={self.units['treated']}, "
                f"never treated={self.units['never_treated']})")


@dataclass(frozen=True)
class _State:
    fit: Any
    estimated: dict[int, tuple[float, float]]
    unit_group: pd.Series
    last: Any
    settings: Any
    periods: tuple[float, ...] = ()


class DidDesign:
    """Staggered adoption across areas (``[evaluation] design = "did"``)."""

    name = "did"
    title = "staggered difference-in-differences"
    contract_keys, data_columns = EVALUATION_DESIGNS["did"]

    def prepare(self, contract: Contract, frame: pd.DataFrame, *, seed: int, as_of: dt.date | str | None,
                risk_draws: int) -> Prepared:
        """Check the panel columns and the cohorts' groups, and fit ATT(g,t) once on the whole panel."""
        ev = contract.evaluation
        assert ev is not None  # evaluate() refuses a contract without [evaluation]
        settings = contract.data
        cols = settings.panel_columns() if settings is not None else {}
        missing = [k for k in ("unit", "time", "group") if k not in cols]
        if settings is None or missing:
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
        unit_group = _adoption_by_area(contract, frame, unit, group)
        fit = att_gt(frame, outcome, unit, time, group, control=d.control, covariates=covariates, method=d.method,
                     anticipation=d.anticipation, base_period=d.base_period, se=d.se, n_boot=d.n_boot, seed=seed,
                     level=ev.level)
        by_group = fit.aggregate("group")
        estimated = {int(g): (float(a), float(se))
                     for g, a, se in zip(by_group.labels, by_group.att, by_group.row_se, strict=True)}
        pretrend = fit.pretrend_test() if (fit.time < fit.group).any() else None
        dynamic = fit.aggregate("dynamic")
        honest, honest_note = honest_sensitivity_of(dynamic, d, ev.level)
        design_fit = DidEvaluation(
            att_gt=fit, by_group=by_group, dynamic=dynamic, pretrend=pretrend,
            means=raw_means(frame, outcome, time, group),
            units={"treated": int((unit_group > 0).sum()), "never_treated": int((unit_group == 0).sum())},
            honest=honest, honest_note=honest_note,
        )
        parameters = {
            "seed": int(seed), "as_of": None if as_of is None else str(as_of), "outcome": outcome, "design": "did",
            "level": ev.level, "risk_draws": int(risk_draws),
            "did": {"unit": unit, "time": time, "group": group, "covariates": covariates or [], "control": d.control,
                    "method": d.method, "anticipation": d.anticipation, "base_period": d.base_period, "se": d.se,
                    "n_boot": d.n_boot, "honest": d.honest, "honest_target": d.honest_target,
                    "honest_mbar": [float(m) for m in d.honest_mbar], "honest_m": [float(m) for m in d.honest_m]},
        }
        state = _State(fit=fit, estimated=estimated, unit_group=unit_group,
                       last=frame[time].max(), settings=ev,
                       periods=tuple(sorted(float(t) for t in frame[time].dropna().unique())))
        return Prepared(outcome=outcome, parameters=parameters, fit=design_fit, state=state)

    def measure(self, cohort: Cohort, prepared: Prepared, *, seed: int) -> CohortResult:
        """The cohort's adoption wave: the mean of its post-treatment ATT(g,t), once its first period is in the data."""
        s: _State = prepared.state
        d = s.settings.did
        assert cohort.group is not None  # prepare() refuses cohorts without a group
        g = int(cohort.group)
        n_units = int((s.unit_group == g).sum())  # at least one: prepare() refuses a group no area adopts in
        comparison = (s.unit_group == 0) | ((s.unit_group > g) if d.control == "not_yet" else False)
        n_comp = int(comparison.sum())
        info: dict[str, Any] = {"group": g, "areas": n_units}
        if g > s.last:
            return CohortResult(cohort.name, "not yet measurable", None, n_units, n_comp, design="did", details=info,
                                first_measurable=f"when period {g} is in the data")
        if g not in s.estimated:
            raise SopEvalError(
                f"no effect could be estimated for cohort {cohort.name!r} (group {g}); see the warnings about its "
                "cells."
            )
        att, se = s.estimated[g]
        fit = s.fit
        post = (fit.group == g) & (fit.time >= g)
        periods = int(post.sum())
        treated_mean = float(np.mean(fit.treated_mean[post]))
        info.update(post_periods=periods, per="area and period")
        effect = EffectEstimate(
            estimate=att, se=se, treated_mean=treated_mean, comparison_mean=treated_mean - att,
            n_treated=n_units * periods, n_comparison=n_comp, outcome=prepared.outcome, kind="continuous",
            design="did", method=f"att_gt group aggregate ({d.method}, {d.control} controls, {d.se} SE)",
            label=cohort.name, level=s.settings.level, details=info,
        )
        return CohortResult(cohort.name, "measured", None, n_units * periods, n_comp, effect=effect, design="did",
                            details=info)

    def check_panel(self, contract: Contract, prepared: Prepared, policy: Any) -> tuple[pd.DataFrame, list[str]]:
        """What ``sop-eval check`` shows of the panel, estimating nothing: per cohort its first treated period,
        areas adopting then, comparison areas, periods before adoption (less anticipation) and after; and a note
        on the never-treated areas and the periods in the data. Area counts follow the disclosure ``policy``."""
        s: _State = prepared.state
        d = s.settings.did

        def shown(n: int) -> str:
            if n == 0:
                return "0"
            return f"fewer than {policy.threshold + 1}" if n <= policy.threshold else f"{policy.round_count(n):,}"

        rows = []
        for c in contract.cohorts:
            g = float(c.group) if c.group is not None else math.nan
            comparison = (s.unit_group == 0) | ((s.unit_group > g) if d.control == "not_yet" else False)
            rows.append({
                "cohort": c.name, "first treated period": f"{g:g}", "areas": shown(int((s.unit_group == g).sum())),
                "comparison areas": shown(int(comparison.sum())),
                "pre-treatment periods": sum(t < g - d.anticipation for t in s.periods),
                "post-treatment periods": sum(t >= g for t in s.periods),
            })
        never = int((s.unit_group == 0).sum())
        span = f"{s.periods[0]:g} to {s.periods[-1]:g}" if s.periods else "none"
        notes = [f"{shown(never)} never-treated area(s); {len(s.periods)} periods in the data ({span})"
                 + (f"; the {d.anticipation} period(s) before each adoption are anticipation, not pre-treatment"
                    if d.anticipation else "") + "."]
        return pd.DataFrame(rows), notes

    def pool(self, cohorts: Sequence[CohortResult], prepared: Prepared, *, label: str) -> EffectEstimate:
        """All ``cohorts`` together: the ``n_treated``-weighted mean of their group effects (as
        :func:`~sop_eval.effects.pooling.pool_cohorts`), its standard error from the covariance of the group
        effects — the waves share comparison areas, so their estimates are correlated. The covariance is the
        influence functions' (rescaled to the reported standard errors when they are bootstrapped)."""
        by_group = prepared.fit.by_group
        pooled = pool_cohorts([c.effect for c in cohorts if c.effect is not None], label=label)
        rows = [int(np.flatnonzero(by_group.labels == c.details["group"])[0]) for c in cohorts]
        vcov = np.asarray(by_group.vcov, dtype=float)[np.ix_(rows, rows)]
        sd = np.sqrt(np.diag(vcov))
        se = np.asarray(by_group.row_se, dtype=float)[rows]
        with np.errstate(divide="ignore", invalid="ignore"):
            corr = np.where(np.outer(sd, sd) > 0, vcov / np.outer(sd, sd), np.eye(len(rows)))
        w = np.asarray(pooled.details["pool_weights"], dtype=float)
        cov = np.outer(se, se) * corr
        combined = float(np.sqrt(max(float(w @ cov @ w), 0.0)))
        details = {**pooled.details, "se_from": "covariance of the group effects (shared comparison areas)",
                   "cohort_covariance": cov.tolist()}
        return replace(pooled, se=combined, details=details)

    def report_sections(self, evaluation: Any, kit: ReportKit) -> list[Any]:
        """The panel and its adoption waves; parallel trends, the event study and the ATT(g,t)."""
        did = evaluation.fit
        p = evaluation.parameters["did"]
        waves = pd.DataFrame([{"cohort": k.name, "first treated period": k.details.get("group"),
                               "status": k.status_text, "areas": k.details.get("areas", 0),
                               "comparison areas": k.n_pool, "post-treatment periods": k.details.get("post_periods")}
                              for k in evaluation.cohorts])
        areas = kit.protect(waves, ["areas", "comparison areas"], name="adoption waves")
        figures = [
            kit.figure("parallel_trends.png", "Mean outcome by adoption wave and period (0: never treated); dotted "
                       "lines mark adoption", "parallel_trends_plot", did.means, size=(6.4, 3.8)),
            kit.figure("event_study.png", "Effect by time since adoption (event study) with pointwise "
                       f"{percent(did.dynamic.level)} intervals and a uniform band", "event_study_plot", did.dynamic,
                       size=(6.4, 3.8)),
        ]
        pre = did.pretrend
        paragraphs = [
            f"{did.units['treated']:,} areas adopt the service and {did.units['never_treated']:,} never do "
            "(counts of areas, not people). Comparison: "
            + ("areas not yet treated and never treated." if p["control"] == "not_yet" else "areas never treated."),
        ]
        if pre is not None:
            verdict = ("no evidence against parallel pre-trends" if pre.p_value >= 0.05
                       else "evidence against parallel pre-trends")
            paragraphs.append(f"Pre-trend Wald test over the pre-treatment ATT(g,t): χ² = {pre.statistic:.2f} on "
                              f"{pre.df} degrees of freedom, p = {pre.p_value:.3f} — {verdict}.")
        att = kit.estimates(did.att_gt.summary())
        sections = [
            kit.section("Panel and adoption", paragraphs=tuple(paragraphs), tables=(("Adoption waves", areas.table),)),
            kit.section("Parallel trends and event study", tables=(("ATT(g,t)", att),), figures=tuple(figures)),
        ]
        if did.honest or did.honest_note:
            sections.append(_honest_section(did, kit))
        return sections

    def methods(self, evaluation: Any, *, significance: str, policy: str) -> tuple[str, ...]:
        """The comparison, effects, diagnostics, gates, payment risk and disclosure conventions."""
        d = evaluation.parameters["did"]
        did = (f"{ESTIMATORS[d['method']]} comparisons with "
               f"{'not-yet-treated and never-treated' if d['control'] == 'not_yet' else 'never-treated'} "
               f"areas, {d['base_period']} base period, anticipation {d['anticipation']} period(s), "
               f"{'multiplier bootstrap (' + str(d['n_boot']) + ' draws)' if d['se'] == 'bootstrap' else 'analytic'} "
               "standard errors" + (f", covariates {', '.join(d['covariates'])}" if d['covariates'] else ""))
        honest = evaluation.fit.honest
        words = HONEST_METHODS.format(
            targets=" and ".join(dict.fromkeys(r.target for r in honest)),
            restrictions="; ".join(HONEST_WORDS[k] for k in dict.fromkeys(r.restriction for r in honest)),
        ) if honest else ""
        return tuple(p.format(did=did, significance=significance, policy=policy, honest=words) for p in METHODS)


def _periods(values: Any) -> str:
    """Periods in words: "4 and 7", "2, 4 and 7"."""
    shown = [f"{v:g}" for v in values]
    return " and ".join([", ".join(shown[:-1]), shown[-1]]) if len(shown) > 1 else "".join(shown)


def _adoption_by_area(contract: Contract, frame: pd.DataFrame, unit: str, group: str) -> pd.Series:
    """Each area's first treated period (0: never treated), after refusing a cohort whose ``group`` no area adopts
    in and warning of blank adoption periods and of adoption periods in no cohort."""
    first = frame.groupby(unit)[group].first()
    blank = int(first.isna().sum())
    if blank:
        warnings.warn(
            f"{blank} area(s) have a blank {group!r} on every row and count as never treated (comparison areas); "
            f"if they did adopt the service, fill in their first treated period, or write 0 to mark never treated.",
            SopEvalWarning, stacklevel=3)
    first = first.fillna(0)
    present = sorted(float(v) for v in first[first > 0].unique())
    for c in contract.cohorts:
        if c.group is not None and float(c.group) not in present:
            raise SopEvalError(
                f"contract '{contract.source}': cohort {c.name!r} has [[cohorts]] group = {c.group:g}, but no area "
                f"in column {group!r} first adopts in period {c.group:g}; the adoption periods in the data are "
                f"{_periods(present) or 'none'}. Set the cohort's `group` to one of them."
            )
    named = {float(c.group) for c in contract.cohorts if c.group is not None}
    for p in present:
        if p not in named:
            n = int((first == p).sum())
            warnings.warn(
                f"{n} area(s) first adopt in period {p:g}, which no [[cohorts]] group names: they are estimated "
                f"but belong to no cohort and are not paid for; add a cohort with group = {p:g} if they should be.",
                SopEvalWarning, stacklevel=3)
    return first


def _number(x: float) -> str:
    return f"{x:.3g}"


def _bound(x: float, end: float) -> str:
    """A robust set's bound to four decimals; "≤"/"≥" where the set reaches the end of the grid searched."""
    if not np.isfinite(x):
        return "—"
    if end < 0 and x <= end:
        return f"≤ {x:.4f}"
    if end > 0 and x >= end:
        return f"≥ {x:.4f}"
    return f"{x:.4f}"


def _at_step(x: float, r: HonestResult) -> str:
    """A bound as the table shows it where it is a grid value, else to the breakdown search's resolution."""
    if np.any(np.isclose(r.grid, x, rtol=0, atol=1e-12)) or not np.isfinite(r.breakdown_step):
        return _number(x)
    return f"{x:.{max(0, -math.floor(math.log10(r.breakdown_step)))}f}"


def _breakdown_sentence(r: HonestResult) -> str:
    """The breakdown value (the smallest bound whose robust set includes zero) in sentences saying what it means."""
    what, p = r.target, r.parameter
    if r.restriction == "relative_magnitudes":
        bound = "post-treatment departures from parallel trends are {} {} times the largest change between " \
                "consecutive pre-treatment periods"
        unit = "Mbar is a ratio, without units"
    else:
        bound = "the slope of the departure from a linear pre-trend changes by {} {} outcome units per period from " \
                "one period to the next"
        unit = "M is in outcome units per period squared"
    if r.breakdown == 0:
        return (f"Breakdown {p} = 0: the robust {percent(r.level)} set for the {what} includes zero even "
                f"under exact parallel trends ({p} = 0), so the data do not establish an effect on this measure.")
    if not np.isfinite(r.breakdown):
        top = 4 * float(max(r.grid.max(), 0)) if r.grid.size else math.nan
        return (f"No breakdown up to {p} = {_number(top)}: the robust {percent(r.level)} set for the "
                f"{what} excludes zero for every bound searched, so the conclusion that there is an effect holds "
                f"even when {bound.format('at most', _number(top))} ({unit}).")
    step = f", searching in steps of {r.breakdown_step:g}" if np.isfinite(r.breakdown_step) else ""
    shown = _at_step(r.breakdown, r)
    return (f"Breakdown {p} = {shown}: the smallest {p}{step}, at which the robust {percent(r.level)} set for the "
            f"{what} includes zero ({unit}). For every smaller {p} the set excludes zero: the conclusion that "
            f"there is an effect holds as long as {bound.format('less than', shown)}.")


def _honest_section(did: DidEvaluation, kit: ReportKit) -> Any:
    """Robust intervals by bound, the breakdown value in words and the sensitivity plot of each HonestDiD result."""
    if not did.honest:
        return kit.section("Sensitivity to parallel trends (HonestDiD)", paragraphs=(str(did.honest_note),))
    paragraphs = [
        "How far could the comparison areas' trend depart from the treated areas' after adoption before the "
        "conclusion changes? Each table gives the robust confidence set for the effect under a bound on that "
        "departure (Rambachan and Roth 2023); the first row is the usual interval, which assumes parallel trends "
        "exactly. A bound marked ≤ or ≥ is the end of the range searched (20 standard errors either side of "
        "zero): the set extends beyond it."
    ]
    if did.att_gt.base_period == "varying":
        paragraphs.append(
            "The event study uses a varying base period (each pre-treatment estimate compares consecutive periods); "
            "HonestDiD's authors recommend a universal base period (every estimate against the period before "
            "adoption) for the event study HonestDiD reads: set base_period = \"universal\" in [evaluation.did].")
    tables, figures = [], []
    for r in did.honest:
        paragraphs.append(_breakdown_sentence(r))
        rows = r.summary()
        # relative-magnitudes sets are found on a grid of ±20 SE around zero (as HonestDiD); an end reached means
        # the set extends beyond it
        end = 20 * r.se * (1 - 1e-9) if r.restriction == "relative_magnitudes" else math.inf
        shown = pd.DataFrame({
            r.parameter: ["parallel trends"] + [_number(g) for g in r.grid],
            # the first row, the usual interval, is not searched on the grid: no end to reach
            "lower": [_bound(x, -end if i else -math.inf) for i, x in enumerate(rows["lb"])],
            "upper": [_bound(x, end if i else math.inf) for i, x in enumerate(rows["ub"])],
            "method": rows["method"].tolist(),
        })
        name = "relative magnitudes" if r.restriction == "relative_magnitudes" else "smoothness"
        slug = f"honest_{r.restriction}_{'average' if r.target.startswith('average') else 'first'}"
        tables.append((f"Robust {percent(r.level)} sets by {r.parameter} ({name}): {r.target}",
                       kit.estimates(shown)))
        figures.append(kit.figure(f"{slug}.png", f"Robust {percent(r.level)} sets for the {r.target} by "
                                  f"{r.parameter} ({name}); the first interval assumes parallel trends exactly"
                                  + ("; the dotted line marks the breakdown value"
                                     if np.isfinite(r.breakdown) and r.breakdown > 0 else ""),
                                  "honest_plot", r, size=(6.4, 3.4)))
    return kit.section("Sensitivity to parallel trends (HonestDiD)", paragraphs=tuple(paragraphs),
                       tables=tuple(tables), figures=tuple(figures))
