import json
import math

import numpy as np
import pytest
from scipy import stats

from sop_eval import SopEvalError
from sop_eval.effects.estimate import EffectEstimate
from sop_eval.effects.pooling import mean_of_cohort_reductions, pool_cohorts
from sop_eval.thresholds import Gate, TriggerDecision, decisions_table, measure_value


def est(treated, comparison, n=1000, se=0.05, label="c", **kw):
    return EffectEstimate(
        estimate=treated - comparison, se=se, treated_mean=treated, comparison_mean=comparison,
        n_treated=n, n_comparison=10 * n, kind="count", label=label, **kw,
    )


def test_peterborough_cohort_gates_on_point_estimate():
    gate = Gate(0.10, label="cohort")
    d1 = gate.evaluate(est(1.42, 1.55, label="cohort 1"))
    d2 = gate.evaluate(est(1.36, 1.53, label="cohort 2"))
    assert round(100 * d1.value, 2) == 8.39 and not d1.met and not d1.met_threshold
    assert round(100 * d2.value, 2) == 11.11 and d2.met
    assert d1.margin == pytest.approx(0.13 / 1.55 - 0.10)
    assert d2.margin > 0 > d1.margin


def test_threshold_compared_exactly_not_in_floating_point():
    # 0.3 / 3 is 0.09999999999999999 in binary floating point; the contract means exactly 10%
    assert 0.3 / 3.0 < 0.1
    e = EffectEstimate(estimate=0.3, se=0.05, treated_mean=3.3, comparison_mean=3.0, n_treated=100, n_comparison=100)
    d = Gate(0.10, measure="relative_increase").evaluate(e)
    assert d.met and d.margin == 0.0 and str(d.value_exact) == "0.1"
    below = Gate(0.10, measure="relative_increase").evaluate(
        EffectEstimate(estimate=0.2999, se=0.05, treated_mean=3.2999, comparison_mean=3.0, n_treated=100,
                       n_comparison=100)
    )
    assert not below.met and below.margin < 0


def test_measures_and_their_intervals():
    e = est(1.36, 1.53, se=0.04)
    rel = Gate(0.05).evaluate(e)
    lo, hi = e.relative_conf_int()
    assert rel.conf_int() == pytest.approx((-hi, -lo))
    ab = Gate(0.1, measure="reduction").evaluate(e)
    lo, hi = e.conf_int()
    assert ab.value == pytest.approx(0.17) and ab.conf_int() == pytest.approx((-hi, -lo))
    inc = Gate(0.1, measure="increase").evaluate(e)
    assert inc.value == pytest.approx(-0.17) and not inc.met
    assert float(measure_value(e, "relative_increase")) == pytest.approx(-0.17 / 1.53)


def test_contractual_and_statistical_tests_side_by_side():
    e = est(1.36, 1.53, se=0.12)  # 11% reduction, p about 0.16
    plain = Gate(0.10).evaluate(e)
    strict = Gate(0.10, level=0.95).evaluate(e)
    assert plain.met and plain.requires_significance is False
    assert strict.met_threshold and not strict.significant and not strict.met
    assert strict.p_value == pytest.approx(e.p_value)
    tight = Gate(0.10, level=0.95).evaluate(est(1.36, 1.53, se=0.03))
    assert tight.met and tight.significant
    row = strict.summary()
    assert {"value", "threshold", "margin", "met_threshold", "p_value", "significant", "met", "ci_low"} <= set(row)
    json.dumps(strict.to_dict())
    assert "not met" in strict.describe()


def test_significant_harm_does_not_count_as_significant():
    d = Gate(0.0, level=0.95).evaluate(est(1.9, 1.5, se=0.01))
    assert d.p_value < 1e-6 and d.significant is False and not d.met


def test_pooled_gate_is_on_all_cohorts_together():
    e1, e2 = est(1.42, 1.55, label="cohort 1"), est(1.36, 1.53, label="cohort 2")
    d = Gate(0.075).evaluate_pooled([e1, e2])
    # events avoided across both cohorts over events expected across both: (0.13 + 0.17) / (1.55 + 1.53)
    assert d.value == pytest.approx(0.30 / 3.08, abs=1e-15) and d.met and d.pooled
    assert round(100 * d.value, 2) == 9.74
    # not the mean of the cohort reductions (9.75%), which is reported but decides nothing
    assert round(100 * mean_of_cohort_reductions([e1, e2]), 2) == 9.75
    pooled = pool_cohorts([e1, e2])
    assert d.value == pytest.approx(-pooled.relative, rel=1e-14)
    assert d.se == pytest.approx(pooled.relative_se) and d.measured == pooled
    assert d.se == pytest.approx(math.sqrt(0.25 * 0.05**2 + 0.25 * 0.05**2) / 1.54)
    unequal = Gate(0.075).evaluate_pooled([est(1.42, 1.55, n=3000), est(1.36, 1.53, n=1000)])
    assert unequal.value == pytest.approx((0.75 * 0.13 + 0.25 * 0.17) / (0.75 * 1.55 + 0.25 * 1.53))
    assert unequal.n_treated == 4000
    table = decisions_table([d, unequal])
    assert len(table) == 2


