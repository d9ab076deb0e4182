import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sop_eval import SopEvalError, finance
from sop_eval.effects.estimate import EffectEstimate
from sop_eval.payments import calculate, parse_contract

RESULTS = Path(__file__).parent / "results" / "finance"
FIX = Path(__file__).resolve().parents[1] / "src" / "sop_eval" / "fixtures"
PETERBOROUGH = FIX / "contracts" / "peterborough.toml"


def test_irr_worked_example():
    r = finance.irr([-1_000_000, 600_000, 600_000], times=[0, 3, 4])
    assert round(r, 6) == 0.053575
    assert finance.npv(r, [-1_000_000, 600_000, 600_000], [0, 3, 4]) == pytest.approx(0, abs=1e-6)


def test_irr_matches_r_uniroot():
    ref = pd.read_csv(RESULTS / "irr_reference.csv")
    for row in ref.itertuples():
        amounts = [float(x) for x in row.amounts.split(";")]
        times = [float(x) for x in row.times.split(";")]
        assert finance.irr(amounts, times) == pytest.approx(row.irr, abs=1e-10), row.name


def test_irr_errors():
    with pytest.raises(SopEvalError, match="never change sign"):
        finance.irr([100, 200, 300])
    with pytest.raises(SopEvalError, match="never change sign"):
        finance.irr([-100, 0, -5])
    with pytest.raises(SopEvalError, match="same length"):
        finance.irr([-100, 200], [0, 1, 2])
    with pytest.raises(SopEvalError, match="2 internal rates"):
        finance.irr([-1, 5, -6])  # roots at 100% and 200%
    with pytest.raises(SopEvalError, match="finite"):
        finance.irr([-1, float("nan")])


def test_money_multiple_and_default_times():
    assert finance.money_multiple([-100, -50, 90, 90]) == pytest.approx(1.2)
    assert finance.irr([-100, 110]) == pytest.approx(0.10)
    with pytest.raises(SopEvalError, match="no money was paid in"):
        finance.money_multiple([10, 20])


def test_waterfall_return_cap_holds_investor_irr_at_cap():
    d0 = dt.date(2020, 1, 1)
    w = finance.waterfall([(d0, 1_000_000)], [(dt.date(2023, 1, 1), 800_000), (dt.date(2024, 1, 1), 800_000)],
                          return_cap=0.06, excess_to="commissioner")
    rows = w.summary()
    assert rows["capital_repaid"].sum() == pytest.approx(1_000_000)
    assert w.irr == pytest.approx(0.06, abs=1e-9)
    assert rows["excess"].sum() > 0 and w.excess_to == "commissioner"
    total = rows["capital_repaid"] + rows["return_paid"] + rows["excess"]
    assert (total == rows["receipt"]).all()
    uncapped = finance.waterfall([(d0, 1_000_000)], [(dt.date(2023, 1, 1), 800_000), (dt.date(2024, 1, 1), 800_000)])
    assert uncapped.irr > 0.06 and uncapped.summary()["excess"].sum() == 0
    multiple = finance.waterfall([(d0, 1_000_000)], [(dt.date(2023, 1, 1), 800_000), (dt.date(2024, 1, 1), 800_000)],
                                 multiple_cap=1.1)
    assert multiple.multiple == pytest.approx(1.1)
    json.dumps(w.to_dict())


def test_waterfall_loss_and_max_loss():
    d0 = dt.date(2020, 1, 1)
    w = finance.waterfall([(d0, 500), (dt.date(2021, 1, 1), 500)], [(dt.date(2022, 1, 1), 400)])
    assert w.max_loss == pytest.approx(1000) and w.multiple == pytest.approx(0.4) and w.irr < 0
    with pytest.raises(SopEvalError, match=">= 0"):
        finance.waterfall([(d0, -5)], [])


def test_investor_needs_terms():
    s = calculate(PETERBOROUGH, estimates=FIX / "estimates" / "peterborough_example.json")
    with pytest.raises(SopEvalError, match="no \\[investor\\]"):
        finance.investor_cash_flows(s, parse_contract(PETERBOROUGH.read_text()))


def _round_to(value: float, step: float) -> float:
    return round(value / step) * step


