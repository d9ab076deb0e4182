"""Each matching method words its own methods sentence (``describe(options)``), as the report prints it."""

from __future__ import annotations

import pytest

from sop_eval import SopEvalError
from sop_eval.cohorts.descriptions import DESCRIBE, describe
from sop_eval.cohorts.nearest import TIE_RULE
from sop_eval.contract.vocabulary import MATCH_METHODS

# [evaluation.matching] as the matched-cohorts design records it (the demo contract's nearest matching)
CONTRACT = dict(method="nearest", ratio=1, replace=False, caliper=0.2, caliper_scale="logit", distance="glm",
                score="linear_logit", exact=["the contract cohort"], order="largest", ties=False,
                within="each contract cohort")


def test_every_method_has_a_sentence():
    assert set(DESCRIBE) == set(MATCH_METHODS)
    with pytest.raises(SopEvalError, match="method='genetic'"):
        describe({"method": "genetic"})


def test_nearest_sentence_keeps_the_report_wording():
    assert describe(CONTRACT) == (
        "nearest neighbour on the logit of the propensity score (estimand ATT), up to 1 control(s) each, without "
        "replacement, caliper 0.2 SD of the logit of the propensity score, exact on the contract cohort, treated "
        f"units in order of largest score first; {TIE_RULE}")


@pytest.mark.parametrize(("options", "phrases"), [
    (dict(replace=True, ratio=10, ties=True), ["up to 10 control(s) each", "with replacement, keeping every control "
                                               "tied at the last matched distance"]),
    (dict(std_caliper=False), ["caliper 0.2 on the logit of the propensity score (raw units)"]),
    (dict(caliper_scale="propensity", score="logit"), ["on the propensity score (estimand ATT)",
                                                        "caliper 0.2 SD of the propensity score"]),
    (dict(caliper={"distance": 0.25, "age": 5}, std_caliper={"age": False}),
     ["calipers 0.25 SD of the logit of the propensity score, 5 on age (raw units)"]),
    (dict(antiexact=["sex"]), ["exact on the contract cohort, differing on sex (anti-exact)"]),
    (dict(mahvars=["age", "prior"], ratio=2, min_controls=1.0, max_controls=4.0),
     ["on the Mahalanobis distance of age, prior", "between 1 and 4 control(s) each (2 on average, variable ratio)"]),
    (dict(distance="robust_mahalanobis", caliper=None), ["on the robust mahalanobis distance of the covariates"]),
    (dict(estimand="ATC", order=None), ["(estimand ATC)", "up to 1 treated unit(s) each",
                                        "comparison units in order of smallest score first"]),
])
def test_nearest_states_each_setting(options, phrases):
    text = describe({**CONTRACT, **options})
    for phrase in phrases:
        assert phrase in text
    if options.get("caliper", 0.2) is None:
        assert "caliper" not in text


@pytest.mark.parametrize(("options", "phrases"), [
    (dict(method="optimal", ratio=2, caliper=None),
     ["optimal 2:1 matching (estimand ATT) minimising the total distance on the logit of the propensity score "
      "(Hungarian algorithm), without replacement, exact on the contract cohort; weights as MatchIt's"]),
    (dict(method="optimal", std_caliper=False), ["caliper 0.2 on the logit of the propensity score (raw units)"]),
    (dict(method="full", max_controls=20.0, min_controls=0.5),
     ["optimal full matching on the logit of the propensity score (minimum-cost flow, estimand ATT)",
      "at least 0.5 and at most 20 comparison people per treated person",
      "caliper 0.2 SD of the logit of the propensity score, exact on the contract cohort"]),
    (dict(method="cem", k2k=True, cutpoints={"age": 3}),
     ["coarsened exact matching on the covariates within each contract cohort (estimand ATT; age cut as given, "
      "other numeric covariates into Sturges' rule bins, one-to-one within strata)"]),
    (dict(method="cem", estimand="ATE"), ["(estimand ATE; numeric covariates cut into Sturges' rule bins)"]),
    (dict(method="exact"), ["exact matching on the covariates within each contract cohort (estimand ATT)"]),
    (dict(method="subclass", subclass=5, min_n=2),
     ["subclassification into 5 subclasses at quantiles of the treated people's propensity score (estimand ATT; "
      "at least 2 of each group per subclass), within each contract cohort"]),
    (dict(method="subclass", estimand="ATE"), ["quantiles of everyone's propensity score (estimand ATE"]),
    (dict(method="weighting", estimand="ATO", trim=0.99, trim_rule="truncate"),
     ["propensity score weighting within each contract cohort (estimand ATO, weights of sop_eval.cohorts.weighting, "
      "logistic propensity score), weights above their 0.99 quantile truncated; the effective sample size (Kish)"]),
    (dict(method="weighting", estimand="ATE", trim=0.95, trim_rule="drop"), ["0.95 quantile set to 0"]),
    (dict(method="weighting", trim=None), ["logistic propensity score), no trimming; the effective sample size"]),
    (dict(method="ebal", estimand="ATC", moments=2),
     ["entropy balancing within each contract cohort (estimand ATC), exact balance of the covariate means and "
      "variances, no propensity score and no trimming", "effective sample size (Kish) of each group"]),
])
def test_other_methods_state_their_settings(options, phrases):
    text = describe({**CONTRACT, **options})
    for phrase in phrases:
        assert phrase in text


def test_without_a_setting_place_the_sentence_has_no_within():
    text = describe({"method": "exact"})
    assert text == "exact matching on the covariates (estimand ATT); weights as MatchIt's for strata"
