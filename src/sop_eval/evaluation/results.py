"""The results of an evaluation: the whole evaluation, its per-cohort results and its headline table."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from sop_eval.contract import Contract
from sop_eval.data import EvaluationData
from sop_eval.designs import AreaFit, CohortResult, DidEvaluation
from sop_eval.effects.estimate import EffectEstimate
from sop_eval.errors import SopEvalError, examples
from sop_eval.payments import PaymentSchedule

__all__ = ["CohortResult", "DidEvaluation", "Evaluation"]


@dataclass(frozen=True)
class Evaluation:
    """A whole evaluation: validated data, per-cohort results, the pooled effect and the payment schedule.

    ``design`` names the evaluation design (``"psm"``: matched cohorts, ``"did"``: staggered adoption;
    see :mod:`sop_eval.designs`); ``fit`` is the design-wide result where the design has one (for
    ``"did"`` the :class:`DidEvaluation`, for ``"synthetic_control"`` and ``"sdid"`` the
    :class:`~sop_eval.designs.synth.AreaFit`, recorded under ``"area"`` in ``results.json``), else ``None``.
    ``warnings`` lists every warning the evaluation raised (data validation, matching, ties), in order:
    conditions that do not stop it but bear on a payment.
    """

    contract: Contract
    data: EvaluationData | None
    outcome: str
    cohorts: tuple[CohortResult, ...]
    pooled: EffectEstimate | None
    schedule: PaymentSchedule
    payment_risk: Any = None
    parameters: dict[str, Any] = field(default_factory=dict)
    inputs: tuple[Path, ...] = ()
    design: str = "psm"
    fit: Any = None
    warnings: tuple[str, ...] = ()

    @property
    def did(self) -> DidEvaluation | None:
        """The staggered-adoption fit of a difference-in-differences evaluation (``None`` for other designs)."""
        return self.fit if isinstance(self.fit, DidEvaluation) else None

    def cohort(self, name: str) -> CohortResult:
        """The result for the contract cohort ``name``."""
        for c in self.cohorts:
            if c.name == name:
                return c
        raise SopEvalError(f"no cohort {name!r}; cohorts: {examples([c.name for c in self.cohorts])}.")

    def headline(self) -> pd.DataFrame:
        """Per cohort and pooled: outcome per 100 treated and comparison, reduction with CI, gate, payment.

        ``reduction`` and its interval are ``-relative`` of the row's estimate; for the pooled row that is the
        pooled result (all cohorts together), the figure the contract's pooled gate is decided on.
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
        out = {
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
            "warnings": list(self.warnings),
        }
        if isinstance(self.fit, AreaFit):
            out["area"] = self.fit.to_dict()
        return out

    def __repr__(self) -> str:
        c = self.contract
        measured = sum(k.measured for k in self.cohorts)
        pooled = ("" if self.pooled is None
                  else f", pooled estimate {self.pooled.estimate:.4g} (se {self.pooled.se:.3g})")
        return (f"<Evaluation of {c.name!r} version {c.version}: design {self.design}, outcome {self.outcome}\n"
                f"  cohorts: {len(self.cohorts)} ({measured} measured){pooled}\n"
                f"  total due: {c.currency} {float(self.schedule.total):,.2f}>")

    def _repr_html_(self) -> str:
        c = self.contract
        title = html.escape(f"{c.name} (version {c.version}): design {self.design}, outcome {self.outcome}")
        table = self.headline().to_html(index=False, escape=True, border=0, na_rep="—",
                                        float_format=lambda v: f"{v:.4g}")
        total = html.escape(f"total due: {c.currency} {float(self.schedule.total):,.2f}")
        return f"<div><p><strong>{title}</strong></p>{table}<p>{total}</p></div>"


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
        rate_per = est.details.get("rate_per")  # area-level designs: means as the outcome's rate
        if est.design == "did" or isinstance(rate_per, int):
            scale = rate_per if isinstance(rate_per, int) else 1
            row.update(treated_mean=scale * est.treated_mean, comparison_mean=scale * est.comparison_mean)
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
    if line is not None:
        row.update(payment=float(line.amount), payment_status=line.status)
    return row
