"""The one registry of named standard errors: declarations, checks and the implementations behind them."""

import os
import subprocess
import sys

import pytest

import sop_eval
import sop_eval.did  # noqa: F401  (registers the DiD implementations)
import sop_eval.effects  # noqa: F401  (registers the matched-cohort implementations)
from sop_eval.errors import SopEvalError
from sop_eval.stats import SE_REGISTRY, check_se, se_implementation, se_methods, se_names
from sop_eval.stats.registry import register_se


def test_todays_names_are_declared_for_their_designs():
    assert se_names("psm") == ("cluster", "robust", "HC0", "HC1", "HC2", "HC3", "abadie-imbens", "bootstrap")
    assert se_names("did") == ("analytic", "bootstrap")
    for method in se_methods("psm") + se_methods("did"):
        assert method.description and method.clusters_on and method.to_dict()["name"] == method.name


def test_every_declared_method_is_implemented_where_declared():
    for (design, name), method in SE_REGISTRY.items():
        impl = se_implementation(design, name)
        assert callable(impl) and impl.__module__ == method.implemented_in, (design, name)


def test_names_are_case_insensitive_and_canonical():
    assert check_se("hc2", "psm").name == "HC2"
    assert check_se("Cluster", "psm").name == "cluster"
    assert check_se("BOOTSTRAP", "did").name == "bootstrap"


@pytest.mark.parametrize("name,design,settings,expected", [
    ("jackknife", "psm", {}, r"se='jackknife' is not a known standard error for design 'psm'; choose one of 'cluster'"),
    ("analytic", "psm", {}, r"it is a standard error of design 'did'"),
    ("cluster", "did", {}, r"se='cluster' .* design 'did'.*'analytic', 'bootstrap'"),
    ("abadie-imbens", "psm", {"replace": False},
     r"not available for matching without replacement \(replace=False\).*'cluster', 'robust'.*Fix: match with "
     r"replace=True"),
    ("abadie-imbens", "psm", {"replace": True, "covariates": True}, r"regression adjustment.*Fix: drop covariates="),
    ("HC3", "psm", {"kind": "time_to_event"}, r"time_to_event outcomes.* are 'cluster', 'robust'\. Fix"),
])
def test_refusals_name_the_value_the_alternatives_and_a_fix(name, design, settings, expected):
    with pytest.raises(SopEvalError, match=expected):
        check_se(name, design, **settings)


def test_supported_settings_pass_and_filter_names():
    method = check_se("abadie-imbens", "psm", replace=True, covariates=False, kind="count", ratio=3)
    assert method.name == "abadie-imbens"
    assert se_names("psm", kind="time_to_event") == ("cluster", "robust")
    assert "abadie-imbens" not in se_names("psm", replace=False)
    assert check_se("bootstrap", "did", panel=False, cluster=True).uniform_band
    assert not check_se("analytic", "did").uniform_band


def test_unknown_design_and_setting():
    with pytest.raises(SopEvalError, match="design='synth'"):
        check_se("cluster", "synth")
    with pytest.raises(TypeError, match="unknown for design 'psm'"):
        check_se("cluster", "psm", panel=True)
    with pytest.raises(KeyError):
        register_se("psm", "jackknife")


def test_effect_and_att_gt_refuse_through_the_registry():
    df = sop_eval.datasets.make_reoffending(n_per_cohort=80, n_cohorts=1, pool_size=600, seed=1)
    m = sop_eval.match(df, "treated", ["age", "prior_convictions"])
    with pytest.raises(SopEvalError, match="matching without replacement.*Fix"):
        sop_eval.effects.estimate_effect(m, "reconviction_events", se="abadie-imbens")
    panel = sop_eval.datasets.make_staggered_panel(n_units=60, n_periods=4, waves=(2, 3), seed=1)
    with pytest.raises(SopEvalError, match="se='cluster' is not a known standard error for design 'did'"):
        sop_eval.did.att_gt(panel, "y", "unit", "period", "group", se="cluster")


def test_the_registry_imports_without_effects_or_did():
    code = ("import sys, sop_eval.stats as s; s.check_se('cluster', 'psm'); "
            "print(any(m.startswith(('sop_eval.effects', 'sop_eval.did', 'sop_eval.cohorts')) for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=dict(os.environ))
    assert out.stdout.strip() == "False"
