"""Contractual gates on effect estimates, evaluated to trigger decisions.

A :class:`Gate` is a test the contract writes on the **point estimate** — e.g. "a relative reduction
in reconviction events of at least 10%" — optionally also requiring statistical significance at a
confidence ``level`` (0.95: a two-sided test at 5%). :meth:`Gate.evaluate` returns a :class:`TriggerDecision`
that records, side by side, the contractual test (value, threshold, margin, met or not) and the statistical
test (confidence interval, p-value, significant or not).

Conventions:

- The gate compares **unrounded** numbers. Floats are read through their shortest decimal form
  (``Decimal(repr(x))``) and the comparison is made in decimal arithmetic, so an estimate printed as
  ``0.1`` meets a threshold of ``0.1`` exactly. Thresholds are inclusive: met when ``value >= threshold``.
- Measures (the contract's scale): ``relative_reduction`` = ``-estimate / comparison_mean`` (the
  Peterborough "% reduction"), ``relative_increase`` = ``estimate / comparison_mean``, ``reduction`` =
  ``-estimate`` and ``increase`` = ``estimate`` (outcome units per person).
- Significance: ``|estimate / se| > c`` (strict), ``c`` the two-sided critical value at the level (normal, or
  Student t with the estimate's ``df``) — the same as ``p_value < 1 - level`` — **and** the effect in the
  contract's favourable direction. Relative measures use the delta-method interval of the estimate.
- Pooled gates (:meth:`Gate.evaluate_pooled`) test the pooled result of
  :func:`sop_eval.effects.pooling.pool_cohorts`: all cohorts together, the cohort-size-weighted
  (``n_treated``) mean of the cohort effects over the same weighted mean of their comparison means (for
  a relative measure: events avoided across all cohorts over events expected across all cohorts). Its
  standard error treats cohorts as independent. The mean of the cohort reductions is a different
  figure (:func:`sop_eval.effects.pooling.mean_of_cohort_reductions`) and decides nothing.
- The decision itself (:func:`decide`) is written once over :class:`sop_eval.arithmetic.Ops`, so the
  payment calculator (exact decimals) and payment risk (float arrays of draws) apply the same rule.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from sop_eval.arithmetic import EXACT, Ops
from sop_eval.contract.vocabulary import MEASURES
from sop_eval.effects.pooling import pool_cohorts
from sop_eval.errors import SopEvalError, examples
from sop_eval.estimate import EffectEstimate
from sop_eval.outputs import ShortRepr
from sop_eval.stats.estimate import alpha_of, percent, resolve_level


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


def gate_measure(effect: Any, comparison: Any, measure: str, ops: Ops = EXACT) -> Any:
    """An effect on the contract's ``measure`` scale, in ``ops``' number system (see the module conventions)."""
    if measure == "reduction":
        return -effect
    if measure == "increase":
        return effect
    ratio = ops.divide(effect, comparison)
    return -ratio if measure == "relative_reduction" else ratio


def z_statistic(effect: Any, se: float) -> Any:
    """``effect / se``; with ``se == 0``, infinite for a non-zero effect and 0 for a zero effect."""
    if se > 0:
        return effect / se
    return np.where(np.asarray(effect) != 0, np.inf, 0.0) if np.ndim(effect) else (math.inf if effect != 0 else 0.0)


def critical_value(level: float, df: float | None = None) -> float:
    """Two-sided critical value at ``level``: normal, or Student t with ``df`` degrees of freedom."""
    q = 0.5 + level / 2
    return float(stats.t.ppf(q, df) if df else stats.norm.ppf(q))


def decide(
    value: Any, threshold: Any, statistic: Any, critical: float, requires_significance: bool, ops: Ops = EXACT
) -> tuple[Any, Any, Any]:
    """The gate rule, once: ``(met_threshold, significant, met)``.

    ``met_threshold``: ``value >= threshold`` (inclusive); ``significant``: ``|statistic| > critical`` and
    ``value > 0`` (the favourable direction), None when ``statistic`` is None (no standard error); ``met``:
    the threshold, and significance too when ``requires_significance``.
    """
    met_threshold = ops.at_least(value, threshold)
    significant = None if statistic is None else ops.both(abs(statistic) > critical, value > 0)
    met = ops.both(met_threshold, significant) if requires_significance else met_threshold
    return met_threshold, significant, met


def measure_value(estimate: EffectEstimate, measure: str) -> Decimal:
    """The estimate on the contract's ``measure`` scale, exactly (see the module conventions)."""
    _check_measure(measure)
    effect = to_decimal(estimate.estimate, "estimate")
    base = to_decimal(estimate.comparison_mean, "comparison_mean")
    _check_base(base, measure, estimate.label or estimate.outcome or "")
    return gate_measure(effect, base, measure)


