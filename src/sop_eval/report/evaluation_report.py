"""Assemble the evaluation report: sections, tables under disclosure control, and figures."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from matplotlib import rc_context
from matplotlib.figure import Figure as MplFigure

from sop_eval._version import __version__
from sop_eval.designs import DESIGNS
from sop_eval.outputs import dumps
from sop_eval.report.balance_plots import love_plot, propensity_overlap
from sop_eval.report.certificate import SAMPLING_NOTE, build_certificate
from sop_eval.report.did_plots import event_study_plot, parallel_trends_plot
from sop_eval.report.disclosure import (
    AREA_DESIGNS,
    DEFAULT_POLICY,
    DisclosurePolicy,
    ProtectedTable,
    count_columns,
    protect,
    protect_text,
)
from sop_eval.report.effect_plots import plot_effects
from sop_eval.report.html import Figure, Section, figure_png, render_report
from sop_eval.report.jdl import jdl_sections
from sop_eval.report.payment_plots import payment_risk_plot
from sop_eval.report.style import cell, money, num, outcome_label, outcome_metric, pct, sentence, styled
from sop_eval.report.synth_plots import (
    gap_plot,
    honest_plot,
    placebo_distribution_plot,
    placebo_plot,
    sdid_plot,
    weights_plot,
)
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


# plot functions a design may name in ReportKit.figure (each draws on the ``ax`` it is given)
PLOTS: dict[str, Callable[..., Any]] = {
    "love_plot": love_plot,
    "propensity_overlap": propensity_overlap,
    "parallel_trends_plot": parallel_trends_plot,
    "event_study_plot": event_study_plot,
    "gap_plot": gap_plot,
    "placebo_plot": placebo_plot,
    "sdid_plot": sdid_plot,
    "weights_plot": weights_plot,
    "placebo_distribution_plot": placebo_distribution_plot,
    "honest_plot": honest_plot,
}


class _Kit:
    """The :class:`~sop_eval.designs.base.ReportKit` a design builds its sections with; records what it made."""

    def __init__(self, policy: DisclosurePolicy) -> None:
        self.policy = policy
        self.figures: list[Figure] = []
        self.protected: list[ProtectedTable] = []

    def protect(self, frame: pd.DataFrame, counts: Sequence[str], *, name: str,
                row_total: str | None = None, total_row: Any = None) -> ProtectedTable:
        table = protect(frame, list(counts), name=name, policy=self.policy, row_total=row_total,
                        total_row=total_row)
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


def build_report(evaluation: Any, policy: DisclosurePolicy = DEFAULT_POLICY, *, run_time: str | None = None,
                 results_sha256: str | None = None) -> tuple[str, list[Figure], list[ProtectedTable]]:
    """Render the HTML report of ``evaluation``; returns the HTML, the figures and the disclosure log.

    The report opens with the payment certificate (:mod:`sop_eval.report.certificate`); ``run_time``
    (default: now, UTC) and ``results_sha256`` (default: the digest of the evaluation's ``results.json``
    text) are printed on it. ``[report] layout = "jdl"`` adds the Justice Data Lab sections.
    """
    ev = evaluation
    c = ev.contract
    cur = c.currency
    protected: list[ProtectedTable] = []
    figures: list[Figure] = []
    sections: list[Section] = []
    level = ev.parameters.get("level", DEFAULT_LEVEL)
    what = outcome_label(c, ev.outcome)

    # the decision first
    digest = results_sha256 or hashlib.sha256(dumps(ev.to_dict()).encode("utf-8")).hexdigest()
    when = run_time or datetime.now(UTC).replace(microsecond=0).isoformat()
    cert = build_certificate(ev, results_sha256=digest, version=__version__, run_time=when)
    sections.append(Section(
        "Payment certificate", kind="certificate",
        paragraphs=(cert.total, cert.payers, *cert.sentences),
        tables=(("Decision per cohort and pooled", cert.table),),
        notes=(cert.provenance,),
    ))

    # contract
    cohorts = _cohort_terms(c.cohorts)
    outcomes = pd.DataFrame(
        [{"outcome": outcome_metric(c, o.name), "mechanism": o.mechanism.replace("_", " "), "design": o.design,
          "unit": o.unit, "price": None if o.price is None else float(o.price),
          "cohort gate": None if o.gate is None else float(o.gate.threshold),
          "pooled gate": None if o.pooled is None else float(o.pooled.threshold),
          "catch-up": None if o.pooled is None else o.pooled.catch_up} for o in c.outcomes]
    )
    payers = pd.DataFrame([{"payer": p.name, "share": float(p.share), "cap": None if p.cap is None else float(p.cap)}
                           for p in c.payers])
    sections.append(Section(
        "Contract",
        paragraphs=(f"{c.name}: version {c.version}, effective {c.effective}, amounts in {cur}.",
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

    design = DESIGNS[ev.design]
    kit = _Kit(policy)
    if _layout(c) == "jdl":
        sections += jdl_sections(ev, kit)
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
    effect_table = (protect(ev.summary(), count_columns(ev.design, ["n_treated", "n_comparison"]),
                            name="effect estimates", policy=policy) if ests else None)
    if effect_table is not None:
        protected.append(effect_table)
    if ests:
        effect_figs.append(_fig("reductions.png", f"Reduction in {what} against the comparison group, with "
                                f"{percent(level)} intervals (right of zero: fewer {what}); red: the gate",
                                lambda ax: plot_effects(ests, ax=ax, gate=gate_list, scale="reduction")))
    figures += effect_figs
    effect_rows = None
    if effect_table is not None:
        shown = effect_table.table[EFFECT_COLUMNS].copy()
        bases = {e.details.get("rate_per") for e in ests}
        rate_per = bases.pop() if len(bases) == 1 else None  # area-level designs: per person-period, shown as rates
        per = f"per {rate_per:,} population per period" if isinstance(rate_per, int) else "per person"
        if isinstance(rate_per, int):
            for col in ("treated_mean", "comparison_mean", "difference", "se", "ci_low", "ci_high"):
                shown[col] = shown[col] * rate_per
        for col in ("relative", "relative_ci_low", "relative_ci_high"):
            shown[col] = -shown[col]
        shown = shown.rename(columns={"relative": "reduction", "relative_ci_low": "reduction to",
                                      "relative_ci_high": "reduction from"})
        shown = shown[[*EFFECT_COLUMNS[:10], "reduction", "reduction from", "reduction to", "se_method"]]
        counted = {e.counted for e in ests}
        effect_rows = styled(shown, cur, rename={"label": "cohort", "treated_mean": f"treated: {what} {per}",
                                                 "n_treated": counted.pop() if len(counted) == 1 else "treated",
                                                 "comparison_mean": f"comparison: {what} {per}",
                                                 "ci_low": f"difference {interval_label(level)} from",
                                                 "ci_high": "difference to",
                                                 "reduction from": f"reduction {interval_label(level)} from",
                                                 "reduction to": "reduction to"})
    sections.append(Section(
        "Effects",
        paragraphs=(f"Outcome: {outcome_metric(c, ev.outcome)}.", *(sentence(e.describe(what)) for e in ests)),
        tables=(("Effect estimates (Justice Data Lab layout)", effect_rows),) if effect_rows is not None else (),
        figures=effect_figs,
    ))

    # gates
    rows = []
    for line in ev.schedule.lines:
        d = line.decision
        if d is None:
            continue
        measure = "reduction" if d.measure.startswith("relative") else "value"
        gate = f"{outcome_label(c, line.outcome)}, {line.reference}" if line.reference else d.gate
        rows.append({"gate": gate, "measure": d.measure.replace("_", " "), measure: d.value,
                     "gate threshold": d.threshold, "margin": d.margin, "gate met": d.met,
                     f"{interval_label(d.level)} from": d.ci_low, "to": d.ci_high,
                     "p_value": d.p_value, "significant": d.significant,
                     "significance required": d.requires_significance})
    gate_frame = _gate_frame(rows, cur)
    sections.append(Section(
        "Gates and statistical tests",
        paragraphs=("The contractual gate and the statistical test are kept apart: the gate is decided on the "
                    "unrounded point estimate; the interval and p-value show how certain that estimate is.",),
        tables=(("Gate decisions", gate_frame),) if rows else (),
    ))

    # payments
    lines = ev.schedule.summary()
    by_payer = pd.DataFrame([{"payer": k, "amount": float(v)} for k, v in ev.schedule.by_payer.items()])
    capped = [f"line {ln.number} ({ln.reference}): cut from {money(ln.gross, cur)} to {money(ln.amount, cur)} by the "
              f"{ln.capped_by}{'' if 'cap' in ln.capped_by else ' cap'}" for ln in ev.schedule.lines if ln.capped_by]
    sections.append(Section("Payments", paragraphs=(f"Total due: {money(ev.schedule.total, cur)}.",),
                            tables=(("Payment lines",
                                     _payment_lines(lines, [ln.decision for ln in ev.schedule.lines], cur)),
                                    ("By payer", by_payer)),
                            notes=tuple(capped) + tuple(sentence(n) for n in ev.schedule.notes)))

    # sensitivity and risk
    sens_rows = []
    for k in ev.cohorts:
        if not k.sensitivity:
            continue
        ros, ev_ = k.sensitivity.get("rosenbaum", {}), k.sensitivity.get("e_value", {})
        sens_rows.append({"cohort": k.name, "critical Γ (Rosenbaum)": ros.get("critical_gamma"),
                          "E-value": ev_.get("e_value"), "E-value (CI limit)": ev_.get("e_value_ci"),
                          "minimum detectable reduction (matched, 80% power)": k.mde})
    risk_figs, risk_tables, risk_par = [], [], []
    if ev.payment_risk is not None:
        r = ev.payment_risk
        risk_figs.append(_fig("payment_risk.png",
                              "Distribution of the total payment over the sampling uncertainty of the effects",
                              lambda ax: payment_risk_plot(r.totals, float(ev.schedule.total), c.currency, ax=ax)))
        risk_tables.append(("Payment risk", _risk_table(r, c, cur)))
        risk_par.append(f"Expected payment {money(r.expected_total, cur)} over {r.n_draws:,} draws; "
                        + "; ".join(f"P(gate met: {_gate_words(g, c)}) = {p:.0%}" for g, p in r.prob_gate_met.items())
                        + ".")
        risk_par.append(SAMPLING_NOTE)
    figures += risk_figs
    sections.append(Section("Sensitivity and payment risk", paragraphs=tuple(risk_par),
                            tables=((("Sensitivity to hidden bias and power", pd.DataFrame(sens_rows)),)
                                    if sens_rows else ()) + tuple(risk_tables),
                            figures=risk_figs))

    # methods
    params = ev.parameters
    significance = (ests[0].significance_rule if ests and hasattr(ests[0], "significance_rule")
                    else "significant when p < 0.05")
    policy_text = (f"policy '{policy.name}': counts of 1 to {policy.threshold} suppressed, others rounded to the "
                   f"nearest {policy.rounding}{', with secondary suppression' if policy.secondary else ''}"
                   + ("; it applies to counts of people, so the counts of areas, area-periods and population-periods "
                      "of this area-level design are shown exactly" if ev.design in AREA_DESIGNS else ""))
    methods = design.methods(ev, significance=significance[:1].upper() + significance[1:], policy=policy_text)
    sections.append(Section("Methods and conventions", paragraphs=tuple(sentence(m) for m in methods)))

    sections = [_styled_section(sec, cur) for sec in sections]
    html = render_report(f"Evaluation report — {c.name}",
                         f"Contract version {c.version} · outcome: {outcome_metric(c, ev.outcome)} · seed "
                         f"{params.get('seed')}", sections)
    return html, figures, protected


def _cohort_terms(cohorts: Sequence[Any]) -> pd.DataFrame:
    """The contract's cohorts: the panel periods of those that cover periods (area designs), the first treated
    period of adoption groups, and the entry window, follow-up and lag only when some cohort has an entry window."""
    spans = any(k.first_period is not None for k in cohorts)
    groups = any(k.group is not None for k in cohorts)
    windows = any(k.entry_start is not None or k.entry_end is not None for k in cohorts)
    rows = []
    for k in cohorts:
        row: dict[str, Any] = {"cohort": k.name}
        if spans:
            last = k.first_period if k.last_period is None else k.last_period
            row["periods"] = (None if k.first_period is None else str(k.first_period) if last == k.first_period
                              else f"{k.first_period}–{last}")
        if groups:
            row["first treated period"] = None if k.group is None else str(k.group)
        if windows or not (spans or groups):
            row.update({"entry from": k.entry_start, "entry to": k.entry_end,
                        "follow-up (months)": k.follow_up_months, "court lag (months)": k.court_lag_months,
                        "measurable from": k.measurable_from})
        rows.append(row)
    return pd.DataFrame(rows)


def _layout(contract: Any) -> str:
    report = getattr(contract, "report", None)
    return getattr(report, "layout", "standard") if report is not None else "standard"


def _gate_words(gate: str, contract: Any) -> str:
    """A gate's name (``outcome / cohort``) in the contract's words: ``reconviction events, cohort 1``."""
    outcome, _, rest = gate.partition(" / ")
    return f"{outcome_label(contract, outcome)}, {rest}" if rest else outcome_label(contract, outcome)


def _risk_table(risk: Any, contract: Any, currency: str) -> pd.DataFrame:
    """The payment-risk figures (the rows of ``PaymentRisk.summary()``, from its fields) as shown: money in the
    house style, probabilities as percentages, gates in the contract's words."""
    rows = [("expected total", money(risk.expected_total, currency)), ("sd of total", money(risk.sd_total, currency))]
    rows += [(f"total, {int(100 * q)}th percentile", money(v, currency)) for q, v in risk.quantiles.items()]
    rows += [("P(any payment)", pct(risk.prob_any_payment))]
    rows += [(f"P(gate met: {_gate_words(g, contract)})", pct(v)) for g, v in risk.prob_gate_met.items()]
    rows += [(f"expected, {k}", money(v, currency)) for k, v in risk.expected_by_payer.items()]
    return pd.DataFrame(rows, columns=["figure", "value"])


