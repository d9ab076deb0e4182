"""estimate_effect on matched cohorts: kinds, per-cohort estimates, wording and bad inputs."""

import warnings
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import sop_eval
from sop_eval.datasets import load_lalonde, make_reoffending
from sop_eval.effects import EffectEstimate, estimate_by, estimate_effect, pool
from sop_eval.effects.matched import infer_kind
from sop_eval.errors import SopEvalError

COVARIATES = ["age", "prior_convictions", "prior_custodial", "offence_group", "sentence_months", "drug_misuse",
              "no_fixed_abode"]


@pytest.fixture(scope="module")
def reoffending():
    return make_reoffending(n_per_cohort=300, n_cohorts=2, pool_size=4000, seed=11)


@pytest.fixture(scope="module")
def cohort(reoffending):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sop_eval.match(reoffending, "treated", COVARIATES, ratio=3, exact=["cohort"])


@pytest.fixture(scope="module")
def cohort_replace(reoffending):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sop_eval.match(reoffending, "treated", COVARIATES, ratio=3, replace=True, exact=["cohort"])


def test_kind_inference():
    assert infer_kind(pd.Series([0, 1, 1])) == "binary"
    assert infer_kind(pd.Series([True, False])) == "binary"
    assert infer_kind(pd.Series([0, 3, 1])) == "count"
    assert infer_kind(pd.Series([0.5, 2.0])) == "continuous"


def test_count_effect_is_the_weighted_difference(cohort):
    est = cohort.effect("reconviction_events")
    assert isinstance(est, EffectEstimate) and est.kind == "count"
    w, t, y = cohort.weights, cohort.treated, cohort.data["reconviction_events"]
    expected = y[t & (w > 0)].mean() - np.average(y[~t & (w > 0)], weights=w[~t & (w > 0)])
    assert est.estimate == pytest.approx(expected)
    assert est.n_treated == cohort.n_matched_treated and est.n_comparison == cohort.n_matched_controls
    assert est.relative == pytest.approx(est.estimate / est.comparison_mean)
    assert est.details["n_clusters"] == est.n_treated  # one matched set per treated person


def test_over_dispersed_counts_get_a_larger_se_than_poisson(cohort):
    est = cohort.effect("reconviction_events", se="robust")
    y, t, w = cohort.data["reconviction_events"], cohort.treated, cohort.weights
    poisson_se = np.sqrt(y[t & (w > 0)].mean() / est.n_treated + y[~t & (w > 0)].mean() / est.n_comparison)
    assert est.se > 1.2 * poisson_se


def test_replacement_cohort_uses_sets_and_abadie_imbens(cohort_replace):
    cluster = cohort_replace.effect("reconviction_events", se="cluster")
    ai = cohort_replace.effect("reconviction_events", se="abadie-imbens")
    pairs = cohort_replace.pairs
    y = cohort_replace.data["reconviction_events"]
    per_set = (pairs.assign(yc=y.loc[pairs["control"]].to_numpy())
               .groupby("subclass").agg(t=("treated", "first"), yc=("yc", "mean")))
    assert cluster.estimate == pytest.approx((y.loc[per_set["t"]].to_numpy() - per_set["yc"].to_numpy()).mean())
    assert ai.se == pytest.approx(cluster.se, rel=0.5)
    assert "abadie-imbens" in ai.method and "two-way" in cluster.method
    assert cluster.summary()["se_clusters_on"].iloc[0] == "matched set and person (two-way)"
    with pytest.raises(SopEvalError, match="se='cluster'"):
        cohort_replace.effect("reconviction_events", se="bootstrap", seed=3, n_boot=300)