def _check_base(base: Decimal, measure: str, name: str) -> None:
    if measure.startswith("relative") and base == 0:
        raise SopEvalError(
            f"estimate {name!r} has comparison_mean 0: a relative change "
            "is undefined. Use an absolute measure ('reduction' or 'increase') for this gate."
        )


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


@dataclass(frozen=True, repr=False)
class TriggerDecision(ShortRepr):
    """The outcome of a gate on an estimate: the contractual test and the statistical test side by side.

    ``value`` is the estimate on the gate's measure (unrounded; ``value_exact`` holds the decimal used for
    the comparison), ``margin = value - threshold``, ``met_threshold`` is the contractual test alone,
    ``significant`` the statistical test at ``1 - required_level`` (or at the estimate's own ``level`` when
    the gate requires none; None when no standard error is known), and ``met`` whether the gate as
    written was passed (the threshold, plus significance when ``required_level`` is set). ``measured`` is
    the estimate the gate was decided on: the cohort's, or for a pooled gate the pooled result.
    """

    gate: str
    measure: str
    threshold: float
    value: float
    value_exact: Decimal
    margin: float
    met_threshold: bool
    met: bool
    required_level: float | None
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
    measured: EffectEstimate | None = field(default=None, repr=False)

    @property
    def estimate(self) -> float:
        """The estimate on the gate's measure (``value``)."""
        return self.value

    @property
    def alpha(self) -> float | None:
        """Deprecated: ``1 - required_level``."""
        return None if self.required_level is None else alpha_of(self.required_level)

    @property
    def design(self) -> str:
        """Counterfactual design(s) of the estimate(s), joined by '+' when they differ."""
        return "+".join(dict.fromkeys(e.design for e in self.estimates)) or ""

    @property
    def weaker_evidence(self) -> bool:
        """True when any estimate rests on a historical baseline or an assumed rate."""
        return any(e.weaker_evidence for e in self.estimates)

    def conf_int(self, level: float | None = None) -> tuple[float | None, float | None]:
        """Confidence interval of ``value`` on the gate's measure at ``level`` (default: the decision's level)."""
        if level is None or self.measured is None or self.se is None:
            return (self.ci_low, self.ci_high)
        return _interval(self.measured, self.measure, level)

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
            "required_level": self.required_level,
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
        if self.required_level is not None:
            text += (f", significance at the {percent(self.required_level)} level "
                     f"{'shown' if self.significant else 'not shown'}")
        return text + f" — gate {'met' if self.met else 'not met'}."


