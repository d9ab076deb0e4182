"""Agreement with R MatchIt on Lalonde.

References: tests/results/matchit/make_reference.R (MatchIt 4.5.1's own matches, balance and
propensity score) and tests/results/matchit/tie_rule_reference.R (matches under MatchIt >= 4.5.4's
tie rule, from a plain R matcher cross-checked against MatchIt 4.5.1 on tie-free data). MatchIt
4.5.1 breaks ties between equally near controls differently, so against it only what ties cannot
change is compared (matched distances, matched treated units, counts without replacement).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sop_eval
from sop_eval.cohorts.matching import nearest_pairs

REF = Path(__file__).parent / "results" / "matchit"
COVARIATES = ["age", "educ", "race", "married", "nodegree", "re74", "re75"]
CONFIGS = json.loads((REF / "configs.json").read_text())
TIE_RULE = json.loads((REF / "tie_rule.json").read_text())["configs"]


@pytest.fixture(scope="module")
def lalonde() -> pd.DataFrame:
    return sop_eval.datasets.load_lalonde()


@pytest.fixture(scope="module")
def ref_ps() -> pd.Series:
    return pd.read_csv(REF / "ps.csv", index_col="id")["ps"]


@pytest.fixture(scope="module")
def ref_pairs() -> pd.DataFrame:
    return pd.read_csv(REF / "pairs.csv")


def _kwargs(cfg: dict) -> dict:
    kw = {"ratio": cfg["ratio"], "replace": cfg["replace"], "order": cfg.get("m.order", "largest")}
    if "caliper" in cfg:
        kw["caliper"] = cfg["caliper"]
    if "std.caliper" in cfg:
        kw["std_caliper"] = cfg["std.caliper"]
    if cfg.get("exact"):
        kw["exact"] = cfg["exact"]
    if "discard" in cfg:
        kw["discard"] = cfg["discard"]
    if cfg.get("linear"):
        # R's own linear predictor: NSW71 is equally far (to 4e-16) from controls on either side, so
        # scores that differ from glm's in the ninth decimal would pick the other side
        kw["distance"] = "lp_r"
    return kw


def _matched_distances(pairs: pd.DataFrame, score: pd.Series) -> dict[str, list[float]]:
    """Each treated unit's distances to its controls: equal up to controls at the same distance.

    Controls at the same distance (identical scores, or equally far on either side, where the two
    implementations' scores differ in the ninth decimal) are interchangeable.
    """
    gap = np.abs(score.reindex(pairs["control"]).to_numpy() - score.reindex(pairs["treated"]).to_numpy())
    frame = pairs.assign(d=np.round(gap, 7))
    return {t: sorted(g["d"]) for t, g in frame.groupby("treated")}


def _run(lalonde: pd.DataFrame, name: str, r_score: bool = False) -> sop_eval.MatchedCohort:
    """Match as in configuration ``name``; with ``r_score`` on R's glm score rather than our own fit."""
    ps = pd.read_csv(REF / "ps.csv", index_col="id").reindex(lalonde.index)
    frame = lalonde.assign(lp_r=ps["lp"].to_numpy(), ps_r=ps["ps"].to_numpy())
    kwargs = _kwargs(CONFIGS[name])
    if r_score and "distance" not in kwargs:
        kwargs["distance"] = "ps_r"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sop_eval.SopEvalWarning)
        return sop_eval.match(frame, "treat", COVARIATES, **kwargs)


def _sets(pairs: pd.DataFrame) -> dict[str, list[str]]:
    """Each treated unit's controls, in slot order."""
    return {t: list(g["control"]) for t, g in pairs.groupby("treated", sort=True)}


def test_logit_propensity_equals_glm(lalonde, ref_ps):
    m = sop_eval.match(lalonde, "treat", COVARIATES)
    assert np.allclose(m.propensity.to_numpy(), ref_ps.reindex(lalonde.index).to_numpy(), atol=1e-7)


