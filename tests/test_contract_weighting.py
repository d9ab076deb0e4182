"""[evaluation.matching] method = "weighting" / "ebal": parsed, checked and run by the matched-cohorts design."""

from __future__ import annotations

import pytest

import sop_eval
from contract_copies import FIXTURES, copy_contract
from sop_eval.contract.parse import load_contract
from sop_eval.designs import DESIGNS
from sop_eval.evaluation import evaluate
from sop_eval.report.evaluation_report import build_report

NEAREST = '''method = "nearest"
ratio = 10               # up to ten comparison releases for each person served
replace = true
caliper = 0.2            # standard deviations of the logit of the propensity score
'''


def _contract(tmp_path, matching: str):
    weighted = any(f'method = "{m}"' in matching for m in ("weighting", "ebal"))
    stated = {'design = "psm"\nmetric': 'design = "weighting"\nmetric'} if weighted else {}
    return copy_contract("demo.toml", tmp_path, FIXTURES / "reoffending_small.parquet", **{NEAREST: matching},
                         **stated)


def test_weighting_contract_runs_and_reports_weights(tmp_path):
    path = _contract(tmp_path, 'method = "weighting"\nestimand = "ATT"\ntrim = 0.99\n')
    contract = load_contract(path)
    m = contract.evaluation.matching
    assert (m.method, m.estimand, float(m.trim), m.trim_rule) == ("weighting", "ATT", 0.99, "truncate")
    ev = evaluate(path, risk_draws=0)
    params = ev.parameters["matching"]
    assert params["method"] == "weighting" and params["trim"] == 0.99
    measured = [k for k in ev.cohorts if k.matched is not None]
    assert measured
    for k in measured:
        assert k.matched.method == "weighting"
        assert k.matched.settings["trimming"]["n_trimmed"] >= 1
        assert k.effect is not None and k.effect.design == "weighting"
    text, _, _ = build_report(ev)
    assert "weights and effective sample size (ESS)" in text
    assert "quantile" in text and "set to the cut-off" in text
    design = DESIGNS[ev.design]
    assert any("propensity score weighting" in p for p in design.methods(ev, significance="", policy=""))


def test_ebal_contract_balances_each_cohort(tmp_path):
    path = _contract(tmp_path, 'method = "ebal"\nmoments = 2\n')
    ev = evaluate(path, risk_draws=0)
    for k in ev.cohorts:
        if k.matched is None:
            continue
        assert k.matched.method == "ebal" and k.matched.settings["ebal"]["moments"] == 2
        bal = k.matched.balance().table.drop(index="distance")
        assert bal["smd_after"].abs().max() < 1e-6


@pytest.mark.parametrize(
    "matching, message",
    [
        ('method = "nearest"\ntrim = 0.99\n', "apply to method"),
        ('method = "weighting"\nratio = 3\n', "ratio, replace, caliper and exact apply"),
        ('method = "ebal"\ntrim = 0.9\n', "no trim"),
        ('method = "weighting"\nmoments = 2\n', "moments applies"),
        ('method = "ebal"\nmoments = 3\n', "moments = 3"),
    ],
)
def test_keys_the_method_does_not_read_are_refused(tmp_path, matching, message):
    with pytest.raises(sop_eval.SopEvalError, match=message):
        evaluate(_contract(tmp_path, matching), risk_draws=0)


def test_estimand_is_checked_by_the_parser(tmp_path):
    with pytest.raises(sop_eval.SopEvalError, match="estimand"):
        load_contract(_contract(tmp_path, 'method = "weighting"\nestimand = "ATX"\n'))
