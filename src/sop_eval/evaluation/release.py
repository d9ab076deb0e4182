"""The release-safe export of an evaluation (``results.release.json``) and the mark on the full results.

``results.json`` holds every figure unrounded, for verification; it is not for release. The export holds
the headline a reader needs — per cohort and pooled: status, people counted, outcome rates, the reduction
with its interval, the gate and the payment — with every count of people passed through the same disclosure policy
as the report (:mod:`sop_eval.report.disclosure`; the counts of areas and population-periods of area-level
designs are exact, as there) and rates and percentages rounded to one decimal; ``level`` is the confidence
level of its intervals.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from sop_eval.report.disclosure import AREA_DESIGNS, DisclosurePolicy, ProtectedTable, count_columns, protect
from sop_eval.stats.estimate import DEFAULT_LEVEL

#: The mark ``results.json`` carries at its top level.
NOT_FOR_RELEASE = ("not for release: unrounded figures and small counts, kept for verification; "
                   "publish report.html or results.release.json")
#: The mark ``results.release.json`` carries at its top level.
RELEASE_SAFE = "release-safe: every count under the disclosure policy named here; rates rounded to 0.1"
#: The mark of the export of an area-level design, whose counts are areas and population totals, not people.
RELEASE_SAFE_AREAS = ("release-safe: counts of areas and population-periods are exact (not counts of people); "
                      "rates rounded to 0.1")

_COUNTS = ("n_treated", "n_comparison")


def _round(value: Any, digits: int = 1) -> float | None:
    if value is None:
        return None
    v = float(value)
    return round(v, digits) if math.isfinite(v) else None


def _percent(value: Any) -> float | None:
    return None if value is None else _round(100 * float(value))


def release_record(evaluation: Any, policy: DisclosurePolicy) -> tuple[dict[str, Any], list[ProtectedTable]]:
    """The release-safe export of ``evaluation`` and the disclosure log of its tables."""
    ev = evaluation
    c = ev.contract
    head = ev.headline()
    counts = {k.name: k.effect for k in ev.cohorts if k.effect is not None}
    if ev.pooled is not None:
        counts["pooled"] = ev.pooled
    rows = []
    for record in head.to_dict(orient="records"):
        est = counts.get(record["cohort"])
        row: dict[str, Any] = {"cohort": record["cohort"], "status": record["status"]}
        if est is not None:
            row.update(n_treated=int(est.n_treated), n_comparison=int(getattr(est, "n_comparison", 0) or 0))
        for key in ("treated_per_100", "comparison_per_100", "treated_mean", "comparison_mean"):
            if key in record:
                row[key] = _round(record[key])
        for key, name in (("reduction", "reduction_percent"), ("reduction_ci_low", "reduction_ci_low_percent"),
                          ("reduction_ci_high", "reduction_ci_high_percent"), ("gate", "gate_percent")):
            if key in record and record[key] == record[key]:
                row[name] = _percent(record[key])
        if "gate_met" in record and record.get("gate") == record.get("gate"):
            row["gate_met"] = bool(record["gate_met"])
        if "payment" in record and record["payment"] == record["payment"]:
            row["payment"] = _round(record["payment"], 2)
        rows.append(row)
    protected: list[ProtectedTable] = []
    measured = [r for r in rows if "n_treated" in r]
    if measured:
        frame = pd.DataFrame(measured).set_index("cohort")[list(_COUNTS)]
        parts = frame.drop(index="pooled", errors="ignore")
        # the pooled row adds up the cohorts it pools: a total that could reveal a suppressed cohort
        total = "pooled" if "pooled" in frame.index and len(parts) > 1 and \
            (parts.sum() == frame.loc["pooled"]).all() else None
        table = protect(frame, count_columns(ev.design, _COUNTS), name="release: people per cohort", policy=policy,
                        total_row=total)
        protected.append(table)
        for r in measured:
            for key in _COUNTS:
                r[key] = _json_cell(table.table.loc[r["cohort"], key])
    data = None
    if ev.data is not None:
        sizes = ev.data.to_dict()
        frame = pd.DataFrame([{"n_treated": sizes["n_treated"], "n_pool": sizes["n_pool"]}])
        table = protect(frame, count_columns(ev.design, ["n_treated", "n_pool"]), name="release: people in the data",
                        policy=policy)
        protected.append(table)
        data = {k: _json_cell(table.table.iloc[0][k]) for k in ("n_treated", "n_pool")}
    s = ev.schedule
    record = {
        "release": RELEASE_SAFE_AREAS if ev.design in AREA_DESIGNS else RELEASE_SAFE,
        "disclosure_policy": policy.to_dict(),
        "contract": {"name": c.name, "version": c.version, "currency": c.currency, "sha256": c.sha256},
        "design": ev.design,
        "outcome": ev.outcome,
        "extract_date": ev.parameters.get("extract_date"),
        "as_of": ev.parameters.get("as_of"),
        "data": data,
        "level": float(ev.parameters.get("level", DEFAULT_LEVEL)),
        "cohorts": rows,
        "payments": {"total": _round(s.total, 2),
                     "by_payer": {name: _round(v, 2) for name, v in s.by_payer.items()}},
    }
    return record, protected


def _json_cell(value: Any) -> Any:
    return value if isinstance(value, str) else int(value)
