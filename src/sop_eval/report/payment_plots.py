"""Plots of payments (each takes ``ax=``; no statistics computed here)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes

from sop_eval.report.style import money_axis


def _axes(ax: Axes | None, size: tuple[float, float] = (6.4, 3.2)) -> Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=size)
    return ax


def payment_risk_plot(
    draws: np.ndarray, observed: float | None = None, currency: str = "", ax: Axes | None = None
) -> Axes:
    """Histogram of simulated total payments, with the payment due on the point estimates.

    The money axis is in ``currency``, its ticks in the house style (:func:`sop_eval.report.style.money_tick`).
    """
    ax = _axes(ax)
    ax.hist(np.asarray(draws, dtype=float), bins=40, color="#7aa6c2", edgecolor="white")
    if observed is not None:
        ax.axvline(observed, color="#b22222", lw=2, label="due on the point estimates")
        ax.legend(frameon=False)
    ax.xaxis.set_major_formatter(money_axis(currency))
    ax.set_xlabel("total paid")
    ax.set_ylabel("simulated draws")
    return ax