def test_scenario_table_reproduces_seed_within_rounding():
    ref = pd.read_csv(RESULTS / "seed_tables.csv")
    table = pd.concat([finance.scenario_table(), finance.scenario_table(finance.FAMILY_THERAPY)], ignore_index=True)
    assert len(table) == len(ref)
    for got, want in zip(table.itertuples(), ref.itertuples(), strict=True):
        assert _round_to(got.outcomes, want.outcomes_step) == pytest.approx(want.outcomes), want.scenario
        assert _round_to(got.total_paid, want.total_step) == pytest.approx(want.total_paid), want.scenario
        assert _round_to(got.cost_per_outcome, want.per_outcome_step) == pytest.approx(want.cost_per_outcome)
        if not np.isnan(want.cost_per_area):
            assert _round_to(got.cost_per_area, want.per_area_step) == pytest.approx(want.cost_per_area)
    # the exact figures behind the rounded ones
    assert table.loc[3, "total_paid"] == pytest.approx(5_440_000) and table.loc[4, "outcomes"] == pytest.approx(864)
    # the boroughs' and the lottery's ~£12.5k and ~£3.5k per family add up to the ~£16k per family
    assert 12_500 + 3_500 == _round_to(table.loc[6, "cost_per_outcome"], 1000)


def test_scenario_errors():
    with pytest.raises(SopEvalError, match="basis"):
        finance.scenario_table([{"scenario": "x", "basis": "vibes", "outcomes": 3}])
    with pytest.raises(SopEvalError, match="price"):
        finance.scenario_table([{"scenario": "x", "basis": "outcomes", "outcomes": 3}])


# -- Monte Carlo payment risk -------------------------------------------------------------------------


def pb_estimates(se):
    return [
        EffectEstimate(estimate=-0.13, se=se, treated_mean=1.42, comparison_mean=1.55, n_treated=1000,
                       n_comparison=9000, label="cohort 1", kind="count"),
        EffectEstimate(estimate=-0.17, se=se, treated_mean=1.36, comparison_mean=1.53, n_treated=1000,
                       n_comparison=9000, label="cohort 2", kind="count"),
    ]


def test_risk_without_uncertainty_equals_the_calculator():
    risk = finance.payment_risk(PETERBOROUGH, pb_estimates(0.0), n_draws=50)
    s = calculate(PETERBOROUGH, estimates=pb_estimates(0.0))
    assert risk.expected_total == pytest.approx(float(s.total))
    assert risk.expected_by_payer == pytest.approx({k: float(v) for k, v in s.by_payer.items()})
    assert risk.prob_gate_met == {"reconviction_events / cohort 1": 0.0, "reconviction_events / cohort 2": 1.0,
                                  "reconviction_events / pooled": 1.0}


def test_risk_matches_analytic_gate_probability_and_expectation():
    text = PETERBOROUGH.read_text().replace("contract = 500000", "")
    contract = parse_contract(text)
    se = 0.06
    risk = finance.payment_risk(contract, pb_estimates(se), n_draws=200_000, seed=3)
    # cohort 1: gate met when -e / 1.55 >= 0.10, e ~ N(-0.13, se)
    a = (-0.10 * 1.55 + 0.13) / se
    assert risk.prob_gate_met["reconviction_events / cohort 1"] == pytest.approx(stats.norm.cdf(a), abs=0.005)
    # expected cohort-1 payment: 2000 * 1000 * E[-e; e <= -0.155]
    expected = 2000 * 1000 * (0.13 * stats.norm.cdf(a) + se * stats.norm.pdf(a))
    assert risk.expected_by_line["reconviction_events / cohort 1"] == pytest.approx(expected, rel=0.01)
    # payer shares of the expectation
    assert risk.expected_by_payer["lottery fund"] == pytest.approx(0.2 * risk.expected_total, rel=1e-9)


def test_risk_is_seeded_and_respects_caps():
    a = finance.payment_risk(PETERBOROUGH, pb_estimates(0.06), n_draws=20_000, seed=7)
    b = finance.payment_risk(PETERBOROUGH, pb_estimates(0.06), n_draws=20_000, seed=7)
    assert np.array_equal(a.totals, b.totals)
    assert a.totals.max() <= 500_000 + 1e-6 and a.totals.min() >= 0
    assert 0 < a.prob_any_payment < 1
    assert set(a.summary()["figure"]) >= {"expected total", "P(any payment)"}
    json.dumps(a.to_dict())
    with pytest.raises(SopEvalError, match="standard error"):
        finance.payment_risk(PETERBOROUGH, FIX / "estimates" / "peterborough_example.json")
