"""The results of an evaluation: per-cohort results, the whole evaluation and its headline table."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from sop_eval.data import EvaluationData
from sop_eval.effects.estimate import EffectEstimate
from sop_eval.errors import SopEvalError, examples
from sop_eval.payments import Contract, PaymentSchedule


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
