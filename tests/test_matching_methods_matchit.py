"""Optimal-free methods against R MatchIt 4.5.1 on Lalonde: CEM, exact, subclassification and nearest
neighbour on a Mahalanobis distance (MatchIt's general path). Reference: tests/results/matchit/methods_reference.R."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sop_eval

REF = Path(__file__).parent / "results" / "matchit"
COVS = ["age", "educ", "race", "married", "nodegree", "re74", "re75"]
MAH = ["age", "educ", "re74", "re75"]
CONFIGS = {
    "cem_default": dict(covariates=COVS, method="cem"),
    "cem_cuts_ate": dict(covariates=COVS, method="cem", estimand="ATE",
                         cutpoints={"age": 4, "educ": "q3", "re74": [0, 5000, 15000]},
                         grouping={"race": [["black", "hispan"]]}),
    "cem_k2k": dict(covariates=["age", "educ", "married", "nodegree", "re74"], method="cem", k2k=True,
                    cutpoints={"age": 3, "educ": 3, "re74": 2}),
    "exact_att": dict(covariates=["race", "married", "nodegree"], method="exact"),
    "exact_atc": dict(covariates=["race", "married", "nodegree"], method="exact", estimand="ATC"),
    "subclass_att": dict(covariates=COVS, method="subclass"),
    "subclass_ate4": dict(covariates=COVS, method="subclass", subclass=4, estimand="ATE"),
    "subclass_min_n": dict(covariates=COVS, method="subclass", subclass=12, min_n=3),
    "mahalanobis": dict(covariates=MAH, distance="mahalanobis"),
    "mahalanobis_atc": dict(covariates=MAH, distance="mahalanobis", estimand="ATC"),
    "mahalanobis_antiexact": dict(covariates=MAH, distance="mahalanobis", antiexact=["married"]),
    "mahvars_calipers": dict(covariates=COVS, mahvars=MAH, caliper={"distance": 0.25, "age": 0.5}),
    "mahvars_raw_caliper": dict(covariates=COVS, mahvars=MAH, caliper={"age": 4}, std_caliper=False, ratio=2),
    "mahvars_variable_ratio": dict(covariates=COVS, mahvars=MAH, ratio=2, min_controls=1, max_controls=4),
}


@pytest.fixture(scope="module")
def lalonde() -> pd.DataFrame:
    return sop_eval.datasets.load_lalonde()


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return pd.read_csv(REF / "methods_reference.csv")


def _same_partition(a: pd.Series, b: pd.Series) -> bool:
    """Equal up to the labels of the subclasses (NaN in the same places, same groups)."""
    if not a.isna().equals(b.isna()):
        return False
    both = pd.DataFrame({"a": a, "b": b}).dropna()
    return both.groupby("a")["b"].nunique().eq(1).all() and both.groupby("b")["a"].nunique().eq(1).all()


@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_weights_and_subclasses_match_matchit(config, lalonde, reference):
    kwargs = dict(CONFIGS[config])
    covariates = kwargs.pop("covariates")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cohort = sop_eval.match(lalonde, "treat", covariates, **kwargs)
    ref = reference[reference["config"] == config].set_index("id").reindex(lalonde.index)
    np.testing.assert_allclose(cohort.weights.to_numpy(), ref["weight"].to_numpy(), rtol=1e-9, atol=1e-12)
    if kwargs.get("method") in ("cem", "exact", "subclass"):
        # stratification: MatchIt's subclass numbers themselves
        np.testing.assert_array_equal(cohort.subclass.to_numpy(), ref["subclass"].to_numpy(dtype=float))
    else:
        assert _same_partition(cohort.subclass, ref["subclass"].astype(float))
