"""Recovery of known effects on simulated panels, and agreement of the regressions with statsmodels."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from sop_eval.datasets import make_staggered_panel
from sop_eval.did import att_gt, bacon_decomposition, did2x2, event_study, twfe
from sop_eval.errors import SopEvalWarning


@pytest.fixture(scope="module")
def panel():
    return make_staggered_panel(n_units=1500, n_periods=8, waves=(3, 5, 7), effect=2.0, dynamic=0.5,
                                heterogeneity=0.5, seed=11)


@pytest.fixture(scope="module")
def fitted(panel):
    return att_gt(panel, "y", "unit", "period", "group", control="not_yet", method="dr")


def test_recovers_every_post_treatment_cell(panel, fitted):
    truth = pd.DataFrame(panel.attrs["true_att_gt"]).set_index(["group", "time"])["att"]
    s = fitted.summary().set_index(["group", "time"])
    post = s[s["post"]]
    assert len(post) == len(truth)
    z = (post["att"] - truth.loc[post.index]) / post["se"]
    assert np.abs(z).max() < 4
    pre = s[~s["post"]]
    assert np.abs(pre["att"] / pre["se"]).max() < 4


def test_dynamic_and_group_aggregates_recover_truth(panel, fitted):
    truth = pd.DataFrame(panel.attrs["true_att_gt"])
    sizes = pd.Series(panel.attrs["group_sizes"])
    truth["w"] = truth["group"].map(sizes)
    truth["e"] = truth["time"] - truth["group"]
    by_e = truth.groupby("e").apply(lambda d: np.average(d["att"], weights=d["w"]), include_groups=False)
    dyn = fitted.aggregate("dynamic")
    post = dyn.labels >= 0
    z = (dyn.att[post] - by_e.loc[dyn.labels[post]].to_numpy()) / dyn.row_se[post]
    assert np.abs(z).max() < 4
    assert abs(dyn.overall_att - by_e.mean()) < 4 * dyn.overall_se
    grp = fitted.aggregate("group")
    by_g = truth.groupby("group")["att"].mean()
    assert np.all(np.abs(grp.att - by_g.loc[grp.labels].to_numpy()) < 4 * grp.row_se)
    # effects differ across cohorts, as simulated (later waves have larger effects)
    assert grp.att[-1] - grp.att[0] > 4 * np.hypot(grp.row_se[-1], grp.row_se[0])


def test_uniform_band_is_wider_than_pointwise(fitted):
    dyn = fitted.aggregate("dynamic").summary().iloc[1:]
    assert (dyn["band_high"] - dyn["band_low"] > dyn["ci_high"] - dyn["ci_low"]).all()


def test_aggregate_overall_is_a_weighted_mean_of_cells(fitted):
    for kind in ("simple", "group", "dynamic", "calendar"):
        agg = fitted.aggregate(kind)
        # treated mean minus counterfactual mean recovers the effect with the same cell weights
        assert np.isfinite(agg.treated_mean)
        assert agg.n_treated > 0 and agg.n_comparison > 0


def test_covariates_fix_conditional_parallel_trends():
    df = make_staggered_panel(n_units=1200, n_periods=8, waves=(4, 6), covariate_trend=4.0, seed=5)
    truth = pd.DataFrame(df.attrs["true_att_gt"])
    plain = att_gt(df, "y", "unit", "period", "group", method="reg")
    assert plain.pretrend_test().p_value < 0.01
    adjusted = att_gt(df, "y", "unit", "period", "group", method="reg", covariates=["x"])
    assert adjusted.pretrend_test().p_value > 0.001
    post = adjusted.summary().query("post").merge(truth, on=["group", "time"], suffixes=("", "_true"))
    assert np.abs((post["att"] - post["att_true"]) / post["se"]).max() < 4


def test_universal_base_period_has_zero_reference_cell(panel):
    res = att_gt(panel, "y", "unit", "period", "group", base_period="universal", method="reg")
    s = res.summary()
    ref = s[s["event_time"] == -1]
    assert (ref["att"] == 0).all() and ref["se"].isna().all()
    assert res.aggregate("dynamic").att[list(res.aggregate("dynamic").labels).index(-1)] == 0


def test_twfe_matches_statsmodels_and_bacon_sums_to_it():
    df = make_staggered_panel(n_units=90, n_periods=7, waves=(3, 5), seed=4)
    with pytest.warns(SopEvalWarning, match="staggered adoption"):
        res = twfe(df, "y", "unit", "period", "treated")
    m = smf.ols("y ~ treated + C(unit) + C(period)", df).fit(cov_type="cluster", cov_kwds={"groups": df["unit"]})
    assert res.estimate == pytest.approx(m.params["treated"], abs=1e-10)
    n, k_sm, k_ours = len(df), m.df_model + 1, 1 + df["period"].nunique() - 1
    assert res.se == pytest.approx(m.bse["treated"] * np.sqrt((n - k_sm) / (n - k_ours)), rel=1e-8)
    assert res.bacon is not None
    assert res.bacon.twfe_estimate == pytest.approx(res.estimate, abs=1e-10)
    assert res.bacon.table["weight"].sum() == pytest.approx(1.0)
    assert res.bacon.forbidden_weight > 0
    assert "staggered adoption" in res.summary()["warning"].iloc[0]


def test_bacon_with_always_treated_units_still_sums_to_twfe():
    df = make_staggered_panel(n_units=80, n_periods=6, waves=(3, 5), seed=9)
    df.loc[df["unit"] <= 6, "treated"] = 1  # always treated
    dec = bacon_decomposition(df, "y", "unit", "period", "treated")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = twfe(df, "y", "unit", "period", "treated").estimate
    assert dec.twfe_estimate == pytest.approx(est, abs=1e-10)
    assert "treated vs always treated" in set(dec.table["type"])


def test_twfe_biased_under_dynamic_heterogeneous_effects_att_gt_is_not(panel, fitted):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tw = twfe(panel, "y", "unit", "period", "treated")
    truth = pd.DataFrame(panel.attrs["true_att_gt"])
    sizes = truth["group"].map(pd.Series(panel.attrs["group_sizes"]))
    simple_truth = np.average(truth["att"], weights=sizes)
    simple = fitted.aggregate("simple")
    assert abs(simple.overall_att - simple_truth) < 4 * simple.overall_se
    assert abs(tw.estimate - simple_truth) > 4 * tw.se


def test_did2x2_matches_statsmodels_cluster_and_weights():
    df = make_staggered_panel(n_units=100, n_periods=6, waves=(4,), seed=3)
    df["post"] = (df["period"] >= 4).astype(int)
    df["tr"] = (df["group"] > 0).astype(int)
    df["wt"] = 1 + (df["unit"] % 3)
    res = did2x2(df, "y", "tr", "post", unit="unit")
    m = smf.ols("y ~ tr * post", df).fit(cov_type="cluster", cov_kwds={"groups": df["unit"]})
    assert res.estimate == pytest.approx(m.params["tr:post"], abs=1e-10)
    assert res.se == pytest.approx(m.bse["tr:post"], rel=1e-8)
    wres = did2x2(df, "y", "tr", "post", unit="unit", weights="wt", covariates=["x"])
    wm = smf.wls("y ~ tr * post + x", df, weights=df["wt"]).fit(cov_type="cluster", cov_kwds={"groups": df["unit"]})
    assert wres.estimate == pytest.approx(wm.params["tr:post"], abs=1e-10)
    assert wres.se == pytest.approx(wm.bse["tr:post"], rel=1e-8)
    hc = did2x2(df, "y", "tr", "post")
    assert hc.se == pytest.approx(smf.ols("y ~ tr * post", df).fit(cov_type="HC1").bse["tr:post"], rel=1e-8)
    truth = np.mean([c["att"] for c in df.attrs["true_att_gt"]])
    assert abs(res.estimate - truth) < 4 * res.se


def test_event_study_single_cohort_recovers_dynamics_and_matches_dummies():
    df = make_staggered_panel(n_units=400, n_periods=8, waves=(5,), seed=8)
    res = event_study(df, "y", "unit", "period", "group", window=(-3, 3))
    truth = {c["time"] - c["group"]: c["att"] for c in df.attrs["true_att_gt"]}
    s = res.summary().set_index("label")
    for e in range(0, 4):
        assert abs(s.loc[e, "att"] - truth[e]) < 4 * s.loc[e, "se"]
    assert s.loc[-1, "att"] == 0
    d = df.assign(e=np.where(df["group"] > 0, df["period"] - df["group"], -1).clip(-3, 3))
    m = smf.ols("y ~ C(e, Treatment(-1)) + C(unit) + C(period)", d).fit()
    for e in (-3, -2, 0, 1, 2, 3):
        assert s.loc[e, "att"] == pytest.approx(m.params[f"C(e, Treatment(-1))[T.{e}]"], abs=1e-9)
    assert res.crit_val > 1.96
    assert not res.caveats


def test_bacon_two_by_two_terms_are_plain_did_estimates():
    df = make_staggered_panel(n_units=90, n_periods=7, waves=(3, 5), seed=4)
    dec = bacon_decomposition(df, "y", "unit", "period", "treated")
    t = dec.table.set_index(["type", "treated", "comparison"])
    sub = df[df["group"].isin([0, 3])].assign(tr=lambda d: (d["group"] > 0).astype(int),
                                               post=lambda d: (d["period"] >= 3).astype(int))
    assert t.loc[("treated vs never treated", 3, "never"), "estimate"] == pytest.approx(
        did2x2(sub, "y", "tr", "post", unit="unit").estimate, abs=1e-10)
    late = df[df["group"].isin([3, 5]) & (df["period"] >= 3)].assign(
        tr=lambda d: (d["group"] == 5).astype(int), post=lambda d: (d["period"] >= 5).astype(int))
    assert t.loc[("later vs earlier treated", 5, 3), "estimate"] == pytest.approx(
        did2x2(late, "y", "tr", "post", unit="unit").estimate, abs=1e-10)


def test_simple_aggregate_treated_mean_uses_the_same_cell_weights(panel, fitted):
    agg = fitted.aggregate("simple")
    s = fitted.summary()
    post = s["post"].to_numpy()
    sizes = pd.Series(panel.attrs["group_sizes"])
    w = s.loc[post, "group"].map(sizes).to_numpy(float)
    cohort_means = panel.groupby(["group", "period"])["y"].mean()
    means = np.array([cohort_means.loc[(g, t)] for g, t in zip(s.loc[post, "group"], s.loc[post, "time"], strict=True)])
    assert agg.treated_mean == pytest.approx(np.average(means, weights=w), rel=1e-12)
    assert agg.overall_att == pytest.approx(np.average(s.loc[post, "att"], weights=w), rel=1e-12)
