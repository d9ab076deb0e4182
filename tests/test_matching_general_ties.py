"""The general nearest path (antiexact, covariate calipers, variable ratio) breaks ties as the fast path does."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sop_eval
from sop_eval.cohorts.nearest_general import sorted_scan_order

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def tied_worlds(draw):
    n_t = draw(st.integers(1, 20))
    n_c = draw(st.integers(2, 50))  # three rows at least: a covariate caliper needs them
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    n = n_t + n_c
    # few distinct scores: most controls tie with others, and with treated units
    score = rng.integers(0, draw(st.sampled_from([2, 4, 8])), n) / 8
    frame = pd.DataFrame({"t": np.r_[np.ones(n_t, int), np.zeros(n_c, int)], "score": score,
                          "x": rng.normal(size=n), "site": rng.integers(0, draw(st.integers(1, 3)), n)})
    frame = frame.iloc[rng.permutation(n)]
    frame.index = [f"r{i}" for i in range(n)]
    options = {
        "ratio": draw(st.integers(1, 3)),
        "replace": draw(st.booleans()),
        "ties": draw(st.booleans()),
        "caliper": draw(st.sampled_from([None, 0.0, 0.125, 0.3])),
        "exact": draw(st.sampled_from([None, "site"])),
        "order": draw(st.sampled_from(["largest", "smallest", "random", "data"])),
        "estimand": draw(st.sampled_from(["ATT", "ATC"])),
        "seed": seed,
    }
    options["ties"] = options["ties"] and options["replace"]
    return frame, options


def _run(frame, options, **extra):
    caliper = options["caliper"]
    if "inert_caliper" in extra:
        extra.pop("inert_caliper")
        caliper = {"x": 1e9, **({} if caliper is None else {"distance": caliper})}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sop_eval.SopEvalWarning)
        try:
            return sop_eval.match(frame, "t", ["x"], distance="score", std_caliper=False,
                                  **{**options, "caliper": caliper}, **extra)
        except sop_eval.SopEvalError as exc:
            assert "found a match" in str(exc)
            return None


def _same(fast, general):
    assert (fast is None) == (general is None)
    if fast is None:
        return
    pd.testing.assert_frame_equal(fast.pairs, general.pairs)
    pd.testing.assert_series_equal(fast.weights, general.weights)


@SETTINGS
@given(tied_worlds())
def test_inert_antiexact_gives_the_fast_paths_matches(world):
    frame, options = world
    _same(_run(frame, options), _run(frame, options, antiexact="t"))


@SETTINGS
@given(tied_worlds())
def test_inert_covariate_caliper_gives_the_fast_paths_matches(world):
    frame, options = world
    _same(_run(frame, options), _run(frame, options, inert_caliper=True))


def test_heavy_ties_pick_by_the_sorted_scan():
    # treated at 0.5 (row 3); controls tie at 0.5 before and after it, and at 0.25 / 0.75
    frame = pd.DataFrame({"t": [0, 0, 0, 1, 0, 0, 0], "score": [0.25, 0.5, 0.5, 0.5, 0.5, 0.75, 0.25],
                          "x": np.arange(7.0)}, index=list("abcdefg"))
    for extra in ({}, {"antiexact": "t"}):
        one = sop_eval.match(frame, "t", ["x"], distance="score", ratio=4, **extra)
        # below first: the last tied control before the treated row (c), then b; then above: e; then 0.25 below (g)
        assert one.pairs["control"].tolist() == ["c", "b", "e", "g"]


@pytest.mark.parametrize(("position", "expected"), [
    (3, [2, 1, 7, 8, 0, 9, 10]),  # equal scores: below (earlier rows) nearest in the sort first, then above
    (0, [1, 2, 7, 8, 0, 9, 10]),  # the unit is first in data order: every equal score is above it
])
def test_sorted_scan_order(position, expected):
    values = np.array([0.25, 0.5, 0.5, 0.5, 0.5, 0.75, 0.75])
    positions = np.array([0, 1, 2, 7, 8, 9, 10])
    assert positions[sorted_scan_order(values, positions, 0.5, position)].tolist() == expected


def test_ties_keep_every_tied_control_on_the_general_path():
    frame = pd.DataFrame({"t": [0, 0, 0, 1, 0, 0, 0], "score": [0.25, 0.5, 0.5, 0.5, 0.5, 0.75, 0.25],
                          "x": np.arange(7.0)}, index=list("abcdefg"))
    for extra in ({}, {"antiexact": "t"}, {"caliper": {"x": 100.0}}):
        m = sop_eval.match(frame, "t", ["x"], distance="score", replace=True, ties=True, std_caliper=False, **extra)
        assert m.pairs["control"].tolist() == ["c", "b", "e"]  # all three at distance 0
        np.testing.assert_allclose(m.weights[["b", "c", "e"]], 1.0)


def test_ties_refused_where_no_control_can_tie():
    frame = pd.DataFrame({"t": [0, 1, 0, 0], "score": [0.2, 0.5, 0.5, 0.7], "x": [1.0, 2.0, 3.0, 4.0]})
    with pytest.raises(sop_eval.SopEvalError, match="method='full' does not take it"):
        sop_eval.match(frame, "t", ["x"], distance="score", method="full", replace=True, ties=True)
