"""Assemble the evaluation report: sections, tables under disclosure control, and figures."""

from __future__ import annotations

from typing import Any

import pandas as pd
from matplotlib.figure import Figure as MplFigure

from sop_eval.pipeline import COHORT_COLUMN
from sop_eval.report.balance_plots import love_plot, propensity_overlap
from sop_eval.report.disclosure import DEFAULT_POLICY, DisclosurePolicy, ProtectedTable, protect
from sop_eval.report.did_plots import event_study_plot, parallel_trends_plot
from sop_eval.report.effect_plots import plot_effects
from sop_eval.report.html import Figure, Section, figure_png, render_report
from sop_eval.report.payment_plots import payment_risk_plot

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
    "Pooling: the pooled effect is the cohort-size-weighted mean of cohort effects with the variance of a "
    "weighted sum of independent estimates. The pooled gate compares the cohort-size-weighted mean of the "
    "cohort reductions with its threshold, as the contract states.",
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


METHODS_DID = (
    "Counterfactual: difference-in-differences across areas that adopt the service at different times "
    "(Callaway and Sant'Anna 2021, as the R package did): each adoption wave is compared, period by period, "
    "with comparison areas, using {did}.",
    "Effects: each contract cohort is one adoption wave; its effect is the mean of its post-treatment ATT(g,t) "
    "(per area and period); the units attributable are that effect times the wave's area-periods after "
    "adoption. The pooled effect weights the waves by their number of areas. The relative change is the "
    "effect over the counterfactual mean (treated mean minus effect), its interval by the delta method. "
    "{significance}.",
    "Diagnostics: the Wald test over pre-treatment ATT(g,t) checks parallel pre-trends; the event study shows "
    "effects by time since adoption with a uniform band from the multiplier bootstrap.",
    "Gates: each gate is decided on the unrounded point estimate; the statistical test is shown beside it and "
    "decides nothing unless the contract requires significance.",
    "Payment risk: effects are drawn from each estimate's normal sampling distribution and passed through the "
    "contract's gates, caps and payer shares.",
    "Disclosure control: {policy}. The data are area-level; no identifiers or person-level rows appear.",
)


def _fig(name: str, caption: str, draw: Any, size: tuple[float, float] = (6.4, 3.4)) -> Figure:
    # a bare Figure draws without pyplot, so the caller's backend and open figures are left alone
    fig = MplFigure(figsize=size)
    draw(fig.subplots())
    return Figure(name=name, png=figure_png(fig), caption=caption)


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in text.lower()).strip("_")


EFFECT_COLUMNS = [
    "label", "n_treated", "n_comparison", "treated_mean", "comparison_mean", "difference", "se", "ci_low", "ci_high",
    "p_value", "relative", "relative_ci_low", "relative_ci_high", "se_method",
]


def _p_values(frame: pd.DataFrame) -> pd.DataFrame:
    """p-values as text: four decimals, or "<0.0001" (never a rounded zero)."""
    if "p_value" not in frame:
        return frame
    shown = [("—" if p is None or pd.isna(p) else "<0.0001" if p < 1e-4 else f"{p:.4f}") for p in frame["p_value"]]
    return frame.assign(p_value=shown)


def _count(x: Any) -> str:
    return f"{x:,}" if isinstance(x, int) else str(x)


def _pct(x: Any) -> str:
    return "—" if x is None or pd.isna(x) else f"{100 * x:.1f}%"


