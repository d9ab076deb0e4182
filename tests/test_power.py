"""Power and minimum detectable effects: statsmodels agreement, simulation, and the Peterborough gates."""

import numpy as np
import pytest
from statsmodels.stats.power import NormalIndPower

from sop_eval import power as pw
from sop_eval.datasets import make_reoffending
from sop_eval.errors import SopEvalError


@pytest.mark.parametrize("n,ratio,alpha,target,alternative", [
    (1000, 10, 0.05, 0.8, "two-sided"), (300, 1, 0.01, 0.9, "two-sided"), (500, 3, 0.05, 0.8, "one-sided"),
])
def test_equal_variance_mde_equals_statsmodels(n, ratio, alpha, target, alternative):
    mean, phi = 1.7, 2.5
    sd = np.sqrt(phi * mean)
    ours = pw.mde(n_treated=n, ratio=ratio, baseline_mean=mean, dispersion=phi, level=1 - alpha, power=target,
                  alternative=alternative, equal_variance=True)
    sm_alt = "two-sided" if alternative == "two-sided" else "smaller"
    d = NormalIndPower().solve_power(effect_size=None, nobs1=n, alpha=alpha, power=target, ratio=ratio,
                                     alternative=sm_alt)
    assert ours * mean / sd == pytest.approx(abs(d), rel=1e-4)  # statsmodels solves numerically
    p = pw.power(-ours, n_treated=n, ratio=ratio, baseline_mean=mean, dispersion=phi, level=1 - alpha,
                 alternative=alternative, equal_variance=True)
    sm_power_alt = "two-sided" if alternative == "two-sided" else "larger"
    expected = NormalIndPower().power(ours * mean / sd, nobs1=n, alpha=alpha, ratio=ratio, alternative=sm_power_alt)
    assert p == pytest.approx(expected, rel=1e-9)


def test_continuous_power_equals_statsmodels():
    p = pw.power(0.2, n_treated=200, ratio=2, baseline_mean=10, kind="continuous", sd=8)
    assert p == pytest.approx(NormalIndPower().power(2 / 8, nobs1=200, alpha=0.05, ratio=2), rel=1e-9)


def test_required_n_inverts_power():
    n = pw.required_n(-0.10, baseline_mean=1.7, ratio=10, dispersion=2.5)
    assert pw.power(-0.10, n_treated=n, baseline_mean=1.7, ratio=10, dispersion=2.5) >= 0.8
    assert pw.power(-0.10, n_treated=n - 1, baseline_mean=1.7, ratio=10, dispersion=2.5) < 0.8


@pytest.mark.parametrize("kind,mean,phi", [("count", 1.7, 2.5), ("binary", 0.6, 1.0)])
def test_simulated_power_agrees_with_the_analytic_value(kind, mean, phi):
    analytic = pw.power(-0.10, n_treated=400, ratio=4, baseline_mean=mean, kind=kind, dispersion=phi)
    sim = pw.simulate_power(-0.10, n_treated=400, ratio=4, baseline_mean=mean, kind=kind, dispersion=phi, n_sims=400,
                            seed=3)
    assert abs(sim.power - analytic) < 4 * sim.mc_se
    again = pw.simulate_power(-0.10, n_treated=400, ratio=4, baseline_mean=mean, kind=kind, dispersion=phi,
                              n_sims=400, seed=3)
    assert again.power == sim.power


def test_simulated_power_from_pilot_data():
    pilot = np.random.default_rng(0).negative_binomial(1.6, 1.6 / (1.6 + 1.7), 5000)
    sim = pw.simulate_power(-0.15, n_treated=300, ratio=5, pilot=pilot, n_sims=300, seed=1)
    analytic = pw.power(-0.15, n_treated=300, ratio=5, baseline_mean=pilot.mean(),
                        dispersion=pw.dispersion_from_pilot(pilot))
    assert abs(sim.power - analytic) < 4 * sim.mc_se + 0.02
    assert sim.source.startswith("pilot") and sim.summary()["power"].iloc[0] == sim.power
    null = pw.simulate_power(0.0, n_treated=300, ratio=5, pilot=pilot, n_sims=400, seed=2)
    assert null.power < 0.05 + 4 * np.sqrt(0.05 * 0.95 / 400)
    with pytest.raises(SopEvalError, match="reductions only"):
        pw.simulate_power(0.2, n_treated=300, pilot=pilot)


def test_what_the_peterborough_gates_mean():
    """Cohorts of 1,000, ten matched controls each, about 1.7 reconviction events per person.

    The over-dispersion comes from a pilot: the simulated national pool. A 10% gate on one cohort and a
    7.5% gate on two pooled cohorts are both the smallest reductions detectable with 80% power by a
    two-sided test at alpha = 0.05 (equivalently about one-sided 0.05 at 80% power for one cohort).
    """
    pool = make_reoffending(n_per_cohort=100, n_cohorts=1, pool_size=20000, seed=0)
    phi = pw.dispersion_from_pilot(pool.loc[pool.treated == 0, "reconviction_events"])
    assert 1.5 < phi < 4  # over-dispersed: a Poisson assumption would overstate power
    common = dict(baseline_mean=1.7, ratio=10, dispersion=phi)
    table = pw.mde_table([1000, 2000], levels=[0.99, 0.95, 0.90], powers=[0.5, 0.8, 0.9], **common)
    single = table.query("n_treated == 1000")
    pooled = table.query("n_treated == 2000")
    near_10 = single[(single.mde - 0.10).abs() < 0.01]
    near_75 = pooled[(pooled.mde - 0.075).abs() < 0.0075]
    assert ((near_10.level == 0.95) & (near_10.power == 0.8)).any()
    assert ((near_75.level == 0.95) & (near_75.power == 0.8)).any()
    # pooling two cohorts shrinks the MDE by about sqrt(2): 10% / 7.5% is the same ratio, roughly
    ratio = single.set_index(["level", "power"]).mde / pooled.set_index(["level", "power"]).mde
    assert np.allclose(ratio, np.sqrt(2), rtol=0.03)
    # the gate on the point estimate is a much stricter test than alpha = 0.05 when there is no effect ...
    false_pay = pw.gate_pay_probability(0.10, 0.0, n_treated=1000, **common)
    assert false_pay < 0.02
    # ... and pays only half the time when the true reduction is exactly at the gate
    assert pw.gate_pay_probability(0.10, -0.10, n_treated=1000, **common) == pytest.approx(0.5)
    assert pw.gate_pay_probability(0.075, -0.15, n_treated=2000, **common) > 0.99
    # a Poisson assumption would understate the MDE
    default_row = single.query("level == 0.95 and power == 0.8").mde.iloc[0]
    assert pw.mde(n_treated=1000, baseline_mean=1.7, ratio=10, dispersion=1.0) < default_row


@pytest.mark.parametrize(
    "kwargs,match",
    [(dict(kind="binary", baseline_mean=1.7), "between 0 and 1"), (dict(kind="weird", baseline_mean=1), "kind="),
     (dict(baseline_mean=1.7, level=1.5), "level"), (dict(baseline_mean=1.7, alternative="left"), "alternative"),
     (dict(kind="continuous", baseline_mean=1.0), "sd=")],
)
def test_power_rejects_bad_settings(kwargs, match):
    with pytest.raises(SopEvalError, match=match):
        pw.power(-0.1, n_treated=100, **kwargs)
