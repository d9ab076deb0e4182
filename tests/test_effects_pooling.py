"""Pooling cohort estimates, baseline comparisons and the estimate object's reporting rules."""

import json
import math

import numpy as np
import pytest

from sop_eval.effects import EffectEstimate, pool, versus_baseline
from sop_eval.errors import SopEvalError


def _est(estimate, se, n, cm=1.55, cm_se=0.03, label=""):
    return EffectEstimate(
        estimate=estimate, se=se, treated_mean=cm + estimate, comparison_mean=cm, n_treated=n,
        n_comparison=10 * n, outcome="reconviction_events", kind="count", comparison_mean_se=cm_se,
        cov_estimate_comparison=-(cm_se**2), label=label, details={"n_events_treated": int(n * (cm + estimate))},
    )


def test_pool_by_size_is_the_weighted_mean_with_independent_variances():
    a, b = _est(-0.13, 0.06, 1000, label="cohort 1"), _est(-0.15, 0.05, 500, label="cohort 2")
    p = pool([a, b])
    w = np.array([2, 1]) / 3
    assert p.estimate == pytest.approx(w @ [-0.13, -0.15])
    assert p.se == pytest.approx(math.sqrt(w[0] ** 2 * 0.06**2 + w[1] ** 2 * 0.05**2))
    assert p.n_treated == 1500 and p.comparison_mean == pytest.approx(1.55)
    assert p.comparison_mean_se == pytest.approx(math.sqrt((w**2) @ [0.03**2, 0.03**2]))
    assert p.details["cohorts"] == ["cohort 1", "cohort 2"]
    assert p.se < min(a.se, b.se)


def test_pool_peterborough_published_figures():
    # cohort 1: 142 vs 155 events per 100 (8.4% reduction); pooled 9.0% with cohort 2 at 9.7%
    c1 = _est(1.42 - 1.55, 0.06, 1000, cm=1.55)
    c2 = _est(-0.097 * 1.55, 0.06, 1000, cm=1.55)
    assert -c1.relative == pytest.approx(0.0839, abs=5e-4)
    pooled = pool([c1, c2])
    assert -pooled.relative == pytest.approx(0.090, abs=1.5e-3)


def test_pool_inverse_variance_and_given_weights():
    a, b = _est(-0.1, 0.1, 100), _est(-0.3, 0.05, 100)
    iv = pool([a, b], weights="inverse_variance")
    assert iv.estimate == pytest.approx((-0.1 / 0.01 - 0.3 / 0.0025) / (1 / 0.01 + 1 / 0.0025))
    assert pool([a, b], weights=[1, 0]).estimate == pytest.approx(-0.1)


@pytest.mark.parametrize(
    "items,kwargs,match",
    [([], {}, "no estimates"), (["x"], {}, "EffectEstimate"), (None, {"weights": "equal"}, "weights='equal'"),
     (None, {"weights": [1, -1]}, "non-negative"), (None, {"weights": [0, 0]}, "sum to zero")],
)
def test_pool_rejects_bad_input(items, kwargs, match):
    items = [_est(-0.1, 0.1, 100), _est(-0.2, 0.1, 100)] if items is None else items
    with pytest.raises(SopEvalError, match=match):
        pool(items, **kwargs)


def test_pool_refuses_mixed_outcomes():
    other = EffectEstimate(estimate=0.1, se=0.1, treated_mean=0.5, comparison_mean=0.4, n_treated=100,
                           n_comparison=100, kind="binary")
    with pytest.raises(SopEvalError, match="kind"):
        pool([_est(-0.1, 0.1, 100), other])


def test_historical_baseline_carries_its_uncertainty_and_is_marked_weaker():
    rng = np.random.default_rng(0)
    treated, history = rng.poisson(1.4, 400), rng.poisson(1.6, 900)
    est = versus_baseline(treated, baseline=history, outcome="care_days")
    se_t, se_b = treated.std(ddof=1) / 20, history.std(ddof=1) / 30
    assert est.design == "historical_baseline" and est.weaker_evidence
    assert est.estimate == pytest.approx(treated.mean() - history.mean())
    assert est.se == pytest.approx(math.hypot(se_t, se_b))
    assert est.summary()["evidence"].iloc[0].startswith("weaker")
    assert "weaker evidence" in est.describe()


def test_assumed_rate_without_uncertainty_is_labelled():
    est = versus_baseline(np.r_[np.ones(109), 0], rate=0.5, outcome="avoided special education", allow_small=True)
    assert est.design == "assumed_rate" and est.kind == "binary" and est.comparison_mean_se == 0
    assert "treated as known" in est.method
    stated = versus_baseline(np.ones(80) * 3.0 + np.arange(80) % 2, rate=4.0, rate_se=0.2, design="historical_baseline")
    assert stated.se > 0.2 and stated.design == "historical_baseline"
    with pytest.raises(SopEvalError, match="exactly one"):
        versus_baseline(np.ones(80), rate=1.0, baseline=np.ones(80))
    with pytest.raises(SopEvalError, match="at least 60"):
        versus_baseline(np.ones(10), rate=1.0)


def test_describe_straddling_interval_says_how_many_are_needed():
    est = _est(-0.05, 0.06, 1000)
    text = est.describe()
    needed = est.n_needed()
    assert "could be lower by as many as" in text and f"about {needed:,.0f} treated people" in text
    # at that size (same ratio) the SE would give 80% power for this effect
    se_then = est.se * math.sqrt(est.n_treated / needed)
    assert abs(est.estimate) / se_then == pytest.approx(1.959964 + 0.841621, rel=2e-3)
    assert "p <" in text or "p =" in text


def test_describe_significant_result_and_boundary():
    est = _est(-0.2, 0.05, 1000)
    text = est.describe()
    assert "lower by between 10.2 and 29.8" in text and "statistically significant" in text
    assert "strict inequality" in text and est.significant(0.05)


def test_to_dict_is_json_safe_and_round_trips():
    est = _est(-0.2, 0.05, 1000)
    record = json.loads(json.dumps(est.to_dict()))
    back = EffectEstimate.from_dict(record)
    assert back == est


def test_fieller_interval_equals_delta_when_the_comparison_is_known_and_is_close_otherwise():
    known = EffectEstimate(estimate=-0.2, se=0.05, treated_mean=1.5, comparison_mean=1.7, n_treated=1000,
                           n_comparison=9000, kind="count")
    assert known.relative_conf_int(method="fieller") == pytest.approx(known.relative_conf_int())
    est = _est(-0.2, 0.05, 1000, cm=1.7, cm_se=0.02)
    lo, hi = est.relative_conf_int(method="fieller")
    dlo, dhi = est.relative_conf_int()
    assert lo == pytest.approx(dlo, abs=2e-3) and hi == pytest.approx(dhi, abs=2e-3)
    # Fieller is asymmetric around the ratio, the delta method is not
    assert (hi - est.relative) != pytest.approx(est.relative - lo, abs=1e-6)
    vague = _est(-0.2, 0.05, 1000, cm=0.05, cm_se=0.04)
    assert vague.relative_conf_int(method="fieller") == (-math.inf, math.inf)
    with pytest.raises(SopEvalError, match="fieller"):
        est.relative_conf_int(method="bootstrap")
