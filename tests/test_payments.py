import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from sop_eval import SopEvalError, SopEvalWarning
from sop_eval.effects.estimate import EffectEstimate
from sop_eval.payments import calculate, load_contract, parse_contract, read_claims, read_estimates

FIX = Path(__file__).resolve().parents[1] / "src" / "sop_eval" / "fixtures"
PETERBOROUGH = FIX / "contracts" / "peterborough.toml"
PB_ESTIMATES = FIX / "estimates" / "peterborough_example.json"
RATE_CARD = FIX / "contracts" / "rate_card.toml"
CLAIMS = FIX / "claims" / "rate_card_example.csv"
LADDER = FIX / "contracts" / "ladder.toml"
SCALE = FIX / "contracts" / "sliding_scale.toml"
D = Decimal


# -- worked example 1: Peterborough ---------------------------------------------------------------


def test_peterborough_worked_example():
    s = calculate(PETERBOROUGH, estimates=PB_ESTIMATES)
    c1 = s.line(kind="cohort", cohort="cohort 1")
    c2 = s.line(kind="cohort", cohort="cohort 2")
    pooled = s.line(kind="pooled catch-up")
    assert round(100 * c1.decision.value, 2) == 8.39 and not c1.decision.met and c1.amount == 0
    assert c1.status == "gate not met"
    assert round(100 * c2.decision.value, 2) == 11.11 and c2.decision.met
    assert c2.units == D("170") and c2.amount == D("340000.00")
    # all cohorts together: 300 events avoided of 3080 expected (not the 9.75% mean of the cohort reductions)
    assert round(100 * pooled.decision.value, 2) == 9.74 and pooled.decision.met
    assert pooled.units == D("300")
    assert "600000" in pooled.note
    assert pooled.gross == D("260000.00") and pooled.amount == D("160000.00")
    assert pooled.capped_by == "contract cap"
    assert s.total == D("500000.00")
    assert s.by_payer == {"Ministry of Justice": D("400000.00"), "lottery fund": D("100000.00")}
    for line in s.lines:
        assert line.contract_version == "1.0" and line.design == "psm" and not line.assumed_rate
        assert sum(line.payer_amounts.values()) == line.amount


def test_peterborough_timing_as_of():
    early = calculate(PETERBOROUGH, estimates=PB_ESTIMATES, as_of="2015-01-01")
    assert early.line(cohort="cohort 1").status == "gate not met"
    c2 = early.line(cohort="cohort 2")
    assert c2.status == "not yet measurable" and c2.amount == 0
    assert c2.measurable_from == dt.date(2016, 3, 30) and c2.due == dt.date(2016, 4, 29)
    assert "2016-03-30" in c2.note
    assert early.total == 0
    late = calculate(PETERBOROUGH, estimates=PB_ESTIMATES, as_of=dt.date(2016, 3, 30))
    assert late.total == D("500000.00")


def test_schedule_summary_and_json():
    s = calculate(PETERBOROUGH, estimates=PB_ESTIMATES)
    d = json.loads(json.dumps(s.to_dict()))
    assert d["total_payment"] == 500000.0
    assert d["payments_by_payer"] == {"Ministry of Justice": 400000.0, "lottery fund": 100000.0}
    assert len(d["lines"]) == 3 and d["lines"][2]["caps"][0]["binding"]
    table = s.summary()
    assert list(table["amount"]) == [0.0, 340000.0, 160000.0]
    assert "paid_by_Ministry of Justice" in table
    text = s.format()
    assert "£500,000.00" in text and "contract cap" in text


def test_estimates_as_effect_estimate_records_give_the_same_schedule():
    ests = read_estimates(PB_ESTIMATES)
    assert ests[0].estimate == -0.13 and ests[0].treated_mean == 1.42 and ests[0].details["se_given"] is False
    records = [e.to_dict() for e in ests]
    again = calculate(PETERBOROUGH, estimates=records)
    assert again.total == D("500000.00")
    assert calculate(PETERBOROUGH, estimates=list(ests)).by_payer == again.by_payer


