"""Synthetic control (Abadie, Diamond & Hainmueller 2010), with placebo-in-space inference and leave-one-out.

Donor weights ``W`` lie on the simplex and minimise ``(X1 - X0 W)' V (X1 - X0 W)``, where ``X`` stacks the
predictors of the treated area (``X1``) and of the donors (``X0``), each predictor divided by its standard
deviation across all areas (as R ``Synth``). Predictors: the ``predictors`` columns averaged over the
pre-period, plus the outcome in each period of ``outcome_periods``; with neither, every pre-period outcome is a
predictor and ``V`` is the identity (W then minimises the pre-period MSPE directly). With predictors, ``V``
(diagonal, non-negative, summing to 1) is chosen by the nested optimisation of ``Synth``: minimise the
pre-period outcome MSPE of the synthetic control over ``V`` (Nelder–Mead on log-weights from equal weights
and from the inverse-variance start, the best kept), solving the inner quadratic programme exactly
(:func:`sop_eval.synth.solver.simplex_lstsq`). When several donor weightings fit the predictors equally well
(common with few predictors and many donors, where ``V`` then no longer matters), the tie is broken towards the
best pre-period outcome fit by adding the normalised outcome MSPE to the inner objective with weight 10⁻⁴; R
``Synth`` and pysyncon leave the choice to their solvers' tolerance.

Inference: each donor in turn is treated as if treated, with the remaining donors as its pool (the treated
areas excluded); the statistic is the ratio of post- to pre-period RMSPE and the p-value is the share of all
areas (the treated one included) whose ratio is at least the treated area's, ``(1 + #{placebo ratio >=
treated ratio}) / (1 + J)``. Leave-one-out refits drop each donor with positive weight in turn.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, stats

from sop_eval.errors import SopEvalError, require_columns
from sop_eval.outputs import json_safe
from sop_eval.stats.estimate import resolve_level
from sop_eval.synth.panel import AreaMatrix, area_matrix
from sop_eval.synth.solver import simplex_lstsq

_TIE_BREAK = 1e-4


@dataclass(frozen=True, eq=False)
class _Spec:
    X: np.ndarray  # predictors × areas (all areas of the AreaMatrix)
    names: tuple[str, ...]
    optimise_v: bool


def _fit_one(X1: np.ndarray, X0: np.ndarray, Z1: np.ndarray, Z0: np.ndarray,
             optimise_v: bool) -> tuple[np.ndarray, np.ndarray]:
    """Weights W and predictor weights V for one treated column (predictors X, pre-period outcomes Z)."""
    scale = np.std(np.column_stack([X1, X0]), axis=1, ddof=1)
    scale = np.where(scale > 0, scale, 1.0)
    X1s, X0s = X1 / scale, X0 / scale[:, None]
    k = len(X1)

    zscale = max(float(np.std(np.column_stack([Z1, Z0]))), 1e-12) * np.sqrt(len(Z1))
    tie = np.sqrt(_TIE_BREAK)

    def solve(v: np.ndarray) -> np.ndarray:
        r = np.sqrt(v)
        if not optimise_v:
            return simplex_lstsq(X0s * r[:, None], X1s * r)
        # among weights fitting the predictors equally well, prefer the best pre-period outcome fit
        return simplex_lstsq(np.vstack([X0s * r[:, None], tie * Z0 / zscale]),
                             np.concatenate([X1s * r, tie * Z1 / zscale]))

    if not optimise_v:
        v = np.full(k, 1.0 / k)
        return solve(v), v

    def loss(theta: np.ndarray) -> float:
        v = np.exp(theta - theta.max())
        w = solve(v / v.sum())
        return float(np.mean((Z1 - Z0 @ w) ** 2))

    starts = [np.zeros(k)]
    var = np.var(np.column_stack([X1s, X0s]), axis=1)
    if np.all(var > 0):
        starts.append(-np.log(var))
    best: Any = None
    for s0 in starts:
        r = optimize.minimize(loss, s0, method="Nelder-Mead",
                              options={"maxiter": 400 * k, "xatol": 1e-6, "fatol": 1e-10})
        if best is None or r.fun < best.fun:
            best = r
    v = np.exp(best.x - best.x.max())
    v /= v.sum()
    return solve(v), v


def _rmspe(gap: np.ndarray, T0: int) -> tuple[float, float]:
    return float(np.sqrt(np.mean(gap[:T0] ** 2))), float(np.sqrt(np.mean(gap[T0:] ** 2)))


@dataclass(frozen=True, eq=False)
class SynthResult:
    """A synthetic control fit for one treated area (see the module docstring for the conventions).

    ``estimate`` is the mean post-period gap (treated minus synthetic); ``se`` the standard deviation of the
    placebo areas' mean post-period gaps (NaN without placebos); ``p_value`` the permutation p-value of the
    post/pre RMSPE ratio. ``gaps`` is the gap series, ``placebo_gaps`` one column per donor.
    """

    outcome: str
    treated: Any
    start: Any
    weights: pd.Series
    v_weights: pd.Series
    times: np.ndarray
    treated_path: np.ndarray
    synthetic_path: np.ndarray
    T0: int
    pre_rmspe: float
    post_rmspe: float
    placebos: pd.DataFrame
    placebo_gaps: pd.DataFrame
    leave_one_out: pd.DataFrame
    level: float = 0.95
    notes: tuple[str, ...] = field(default_factory=tuple)

    def __repr__(self) -> str:
        return (f"SynthResult({self.treated!r}: effect {self.estimate:.4g}, pre-RMSPE {self.pre_rmspe:.3g}, "
                f"p = {self.p_value:.3g}, {int((self.weights > 0).sum())} donors with weight)")

    @property
    def gaps(self) -> np.ndarray:
        return self.treated_path - self.synthetic_path

    @property
    def estimate(self) -> float:
        return float(self.gaps[self.T0:].mean())

    @property
    def ratio(self) -> float:
        return self.post_rmspe / self.pre_rmspe if self.pre_rmspe > 0 else float("inf")

    @property
    def se(self) -> float:
        if self.placebos.empty:
            return float("nan")
        return float(np.std(self.placebos["mean_post_gap"].to_numpy(float), ddof=1))

    @property
    def p_value(self) -> float:
        if self.placebos.empty:
            return float("nan")
        r = self.placebos["ratio"].to_numpy(float)
        return float((1 + np.sum(r >= self.ratio)) / (1 + len(r)))

    def conf_int(self, level: float | None = None) -> tuple[float, float]:
        """``estimate ± z se`` with ``se`` from the placebo distribution (an approximation; the permutation
        p-value is the design's test)."""
        z = stats.norm.ppf(0.5 + (self.level if level is None else resolve_level(level, None, "conf_int")) / 2)
        return (self.estimate - z * self.se, self.estimate + z * self.se)

    def summary(self) -> pd.DataFrame:
        lo, hi = self.conf_int()
        return pd.DataFrame([{
            "treated": self.treated, "start": self.start, "estimate": self.estimate, "se": self.se, "ci_low": lo,
            "ci_high": hi, "level": self.level, "pre_rmspe": self.pre_rmspe, "post_rmspe": self.post_rmspe,
            "ratio": self.ratio, "p_value": self.p_value, "n_placebos": len(self.placebos),
            "n_donors": len(self.weights), "donors_with_weight": int((self.weights > 0).sum()),
        }])

    def weights_table(self) -> pd.DataFrame:
        """Donor weights, largest first, zero weights dropped."""
        w = self.weights[self.weights > 1e-10].sort_values(ascending=False, kind="stable")
        return pd.DataFrame({"unit": w.index, "weight": w.to_numpy()})

    def gap_table(self) -> pd.DataFrame:
        return pd.DataFrame({"period": self.times, "treated": self.treated_path, "synthetic": self.synthetic_path,
                             "gap": self.gaps, "post": np.arange(len(self.times)) >= self.T0})

    def to_dict(self) -> dict[str, Any]:
        return json_safe({
            "estimator": "synthetic_control", "outcome": self.outcome, "summary": self.summary().to_dict("records")[0],
            "weights": self.weights_table().to_dict("records"), "v_weights": self.v_weights.to_dict(),
            "gaps": self.gap_table().to_dict("records"), "placebos": self.placebos.to_dict("records"),
            "leave_one_out": self.leave_one_out.to_dict("records"), "notes": list(self.notes),
        })


def _predictors(panel: pd.DataFrame, data: AreaMatrix, unit: str, time: str, predictors: Sequence[str],
                outcome_periods: Sequence[Any]) -> _Spec:
    rows: list[np.ndarray] = []
    names: list[str] = []
    pre_times = data.times[: data.T0]
    if predictors:
        require_columns(list(predictors), panel.columns, "the area panel")
        pre = panel[panel[time].isin(pre_times)]
        means = pre.groupby(unit)[list(predictors)].mean()
        for p in predictors:
            vals = means[p].reindex(data.units).to_numpy(float)
            if not np.isfinite(vals).all():
                bad = data.units[~np.isfinite(vals)]
                raise SopEvalError(f"predictor {p!r} has no pre-period value for area(s) {list(bad)[:5]}; fill it or "
                                   "drop the predictor.")
            rows.append(vals)
            names.append(f"{p} (pre-period mean)")
    for t in outcome_periods:
        if t not in set(pre_times.tolist()):
            raise SopEvalError(f"outcome_periods: {t!r} is not a pre-treatment period ({list(pre_times)[:8]}…).")
        rows.append(data.Y[:, int(np.flatnonzero(data.times == t)[0])])
        names.append(f"{data.outcome} in {t}")
    if not rows:
        return _Spec(data.Y[:, : data.T0].T.copy(), tuple(f"{data.outcome} in {t}" for t in pre_times), False)
    return _Spec(np.vstack(rows), tuple(names), True)


def synthetic_control(panel: pd.DataFrame, *, unit: str, time: str, outcome: str, treated: Any, start: Any,
                      predictors: Sequence[str] = (), outcome_periods: Sequence[Any] = (), placebo: bool = True,
                      leave_one_out: bool = True, level: float | None = None) -> SynthResult:
    """Fit a synthetic control for one treated area (``treated``, first treated period ``start``); see the
    module docstring. Other treated areas, if any, must be removed from ``panel`` first."""
    data = area_matrix(panel, unit=unit, time=time, outcome=outcome, treated=[treated], start=start)
    spec = _predictors(panel, data, unit, time, predictors, outcome_periods)
    level = resolve_level(level, None, "synthetic_control")
    N0, T0, Y, X = data.N0, data.T0, data.Y, spec.X

    def fit(tr: int, donors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return _fit_one(X[:, tr], X[:, donors], Y[tr, :T0], Y[donors, :T0].T, spec.optimise_v)

    donors = np.arange(N0)
    w, v = fit(N0, donors)
    synth = w @ Y[:N0]
    pre, post = _rmspe(Y[N0] - synth, T0)
    prows, pgaps = [], {}
    if placebo:
        for j in range(N0):
            others = np.delete(donors, j)
            wj, _ = fit(j, others)
            gap = Y[j] - wj @ Y[others]
            a, b = _rmspe(gap, T0)
            prows.append({"unit": data.units[j], "pre_rmspe": a, "post_rmspe": b,
                          "ratio": b / a if a > 0 else np.inf, "mean_post_gap": float(gap[T0:].mean())})
            pgaps[data.units[j]] = gap
    loo = []
    if leave_one_out:
        for j in np.flatnonzero(w > 1e-6).tolist():
            others = np.delete(donors, j)
            wj, _ = fit(N0, others)
            gap = Y[N0] - wj @ Y[others]
            a, _b = _rmspe(gap, T0)
            loo.append({"dropped": data.units[j], "weight_dropped": float(w[j]), "pre_rmspe": a,
                        "estimate": float(gap[T0:].mean())})
    return SynthResult(
        outcome=outcome, treated=treated, start=start, weights=pd.Series(w, index=data.units[:N0], name="weight"),
        v_weights=pd.Series(v, index=list(spec.names), name="v"), times=data.times, treated_path=Y[N0].copy(),
        synthetic_path=synth, T0=T0, pre_rmspe=pre, post_rmspe=post,
        placebos=pd.DataFrame(prows, columns=["unit", "pre_rmspe", "post_rmspe", "ratio", "mean_post_gap"]),
        placebo_gaps=pd.DataFrame(pgaps, index=pd.Index(data.times, name="period")),
        leave_one_out=pd.DataFrame(loo, columns=["dropped", "weight_dropped", "pre_rmspe", "estimate"]),
        level=level,
    )
