"""The numerical core against statsmodels and hand computations: WLS sandwiches, logit, design matrix,
bootstraps and influence functions."""

import ast
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from statsmodels.stats.sandwich_covariance import cov_cluster_2groups

from sop_eval.errors import SopEvalError
from sop_eval.stats.bootstrap import cluster_bootstrap_wls, multiplier_bootstrap
from sop_eval.stats.design import collinear_terms, design_matrix
from sop_eval.stats.influence import analytic_se, influence_covariance, logit_influence, wls_influence
from sop_eval.stats.logit import newton_logit
from sop_eval.stats.separation import separating_columns
from sop_eval.stats.wls import (
    SingularDesign,
    cluster_vcov,
    hc_vcov,
    psd_part,
    twoway_cluster_vcov,
    wls,
)

STATS = Path(__file__).parents[1] / "src" / "sop_eval" / "stats"


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(11)
    n = 400
    x = rng.normal(size=(n, 2))
    a = rng.integers(0, 25, n)
    b = rng.integers(0, 12, n)
    X = np.column_stack([np.ones(n), x, rng.integers(0, 2, n)])
    y = X @ [1.0, 0.5, -0.3, 0.8] + rng.normal(size=n) * (1 + np.abs(x[:, 0])) + rng.normal(size=25)[a]
    w = rng.uniform(0.2, 3.0, n)
    return y, X, w, a, b


@pytest.mark.parametrize("kind", ["HC0", "HC1", "HC2", "HC3"])
@pytest.mark.parametrize("weighted", [False, True])
def test_hc_sandwiches_equal_statsmodels(problem, kind, weighted):
    y, X, w, _, _ = problem
    w = w if weighted else np.ones(len(y))
    ref = sm.WLS(y, X, weights=w).fit(cov_type=kind)
    fit = wls(y, X, w)
    np.testing.assert_allclose(fit.beta, ref.params, rtol=1e-12)
    np.testing.assert_allclose(hc_vcov(fit, kind).vcov, ref.cov_params(), rtol=1e-10)


@pytest.mark.parametrize("weighted", [False, True])
def test_one_way_cluster_equals_statsmodels(problem, weighted):
    y, X, w, a, _ = problem
    w = w if weighted else np.ones(len(y))
    ref = sm.WLS(y, X, weights=w).fit(cov_type="cluster", cov_kwds={"groups": a})
    cov = cluster_vcov(wls(y, X, w), a)
    np.testing.assert_allclose(cov.vcov, ref.cov_params(), rtol=1e-10)
    g, n, k = 25, len(y), X.shape[1]
    assert cov.n_clusters == g and cov.factor == pytest.approx(g / (g - 1) * (n - 1) / (n - k))


def test_extra_params_enter_the_degrees_of_freedom(problem):
    y, X, w, a, _ = problem
    fit = wls(y, X, w)
    n, k = len(y), X.shape[1]
    base, extra = cluster_vcov(fit, a), cluster_vcov(fit, a, extra_params=10)
    np.testing.assert_allclose(extra.vcov, base.vcov * (n - k) / (n - k - 10), rtol=1e-12)
    np.testing.assert_allclose(hc_vcov(fit, "HC1", extra_params=10).vcov,
                               hc_vcov(fit, "HC0").vcov * n / (n - k - 10), rtol=1e-12)


def _hand_meat(scores, codes):
    meat = np.zeros((scores.shape[1], scores.shape[1]))
    for g in np.unique(codes):
        s = scores[codes == g].sum(axis=0)
        meat += np.outer(s, s)
    return meat


