"""The effect estimate every design produces and every gate and payment consumes.

It sits just above the contract (whose vocabulary names the designs) and below every engine layer, so
that gates and payments read estimates without importing the estimators. ``sop_eval.effects.estimate``
re-exports it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import pandas as pd
from scipy import stats

from sop_eval.contract.vocabulary import DESIGNS, WEAKER_DESIGNS
from sop_eval.errors import SopEvalError
from sop_eval.outputs import ShortRepr
from sop_eval.outputs import json_safe as _json_safe
from sop_eval.stats.estimate import Estimate, alpha_of, resolve_level

KINDS = ("binary", "count", "continuous", "time_to_event")


@dataclass(frozen=True, repr=False)
class EffectEstimate(ShortRepr):
    """An attributable effect: treated mean minus comparison mean (the ATT), with its inference.

    Conventions: ``estimate`` is in outcome units per person (events per person, a proportion, days);
    ``relative = estimate / comparison_mean`` (Peterborough's "% reduction" is ``-relative``). Confidence
    intervals are two-sided at ``level``, normal-based unless ``df`` is given (then Student t). The
    relative interval is the delta-method interval for ``estimate / comparison_mean``; it accounts for
    the uncertainty of the comparison mean through ``comparison_mean_se`` and ``cov_estimate_comparison``
    when they are known, and treats the comparison mean as fixed otherwise. A result is "significant at
    level" when ``p_value < 1 - level`` (strict inequality); ``describe()`` and ``summary()`` state it.
    ``details`` holds method-specific extras (cluster counts, bootstrap settings, survival curves,
    ``n_events_treated``); ``details["clusters_on"]`` says what the standard error clusters on (shown as
    ``se_clusters_on`` in :meth:`summary`).
    """

    estimate: float
    se: float
    treated_mean: float
    comparison_mean: float
    n_treated: int
    n_comparison: int
    outcome: str = ""
    kind: str = "continuous"
    design: str = "psm"
    method: str = ""
    label: str = ""
    level: float = 0.95
    df: float | None = None
    comparison_mean_se: float | None = None
    cov_estimate_comparison: float = 0.0
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise SopEvalError(f"EffectEstimate kind={self.kind!r} is not one of {', '.join(KINDS)}.")
        if self.design not in DESIGNS:
            raise SopEvalError(f"EffectEstimate design={self.design!r} is not one of {', '.join(DESIGNS)}.")
        if not 0.0 < self.level < 1.0:
            raise SopEvalError(f"level={self.level} must lie strictly between 0 and 1, e.g. 0.95.")
        if not (math.isfinite(self.se) and self.se >= 0):
            raise SopEvalError(f"EffectEstimate se={self.se} must be a finite number >= 0.")

    # -- inference ---------------------------------------------------------------------------------
    def _critical(self, level: float) -> float:
        q = 0.5 + level / 2
        return float(stats.t.ppf(q, self.df)) if self.df else float(stats.norm.ppf(q))

    @property
    def statistic(self) -> float:
        """Estimate divided by its standard error (z, or t when ``df`` is set)."""
        return self.estimate / self.se if self.se > 0 else math.copysign(math.inf, self.estimate or 1.0)

    @property
    def p_value(self) -> float:
        """Two-sided p-value of the null of no effect."""
        if self.se == 0:
            return 0.0 if self.estimate != 0 else 1.0
        z = abs(self.statistic)
        return float(2 * (stats.t.sf(z, self.df) if self.df else stats.norm.sf(z)))

    def conf_int(self, level: float | None = None) -> tuple[float, float]:
        """Two-sided confidence interval of ``estimate`` at ``level`` (default: the estimate's level)."""
        c = self._critical(self.level if level is None else level)
        return (self.estimate - c * self.se, self.estimate + c * self.se)

    def significant(self, level: float | None = None, *, alpha: float | None = None) -> bool:
        """Whether ``p_value < 1 - level`` (default: the estimate's own level); ``alpha=`` is deprecated."""
        return self.p_value < alpha_of(resolve_level(level, alpha, "significant", default=self.level))

    # -- relative change -----------------------------------------------------------------------------
    @property
    def relative(self) -> float:
        """Relative change versus the comparison mean: ``estimate / comparison_mean``."""
        if self.comparison_mean == 0:
            return math.nan
        return self.estimate / self.comparison_mean

    @property
    def relative_se(self) -> float:
        """Delta-method standard error of :attr:`relative`."""
        c = self.comparison_mean
        if c == 0:
            return math.nan
        var_c = (self.comparison_mean_se or 0.0) ** 2
        var = (
            self.se**2 / c**2
            + self.estimate**2 * var_c / c**4
            - 2 * self.estimate * self.cov_estimate_comparison / c**3
        )
        return math.sqrt(max(var, 0.0))

    def relative_conf_int(self, level: float | None = None, method: str = "delta") -> tuple[float, float]:
        """Confidence interval of :attr:`relative` by the ``"delta"`` method (default) or ``"fieller"``.

        Fieller's interval inverts the test of ``treated_mean - rho * comparison_mean = 0`` for the ratio
        ``rho = treated / comparison`` and subtracts 1; it is unbounded, ``(-inf, inf)``, when the
        comparison mean is not significantly different from zero. Both equal when the comparison mean
        is known exactly.
        """
        c = self._critical(self.level if level is None else level)
        if method == "delta":
            r, s = self.relative, self.relative_se
            return (r - c * s, r + c * s)
        if method != "fieller":
            raise SopEvalError(f"relative_conf_int method={method!r} must be 'delta' or 'fieller'.")
        var_c = (self.comparison_mean_se or 0.0) ** 2
        cov_tc = self.cov_estimate_comparison + var_c
        var_t = self.se**2 + var_c + 2 * self.cov_estimate_comparison
        t, m = self.treated_mean, self.comparison_mean
        a = m**2 - c**2 * var_c
        b = t * m - c**2 * cov_tc
        disc = b**2 - a * (t**2 - c**2 * var_t)
        if a <= 0 or disc < 0:
            return (-math.inf, math.inf)
        root = math.sqrt(disc)
        return ((b - root) / a - 1, (b + root) / a - 1)

    def per_100(self) -> pd.Series:
        """Treated and comparison means, difference and its interval per 100 people (JDL style)."""
        lo, hi = self.conf_int()
        return pd.Series(
            {
                "treated_per_100": 100 * self.treated_mean,
                "comparison_per_100": 100 * self.comparison_mean,
                "difference_per_100": 100 * self.estimate,
                "ci_low_per_100": 100 * lo,
                "ci_high_per_100": 100 * hi,
            }
        )

    @property
    def weaker_evidence(self) -> bool:
        """True when the counterfactual is a historical baseline or an assumed rate."""
        return self.design in WEAKER_DESIGNS

    # -- presentation --------------------------------------------------------------------------------
    def summary(self) -> pd.DataFrame:
        """One tidy row in the Justice Data Lab layout, plus the relative change and the design."""
        lo, hi = self.conf_int()
        rlo, rhi = self.relative_conf_int()
        row = {
            "label": self.label,
            "outcome": self.outcome,
            "kind": self.kind,
            "n_treated": self.n_treated,
            "n_comparison": self.n_comparison,
            "treated_mean": self.treated_mean,
            "comparison_mean": self.comparison_mean,
            "difference": self.estimate,
            "se": self.se,
            "ci_low": lo,
            "ci_high": hi,
            "p_value": self.p_value,
            "relative": self.relative,
            "relative_ci_low": rlo,
            "relative_ci_high": rhi,
            "design": self.design,
            "se_method": self.method,
            "se_clusters_on": self.details.get("clusters_on", ""),
            "evidence": "weaker: no concurrent comparison group" if self.weaker_evidence else "concurrent comparison",
            "significance_rule": self.significance_rule,
            "relative_ci_method": "delta method",
            "headline": "refused: " + refused if (refused := self.headline_refused()) else "given",
        }
        return pd.DataFrame([row])

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe record of every field and derived figure."""
        out = asdict(self)
        out["details"] = _json_safe(dict(self.details))
        lo, hi = self.conf_int()
        rlo, rhi = self.relative_conf_int()
        out.update(
            p_value=self.p_value,
            ci_low=lo,
            ci_high=hi,
            relative=self.relative,
            relative_se=self.relative_se,
            relative_ci_low=rlo,
            relative_ci_high=rhi,
            weaker_evidence=self.weaker_evidence,
        )
        return _json_safe(out)

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> EffectEstimate:
        """Rebuild an estimate from :meth:`to_dict` output (derived figures are recomputed, not trusted)."""
        names = set(cls.__dataclass_fields__)
        missing = {"estimate", "se", "treated_mean", "comparison_mean", "n_treated", "n_comparison"} - set(record)
        if missing:
            raise SopEvalError(f"effect estimate record lacks field(s) {sorted(missing)}; got {sorted(record)}.")
        kwargs = {k: v for k, v in record.items() if k in names}
        return cls(**kwargs)

    @property
    def counted(self) -> str:
        """What ``n_treated`` counts, in words: ``"people served"`` for person-level designs,
        ``"area-periods"`` for difference-in-differences, ``"population-periods"`` for area-level rates
        (``details["rate_per"]``); a design may state its own in ``details["counted"]``."""
        if isinstance(self.details.get("counted"), str):
            return str(self.details["counted"])
        if isinstance(self.details.get("rate_per"), int):
            return "population-periods"
        return "area-periods" if self.design == "did" else "people served"

    @property
    def scales_with_n(self) -> bool:
        """Whether the standard error shrinks as ``1/sqrt(n_treated)``, so :meth:`n_needed` means something.

        Not for area-level designs: difference-in-differences and rates per population
        (``details["rate_per"]``: synthetic control, SDID), whose standard error comes from area clusters or
        placebo fits and does not shrink with the population counted.
        """
        area = self.design in ("did", "synthetic_control", "sdid") or isinstance(self.details.get("rate_per"), int)
        return not area

    def n_needed(self, power: float = 0.8) -> float:
        """Treated units (:attr:`counted`) needed to detect an effect of this size with ``power`` at ``level``.

        Assumes the standard error shrinks as ``1/sqrt(n_treated)`` at the same matching ratio:
        ``n_treated * ((z_{1-alpha/2} + z_power) * se / |estimate|)^2``, rounded up; infinite for a zero
        estimate.
        """
        if self.estimate == 0 or self.se == 0:
            return math.inf if self.estimate == 0 else float(self.n_treated)
        z = stats.norm.ppf(0.5 + self.level / 2) + stats.norm.ppf(power)
        return float(math.ceil(self.n_treated * (z * self.se / abs(self.estimate)) ** 2))

    @property
    def significance_rule(self) -> str:
        """The stated p-value boundary."""
        return f"significant when p < {1 - self.level:g} (strict inequality)"

    def headline_refused(self) -> str | None:
        """Why no headline may be given (Justice Data Lab rules), or None when one may."""
        if self.kind == "time_to_event":
            events = self.details.get("n_events_treated")
            if events is None or events < 30:
                return (
                    f"only {events if events is not None else 'an unknown number of'} treated people had the event; "
                    "a time-to-event headline needs at least 30 (the Justice Data Lab rule)"
                )
        return None

    def _units(self, outcome: str | None = None) -> tuple[float, str, str]:
        """Scale, what is measured and its unit in the plain sentence (``outcome`` names it in words)."""
        what = outcome or self.outcome or "the outcome"
        rate_per = self.details.get("rate_per")
        if isinstance(rate_per, int) and rate_per > 1:  # area-level designs carry rates per person and period
            return float(rate_per), f"{what} per {rate_per:,} population per period", "events"
        if self.kind in ("binary", "count"):
            unit = "people" if self.kind == "binary" else "events"
            return 100.0, f"{what} per 100 people", unit
        if self.kind == "time_to_event":
            horizon = self.details.get("horizon")
            span = f" within {horizon:g}" if isinstance(horizon, (int, float)) else ""
            return 1.0, f"the restricted mean of {what}{span.replace('within', 'up to')}", "time units"
        if self.design == "did":  # effects per treated area and period after adoption
            return 1.0, f"the average {what} per area and period", "units"
        return 1.0, f"the average {what} per person", "units"

    def describe(self, outcome: str | None = None) -> str:
        """A plain-language sentence on the effect (Justice Data Lab wording), with its evidence strength.

        Binary and count outcomes are stated per 100 people; time to event as restricted mean time;
        continuous outcomes per person (per area and period for difference-in-differences); area-level rates per
        ``rate_per`` population per period. ``outcome`` names the outcome in words (default: its column name).
        When the interval straddles zero the sentence says how many treated people would be needed to tell the
        direction (:meth:`n_needed`, 80% power), for designs whose standard error shrinks with their size only
        (:attr:`scales_with_n`).
        """
        prefix = f"{self.label}: " if self.label else ""
        refused = self.headline_refused()
        if refused:
            return f"{prefix}no headline for {outcome or self.outcome or 'this outcome'}: {refused}."
        scale, what, _ = self._units(outcome)
        lo, hi = (scale * v for v in self.conf_int())
        pct = f"{100 * self.level:g}% confidence interval"
        if lo > 0 or hi < 0:
            direction = "lower" if hi < 0 else "higher"
            a, b = sorted((abs(lo), abs(hi)))
            text = (
                f"{prefix}{what} was {direction} by between {a:.1f} and {b:.1f} ({pct}) — a statistically "
                f"significant result (p = {self.p_value:.3g}; {self.significance_rule})."
            )
        else:
            needed = self.n_needed()
            who = "treated area-periods" if self.design == "did" else "treated people"
            tell = (
                "" if not self.scales_with_n
                else f"; about {needed:,.0f} {who} would be needed to tell (80% power)"
                if math.isfinite(needed)
                else f"; no number of {who.split()[-1]} would tell (the estimate is zero) (80% power)"
            )
            text = (
                f"{prefix}{what} could be lower by as many as {abs(lo):.1f} or higher by as many as {abs(hi):.1f} "
                f"({pct}; p = {self.p_value:.3g}, not significant){tell}."
            )
        if self.weaker_evidence:
            text += (" The counterfactual is a historical baseline or an assumed rate: weaker evidence than a "
                     "concurrent comparison group.")
        return text


class SizedEstimate(Estimate, Protocol):
    """An :class:`~sop_eval.stats.estimate.Estimate` that also carries its group sizes."""

    @property
    def n_treated(self) -> Any: ...

    @property
    def n_comparison(self) -> Any: ...


def effect_estimate_from(
    result: SizedEstimate,
    *,
    treated_mean: float,
    method: str,
    details: Mapping[str, Any],
    kind: str = "continuous",
    design: str = "did",
    label: str = "",
    outcome: str | None = None,
    level: float | None = None,
) -> EffectEstimate:
    """An :class:`EffectEstimate` from any result speaking the :class:`~sop_eval.stats.estimate.Estimate`
    vocabulary that also carries ``n_treated``, ``n_comparison`` and ``outcome``.

    ``treated_mean`` is the treated units' mean; ``comparison_mean`` is the counterfactual
    ``treated_mean - estimate``, so the relative change is measured against what the treated would have had.
    ``level`` defaults to the result's own.
    """
    est, se = float(result.estimate), float(result.se)
    if not (se == se and se >= 0):
        raise SopEvalError("the result has no usable standard error (too few units?); it cannot feed a gate.")
    return EffectEstimate(
        estimate=est, se=se, treated_mean=float(treated_mean), comparison_mean=float(treated_mean - est),
        n_treated=int(result.n_treated), n_comparison=int(result.n_comparison),
        outcome=str(outcome or getattr(result, "outcome", "") or ""), kind=kind, design=design, method=method,
        label=label,
        level=result.level if level is None else level, details=dict(details),
    )
