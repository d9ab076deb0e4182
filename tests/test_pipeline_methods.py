"""Every matching method the contract vocabulary lists runs end to end from a contract."""

from __future__ import annotations

import json
import warnings

import pandas as pd
import pytest

import sop_eval
from contract_copies import FIXTURES, copy_contract
from sop_eval import SopEvalError, SopEvalWarning
from sop_eval.contract.vocabulary import EVALUATION_MATCH_METHODS
from sop_eval.designs.psm import PsmDesign, _warn_dropped_risk
from sop_eval.pipeline import evaluate, run

BLOCK = """[evaluation.matching]
method = "nearest"
ratio = 10               # up to ten comparison releases for each person served
replace = true
caliper = 0.2            # standard deviations of the logit of the propensity score
caliper_scale = "logit\""""
SETTINGS = {
    "nearest": 'method = "nearest"\nmahvars = ["age"]\nmax_controls = 3\nratio = 2',
    "optimal": 'method = "optimal"',
    "full": 'method = "full"\nmax_controls = 20',
    "cem": 'method = "cem"\nk2k = false\ncutpoints = { age = 3, prior_convictions = 3, sentence_months = 2 }',
    "subclass": 'method = "subclass"\nsubclass = 5\nmin_n = 2',
    "exact": 'method = "exact"',
    "weighting": 'method = "weighting"\nestimand = "ATT"\ntrim = 0.99',
    "ebal": 'method = "ebal"\nestimand = "ATT"',
}


def test_an_outcome_stating_another_design_than_the_evaluation_is_refused(tmp_path):
    contract = copy_contract("demo.toml", tmp_path, FIXTURES / "reoffending_small.parquet",
                             **{BLOCK: "[evaluation.matching]\n" + SETTINGS["weighting"]})
    with pytest.raises(SopEvalError, match="states design = 'psm' but .*'weighting'.* set design = 'weighting'"):
        evaluate(contract, risk_draws=0)


@pytest.mark.parametrize("method", EVALUATION_MATCH_METHODS)
def test_contract_runs_each_method(method, tmp_path):
    assert set(SETTINGS) == set(EVALUATION_MATCH_METHODS)
    stated = {'design = "psm"\nmetric': 'design = "weighting"\nmetric'} if method in ("weighting", "ebal") else {}
    contract = copy_contract("demo.toml", tmp_path, FIXTURES / "reoffending_small.parquet",
                             **{BLOCK: "allow_small = true\n\n[evaluation.matching]\n" + SETTINGS[method],
                                'se = "cluster"\n': ""}, **stated)
    if method == "exact":  # seven covariates, some continuous: no two people agree on all, and the engine says so
        with pytest.raises(SopEvalError, match="exact matching found no matches. Use method='cem'"):
            evaluate(contract, risk_draws=200)
        return
    with warnings.catch_warnings():
        warnings.filterwarnings("error", "estimate for .* uses design", SopEvalWarning)  # stated = estimated
        evaluation = evaluate(contract, risk_draws=200)
    measured = [c for c in evaluation.cohorts if c.matched is not None]
    assert measured and all(c.matched.method == method for c in measured)
    assert evaluation.parameters["matching"]["method"] == method
    assert evaluation.parameters["se"] == ("cluster" if method in ("nearest", "optimal", "full") else "robust")
    text = " ".join(PsmDesign().methods(evaluation, significance="", policy=""))
    assert {"nearest": "Mahalanobis distance of age", "optimal": "optimal 1:1", "full": "optimal full matching",
            "cem": "coarsened exact", "subclass": "subclassification into 5", "exact": "exact matching",
            "weighting": "propensity score weighting", "ebal": "entropy balancing"}[method] in text


def test_subclassification_refuses_a_standard_error_clustered_on_its_few_subclasses(tmp_path):
    contract = copy_contract("demo.toml", tmp_path, FIXTURES / "reoffending_small.parquet",
                             **{BLOCK: "allow_small = true\n\n[evaluation.matching]\n" + SETTINGS["subclass"]})
    with pytest.raises(SopEvalError, match=r"evaluation.se = 'cluster'.*method = 'subclass'.*Remove se.*HC3"):
        evaluate(contract, risk_draws=0)


@pytest.mark.parametrize("method", ["cem", "weighting"])
def test_a_run_and_its_report_raise_no_numpy_warnings(method, tmp_path):
    stated = {'design = "psm"\nmetric': 'design = "weighting"\nmetric'} if method == "weighting" else {}
    contract = copy_contract("demo.toml", tmp_path, FIXTURES / "reoffending_small.parquet",
                             **{BLOCK: "allow_small = true\n\n[evaluation.matching]\n" + SETTINGS[method],
                                'se = "cluster"\n': ""}, **stated)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SopEvalWarning)
        warnings.simplefilter("error", RuntimeWarning)  # All-NaN slice, invalid value in divide
        run(contract, tmp_path / "out", risk_draws=50)
    assert (tmp_path / "out" / "report.html").exists()


def _profile(n_in: int, n_out: int, risk_in: float, risk_out: float) -> pd.DataFrame:
    frame = pd.DataFrame({"matched": [n_in, risk_in], "unmatched": [n_out, risk_out]},
                         index=["n", "risk: expected reoffences"])
    frame.attrs["group"] = "treated"
    return frame


def test_a_few_people_left_out_of_much_higher_risk_are_warned_of():
    # 91 of 2,043 (4.5%, under the 5% head-count warning) expected 7.1 reoffences against 1.6 for those kept
    with pytest.warns(SopEvalWarning, match=r"cohort 'c1': the 91 of 2043 people served left out.*7\.1 against 1\.6"
                                            r".*moves the group's mean risk by 13\.3%.*coarser cut points"):
        _warn_dropped_risk("c1", _profile(1952, 91, 1.6, 7.1), "cem")
    with warnings.catch_warnings():
        warnings.simplefilter("error", SopEvalWarning)
        _warn_dropped_risk("c1", _profile(1952, 91, 1.6, 1.9), "cem")  # 0.8% shift: not material
        _warn_dropped_risk("c1", _profile(995, 5, 1.98, 12.4), "nearest")  # 2.6%: under half a 10% gate
        _warn_dropped_risk("c1", _profile(2043, 0, 1.6, float("nan")), "cem")


def test_a_run_warns_when_those_left_out_differ_in_baseline_risk(tmp_path):
    contract = copy_contract("demo.toml", tmp_path, FIXTURES / "reoffending_small.parquet",
                             **{BLOCK: "allow_small = true\n\n[evaluation.matching]\n" + SETTINGS["cem"],
                                'se = "cluster"\n': ""})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SopEvalWarning)
        run(contract, tmp_path / "out", risk_draws=0)
    said = json.loads((tmp_path / "out" / "results.json").read_text())["warnings"]
    risk = [w for w in said if "mean baseline risk" in w]
    assert len(risk) == 2 and all("coarser cut points" in w for w in risk)


def test_the_python_effect_defaults_to_the_methods_standard_error():
    df = sop_eval.datasets.load_lalonde()
    covs = ["age", "educ", "married", "nodegree", "re74", "re75"]
    sub = sop_eval.match(df, "treat", covs, method="subclass", subclass=6)
    near = sop_eval.match(df, "treat", covs)
    assert sub.effect("re78", allow_small=True).se == pytest.approx(
        sub.effect("re78", se="robust", allow_small=True).se)
    assert sub.effect("re78", allow_small=True).se != pytest.approx(
        sub.effect("re78", se="cluster", allow_small=True).se)
    assert near.effect("re78").se == pytest.approx(near.effect("re78", se="cluster").se)