@pytest.mark.parametrize("covariates", [None, True])
def test_the_standard_error_never_moves_the_estimate(cohort_replace, cohort, covariates):
    names = ["cluster", "robust", "HC0", "HC2", "HC3"] + ([] if covariates else ["abadie-imbens"])
    for matched in (cohort_replace, cohort):
        ests = {se: matched.effect("reconviction_events", se=se, covariates=covariates)
                for se in names if matched.replace or se != "abadie-imbens"}
        first = next(iter(ests.values()))
        assert len({e.se for e in ests.values()}) == len(ests)
        for e in ests.values():
            assert ((e.estimate, e.treated_mean, e.comparison_mean)
                    == (first.estimate, first.treated_mean, first.comparison_mean))


def test_abadie_imbens_refuses_matching_without_replacement(cohort):
    with pytest.raises(SopEvalError, match="with replacement"):
        cohort.effect("reconviction_events", se="abadie-imbens")


def test_doubly_robust_adjustment_removes_bias_left_by_a_thin_pool(cohort, reoffending):
    # 1:3 matching without replacement from a small pool leaves the comparison at lower risk
    truth = reoffending.attrs["true_effect"]
    plain = cohort.effect("reconviction_events")
    adjusted = cohort.effect("reconviction_events", covariates=True)
    assert abs(adjusted.relative - truth) < abs(plain.relative - truth)
    assert adjusted.comparison_mean == pytest.approx(adjusted.treated_mean - adjusted.estimate)
    assert "regression adjustment" in adjusted.method
    assert adjusted.treated_mean == pytest.approx(plain.treated_mean)


def test_per_cohort_and_pooled(cohort):
    by = estimate_by(cohort, "reconviction_events", by="cohort")
    assert sorted(by) == [1, 2] and all(e.n_treated == 300 for e in by.values())
    whole = cohort.effect("reconviction_events")
    pooled = pool(list(by.values()))
    # equal cohort sizes: the size-weighted mean of cohort effects is the whole-sample effect
    assert pooled.estimate == pytest.approx(whole.estimate)
    assert pooled.se == pytest.approx(np.sqrt(sum(e.se**2 for e in by.values())) / 2)
    assert by[1].label == "cohort 1"


def test_binary_wording_and_summary_row(cohort):
    est = cohort.effect("reconvicted")
    row = est.summary().iloc[0]
    assert est.kind == "binary" and row["significance_rule"].startswith("significant when p < 0.05")
    for col in ("treated_mean", "comparison_mean", "difference", "ci_low", "ci_high", "p_value", "n_treated",
                "n_comparison"):
        assert col in row.index
    text = est.describe()
    assert "per 100 people" in text and ("statistically significant" in text or "would be needed to tell" in text)


def test_time_to_event_effect_and_headline_rule(cohort):
    est = cohort.effect("days_to_reconviction", kind="time_to_event", horizon=365)
    assert est.kind == "time_to_event" and est.details["horizon"] == 365
    assert est.details["n_events_treated"] >= 30 and "no headline" not in est.describe()
    assert 0 < est.details["hazard_ratio"] < 2
    assert est.treated_mean <= 365 and est.comparison_mean <= 365
    fields = {k: getattr(est, k) for k in est.__dataclass_fields__}
    few = EffectEstimate(**{**fields, "details": {**est.details, "n_events_treated": 29}})
    assert "no headline" in few.describe() and "at least 30" in few.describe()
    assert few.summary()["headline"].iloc[0].startswith("refused") and est.summary()["headline"].iloc[0] == "given"
    with pytest.raises(SopEvalError, match="horizon"):
        cohort.effect("days_to_reconviction", kind="time_to_event")


def test_lalonde_abadie_imbens_uses_the_cohort_matches_not_a_rematch():
    d = load_lalonde()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = sop_eval.match(d, "treat", ["age", "educ", "race", "married", "nodegree", "re74", "re75"], ratio=2,
                           replace=True, ties=True)
    from sop_eval.effects.inference import abadie_imbens

    # R Matching's tolerance ties pick other controls than the exact ties of this match
    rematched = abadie_imbens(d["re78"].to_numpy(), d["treat"].to_numpy(), m.propensity.to_numpy(), m=2, var_calc=2)
    via = m.effect("re78", se="abadie-imbens")
    assert via.estimate == m.effect("re78", se="HC1").estimate != pytest.approx(rematched.estimate)
    assert via.kind == "continuous" and "per person" in via.describe()