def test_estimate_errors_name_the_culprit():
    ests = read_estimates(PB_ESTIMATES)
    with pytest.raises(SopEvalError, match="cohort 9"):
        calculate(PETERBOROUGH,
                  estimates=[{"cohort": "cohort 9", "n_treated": 10, "treated_mean": 1, "comparison_mean": 2}])
    with pytest.raises(SopEvalError, match="treated_events"):
        read_estimates([{"cohort": "cohort 1", "n_treated": 10, "comparison_mean": 2}])
    with pytest.raises(SopEvalError, match="unknown key"):
        read_estimates([{"cohort": "cohort 1", "n_treated": 10, "treated_mean": 1, "comparison_mean": 2, "sd": 1}])
    with pytest.raises(SopEvalError, match="two estimates"):
        calculate(PETERBOROUGH, estimates=[*ests, ests[0]])
    with pytest.raises(SopEvalError, match="not an estimate-paid outcome"):
        calculate(PETERBOROUGH, estimates=[{"cohort": "cohort 1", "outcome": "jobs", "n_treated": 10,
                                            "treated_mean": 1, "comparison_mean": 2}])


def test_missing_estimate_pays_nothing_and_says_so():
    s = calculate(PETERBOROUGH, estimates=[read_estimates(PB_ESTIMATES)[1]])
    assert s.line(cohort="cohort 1").status == "no estimate"
    assert s.line(kind="pooled catch-up").status == "no estimate"
    assert s.total == D("340000.00")


def test_design_mismatch_is_warned_and_named_on_the_line():
    ests = [EffectEstimate(**{k: v for k, v in vars(e).items()} | {"design": "historical_baseline"})
            for e in read_estimates(PB_ESTIMATES)]
    with pytest.warns(SopEvalWarning, match="historical_baseline"):
        s = calculate(PETERBOROUGH, estimates=ests)
    assert all(line.weaker_evidence for line in s.lines)


# -- worked example 2: rate card ------------------------------------------------------------------


def test_rate_card_worked_example():
    s = calculate(RATE_CARD, claims=CLAIMS)
    assert s.total == D("11500.00")
    by_row = {line.claim_row: line for line in s.lines}
    person = {1: "A", 2: "A", 3: "A", 4: "A", 5: "A", 6: "B", 7: "B", 8: "B", 9: "C", 10: "C", 11: "D", 12: "D"}
    paid = {p: sum(by_row[r].amount for r, q in person.items() if q == p) for p in "ABCD"}
    assert paid == {"A": D("6000.00"), "B": D("2000.00"), "C": D("500.00"), "D": D("3000.00")}
    capped = by_row[5]
    assert capped.gross == D("4500") and capped.amount == D("2000.00") and capped.capped_by == "per-person cap"
    assert by_row[8].status == "duplicate" and by_row[8].amount == 0
    assert by_row[10].status == "not validated" and by_row[10].amount == 0
    assert all(line.assumed_rate and line.design == "assumed_rate" for line in s.lines)
    assert "A" not in s.summary()["reference"].str.cat()  # no person identifiers in the table
    assert "assumed rate" in s.format()


def test_claims_as_dataframe_are_not_modified():
    frame = pd.read_csv(CLAIMS)
    before = frame.copy()
    s = calculate(RATE_CARD, claims=frame)
    pd.testing.assert_frame_equal(frame, before)
    assert s.total == D("11500.00")


def test_claims_errors():
    frame = pd.read_csv(CLAIMS)
    with pytest.raises(SopEvalError, match="no column"):
        read_claims(frame.drop(columns="validated"))
    odd = frame.assign(validated=["maybe"] + ["true"] * (len(frame) - 1))
    with pytest.raises(SopEvalError, match="row 1"):
        read_claims(odd)
    bad_date = frame.assign(date=["2015-13-45"] + list(frame["date"][1:]))
    with pytest.raises(SopEvalError, match="'date'"):
        read_claims(bad_date)
    unknown = frame.assign(outcome=["haircut"] + list(frame["outcome"][1:]))
    with pytest.raises(SopEvalError, match="haircut"):
        calculate(RATE_CARD, claims=unknown)


