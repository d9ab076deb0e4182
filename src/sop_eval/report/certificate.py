"""The payment certificate: the decision on one page, before any method.

For each cohort and the pooled result: measured or not yet (and when), the reduction with its interval,
the gate and whether it is met, statistical significance beside it (and whether the contract requires
it), the amount due, the cap that bit, the due date and the payer split; then the total, the digest of
``results.json``, the package version and the time of the run. One sentence each, Justice Data Lab
wording ("For 100 typical people in cohort 1, …").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from sop_eval.report.style import DASH, money, outcome_label, pct, yes_no
from sop_eval.stats.estimate import interval_label

SAMPLING_NOTE = (
    "P(gate met) is a sampling statement: the share of simulated estimates, drawn from the estimate's sampling "
    "distribution around the measured value, that meet the gate. It is not the probability that the true effect "
    "clears the gate."
)


@dataclass(frozen=True)
class Certificate:
    """The certificate's content: a sentence and a table row per cohort and pooled result, and the totals."""

    title: str
    sentences: tuple[str, ...]
    table: pd.DataFrame
    total: str
    payers: str
    provenance: str


def _lines(ev: Any) -> dict[str | None, Any]:
    """The payment line of each cohort (by name) and of the pooled result (key None) for the evaluated outcome."""
    found: dict[str | None, Any] = {}
    for line in ev.schedule.lines:
        if line.outcome != ev.outcome:
            continue
        if line.kind == "pooled catch-up":
            found[None] = line
        elif line.cohort is not None and line.cohort not in found:
            found[line.cohort] = line
    return found


def _per_unit(est: Any) -> tuple[float, str]:
    """Scale and the phrase of the JDL sentence: per 100 typical people for counts and rates, else per person."""
    rate_per = est.details.get("rate_per")
    if isinstance(rate_per, int) and rate_per > 1:  # area-level designs: per person-period, stated as the rate
        return float(rate_per), f"Per {rate_per:,} population per period"
    if est.kind in ("binary", "count") and est.design != "did":
        return 100.0, "For 100 typical people"
    return 1.0, "On average per person" if est.design != "did" else "On average per area"


def effect_sentence(name: str, est: Any, what: str) -> str:
    """``For 100 typical people in cohort 1, the service reduced reconviction events by between A and B …``."""
    scale, lead = _per_unit(est)
    lo, hi = est.conf_int()
    red, red_lo, red_hi = -scale * est.estimate, -scale * hi, -scale * lo
    label = interval_label(est.level)
    where = "the pooled cohorts" if name == "pooled" else name
    digits = 1 if scale == 100 else 3
    f = lambda v: f"{abs(v):,.{digits}f}"  # noqa: E731
    if red_lo > 0:
        change = f"reduced {what} by between {f(red_lo)} and {f(red_hi)} (best estimate {f(red)}; {label})"
    elif red_hi < 0:
        change = f"increased {what} by between {f(red_hi)} and {f(red_lo)} (best estimate {f(red)}; {label})"
    else:
        best = f"{f(red)} fewer" if red > 0 else f"{f(red)} more" if red < 0 else "no change"
        needed = est.n_needed()
        more = (f"; about {needed:,.0f} {est.counted} would be needed to determine the direction" if
                getattr(est, "scales_with_n", True) and math.isfinite(needed) else "")
        change = (f"changed {what} by between {f(red_hi)} fewer and {f(red_lo)} more (best estimate {best}; "
                  f"{label}){more}")
    rlo, rhi = est.relative_conf_int()
    means = (f"{scale * est.treated_mean:,.{digits}f} against {scale * est.comparison_mean:,.{digits}f} in the "
             "comparison group")
    return (f"{lead} in {where}, the service {change}: {means}, a reduction of {pct(-est.relative)} "
            f"({label} {pct(-rhi)} to {pct(-rlo)}).")


def gate_sentence(decision: Any) -> str:
    """The gate, whether it is met, and significance beside it."""
    if decision is None:
        return "No gate applies."
    relative = decision.measure.startswith("relative")
    show = pct if relative else (lambda v: f"{v:.4g}")
    gate = f"The gate, a {show(decision.threshold)} {'reduction' if relative else decision.measure.replace('_', ' ')}, "
    gate += "is met" if decision.met_threshold else "is not met"
    if decision.p_value is None or decision.significant is None:
        sig = "; no significance test is possible (no standard error)"
    else:
        p = "p < 0.0001" if decision.p_value < 1e-4 else f"p = {decision.p_value:.3g}"
        sig = f"; the result is {'' if decision.significant else 'not '}statistically significant ({p})"
    if decision.requires_significance:
        sig += ", which the contract requires"
        if decision.met_threshold and not decision.met:
            sig += ", so the gate as written is not passed"
    else:
        sig += ", which the contract does not require"
    return gate + sig + "."