def _matching_sections(ev: Any, policy: DisclosurePolicy) -> tuple[list[Section], list[Figure], list[ProtectedTable]]:
    """Cohort flow, who was dropped, balance and baseline risk of a matched-cohort evaluation."""
    protected: list[ProtectedTable] = []
    figures: list[Figure] = []
    sections: list[Section] = []
    # flow
    flows = pd.DataFrame([{"cohort": k.name, "status": k.status_text, **k.flow()} for k in ev.cohorts]).set_index("cohort")
    flow = protect(flows, ["matched", "dropped", "eligible"], name="cohort flow", policy=policy, row_total="eligible")
    pool_t = protect(flows, ["pool", "controls_used"], name="comparison pool", policy=policy)
    protected += [flow, pool_t]
    flow_table = flow.table[["status", "eligible", "matched", "dropped"]].join(pool_t.table[["pool", "controls_used"]])
    tables: list[tuple[str, pd.DataFrame]] = [("Eligible → matched → dropped (people served) and comparison pool", flow_table.reset_index())]
    notes = list(ev.data.warnings)
    outside = ev.parameters.get("rows_outside_cohorts", {}).get("treated", 0)
    if outside:
        shown_outside = f"fewer than {policy.threshold + 1}" if outside <= policy.threshold else f"about {policy.round_count(outside):,}"
        notes.append(f"{shown_outside} people served fall in no contract cohort (outside every entry window) and are left out.")
    for k in ev.cohorts:
        if k.dropped is None:
            continue
        n_dropped = k.flow()["dropped"]
        if 1 <= n_dropped <= policy.threshold:
            notes.append(f"{k.name}: the profile of the people dropped is not shown: fewer than {policy.threshold + 1} people.")
            continue
        if n_dropped:
            tables.append((f"{k.name}: people dropped from the match against those matched (means)",
                           k.dropped.drop(index="n", errors="ignore").reset_index().round(3)))
        share = k.dropped.attrs.get("share_dropped")
        if share:
            notes.append(f"{k.name}: {share:.1%} of the people served were left out of the match.")
    sizes = protect(pd.DataFrame([ev.data.to_dict()])[["n_treated", "n_pool"]], ["n_treated", "n_pool"],
                    name="people in the data", policy=policy)
    protected.append(sizes)
    shown_sizes = sizes.table.iloc[0]
    sections.append(Section("Data and cohort flow", paragraphs=(
        f"{_count(shown_sizes['n_treated'])} people served and {_count(shown_sizes['n_pool'])} in the comparison pool "
        f"(counts under the disclosure policy); data extract date {ev.parameters.get('extract_date')}.",),
        tables=tables, notes=notes))

    # balance and risk
    bal_tables, bal_figs, bal_notes = [], [], []
    for k in ev.cohorts:
        if k.matched is None:
            continue
        balance = k.matched.balance()
        summary = balance.summary()
        cols = ["term", "smd_before", "smd_after", "var_ratio_before", "var_ratio_after", "ecdf_mean_after", "ecdf_max_after", "flag"]
        bal_tables.append((f"{k.name}: balance before and after matching", summary[[x for x in cols if x in summary]].round(3)))
        if k.risk is not None:
            bal_tables.append((f"{k.name}: baseline risk (expected {ev.outcome} without the service)", k.risk.reset_index().round(3)))
        if balance.imbalanced:
            bal_notes.append(f"{k.name}: terms still imbalanced after matching (|SMD| > {balance.threshold}): {', '.join(balance.imbalanced)}.")
        slug = _slug(k.name)
        bal_figs.append(_fig(f"love_{slug}.png", f"{k.name}: standardised mean differences before and after matching (Love plot)",
                             lambda ax, b=balance: love_plot(b, ax=ax), size=(6.4, 4.2)))
        bal_figs.append(_fig(f"overlap_{slug}.png", f"{k.name}: propensity score overlap before and after matching",
                             lambda ax, m=k.matched: propensity_overlap(m, ax=ax)))
    figures += bal_figs
    sections.append(Section("Balance and baseline risk", tables=bal_tables, figures=bal_figs, notes=bal_notes))

    return sections, figures, protected