def test_rate_card_as_of_and_amended_prices():
    text = RATE_CARD.read_text() + """
[[amendments]]
version = "2.0"
effective = 2015-07-01
description = "adaptive rate card: sustained accommodation repriced"
[amendments.prices]
sustained_accommodation_6_months = 1800
"""
    c = parse_contract(text)
    s = calculate(c, claims=CLAIMS)
    d6 = s.line(claim_row=12)  # D, 6 months, 2015-07-01
    a6 = s.line(claim_row=3)  # A, 6 months, 2015-08-03
    assert d6.contract_version == "2.0" and d6.amount == D("1800")
    assert s.line(claim_row=1).contract_version == "1.0"
    assert a6.price == D("1800")
    early = calculate(c, claims=CLAIMS, as_of="2015-03-31")
    assert {line.claim_row for line in early.lines} == {1, 6, 9}
    assert "not included" in early.notes[0]


def test_tiers_volume_cap_outcome_cap_and_payer_caps():
    text = """
[contract]
name = "caps"
version = "1"
effective = 2020-01-01
currency = "GBP"
[[outcomes]]
name = "session"
mechanism = "rate_card"
design = "assumed_rate"
price = 100
max_per_person = 3
tier_prices = [100, 60, 30]
[[outcomes]]
name = "job"
mechanism = "rate_card"
design = "assumed_rate"
price = 1000
volume_cap = 2
cap = 1500
[[payers]]
name = "council"
share = 0.75
[[payers]]
name = "fund"
share = 0.25
cap = 400
"""
    claims = pd.DataFrame(
        {
            "person": ["p", "p", "p", "p", "q", "r", "s"],
            "outcome": ["session"] * 4 + ["job"] * 3,
            "date": [f"2020-0{m}-01" for m in range(1, 8)],
            "validated": [True] * 7,
        }
    )
    s = calculate(parse_contract(text), claims=claims)
    assert [s.line(claim_row=r).amount for r in (1, 2, 3)] == [D("100"), D("60"), D("30")]
    assert s.line(claim_row=4).status == "duplicate"
    job1, job2, job3 = (s.line(claim_row=r) for r in (5, 6, 7))
    assert job1.amount == D("1000.00")
    # outcome cap leaves 500 for the second job; the fund's share is cut by its own cap
    assert job2.caps[1].name == "cap of job" and job2.caps[1].after == D("500.00")
    assert job3.status == "capped to zero" and job3.caps[0].binding
    fund = s.by_payer["fund"]
    assert fund <= D("400") and fund == D("400.00")
    assert s.by_payer["council"] == sum(s.line(claim_row=r).payer_amounts["council"] for r in range(1, 8))
    assert s.total == s.by_payer["council"] + s.by_payer["fund"]


# -- worked example 5: ladder and sliding scale ------------------------------------------------------


def ladder_estimate(reduction: str) -> EffectEstimate:
    return EffectEstimate(estimate=-float(reduction), se=0.01, treated_mean=1 - float(reduction), comparison_mean=1.0,
                          n_treated=2000, n_comparison=4000, label="cohort 1", design="did")


@pytest.mark.parametrize(
    "reduction, amount",
    [
        ("0", 0), ("0.0849999", 0), ("0.085", 4_800_000), ("0.0850001", 4_800_000), ("0.0999999", 4_800_000),
        ("0.1", 9_600_000), ("0.1000001", 9_600_000), ("0.1099999", 9_600_000), ("0.11", 10_020_000),
        ("0.1249999", 10_020_000), ("0.125", 10_440_000), ("0.1499999", 10_440_000), ("0.15", 10_860_000),
        ("0.1999999", 10_860_000), ("0.2", 11_712_000), ("0.35", 11_712_000), ("-0.05", 0),
    ],
)
def test_ladder_boundaries(reduction, amount):
    s = calculate(LADDER, estimates=[ladder_estimate(reduction)])
    assert s.total == D(amount)
    line = s.lines[0]
    assert line.kind == "ladder" and line.decision.threshold == 0.085
    assert line.decision.met == (D(reduction) >= D("0.085"))


