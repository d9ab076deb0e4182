"""Propensity score weights for the ATT, ATC, ATE and ATO (overlap), with trimming stated.

Weights in WeightIt's conventions (``weightit(method = "glm")``), not rescaled:

- ``ATT``: treated 1, controls ``e / (1 - e)`` (the odds);
- ``ATC``: treated ``(1 - e) / e``, controls 1;
- ``ATE``: treated ``1 / e``, controls ``1 / (1 - e)``;
- ``ATO`` (overlap weights, Li, Morgan and Zaslavsky 2018): treated ``1 - e``, controls ``e``.

Trimming (``trim=q``, WeightIt's ``trim(at = q)``): ``q`` in (0, 1) is a quantile; a ``q`` below 0.5 is read as
``1 - q``. The weights of the units being reweighted (controls for the ATT, treated for the ATC, everyone for
the ATE; overlap weights are bounded and are never trimmed) above their ``q`` quantile (numpy's linear
interpolation, R's type 7) are set to that quantile (``trim_rule="truncate"``) or to 0 (``"drop"``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from sop_eval.cohorts import wording
from sop_eval.errors import SopEvalError, examples

ESTIMANDS = ("ATT", "ATC", "ATE", "ATO")
ESS = "the effective sample size (Kish) of each group is reported with the weights"
"""How the methods sentences of the weighting methods state the effective sample size."""
TRIM_RULES = ("truncate", "drop")


@dataclass(frozen=True)
class Trimming:
    """What trimming did: the quantile, the rule, the cut-off weight and how many weights it changed."""

    quantile: float | None
    rule: str
    cutoff: float | None
    n_trimmed: int
    group: str

    def describe(self) -> str:
        """One sentence for summaries and reports."""
        if self.quantile is None:
            return "no trimming"
        action = "set to the cut-off" if self.rule == "truncate" else "set to 0 (dropped)"
        return (f"weights of {self.group} above their {self.quantile:g} quantile ({self.cutoff:.4g}) {action}: "
                f"{self.n_trimmed} unit(s)")

    def to_dict(self) -> dict[str, object]:
        return {"quantile": self.quantile, "rule": self.rule, "cutoff": self.cutoff, "n_trimmed": int(self.n_trimmed),
                "group": self.group, "description": self.describe()}


def check_trim(trim: float | None, rule: str) -> float | None:
    """``trim`` as an upper quantile in (0.5, 1), or None; raises :class:`SopEvalError` on a bad value."""
    if rule not in TRIM_RULES:
        raise SopEvalError(f"trim_rule={rule!r} is not one of {examples(TRIM_RULES)}.")
    if trim is None:
        return None
    if isinstance(trim, bool) or not isinstance(trim, (int, float, np.number)) or not 0 < float(trim) < 1:
        raise SopEvalError(f"trim={trim!r} must be a quantile strictly between 0 and 1 (e.g. 0.99), or None.")
    q = float(trim)
    return 1 - q if q < 0.5 else q


def propensity_weights(score: np.ndarray, treat: np.ndarray, estimand: str) -> np.ndarray:
    """Untrimmed weights for ``estimand`` from propensity scores ``score`` (see the module docstring)."""
    if estimand not in ESTIMANDS:
        raise SopEvalError(f"estimand={estimand!r} is not one of {examples(ESTIMANDS)} for weighting.")
    e = np.asarray(score, dtype=float)
    with np.errstate(divide="ignore"):
        if estimand == "ATT":
            return np.where(treat, 1.0, e / (1.0 - e))
        if estimand == "ATC":
            return np.where(treat, (1.0 - e) / e, 1.0)
        if estimand == "ATE":
            return np.where(treat, 1.0 / e, 1.0 / (1.0 - e))
        return np.where(treat, 1.0 - e, e)


def trim_weights(w: np.ndarray, treat: np.ndarray, estimand: str, trim: float | None,
                 rule: str = "truncate") -> tuple[np.ndarray, Trimming]:
    """Trim ``w`` at the ``trim`` quantile of the reweighted units' positive weights (module docstring)."""
    q = check_trim(trim, rule)
    group = {"ATT": "controls", "ATC": "treated"}.get(estimand, "all units")
    if q is None or estimand == "ATO":
        return w, Trimming(None if estimand == "ATO" else q, rule, None, 0, group)
    target = ~treat if estimand == "ATT" else treat if estimand == "ATC" else np.ones(len(w), dtype=bool)
    target = target & (w > 0)
    cutoff = float(np.quantile(w[target], q))
    over = target & (w > cutoff)
    out = w.copy()
    out[over] = cutoff if rule == "truncate" else 0.0
    return out, Trimming(q, rule, cutoff, int(over.sum()), group)


def describe(options: Mapping[str, Any]) -> str:
    """The methods sentence for propensity score weighting with these :func:`sop_eval.match` options."""
    rule = "truncated" if options.get("trim_rule", "truncate") == "truncate" else "set to 0"
    trim = ("no trimming" if options.get("trim") is None
            else f"weights above their {options['trim']} quantile {rule}")
    return (f"propensity score weighting{wording.within(options)} (estimand {wording.estimand(options)}, weights of "
            f"sop_eval.cohorts.weighting, logistic propensity score), {trim}; {ESS}")