@dataclass(frozen=True, init=False)
class Gate:
    """A contractual test on an estimate: ``measure >= threshold``, optionally also significance at ``level``.

    ``threshold`` is on the measure's scale (0.10 for a 10% relative reduction); ``level`` (e.g. 0.95)
    requires the estimate to be significant at ``1 - level``, two-sided, in the favourable direction;
    None requires no significance. ``alpha=`` is the deprecated spelling of ``1 - level``. See the
    module docstring for measures and conventions.
    """

    threshold: Decimal | float
    measure: str = "relative_reduction"
    level: float | None = None
    label: str = "gate"

    def __init__(self, threshold: Decimal | float, measure: str = "relative_reduction", level: float | None = None,
                 label: str = "gate", *, alpha: float | None = None) -> None:
        object.__setattr__(self, "threshold", threshold)
        object.__setattr__(self, "measure", measure)
        object.__setattr__(self, "label", label)
        object.__setattr__(self, "level", level)
        self.__post_init__(alpha)

    def __post_init__(self, alpha: float | None = None) -> None:
        _check_measure(self.measure)
        object.__setattr__(self, "threshold", to_decimal(self.threshold, "threshold"))
        if self.measure.startswith("relative") and not Decimal(0) <= self.threshold <= Decimal(1):
            raise SopEvalError(
                f"gate {self.label!r}: threshold {self.threshold} for {self.measure} must lie between 0 and 1 "
                "(0.10 means 10%)."
            )
        try:
            level = resolve_level(self.level, alpha, f"gate {self.label!r}", default=None, stacklevel=5)
        except SopEvalError as exc:
            raise SopEvalError(f"gate {self.label!r}: {exc}") from None
        object.__setattr__(self, "level", None if level is None else float(level))

    @property
    def alpha(self) -> float | None:
        """Deprecated: ``1 - level``, the significance level the gate requires (None: none required)."""
        return None if self.level is None else alpha_of(self.level)

    def evaluate(self, estimate: EffectEstimate) -> TriggerDecision:
        """Evaluate the gate on one estimate."""
        if not isinstance(estimate, EffectEstimate):
            raise SopEvalError(f"gate {self.label!r} needs an EffectEstimate, got {type(estimate).__name__}.")
        value = measure_value(estimate, self.measure)
        return self._decide(value, estimate, se_known(estimate), (estimate,), pooled=False)

    def evaluate_pooled(
        self, estimates: Sequence[EffectEstimate], weights: Sequence[float] | str = "n_treated",
        pooled: EffectEstimate | None = None,
    ) -> TriggerDecision:
        """Evaluate the gate on the pooled result of the cohorts (:func:`~sop_eval.effects.pooling.pool_cohorts`).

        ``weights``: ``"n_treated"`` (cohort sizes, the contract's rule) or one non-negative number per cohort.
        The value is computed exactly: the weighted mean of the cohort effects on the measure's scale over
        the weighted mean of their comparison means. ``pooled``: the pooled result as its design computed it,
        when the cohorts are not independent (they share a fit); its standard error is used for the
        interval and the significance test, and its point estimate must equal the cohorts' pooled one.
        """
        ests = tuple(estimates)
        if not ests:
            raise SopEvalError(f"pooled gate {self.label!r} has no cohort estimates to pool.")
        bad = [type(e).__name__ for e in ests if not isinstance(e, EffectEstimate)]
        if bad:
            raise SopEvalError(f"pooled gate {self.label!r} needs EffectEstimate objects, got {examples(bad)}.")
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
        share = [EXACT.divide(x, total) for x in w]
        effect = sum((s * to_decimal(e.estimate, "estimate") for s, e in zip(share, ests, strict=True)), Decimal(0))
        base = sum((s * to_decimal(e.comparison_mean, "comparison_mean") for s, e in zip(share, ests, strict=True)),
                   Decimal(0))
        _check_base(base, self.measure, "pooled")
        value = gate_measure(effect, base, self.measure)
        by_size = isinstance(weights, str)
        together = pool_cohorts(ests, weights="n" if by_size else [float(x) for x in w], label="pooled")
        if pooled is not None:
            if not isinstance(pooled, EffectEstimate) or not math.isclose(
                    pooled.estimate, together.estimate, rel_tol=1e-9, abs_tol=1e-12):
                raise SopEvalError(
                    f"pooled gate {self.label!r}: the pooled result given "
                    f"({getattr(pooled, 'estimate', pooled)!r}) is not the pooled cohorts' estimate "
                    f"({together.estimate!r}); pass the pooled result of these cohorts, with these weights."
                )
            together = pooled
        return self._decide(value, together, all(se_known(e) for e in (*ests, together)), ests, pooled=True)

    def _decide(
        self, value: Decimal, measured: EffectEstimate, known: bool, ests: tuple[EffectEstimate, ...], pooled: bool
    ) -> TriggerDecision:
        threshold = Decimal(self.threshold)
        requires = self.level is not None
        test_level = measured.level if self.level is None else self.level
        se = lo = hi = p = statistic = None
        if known and math.isfinite(measured.se):
            se = measure_se(measured, self.measure)
            lo, hi = _interval(measured, self.measure, measured.level)
            p = measured.p_value
            statistic = z_statistic(measured.estimate, measured.se)
        met_threshold, significant, met = decide(
            value, threshold, statistic, critical_value(test_level, measured.df), requires
        )
        if requires and significant is None:
            raise SopEvalError(
                f"gate {self.label!r} requires significance at the {percent(test_level)} level but the estimate(s) "
                f"{examples([e.label or e.outcome for e in ests])} carry no standard error; supply 'se'."
            )
        return TriggerDecision(
            gate=self.label,
            measure=self.measure,
            threshold=float(threshold),
            value=float(value),
            value_exact=value,
            margin=float(value - threshold),
            met_threshold=met_threshold,
            met=met,
            required_level=self.level,
            requires_significance=requires,
            se=se,
            ci_low=lo,
            ci_high=hi,
            level=measured.level,
            p_value=p,
            significant=significant,
            n_treated=sum(e.n_treated for e in ests),
            estimates=ests,
            pooled=pooled,
            measured=measured,
        )


def _interval(estimate: EffectEstimate, measure: str, level: float) -> tuple[float, float]:
    if measure.startswith("relative"):
        lo, hi = estimate.relative_conf_int(level)
    else:
        lo, hi = estimate.conf_int(level)
    return (-hi, -lo) if measure in ("relative_reduction", "reduction") else (lo, hi)


def decisions_table(decisions: Sequence[TriggerDecision] | Mapping[Any, TriggerDecision]) -> pd.DataFrame:
    """Stack the summary rows of several decisions into one table."""
    items = list(decisions.values()) if isinstance(decisions, Mapping) else list(decisions)
    if not items:
        return pd.DataFrame()
    return pd.concat([d.summary() for d in items], ignore_index=True)


__all__ = [
    "Gate", "TriggerDecision", "MEASURES", "measure_value", "measure_se", "to_decimal", "decisions_table", "decide",
    "gate_measure", "z_statistic", "critical_value",
]