def test_linear_logit_equals_glm_link(lalonde):
    lp = pd.read_csv(REF / "ps.csv", index_col="id")["lp"].reindex(lalonde.index)
    m = sop_eval.match(lalonde, "treat", COVARIATES, distance="linear_logit")
    assert np.allclose(m.distance.to_numpy(), lp.to_numpy(), atol=1e-6)


@pytest.mark.parametrize("name", [n for n in CONFIGS if n != "random"])
def test_same_matched_sets_as_matchit(lalonde, ref_ps, ref_pairs, name):
    m = _run(lalonde, name)
    ref = ref_pairs[ref_pairs["config"] == name]
    score = pd.read_csv(REF / "ps.csv", index_col="id")["lp" if CONFIGS[name].get("linear") else "ps"]
    assert _matched_distances(m.pairs, score) == _matched_distances(ref, score)
    assert m.n_matched_treated == CONFIGS[name]["matched_treated"]
    if not CONFIGS[name]["replace"]:
        # with replacement the number of distinct controls depends on the tie rule (see below)
        assert m.n_matched_controls == CONFIGS[name]["matched_control"]
    assert int(m.discarded.sum()) == CONFIGS[name]["n_discarded"]


@pytest.mark.parametrize("name", [n for n in TIE_RULE if n != "random"])
def test_same_pairs_as_sorted_scan_reference(lalonde, name):
    """Exactly the matched sets (and slot order) of MatchIt >= 4.5.4's tie rule, on R's score."""
    m = _run(lalonde, name, r_score=True)
    ref_pairs = pd.read_csv(REF / "tie_rule_pairs.csv")
    ref = ref_pairs[ref_pairs["config"] == name].sort_values(["treated", "slot"])
    assert _sets(m.pairs) == _sets(ref)
    expect = TIE_RULE[name]
    assert m.n_matched_treated == expect["matched_treated"]
    assert m.n_matched_controls == expect["matched_control"]
    assert int(m.discarded.sum()) == expect["n_discarded"]
    sizes = m.summary().set_index("group")
    assert sizes.loc["control", "ess"] == pytest.approx(expect["ess_control"], rel=1e-12)
    w, t = m.weights, m.treated
    att = lalonde["re78"][t & (w > 0)].mean() - np.average(lalonde["re78"][~t], weights=w[~t])
    assert att == pytest.approx(expect["att_re78"], rel=1e-10)


def test_tie_rule_reference_differs_from_first_in_data():
    """The references can tell the rules apart: MatchIt 4.5.1's rule gives other sets on Lalonde."""
    old = pd.read_csv(REF / "pairs.csv")
    new = pd.read_csv(REF / "tie_rule_pairs.csv")
    for name in ("nn1", "rep1", "exact_married"):
        assert _sets(old[old["config"] == name]) != _sets(new[new["config"] == name])
    assert (CONFIGS["rep1"]["matched_control"], TIE_RULE["rep1"]["matched_control"]) == (80, 82)


def test_matchit_vignette_with_replacement(lalonde):
    """MatchIt's vignette "Assessing Balance" (4.5.4 and later): 1:1 nearest neighbour with replacement
    on a logit propensity score leaves 82 matched controls with an effective sample size of 46.31."""
    m = sop_eval.match(lalonde, "treat", COVARIATES, replace=True)
    sizes = m.summary().set_index("group")
    assert sizes.loc["control", "matched"] == 82
    w = m.weights[~m.treated]
    assert round(w.sum() ** 2 / (w**2).sum(), 2) == 46.31
    assert round(sizes.loc["control", "ess"], 2) == 46.31
    assert sizes.loc["treated", "matched"] == 185


@pytest.mark.parametrize("name", [n for n in CONFIGS if n != "random" and not CONFIGS[n]["replace"]])
def test_weights_equal_matchit(lalonde, name):
    w = pd.read_csv(REF / "weights.csv")
    ref = w[w["config"] == name].set_index("id")["weight"].reindex(lalonde.index)
    assert np.allclose(_run(lalonde, name).weights.to_numpy(), ref.to_numpy(), atol=1e-12)


