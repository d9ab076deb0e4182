"""G-computation after matching: ATT, delta-method SEs, rate ratio and relative reduction, against statsmodels and
the marginaleffects package (numbers in tests/results/effects/gcomp_*.json, scripts beside them)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

import sop_eval

RESULTS = Path(__file__).parent / "results" / "effects"
sys.path.insert(0, str(RESULTS))
from make_gcomp_reference import ADJUST, CASES, COVS, data  # noqa: E402

STATSMODELS = json.loads((RESULTS / "gcomp_statsmodels.json").read_text())
MARGINALEFFECTS = json.loads((RESULTS / "gcomp_marginaleffects.json").read_text())


@pytest.fixture(scope="module")
def df():
    return data()


@pytest.fixture(scope="module")
def estimates(df):
    out = {}
    for name, (kwargs, outcome, model) in CASES.items():
        m = sop_eval.match(df, "treat", COVS, **kwargs)
        out[name] = m.effect(outcome, covariates=ADJUST, model=model)
    return out


@pytest.mark.parametrize("name", list(CASES))
def test_gcomp_matches_statsmodels(estimates, name):
    e, ref = estimates[name], STATSMODELS[name]
    assert e.estimate == pytest.approx(ref["att"], rel=1e-7, abs=1e-9)
    assert e.se == pytest.approx(ref["se"], rel=1e-6)
    assert e.treated_mean == pytest.approx(ref["p1"], rel=1e-7)
    assert e.comparison_mean == pytest.approx(ref["p0"], rel=1e-7)
    assert e.details["model"] == ref["model"]
    if ref["model"] != "linear":
        assert e.details["rate_ratio"] == pytest.approx(ref["rate_ratio"], rel=1e-7)
        assert e.details["log_rate_ratio_se"] == pytest.approx(ref["log_rate_ratio_se"], rel=1e-6)
    if ref["model"] == "negbin":
        assert e.details["alpha"] == pytest.approx(ref["alpha"], rel=1e-6)
        # statsmodels' own sandwich uses the observed Hessian: close, not equal
        assert e.se == pytest.approx(ref["se_statsmodels_observed_hessian"], rel=1e-2)
        assert e.se != pytest.approx(ref["se_statsmodels_observed_hessian"], rel=1e-6)


@pytest.mark.parametrize("name", [k for k in CASES if k in MARGINALEFFECTS])
def test_gcomp_matches_marginaleffects(estimates, name):
    e, ref = estimates[name], MARGINALEFFECTS[name]
    assert e.estimate == pytest.approx(ref["att"], rel=1e-7, abs=1e-9)
    assert e.se == pytest.approx(ref["se"], rel=1e-5)  # marginaleffects differentiates numerically
    if CASES[name][2] != "linear":
        assert np.log(e.details["rate_ratio"]) == pytest.approx(ref["log_rate_ratio"], rel=1e-7)
        assert e.details["log_rate_ratio_se"] == pytest.approx(ref["log_rate_ratio_se"], rel=1e-5)


def test_relative_reduction_interval(estimates):
    d = estimates["nn2_poisson"].details
    z = 1.959963984540054
    rr, s = d["rate_ratio"], d["log_rate_ratio_se"]
    assert d["relative_reduction"] == pytest.approx(1 - rr)
    assert d["relative_reduction_low"] == pytest.approx(1 - rr * np.exp(z * s))
    assert d["relative_reduction_high"] == pytest.approx(1 - rr * np.exp(-z * s))
    assert d["rate_ratio_low"] < rr < d["rate_ratio_high"]


def test_linear_gcomp_equals_regression_adjustment_point_estimate(df):
    m = sop_eval.match(df, "treat", COVS, ratio=2)
    g = m.effect("re78", covariates=ADJUST, model="linear")
    plain = m.effect("re78")
    assert g.treated_mean == pytest.approx(plain.treated_mean, rel=1e-10)
    assert g.estimate != pytest.approx(plain.estimate, rel=1e-6)


def test_gcomp_refusals(df):
    m = sop_eval.match(df, "treat", COVS)
    with pytest.raises(sop_eval.SopEvalError, match="model="):
        m.effect("re78", covariates=ADJUST, model="probit")
    with pytest.raises(sop_eval.SopEvalError, match="0/1"):
        m.effect("re78", covariates=ADJUST, model="logit")
    with pytest.raises(sop_eval.SopEvalError, match="bootstrap"):
        m.effect("re78", covariates=ADJUST, model="linear", se="bootstrap")
    hc3 = m.effect("offences", covariates=ADJUST, model="poisson", se="HC3")
    hc0 = m.effect("offences", covariates=ADJUST, model="poisson", se="HC0")
    assert hc3.se > hc0.se > 0 and hc3.estimate == pytest.approx(hc0.estimate)
