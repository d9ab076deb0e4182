"""Balance plots for a matched cohort: Love plot, propensity overlap and eCDF; each takes ``ax=``.

The statistics come from the result objects (``BalanceTable``, ``MatchedCohort.ecdf``); these
functions only draw.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sop_eval.report.disclosure import DEFAULT_POLICY, DisclosurePolicy, safe_bin_edges

if TYPE_CHECKING:
    from collections.abc import Callable

    from matplotlib.axes import Axes

    from sop_eval.cohorts.balance import BalanceTable
    from sop_eval.cohorts.matching import MatchedCohort


def _axes(ax: Axes | None) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt  # lazy: pyplot (and its backend) only when no ax= is given

    return plt.subplots(figsize=(6, 4))[1]


def love_plot(balance: BalanceTable, ax: Axes | None = None, absolute: bool = True,
              labels: Callable[[str], str] | None = None) -> Axes:
    """Standardised mean difference of each term before (open) and after (filled) matching.

    Dashed lines mark the balance threshold. ``absolute`` plots |SMD|. ``labels`` names each term on the
    axis (e.g. the contract's labels, :meth:`sop_eval.contract.DataSettings.label`); default: the term itself.
    """
    ax = _axes(ax)
    table = balance.table.iloc[::-1]
    y = np.arange(len(table))
    before, after = table["smd_before"].to_numpy(float), table["smd_after"].to_numpy(float)
    if absolute:
        before, after = np.abs(before), np.abs(after)
    ax.scatter(before, y, facecolors="none", edgecolors="tab:red", label="before matching")
    ax.scatter(after, y, color="tab:blue", label="after matching")
    for x in (balance.threshold, -balance.threshold)[: 1 if absolute else 2]:
        ax.axvline(x, linestyle="--", color="grey", linewidth=0.8)
    ax.axvline(0, color="black", linewidth=0.6)
    ax.set_yticks(y)
    ax.set_yticklabels(table.index if labels is None else [labels(str(term)) for term in table.index])
    ax.set_xlabel(("absolute " if absolute else "") + f"standardised mean difference ({balance.smd_denominator})")
    ax.legend(loc="lower right", fontsize="small")
    return ax


def propensity_overlap(cohort: MatchedCohort, ax: Axes | None = None, bins: int = 30,
                       policy: DisclosurePolicy = DEFAULT_POLICY) -> Axes:
    """Histograms of the propensity score by group, all units (outline) and matched, weighted (filled).

    Under the disclosure ``policy`` no bar stands for 1 to ``policy.threshold`` people: the ``bins``
    equal-width bins are merged with their neighbours until every bar of every group holds none or more
    (:func:`sop_eval.report.disclosure.safe_bin_edges`), and a group of 1 to ``threshold`` people in all is
    not drawn (the legend says so). Pass ``policy=NO_DISCLOSURE_CONTROL`` for the plain histograms.
    """
    ax = _axes(ax)
    score = cohort.propensity.to_numpy(float)
    treat = cohort.treated.to_numpy()
    w = cohort.weights.to_numpy(float)
    series = []
    for g, name, colour in ((True, "treated", "tab:blue"), (False, "control", "tab:orange")):
        series.append((f"{name}, before", colour, score[treat == g], None, "step"))
        keep = (treat == g) & (w > 0)
        series.append((f"{name}, matched", colour, score[keep], w[keep], "bar"))
    shown = [s for s in series if len(s[2]) == 0 or len(s[2]) > policy.threshold]
    edges = np.linspace(score.min(), score.max(), bins + 1)
    if shown:
        edges = safe_bin_edges([s[2] for s in shown], edges, policy)
    for label, colour, values, weights, kind in series:
        if not any(label == s[0] for s in shown):
            ax.plot([], [], color=colour, label=f"{label}: fewer than {policy.threshold + 1} people, not shown")
        elif kind == "step":
            ax.hist(values, histtype="step", color=colour, bins=edges, density=True, label=label)
        else:
            ax.hist(values, weights=weights, color=colour, label=label, bins=edges, density=True, alpha=0.45)
    ax.set_xlabel("propensity score")
    ax.set_ylabel("density")
    ax.legend(fontsize="small")
    return ax


def ecdf_plot(cohort: MatchedCohort, covariate: str, ax: Axes | None = None) -> Axes:
    """Empirical CDFs of one covariate term for treated and controls, before (dashed) and after matching."""
    ax = _axes(ax)
    curves = cohort.ecdf(covariate)
    colours = {"treated": "tab:blue", "control": "tab:orange"}
    for (group, sample), part in curves.groupby(["group", "sample"], sort=False):
        ax.step(part["value"], part["cdf"], where="post", color=colours[group],
                linestyle="--" if sample == "before" else "-", label=f"{group}, {sample}")
    ax.set_xlabel(covariate)
    ax.set_ylabel("cumulative proportion (weighted)")
    ax.legend(fontsize="small")
    return ax
