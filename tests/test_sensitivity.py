"""Rosenbaum bounds and E-values: agreement with scipy at gamma = 1, published E-values, behaviour."""

import warnings

import numpy as np
import pytest
from scipy import stats

import sop_eval
from sop_eval.datasets import load_lalonde, make_reoffending
from sop_eval.effects import EffectEstimate, e_value, rosenbaum_bounds
from sop_eval.effects.sensitivity import e_value_ratio, pair_differences
from sop_eval.errors import SopEvalError


def test_gamma_one_equals_scipy_signed_rank_with_ties():
    rng = np.random.default_rng(5)
    d = rng.poisson(2, 80) - rng.poisson(2.6, 80)  # many ties and zeros, like event counts
    bounds = rosenbaum_bounds(d, gammas=[1.0], alternative="less")
    ref = stats.wilcoxon(d, alternative="less", method="approx", correction=False, zero_method="wilcox")
    assert bounds.table["p_upper"].iloc[0] == pytest.approx(ref.pvalue, rel=1e-10)
    assert bounds.table["p_lower"].iloc[0] == pytest.approx(ref.pvalue, rel=1e-10)


def test_bounds_widen_with_gamma_and_critical_gamma_is_where_upper_crosses_alpha():
    rng = np.random.default_rng(1)
    d = rng.normal(0.5, 1, 200)
    b = rosenbaum_bounds(d, gammas=[1, 1.5, 2, 3])
    assert b.alternative == "greater"
    assert np.all(np.diff(b.table["p_upper"]) > 0) and np.all(np.diff(b.table["p_lower"]) < 0)
    assert b.critical_gamma > 1
    at = rosenbaum_bounds(d, gammas=[b.critical_gamma]).table["p_upper"].iloc[0]
    assert at == pytest.approx(0.05, abs=1e-6)
    assert rosenbaum_bounds(d * 2).critical_gamma == pytest.approx(b.critical_gamma)  # ranks only
    assert rosenbaum_bounds(rng.normal(0, 1, 50), alternative="greater").critical_gamma >= 1.0


