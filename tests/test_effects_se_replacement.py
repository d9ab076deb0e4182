"""Standard errors with replacement against R on sop_eval's own matches (tests/results/effects/)."""

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sop_eval
from sop_eval.datasets import load_lalonde
from sop_eval.effects import get_se_method
from sop_eval.effects.inference import (
    abadie_imbens,
    abadie_imbens_matched,
    conditional_variance,
)

RESULTS = Path(__file__).parent / "results" / "effects"
COVARIATES = ["age", "educ", "race", "married", "nodegree", "re74", "re75"]
DESIGNS = {"nn1r": (1, True), "nn3r": (3, True), "nn1": (1, False)}
REFERENCE = pd.read_csv(RESULTS / "se_replacement_lm.csv")


@pytest.fixture(scope="module")
def lalonde_cohorts():
    d = load_lalonde()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return d, {k: sop_eval.match(d, "treat", COVARIATES, ratio=r, replace=rep) for k, (r, rep) in DESIGNS.items()}


def _cases():
    ref = REFERENCE[REFERENCE["se_type"] != "cluster_set_only"]
    return [tuple(r) for r in ref[["design", "adjustment", "se_type", "estimate", "se"]].itertuples(index=False)]


@pytest.mark.parametrize("design,adjustment,se_type,estimate,se", _cases())
def test_cohort_se_equals_r_sandwich_on_the_exported_matches(
    lalonde_cohorts, design, adjustment, se_type, estimate, se
):
    _, cohorts = lalonde_cohorts
    m = cohorts[design]
    units = pd.read_csv(RESULTS / f"lalonde_units_{design}.csv")
    assert (units["row"].to_numpy() - 1 == np.flatnonzero(m.weights > 0)).all()  # the export is this match
    est = m.effect("re78", se=se_type, covariates=True if adjustment == "covariates" else None)
    assert est.estimate == pytest.approx(estimate, rel=1e-9)
    assert est.se == pytest.approx(se, rel=1e-9)
    expected = ("matched set and person (two-way)" if design != "nn1" else "matched set") if se_type == "cluster" else \
        "nothing (one row per person)"
    assert est.summary()["se_clusters_on"].iloc[0] == expected


@pytest.mark.parametrize("design", ["nn1r", "nn3r"])
def test_two_way_cluster_on_get_matches_rows_equals_r(design):
    d = load_lalonde()
    sets = pd.read_csv(RESULTS / f"lalonde_sets_{design}.csv")
    y = d["re78"].to_numpy()[sets["row"] - 1]
    args = (y, sets["treat"].to_numpy(), sets["weights"].to_numpy())
    ref = REFERENCE.query("design == @design and adjustment == 'none'").set_index("se_type")["se"]
    two_way = get_se_method("cluster")(*args, cluster=sets["subclass"].to_numpy(), person=sets["row"].to_numpy())
    one_way = get_se_method("cluster")(*args, cluster=sets["subclass"].to_numpy())
    assert two_way.se == pytest.approx(ref["cluster"], rel=1e-9)
    assert one_way.se == pytest.approx(ref["cluster_set_only"], rel=1e-9)
    assert two_way.se > 1.3 * one_way.se  # set-only clustering misses the reuse of comparison people


def test_without_replacement_person_clustering_changes_nothing():
    units = pd.read_csv(RESULTS / "lalonde_units_nn1.csv")
    y = load_lalonde()["re78"].to_numpy()[units["row"] - 1]
    args = (y, units["treat"].to_numpy(), units["weights"].to_numpy())
    one = get_se_method("cluster")(*args, cluster=units["subclass"].to_numpy())
    two = get_se_method("cluster")(*args, cluster=units["subclass"].to_numpy(), person=units["row"].to_numpy())
    assert two.se == pytest.approx(one.se, rel=1e-12)


def test_abadie_imbens_keeps_the_estimate_of_the_matches_made(lalonde_cohorts):
    _, cohorts = lalonde_cohorts
    m = cohorts["nn3r"]
    ai, cluster = m.effect("re78", se="abadie-imbens"), m.effect("re78", se="cluster")
    assert ai.estimate == cluster.estimate == pytest.approx(1573.7488707748, rel=1e-9)
    assert ai.details["conditional_variance"] == "matching within the comparison group"


# -- Abadie-Imbens against R Matching where the two matchings coincide ------------------------------
@pytest.fixture(scope="module")
def simulated():
    return pd.read_csv(RESULTS / "ai_sim_data.csv")


@pytest.mark.parametrize("m", [1, 3])
def test_abadie_imbens_equals_r_matching_on_the_same_matches(simulated, m):
    ref = pd.read_csv(RESULTS / "ai_sim_se.csv").query("M == @m").set_index("var_calc")
    r_pairs = pd.read_csv(RESULTS / f"ai_sim_pairs_M{m}.csv")
    cohort = sop_eval.match(simulated, "treat", ["score"], distance="score", ratio=m, replace=True)
    ours = sorted(zip(cohort.pairs["treated"] + 1, cohort.pairs["control"] + 1, strict=True))
    assert ours == sorted(zip(r_pairs["index_treated"], r_pairs["index_control"], strict=True))  # the same matched sets
    est = cohort.effect("y", se="abadie-imbens", allow_small=True)
    assert est.estimate == pytest.approx(ref.loc[m, "estimate"], rel=1e-9)
    assert est.se == pytest.approx(ref.loc[m, "se"], rel=1e-9)  # Var.calc = M
    y, t, s = simulated["y"].to_numpy(), simulated["treat"].to_numpy(), simulated["score"].to_numpy()
    for var_calc in (0, m):
        assert abadie_imbens(y, t, s, m=m, var_calc=var_calc).se == pytest.approx(ref.loc[var_calc, "se"], rel=1e-9)


def test_homoskedastic_variance_on_given_sets():
    # two sets sharing one control: K = 2, KK = 2 (weights 1), so the reuse term is 2 * sigma2 / 4
    y = np.array([5.0, 3.0, 1.0, 7.0, 1.0])
    treat = np.array([1, 0, 1, 0, 0])
    sets, person = np.array([0, 0, 1, 1, 1]), np.array([0, 1, 2, 3, 1])
    w = np.array([1, 1, 1, 0.5, 0.5])
    r = abadie_imbens_matched(y, treat, w, cluster=sets, person=person)
    tau = np.array([5 - 3, 1 - (7 + 1) / 2])
    est = tau.mean()
    sigma2 = 0.5 * (1 * (2 - est) ** 2 + 0.5 * (1 - 7 - est) ** 2 + 0.5 * (1 - 1 - est) ** 2) / 2
    k, kk = np.array([1.5, 0.5]), np.array([1.25, 0.25])
    var = ((tau - est) ** 2).sum() / 4 + ((k**2 - kk) * sigma2).sum() / 4
    assert r.estimate == pytest.approx(est) and r.se == pytest.approx(np.sqrt(var))


def test_conditional_variance_keeps_tied_neighbours():
    y = np.array([0.0, 2.0, 4.0, 10.0])
    score = np.array([0.0, 1.0, 2.0, 5.0])
    # unit 1 has two neighbours at distance 1: both kept, variance of (0, 2, 4)
    got = conditional_variance(y, score, np.arange(4), 1, scale=1.0)
    assert got[1] == pytest.approx(4.0) and got[0] == pytest.approx(2.0) and got[3] == pytest.approx(18.0)