def test_alpha_is_deprecated_and_converted_exactly():
    with pytest.warns(DeprecationWarning, match="level=0.95"):
        gate = Gate(0.10, alpha=0.05)
    assert gate.level == 0.95 and gate.alpha == 0.05
    with pytest.raises(SopEvalError, match="alpha"):
        Gate(0.10, alpha=1.2)


def test_gate_met_at_nominal_rate_in_simulation():
    # estimates drawn from a known sampling distribution: the share of draws meeting the gate equals the
    # normal probability, and a significance gate at a true null is met no more often than alpha / 2
    rng = np.random.default_rng(4)
    se, comparison, truth = 0.05, 1.5, -0.15
    draws = truth + se * rng.standard_normal(4000)
    gate = Gate(0.08)
    hits = np.mean([gate.evaluate(est(comparison + d, comparison, se=se)).met for d in draws[:2000]])
    expected = stats.norm.sf((0.08 * comparison + truth) / se)
    assert hits == pytest.approx(expected, abs=0.03)
    null = Gate(0.0, level=0.95)
    false_hits = np.mean([null.evaluate(est(comparison + d, comparison, se=se)).met for d in draws[2000:] - truth])
    assert false_hits < 0.025 + 0.01


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"threshold": 1.5}, "between 0 and 1"),
        ({"threshold": -0.1}, "between 0 and 1"),
        ({"threshold": 0.1, "measure": "ratio"}, "not one of"),
        ({"threshold": 0.1, "level": 1.2}, "level"),
        ({"threshold": float("nan")}, "finite"),
    ],
)
def test_bad_gates_are_refused(kwargs, match):
    with pytest.raises(SopEvalError, match=match):
        Gate(**kwargs)


def test_significance_needs_a_standard_error():
    e = EffectEstimate(estimate=-0.2, se=0.0, treated_mean=1.3, comparison_mean=1.5, n_treated=100,
                       n_comparison=0, label="c", details={"se_given": False})
    assert Gate(0.1).evaluate(e).p_value is None
    with pytest.raises(SopEvalError, match="no standard error"):
        Gate(0.1, level=0.95).evaluate(e)
    with pytest.raises(SopEvalError, match="comparison_mean 0"):
        Gate(0.1).evaluate(est(0.0, 0.0))
    with pytest.raises(SopEvalError, match="no cohort estimates"):
        Gate(0.1).evaluate_pooled([])
    with pytest.raises(SopEvalError, match="EffectEstimate"):
        Gate(0.1).evaluate({"estimate": 1})


def test_decision_is_frozen():
    d = Gate(0.1).evaluate(est(1.3, 1.5))
    assert isinstance(d, TriggerDecision)
    with pytest.raises(AttributeError):
        d.met = False


def test_pooled_interval_covers_the_truth_at_its_nominal_rate():
    # two independent cohorts with known sampling distributions; truth = reduction across both together
    rng = np.random.default_rng(11)
    c1, c2, t1, t2, se = 1.55, 1.53, -0.13, -0.17, 0.05
    truth = -(0.25 * t1 + 0.75 * t2) / (0.25 * c1 + 0.75 * c2)
    gate = Gate(0.075)
    covered = []
    for d1, d2 in se * rng.standard_normal((1500, 2)):
        e1 = EffectEstimate(estimate=t1 + d1, se=se, treated_mean=c1 + t1 + d1, comparison_mean=c1, n_treated=500,
                            n_comparison=5000)
        e2 = EffectEstimate(estimate=t2 + d2, se=se, treated_mean=c2 + t2 + d2, comparison_mean=c2, n_treated=1500,
                            n_comparison=15000)
        lo, hi = gate.evaluate_pooled([e1, e2]).conf_int()
        covered.append(lo <= truth <= hi)
    assert np.mean(covered) == pytest.approx(0.95, abs=0.015)