@pytest.mark.parametrize("small_sample", ["min", "each"])
def test_two_way_cluster_equals_hand_computation(problem, small_sample):
    y, X, w, a, b = problem
    fit = wls(y, X, w)
    n, k = len(y), X.shape[1]
    bread = np.linalg.inv(X.T @ (w[:, None] * X))
    resid = y - X @ np.linalg.solve(X.T @ (w[:, None] * X), X.T @ (w * y))
    scores = X * (w * resid)[:, None]
    both = np.array([f"{i}-{j}" for i, j in zip(a, b, strict=True)])
    g = {"a": len(set(a)), "b": len(set(b)), "ab": len(set(both))}
    c = {key: (min(g["a"], g["b"]) if small_sample == "min" else v) for key, v in g.items()}
    meat = sum(sign * c[key] / (c[key] - 1) * _hand_meat(scores, codes)
               for key, codes, sign in (("a", a, 1), ("b", b, 1), ("ab", both, -1)))
    expected = (n - 1) / (n - k) * bread @ meat @ bread
    cov = twoway_cluster_vcov(fit, a, b, small_sample=small_sample)
    assert not cov.psd_fixed and cov.n_clusters == (25, 12)
    np.testing.assert_allclose(cov.vcov, expected, rtol=1e-10)


def test_two_way_each_equals_statsmodels_for_ols(problem):
    y, X, _, a, b = problem
    ref = sm.OLS(y, X).fit()
    expected = cov_cluster_2groups(ref, a, b)[0]
    np.testing.assert_allclose(twoway_cluster_vcov(wls(y, X), a, b, small_sample="each").vcov, expected, rtol=1e-10)


def test_two_way_with_nested_dimension_is_the_one_way(problem):
    y, X, w, a, _ = problem
    fit = wls(y, X, w)
    one = cluster_vcov(fit, a).vcov
    # clustering on A and on A itself: V_A + V_A - V_A
    np.testing.assert_allclose(twoway_cluster_vcov(fit, a, a, small_sample="each").vcov, one, rtol=1e-10)


def test_psd_fix_clips_negative_eigenvalues():
    v = np.array([[1.0, 2.0], [2.0, 1.0]])  # eigenvalues 3 and -1
    fixed, changed = psd_part(v)
    assert changed and np.linalg.eigvalsh(fixed).min() >= -1e-12
    np.testing.assert_allclose(fixed, 1.5 * np.ones((2, 2)), atol=1e-12)
    same, changed = psd_part(np.eye(2))
    assert not changed and same is not None


def test_two_way_reports_the_psd_fix():
    rng = np.random.default_rng(4)
    n = 12
    X = np.column_stack([np.ones(n), rng.normal(size=n)])
    y = rng.normal(size=n)
    a, b = np.arange(n) % 3, np.arange(n) // 4
    fit = wls(y, X)
    raw = (cluster_vcov(fit, a).vcov + cluster_vcov(fit, b).vcov
           - cluster_vcov(fit, a * 3 + b).vcov * (3 / 2) / (9 / 8))  # every term with G_min = 3
    assert np.linalg.eigvalsh(raw).min() < 0
    cov = twoway_cluster_vcov(fit, a, b)
    assert cov.psd_fixed and np.linalg.eigvalsh(cov.vcov).min() >= -1e-12
    np.testing.assert_allclose(cov.vcov, psd_part(raw)[0], rtol=1e-9, atol=1e-15)


def test_singular_design_and_too_few_clusters(problem):
    y, X, w, a, _ = problem
    with pytest.raises(SingularDesign, match="rank 4 of 5"):
        wls(y, np.column_stack([X, 2 * X[:, 1]]), w)
    with pytest.raises(SopEvalError, match="at least two clusters"):
        cluster_vcov(wls(y, X, w), np.zeros(len(y)))
    with pytest.raises(SopEvalError, match="kind='HC9'"):
        hc_vcov(wls(y, X, w), "HC9")


# -- logit --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def binary():
    rng = np.random.default_rng(5)
    n = 2000
    X = np.column_stack([np.ones(n), rng.normal(size=n), rng.integers(0, 2, n), rng.uniform(0, 5, n)])
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-(X @ [-0.5, 0.8, -0.4, 0.2])))).astype(float)
    return X, y, rng.uniform(0.5, 2.0, n)


