"""Contractual gates on effect estimates, evaluated to trigger decisions.

A :class:`Gate` is a test the contract writes on the **point estimate** — e.g. "a relative reduction
in reconviction events of at least 10%" — optionally also requiring statistical significance at level
``alpha``. :meth:`Gate.evaluate` returns a :class:`TriggerDecision` that records, side by side, the
contractual test (value, threshold, margin, met or not) and the statistical test (confidence interval,
p-value, significant or not).

Conventions:

- The gate compares **unrounded** numbers. Floats are read through their shortest decimal form
  (``Decimal(repr(x))``) and the comparison is made in decimal arithmetic, so an estimate printed as
  ``0.1`` meets a threshold of ``0.1`` exactly. Thresholds are inclusive: met when ``value >= threshold``.
- Measures (the contract's scale): ``relative_reduction`` = ``-estimate / comparison_mean`` (the
  Peterborough "% reduction"), ``relative_increase`` = ``estimate / comparison_mean``, ``reduction`` =
  ``-estimate`` and ``increase`` = ``estimate`` (outcome units per person).
- Significance: ``p_value < alpha`` (strict, as :meth:`EffectEstimate.significant`) **and** the effect in
  the contract's favourable direction. Relative measures use the delta-method interval of the estimate.
- Pooled gates (:meth:`Gate.evaluate_pooled`) use the cohort-size-weighted mean of the cohort values
  (weights ``n_treated``), the Peterborough final result; its standard error treats cohorts as
  independent: ``sqrt(sum(w_i**2 * se_i**2))`` with weights summing to one.
"""

from __future__ import annotations

import decimal
import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Mapping, Sequence

import pandas as pd
from scipy import stats

from sop_eval.contract.vocabulary import MEASURES
from sop_eval.errors import SopEvalError, examples
from sop_eval.estimate import EffectEstimate

_CONTEXT = decimal.Context(prec=40)


def to_decimal(value: Any, name: str = "value") -> Decimal:
    """``value`` as a Decimal through its shortest decimal form (floats via ``repr``)."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise SopEvalError(f"{name}={value!r} must be a number, not true/false.")
    if isinstance(value, int):
        return Decimal(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise SopEvalError(f"{name}={value!r} is not a number.") from None
    if not math.isfinite(number):
        raise SopEvalError(f"{name}={value!r} must be a finite number.")
    return Decimal(repr(number))


def measure_value(estimate: EffectEstimate, measure: str) -> Decimal:
    """The estimate on the contract's ``measure`` scale, exactly (see the module conventions)."""
    _check_measure(measure)
    effect = to_decimal(estimate.estimate, "estimate")
    if measure in ("reduction", "increase"):
        return -effect if measure == "reduction" else effect
    base = to_decimal(estimate.comparison_mean, "comparison_mean")
    if base == 0:
        raise SopEvalError(
            f"estimate {estimate.label or estimate.outcome or ''!r} has comparison_mean 0: a relative change "
            "is undefined. Use an absolute measure ('reduction' or 'increase') for this gate."
        )
    ratio = _CONTEXT.divide(effect, base)
    return -ratio if measure == "relative_reduction" else ratio


def measure_se(estimate: EffectEstimate, measure: str) -> float | None:
    """Standard error of the estimate on ``measure``'s scale, or None when no standard error was given."""
    if not se_known(estimate):
        return None
    return float(estimate.relative_se if measure.startswith("relative") else estimate.se)


def se_known(estimate: EffectEstimate) -> bool:
    """False when the estimate was built without a standard error (``details['se_given'] is False``)."""
    return bool(estimate.details.get("se_given", True))


def _check_measure(measure: str) -> None:
    if measure not in MEASURES:
        raise SopEvalError(f"gate measure {measure!r} is not one of {examples(MEASURES)}.")


