"""Assemble the evaluation report: sections, tables under disclosure control, and figures."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd
from matplotlib import rc_context
from matplotlib.figure import Figure as MplFigure

from sop_eval.designs import DESIGNS
from sop_eval.report.balance_plots import love_plot, propensity_overlap
from sop_eval.report.did_plots import event_study_plot, parallel_trends_plot
from sop_eval.report.disclosure import DEFAULT_POLICY, DisclosurePolicy, ProtectedTable, protect, protect_text
from sop_eval.report.effect_plots import plot_effects
from sop_eval.report.html import Figure, Section, figure_png, render_report
from sop_eval.report.payment_plots import payment_risk_plot
from sop_eval.stats.estimate import DEFAULT_LEVEL, interval_label, percent


def _fig(name: str, caption: str, draw: Any, size: tuple[float, float] = (6.4, 3.4)) -> Figure:
    # a bare Figure draws without pyplot, so the caller's backend and open figures are left alone; labels come
    # from contract and data text (cohort names, categories), so '$' is a dollar sign, never mathtext
    with rc_context({"text.parse_math": False}):
        fig = MplFigure(figsize=size)
        draw(fig.subplots())
        return Figure(name=name, png=figure_png(fig), caption=caption)


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


def _pct(x: Any) -> str:
    return "—" if x is None or pd.isna(x) else f"{100 * x:.1f}%"


# plot functions a design may name in ReportKit.figure (each draws on the ``ax`` it is given)
PLOTS: dict[str, Callable[..., Any]] = {
    "love_plot": love_plot,
    "propensity_overlap": propensity_overlap,
    "parallel_trends_plot": parallel_trends_plot,
    "event_study_plot": event_study_plot,
}


class _Kit:
    """The :class:`~sop_eval.designs.base.ReportKit` a design builds its sections with; records what it made."""

    def __init__(self, policy: DisclosurePolicy) -> None:
        self.policy = policy
        self.figures: list[Figure] = []
        self.protected: list[ProtectedTable] = []

    def protect(self, frame: pd.DataFrame, counts: Sequence[str], *, name: str,
                row_total: str | None = None) -> ProtectedTable:
        table = protect(frame, list(counts), name=name, policy=self.policy, row_total=row_total)
        self.protected.append(table)
        return table

    def figure(self, name: str, caption: str, plot: str, *args: Any, size: tuple[float, float] = (6.4, 3.4),
               **kwargs: Any) -> Figure:
        draw = PLOTS[plot]
        fig = _fig(name, caption, lambda ax: draw(*args, ax=ax, **kwargs), size=size)
        self.figures.append(fig)
        return fig

    def estimates(self, frame: pd.DataFrame) -> pd.DataFrame:
        return _p_values(frame).round(4)

    def section(self, title: str, *, paragraphs: Sequence[str] = (), tables: Sequence[tuple[str, pd.DataFrame]] = (),
                figures: Sequence[Figure] = (), notes: Sequence[str] = ()) -> Section:
        return Section(title, paragraphs=paragraphs, tables=tables, figures=figures, notes=notes)


def build_report(
    evaluation: Any, policy: DisclosurePolicy = DEFAULT_POLICY
) -> tuple[str, list[Figure], list[ProtectedTable]]:
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

    found = tuple(getattr(ev, "warnings", ()))
    if found:
        sections.append(Section(
            "Warnings",
            paragraphs=("Conditions that did not stop the evaluation but bear on its figures and payments "
                        "(counts under the disclosure policy):",),
            notes=tuple(protect_text(w, policy) for w in found),
        ))

    # headline
    level = ev.parameters.get("level", DEFAULT_LEVEL)
    head = ev.headline()
    shown = pd.DataFrame({
        "cohort": head["cohort"],
        "status": head["status"],
        **({"treated mean": head["treated_mean"].round(2), "comparison mean": head["comparison_mean"].round(2)}
           if "treated_mean" in head else
           {"treated per 100": head.get("treated_per_100", pd.Series(dtype=float)).round(1),
            "comparison per 100": head.get("comparison_per_100", pd.Series(dtype=float)).round(1)}),
        "reduction": head.get("reduction", pd.Series(dtype=float)).map(_pct),
        interval_label(level): [f"{_pct(lo)} to {_pct(hi)}" if pd.notna(lo) else "—"
                   for lo, hi in zip(head.get("reduction_ci_low", [None] * len(head)),
                                     head.get("reduction_ci_high", [None] * len(head)), strict=True)],
        "gate": head.get("gate", pd.Series(dtype=float)).map(_pct),
        "gate met": head.get("gate_met", pd.Series(dtype=object)),
        "payment": head.get("payment", pd.Series(dtype=float)),
    })
    sections.append(Section(
        "Headline",
        paragraphs=(f"Total due: {c.currency} {float(ev.schedule.total):,.2f}.",),
        tables=(("Per cohort and pooled", shown),),
    ))

    design = DESIGNS[ev.design]
    kit = _Kit(policy)
    sections += design.report_sections(ev, kit)
    figures += kit.figures
    protected += kit.protected

    # effects
    ests = [k.effect for k in ev.cohorts if k.effect is not None] + ([ev.pooled] if ev.pooled is not None else [])
    gates = [float(o.gate.threshold) if o.gate else None for o in c.outcomes if o.name == ev.outcome][:1]
    gate_list = [gates[0] if gates else None for k in ev.cohorts if k.effect is not None]
    pooled_terms = next((o.pooled for o in c.outcomes if o.name == ev.outcome and o.pooled is not None), None)
    if ev.pooled is not None:
        gate_list.append(float(pooled_terms.threshold) if pooled_terms else None)
    effect_figs = []
    effect_table = (protect(ev.summary(), ["n_treated", "n_comparison"], name="effect estimates", policy=policy)
                    if ests else None)
    if effect_table is not None:
        protected.append(effect_table)
    if ests:
        effect_figs.append(_fig("reductions.png", "Relative change in the outcome versus the matched comparison, with "
                                f"{percent(level)} intervals; red: the gate",
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
    capped = [f"line {ln.number} ({ln.reference}): cut from {float(ln.gross):,.2f} to {float(ln.amount):,.2f} "
              f"by {ln.capped_by}"
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
        risk_figs.append(_fig("payment_risk.png",
                              "Distribution of the total payment over the sampling uncertainty of the effects",
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
    significance = (ests[0].significance_rule if ests and hasattr(ests[0], "significance_rule")
                    else "significant when p < 0.05")
    policy_text = (f"policy '{policy.name}': counts of 1 to {policy.threshold} suppressed, others rounded to the "
                   f"nearest {policy.rounding}{', with secondary suppression' if policy.secondary else ''}")
    methods = design.methods(ev, significance=significance[:1].upper() + significance[1:], policy=policy_text)
    sections.append(Section("Methods and conventions", paragraphs=methods))

    html = render_report(f"Evaluation report — {c.name}",
                         f"Contract version {c.version} · outcome {ev.outcome} · seed {params.get('seed')}", sections)
    return html, figures, protected

