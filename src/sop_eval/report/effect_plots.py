"""Plots of effect estimates: Kaplan–Meier curves and a forest plot of relative changes.

Each function takes finished results and an optional ``ax=``, draws, and returns matplotlib objects;
nothing here computes a statistic.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sop_eval.effects.estimate import EffectEstimate
from sop_eval.errors import SopEvalError


def _axes(ax: Any) -> Any:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt  # lazy: pyplot (and its backend) only when no ax= is given

    return plt.subplots(figsize=(6, 4))[1]


def plot_km(
    estimate: EffectEstimate, ax: Any = None, labels: tuple[str, str] = ("treated", "matched comparison")
) -> tuple[Any, list[Any]]:
    """Step plot of the treated and weighted comparison Kaplan–Meier curves of a time-to-event estimate.

    Returns ``(ax, [treated_line, comparison_line])``.
    """
    curves = [estimate.details.get("km_treated"), estimate.details.get("km_comparison")]
    if estimate.kind != "time_to_event" or any(c is None for c in curves):
        raise SopEvalError("plot_km needs a time_to_event EffectEstimate (with Kaplan–Meier curves in details).")
    ax = _axes(ax)
    lines = []
    for curve, label in zip(curves, labels, strict=True):
        times, surv = [0.0, *curve["time"]], [1.0, *curve["survival"]]
        lines.append(ax.step(times, surv, where="post", label=label)[0])
    ax.set_ylim(0, 1.02)
    ax.set_xlabel(f"time to {estimate.outcome}" if estimate.outcome else "time")
    ax.set_ylabel("proportion without the event")
    ax.legend()
    return ax, lines


def plot_effects(
    estimates: Sequence[EffectEstimate], ax: Any = None, gate: float | Sequence[float | None] | None = None,
    scale: str = "relative",
) -> tuple[Any, Any]:
    """Forest plot of relative changes (percent) with their confidence intervals, one row per estimate.

    ``gate`` (a relative reduction such as 0.10) draws the contractual threshold as a dashed line; a
    sequence gives each row its own threshold (None for none), drawn as a short red mark on that row.
    ``scale="reduction"`` plots the reduction (``-relative``: positive when the outcome fell, the sign the
    report's tables use) with the gate on the positive side. Returns ``(ax, errorbar container)``.
    """
    if scale not in ("relative", "reduction"):
        raise SopEvalError(f"plot_effects scale={scale!r} must be 'relative' or 'reduction'.")
    sign = -1.0 if scale == "reduction" else 1.0
    items = list(estimates)
    if not items:
        raise SopEvalError("plot_effects needs at least one EffectEstimate.")
    ax = _axes(ax)
    ys = list(range(len(items)))[::-1]
    rel = [sign * 100 * e.relative for e in items]
    cis = [tuple(sorted(sign * v for v in e.relative_conf_int())) for e in items]
    err = [[r - 100 * lo for r, (lo, _) in zip(rel, cis, strict=True)],
           [100 * hi - r for r, (_, hi) in zip(rel, cis, strict=True)]]
    bars = ax.errorbar(rel, ys, xerr=err, fmt="o", capsize=3)
    ax.axvline(0, color="grey", lw=0.8)
    if isinstance(gate, (int, float)):
        ax.axvline(-sign * 100 * gate, color="tab:red", ls="--", lw=1, label=f"gate: {100 * gate:g}% reduction")
        ax.legend()
    elif gate is not None:
        rows = [(y, g) for y, g in zip(ys, gate, strict=True) if g is not None]
        for i, (y, g) in enumerate(rows):
            ax.plot([-sign * 100 * g] * 2, [y - 0.3, y + 0.3], color="tab:red", lw=2, label="gate" if i == 0 else None)
        if rows:
            ax.legend()
    ax.set_yticks(ys, [e.label or e.outcome or f"estimate {i + 1}" for i, e in enumerate(items)])
    ax.set_xlabel("reduction versus comparison (%)" if scale == "reduction" else
                  "relative change versus comparison (%)")
    return ax, bars
