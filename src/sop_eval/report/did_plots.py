"""DiD plots: the event-study plot with its uniform band and the raw-means parallel-trends plot; each takes ``ax=``.

The statistics come from the result objects (``AggregateResult`` of kind ``"dynamic"``, ``EventStudyResult``)
and from :func:`sop_eval.did.raw_means`; these functions only draw.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from sop_eval.errors import SopEvalError
from sop_eval.report.balance_plots import _axes

if TYPE_CHECKING:
    from matplotlib.axes import Axes


def event_study_plot(result: Any, ax: Axes | None = None, uniform: bool = True) -> Axes:
    """Effects by event time with pointwise intervals (error bars) and, with ``uniform``, the simultaneous band
    (shaded). Pre-treatment points are grey, anticipation periods (``result.anticipation``) orange,
    post-treatment points blue; the dashed line marks zero and the dotted line the start of treatment. Takes a
    dynamic aggregate or an event-study result."""
    rows = result.summary()
    rows = rows[rows["term"] == "event_time"]
    if rows.empty:
        raise SopEvalError("event_study_plot needs a result by event time: att_gt(...).aggregate('dynamic') or "
                           "event_study(...).")
    ax = _axes(ax)
    e = rows["label"].to_numpy(float)
    att = rows["att"].to_numpy(float)
    if uniform:
        ax.fill_between(e, rows["band_low"].to_numpy(float), rows["band_high"].to_numpy(float), color="tab:blue",
                        alpha=0.15, step=None, label="uniform band")
    lead = int(getattr(result, "anticipation", 0) or 0)
    pre, ahead = e < -lead, (e >= -lead) & (e < 0)
    for mask, colour, name in ((pre, "tab:grey", "pre-treatment"), (ahead, "tab:orange", "anticipation"),
                               (e >= 0, "tab:blue", "post-treatment")):
        if not mask.any():
            continue
        ax.errorbar(e[mask], att[mask], yerr=[att[mask] - rows["ci_low"].to_numpy(float)[mask],
                                             rows["ci_high"].to_numpy(float)[mask] - att[mask]],
                    fmt="o", color=colour, capsize=3, label=name)
    ax.axhline(0, color="black", linestyle="--", linewidth=0.8)
    ax.axvline(-0.5, color="black", linestyle=":", linewidth=0.8)
    ax.set_xlabel("periods since treatment started")
    ax.set_ylabel("effect on " + getattr(result, "outcome", "the outcome"))
    ax.legend(frameon=False)
    return ax


def parallel_trends_plot(means: pd.DataFrame, ax: Axes | None = None, starts: bool = True) -> Axes:
    """Mean outcome over time for each group (the table from :func:`sop_eval.did.raw_means`); group 0 is drawn as
    "never treated" and, with ``starts``, a dotted vertical line marks each cohort's first treated period."""
    missing = {"group", "time", "mean"} - set(means.columns)
    if missing:
        raise SopEvalError(f"parallel_trends_plot needs columns group, time and mean (from raw_means); missing "
                           f"{sorted(missing)}.")
    ax = _axes(ax)
    for g, part in means.groupby("group", sort=True):
        name = "never treated" if g == 0 else f"group {g:g}"
        (line,) = ax.plot(part["time"], part["mean"], marker="o", label=name)
        if starts and g != 0 and part["time"].min() <= g <= part["time"].max():
            ax.axvline(g, color=line.get_color(), linestyle=":", linewidth=0.8)
    ax.set_xlabel("period")
    ax.set_ylabel("mean outcome")
    ax.legend(frameon=False)
    return ax