def test_ladder_fixture_and_investor_waterfall():
    from sop_eval import finance

    s = calculate(LADDER, estimates=FIX / "estimates" / "ladder_example.json")
    assert s.total == D("10020000.00") and s.currency == "USD"
    w = finance.investor_cash_flows(s, load_contract(LADDER))
    assert w.rows["capital_repaid"].sum() == pytest.approx(9_600_000)
    assert w.rows["return_paid"].sum() == pytest.approx(420_000)
    assert w.multiple == pytest.approx(10_020_000 / 9_600_000)


def scale_estimate(points: str) -> EffectEstimate:
    return EffectEstimate(estimate=float(points), se=0.05, treated_mean=5 + float(points), comparison_mean=5.0,
                          n_treated=100, n_comparison=0, label="year 1", design="assumed_rate", kind="continuous")


@pytest.mark.parametrize(
    "points, per_person",
    [
        ("0", "0"), ("0.4999", "0"), ("0.5", "0"), ("0.5009", "0.4"), ("0.95", "200"), ("1.3991", "399.6"),
        ("1.4", "400"), ("1.4001", "400"), ("3", "400"), ("-1", "0"),
    ],
)
def test_sliding_scale_boundaries(points, per_person):
    s = calculate(SCALE, estimates=[scale_estimate(points)])
    assert s.total == (D(per_person) * 100).quantize(D("0.01"))
    assert s.lines[0].assumed_rate


def test_sliding_scale_fixture_payer_cap():
    s = calculate(SCALE, estimates=FIX / "estimates" / "sliding_scale_example.json")
    line = s.lines[0]
    # 0.9 points: (0.9 - 0.5) / 0.9 of 400 per person for 500 people = 88,888.89
    assert line.gross == D("88888.89")
    assert s.by_payer["central outcomes fund"] == D("26666.67")
    assert s.by_payer["clinical commissioning group"] == D("62222.22")
    full = EffectEstimate(estimate=1.4, se=0.05, treated_mean=6.4, comparison_mean=5.0, n_treated=500,
                          n_comparison=0, label="year 1", design="assumed_rate")
    more = calculate(SCALE, estimates=[full])
    line = more.lines[0]
    assert line.gross == D("200000.00") and line.capped_by == "payer cap of central outcomes fund"
    assert more.by_payer == {"clinical commissioning group": D("140000.00"), "central outcomes fund": D("30000.00")}


def test_amendment_prices_cohorts_by_their_start_and_names_the_version():
    text = PETERBOROUGH.read_text() + """
[[amendments]]
version = "1.1"
effective = 2012-07-01
description = "price per event avoided revised"
[amendments.prices]
reconviction_events = 2500
"""
    s = calculate(parse_contract(text), estimates=PB_ESTIMATES)
    c2 = s.line(cohort="cohort 2")
    assert c2.contract_version == "1.1" and c2.price == D("2500") and c2.amount == D("425000.00")
    assert s.line(cohort="cohort 1").contract_version == "1.0"
    pooled = s.line(kind="pooled catch-up")
    # due in all 130 x 2,000 + 170 x 2,500 = 685,000; less 425,000 paid = 260,000; cap leaves 75,000
    assert pooled.gross == D("260000.00") and pooled.amount == D("75000.00")
    assert s.total == D("500000.00")


def test_catch_up_off_reports_the_pooled_result_without_paying():
    text = PETERBOROUGH.read_text().replace("catch_up = true", "catch_up = false")
    s = calculate(parse_contract(text), estimates=PB_ESTIMATES)
    pooled = s.line(kind="pooled catch-up")
    assert pooled.decision.met and pooled.amount == 0 and "catch-up off" in pooled.note
    assert s.total == D("340000.00")


def test_gate_with_significance_withholds_payment():
    text = PETERBOROUGH.read_text().replace("threshold = 0.10", "threshold = 0.10\nalpha = 0.05")
    noisy = [EffectEstimate(**(vars(e) | {"se": 0.2, "details": {}})) for e in read_estimates(PB_ESTIMATES)]
    s = calculate(parse_contract(text), estimates=noisy)
    c2 = s.line(cohort="cohort 2")
    assert c2.decision.met_threshold and not c2.decision.significant and c2.status == "gate not met"
    assert c2.amount == 0
    with pytest.raises(SopEvalError, match="no standard error"):
        calculate(parse_contract(text), estimates=PB_ESTIMATES)
