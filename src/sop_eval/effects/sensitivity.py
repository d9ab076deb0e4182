"""Sensitivity to hidden bias: Rosenbaum bounds for matched pairs and the E-value.

Rosenbaum bounds (Rosenbaum 2002, ch. 4): for matched pair differences ``d`` (treated minus control),
Wilcoxon's signed-rank statistic ``T`` (sum of the ranks of ``|d|`` over pairs whose difference has
the sign of the alternative; zero differences dropped, tied ``|d|`` get average ranks). If hidden bias
multiplies the odds of treatment within a pair by at most ``gamma``, the one-sided p-value lies
between the bounds from the normal approximation with ``p = gamma / (1 + gamma)`` (upper) or
``1 / (1 + gamma)`` (lower): ``E = p * sum(r)``, ``Var = p (1 - p) * sum(r^2)``. At ``gamma = 1`` this
is the usual normal-approximation signed-rank test with the tie correction (as ``scipy.stats.wilcoxon``
with ``method="approx", correction=False``). The critical gamma is the smallest gamma at which the
upper bound exceeds ``alpha``. For 1:k matched sets the pair difference is the treated outcome minus
the weighted mean of its controls (an approximation that treats each set as one pair). With
``alternative="auto"`` the one-sided direction is that of the effect estimate (the matched ATT, which is
the mean pair difference), not of the median difference: with skewed outcomes the two can disagree.

E-value (VanderWeele and Ding 2017): the minimum strength of association, on the risk-ratio scale,
that an unmeasured confounder would need with both treatment and outcome to explain away the effect:
``RR + sqrt(RR (RR - 1))`` for ``RR >= 1`` (use ``1/RR`` below 1); for the confidence limit nearer 1,
and 1 when the interval includes 1. The interval of a risk or rate ratio is computed on the log scale,
``exp(log RR -/+ z SE(log RR))`` with the delta-method ``SE(log RR) = SE(RR) / RR``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, stats

from sop_eval.effects.estimate import EffectEstimate
from sop_eval.effects.matched import matched_sample
from sop_eval.errors import SopEvalError
from sop_eval.outputs import ShortRepr
from sop_eval.outputs import json_safe as _json_safe
from sop_eval.stats.estimate import alpha_of, resolve_level


@dataclass(frozen=True, repr=False)
class RosenbaumBounds(ShortRepr):
    """Bounds on the one-sided signed-rank p-value over a grid of ``gamma`` and the critical gamma."""

    table: pd.DataFrame
    critical_gamma: float
    alpha: float
    alternative: str
    n_pairs: int
    n_nonzero: int
    direction_from: str = "given"

    @property
    def direction(self) -> str:
        """The one-sided hypothesis tested and where its direction came from."""
        side = "higher" if self.alternative == "greater" else "lower"
        return f"treated {side} (alternative={self.alternative!r}; direction {self.direction_from})"

    def summary(self) -> pd.DataFrame:
        """The bounds table (gamma, p_lower, p_upper, significant_at_upper) and the direction tested."""
        return self.table.assign(
            significant_at_upper=self.table["p_upper"] < self.alpha, direction_tested=self.direction
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe record."""
        return _json_safe({
            "critical_gamma": self.critical_gamma,
            "alpha": self.alpha,
            "alternative": self.alternative,
            "direction_tested": self.direction,
            "n_pairs": self.n_pairs,
            "n_nonzero": self.n_nonzero,
            "table": self.table.to_dict(orient="list"),
        })


def _signed_rank_bound(d: np.ndarray, gamma: float, upper: bool) -> float:
    ranks = stats.rankdata(np.abs(d))
    t_stat = ranks[d > 0].sum()
    p = gamma / (1 + gamma) if upper else 1 / (1 + gamma)
    mean, var = p * ranks.sum(), p * (1 - p) * (ranks**2).sum()
    return float(stats.norm.sf((t_stat - mean) / np.sqrt(var)))


def rosenbaum_bounds(
    differences: Any,
    gammas: Sequence[float] | None = None,
    *,
    level: float | None = None,
    alternative: str = "auto",
    effect: float | None = None,
    alpha: float | None = None,
) -> RosenbaumBounds:
    """Rosenbaum bounds for matched-pair ``differences`` (treated minus control).

    Γ* (``critical_gamma``) is the largest hidden bias at which the one-sided signed-rank test still
    rejects at significance ``1 - level`` (``level`` 0.95 by default; ``alpha=`` is its deprecated spelling).

    ``alternative``: ``"greater"`` (treated higher), ``"less"`` (treated lower, e.g. fewer
    reconvictions) or ``"auto"``: the direction of the effect estimate ``effect`` (the matched ATT),
    or without it of the mean difference (the matched ATT for :func:`pair_differences`); ``"greater"``
    when it is zero. The direction tested is stated in :meth:`RosenbaumBounds.summary`.
    """
    alpha = alpha_of(resolve_level(level, alpha, "rosenbaum_bounds"))
    d = np.asarray(differences, dtype=float)
    if d.ndim != 1 or np.isnan(d).any():
        raise SopEvalError("differences must be a 1-d array of pair differences without missing values.")
    source = "given"
    if alternative == "auto":
        if effect is None:
            effect = float(d.mean()) if len(d) else 0.0
            source = "from the sign of the mean pair difference (the matched ATT)"
        else:
            source = f"from the sign of the effect estimate ({float(effect):g})"
        if not np.isfinite(effect):
            raise SopEvalError(f"effect={effect!r} must be a finite effect estimate to set the direction tested.")
        alternative = "less" if effect < 0 else "greater"
    if alternative not in ("greater", "less"):
        raise SopEvalError(f"alternative={alternative!r} must be 'greater', 'less' or 'auto'.")
    signed = -d if alternative == "less" else d
    signed = signed[signed != 0]
    if len(signed) < 2:
        raise SopEvalError(f"only {len(signed)} pair(s) differ; Rosenbaum bounds need at least 2 non-zero differences.")
    grid = np.asarray(gammas if gammas is not None else [1, 1.1, 1.2, 1.3, 1.5, 1.75, 2, 2.5, 3], dtype=float)
    if (grid < 1).any():
        raise SopEvalError(f"gammas must all be >= 1; got {grid.min()}.")
    table = pd.DataFrame(
        {
            "gamma": grid,
            "p_lower": [_signed_rank_bound(signed, g, upper=False) for g in grid],
            "p_upper": [_signed_rank_bound(signed, g, upper=True) for g in grid],
        }
    )
    excess = lambda g: _signed_rank_bound(signed, g, upper=True) - alpha  # noqa: E731
    if excess(1.0) >= 0:
        critical = 1.0
    elif excess(1e6) < 0:
        critical = float("inf")
    else:
        critical = float(optimize.brentq(excess, 1.0, 1e6, xtol=1e-8))
    return RosenbaumBounds(table, critical, float(alpha), alternative, len(d), len(signed), source)


