"""For the ATC the focal group is the controls: ``unmatched``, the dropped profile and warnings speak of them."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import sop_eval
from sop_eval.effects import estimate_effect

COVS = ["age", "educ", "race", "married", "nodegree", "re74", "re75"]


@pytest.fixture(scope="module")
def lalonde() -> pd.DataFrame:
    return sop_eval.datasets.load_lalonde()


def _match(data, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sop_eval.SopEvalWarning)
        return sop_eval.match(data, "treat", COVS, **kwargs)


@pytest.mark.parametrize("kwargs", [
    dict(estimand="ATC"),                                             # 429 controls, 185 treated: most controls left
    dict(estimand="ATC", caliper={"distance": 0.05}),
    dict(estimand="ATC", method="optimal", caliper=0.1),
    dict(estimand="ATC", method="nearest", antiexact="married"),
    dict(estimand="ATC", discard="control"),
    dict(estimand="ATC", method="weighting", discard="control"),
])
def test_atc_unmatched_lists_controls(lalonde, kwargs):
    m = _match(lalonde, **kwargs)
    control = ~m.treated
    assert m.focal.equals(control) and m.focal_group == "control"
    assert len(m.unmatched) > 0
    assert control[m.unmatched.index].all()
    left = set(m.weights.index[control & (m.weights == 0)])
    assert set(m.unmatched.index) == left
    np.testing.assert_allclose(m.unmatched["propensity"], m.propensity[m.unmatched.index])
    tidy = m.summary().set_index("group")
    assert tidy.loc["control", "unmatched"] == len(m.unmatched)
    sizes = m.summary(style="matchit").sample_sizes
    assert sizes.loc["Unmatched", "Control"] == int((m.unmatched["reason"] != "discard").sum())
    profile = m.dropped_profile()
    assert profile.attrs["group"] == "control"
    assert profile.loc["n", "unmatched"] == len(m.unmatched)
    assert profile.loc["n", "matched"] == m.n_matched_controls
    assert m.to_dict()["unmatched_group"] == "control"


def test_att_unmatched_still_lists_treated(lalonde):
    m = _match(lalonde, caliper=0.05)
    assert m.focal_group == "treated" and m.treated[m.unmatched.index].all() and len(m.unmatched) > 0
    assert m.dropped_profile().loc["n", "unmatched"] == len(m.unmatched)


def test_atc_warning_names_the_controls(lalonde):
    with pytest.warns(sop_eval.SopEvalWarning, match=r"of 429 control units \(the focal group of the ATC\)"):
        sop_eval.match(lalonde, "treat", COVS, estimand="ATC")


def test_atc_effect_counts_unmatched_controls(lalonde):
    m = _match(lalonde, estimand="ATC")
    est = estimate_effect(m, "re78")
    assert est.details["n_control_unmatched"] == len(m.unmatched)
    assert "n_treated_unmatched" not in est.details