def _did_sections(ev: Any, policy: DisclosurePolicy) -> tuple[list[Section], list[Figure], list[ProtectedTable]]:
    """The panel and its adoption waves, parallel trends, the event study and the ATT(g,t) of a DiD evaluation."""
    did = ev.did
    p = ev.parameters["did"]
    waves = pd.DataFrame([{"cohort": k.name, "first treated period": k.details.get("group"), "status": k.status_text,
                           "areas": k.details.get("areas", 0), "comparison areas": k.n_pool,
                           "post-treatment periods": k.details.get("post_periods")} for k in ev.cohorts])
    areas = protect(waves, ["areas", "comparison areas"], name="adoption waves", policy=policy)
    figures = [
        _fig("parallel_trends.png", "Mean outcome by adoption wave and period (0: never treated); dotted lines mark adoption",
             lambda ax: parallel_trends_plot(did.means, ax=ax), size=(6.4, 3.8)),
        _fig("event_study.png", "Effect by time since adoption (event study) with pointwise intervals and a uniform band",
             lambda ax: event_study_plot(did.dynamic, ax=ax), size=(6.4, 3.8)),
    ]
    pre = did.pretrend
    paragraphs = [
        f"{did.units['treated']:,} areas adopt the service and {did.units['never_treated']:,} never do "
        "(counts of areas, not people). Comparison: "
        + ("areas not yet treated and never treated." if p["control"] == "not_yet" else "areas never treated."),
    ]
    if pre is not None:
        verdict = "no evidence against parallel pre-trends" if pre.p_value >= 0.05 else "evidence against parallel pre-trends"
        paragraphs.append(f"Pre-trend Wald test over the pre-treatment ATT(g,t): χ² = {pre.statistic:.2f} on {pre.df} "
                          f"degrees of freedom, p = {pre.p_value:.3f} — {verdict}.")
    att = _p_values(did.att_gt.summary()).round(4) if "p_value" in did.att_gt.summary() else did.att_gt.summary().round(4)
    return ([
        Section("Panel and adoption", paragraphs=tuple(paragraphs), tables=(("Adoption waves", areas.table),)),
        Section("Parallel trends and event study", tables=(("ATT(g,t)", att),), figures=tuple(figures)),
    ], figures, [areas])