def payment_sentence(line: Any, currency: str) -> str:
    """Amount due, cap, due date and payer split of one payment line."""
    if line is None:
        return "No payment line."
    text = f"Amount due: {money(line.amount, currency)}"
    if line.capped_by:
        cap = line.capped_by if "cap" in line.capped_by else line.capped_by + " cap"
        text += f" (cut from {money(line.gross, currency)} by the {cap})"
    if line.due is not None and line.amount > 0:
        text += f", due {line.due.isoformat()}"
    elif line.due is not None and "not yet" in line.status:
        text += f"; payable from {line.due.isoformat()} if the gate is then met"
    if line.amount > 0 and line.payers:
        text += " — " + ", ".join(f"{name} {money(v, currency)}" for name, v in line.payers)
    return text + "."


def build_certificate(ev: Any, *, results_sha256: str, version: str, run_time: str) -> Certificate:
    """The certificate of an evaluation (``results_sha256``: digest of its ``results.json``)."""
    c = ev.contract
    cur = c.currency
    what = outcome_label(c, ev.outcome)
    lines = _lines(ev)
    sentences: list[str] = []
    rows: list[dict[str, str]] = []
    entries: list[tuple[str, Any, Any, str]] = [(k.name, k.effect, lines.get(k.name), k.status_text)
                                                for k in ev.cohorts]
    if ev.pooled is not None or None in lines:
        entries.append(("pooled", ev.pooled, lines.get(None), "measured" if ev.pooled is not None else
                        "not yet measurable"))
    level = ev.parameters.get("level", 0.95)
    for name, est, line, status in entries:
        decision = None if line is None else line.decision
        title = "Pooled result" if name == "pooled" else name[:1].upper() + name[1:]
        if est is None:
            when = status.replace("not yet measurable — ", "")
            text = (f"{title}: {status.split(' — ')[0]}" + (f" ({when})" if when != status else "")
                    + "; nothing is due yet.")
            if line is not None and line.due is not None:
                text = text[:-1] + f"; payable from {line.due.isoformat()} if the gate is met."
        else:
            text = f"{title}: measured. {effect_sentence(name, est, what)} {gate_sentence(decision)} " + \
                payment_sentence(line, cur)
        sentences.append(text)
        lo_hi = DASH
        if est is not None:
            rlo, rhi = est.relative_conf_int()
            lo_hi = f"{pct(-rhi)} to {pct(-rlo)}"
        rows.append({
            "result": name,
            "status": "measured" if est is not None else status.replace(" — ", ", "),
            "reduction": DASH if est is None else pct(-est.relative),
            interval_label(level): lo_hi,
            "gate": DASH if decision is None else (pct(decision.threshold) if decision.measure.startswith("relative")
                                                   else f"{decision.threshold:.4g}"),
            "gate met": DASH if decision is None else ("met" if decision.met else "not met"),
            "significant": DASH if decision is None or decision.significant is None else
            yes_no(decision.significant) + (" (required)" if decision.requires_significance else " (not required)"),
            "amount due": DASH if line is None else money(line.amount, cur),
            "cap that bit": (line.capped_by or "none") if line is not None else DASH,
            "due": DASH if line is None or line.due is None else line.due.isoformat(),
        })
    others = [ln for ln in ev.schedule.lines if ln.outcome != ev.outcome]
    for ln in others:
        rows.append({"result": f"{ln.outcome}: {ln.reference}", "status": ln.status, "reduction": DASH,
                     interval_label(level): DASH, "gate": DASH, "gate met": DASH, "significant": DASH,
                     "amount due": money(ln.amount, cur), "cap that bit": ln.capped_by or "none",
                     "due": DASH if ln.due is None else ln.due.isoformat()})
    total = f"Total due: {money(ev.schedule.total, cur)}."
    payers = "Paid by: " + "; ".join(f"{name} {money(v, cur)}" for name, v in ev.schedule.by_payer.items()) + "."
    provenance = (f"Results bundle digest (SHA-256 of results.json): {results_sha256}. sop-eval {version}; "
                  f"run at {run_time}; contract {c.name} version {c.version} (SHA-256 {c.sha256[:16]}…).")
    return Certificate(title=f"Payment certificate — {c.name}", sentences=tuple(sentences),
                       table=pd.DataFrame(rows), total=total, payers=payers, provenance=provenance)
