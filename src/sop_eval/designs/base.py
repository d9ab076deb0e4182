"""The interface every evaluation design implements, the per-cohort result it returns, and the registry.

A design turns a contract's data into one :class:`CohortResult` per contract cohort (the effect with
its uncertainty, in the one vocabulary of :class:`~sop_eval.effects.estimate.EffectEstimate`) and
describes itself to the report: the sections it adds and its methods text.
:func:`sop_eval.evaluation.evaluate` does everything else (loading the data, pooling, gates, payments,
payment risk) the same way for every design.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import pandas as pd

from sop_eval.contract import Cohort, Contract
from sop_eval.contract.vocabulary import EVALUATION_DESIGNS, declare_design
from sop_eval.data import EvaluationData
from sop_eval.effects.estimate import EffectEstimate
from sop_eval.errors import SopEvalError


@dataclass(frozen=True)
class OutcomeMeasure:
    """One more outcome measured on a cohort's comparison (e.g. a Justice Data Lab headline measure).

    ``column`` is the outcome column, ``kind`` ``"binary"``, ``"count"`` or ``"time_to_event"``; ``effect``
    the estimate on the cohort's match, or ``None`` with ``not_estimated`` saying why.
    """

    column: str
    kind: str
    effect: EffectEstimate | None = None
    not_estimated: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe record (aggregates only)."""
        return {"column": self.column, "kind": self.kind,
                "effect": None if self.effect is None else self.effect.to_dict(), "not_estimated": self.not_estimated}


@dataclass(frozen=True)
class CohortResult:
    """One contract cohort: its people (or areas), the comparison built for it and the effect measured.

    ``status`` is ``"measured"``, ``"not yet measurable"`` (its outcome window — the last entry date
    plus follow-up plus court lag — closes after the data extract date) or ``"no treated people"``.
    ``first_measurable`` says when a cohort that is not yet measurable will be (default: on
    ``window_closes``). ``matched``, ``risk`` and ``dropped`` belong to matched-cohort designs;
    ``measures`` holds further outcomes measured on the same comparison (the Justice Data Lab layout's);
    ``details`` holds what a design records beyond the common fields.
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
    first_measurable: str | None = None
    measures: tuple[OutcomeMeasure, ...] = ()

    @property
    def measured(self) -> bool:
        """Whether an effect was estimated for this cohort."""
        return self.status == "measured"

    @property
    def status_text(self) -> str:
        """The status in words, with the first measurable date where it applies."""
        if self.status == "not yet measurable":
            when = self.first_measurable or f"on {self.window_closes}"
            return f"not yet measurable — first measurable {when}"
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
        if self.measures:
            out["measures"] = [m.to_dict() for m in self.measures]
        return out

    def __repr__(self) -> str:
        effect = "" if self.effect is None else f", estimate={self.effect.estimate:.4g} (se {self.effect.se:.3g})"
        return f"CohortResult({self.name!r}, {self.status_text!r}, n_treated={self.n_treated}{effect})"


@dataclass(frozen=True)
class Prepared:
    """What a design made of the contract and the data before measuring cohorts.

    ``outcome``: the contract outcome evaluated; ``parameters``: every setting of the run (recorded in
    ``audit.json``); ``data``: the validated person-level data where the design validates it so;
    ``fit``: a design-wide result kept on the :class:`~sop_eval.evaluation.Evaluation` (``None`` if
    none); ``state``: whatever else the design's own ``measure`` and ``pool`` need.
    """

    outcome: str
    parameters: dict[str, Any]
    data: EvaluationData | None = None
    fit: Any = None
    state: Any = None


@dataclass(frozen=True)
class DesignCheck:
    """What a design's own check of a contract and its data found, estimating nothing (``sop-eval check``).

    ``cohorts``: a row per contract cohort; ``problems``: what would stop a run; ``notes``: what a commissioner
    should know before running. Warnings are issued as :class:`~sop_eval.errors.SopEvalWarning`.
    """

    cohorts: pd.DataFrame
    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


class ReportKit(Protocol):
    """What the report lends a design to build its sections (the report sits above the designs).

    Tables of counts go through :meth:`protect` (disclosure control under ``policy``), figures through
    :meth:`figure`; both are recorded by the report for ``figures/`` and the audit record.
    """

    policy: Any

    def protect(self, frame: pd.DataFrame, counts: Sequence[str], *, name: str, row_total: str | None = None,
                total_row: Any = None) -> Any:
        """``frame`` with its ``counts`` columns suppressed and rounded; ``.table`` is what may be shown.
        ``row_total``/``total_row`` name a total column/row, for secondary suppression."""
        ...

    def figure(self, name: str, caption: str, plot: str, *args: Any, size: tuple[float, float] = (6.4, 3.4),
               **kwargs: Any) -> Any:
        """A figure saved as ``figures/<name>``, drawn by the report's plot function ``plot`` on ``args``."""
        ...

    def estimates(self, frame: pd.DataFrame) -> pd.DataFrame:
        """A table of estimates as shown: p-values as text (never a rounded zero), figures to four decimals."""
        ...

    def section(self, title: str, *, paragraphs: Sequence[str] = (), tables: Sequence[tuple[str, pd.DataFrame]] = (),
                figures: Sequence[Any] = (), notes: Sequence[str] = ()) -> Any:
        """A report section: paragraphs, notes, captioned tables and figures, in that order."""
        ...


