"""``std_caliper`` per caliper (MatchIt's ``std.caliper``, one flag per caliper), against R MatchIt 4.5.1 on Lalonde.

Reference: tests/results/matchit/std_caliper_reference.R (nearest on a Mahalanobis distance, MatchIt's general
path, with a propensity caliper and covariate calipers in SDs or raw units).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sop_eval

REF = Path(__file__).parent / "results" / "matchit"
COVS = ["age", "educ", "race", "married", "nodegree", "re74", "re75"]
MAH = ["age", "educ", "re74", "re75"]
pytestmark = pytest.mark.filterwarnings("ignore::sop_eval.SopEvalWarning")
CONFIGS = {
    "sd_raw_sd": dict(caliper={"distance": 0.25, "age": 5, "educ": 0.5},
                      std_caliper={"distance": True, "age": False, "educ": True}),
    "raw_sd": dict(caliper={"distance": 0.02, "age": 0.5}, std_caliper={"distance": False}, ratio=2),
    "all_raw": dict(caliper={"distance": 0.04, "age": 2}, std_caliper=False),
    "all_sd": dict(caliper={"distance": 0.1, "age": 0.2}, std_caliper=True),
}


@pytest.fixture(scope="module")
def lalonde() -> pd.DataFrame:
    return sop_eval.datasets.load_lalonde()


def _match(data, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sop_eval.SopEvalWarning)
        return sop_eval.match(data, "treat", COVS, mahvars=MAH, **kwargs)


@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_per_caliper_units_match_matchit(config, lalonde):
    reference = pd.read_csv(REF / "std_caliper_reference.csv")
    info = json.loads((REF / "std_caliper_configs.json").read_text())["configs"][config]
    cohort = _match(lalonde, **CONFIGS[config])
    ref = reference[reference["config"] == config].set_index("id").reindex(lalonde.index)
    np.testing.assert_allclose(cohort.weights.to_numpy(), ref["weight"].to_numpy(), rtol=1e-9, atol=1e-12)
    assert cohort.n_matched_treated == info["n_matched_treated"]
    assert cohort.caliper == pytest.approx(info["caliper_raw"]["1"], rel=1e-6)


def test_one_flag_equals_the_same_flag_for_every_caliper(lalonde):
    caliper = {"distance": 0.1, "age": 0.3}
    one = _match(lalonde, caliper=caliper, std_caliper=False)
    each = _match(lalonde, caliper=caliper, std_caliper={"distance": False, "age": False})
    pd.testing.assert_frame_equal(one.pairs, each.pairs)
    assert one.settings["std_caliper"] is False
    assert each.settings["std_caliper"] == {"distance": False, "age": False}


def test_a_caliper_left_out_of_the_mapping_is_in_sds(lalonde):
    caliper = {"distance": 0.1, "age": 0.3}
    left_out = _match(lalonde, caliper=caliper, std_caliper={"age": True})
    pd.testing.assert_frame_equal(left_out.pairs, _match(lalonde, caliper=caliper).pairs)
    assert left_out.settings["caliper_sd"] == caliper


def test_scalar_caliper_in_raw_units_by_mapping(lalonde):
    raw = sop_eval.match(lalonde, "treat", COVS, caliper=0.01, std_caliper={"distance": False})
    assert raw.caliper == 0.01
    assert raw.settings["caliper_sd"] is None
    sd = sop_eval.match(lalonde, "treat", COVS, caliper=0.01, std_caliper={"distance": True})
    assert sd.caliper == pytest.approx(0.01 * float(np.std(sd.distance, ddof=1)))


@pytest.mark.parametrize(("kwargs", "named"), [
    (dict(caliper={"distance": 0.1, "age": 0.3}, std_caliper={"age": False, "educ": True}), "'educ'"),
    (dict(caliper=0.1, std_caliper={"agee": False}), "'agee'"),
    (dict(std_caliper={"distance": False}), "'distance'"),
])
def test_unknown_names_are_refused_naming_them(lalonde, kwargs, named):
    with pytest.raises(sop_eval.SopEvalError, match="std_caliper names") as info:
        _match(lalonde, **kwargs)
    assert named in str(info.value)


@pytest.mark.parametrize("bad", ["yes", {"distance": "no"}, 1])
def test_flags_must_be_true_or_false(lalonde, bad):
    with pytest.raises(sop_eval.SopEvalError, match="std_caliper"):
        _match(lalonde, caliper=0.1, std_caliper=bad)
