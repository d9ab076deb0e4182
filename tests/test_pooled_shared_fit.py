"""Cohorts that share one fit: the pooled gate and the payment risk use the design's pooled result."""

import dataclasses

import numpy as np
import pytest

from contract_copies import FIXTURES
from sop_eval import SopEvalError
from sop_eval.effects.estimate import EffectEstimate
from sop_eval.effects.pooling import pool_cohorts
from sop_eval.payments.risk import _joint_draws
from sop_eval.pipeline import evaluate
from sop_eval.thresholds import Gate


def _estimate(label: str, estimate: float, se: float) -> EffectEstimate:
    return EffectEstimate(estimate=estimate, se=se, treated_mean=1.0 + estimate, comparison_mean=1.0, n_treated=100,
                          n_comparison=100, outcome="y", kind="continuous", design="sdid", label=label)


def test_pooled_gate_uses_the_given_pooled_standard_error():
    a, b = _estimate("a", -0.10, 0.04), _estimate("b", -0.08, 0.04)
    independent = pool_cohorts([a, b])
    shared = dataclasses.replace(independent, se=independent.se * 1.5)
    gate = Gate(0.05, "relative_reduction", level=0.95)
    plain = gate.evaluate_pooled([a, b])
    given = gate.evaluate_pooled([a, b], pooled=shared)
    assert plain.value == given.value  # the gate's value does not depend on the uncertainty
    assert given.measured.se == pytest.approx(shared.se) and plain.measured.se == pytest.approx(independent.se)
    assert given.p_value > plain.p_value
    with pytest.raises(SopEvalError, match="is not the pooled cohorts' estimate"):
        gate.evaluate_pooled([a, b], pooled=dataclasses.replace(shared, estimate=-0.5))


@pytest.mark.parametrize("contract", ["area_sdid.toml", "care_did.toml"])
def test_the_pooled_line_decides_on_the_designs_pooled_result(contract):
    ev = evaluate(FIXTURES / "contracts" / contract, risk_draws=2000)
    line = next(ln for ln in ev.schedule.lines if ln.kind == "pooled catch-up")
    assert line.decision.measured.se == pytest.approx(ev.pooled.se, rel=1e-12)
    assert line.decision.measured.estimate == pytest.approx(ev.pooled.estimate, rel=1e-12)
    cov = np.asarray(ev.pooled.details["cohort_covariance"])
    ses = [ev.cohort(name).effect.se for name in ev.pooled.details["cohorts"]]
    assert np.sqrt(np.diag(cov)) == pytest.approx(ses, rel=1e-9)
    w = np.asarray(ev.pooled.details["pool_weights"])
    assert np.sqrt(w @ cov @ w) == pytest.approx(ev.pooled.se, rel=1e-9)


def test_cohorts_of_a_shared_fit_are_drawn_jointly():
    a, b = _estimate("a", -0.10, 0.04), _estimate("b", -0.08, 0.02)
    pooled = dataclasses.replace(pool_cohorts([a, b]), details={
        "cohorts": ["a", "b"], "cohort_covariance": [[0.04**2, 0.7 * 0.04 * 0.02], [0.7 * 0.04 * 0.02, 0.02**2]]})
    z = _joint_draws([pooled], {("y", "a"): a, ("y", "b"): b}, np.random.default_rng(1), 200_000)
    assert np.corrcoef(z[id(a)], z[id(b)])[0, 1] == pytest.approx(0.7, abs=0.01)
    assert np.std(z[id(a)]) == pytest.approx(1.0, abs=0.01) and np.std(z[id(b)]) == pytest.approx(1.0, abs=0.01)
    assert _joint_draws([pool_cohorts([a, b])], {("y", "a"): a, ("y", "b"): b}, np.random.default_rng(1), 10) == {}
