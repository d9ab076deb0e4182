"""Time-to-event pieces against R survival 3.5 and statsmodels PHReg."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from statsmodels.duration.hazard_regression import PHReg

from sop_eval.effects.survival import kaplan_meier, km_median, rmst, weighted_cox

RESULTS = Path(__file__).parent / "results" / "effects"


@pytest.fixture(scope="module")
def data():
    return pd.read_csv(RESULTS / "survival_data.csv")


@pytest.mark.parametrize("row", pd.read_csv(RESULTS / "survival_km.csv").to_dict("records"), ids=lambda r: f"treat{r['treat']}")
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
    sm = PHReg(data.time.to_numpy(), data[["treat"]].to_numpy(float), status=data.event.to_numpy()).fit(groups=data.set.to_numpy())
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
