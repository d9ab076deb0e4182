"""Plots of an evaluation's effects and payment risk (each takes ``ax=``; no statistics computed here)."""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes

from sop_eval.effects.estimate import EffectEstimate


def _axes(ax: Axes | None, size: tuple[float, float] = (6.4, 3.2)) -> Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=size)
    return ax


def reduction_plot(
    estimates: Sequence[EffectEstimate], gates: Sequence[float | None] = (), ax: Axes | None = None
) -> Axes:
    """Relative reduction (``-relative``) of each estimate with its confidence interval, and each gate.

    ``gates`` holds the contractual threshold for each estimate (None where there is none); gates are
    drawn as short vertical marks so the point estimate can be read against them.
    """
    ax = _axes(ax)
    labels = [e.label or f"estimate {i + 1}" for i, e in enumerate(estimates)]
    y = np.arange(len(estimates))[::-1]
    for yi, est in zip(y, estimates):
        lo, hi = est.relative_conf_int()
        ax.plot([-hi * 100, -lo * 100], [yi, yi], color="#1f4e79", lw=2)
        ax.plot(-est.relative * 100, yi, "o", color="#1f4e79")
    for yi, gate in zip(y, list(gates) + [None] * (len(estimates) - len(gates))):
        if gate is not None:
            ax.plot([gate * 100] * 2, [yi - 0.3, yi + 0.3], color="#b22222", lw=2)
    ax.axvline(0, color="#777", lw=0.8)
    ax.set_yticks(y, labels)
    ax.set_xlabel("reduction versus comparison (%), with confidence interval; red: gate")
    ax.set_ylim(-0.6, len(estimates) - 0.4)
    return ax


def payment_risk_plot(draws: np.ndarray, observed: float | None = None, currency: str = "", ax: Axes | None = None) -> Axes:
    """Histogram of simulated total payments, with the payment due on the point estimates."""
    ax = _axes(ax)
    ax.hist(np.asarray(draws, dtype=float) / 1000, bins=40, color="#7aa6c2", edgecolor="white")
    if observed is not None:
        ax.axvline(observed / 1000, color="#b22222", lw=2, label="due on the point estimates")
        ax.legend(frameon=False)
    ax.set_xlabel(f"total payment ({currency} thousands)".replace("( ", "("))
    ax.set_ylabel("simulated draws")
    return ax
