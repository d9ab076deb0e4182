"""Standard errors by name: agreement with R (sandwich, Matching) on Lalonde, bootstrap, registry."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sop_eval
from sop_eval.datasets import load_lalonde
from sop_eval.effects import SE_METHODS, get_se_method
from sop_eval.effects.inference import abadie_imbens, cluster_bootstrap, nn_match_ties
from sop_eval.errors import SopEvalError

RESULTS = Path(__file__).parent / "results" / "effects"
COVARIATES = ["age", "educ", "race", "married", "nodegree", "re74", "re75"]


@pytest.fixture(scope="module")
def lalonde():
    d = load_lalonde()
    matches = pd.read_csv(RESULTS / "lalonde_matches.csv", index_col="id", keep_default_na=False)
    assert (matches.index == d.index).all()
    X = pd.get_dummies(d[COVARIATES], drop_first=True, dtype=float).to_numpy()
    return d, matches, X


def _lm_cases():
    ref = pd.read_csv(RESULTS / "lalonde_lm_se.csv")
    return [tuple(r) for r in ref[["design", "adjustment", "se_type", "estimate", "se"]].itertuples(index=False)]


@pytest.mark.parametrize("design,adjustment,se_type,estimate,se", _lm_cases())
def test_weighted_regression_se_equals_r_sandwich(lalonde, design, adjustment, se_type, estimate, se):
    d, matches, X = lalonde
    result = get_se_method(se_type)(
        d["re78"].to_numpy(), d["treat"].to_numpy(), matches[f"weights_{design}"].to_numpy(float),
        cluster=matches[f"subclass_{design}"].to_numpy(), covariates=X if adjustment == "covariates" else None,
    )
    assert result.estimate == pytest.approx(estimate, rel=1e-9)
    assert result.se == pytest.approx(se, rel=1e-9)


@pytest.mark.parametrize("ratio", [1, 2])
def test_reference_designs_are_what_match_builds(lalonde, ratio):
    """The R reference's matches (MatchIt's sorted-scan tie rule) are the ones sop_eval.match builds."""
    d, matches, _ = lalonde
    m = sop_eval.match(d.assign(ps_r=matches["ps"]), "treat", COVARIATES, distance="ps_r", ratio=ratio)
    assert np.allclose(m.weights.to_numpy(), matches[f"weights_nn{ratio}"].to_numpy(float), atol=1e-12)
    ref_sets = matches[f"subclass_nn{ratio}"]
    mine_sets = m.subclass.fillna(0).astype(int).astype(str).replace("0", "")
    assert (mine_sets == ref_sets.astype(str)).all()


@pytest.mark.parametrize("row", pd.read_csv(RESULTS / "lalonde_ai_se.csv").to_dict("records"),
                         ids=lambda r: f"M{r['M']}")
def test_abadie_imbens_equals_r_matching(lalonde, row):
    d, matches, _ = lalonde
    result = abadie_imbens(d["re78"].to_numpy(), d["treat"].to_numpy(), matches["ps"].to_numpy(), m=int(row["M"]))
    assert result.estimate == pytest.approx(row["estimate"], rel=1e-9)
    assert result.se == pytest.approx(row["se"], rel=1e-9)
    assert result.details["n_matched_rows"] == row["n_matched_rows"]


def test_nn_match_ties_keeps_every_equidistant_control():
    score = np.array([0.5, 0.1, 0.4, 0.6, 0.9])
    treat = np.array([1, 0, 0, 0, 0])
    ti, ci, w = nn_match_ties(score, treat, m=1)
    assert sorted(ci.tolist()) == [2, 3]  # 0.4 and 0.6 are both 0.1 away
    assert np.allclose(w, 0.5) and (ti == 0).all()


def test_without_covariates_the_means_are_the_group_means():
    rng = np.random.default_rng(3)
    y, t = rng.normal(size=200), np.repeat([1, 0], 100)
    w = np.r_[np.ones(100), rng.uniform(0.5, 2, 100)]
    r = get_se_method("HC0")(y, t, w)
    assert r.treated_mean == pytest.approx(y[:100].mean())
    assert r.comparison_mean == pytest.approx(np.average(y[100:], weights=w[100:]))
    assert r.cov_estimate_comparison < 0  # the difference falls as the comparison mean rises


def test_bootstrap_is_seeded_and_close_to_cluster_se(lalonde):
    d, matches, _ = lalonde
    args = (d["re78"].to_numpy(), d["treat"].to_numpy(), matches["weights_nn1"].to_numpy(float))
    kw = {"cluster": matches["subclass_nn1"].to_numpy()}
    a = cluster_bootstrap(*args, **kw, n_boot=400, seed=7)
    b = cluster_bootstrap(*args, **kw, n_boot=400, seed=7)
    c = cluster_bootstrap(*args, **kw, n_boot=400, seed=8)
    assert a.se == b.se and a.se != c.se
    cluster = get_se_method("cluster")(*args, **kw)
    assert a.estimate == pytest.approx(cluster.estimate)
    assert a.se == pytest.approx(cluster.se, rel=0.15)
    lo, hi = a.details["percentile_ci_95"]
    assert lo < a.estimate < hi


def test_bootstrap_with_covariates_matches_sandwich_scale(lalonde):
    d, matches, X = lalonde
    args = (d["re78"].to_numpy(), d["treat"].to_numpy(), matches["weights_nn2"].to_numpy(float))
    kw = {"cluster": matches["subclass_nn2"].to_numpy(), "covariates": X}
    boot = cluster_bootstrap(*args, **kw, n_boot=300, seed=1)
    assert boot.se == pytest.approx(get_se_method("cluster")(*args, **kw).se, rel=0.2)


def test_registry_names_and_errors():
    assert {"cluster", "robust", "HC0", "HC1", "HC2", "HC3", "abadie-imbens", "bootstrap"} <= set(SE_METHODS)
    assert get_se_method("hc2") is SE_METHODS["HC2"]
    with pytest.raises(SopEvalError, match="se='jackknife'"):
        get_se_method("jackknife")
    with pytest.raises(SopEvalError, match="n_boot"):
        cluster_bootstrap(np.ones(4), np.array([1, 1, 0, 0]), np.ones(4), n_boot=1)


def test_singular_adjustment_names_the_problem():
    y, t = np.arange(6.0), np.array([1, 1, 1, 0, 0, 0])
    with pytest.raises(SopEvalError, match="singular"):
        get_se_method("HC1")(y, t, np.ones(6), covariates=np.ones((6, 1)))


def test_vectorised_bootstrap_equals_refitting_each_replicate():
    rng = np.random.default_rng(0)
    n_sets = 150
    sets = np.repeat(np.arange(n_sets), 3)
    treat = np.tile([1, 0, 0], n_sets)
    x = rng.normal(size=3 * n_sets)
    y = rng.poisson(np.exp(0.3 * x + 0.2 * treat)).astype(float)
    w = np.where(treat == 1, 1.0, 0.5)
    fast = cluster_bootstrap(y, treat, w, sets, covariates=x[:, None], n_boot=60, seed=4, chunk=25)
    draws = np.random.default_rng(4)
    rows_of = np.arange(3 * n_sets).reshape(n_sets, 3)
    refits = []
    for _ in range(60):
        rows = rows_of[draws.integers(0, n_sets, n_sets)].ravel()
        X = np.column_stack([np.ones(len(rows)), treat[rows], x[rows]])
        sw = np.sqrt(w[rows])
        refits.append(np.linalg.lstsq(X * sw[:, None], y[rows] * sw, rcond=None)[0][1])
    assert fast.se == pytest.approx(np.std(refits, ddof=1), rel=1e-9)
