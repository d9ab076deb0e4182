"""Effect plots draw what the result holds and return matplotlib objects."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from sop_eval.effects import EffectEstimate
from sop_eval.effects.matched import MatchedSample
from sop_eval.effects.survival import time_to_event_effect
from sop_eval.errors import SopEvalError
from sop_eval.report.effect_plots import plot_effects, plot_km


@pytest.fixture
def tte():
    rng = np.random.default_rng(0)
    n = 200
    treat = np.r_[np.ones(n, bool), np.zeros(n, bool)]
    time = np.ceil(rng.exponential(np.where(treat, 400, 300))).clip(1, None)
    sample = MatchedSample(pd.DataFrame({"t": time}), treat, np.ones(2 * n), np.r_[np.arange(n), np.arange(n)])
    return time_to_event_effect(sample, np.where(time > 365, np.nan, time), None, outcome="t", horizon=365)


def test_plot_km_draws_both_curves_from_details(tte):
    fig, ax = plt.subplots()
    out_ax, lines = plot_km(tte, ax=ax)
    assert out_ax is ax and len(lines) == 2
    x, y = lines[0].get_data()
    assert list(x[1:]) == tte.details["km_treated"]["time"] and list(y[1:]) == tte.details["km_treated"]["survival"]
    plt.close(fig)


def test_plot_effects_and_refusals(tte):
    est = EffectEstimate(estimate=-0.2, se=0.05, treated_mean=1.5, comparison_mean=1.7, n_treated=1000,
                         n_comparison=9000, kind="count", label="cohort 1")
    fig, ax = plt.subplots()
    _, bars = plot_effects([est], ax=ax, gate=0.10)
    assert bars.lines[0].get_xdata()[0] == pytest.approx(100 * est.relative)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["cohort 1"]
    with pytest.raises(SopEvalError):
        plot_km(est, ax=ax)
    plt.close(fig)