def test_newton_logit_equals_statsmodels(binary):
    X, y, _ = binary
    ref = sm.Logit(y, X).fit(disp=0, method="newton", tol=1e-12)
    fit = newton_logit(X, y)
    assert fit.converged and not fit.perfect_prediction and fit.n_iter < 15
    np.testing.assert_allclose(fit.coef, ref.params, rtol=1e-10)
    np.testing.assert_allclose(fit.fitted, ref.predict(), rtol=1e-10)
    np.testing.assert_allclose(fit.linear_predictor, X @ ref.params, rtol=1e-9, atol=1e-12)


def test_weighted_newton_logit_equals_statsmodels_glm(binary):
    X, y, w = binary
    ref = sm.GLM(y, X, family=sm.families.Binomial(), freq_weights=w).fit(tol=1e-13)
    np.testing.assert_allclose(newton_logit(X, y, w).coef, ref.params, rtol=1e-9)


def test_intercept_only_logit_is_the_log_odds():
    y = np.array([1.0, 0, 0, 1, 0])
    fit = newton_logit(np.ones((5, 1)), y, np.array([2.0, 1, 1, 1, 1]))
    assert fit.coef[0] == pytest.approx(np.log(3 / 3)) and fit.n_iter == 0


def test_separation_is_flagged_or_singular():
    x = np.linspace(-1, 1, 40)
    X = np.column_stack([np.ones(40), x])
    y = (x > 0).astype(float)
    try:
        fit = newton_logit(X, y)
    except np.linalg.LinAlgError:
        return
    assert fit.perfect_prediction


def test_newton_logit_halves_steps_that_overshoot_a_strong_predictor():
    rng = np.random.default_rng(3)
    y = np.r_[np.ones(2000), np.zeros(17000)]
    x = np.where(y == 1, rng.random(len(y)) < 0.98, rng.random(len(y)) < 0.01).astype(float)
    X = np.column_stack([np.ones(len(y)), x])
    fit = newton_logit(X, y)
    assert fit.converged and not fit.perfect_prediction
    np.testing.assert_allclose(fit.coef, sm.Logit(y, X).fit(disp=0).params, rtol=1e-8)
    assert separating_columns(X, y) == []


def test_separating_columns_finds_complete_and_quasi_complete_separation_only():
    rng = np.random.default_rng(1)
    n = 300
    y = (rng.random(n) < 0.4).astype(float)
    noise = rng.normal(size=n) / 4
    complete = np.where(y == 1, 0.5, -0.5) + rng.uniform(-0.1, 0.1, n)
    quasi = np.where((y == 1) & (rng.random(n) < 0.3), 1.0, 0.0)
    X = np.column_stack([np.ones(n), noise, complete])
    assert separating_columns(X, y) == [2]
    assert separating_columns(np.column_stack([np.ones(n), noise, quasi]), y) == [2]
    assert separating_columns(np.column_stack([np.ones(n), noise]), y) == []


def test_logit_influence_gives_the_statsmodels_hc0_covariance(binary):
    X, y, _ = binary
    fit = newton_logit(X, y)
    rep = logit_influence(y, X, np.ones(len(y)), fit.fitted)
    ref = sm.Logit(y, X).fit(disp=0, cov_type="HC0")
    np.testing.assert_allclose(influence_covariance(rep) / len(y), ref.cov_params(), rtol=1e-6)


def test_wls_influence_gives_the_hc0_covariance(problem):
    y, X, w, _, _ = problem
    fitted, rep = wls_influence(y, X, w)
    fit = wls(y, X, w)
    np.testing.assert_allclose(fitted, X @ fit.beta, rtol=1e-10)
    np.testing.assert_allclose(influence_covariance(rep) / len(y), hc_vcov(fit, "HC0").vcov, rtol=1e-9)
    np.testing.assert_allclose(analytic_se(rep), np.sqrt(np.diag(hc_vcov(fit, "HC0").vcov)), rtol=1e-9)