def test_rosenbaum_on_a_matched_cohort():
    df = make_reoffending(n_per_cohort=400, n_cohorts=1, pool_size=6000, effect=-0.4, seed=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = sop_eval.match(df, "treated", ["age", "prior_convictions", "offence_group", "drug_misuse"], ratio=1)
    d = pair_differences(m, "reconviction_events")
    assert len(d) == 400
    b = rosenbaum_bounds(d)
    assert b.alternative == "less" and b.critical_gamma > 1
    assert set(b.summary().columns) >= {"gamma", "p_lower", "p_upper", "significant_at_upper"}
    with pytest.raises(SopEvalError, match="non-zero"):
        rosenbaum_bounds(np.zeros(10))


def test_e_value_published_example():
    # VanderWeele and Ding (2017), Annals of Internal Medicine: RR 3.9 (95% CI 1.8 to 8.7) -> 7.26 and 3.0
    ev = e_value_ratio(3.9, 1.8, 8.7)
    assert ev.e_value == pytest.approx(7.26, abs=0.01)
    assert ev.e_value_ci == pytest.approx(3.0, abs=0.01)
    protective = e_value_ratio(1 / 3.9, 1 / 8.7, 1 / 1.8)
    assert protective.e_value == pytest.approx(ev.e_value) and protective.e_value_ci == pytest.approx(ev.e_value_ci)
    assert e_value_ratio(0.9, 0.8, 1.05).e_value_ci == 1.0


def test_e_value_of_an_effect_estimate():
    est = EffectEstimate(estimate=-0.2, se=0.05, treated_mean=1.5, comparison_mean=1.7, n_treated=1000,
                         n_comparison=10000, kind="count", comparison_mean_se=0.02, cov_estimate_comparison=-0.0004)
    ev = e_value(est)
    assert ev.risk_ratio == pytest.approx(1.5 / 1.7)
    half_width = 1.959963984540054 * est.relative_se / (1.5 / 1.7)  # on the log scale
    assert np.log([ev.ci_low, ev.ci_high]) == pytest.approx(np.log(1.5 / 1.7) + np.array([-half_width, half_width]))
    assert ev.e_value > ev.e_value_ci > 1
    cont = EffectEstimate(estimate=2.0, se=0.5, treated_mean=12, comparison_mean=10, n_treated=100, n_comparison=100)
    with pytest.raises(SopEvalError, match="sd="):
        e_value(cont)
    assert e_value(cont, sd=10).risk_ratio == pytest.approx(np.exp(0.91 * 0.2))


def test_auto_direction_follows_the_matched_att_not_the_median_difference():
    # Lalonde 1:3 with replacement: earnings gains are skewed, so the ATT is positive while most sets lose
    d = load_lalonde()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = sop_eval.match(d, "treat", ["age", "educ", "race", "married", "nodegree", "re74", "re75"], ratio=3,
                           replace=True)
    att = m.effect("re78").estimate
    diffs = pair_differences(m, "re78")
    assert att == pytest.approx(1573.75, abs=0.01) and diffs.mean() == pytest.approx(att)
    assert np.median(diffs[diffs != 0]) < 0
    for bounds in (rosenbaum_bounds(diffs, effect=att), rosenbaum_bounds(diffs)):
        assert bounds.alternative == "greater"
        assert bounds.summary()["direction_tested"].iloc[0].startswith("treated higher (alternative='greater'")
        ref = stats.wilcoxon(diffs, alternative="greater", method="approx", correction=False, zero_method="wilcox")
        assert bounds.table["p_upper"].iloc[0] == pytest.approx(ref.pvalue, rel=1e-10)
        assert bounds.table["p_upper"].iloc[0] < 0.5  # the direction of the effect, not its opposite
    assert "effect estimate" in rosenbaum_bounds(diffs, effect=att).direction
    assert "mean pair difference" in rosenbaum_bounds(diffs).to_dict()["direction_tested"]
    assert rosenbaum_bounds(diffs, effect=-1.0).alternative == "less"
    assert rosenbaum_bounds(diffs, alternative="less", effect=att).alternative == "less"  # a given direction wins
    with pytest.raises(SopEvalError, match="effect="):
        rosenbaum_bounds(diffs, effect=float("nan"))


def test_binary_e_value_interval_on_the_log_scale_two_by_two_table():
    # 30 of 200 treated and 50 of 200 comparison people reoffend, independent groups:
    # RR = 0.6, SE(log RR) = sqrt(1/a - 1/n1 + 1/c - 1/n0) (VanderWeele and Ding 2017 use the usual log-scale interval)
    a, n1, c, n0 = 30, 200, 50, 200
    p1, p0 = a / n1, c / n0
    var1, var0 = p1 * (1 - p1) / n1, p0 * (1 - p0) / n0
    est = EffectEstimate(estimate=p1 - p0, se=np.sqrt(var1 + var0), treated_mean=p1, comparison_mean=p0, n_treated=n1,
                         n_comparison=n0, kind="binary", comparison_mean_se=np.sqrt(var0),
                         cov_estimate_comparison=-var0)
    se_log = np.sqrt(1 / a - 1 / n1 + 1 / c - 1 / n0)
    lo, hi = 0.6 * np.exp(-1.959963984540054 * se_log), 0.6 * np.exp(1.959963984540054 * se_log)
    assert (lo, hi) == pytest.approx((0.39899, 0.90228), abs=1e-5)
    ev = e_value(est)
    assert ev.risk_ratio == pytest.approx(0.6) and (ev.ci_low, ev.ci_high) == pytest.approx((lo, hi), rel=1e-12)
    rr_star, limit_star = 1 / 0.6, 1 / hi  # protective: invert, then E = RR + sqrt(RR (RR - 1))
    assert ev.e_value == pytest.approx(rr_star + np.sqrt(rr_star * (rr_star - 1)), rel=1e-12)
    assert ev.e_value == pytest.approx(2.7208, abs=1e-4)
    assert ev.e_value_ci == pytest.approx(limit_star + np.sqrt(limit_star * (limit_star - 1)), rel=1e-12)
    assert ev.e_value_ci == pytest.approx(1.4547, abs=1e-4)
    # the interval of the relative change on the ratio scale is symmetric, the log-scale one is not
    rlo, rhi = est.relative_conf_int()
    assert ev.ci_low > 1 + rlo and ev.ci_high > 1 + rhi
