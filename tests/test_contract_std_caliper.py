"""[evaluation.matching] std_caliper: the caliper in SDs of caliper_scale (default) or in its raw units."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import sop_eval
from contract_copies import FIXTURES, copy_contract
from sop_eval.contract.parse import load_contract
from sop_eval.evaluation import evaluate

NEAREST = '''method = "nearest"
ratio = 10               # up to ten comparison releases for each person served
replace = true
caliper = 0.2            # standard deviations of the logit of the propensity score
'''


def _contract(tmp_path, matching: str):
    return copy_contract("demo.toml", tmp_path, FIXTURES / "reoffending_small.parquet", **{NEAREST: matching})


@pytest.mark.parametrize(("written", "read"), [
    ("", True), ("std_caliper = false\n", False), ("std_caliper = { distance = false }\n", {"distance": False}),
])
def test_std_caliper_is_read(tmp_path, written, read):
    assert load_contract(_contract(tmp_path, NEAREST + written)).evaluation.matching.std_caliper == read


@pytest.mark.parametrize(("written", "message"), [
    ("std_caliper = { age = false }\n", "std_caliper = .*names 'age', which has no caliper here; the calipers are "
                                        "'distance'"),
    ("std_caliper = { distance = 1 }\n", r"std_caliper.distance = 1: expected true or false"),
    ("std_caliper = \"no\"\n", "expected true or false, or a table"),
])
def test_bad_std_caliper_is_refused(tmp_path, written, message):
    with pytest.raises(sop_eval.SopEvalError, match=message):
        load_contract(_contract(tmp_path, NEAREST + written))


def test_no_caliper_no_std_caliper_names(tmp_path):
    with pytest.raises(sop_eval.SopEvalError, match="none \\(set caliper\\)"):
        load_contract(_contract(tmp_path, 'method = "nearest"\nstd_caliper = { distance = true }\n'))


@pytest.mark.parametrize("written", ["std_caliper = false\n", "std_caliper = { distance = false }\n"])
def test_raw_caliper_reaches_the_match(tmp_path, written):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sop_eval.SopEvalWarning)
        raw = evaluate(_contract(tmp_path, NEAREST + written), risk_draws=0)
        sd = evaluate(_contract(tmp_path / "sd", NEAREST), risk_draws=0)
    for r, s in zip(raw.cohorts, sd.cohorts, strict=True):
        if r.matched is None:
            continue
        assert r.matched.caliper == pytest.approx(0.2)  # logit units
        spread = float(np.std(s.matched.distance[~s.matched.discarded], ddof=1))
        assert s.matched.caliper == pytest.approx(0.2 * spread)
