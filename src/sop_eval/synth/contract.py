"""The one call a design plug-in makes: the effect per treated area and period, with its uncertainty."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from sop_eval.errors import SopEvalError
from sop_eval.outputs import json_safe
from sop_eval.stats.estimate import interval_label, resolve_level
from sop_eval.synth.panel import area_matrix
from sop_eval.synth.scm import SynthResult, synthetic_control
from sop_eval.synth.sdid import SdidResult, fit_matrix

METHODS = ("sdid", "sc")
ALIASES = {"synthetic_control": "sc"}
"""The contract's design names (``[evaluation] design``) accepted for the short method names."""


@dataclass(frozen=True, eq=False)
class AreaEffect:
    """Effects of a contract delivered in a few areas, per area and post-period (``cells``), and overall.

    ``estimate``: the average effect over the treated area-periods; ``se``: its standard error (SDID: placebo
    SE, Algorithm 4 of Arkhangelsky et al.; SC: the standard deviation of the placebo areas' mean post-period
    gaps); ``cells`` gives each area-period's effect with a placebo standard error (the standard deviation of the
    pseudo-treated areas' effects in that period) and a normal interval at ``level``; ``p_value`` (SC only) is the
    permutation p-value of the post/pre RMSPE ratio. ``fit`` holds the underlying result.
    """

    method: str
    outcome: str
    estimate: float
    se: float
    level: float
    cells: pd.DataFrame
    fit: SdidResult | tuple[SynthResult, ...]
    p_value: float = float("nan")

    def __repr__(self) -> str:
        return (f"AreaEffect({self.method}: {self.estimate:.4g} (se {self.se:.3g}), "
                f"{self.cells['unit'].nunique()} area(s) × {self.cells['period'].nunique()} period(s))")

    def conf_int(self, level: float | None = None) -> tuple[float, float]:
        z = stats.norm.ppf(0.5 + (self.level if level is None else resolve_level(level, None, "conf_int")) / 2)
        return (self.estimate - z * self.se, self.estimate + z * self.se)

    def summary(self) -> pd.DataFrame:
        """An ``overall`` row then one row per treated area and post-period."""
        lo, hi = self.conf_int()
        top = pd.DataFrame([{"unit": "overall", "period": np.nan, "effect": self.estimate, "se": self.se,
                             "ci_low": lo, "ci_high": hi}])
        return pd.concat([top, self.cells], ignore_index=True).assign(level=self.level, method=self.method)

    def to_dict(self) -> dict[str, Any]:
        return json_safe({"estimator": f"area:{self.method}", "outcome": self.outcome, "estimate": self.estimate,
                          "se": self.se, "level": self.level, "interval": interval_label(self.level),
                          "conf_int": list(self.conf_int()), "p_value": self.p_value,
                          "cells": self.cells.to_dict("records")})


def fit_area_contract(panel: pd.DataFrame, treated: Sequence[Any] | Any, start: Any, *, unit: str = "area",
                      time: str = "period", outcome: str = "y", method: str = "sdid", level: float | None = None,
                      replications: int = 200, seed: int | None = None, predictors: Sequence[str] = (),
                      outcome_periods: Sequence[Any] = ()) -> AreaEffect:
    """Estimate a contract's effect in its treated area(s) from ``start`` on, per area-period and overall.

    ``method="sdid"`` (default): synthetic DiD on all treated areas together (they share ``start``), placebo
    inference with ``replications`` draws (``seed``). ``method="sc"``: a synthetic control per treated area
    with placebo-in-space inference; the overall effect averages the areas and its SE combines theirs as
    independent. Its predictors are every pre-period outcome, or, given ``predictors`` (panel columns averaged over
    the pre-period) and/or ``outcome_periods`` (pre-periods whose outcome is a predictor), those, with predictor
    weights V chosen as R ``Synth`` (:func:`~sop_eval.synth.scm.synthetic_control`). SDID fits outcomes only and
    refuses them. Donors are the areas never treated in ``panel``. The contract's design name
    ``"synthetic_control"`` is accepted for ``"sc"``.
    """
    method = ALIASES.get(method, method)
    if method not in METHODS:
        names = (*METHODS, *ALIASES)
        raise SopEvalError(f"method={method!r} is not one of {', '.join(map(repr, names))}.")
    if method == "sdid" and (len(predictors) or len(outcome_periods)):
        raise SopEvalError("predictors/outcome_periods: method='sdid' weights donors on the pre-period outcomes only "
                           "(no covariate adjustment); use method='sc' for predictors, or leave them out.")
    level = resolve_level(level, None, "fit_area_contract")
    z = stats.norm.ppf(0.5 + level / 2)
    areas = [treated] if isinstance(treated, (str, int, np.integer)) else list(treated)
    fit: SdidResult | tuple[SynthResult, ...]
    if method == "sdid":
        data = area_matrix(panel, unit=unit, time=time, outcome=outcome, treated=areas, start=start)
        res = fit_matrix(data, "sdid", se="placebo", replications=replications, seed=seed, level=level, curves=True)
        cells = res.area_effects()
        per_period = np.std(res.placebo_curves, axis=0, ddof=1)
        cells["se"] = np.tile(per_period, data.N1)
        est, se, p = res.estimate, res.se, float("nan")
        fit = res
    else:
        fits = []
        for a in areas:
            others = [b for b in areas if b != a]
            fits.append(synthetic_control(panel[~panel[unit].isin(others)], unit=unit, time=time, outcome=outcome,
                                          treated=a, start=start, predictors=predictors,
                                          outcome_periods=outcome_periods, leave_one_out=False, level=level))
        rows = []
        for f in fits:
            post = f.times[f.T0:]
            sd = f.placebo_gaps.iloc[f.T0:].std(axis=1, ddof=1).to_numpy()
            rows.append(pd.DataFrame({"unit": f.treated, "period": post, "effect": f.gaps[f.T0:], "se": sd}))
        cells = pd.concat(rows, ignore_index=True)
        est = float(np.mean([f.estimate for f in fits]))
        se = float(np.sqrt(np.sum([f.se**2 for f in fits])) / len(fits))
        p = float(fits[0].p_value) if len(fits) == 1 else float("nan")
        fit = tuple(fits)
    cells["ci_low"] = cells["effect"] - z * cells["se"]
    cells["ci_high"] = cells["effect"] + z * cells["se"]
    return AreaEffect(method=method, outcome=outcome, estimate=float(est), se=float(se), level=level, cells=cells,
                      fit=fit, p_value=p)
