"""Plots for the area-level methods and HonestDiD; each takes ``ax=`` and only draws what the result holds."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from sop_eval.report.balance_plots import _axes

if TYPE_CHECKING:
    from matplotlib.axes import Axes


def weights_plot(result: Any, ax: Axes | None = None, top: int = 15) -> Axes:
    """Horizontal bars of the largest donor weights (a :class:`SynthResult` or :class:`SdidResult`)."""
    table = result.weights_table() if hasattr(result, "weights_table") else result.unit_weights()
    table = table[table["weight"] > 0].head(top)
    ax = _axes(ax)
    ax.barh([str(u) for u in table["unit"]][::-1], table["weight"].to_numpy()[::-1], color="tab:blue")
    ax.set_xlabel("donor weight")
    return ax


def gap_plot(result: Any, ax: Axes | None = None) -> Axes:
    """The treated area and its synthetic control over time (solid / dashed), treatment start dotted."""
    g = result.gap_table()
    ax = _axes(ax)
    ax.plot(g["period"], g["treated"], color="black", label=f"{result.treated}")
    ax.plot(g["period"], g["synthetic"], color="tab:blue", linestyle="--", label="synthetic control")
    ax.axvline(result.start, color="grey", linestyle=":", linewidth=0.8)
    ax.set_xlabel("period")
    ax.set_ylabel(result.outcome)
    ax.legend(frameon=False)
    return ax


def placebo_plot(result: Any, ax: Axes | None = None, max_pre_rmspe_ratio: float | None = None) -> Axes:
    """Gap of the treated area (black) over the placebo areas' gaps (grey); with ``max_pre_rmspe_ratio`` only
    placebos whose pre-period RMSPE is at most that multiple of the treated area's are drawn (ADH 2010 use 5)."""
    ax = _axes(ax)
    keep = result.placebos
    if max_pre_rmspe_ratio is not None:
        keep = keep[keep["pre_rmspe"] <= max_pre_rmspe_ratio * result.pre_rmspe]
    for u in keep["unit"]:
        ax.plot(result.times, result.placebo_gaps[u].to_numpy(), color="lightgrey", linewidth=0.8)
    ax.plot(result.times, result.gaps, color="black", linewidth=1.8, label=f"{result.treated}")
    ax.axhline(0, color="black", linestyle="--", linewidth=0.8)
    ax.axvline(result.start, color="grey", linestyle=":", linewidth=0.8)
    ax.set_xlabel("period")
    ax.set_ylabel(f"gap in {result.outcome}")
    ax.legend(frameon=False)
    return ax


def sdid_plot(result: Any, ax: Axes | None = None) -> Axes:
    """Treated mean and the SDID counterfactual (weighted donors shifted by the λ-weighted pre-period gap), with
    the time weights λ as bars at the bottom."""
    tr = result.trajectories()
    ax = _axes(ax)
    ax.plot(tr["period"], tr["treated"], color="black", label="treated")
    ax.plot(tr["period"], tr["counterfactual"], color="tab:blue", linestyle="--", label=f"{result.estimator} control")
    tw = result.time_weights()
    if tw["weight"].max() > 0:
        lo = float(min(tr["treated"].min(), tr["counterfactual"].min()))
        span = float(max(tr["treated"].max(), tr["counterfactual"].max())) - lo
        ax.bar(tw["period"], tw["weight"] * 0.2 * span, bottom=lo - 0.25 * span, color="tab:orange", alpha=0.6,
               label="time weights λ")
    ax.axvline(result.data.start, color="grey", linestyle=":", linewidth=0.8)
    ax.set_xlabel("period")
    ax.set_ylabel(result.outcome)
    ax.legend(frameon=False)
    return ax


def placebo_distribution_plot(result: Any, ax: Axes | None = None, bins: int = 30) -> Axes:
    """Histogram of the placebo fits' average effects (``result.placebo_estimates``, grey) with the treated
    estimate (``result.estimate``) as a black line and zero dashed."""
    ax = _axes(ax)
    values = np.asarray(result.placebo_estimates, dtype=float)
    ax.hist(values[np.isfinite(values)], bins=bins, color="lightgrey", edgecolor="grey", label="placebo fits")
    ax.axvline(result.estimate, color="black", linewidth=1.8, label="treated")
    ax.axvline(0, color="black", linestyle="--", linewidth=0.8)
    ax.set_xlabel(f"average effect on {result.outcome}")
    ax.set_ylabel("placebo fits")
    ax.legend(frameon=False)
    return ax


def honest_plot(result: Any, ax: Axes | None = None) -> Axes:
    """HonestDiD sensitivity: the original interval, then the robust set at each ``Mbar``/``M``, with the
    breakdown value marked when finite."""
    s = result.summary()
    ax = _axes(ax)
    grid = s[result.parameter].to_numpy(float)[1:]
    step = float(np.diff(grid).min()) if len(grid) > 1 else 1.0
    xs = np.concatenate([[grid.min() - step], grid])
    mid = (s["lb"] + s["ub"]).to_numpy(float) / 2
    err = np.vstack([mid - s["lb"].to_numpy(float), s["ub"].to_numpy(float) - mid])
    ax.errorbar(xs[:1], mid[:1], yerr=err[:, :1], fmt="none", ecolor="tab:red", capsize=3, label="original")
    ax.errorbar(xs[1:], mid[1:], yerr=err[:, 1:], fmt="none", ecolor="tab:blue", capsize=3, label=result.method)
    ax.set_xticks(xs, ["original"] + [f"{g:g}" for g in grid])
    ax.axhline(0, color="black", linestyle="--", linewidth=0.8)
    if np.isfinite(result.breakdown) and result.breakdown > 0:
        ax.axvline(result.breakdown, color="grey", linestyle=":", linewidth=0.8)
    ax.set_xlabel(result.parameter)
    ax.set_ylabel(f"robust {result.level:.0%} set: {result.target}")
    return ax