def _stand_in(data, weights, subclass):
    idx = data.index
    return SimpleNamespace(
        data=data, treatment="treated", covariates=(), weights=pd.Series(weights, index=idx),
        subclass=pd.Series(subclass, index=idx, dtype=float), propensity=pd.Series(0.5, index=idx),
        pairs=pd.DataFrame(columns=["treated", "control", "subclass"]), ratio=1, replace=False,
        estimand="ATT", method="nearest", settings={},
    )


def test_bad_inputs_raise_sop_eval_error(cohort):
    with pytest.raises(SopEvalError, match="no_such_outcome"):
        cohort.effect("no_such_outcome")
    with pytest.raises(SopEvalError, match="'prison' is not numeric"):
        cohort.effect("prison")
    with pytest.raises(SopEvalError, match="missing value"):
        cohort.effect("days_to_reconviction")
    data = pd.DataFrame({"treated": [1] * 70 + [0] * 70, "y": np.arange(140.0)})
    with pytest.raises(SopEvalError, match="kept nobody"):
        estimate_effect(_stand_in(data, np.zeros(140), np.nan), "y")
    with pytest.raises(SopEvalError, match="empty"):
        estimate_effect(_stand_in(data.iloc[:0], [], []), "y")
    small = data.iloc[np.r_[0:40, 70:110]]
    sets = np.r_[np.arange(40), np.arange(40)]
    with pytest.raises(SopEvalError, match="at least 60"):
        estimate_effect(_stand_in(small, np.ones(80), sets), "y")
    ok = estimate_effect(_stand_in(small, np.ones(80), sets), "y", allow_small=True)
    assert ok.n_treated == 40 and ok.estimate == pytest.approx(small.y[:40].mean() - small.y[40:].mean())
    with pytest.raises(SopEvalError, match="se='bogus'"):
        cohort.effect("reconviction_events", se="bogus")
    with pytest.raises(SopEvalError, match="no_column"):
        cohort.effect("reconviction_events", covariates=["no_column"])


def test_inputs_are_not_modified(cohort):
    before = cohort.data.copy()
    cohort.effect("reconviction_events", covariates=True, se="bootstrap", n_boot=50, seed=1)
    pd.testing.assert_frame_equal(cohort.data, before)


def test_unmatched_treated_are_counted_per_cohort(reoffending):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = sop_eval.match(reoffending, "treated", COVARIATES, ratio=1, caliper=0.05, exact=["cohort"])
    whole = m.effect("reconviction_events")
    by = estimate_by(m, "reconviction_events", by="cohort")
    assert whole.details["n_treated_unmatched"] == len(m.unmatched) > 0
    assert sum(e.details["n_treated_unmatched"] for e in by.values()) == len(m.unmatched)
    assert all(e.n_treated + e.details["n_treated_unmatched"] == 300 for e in by.values())
    with pytest.raises(SopEvalError, match="kind='binary'"):
        m.effect("reconviction_events", kind="binary")


def test_weighting_clustered_on_singletons_says_each_person_is_their_own_cluster():
    df = make_reoffending(n_per_cohort=150, n_cohorts=1, pool_size=600, seed=4)
    m = sop_eval.match(df, "treated", ["age", "prior_convictions"], method="weighting")
    clustered = m.effect("reconviction_events", se="cluster")
    robust = m.effect("reconviction_events", se="robust")
    said = clustered.summary()["se_clusters_on"].iloc[0]
    assert said == "nothing: each person is their own cluster (no matched sets)"
    assert clustered.se == pytest.approx(robust.se, rel=1e-9)  # CR1 on singletons is HC1
    for model in ("linear",):
        g = m.effect("reconviction_events", se="cluster", model=model)
        assert g.summary()["se_clusters_on"].iloc[0].startswith("nothing: each person is their own cluster")
