"""Time-to-event pieces against R survival 3.5 and statsmodels PHReg; horizon censoring and clustering."""

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from statsmodels.duration.hazard_regression import PHReg

import sop_eval
from sop_eval.datasets import make_reoffending
from sop_eval.effects.matched import MatchedSample
from sop_eval.effects.survival import (
    kaplan_meier,
    km_median,
    rmst,
    time_to_event_effect,
    weighted_cox,
)
from sop_eval.errors import SopEvalError

RESULTS = Path(__file__).parent / "results" / "effects"


@pytest.fixture(scope="module")
def data():
    return pd.read_csv(RESULTS / "survival_data.csv")


@pytest.mark.parametrize("row", pd.read_csv(RESULTS / "survival_km.csv").to_dict("records"),
                         ids=lambda r: f"treat{r['treat']}")
def test_weighted_km_median_and_rmst_equal_r(data, row):
    s = data[data.treat == row["treat"]]
    curve = kaplan_meier(s.time, s.event, s.weight)
    assert km_median(curve) == row["median"]
    assert curve.loc[curve.time <= 200, "survival"].iloc[-1] == pytest.approx(row["surv_at_200"], rel=1e-10)
    value, influence = rmst(s.time, s.event, s.weight, horizon=365)
    assert value == pytest.approx(row["rmean"], rel=1e-10)
    assert np.sqrt((influence**2).sum()) == pytest.approx(row["se_rmean_ij"], rel=1e-9)
    clustered = np.bincount(s.set, weights=influence)
    assert np.sqrt((clustered**2).sum()) == pytest.approx(row["se_rmean_ij_cluster"], rel=1e-9)


@pytest.mark.parametrize("model", ["weighted", "unweighted"])
def test_weighted_cox_equals_r_coxph_robust(data, model):
    ref = pd.read_csv(RESULTS / "survival_cox.csv").set_index("model").loc[model]
    fit = weighted_cox(data.time, data.event, data.treat, data.weight if model == "weighted" else None, data.set)
    assert fit.converged
    assert fit.coef == pytest.approx(ref["coef"], rel=1e-7)
    assert fit.se == pytest.approx(ref["robust_se"], rel=1e-7)


def test_unweighted_cox_equals_statsmodels_phreg(data):
    sm = PHReg(data.time.to_numpy(), data[["treat"]].to_numpy(float), status=data.event.to_numpy()).fit(
        groups=data.set.to_numpy()
    )
    fit = weighted_cox(data.time, data.event, data.treat, cluster=data.set)
    assert fit.coef == pytest.approx(sm.params[0], rel=1e-6)
    assert fit.se == pytest.approx(sm.bse[0], rel=1e-6)
    lo, hi = fit.conf_int()
    assert lo < fit.hazard_ratio < hi


def test_km_without_censoring_is_the_empirical_survivor_function():
    t = np.array([3.0, 1, 2, 2, 5])
    curve = kaplan_meier(t, np.ones(5))
    assert curve["survival"].tolist() == pytest.approx([0.8, 0.4, 0.2, 0.0])
    value, _ = rmst(t, np.ones(5), horizon=10)
    assert value == pytest.approx(t.mean())  # no censoring, horizon past the last event


def test_integer_weights_equal_replicated_rows(data):
    s = data.head(60)
    w = np.arange(len(s)) % 3 + 1
    rep = s.loc[s.index.repeat(w)]
    a = weighted_cox(s.time, s.event, s.treat, w)
    b = weighted_cox(rep.time, rep.event, rep.treat)
    assert a.coef == pytest.approx(b.coef, rel=1e-9)
    assert rmst(s.time, s.event, w, 300)[0] == pytest.approx(rmst(rep.time, rep.event, None, 300)[0])


REPLACEMENT = pd.read_csv(RESULTS / "survival_replacement.csv")
REPLACEMENT_REF = json.loads((RESULTS / "survival_replacement_reference.json").read_text())


def _replacement_sample(data):
    frame = data.set_index("person")  # a comparison person serving several sets keeps one label
    return MatchedSample(frame, data.treat.to_numpy(bool), data.weight.to_numpy(float), data.set.to_numpy() - 1)


def _survival_at(curve, when):
    times, surv = np.asarray(curve["time"]), np.asarray(curve["survival"])
    return [float(surv[times <= w][-1]) if (times <= w).any() else 1.0 for w in when]


def _three_ways(data, horizon, se):
    """The same window given as time + event, as a missing time for no event, and pre-censored."""
    sample = _replacement_sample(data)
    t, e = data.time.to_numpy(float), data.event.to_numpy(float)
    kw = {"outcome": "days", "se": se, "horizon": horizon}
    return [
        time_to_event_effect(sample, t, e, **kw),
        time_to_event_effect(sample, np.where(e == 1, t, np.nan), None, **kw),
        time_to_event_effect(sample, np.minimum(t, horizon), np.where(t <= horizon, e, 0), **kw),
    ]


