"""The Justice Data Lab layout (``[report] layout = "jdl"``) for reoffending outcomes.

Headline measures where the data have them — the one-year proven reoffending rate (a 0/1 column), the
frequency of reoffending (a count) and the time to first reoffence (days, missing when none) — each with
treated and comparison figures per 100 typical people, the difference and its interval, the p-value, the
Justice Data Lab significance rule (p ≤ 0.05 and at least 10 expected events), a "number needed" when a
result is inconclusive, and the profile of the treatment and matched comparison groups with
standardised differences. Time to first reoffence is a headline only with at least 30 reoffenders.

The matched-cohort design estimates the additional measures on each cohort's existing match (the same
matched sets, weights and standard error as the contract's outcome; nothing is re-matched) and records
them in the cohort's results (:attr:`sop_eval.designs.CohortResult.measures`); this module only renders them.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from sop_eval.report.style import num, outcome_label, p_value, pct

JDL_P = 0.05
JDL_MIN_EXPECTED_EVENTS = 10
JDL_MIN_REOFFENDERS = 30
MEASURES = {"binary": "one-year proven reoffending rate", "count": "frequency of reoffending",
            "time_to_event": "time to first reoffence"}


def jdl_significant(p: float, expected_events: float) -> bool:
    """The Justice Data Lab rule: significant only when p ≤ 0.05 and at least 10 events were expected."""
    return p <= JDL_P and expected_events >= JDL_MIN_EXPECTED_EVENTS


def _measures(ev: Any) -> list[tuple[str, str]]:
    """(column, kind) of each headline measure the data have, rate first, then frequency, then time, as the
    matched-cohort design chose them (:func:`sop_eval.designs.psm.jdl_measures`)."""
    return [(m["column"], m["kind"]) for m in ev.parameters.get("jdl_measures", [])]


def _count(n: int, policy: Any) -> str:
    return f"fewer than {policy.threshold + 1}" if 0 < n <= policy.threshold else num(policy.round_count(n))


def _row(name: str, measure: str, est: Any, policy: Any) -> dict[str, Any]:
    refused = est.headline_refused()
    per = 100.0 if est.kind in ("binary", "count") else 1.0
    lo, hi = est.conf_int()
    expected = est.comparison_mean * est.n_treated if est.kind in ("binary", "count") else math.inf
    significant = jdl_significant(est.p_value, expected)
    needed = est.n_needed()
    return {
        "cohort": name, "measure": measure, "people served": _count(est.n_treated, policy),
        "comparison people": _count(est.n_comparison, policy),
        "figures": "per 100 people" if per == 100 else "mean days to first reoffence",
        "treatment group": num(per * est.treated_mean, 1),
        "comparison group figure": num(per * est.comparison_mean, 1),
        "difference": num(per * est.estimate, 1), "interval": f"{num(per * lo, 1)} to {num(per * hi, 1)}",
        "p-value": p_value(est.p_value),
        "significant (JDL rule)": "not a headline" if refused else ("yes" if significant else "no"),
        "number needed": "—" if significant or not math.isfinite(needed) else num(int(needed)),
    }


def _sentence(name: str, measure: str, what: str, est: Any) -> str:
    refused = est.headline_refused()
    if refused:
        return f"{name}, {measure}: not reported as a headline — {refused}."
    per = 100.0 if est.kind in ("binary", "count") else 1.0
    expected = est.comparison_mean * est.n_treated
    significant = jdl_significant(est.p_value, expected if est.kind in ("binary", "count") else math.inf)
    if est.kind == "time_to_event":
        return (f"{name}, {measure}: people served went {num(est.treated_mean, 0)} days on average before a first "
                f"reoffence, against {num(est.comparison_mean, 0)} in the comparison group "
                f"({'a statistically significant' if significant else 'not a statistically significant'} "
                f"difference, p = {est.p_value:.3g}).")
    unit = "people who reoffended" if est.kind == "binary" else what
    diff = per * est.estimate
    lo, hi = (per * v for v in est.conf_int())
    if significant:
        way = "fewer" if diff < 0 else "more"
        lo, hi = sorted((abs(lo), abs(hi)))
        return (f"{name}, {measure}: for 100 typical people in the treatment group, the equivalent of "
                f"{num(per * est.treated_mean, 1)} {unit}, {num(abs(diff), 1)} {way} than in the comparison group "
                f"(between {num(abs(lo), 1)} and {num(abs(hi), 1)}) — a statistically significant result.")
    needed = est.n_needed()
    more = f" About {needed:,.0f} people served would be needed to tell." if math.isfinite(needed) else ""
    return (f"{name}, {measure}: for 100 typical people in the treatment group, the equivalent of "
            f"{num(per * est.treated_mean, 1)} {unit} against {num(per * est.comparison_mean, 1)} in the comparison "
            f"group: lower by as many as {num(abs(lo), 1)} or higher by as many as {num(abs(hi), 1)}; more people "
            f"would be needed to determine the direction.{more}")


def jdl_sections(ev: Any, kit: Any) -> list[Any]:
    """The Justice Data Lab headline measures and the group profiles (matched-cohort evaluations)."""
    if ev.design != "psm":
        return []
    rows, sentences, notes = [], [], []
    what = outcome_label(ev.contract, ev.outcome)
    measures = _measures(ev)
    for k in ev.cohorts:
        if k.matched is None or k.effect is None:
            notes.append(f"{k.name}: {k.status_text}.")
            continue
        if k.n_treated < 60:
            notes.append(f"{k.name}: fewer than 60 people served; the Justice Data Lab runs no analysis below 60.")
        for found in k.measures:
            column, kind, est = found.column, found.kind, found.effect
            measure = MEASURES[kind]
            if est is None:
                notes.append(f"{k.name}, {measure}: not estimated ({found.not_estimated})")
                continue
            rows.append(_row(k.name, measure, est, kit.policy))
            sentences.append(_sentence(k.name, measure, what if column == ev.outcome else "reoffences", est))
    if not measures:
        notes.append("The data have no reoffending rate, frequency or time-to-reoffence column among the outcomes.")
    headline = kit.section(
        "Justice Data Lab headline measures",
        paragraphs=(
            "Headline measures as the Justice Data Lab reports them: per 100 typical people in the treatment "
            "group and in the matched comparison group. A difference is called statistically significant only when "
            f"p ≤ {JDL_P} and at least {JDL_MIN_EXPECTED_EVENTS} events were expected; time to first reoffence is "
            f"a headline only with at least {JDL_MIN_REOFFENDERS} reoffenders among the people served. Where a "
            "result is inconclusive, the number needed is how many people served would detect an effect of the "
            "estimated size (80% power).",
            *sentences),
        tables=(("Headline measures", pd.DataFrame(rows)),) if rows else (),
        notes=notes,
    )
    profiles = []
    for k in ev.cohorts:
        if k.matched is None:
            continue
        table = k.matched.balance().table
        cols = [c for c in ("mean_treated_after", "mean_control_after", "smd_after") if c in table]
        if not cols:
            continue
        label = ev.contract.data.label if ev.contract.data is not None else (lambda n: str(n).replace("_", " "))
        shown = table[cols].reset_index(names="characteristic").rename(columns={
            "mean_treated_after": "treatment group", "mean_control_after": "matched comparison group",
            "smd_after": "standardised difference"})
        shown["characteristic"] = shown["characteristic"].map(label)
        profiles.append((f"{k.name}: profile of the treatment and matched comparison groups (means; proportions "
                         "for categories)", shown))
    profile = kit.section(
        "Profile of the treatment and comparison groups",
        paragraphs=("Standardised differences are the difference in means after matching in standard deviations "
                    "(the denominator the balance tables name); an absolute difference above 0.1 "
                    f"({pct(0.1, 0)} of a standard deviation) is flagged there.",),
        tables=profiles,
    )
    return [headline, profile]
