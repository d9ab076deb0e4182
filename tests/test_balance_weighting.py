"""balance() for any weights and subclasses (against R MatchIt's summary), propensity weighting, entropy
balancing, and a matched cohort in MatchIt's words (match_data, get_matches, summary layout)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

import sop_eval
from sop_eval.cohorts.assessment import subclass_weights
from sop_eval.cohorts.matchit_views import _COLUMNS, balance_improvement
from sop_eval.report.balance_plots import love_plot

REF = Path(__file__).parent / "results" / "balance"
COVS = ["age", "educ", "race", "married", "nodegree", "re74", "re75"]
STATS = {v: k for k, v in _COLUMNS.items()}


@pytest.fixture(scope="module")
def df():
    return sop_eval.datasets.load_lalonde()


@pytest.fixture(scope="module")
def units(df):
    return pd.read_csv(REF / "units.csv").set_index("id").loc[df.index]


def _r_table(config: str, sample: str) -> pd.DataFrame:
    s = pd.read_csv(REF / "summary.csv")
    s = s[(s["config"] == config) & (s["sample"] == sample)]
    out = s.pivot(index="term", columns="statistic", values="value").rename(columns=STATS)
    out.index = [t.replace("race", "race_") if t.startswith("race") else t for t in out.index]
    return out.drop(index="ps", errors="ignore")  # MatchIt adds the mahvars variable


@pytest.mark.parametrize("config", ["nn2r", "sub6"])
def test_balance_reproduces_matchit_summary(df, units, config):
    kwargs = {"distance": units[f"{config}_distance"].to_numpy()}
    if config == "nn2r":
        kwargs["weights"] = units[f"{config}_weights"].to_numpy()
    else:  # the subclass weights are derived, as MatchIt derives them
        kwargs["subclass"] = units[f"{config}_subclass"].to_numpy()
    b = sop_eval.balance(df, "treat", COVS, **kwargs)
    for sample, suffix in (("all", "before"), ("matched", "after")):
        r = _r_table(config, sample)
        assert len(r) == 10
        for stat in r.columns:
            ours = b.table.loc[r.index, f"{stat}_{suffix}"].to_numpy(float)
            np.testing.assert_allclose(ours, r[stat].to_numpy(float), rtol=1e-10, atol=1e-10, equal_nan=True,
                                       err_msg=f"{config} {sample} {stat}")
    imp = pd.read_csv(REF / "improvement.csv").query("config == @config").set_index("term")
    imp.index = [t.replace("race", "race_") if t.startswith("race") else t for t in imp.index]
    imp = imp.drop(index="ps", errors="ignore")
    ours = balance_improvement(b.table).loc[imp.index]
    cols = ["smd", "ecdf_mean", "ecdf_max"] + (["var_ratio"] if config == "nn2r" else [])
    names = {"smd": "Std. Mean Diff.", "var_ratio": "Var. Ratio", "ecdf_mean": "eCDF Mean", "ecdf_max": "eCDF Max"}
    for c in cols:
        np.testing.assert_allclose(ours[names[c]].to_numpy(float), imp[c].to_numpy(float), rtol=1e-9, atol=1e-9,
                                   equal_nan=True)
    sizes = pd.read_csv(REF / "sizes.csv").query("config == @config").set_index("row")
    assert b.sample_sizes.loc["control", "ess"] == pytest.approx(sizes.loc["Matched (ESS)", "control"], rel=1e-10)


def test_subclass_balance_and_weights_match_matchit(df, units):
    sub = units["sub6_subclass"].to_numpy()
    treat = df["treat"].to_numpy().astype(bool)
    np.testing.assert_allclose(subclass_weights(treat, sub), units["sub6_weights"].to_numpy(), rtol=1e-12)
    b = sop_eval.balance(df, "treat", COVS, subclass=sub, distance=units["sub6_distance"].to_numpy())
    for k in range(1, 7):
        r = _r_table("sub6", f"subclass {k}")
        ours = b.subclass_table.loc[k].loc[r.index]
        for stat in r.columns:
            np.testing.assert_allclose(ours[stat].to_numpy(float), r[stat].to_numpy(float), rtol=1e-10, atol=1e-10,
                                       equal_nan=True, err_msg=f"subclass {k} {stat}")
    assert b.subclass_sizes.sum().sum() == len(df)


def test_balance_of_a_cohort_equals_its_balance_table(df):
    m = sop_eval.match(df, "treat", COVS, replace=True, ratio=2)
    old, new = m.balance().table, sop_eval.balance(m).table
    cols = [c for c in old.columns if c.endswith(("_before", "_after"))]
    np.testing.assert_allclose(new[cols].to_numpy(float), old[cols].to_numpy(float), rtol=1e-12, equal_nan=True)


def test_raw_binary_thresholds_tally_and_largest(df):
    m = sop_eval.match(df, "treat", COVS)
    std = sop_eval.balance(m)
    raw = sop_eval.balance(m, binary="raw", thresholds={"smd": 0.05, "ks": 0.2})
    married = raw.table.loc["married"]
    assert married["smd_after"] == pytest.approx(married["mean_treated_after"] - married["mean_control_after"])
    assert std.table.loc["married", "smd_after"] != pytest.approx(married["smd_after"])
    assert raw.table.loc["age", "smd_after"] == pytest.approx(std.table.loc["age", "smd_after"])
    tally = raw.tally()
    assert set(tally.index) == {"smd", "var_ratio", "ks"}
    assert (tally["balanced"] + tally["not_balanced"]).loc["smd"] == 9
    flagged = np.abs(raw.table.drop(index="distance")["smd_after"]) > 0.05
    assert tally.loc["smd", "not_balanced"] == flagged.sum()
    largest = raw.largest()
    after = raw.table.drop(index="distance")["ecdf_max_after"]
    assert largest.loc["ecdf_max", "term"] == after.idxmax()
    assert "Balance ATT" in repr(raw) and "largest |SMD|" in repr(raw)
    record = raw.to_dict()
    assert record["thresholds"]["ks"] == 0.2 and record["binary"] == "raw"
    love_plot(raw)


def test_balance_refuses_bad_inputs(df):
    with pytest.raises(sop_eval.SopEvalError, match="weights"):
        sop_eval.balance(df, "treat", COVS, weights=np.r_[-1.0, np.ones(len(df) - 1)])
    with pytest.raises(sop_eval.SopEvalError, match="binary"):
        sop_eval.balance(df, "treat", COVS, binary="cobalt")
    with pytest.raises(sop_eval.SopEvalError, match="thresholds key"):
        sop_eval.balance(df, "treat", COVS, thresholds={"ratio": 2})
    with pytest.raises(sop_eval.SopEvalError, match="one value per row"):
        sop_eval.balance(df, "treat", COVS, weights=np.ones(3))


@pytest.mark.parametrize("estimand", ["ATT", "ATC", "ATE", "ATO"])
def test_propensity_weights_follow_weightit(df, estimand):
    m = sop_eval.match(df, "treat", COVS, method="weighting", estimand=estimand)
    e, t = m.propensity.to_numpy(), m.treated.to_numpy()
    expected = {"ATT": np.where(t, 1, e / (1 - e)), "ATC": np.where(t, (1 - e) / e, 1),
                "ATE": np.where(t, 1 / e, 1 / (1 - e)), "ATO": np.where(t, 1 - e, e)}[estimand]
    np.testing.assert_allclose(m.weights.to_numpy(), expected, rtol=1e-12)
    if estimand == "ATO":  # overlap weights balance the logit's covariate means exactly
        X = sop_eval.cohorts.design.covariate_matrix(df, COVS, all_levels=False).to_numpy()
        w = m.weights.to_numpy()
        np.testing.assert_allclose(np.average(X[t], axis=0, weights=w[t]), np.average(X[~t], axis=0, weights=w[~t]),
                                   rtol=1e-6, atol=1e-6)


def test_trimming_is_stated(df):
    plain = sop_eval.match(df, "treat", COVS, method="weighting", estimand="ATT")
    m = sop_eval.match(df, "treat", COVS, method="weighting", estimand="ATT", trim=0.9)
    info = m.summary().attrs["trimming"]
    wc = plain.weights[~plain.treated].to_numpy()
    cutoff = np.quantile(wc, 0.9)
    assert info["cutoff"] == pytest.approx(cutoff) and info["n_trimmed"] == int((wc > cutoff).sum()) > 0
    assert m.weights[~m.treated].max() == pytest.approx(cutoff)
    assert "quantile" in info["description"] and info["group"] == "controls"
    dropped = sop_eval.match(df, "treat", COVS, method="weighting", trim=0.1, trim_rule="drop")  # 0.1 reads as 0.9
    assert int((dropped.weights == 0).sum()) == info["n_trimmed"]
    with pytest.raises(sop_eval.SopEvalError, match="trim"):
        sop_eval.match(df, "treat", COVS, method="weighting", trim=1.5)
    with pytest.raises(sop_eval.SopEvalError, match="trim"):
        sop_eval.match(df, "treat", COVS, trim=0.9)


@pytest.mark.parametrize("estimand,moments", [("ATT", 1), ("ATT", 2), ("ATE", 2), ("ATC", 1)])
def test_entropy_balancing_balances_exactly(df, estimand, moments):
    m = sop_eval.match(df, "treat", COVS, method="ebal", estimand=estimand, moments=moments)
    X = sop_eval.cohorts.design.covariate_matrix(df, COVS, all_levels=False)
    t, w = m.treated.to_numpy(), m.weights.to_numpy()
    target = {"ATT": X[t].mean(), "ATC": X[~t].mean(), "ATE": X.mean()}[estimand]
    sd = X.std(ddof=0)
    for g in (t, ~t):
        if estimand == "ATT" and g is t or estimand == "ATC" and g is not t:
            continue
        means = np.average(X[g], axis=0, weights=w[g])
        assert np.max(np.abs(means - target) / sd) < 1e-7
        assert w[g].sum() == pytest.approx(g.sum())
        if moments == 2:
            cont = ["age", "educ", "re74", "re75"]
            var = np.average((X.loc[g, cont] - means[[X.columns.get_loc(c) for c in cont]]) ** 2, axis=0,
                             weights=w[g])
            tv = {"ATT": X.loc[t, cont], "ATE": X[cont]}[estimand].var(ddof=0).to_numpy()
            np.testing.assert_allclose(var, tv, rtol=1e-6)
    info = m.settings["ebal"]
    assert info["max_imbalance_sd"] < 1e-8 and info["moments"] == moments
    assert m.summary()["ess"].min() > 0


def test_entropy_balancing_failure_names_terms(df):
    bad = df.assign(score=np.where(df["treat"] == 1, 100.0, np.linspace(0, 1, len(df))))
    with pytest.raises(sop_eval.SopEvalError, match="did not converge.*score"):
        sop_eval.match(bad, "treat", [*COVS, "score"], method="ebal", distance="re78")
    with pytest.raises(sop_eval.SopEvalError, match="trim"):
        sop_eval.match(df, "treat", COVS, method="ebal", trim=0.9)
    with pytest.raises(sop_eval.SopEvalError, match="estimand"):
        sop_eval.match(df, "treat", COVS, method="ebal", estimand="ATO")


def test_match_data_and_get_matches(df):
    m = sop_eval.match(df, "treat", COVS, ratio=2)
    md = m.match_data()
    assert len(md) == m.n_matched_treated + m.n_matched_controls
    assert {"distance", "weights", "subclass"} <= set(md.columns)
    assert md.groupby("subclass", observed=True).size().max() == 3
    mr = sop_eval.match(df, "treat", COVS, ratio=2, replace=True)
    gm = mr.get_matches()
    assert len(gm) == mr.n_matched_treated + len(mr.pairs)
    assert list(gm.columns[:3]) == ["id", "subclass", "weights"]
    per_set = gm.groupby("subclass", observed=True)["weights"].sum()
    np.testing.assert_allclose(per_set.to_numpy(), 2.0)  # treated 1 + controls summing to 1
    assert gm.groupby("subclass", observed=True)["treat"].first().eq(1).all()
    assert "subclass" not in mr.match_data().columns
    with pytest.raises(sop_eval.SopEvalError, match="get_matches"):
        sop_eval.match(df, "treat", COVS, method="weighting").get_matches()


def test_matchit_summary_layout(df):
    m = sop_eval.match(df, "treat", COVS)
    s = m.summary("matchit")
    assert list(s.all.columns) == list(_COLUMNS.values())
    assert list(s.sample_sizes.index) == ["All", "Matched (ESS)", "Matched", "Unmatched", "Discarded"]
    assert s.sample_sizes.loc["Matched", "Treated"] == m.n_matched_treated
    bal = m.balance().table
    before, after = abs(bal.loc["age", "smd_before"]), abs(bal.loc["age", "smd_after"])
    assert s.improvement.loc["age", "Std. Mean Diff."] == pytest.approx(100 * (before - after) / before)
    assert "Summary of Balance for Matched Data" in repr(s)
    assert isinstance(m.summary(), pd.DataFrame)


@pytest.mark.parametrize("estimand", ["ATT", "ATC", "ATE"])
def test_subclass_balance_with_a_constant_group_matches_matchit(estimand):
    # subclass 3 (ATT, ATE): every treated unit has b = 1, and c separates the groups; subclass 2: controls share x
    units = pd.read_csv(REF / "subclass_zero_variance_units.csv")
    ref = pd.read_csv(REF / "subclass_zero_variance_summary.csv").query("estimand == @estimand")
    b = sop_eval.balance(units, "treat", ["x", "b", "c"], subclass=f"subclass_{estimand}", distance="ps",
                         estimand=estimand)
    for (k, stat), r in ref.groupby(["subclass", "statistic"]):
        r = r.set_index("term")["value"].astype(float)
        ours = b.subclass_table.loc[k].loc[r.index, STATS[stat]].to_numpy(float)
        np.testing.assert_allclose(ours, r.to_numpy(), rtol=1e-12, atol=1e-14, equal_nan=True,
                                   err_msg=f"{estimand} subclass {k} {stat}")
    assert np.isinf(b.subclass_table["var_ratio"]).any() == (estimand == "ATT")  # R's x / 0 = Inf


def test_subclass_smd_over_a_zero_sd_falls_back_to_the_pooled_sd():
    # a treated group constant within the subclass: the SMD takes the full sample's size-weighted pooled SD
    df = pd.DataFrame({"t": [1, 1, 0, 0, 0, 1, 1, 0, 0], "b": [1, 1, 0, 1, 0, 0, 1, 0, 0],
                       "s": [1, 1, 1, 1, 1, 2, 2, 2, 2]})
    b = sop_eval.balance(df, "t", ["b"], subclass="s")
    pooled = np.sqrt((3 * (1 - 3 / 4) + 1 * (1 - 1 / 5)) / len(df))  # sum_g n_g p_g (1 - p_g) / n
    assert b.subclass_table.loc[(1, "b"), "smd"] == pytest.approx((1 - 1 / 3) / pooled, rel=1e-12)
    # subclass 2's treated SD (0.5) is not zero: it is the denominator there, though the controls are constant
    assert b.subclass_table.loc[(2, "b"), "smd"] == pytest.approx((0.5 - 0) / 0.5, rel=1e-12)
    assert np.isfinite(b.subclass_table["smd"]).all()
