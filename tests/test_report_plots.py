"""Plots used by the report: they draw what they are given and return the axes."""

import re

import matplotlib.pyplot as plt
import numpy as np

from sop_eval.effects.estimate import EffectEstimate
from sop_eval.report.effect_plots import plot_effects
from sop_eval.report.payment_plots import payment_risk_plot
from sop_eval.report.style import money_tick


def est(label, t, c):
    return EffectEstimate(estimate=t - c, se=0.05, treated_mean=t, comparison_mean=c, n_treated=100,
                          n_comparison=500, kind="count", label=label)


def test_effects_plot_with_a_gate_per_row():
    fig, ax = plt.subplots()
    out, bars = plot_effects([est("cohort 1", 1.42, 1.55), est("pooled", 1.39, 1.54)], ax=ax, gate=[0.10, 0.075])
    assert out is ax
    red = [line for line in ax.lines if line.get_color() == "tab:red"]
    assert sorted(line.get_xdata()[0] for line in red) == [-10.0, -7.5]
    ticks = {t.get_text(): t.get_position()[1] for t in ax.get_yticklabels()}
    assert ticks["cohort 1"] > ticks["pooled"]  # first estimate on top
    plt.close(fig)


def test_payment_risk_histogram_marks_the_due_amount():
    fig, ax = plt.subplots()
    draws = np.random.default_rng(1).normal(400_000, 50_000, 2000)
    out = payment_risk_plot(draws, observed=500_000, currency="GBP", ax=ax)
    assert out is ax
    assert sum(p.get_height() for p in ax.patches) == 2000
    assert ax.lines[-1].get_xdata()[0] == 500_000
    assert ax.get_xlabel() == "total paid"
    fig.canvas.draw()
    ticks = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert ticks and all(re.fullmatch(r"-?£\d{1,3}(,\d{3})*", t) for t in ticks), ticks
    assert "£500,000" in ticks and "thousands" not in ax.get_xlabel()
    assert money_tick(1_234_567.4, "EUR") == "€1,234,567" and money_tick(-2500, "GBP") == "-£2,500"
    plt.close(fig)


def test_love_plot_names_terms_by_their_labels():
    import pandas as pd

    from sop_eval import match
    from sop_eval.report.balance_plots import love_plot

    df = pd.DataFrame({"treated": [1, 1, 1, 0, 0, 0, 0, 0], "prior_convictions": [3, 5, 4, 1, 2, 6, 0, 3],
                       "age": [30, 41, 25, 33, 52, 27, 38, 44]})
    balance = match(df, "treated", ["prior_convictions", "age"]).balance()
    fig, ax = plt.subplots()
    love_plot(balance, ax=ax, labels=lambda term: term.replace("_", " ").upper())
    shown = {t.get_text() for t in ax.get_yticklabels()}
    assert "PRIOR CONVICTIONS" in shown and "prior_convictions" not in shown
    plt.close(fig)