def test_random_order_with_r_permutation(lalonde, ref_ps, ref_pairs):
    """R's random order is replayed (its permutation is stored) through the same matching engine."""
    order = pd.read_csv(REF / "random_order.csv")
    treat = lalonde["treat"].to_numpy().astype(bool)
    ps = ref_ps.reindex(lalonde.index).to_numpy()
    sequence = order.sort_values("position")["treated_index"].to_numpy() - 1
    t_pos, c_pos, _, _ = nearest_pairs(ps, treat, np.zeros(len(ps), bool), None, sequence, 1, False, np.inf, False)
    mine = pd.DataFrame({"treated": lalonde.index[t_pos], "control": lalonde.index[c_pos]})
    ref = ref_pairs[ref_pairs["config"] == "random"]
    assert _matched_distances(mine, ref_ps) == _matched_distances(ref, ref_ps)
    tie_rule = pd.read_csv(REF / "tie_rule_pairs.csv")
    assert _sets(mine) == _sets(tie_rule[tie_rule["config"] == "random"])


@pytest.mark.parametrize(
    "name", ["nn1", "nn3", "rep1", "rep3", "cal01", "exact_race_r2", "discard_both", "linear_cal", "linear_rep2"]
)
def test_balance_equals_matchit_summary(lalonde, name):
    """MatchIt 4.5.1's summary() on the sorted-scan matches' weights (tie_rule_balance.csv)."""
    bal = pd.read_csv(REF / "tie_rule_balance.csv")
    bal = bal[bal["config"] == name]
    table = _run(lalonde, name).balance().table.rename(index=lambda t: t.replace("race_", "race"))
    for sample in ("before", "after"):
        ref = bal[bal["sample"] == sample].set_index("term")
        assert list(ref.index) == list(table.index)
        for stat in ("mean_treated", "mean_control", "smd", "var_ratio", "ecdf_mean", "ecdf_max"):
            mine = table[f"{stat}_{sample}"].to_numpy(dtype=float)
            theirs = ref[stat].to_numpy(dtype=float)
            assert np.array_equal(np.isnan(mine), np.isnan(theirs)), (stat, sample)
            ok = ~np.isnan(theirs)
            assert np.allclose(np.round(mine[ok], 4), np.round(theirs[ok], 4), atol=1.5e-4), (stat, sample)


@pytest.mark.parametrize("name", ["nn3", "rep1", "rep3", "cal02_r2", "exact_race_r2"])
def test_effective_sample_size_equals_matchit(lalonde, name):
    sizes = _run(lalonde, name).summary().set_index("group")
    assert sizes.loc["control", "ess"] == pytest.approx(TIE_RULE[name]["ess_control"], abs=1e-6)
    assert sizes.loc["treated", "ess"] == pytest.approx(CONFIGS[name]["ess_treated_after"], abs=1e-6)
    if not CONFIGS[name]["replace"]:  # without replacement the tie rule cannot change the ESS
        assert TIE_RULE[name]["ess_control"] == pytest.approx(CONFIGS[name]["ess_control_after"], abs=1e-9)


def test_ties_equal_r_matching(lalonde, ref_ps):
    """ties=True keeps every control at the nearest distance, as R's Matching::Match(ties = TRUE)."""
    ref = pd.read_csv(REF / "matching_ties.csv")
    frame = lalonde.assign(ps_r=ref_ps.reindex(lalonde.index))
    m = sop_eval.match(frame, "treat", COVARIATES, distance="ps_r", replace=True, ties=True)
    assert (set(zip(m.pairs["treated"], m.pairs["control"], strict=True))
            == set(zip(ref["treated"], ref["control"], strict=True)))
    # Matching's pair weights 1/(tied controls) summed by control are MatchIt's control weights up to scale
    by_control = ref.groupby("control")["weight"].sum()
    mine = m.weights.loc[by_control.index]
    assert np.allclose(mine / mine.sum(), by_control / by_control.sum())