@pytest.mark.parametrize("se", ["robust", "cluster"])
def test_horizon_and_clustering_equal_r_on_a_sample_matched_with_replacement(se):
    ref = REPLACEMENT_REF
    assert REPLACEMENT.time.max() > ref["horizon"] and ref["n_events_treated_uncensored"] > ref["n_events_treated"]
    assert REPLACEMENT.person.nunique() == ref["n_people"] < len(REPLACEMENT)  # controls reused
    for est in _three_ways(REPLACEMENT, ref["horizon"], se):
        d = est.details
        assert d["n_events_treated"] == ref["n_events_treated"]
        assert d["n_events_comparison"] == ref["n_events_comparison"]
        assert d["n_clusters"] == (ref["n_people"] if se == "robust" else ref["n_sets"])
        assert d["hazard_ratio"] == pytest.approx(ref["hazard_ratio"], rel=1e-9)
        want_se = ref["robust_se_person" if se == "robust" else "robust_se_set"]
        assert d["log_hazard_ratio_se"] == pytest.approx(want_se, rel=1e-9)
        assert _survival_at(d["km_treated"], ref["km_times"]) == pytest.approx(ref["km_treated"], rel=1e-10)
        assert _survival_at(d["km_comparison"], ref["km_times"]) == pytest.approx(ref["km_comparison"], rel=1e-10)
        assert max(d["km_treated"]["time"] + d["km_comparison"]["time"]) <= ref["horizon"]
        assert est.treated_mean == pytest.approx(ref["rmst_treated"], rel=1e-10)
        assert est.comparison_mean == pytest.approx(ref["rmst_comparison"], rel=1e-10)
        assert est.se == pytest.approx(ref["rmst_diff_se_person" if se == "robust" else "rmst_diff_se_set"], rel=1e-9)
        assert np.isnan(d["median_treated"]) and ref["median_treated"] is None
        # R takes the midpoint where survival sits exactly at 0.5; here the first time it reaches 0.5
        later = np.sort(d["km_comparison"]["time"])
        following = later[later > d["median_comparison"]][0]
        assert ref["median_comparison"] == (d["median_comparison"] + following) / 2
        assert ("person" in est.method) == (se == "robust") and est.summary()["se_method"].iloc[0] == est.method


def test_weighted_event_counts_equal_r_survfit():
    tr = REPLACEMENT.treat == 1
    inside = np.where(REPLACEMENT.time <= REPLACEMENT_REF["horizon"], REPLACEMENT.event, 0)
    weighted = [float((REPLACEMENT.weight * inside)[m].sum()) for m in (tr, ~tr)]
    assert weighted == pytest.approx(REPLACEMENT_REF["weighted_events"], rel=1e-12)


def test_events_after_the_horizon_are_censored_at_it():
    # a horizon-90 window on the same sample: the events between 90 and 365 are not events within 90 days
    sample = _replacement_sample(REPLACEMENT)
    t, e = REPLACEMENT.time.to_numpy(float), REPLACEMENT.event.to_numpy(float)
    est = time_to_event_effect(sample, np.where(e == 1, t, np.nan), None, outcome="days", horizon=90)
    tr = sample.treat
    assert est.details["n_events_treated"] == int(((t <= 90) & (e == 1))[tr].sum()) < int(e[tr].sum())
    survival_90 = _survival_at(est.details["km_treated"], [90])[0]
    manual = kaplan_meier(np.minimum(t, 90)[tr], ((t <= 90) & (e == 1))[tr])
    assert survival_90 == pytest.approx(manual["survival"].iloc[-1]) and survival_90 > 0.5
    fit = weighted_cox(np.minimum(t, 90), (t <= 90) & (e == 1), tr, sample.weights, sample.cluster)
    assert est.details["hazard_ratio"] == pytest.approx(fit.hazard_ratio, rel=1e-12)
    with pytest.raises(SopEvalError, match="horizon"):
        time_to_event_effect(sample, t, e, outcome="days", horizon=0)


def test_robust_se_without_replacement_is_per_row(data):
    # without replacement every row is a different person: clustering on the person is clustering on the row
    sample = MatchedSample(data.set_index(pd.RangeIndex(len(data))), data.treat.to_numpy(bool),
                           data.weight.to_numpy(float), data.set.to_numpy() - 1)
    est = time_to_event_effect(sample, data.time.to_numpy(float), data.event.to_numpy(float), outcome="t", se="robust")
    per_row = weighted_cox(data.time, data.event, data.treat, data.weight, np.arange(len(data)))
    assert est.details["n_clusters"] == len(data)
    assert est.details["log_hazard_ratio_se"] == pytest.approx(per_row.se, rel=1e-12)


def test_reference_sample_is_what_matching_with_replacement_builds():
    df = make_reoffending(n_per_cohort=150, n_cohorts=1, pool_size=1500, effect=-0.4, seed=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = sop_eval.match(df, "treated", ["age", "prior_convictions", "offence_group", "drug_misuse"], ratio=3,
                           replace=True)
    est = m.effect("days_to_reconviction", kind="time_to_event", se="robust", horizon=180, allow_small=True)
    assert est.details["hazard_ratio"] == pytest.approx(REPLACEMENT_REF["hazard_ratio"], rel=1e-9)
    assert est.details["log_hazard_ratio_se"] == pytest.approx(REPLACEMENT_REF["robust_se_person"], rel=1e-9)
    assert est.details["n_events_treated"] == REPLACEMENT_REF["n_events_treated"]