def _gate_frame(rows: list[dict[str, Any]], currency: str) -> pd.DataFrame:
    """Gate decisions as text: relative measures as percentages, the rest as numbers."""
    out = []
    for r in rows:
        relative = "reduction" in r
        shown = {}
        for k, v in r.items():
            if k in ("reduction", "value", "gate threshold", "margin", "to") or k.endswith(" from"):
                shown[k] = pct(v, 2) if relative else num(v, 4)
            else:
                shown[k] = cell(v, k, currency)
        out.append(shown)
    return pd.DataFrame(out).rename(columns={"gate threshold": "threshold", "p_value": "p-value"})


def _payment_lines(lines: pd.DataFrame, decisions: list[Any], currency: str) -> pd.DataFrame:
    """The payment lines in the one style (relative measures as percentages, money with its symbol)."""
    lines = lines.drop(columns=[c for c in ("outcome",) if c in lines and lines[c].nunique() <= 1])
    text = styled(lines.drop(columns=["value", "threshold"]), currency)
    relative = [d is None or d.measure.startswith("relative") for d in decisions]
    shown = lambda values: [pct(v, 2) if rel else num(v, 4) for v, rel in zip(values, relative, strict=True)]  # noqa: E731
    text.insert(4, "measured", shown(lines["value"]))
    text.insert(5, "gate", shown(lines["threshold"]))
    return text


def _styled_section(section: Section, currency: str) -> Section:
    """Every table of ``section`` as text in the one style (tables already styled pass through unchanged)."""
    tables = tuple((caption, table if _is_text(table) else styled(table, currency))
                   for caption, table in section.tables)
    return replace(section, tables=tables, paragraphs=tuple(sentence(p) for p in section.paragraphs if p),
                   notes=tuple(sentence(n) for n in section.notes))


def _is_text(frame: pd.DataFrame) -> bool:
    return all(frame[c].map(lambda v: isinstance(v, str)).all() for c in frame.columns)
