"""One vocabulary for an estimate with its uncertainty, and one gate rule over exact and array arithmetic."""

import itertools
import warnings

import numpy as np
import pandas as pd
import pytest

from sop_eval.arithmetic import ARRAY, EXACT
from sop_eval.datasets import make_staggered_panel
from sop_eval.did import att_gt, did2x2, to_effect_estimate
from sop_eval.effects.estimate import EffectEstimate
from sop_eval.effects.survival import CoxFit
from sop_eval.power import SimulatedPower
from sop_eval.seeds import DEFAULT_SEED, rng
from sop_eval.stats.estimate import Estimate, alpha_of, interval_label, level_of
from sop_eval.thresholds import Gate, critical_value, decide, gate_measure, to_decimal, z_statistic


def _effect(estimate, comparison, se=0.05, df=None):
    return EffectEstimate(estimate=estimate, se=se, treated_mean=comparison + estimate, comparison_mean=comparison,
                          n_treated=500, n_comparison=5000, df=df)


ESTIMATES = [-0.3, -0.15, -0.1, 0.1, 0.15, -0.1500000001, -0.14999999, -0.0980, -0.0001, 0.0, 0.02, 0.3]
COMPARISONS = [1.5, 3.0, 0.98]
GATES = [0.0, 0.05, 0.1, 0.2]
LEVELS = [None, 0.9, 0.95]
SES = [0.0, 0.04, 0.1]


@pytest.mark.parametrize("measure", ["relative_reduction", "reduction", "relative_increase", "increase"])
def test_exact_and_vectorised_gate_agree(measure):
    cases = list(itertools.product(ESTIMATES, COMPARISONS, GATES, LEVELS, SES))
    eff = np.array([c[0] for c in cases])
    comp = np.array([c[1] for c in cases])
    exact = []
    for estimate, comparison, threshold, level, se in cases:
        gate = Gate(threshold, measure=measure, level=level)
        exact.append(gate.evaluate(_effect(estimate, comparison, se)).met)
    vector = np.empty(len(cases), dtype=bool)
    for i, (_, _, threshold, level, se) in enumerate(cases):
        value = gate_measure(eff[i:i + 1], comp[i:i + 1], measure, ARRAY)
        stat = z_statistic(eff[i:i + 1], se)
        vector[i] = decide(value, threshold, stat, critical_value(level or 0.95), level is not None, ARRAY)[2][0]
    assert list(vector) == exact
    # the boundary cases are in the grid: a value exactly at the threshold meets it on both paths
    size = 0.15 if measure.startswith("relative") else 0.1
    at = Gate(0.1, measure=measure).evaluate(_effect(-size if "reduction" in measure else size, 1.5))
    assert at.met and at.margin == 0.0


def test_boundary_float_meets_threshold_on_both_paths():
    value = gate_measure(np.array([-0.3]), np.array([3.0]), "relative_reduction", ARRAY)
    assert value[0] < 0.1  # 0.09999999999999999 in binary floating point
    assert decide(value, 0.1, None, 1.96, False, ARRAY)[2][0]
    exact = gate_measure(to_decimal(-0.3), to_decimal(3.0), "relative_reduction", EXACT)
    assert decide(exact, to_decimal(0.1), None, 1.96, False, EXACT)[2] is True
    assert not decide(np.array([0.0999999]), 0.1, None, 1.96, False, ARRAY)[2][0]


def test_every_result_speaks_the_estimate_vocabulary():
    panel = make_staggered_panel(seed=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = att_gt(panel, "y", "unit", "period", "group", level=0.9)
    agg = fit.aggregate("simple")
    frame = pd.DataFrame({"y": [1.0, 2.0, 1.5, 3.5, 1.1, 2.2, 1.4, 3.9], "d": [0, 0, 1, 1] * 2,
                          "p": [0, 1, 0, 1] * 2})
    two = did2x2(frame, "y", "d", "p", level=0.9)
    results = [_effect(-0.1, 1.5), agg, fit, two, CoxFit(0.2, 0.1, 50.0, 30.0, True),
               SimulatedPower(0.8, 0.01, -0.1, 100, 1.0, 0.05, "two-sided", 1000, 1, "test")]
    for r in results:
        assert isinstance(r, Estimate), type(r).__name__
        r.summary()
        r.to_dict()
    assert agg.level == 0.9 and agg.estimate == agg.overall_att and agg.se == agg.overall_se
    assert agg.conf_int() != agg.conf_int(0.95)
    assert two.conf_int() == pytest.approx((two.estimate - 1.6448536 * two.se, two.estimate + 1.6448536 * two.se))
    effect = to_effect_estimate(agg, label="all")
    assert effect.level == 0.9 and effect.estimate == agg.overall_att
    assert to_effect_estimate(two).method.startswith("did2x2")
    with pytest.raises(Exception, match="aggregate the ATT"):
        to_effect_estimate(fit)


def test_alpha_keywords_are_deprecated_and_exact():
    panel = make_staggered_panel(seed=2)
    with pytest.warns(DeprecationWarning, match="level=0.9"), warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)
        fit = att_gt(panel, "y", "unit", "period", "group", alpha=0.1)
    assert fit.level == 0.9 and fit.alpha == 0.1
    assert alpha_of(0.95) == 0.05 and level_of(0.05) == 0.95 and interval_label(0.9) == "90% CI"
    with pytest.warns(DeprecationWarning):
        assert _effect(-0.3, 1.5).significant(alpha=0.05)


def test_none_seed_means_the_default_seed():
    assert rng(None).integers(1 << 30) == np.random.default_rng(DEFAULT_SEED).integers(1 << 30)
