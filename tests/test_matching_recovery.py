"""Matching removes the selection bias of a naive comparison on simulated Peterborough-like data."""

from __future__ import annotations

import numpy as np
import pytest

import sop_eval
from sop_eval.datasets.reoffending import REOFFENDING_ROLES


@pytest.fixture(scope="module")
def world():
    df = sop_eval.datasets.make_reoffending(seed=0)
    return df, sop_eval.match(df, "treated", list(REOFFENDING_ROLES.covariates), exact="cohort")


def _relative(df, w):
    t = df["treated"].to_numpy() == 1
    y = df["reconviction_events"].to_numpy(float)
    return np.average(y[t], weights=w[t]) / np.average(y[~t], weights=w[~t]) - 1


def test_matching_recovers_the_true_reduction(world):
    df, m = world
    naive = _relative(df, np.ones(len(df)))
    matched = _relative(df, m.weights.to_numpy())
    truth = df.attrs["true_effect"]
    assert naive > 0.05  # the treated prison holds higher-risk people: the naive comparison hides the reduction
    assert abs(matched - truth) < 0.05
    assert abs(matched - truth) < abs(naive - truth) / 4


def test_matched_groups_have_equal_baseline_risk(world):
    _, m = world
    risk = m.compare_risk("prior_convictions")
    assert risk.loc["before", "smd"] > 0.2
    assert abs(risk.loc["after", "smd"]) < 0.05
    assert not m.balance().imbalanced


def test_exact_cohort_respected(world):
    df, m = world
    cohort = df["cohort"]
    assert (cohort.loc[m.pairs["treated"]].to_numpy() == cohort.loc[m.pairs["control"]].to_numpy()).all()
