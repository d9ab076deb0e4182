"""Honesty check with heavy reuse of comparison people: the recommended SE with replacement is the right size.

60 fixed-seed worlds of benchmarks/effects/bench_coverage_replacement.py (300 treated, a pool of 150,
1:1 and 1:5 with replacement, constant effect 1). The test compares the root mean square SE with the
spread of the estimates across worlds, within bounds that an SE 30% too small or too large fails (checked
below on the same worlds); the full 500-world coverage table is in the benchmark.
"""

import warnings

import numpy as np
import pandas as pd
import pytest

import sop_eval
from sop_eval.effects.inference import get_se_method
from sop_eval.effects.matched import RECOMMENDED_WITH_REPLACEMENT, matched_sample

WORLDS, LOW, HIGH = 60, 0.85, 1.15


def _world(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    treat = np.r_[np.ones(300, int), np.zeros(150, int)]
    x = np.r_[rng.normal(0.5, 1, 300), rng.normal(0, 1, 150)]
    y = 1 + 0.5 * x + treat + rng.normal(0, 0.5 + 0.5 * np.abs(x))
    return pd.DataFrame({"treat": treat, "x": x, "y": y})


@pytest.fixture(scope="module", params=[1, 5], ids=lambda r: f"ratio{r}")
def worlds(request):
    rows = []
    for seed in range(WORLDS):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cohort = sop_eval.match(_world(seed), "treat", ["x"], ratio=request.param, replace=True)
        est = cohort.effect("y", se="cluster")
        sample = matched_sample(cohort)
        set_only = get_se_method("cluster")(
            sample.frame["y"].to_numpy(), sample.treat, sample.weights, cluster=sample.cluster
        )
        lo, hi = est.conf_int()
        rows.append({"estimate": est.estimate, "se": est.se, "set_only_se": set_only.se, "covers": lo <= 1 <= hi})
    return pd.DataFrame(rows)


def test_recommended_se_matches_the_spread_of_estimates(worlds):
    assert RECOMMENDED_WITH_REPLACEMENT == ("cluster",)
    spread = worlds["estimate"].std(ddof=1)
    ratio = np.sqrt((worlds["se"] ** 2).mean()) / spread
    assert LOW <= ratio <= HIGH
    assert not LOW <= 0.7 * ratio <= HIGH and not LOW <= 1.3 * ratio <= HIGH  # a 30% error fails
    assert worlds["covers"].mean() >= 0.88


def test_clustering_on_matched_set_only_understates_the_se(worlds):
    ratio = np.sqrt((worlds["set_only_se"] ** 2).mean()) / worlds["estimate"].std(ddof=1)
    assert ratio < LOW