def build_report(evaluation: Any, policy: DisclosurePolicy = DEFAULT_POLICY) -> tuple[str, list[Figure], list[ProtectedTable]]:
    """Render the HTML report of ``evaluation``; returns the HTML, the figures and the disclosure log."""
    ev = evaluation
    c = ev.contract
    protected: list[ProtectedTable] = []
    figures: list[Figure] = []
    sections: list[Section] = []

    # contract
    cohorts = pd.DataFrame(
        [{"cohort": k.name, "entry from": k.entry_start, "entry to": k.entry_end,
          "follow-up (months)": k.follow_up_months, "court lag (months)": k.court_lag_months,
          "measurable from": k.measurable_from} for k in c.cohorts]
    )
    outcomes = pd.DataFrame(
        [{"outcome": o.name, "mechanism": o.mechanism, "design": o.design, "unit": o.unit,
          "price": None if o.price is None else float(o.price),
          "cohort gate": None if o.gate is None else float(o.gate.threshold),
          "pooled gate": None if o.pooled is None else float(o.pooled.threshold),
          "catch-up": None if o.pooled is None else o.pooled.catch_up} for o in c.outcomes]
    )
    payers = pd.DataFrame([{"payer": p.name, "share": float(p.share), "cap": None if p.cap is None else float(p.cap)}
                           for p in c.payers])
    sections.append(Section(
        "Contract",
        paragraphs=(f"{c.name} — version {c.version}, effective {c.effective}, currency {c.currency}.",
                    c.description, f"Contract file SHA-256: {c.sha256}."),
        tables=(("Cohorts", cohorts), ("Outcomes and gates", outcomes), ("Payers", payers)),
    ))

    # headline
    head = ev.headline()
    shown = pd.DataFrame({
        "cohort": head["cohort"],
        "status": head["status"],
        **({"treated mean": head["treated_mean"].round(2), "comparison mean": head["comparison_mean"].round(2)}
           if "treated_mean" in head else
           {"treated per 100": head.get("treated_per_100", pd.Series(dtype=float)).round(1),
            "comparison per 100": head.get("comparison_per_100", pd.Series(dtype=float)).round(1)}),
        "reduction": head.get("reduction", pd.Series(dtype=float)).map(_pct),
        "95% CI": [f"{_pct(lo)} to {_pct(hi)}" if pd.notna(lo) else "—"
                   for lo, hi in zip(head.get("reduction_ci_low", [None] * len(head)),
                                     head.get("reduction_ci_high", [None] * len(head)))],
        "gate": head.get("gate", pd.Series(dtype=float)).map(_pct),
        "gate met": head.get("gate_met", pd.Series(dtype=object)),
        "payment": head.get("payment", pd.Series(dtype=float)),
    })
    sections.append(Section(
        "Headline",
        paragraphs=(f"Total due: {c.currency} {float(ev.schedule.total):,.2f}.",),
        tables=(("Per cohort and pooled", shown),),
    ))

    if ev.design == "did":
        did_sections, did_figures, did_tables = _did_sections(ev, policy)
        sections += did_sections
        figures += did_figures
        protected += did_tables
    else:
        psm_sections, psm_figures, psm_tables = _matching_sections(ev, policy)
        sections += psm_sections
        figures += psm_figures
        protected += psm_tables

    # effects
    ests = [k.effect for k in ev.cohorts if k.effect is not None] + ([ev.pooled] if ev.pooled is not None else [])
    gates = [float(o.gate.threshold) if o.gate else None for o in c.outcomes if o.name == ev.outcome][:1]
    gate_list = [gates[0] if gates else None for k in ev.cohorts if k.effect is not None]
    pooled_terms = next((o.pooled for o in c.outcomes if o.name == ev.outcome and o.pooled is not None), None)
    if ev.pooled is not None:
        gate_list.append(float(pooled_terms.threshold) if pooled_terms else None)
    effect_figs = []
    effect_table = protect(ev.summary(), ["n_treated", "n_comparison"], name="effect estimates", policy=policy) if ests else None
    if effect_table is not None:
        protected.append(effect_table)
    if ests:
        effect_figs.append(_fig("reductions.png", "Relative change in the outcome versus the matched comparison, with 95% intervals; red: the gate",
                                lambda ax: plot_effects(ests, ax=ax, gate=gate_list)))
    figures += effect_figs
    sections.append(Section(
        "Effects",
        paragraphs=tuple(e.describe() for e in ests),
        tables=(("Effect estimates (Justice Data Lab layout)", _p_values(effect_table.table[EFFECT_COLUMNS]).round(4)),)
        if ests else (),
        figures=effect_figs,
    ))

    # gates
    rows = []
    for line in ev.schedule.lines:
        d = line.decision
        if d is None:
            continue
        rows.append({"gate": d.gate, "measure": d.measure, "value": d.value, "threshold": d.threshold,
                     "margin": d.margin, "gate met": d.met, "ci_low": d.ci_low, "ci_high": d.ci_high,
                     "p_value": d.p_value, "significant": d.significant,
                     "significance required": d.requires_significance})
    sections.append(Section(
        "Gates and statistical tests",
        paragraphs=("The contractual gate and the statistical test are kept apart: the gate is decided on the "
                    "unrounded point estimate; the interval and p-value show how certain that estimate is.",),
        tables=(("Gate decisions", _p_values(pd.DataFrame(rows)).round(4)),) if rows else (),
    ))

    # payments
    lines = ev.schedule.summary()
    by_payer = pd.DataFrame([{"payer": k, "amount": float(v)} for k, v in ev.schedule.by_payer.items()])
    capped = [f"line {ln.number} ({ln.reference}): cut from {float(ln.gross):,.2f} to {float(ln.amount):,.2f} by {ln.capped_by}"
              for ln in ev.schedule.lines if ln.capped_by]
    sections.append(Section("Payments", tables=(("Payment lines", lines), ("By payer", by_payer)),
                            notes=tuple(capped) + tuple(ev.schedule.notes)))

    # sensitivity and risk
    sens_rows = []
    for k in ev.cohorts:
        if not k.sensitivity:
            continue
        ros, ev_ = k.sensitivity.get("rosenbaum", {}), k.sensitivity.get("e_value", {})
        sens_rows.append({"cohort": k.name, "critical Γ (Rosenbaum)": ros.get("critical_gamma"),
                          "E-value": ev_.get("e_value"), "E-value (CI limit)": ev_.get("e_value_ci"),
                          "minimum detectable reduction": k.mde})
    risk_figs, risk_tables, risk_par = [], [], []
    if ev.payment_risk is not None:
        r = ev.payment_risk
        risk_figs.append(_fig("payment_risk.png", "Distribution of the total payment over the sampling uncertainty of the effects",
                              lambda ax: payment_risk_plot(r.totals, float(ev.schedule.total), c.currency, ax=ax)))
        risk_tables.append(("Payment risk", r.summary()))
        risk_par.append(f"Expected payment {c.currency} {r.expected_total:,.0f} over {r.n_draws:,} draws; "
                        + "; ".join(f"P({g} met) = {p:.2f}" for g, p in r.prob_gate_met.items()) + ".")
    figures += risk_figs
    sections.append(Section("Sensitivity and payment risk", paragraphs=tuple(risk_par),
                            tables=((("Sensitivity to hidden bias and power", pd.DataFrame(sens_rows).round(3)),)
                                    if sens_rows else ()) + tuple(risk_tables),
                            figures=risk_figs))

    # methods
    params = ev.parameters
    m = params.get("matching", {})
    matching = (f"nearest neighbour, up to {m.get('ratio')} control(s) each, "
                f"{'with' if m.get('replace') else 'without'} replacement, caliper {m.get('caliper')} SD of the "
                f"{'logit of the ' if m.get('caliper_scale') == 'logit' else ''}propensity score, exact on "
                f"{', '.join('the contract cohort' if x == COHORT_COLUMN else x for x in m.get('exact', []))}, treated units in order of {m.get('order')} score first")
    significance = ests[0].significance_rule if ests and hasattr(ests[0], "significance_rule") else "significant when p < 0.05"
    fmt = dict(
        matching=matching, se=_se_text(params.get("se"), ests), significance=significance[:1].upper() + significance[1:],
        follow_up=params.get("follow_up_months"), lag=params.get("court_lag_months"),
        policy=f"policy '{policy.name}': counts of 1 to {policy.threshold} suppressed, others rounded to the nearest "
               f"{policy.rounding}{', with secondary suppression' if policy.secondary else ''}",
    )
    methods = METHODS_DID if ev.design == "did" else METHODS
    if ev.design == "did":
        d = params["did"]
        fmt["did"] = (f"{ {'dr': 'doubly robust', 'ipw': 'inverse probability weighting', 'reg': 'outcome regression'}[d['method']] } "
                      f"comparisons with {'not-yet-treated and never-treated' if d['control'] == 'not_yet' else 'never-treated'} "
                      f"areas, {d['base_period']} base period, anticipation {d['anticipation']} period(s), "
                      f"{'multiplier bootstrap (' + str(d['n_boot']) + ' draws)' if d['se'] == 'bootstrap' else 'analytic'} "
                      f"standard errors" + (f", covariates {', '.join(d['covariates'])}" if d['covariates'] else ""))
    sections.append(Section("Methods and conventions", paragraphs=tuple(p.format(**fmt) for p in methods)))

    html = render_report(f"Evaluation report — {c.name}", f"Contract version {c.version} · outcome {ev.outcome} · seed {params.get('seed')}", sections)
    return html, figures, protected


def _se_text(name: Any, ests: list[Any]) -> str:
    """The SE's name, its method and what it clusters on, as the first cohort's estimate records them."""
    first = next((e for e in ests if getattr(e, "details", None) and e.details.get("clusters_on")), None)
    if first is None:
        return str(name)
    return f"{name} — {first.method}, clustered on {first.details['clusters_on']}"