# -- bootstraps ----------------------------------------------------------------------------------------
def test_cluster_bootstrap_replicates_are_refits_on_resampled_clusters(problem):
    y, X, w, a, _ = problem
    draws = cluster_bootstrap_wls(y, X, w, a, n_boot=5, seed=3, chunk=2)
    rng = np.random.default_rng(3)
    for start, b in ((0, 2), (2, 2), (4, 1)):
        counts = np.stack([np.bincount(r, minlength=25) for r in rng.integers(0, 25, (b, 25))])
        for i in range(b):
            freq = counts[i][a]
            keep = freq > 0
            np.testing.assert_allclose(draws[start + i], wls(y[keep], X[keep], (w * freq)[keep]).beta, rtol=1e-9)


def test_multiplier_bootstrap_se_approaches_the_analytic_se():
    rng = np.random.default_rng(1)
    psi = rng.normal(size=(3000, 2)) * [1.0, 3.0]
    boot = multiplier_bootstrap(psi, 2000, 0)
    np.testing.assert_allclose(boot.se(), analytic_se(psi), rtol=0.08)
    clusters = np.arange(3000) // 3
    boot = multiplier_bootstrap(psi, 2000, 0, clusters)
    assert boot.n_clusters == 1000 and boot.draws.shape == (2000, 2)
    np.testing.assert_allclose(boot.se(), analytic_se(psi, clusters), rtol=0.1)
    assert 1.9 < boot.uniform_critical(0.95) < 2.6


# -- design matrix -------------------------------------------------------------------------------------
@pytest.fixture
def frame():
    return pd.DataFrame({
        "age": [20.0, 31, 45, 52, 38, 27],
        "region": ["north", "south", "east", "north", "east", "south"],
        "flag": [True, False, True, True, False, False],
        "band": pd.Categorical(["b", "a", "b", "a", "b", "a"], categories=["z", "a", "b"]),
    }, index=list("uvwxyz"))


def test_design_matrix_reference_levels_and_intercept(frame):
    d = design_matrix(frame, ["age", "region", "flag", "band"], intercept=True)
    assert d.names == ("(intercept)", "age", "region_north", "region_south", "flag_True", "band_b")
    assert d.sources == ("(intercept)", "age", "region", "region", "flag", "band")
    np.testing.assert_array_equal(d.values[:, 2], [1, 0, 0, 1, 0, 0])
    np.testing.assert_array_equal(d.values[:, 0], 1)
    full = design_matrix(frame, ["region", "flag"], all_levels=True, booleans="numeric")
    assert full.names == ("region_east", "region_north", "region_south", "flag")
    assert list(full.frame(frame.index).index) == list("uvwxyz")


def test_design_matrix_refuses_missing_values_naming_rows(frame):
    frame.loc["w", "region"] = None
    with pytest.raises(SopEvalError, match=r"covariate 'region' has 1 missing value\(s\) \(rows 'w'\); fix it"):
        design_matrix(frame, ["age", "region"], remedy="fix it")


def test_strict_checks_and_lenient_mode(frame):
    frame["const"] = 1.0
    with pytest.raises(SopEvalError, match="'const' is constant"):
        design_matrix(frame, ["age", "const"])
    assert design_matrix(frame, ["age", "const"], strict=False).names == ("age", "const")
    with pytest.raises(SopEvalError, match="more than once"):
        design_matrix(frame, ["age", "age"])
    frame.loc["u", "age"] = np.inf
    with pytest.raises(SopEvalError, match="infinite"):
        design_matrix(frame, ["age"])


def test_collinear_terms_names_the_redundant_column():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(100, 2))
    X = np.column_stack([np.ones(100), x, x[:, 0] - 2 * x[:, 1]])
    assert collinear_terms(X.T @ X / 100, ["a", "b", "a_minus_2b"]) == ["a_minus_2b"]


def test_stats_imports_only_errors_and_seeds_from_sop_eval():
    for path in STATS.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else (
                [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            for name in names:
                if name.startswith("sop_eval"):
                    allowed = name in ("sop_eval.errors", "sop_eval.seeds") or name.startswith("sop_eval.stats")
                    assert allowed, (path.name, name)
