"""Each bad input raises SopEvalError naming the culprit; the caller's data is never modified."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import sop_eval
from sop_eval import SopEvalError, SopEvalWarning

COVS = ["age", "educ", "race", "married", "nodegree", "re74", "re75"]


@pytest.fixture()
def df() -> pd.DataFrame:
    return sop_eval.datasets.load_lalonde()


def _raises(match_text, frame, *args, **kwargs):
    with pytest.raises(SopEvalError, match=match_text):
        sop_eval.match(frame, *args, **kwargs)


def test_missing_covariate_values_named(df):
    df.loc[["NSW3", "PSID7"], "educ"] = np.nan
    _raises(r"'educ' has 2 missing.*NSW3", df, "treat", COVS)


def test_infinite_covariate_named(df):
    df.loc["PSID9", "re74"] = np.inf
    _raises(r"'re74' has 1 infinite.*PSID9", df, "treat", COVS)


def test_non_binary_treatment(df):
    df.loc["PSID1", "treat"] = 2
    _raises(r"'treat' must be binary.*PSID1", df, "treat", COVS)


def test_string_treatment(df):
    df["arm"] = np.where(df["treat"] == 1, "yes", "no")
    _raises(r"'arm' has dtype", df, "arm", COVS)


def test_missing_column(df):
    _raises(r"no column\(s\) 'income'", df, "treat", ["age", "income"])


def test_missing_exact_column(df):
    _raises(r"'region'", df, "treat", COVS, exact=["region"])


def test_no_controls(df):
    _raises(r"no controls", df[df["treat"] == 1], "treat", COVS)


def test_constant_covariate(df):
    df["sex"] = 1
    _raises(r"'sex' is constant", df, "treat", [*COVS, "sex"])


def test_perfect_separation_names_covariate(df):
    df["site_code"] = np.where(df["treat"] == 1, 5.0, 1.0) + np.arange(len(df)) % 3 / 10
    with pytest.raises(SopEvalError, match=r"perfect separation.*site_code") as info:
        sop_eval.match(df, "treat", [*COVS, "site_code"])
    assert "exact=" in str(info.value) and "age" not in str(info.value)


def test_duplicate_index(df):
    frame = pd.concat([df, df.iloc[[0]]])
    _raises(r"duplicate index label.*NSW1", frame, "treat", COVS)


@pytest.mark.parametrize("ratio", [0, -1, 1.5, True])
def test_bad_ratio(df, ratio):
    _raises(r"ratio=", df, "treat", COVS, ratio=ratio)


def test_negative_caliper(df):
    _raises(r"caliper=-0.1 is negative", df, "treat", COVS, caliper=-0.1)


def test_caliper_matching_nobody():
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"t": np.r_[np.ones(20), np.zeros(200)], "x": rng.normal(size=220)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SopEvalWarning)
        _raises(r"no treated unit found a match; caliper=1e-12", frame, "t", ["x"], caliper=1e-12)


def test_empty_data(df):
    _raises(r"empty", df.iloc[:0], "treat", COVS)


@pytest.mark.parametrize(
    "option", [{"order": "biggest"}, {"discard": "all"}, {"method": "genetic"}, {"estimand": "ATE"},
               {"distance": "probit"}, {"ties": True},
               {"method": "weighting", "caliper": 0.1}, {"method": "weighting", "exact": "married"}]
)
def test_unknown_options_named(df, option):
    key = list(option)[-1]
    _raises(key, df, "treat", COVS, **option)


def test_no_exact_match_reason(df):
    df["site"] = np.where(df["treat"] == 1, np.where(df.index.str.endswith("1"), "north", "south"), "south")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SopEvalWarning)
        m = sop_eval.match(df, "treat", COVS, exact="site")
    north = df.index[(df["site"] == "north")]
    assert set(m.unmatched.index) == set(north)
    assert (m.unmatched["reason"] == "no exact match").all()


def test_input_not_modified(df):
    before = df.copy()
    with pytest.warns(SopEvalWarning, match="left unmatched"):
        m = sop_eval.match(df, "treat", COVS, caliper=0.2, exact="married", discard="both")
    m.data.loc["NSW1", "age"] = -1
    pd.testing.assert_frame_equal(df, before)


def test_dropped_share_warns_and_reasons_are_given(df):
    with pytest.warns(SopEvalWarning, match=r"74 of 185 treated units .*\(caliper: 74\)"):
        m = sop_eval.match(df, "treat", COVS, caliper=0.1)
    assert (m.unmatched["reason"] == "caliper").all()
    with pytest.warns(SopEvalWarning, match=r"discard"):
        m = sop_eval.match(df, "treat", COVS, discard="both", warn_dropped=0.0)
    assert set(m.unmatched["reason"]) == {"discard"}


def test_collinear_covariate_named(df):
    df["re74_thousands"] = df["re74"] / 1000
    _raises(r"'re74_thousands' are linear combinations", df, "treat", [*COVS, "re74_thousands"])


def test_separation_by_a_combination_names_the_strongest_terms():
    rng = np.random.default_rng(0)
    x1, x2, x3 = rng.normal(size=(3, 400))
    frame = pd.DataFrame({"t": (x1 + x2 > 0).astype(int), "x1": x1, "x2": x2, "x3": x3})
    with pytest.raises(SopEvalError, match=r"perfect separation.*'x[12]', 'x[12]'"):
        sop_eval.match(frame, "t", ["x1", "x2", "x3"])


def _hub_frame(served_share: float, pool_share: float, seed: int = 3) -> pd.DataFrame:
    """2,000 people served and 17,000 in the pool; ``hub`` is 1 for ``served_share`` and ``pool_share`` of them."""
    rng = np.random.default_rng(seed)
    t = np.r_[np.ones(2000, int), np.zeros(17000, int)]
    u = rng.random(len(t))
    return pd.DataFrame({"t": t, "hub": np.where(t == 1, u < served_share, u < pool_share).astype(int),
                         "age": rng.integers(18, 70, len(t)).astype(float)})


@pytest.mark.parametrize(("served", "pool"), [(0.98, 0.01), (0.90, 0.05)])
def test_a_strong_but_imperfect_predictor_is_fitted_not_called_separation(served, pool):
    frame = _hub_frame(served, pool)
    assert set(pd.crosstab(frame["t"], frame["hub"]).to_numpy().ravel() > 0) == {True}  # both groups, both values
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SopEvalWarning)  # near-separation may be warned of; it is not refused
        m = sop_eval.match(frame, "t", ["hub", "age"])
    ref = sm.Logit(frame["t"], sm.add_constant(frame[["hub", "age"]].astype(float))).fit(disp=0)
    np.testing.assert_allclose(m.coefficients.to_numpy(), ref.params.to_numpy(), rtol=1e-6)


def test_quasi_complete_separation_names_only_the_term_responsible():
    frame = _hub_frame(0.5, 0.05)
    frame["flagged"] = np.where(frame["t"] == 1, np.arange(len(frame)) % 4 == 0, 0).astype(int)  # served only
    with pytest.raises(SopEvalError, match=r"perfect separation: covariate term\(s\) 'flagged' predict") as info:
        sop_eval.match(frame, "t", ["hub", "age", "flagged"])
    assert "'hub'" not in str(info.value) and "'age'" not in str(info.value)


def test_no_controls_left_reason():
    frame = pd.DataFrame({"t": [1, 1, 1, 0], "x": [0.1, 0.5, 0.9, 0.4]}, index=list("abcd"))
    with pytest.warns(SopEvalWarning, match="no controls left: 2"):
        m = sop_eval.match(frame, "t", ["x"], distance="x")
    assert m.pairs[["treated", "control"]].values.tolist() == [["c", "d"]]  # largest score picks first
    assert set(m.unmatched["reason"]) == {"no controls left"}


def test_identifier_as_covariate_is_refused_without_printing_ids():
    df = sop_eval.datasets.make_reoffending(n_per_cohort=100, n_cohorts=1, pool_size=400, seed=2)
    with pytest.raises(SopEvalError, match="'person_id' has 500 distinct text values") as err:
        sop_eval.match(df, "treated", ["age", "person_id"])
    assert not any(pid in str(err.value) for pid in df["person_id"])
