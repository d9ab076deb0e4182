"""Treated outcomes against a historical comparison group or a stated rate (weaker evidence)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from sop_eval.effects.estimate import EffectEstimate
from sop_eval.effects.matched import JDL_MIN_TREATED, infer_kind
from sop_eval.errors import SopEvalError


def _outcomes(values: Any, what: str) -> np.ndarray:
    series = pd.Series(values) if not isinstance(values, pd.Series) else values
    if not (pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)):
        raise SopEvalError(f"{what} must be numeric (dtype {series.dtype}); convert it to numbers first.")
    v = series.to_numpy(dtype=float)
    if np.isnan(v).any():
        raise SopEvalError(f"{what} has {int(np.isnan(v).sum())} missing value(s); every outcome must be observed.")
    if len(v) < 2:
        raise SopEvalError(f"{what} has {len(v)} value(s); at least 2 are needed for a standard error.")
    return v


def versus_baseline(
    treated: Any,
    *,
    baseline: Any = None,
    rate: float | None = None,
    rate_se: float | None = None,
    design: str | None = None,
    outcome: str = "",
    kind: str | None = None,
    label: str = "",
    level: float = 0.95,
    min_treated: int = JDL_MIN_TREATED,
    allow_small: bool = False,
) -> EffectEstimate:
    """Treated mean minus a baseline: a historical group's outcomes (``baseline=``) or a stated ``rate``.

    With ``baseline`` data the comparison mean's sampling variance enters the SE (independent groups,
    ``s^2/n`` for each; design ``"historical_baseline"``). With a stated ``rate`` its SE is ``rate_se``
    when the source gives one, otherwise zero: the rate is treated as known, which understates the
    uncertainty (design ``"assumed_rate"`` unless ``design="historical_baseline"`` is given, as for a
    published historical average). Every summary marks these designs as weaker evidence than a
    concurrent comparison group.
    """
    y = _outcomes(treated, "treated outcomes")
    if len(y) < int(min_treated) and not allow_small:
        raise SopEvalError(
            f"only {len(y)} treated people; at least {min_treated} are needed (the Justice Data Lab rule). "
            "To estimate anyway pass allow_small=True."
        )
    if (baseline is None) == (rate is None):
        raise SopEvalError("give exactly one of baseline= (historical outcomes) or rate= (a stated mean or rate).")
    kind = kind or infer_kind(pd.Series(y))
    se_t = float(np.std(y, ddof=1) / np.sqrt(len(y)))
    if baseline is not None:
        b = _outcomes(baseline, "baseline outcomes")
        mean_b, se_b, n_b = float(b.mean()), float(np.std(b, ddof=1) / np.sqrt(len(b))), len(b)
        design = design or "historical_baseline"
        source = f"historical group of {n_b}"
    else:
        if not np.isfinite(rate):
            raise SopEvalError(f"rate={rate} must be a finite number.")
        if rate_se is not None and not (np.isfinite(rate_se) and rate_se >= 0):
            raise SopEvalError(f"rate_se={rate_se} must be a finite number >= 0.")
        mean_b, se_b, n_b = float(rate), float(rate_se or 0.0), 0
        design = design or "assumed_rate"
        source = "stated rate" + ("" if rate_se else " treated as known (no uncertainty)")
    if design not in ("historical_baseline", "assumed_rate"):
        raise SopEvalError(f"design={design!r}: a baseline comparison is 'historical_baseline' or 'assumed_rate'.")
    return EffectEstimate(
        estimate=float(y.mean()) - mean_b,
        se=float(np.hypot(se_t, se_b)),
        treated_mean=float(y.mean()),
        comparison_mean=mean_b,
        n_treated=len(y),
        n_comparison=n_b,
        outcome=outcome,
        kind=kind,
        design=design,
        method=f"difference from {source}; independent-groups SE",
        label=label,
        level=level,
        comparison_mean_se=se_b,
        cov_estimate_comparison=-(se_b**2),
        details={"baseline_source": source, "n_events_treated": int(y.sum()) if kind == "binary" else None},
    )