class Design(Protocol):
    """An evaluation design: how a contract cohort's effect is measured, and how the report describes it."""

    name: str
    """The value of ``[evaluation] design`` in a contract, e.g. ``"psm"``."""
    title: str
    """The design in words, e.g. ``"matched cohorts"``."""
    contract_keys: tuple[str, ...]
    """The ``[evaluation]`` keys it reads (any other is refused when a contract names the design)."""
    data_columns: tuple[str, ...]
    """The ``[data.columns]`` roles it reads."""

    def prepare(self, contract: Contract, frame: pd.DataFrame, *, seed: int, as_of: dt.date | str | None,
                risk_draws: int) -> Prepared:
        """Check the contract's settings and validate ``frame`` for this design; fit anything fitted once."""
        ...

    def measure(self, cohort: Cohort, prepared: Prepared, *, seed: int) -> CohortResult:
        """The result for one contract cohort (measured, not yet measurable, or without treated people)."""
        ...

    def report_sections(self, evaluation: Any, kit: ReportKit) -> list[Any]:
        """The report sections this design adds after the headline (built with ``kit``)."""
        ...

    def methods(self, evaluation: Any, *, significance: str, policy: str) -> tuple[str, ...]:
        """The paragraphs of the report's "Methods and conventions" section."""
        ...


@runtime_checkable
class PoolsCohorts(Protocol):
    """A design whose cohorts share a fit (and so are not independent) pools them itself.

    ``pool`` returns the pooled result of the measured ``cohorts`` — the same point estimate as
    :func:`~sop_eval.effects.pooling.pool_cohorts` (the ``n_treated``-weighted mean of their effects), with
    a standard error that accounts for what the cohorts share. Designs without it are pooled by
    ``pool_cohorts``, which treats cohorts as independent.
    """

    def pool(self, cohorts: Sequence[CohortResult], prepared: Prepared, *, label: str) -> EffectEstimate:
        """The pooled result of ``cohorts`` (all measured)."""
        ...


DESIGNS: dict[str, Design] = {}
"""Every design ``evaluate`` can run, by the name a contract gives in ``[evaluation] design``."""


def register(design: Design) -> Design:
    """Add ``design`` to :data:`DESIGNS` under ``design.name`` (a design registered twice is an error)."""
    if design.name in DESIGNS and DESIGNS[design.name] is not design:
        raise SopEvalError(f"an evaluation design named {design.name!r} is already registered; choose another name.")
    keys = getattr(design, "contract_keys", None)
    if keys is not None:
        declare_design(design.name, keys, getattr(design, "data_columns", ()))
    elif design.name not in EVALUATION_DESIGNS:
        raise SopEvalError(
            f"evaluation design {design.name!r} must say which contract keys it reads: give it contract_keys "
            "(its [evaluation] keys) and data_columns (its [data.columns] roles)."
        )
    DESIGNS[design.name] = design
    return design

