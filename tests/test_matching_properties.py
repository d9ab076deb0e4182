"""Invariants of nearest-neighbour matching, checked on random data (hypothesis)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sop_eval
from sop_eval.cohorts.matching import nearest_pairs

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def worlds(draw):
    n_t = draw(st.integers(1, 25))
    n_c = draw(st.integers(1, 60))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    # scores on a coarse grid so that ties between controls occur
    score = rng.integers(0, draw(st.sampled_from([5, 50, 10_000])), n_t + n_c) / 10_000
    frame = pd.DataFrame(
        {
            "t": np.r_[np.ones(n_t, int), np.zeros(n_c, int)],
            "score": score,
            "x": rng.normal(size=n_t + n_c),
            "site": rng.integers(0, draw(st.integers(1, 3)), n_t + n_c),
        },
        index=[f"r{i}" for i in rng.permutation(n_t + n_c)],
    )
    options = {
        "ratio": draw(st.integers(1, 3)),
        "replace": draw(st.booleans()),
        "caliper": draw(st.one_of(st.none(), st.floats(0.0, 0.5))),
        "exact": draw(st.sampled_from([None, "site"])),
        "order": draw(st.sampled_from(["largest", "smallest", "random", "data"])),
        "seed": seed,
    }
    return frame, options


def _match(frame, options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sop_eval.SopEvalWarning)
        try:
            return sop_eval.match(frame, "t", ["x"], distance="score", std_caliper=False, **options)
        except sop_eval.SopEvalError as exc:
            assert "no treated unit found a match" in str(exc)
            return None


@SETTINGS
@given(worlds())
def test_matching_invariants(world):
    frame, options = world
    m = _match(frame, options)
    if m is None:
        return
    pairs = m.pairs
    score = frame["score"]
    t_labels = set(frame.index[frame["t"] == 1])
    assert set(pairs["treated"]) <= t_labels and not set(pairs["control"]) & t_labels
    if not options["replace"]:
        assert pairs["control"].is_unique
    if options["caliper"] is not None:
        gaps = np.abs(score.loc[pairs["treated"]].to_numpy() - score.loc[pairs["control"]].to_numpy())
        assert (gaps <= options["caliper"]).all()
    if options["exact"]:
        assert (frame.loc[pairs["treated"], "site"].to_numpy() == frame.loc[pairs["control"], "site"].to_numpy()).all()
    per_treated = pairs.groupby("treated").size()
    assert per_treated.max() <= options["ratio"]
    w = m.weights
    matched_t = pairs["treated"].nunique()
    assert np.isclose(w[frame["t"] == 1].sum(), matched_t)
    assert np.isclose(w[frame["t"] == 0].sum(), pairs["control"].nunique())
    assert set(w.index[w > 0]) == set(pairs["treated"]) | set(pairs["control"])
    assert len(m.unmatched) + matched_t == len(t_labels)
    again = _match(frame, options)
    pd.testing.assert_frame_equal(m.pairs, again.pairs)


def _brute_force(score, treat, sequence, ratio, caliper, replace=False):
    """Plain O(n_treated * n_controls) greedy matching under MatchIt's sorted-scan tie rule.

    Units are ordered by (score, position in the data). Each round, a treated unit looks at every
    available control: the nearest below it in that order and the nearest above; the closer wins,
    the one below on an exact tie.
    """
    t_pos, c_pos = np.flatnonzero(treat), np.flatnonzero(~treat)
    used, chosen = set(), {int(i): [] for i in range(len(t_pos))}
    active = set(chosen)
    for _round in range(ratio):
        for i in sequence:
            if i not in active:
                continue
            key_t = (score[t_pos[i]], t_pos[i])
            free = [c for c in c_pos if c not in chosen[i] and (replace or c not in used)]
            below = [c for c in free if (score[c], c) < key_t]
            above = [c for c in free if (score[c], c) > key_t]
            options = []
            if below:
                c = max(below, key=lambda c: (score[c], c))
                options.append((score[t_pos[i]] - score[c], 0, c))
            if above:
                c = min(above, key=lambda c: (score[c], c))
                options.append((score[c] - score[t_pos[i]], 1, c))
            if not options or min(options)[0] > caliper:
                active.discard(i)
                continue
            c = min(options)[2]
            chosen[i].append(int(c))
            used.add(int(c))
    return {(int(t_pos[i]), c) for i, cs in chosen.items() for c in cs}


@SETTINGS
@given(st.integers(0, 10_000), st.integers(1, 3), st.sampled_from([np.inf, 0.05, 0.2]), st.booleans())
def test_union_find_equals_brute_force(seed, ratio, caliper, replace):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 80))
    treat = rng.random(n) < 0.3
    treat[0], treat[-1] = True, False
    score = rng.integers(0, 40, n) / 40.0
    sequence = rng.permutation(int(treat.sum()))
    t_pos, c_pos, _, _ = nearest_pairs(score, treat, np.zeros(n, bool), None, sequence, ratio, replace, caliper, False)
    expected = _brute_force(score, treat, sequence.tolist(), ratio, caliper, replace)
    assert set(zip(t_pos.tolist(), c_pos.tolist(), strict=True)) == expected


def test_tie_rule_below_last_above_first():
    """Equal-score controls: below the treated unit the last in the data wins, above it the first."""
    # treated at 0.5; controls b, c at 0.4 (below), d, e at 0.6 (above): 0.1 away on both sides
    frame = pd.DataFrame({"t": [1, 0, 0, 0, 0], "s": [0.5, 0.4, 0.4, 0.6, 0.6], "x": np.arange(5.0)},
                         index=list("abcde"))
    m = sop_eval.match(frame, "t", ["x"], distance="s")
    assert m.pairs["control"].tolist() == ["c"]  # below wins the exact tie; the last of b, c
    above_only = frame.drop(index=["b", "c"])
    assert sop_eval.match(above_only, "t", ["x"], distance="s").pairs["control"].tolist() == ["d"]
    # controls with the treated unit's own score: those earlier in the data sort below it
    same = pd.DataFrame({"t": [0, 0, 1, 0], "s": [0.5, 0.5, 0.5, 0.5], "x": np.arange(4.0)}, index=list("pqrs"))
    assert sop_eval.match(same, "t", ["x"], distance="s").pairs["control"].tolist() == ["q"]
    later = same.loc[["r", "s", "p", "q"]]  # now every control comes after it: the first of them
    assert sop_eval.match(later, "t", ["x"], distance="s").pairs["control"].tolist() == ["s"]
    three = sop_eval.match(frame, "t", ["x"], distance="s", ratio=3, replace=True)
    assert three.pairs["control"].tolist() == ["c", "b", "d"]  # merged by distance, below first


def test_seed_changes_random_order_only_through_seed():
    df = sop_eval.datasets.load_lalonde()
    covs = ["age", "educ", "re74", "re75"]
    a = sop_eval.match(df, "treat", covs, order="random", seed=1)
    b = sop_eval.match(df, "treat", covs, order="random", seed=1)
    c = sop_eval.match(df, "treat", covs, order="random", seed=2)
    pd.testing.assert_frame_equal(a.pairs, b.pairs)
    assert not a.pairs.equals(c.pairs)
