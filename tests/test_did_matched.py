"""Matched DiD on the matching weights, the effect-estimate adapter and the DiD plots."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
import numpy as np
import pandas as pd
import pytest

from sop_eval.datasets import make_staggered_panel
from sop_eval.did import att_gt, did2x2, event_study, matched_did, raw_means, to_effect_estimate, twfe
from sop_eval.errors import SopEvalError
from sop_eval.report.did_plots import event_study_plot, parallel_trends_plot


@dataclass
class Cohort:
    """The parts of a MatchedCohort that matched DiD uses."""

    data: pd.DataFrame
    weights: pd.Series
    treatment: str
    pairs: pd.DataFrame


@pytest.fixture
def cohort():
    rng = np.random.default_rng(4)
    n = 400
    risk = rng.normal(size=n)
    treated = (rng.uniform(size=n) < 1 / (1 + np.exp(-risk))).astype(int)
    pre = 5 + 2 * risk + rng.normal(size=n)
    post = pre + 1.0 + 0.8 * risk - 1.5 * treated + rng.normal(size=n)  # risk-dependent trend, effect -1.5
    data = pd.DataFrame({"pid": np.arange(1000, 1000 + n), "treated": treated, "risk": risk, "y_pre": pre,
                         "y_post": post}, index=[f"r{i}" for i in range(n)])
    # weights: treated 1; controls weighted to the treated risk distribution (a hand-built stand-in for matching)
    ctrl = treated == 0
    w = np.where(ctrl, np.exp(risk), 1.0)
    w[ctrl] *= ctrl.sum() / w[ctrl].sum()
    w[:10] = 0.0  # unmatched
    return Cohort(data, pd.Series(w, index=data.index), "treated", pd.DataFrame())


def test_matched_did_wide_equals_weighted_change_regression(cohort):
    res = matched_did(cohort, "y_post", baseline="y_pre")
    d = cohort.data[cohort.weights > 0]
    w = cohort.weights[cohort.weights > 0]
    change = d["y_post"] - d["y_pre"]
    t = d["treated"] == 1
    expected = np.average(change[t], weights=w[t]) - np.average(change[~t], weights=w[~t])
    assert res.estimate == pytest.approx(expected, abs=1e-10)
    assert res.n_obs == 2 * len(d)
    assert res.estimator == "matched did"
    unweighted = did2x2(
        pd.concat([d.assign(y=d["y_pre"], post=0), d.assign(y=d["y_post"], post=1)]), "y", "treated", "post",
        unit="pid")
    # weighting to the treated risk profile removes most of the risk-driven trend bias
    assert abs(res.estimate + 1.5) < abs(unweighted.estimate + 1.5)


def test_matched_did_long_panel_and_cross_sections_agree_with_wide(cohort):
    wide = matched_did(cohort, "y_post", baseline="y_pre")
    d = cohort.data
    long = pd.concat([d[["pid"]].assign(post=0, y=d["y_pre"]), d[["pid"]].assign(post=1, y=d["y_post"])])
    panel = matched_did(cohort, "y", panel=long.reset_index(drop=True), id="pid", post="post")
    assert panel.estimate == pytest.approx(wide.estimate, abs=1e-10)
    assert panel.se == pytest.approx(wide.se, rel=1e-10)
    stacked = pd.concat([d.assign(post=0, y=d["y_pre"]), d.assign(post=1, y=d["y_post"])])
    stacked.index = [f"s{i}" for i in range(len(stacked))]
    cs = Cohort(stacked, pd.Series(np.tile(cohort.weights.to_numpy(), 2), index=stacked.index), "treated",
                pd.DataFrame())
    assert matched_did(cs, "y", post="post").estimate == pytest.approx(wide.estimate, abs=1e-10)


def test_matched_did_with_real_matching():
    from sop_eval.cohorts.matching import match
    from sop_eval.datasets import make_reoffending

    df = make_reoffending(n_per_cohort=300, n_cohorts=1, pool_size=3000, seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = match(df, "treated", ["age", "prior_convictions", "prior_custodial"], seed=1)
    res = matched_did(m, "reconviction_events", baseline="prior_convictions")
    assert np.isfinite(res.estimate) and res.se > 0
    assert res.n_treated == m.n_matched_treated


def test_matched_did_bad_input(cohort):
    with pytest.raises(SopEvalError, match="needs baseline="):
        matched_did(cohort, "y_post")
    with pytest.raises(SopEvalError, match="has no .data"):
        matched_did(object(), "y_post", baseline="y_pre")
    with pytest.raises(SopEvalError, match="needs id="):
        matched_did(cohort, "y", panel=pd.DataFrame({"y": [1.0]}))


def test_to_effect_estimate_from_every_design():
    df = make_staggered_panel(n_units=300, n_periods=6, waves=(3, 5), effect=-2.0, dynamic=0.0, seed=6)
    res = att_gt(df, "y", "unit", "period", "group")
    agg = res.aggregate("simple")
    est = to_effect_estimate(agg, kind="count", label="care days", outcome="care days per child")
    assert est.design == "did"
    assert est.estimate == agg.overall_att and est.se == agg.overall_se
    assert est.treated_mean - est.comparison_mean == pytest.approx(est.estimate)
    assert est.n_treated == int((df.groupby("unit")["group"].first() > 0).sum())
    assert est.conf_int()[1] < 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tw = to_effect_estimate(twfe(df, "y", "unit", "period", "treated"))
    assert tw.method.startswith("twfe") and "staggered" in tw.details["caveats"][0]
    with pytest.raises(SopEvalError, match="aggregate the ATT"):
        to_effect_estimate(res)
    with pytest.raises(SopEvalError, match="takes a DiD result"):
        to_effect_estimate(3.0)


def test_plots_draw_from_results_only():
    import matplotlib.pyplot as plt

    df = make_staggered_panel(n_units=200, n_periods=6, waves=(3, 5), seed=2)
    dyn = att_gt(df, "y", "unit", "period", "group", control="not_yet").aggregate("dynamic")
    fig, (a1, a2, a3) = plt.subplots(1, 3)
    assert event_study_plot(dyn, ax=a1) is a1
    assert len(a1.collections) >= 1  # the uniform band
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        es = event_study(df, "y", "unit", "period", "group", window=(-2, 2))
    assert event_study_plot(es, ax=a2) is a2
    means = raw_means(df, "y", "period", "group")
    assert set(means["group"]) == {0, 3, 5} and (means["n"] > 0).all()
    assert parallel_trends_plot(means, ax=a3) is a3
    assert len(a3.get_lines()) >= 3
    with pytest.raises(SopEvalError):
        event_study_plot(att_gt(df, "y", "unit", "period", "group").aggregate("simple"), ax=a1)
    plt.close(fig)


def test_matching_weights_feed_staggered_att_gt():
    from sop_eval.did import with_matching_weights

    df = make_staggered_panel(n_units=300, n_periods=6, waves=(3, 5), seed=12)
    people = df.groupby("unit", as_index=False).agg(group=("group", "first"), x=("x", "first"))
    people["treated"] = (people["group"] > 0).astype(int)
    weights = pd.Series(np.where(people["treated"] == 1, 1.0, np.exp(people["x"])), index=people.index)
    weights.iloc[:5] = 0.0
    cohort = Cohort(people, weights, "treated", pd.DataFrame())
    panel = with_matching_weights(cohort, df, "unit", weight="mw")
    assert panel["unit"].nunique() == 295 and (panel["mw"] > 0).all()
    res = att_gt(panel, "y", "unit", "period", "group", weights="mw")
    unweighted = att_gt(panel, "y", "unit", "period", "group")
    assert not np.allclose(res.att, unweighted.att)
    # constant weights are the same as no weights
    same = att_gt(panel.assign(mw=1.0), "y", "unit", "period", "group", weights="mw")
    np.testing.assert_allclose(same.att, unweighted.att, atol=1e-12)