def pair_differences(cohort: Any, outcome: str) -> np.ndarray:
    """Per matched set: the treated outcome minus the weighted mean outcome of its controls.

    Their mean is the matched ATT without covariate adjustment."""
    sample = matched_sample(cohort)
    y = sample.frame[outcome].to_numpy(dtype=float)
    g, w, t = sample.cluster, sample.weights, sample.treat
    n = int(g.max()) + 1
    with_both = (np.bincount(g[t], minlength=n) > 0) & (np.bincount(g[~t], minlength=n) > 0)
    means = []
    for m in (t, ~t):  # sets without both groups (every set after weighting) have no mean to take
        total = np.bincount(g[m], weights=w[m], minlength=n)[with_both]
        means.append(np.bincount(g[m], weights=(w * y)[m], minlength=n)[with_both] / total)
    return means[0] - means[1]


@dataclass(frozen=True, repr=False)
class EValue(ShortRepr):
    """E-values for a risk (or rate) ratio and its confidence interval."""

    risk_ratio: float
    ci_low: float
    ci_high: float
    e_value: float
    e_value_ci: float
    scale: str

    def summary(self) -> pd.DataFrame:
        """One row: the ratio, its interval and both E-values."""
        return pd.DataFrame([self.to_dict()])

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe record."""
        return _json_safe(dict(self.__dict__))


def _e(rr: float) -> float:
    rr = 1 / rr if rr < 1 else rr
    return float(rr + np.sqrt(rr * (rr - 1)))


def e_value_ratio(rr: float, ci_low: float, ci_high: float, scale: str = "risk ratio") -> EValue:
    """E-value of a risk ratio ``rr`` and of the confidence limit nearer 1 (1 if the interval covers 1)."""
    if not (rr > 0 and ci_low > 0 and ci_high > 0):
        raise SopEvalError(f"E-values need positive ratios; got {rr} ({ci_low}, {ci_high}).")
    near = 1.0 if ci_low <= 1 <= ci_high else (ci_low if rr > 1 else ci_high)
    return EValue(float(rr), float(ci_low), float(ci_high), _e(rr), _e(near), scale)


def e_value(estimate: EffectEstimate, *, sd: float | None = None) -> EValue:
    """E-value of an effect estimate.

    Binary and count outcomes: the ratio ``treated_mean / comparison_mean`` with its interval computed
    on the log scale (delta-method ``SE(log RR) = relative_se / RR``, as for a two-by-two table's
    ``sqrt(1/a - 1/n1 + 1/c - 1/n0)`` when the groups are independent). Time to event: the hazard ratio in
    ``details``, converted for a common outcome with ``(1 - 0.5^sqrt(HR)) / (1 - 0.5^sqrt(1/HR))``. Continuous
    outcomes need the outcome's ``sd``: ``RR = exp(0.91 * estimate / sd)``.
    """
    if estimate.kind in ("binary", "count"):
        rr = 1 + estimate.relative
        if not rr > 0:
            raise SopEvalError(
                f"the {estimate.kind} outcome {estimate.outcome!r} has treated mean {estimate.treated_mean:g} and "
                f"comparison mean {estimate.comparison_mean:g}; an E-value needs both positive."
            )
        z = estimate._critical(estimate.level)
        se_log = estimate.relative_se / rr
        lo, hi = rr * np.exp(-z * se_log), rr * np.exp(z * se_log)
        return e_value_ratio(rr, lo, hi, "risk ratio" if estimate.kind == "binary" else "rate ratio")
    if estimate.kind == "time_to_event":
        hr = estimate.details.get("hazard_ratio")
        if hr is None:
            raise SopEvalError("this time-to-event estimate has no hazard ratio in details; E-value unavailable.")
        conv = lambda h: (1 - 0.5 ** np.sqrt(h)) / (1 - 0.5 ** np.sqrt(1 / h))  # noqa: E731
        lo, hi = estimate.details["hazard_ratio_ci"]
        return e_value_ratio(conv(hr), conv(lo), conv(hi), "hazard ratio (common outcome)")
    if sd is None or not sd > 0:
        raise SopEvalError("a continuous outcome needs sd= (the outcome's standard deviation) for an E-value.")
    lo, hi = estimate.conf_int()
    f = lambda v: float(np.exp(0.91 * v / sd))  # noqa: E731
    return e_value_ratio(f(estimate.estimate), f(lo), f(hi), "approximate risk ratio from standardised difference")