@dataclass(frozen=True)
class TriggerDecision:
    """The outcome of a gate on an estimate: the contractual test and the statistical test side by side.

    ``value`` is the estimate on the gate's measure (unrounded; ``value_exact`` holds the decimal used for
    the comparison), ``margin = value - threshold``, ``met_threshold`` is the contractual test alone,
    ``significant`` the statistical test (None when no standard error is known), and ``met`` whether the
    gate as written was passed (the threshold, plus significance when ``alpha`` is set).
    """

    gate: str
    measure: str
    threshold: float
    value: float
    value_exact: Decimal
    margin: float
    met_threshold: bool
    met: bool
    alpha: float | None
    requires_significance: bool
    se: float | None
    ci_low: float | None
    ci_high: float | None
    level: float
    p_value: float | None
    significant: bool | None
    n_treated: int
    estimates: tuple[EffectEstimate, ...] = field(default=(), repr=False)
    pooled: bool = False

    @property
    def design(self) -> str:
        """Counterfactual design(s) of the estimate(s), joined by '+' when they differ."""
        return "+".join(dict.fromkeys(e.design for e in self.estimates)) or ""

    @property
    def weaker_evidence(self) -> bool:
        """True when any estimate rests on a historical baseline or an assumed rate."""
        return any(e.weaker_evidence for e in self.estimates)

    def conf_int(self) -> tuple[float | None, float | None]:
        """Confidence interval of ``value`` on the gate's measure at ``level``."""
        return (self.ci_low, self.ci_high)

    def summary(self) -> pd.DataFrame:
        """One tidy row: contractual test (value, threshold, margin, met) beside the statistical test."""
        return pd.DataFrame([{k: v for k, v in self.to_dict().items() if k not in ("estimates", "value_exact")}])

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe record; ``value_exact`` as a decimal string."""

        def num(v: float | None) -> float | None:
            return None if v is None or not math.isfinite(v) else float(v)

        return {
            "gate": self.gate,
            "measure": self.measure,
            "pooled": self.pooled,
            "threshold": self.threshold,
            "value": num(self.value),
            "value_exact": str(self.value_exact),
            "margin": num(self.margin),
            "met_threshold": self.met_threshold,
            "requires_significance": self.requires_significance,
            "alpha": self.alpha,
            "se": num(self.se),
            "ci_low": num(self.ci_low),
            "ci_high": num(self.ci_high),
            "level": self.level,
            "p_value": num(self.p_value),
            "significant": self.significant,
            "met": self.met,
            "n_treated": self.n_treated,
            "design": self.design,
            "weaker_evidence": self.weaker_evidence,
            "estimates": [e.label or e.outcome for e in self.estimates],
        }

    def describe(self) -> str:
        """A plain sentence on the decision."""
        pct = self.measure.startswith("relative")

        def fmt(v: float) -> str:
            return f"{100 * v:.2f}%" if pct else f"{v:.4g}"

        words = self.measure.replace("_", " ")
        text = (
            f"{self.gate}: {words} {fmt(self.value)} against a threshold of {fmt(self.threshold)} "
            f"({'met' if self.met_threshold else 'missed'} by {fmt(abs(self.margin))})"
        )
        if self.p_value is not None:
            text += f"; p = {self.p_value:.3g}"
        if self.requires_significance:
            text += f", significance at {self.alpha} {'shown' if self.significant else 'not shown'}"
        return text + f" — gate {'met' if self.met else 'not met'}."


@dataclass(frozen=True)
class Gate:
    """A contractual test on an estimate: ``measure >= threshold``, optionally also ``p < alpha``.

    ``threshold`` is on the measure's scale (0.10 for a 10% relative reduction). See the module
    docstring for measures and conventions.
    """

    threshold: Decimal | float
    measure: str = "relative_reduction"
    alpha: float | None = None
    label: str = "gate"

    def __post_init__(self) -> None:
        _check_measure(self.measure)
        object.__setattr__(self, "threshold", to_decimal(self.threshold, "threshold"))
        if self.measure.startswith("relative") and not Decimal(0) <= self.threshold <= Decimal(1):
            raise SopEvalError(
                f"gate {self.label!r}: threshold {self.threshold} for {self.measure} must lie between 0 and 1 "
                "(0.10 means 10%)."
            )
        if self.alpha is not None and not 0 < float(self.alpha) < 1:
            raise SopEvalError(f"gate {self.label!r}: alpha={self.alpha} must lie strictly between 0 and 1.")

    def evaluate(self, estimate: EffectEstimate) -> TriggerDecision:
        """Evaluate the gate on one estimate."""
        if not isinstance(estimate, EffectEstimate):
            raise SopEvalError(f"gate {self.label!r} needs an EffectEstimate, got {type(estimate).__name__}.")
        value = measure_value(estimate, self.measure)
        se = measure_se(estimate, self.measure)
        return self._decide(value, se, estimate.level, (estimate,), pooled=False)

    def evaluate_pooled(
        self, estimates: Sequence[EffectEstimate], weights: Sequence[float] | str = "n_treated"
    ) -> TriggerDecision:
        """Evaluate the gate on the weighted mean of the cohort values (weights ``n_treated`` by default)."""
        ests = tuple(estimates)
        if not ests:
            raise SopEvalError(f"pooled gate {self.label!r} has no cohort estimates to pool.")
        raw = [e.n_treated for e in ests] if isinstance(weights, str) and weights == "n_treated" else weights
        if isinstance(raw, str):
            raise SopEvalError(f"pooled gate weights={weights!r}: use 'n_treated' or a list of numbers.")
        w = [to_decimal(x, "weight") for x in raw]
        if len(w) != len(ests) or any(x < 0 for x in w) or sum(w) <= 0:
            raise SopEvalError(
                f"pooled gate {self.label!r}: weights {examples(raw)} must be one non-negative number per "
                f"estimate ({len(ests)}) with a positive total."
            )
        total = sum(w)
        share = [_CONTEXT.divide(x, total) for x in w]
        value = sum((s * measure_value(e, self.measure) for s, e in zip(share, ests)), Decimal(0))
        ses = [measure_se(e, self.measure) for e in ests]
        se = None if any(s is None for s in ses) else math.sqrt(sum(float(s) ** 2 * v**2 for s, v in zip(share, ses)))
        return self._decide(value, se, ests[0].level, ests, pooled=True)

    def _decide(
        self, value: Decimal, se: float | None, level: float, ests: tuple[EffectEstimate, ...], pooled: bool
    ) -> TriggerDecision:
        threshold = Decimal(self.threshold)
        met_threshold = value >= threshold
        fval = float(value)
        alpha_used = self.alpha if self.alpha is not None else 1 - level
        lo = hi = p = significant = None
        if se is not None and math.isfinite(se):
            if len(ests) == 1:
                lo, hi = _single_interval(ests[0], self.measure)
                p = ests[0].p_value
            else:
                z = float(stats.norm.ppf(0.5 + level / 2))
                lo, hi = fval - z * se, fval + z * se
                p = float(2 * stats.norm.sf(abs(fval) / se)) if se > 0 else (0.0 if fval != 0 else 1.0)
            significant = bool(p < alpha_used and fval > 0)
        requires = self.alpha is not None
        if requires and significant is None:
            raise SopEvalError(
                f"gate {self.label!r} requires significance at alpha={self.alpha} but the estimate(s) "
                f"{examples([e.label or e.outcome for e in ests])} carry no standard error; supply 'se'."
            )
        met = met_threshold and (bool(significant) if requires else True)
        return TriggerDecision(
            gate=self.label,
            measure=self.measure,
            threshold=float(threshold),
            value=fval,
            value_exact=value,
            margin=float(value - threshold),
            met_threshold=met_threshold,
            met=met,
            alpha=None if self.alpha is None else float(self.alpha),
            requires_significance=requires,
            se=se,
            ci_low=lo,
            ci_high=hi,
            level=level,
            p_value=p,
            significant=significant,
            n_treated=sum(e.n_treated for e in ests),
            estimates=ests,
            pooled=pooled,
        )


def _single_interval(estimate: EffectEstimate, measure: str) -> tuple[float, float]:
    lo, hi = estimate.relative_conf_int() if measure.startswith("relative") else estimate.conf_int()
    return (-hi, -lo) if measure in ("relative_reduction", "reduction") else (lo, hi)


def decisions_table(decisions: Sequence[TriggerDecision] | Mapping[Any, TriggerDecision]) -> pd.DataFrame:
    """Stack the summary rows of several decisions into one table."""
    items = list(decisions.values()) if isinstance(decisions, Mapping) else list(decisions)
    if not items:
        return pd.DataFrame()
    return pd.concat([d.summary() for d in items], ignore_index=True)


__all__ = ["Gate", "TriggerDecision", "MEASURES", "measure_value", "measure_se", "to_decimal", "decisions_table"]
