"""Properties of the calculator on random contracts, estimates and claims (hypothesis)."""

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from sop_eval.effects.estimate import EffectEstimate
from sop_eval.payments import calculate, parse_contract

D = Decimal
FIX = Path(__file__).resolve().parents[1] / "src" / "sop_eval" / "fixtures" / "contracts"
SETTINGS = settings(max_examples=60, deadline=None)


def cohort_contract(price: int, contract_cap: int | None, payer_cap: int | None, share: str, catch_up: bool = True,
                    outcome_cap: int | None = None) -> str:
    caps = f"[caps]\ncontract = {contract_cap}\n" if contract_cap is not None else ""
    pcap = f"cap = {payer_cap}\n" if payer_cap is not None else ""
    ocap = f"cap = {outcome_cap}\n" if outcome_cap is not None else ""
    return f"""
[contract]
name = "random"
version = "1.0"
effective = 2010-01-01
currency = "GBP"
[timing]
follow_up_months = 12
court_lag_months = 6
analysis_months = 3
[[cohorts]]
name = "c1"
entry_start = 2010-01-01
entry_end = 2011-12-31
[[cohorts]]
name = "c2"
entry_start = 2012-01-01
entry_end = 2013-12-31
[[cohorts]]
name = "c3"
entry_start = 2014-01-01
entry_end = 2015-12-31
[[outcomes]]
name = "events"
mechanism = "attributable"
design = "psm"
price = {price}
{ocap}
[outcomes.gate]
threshold = 0.10
[outcomes.pooled]
threshold = 0.075
catch_up = {str(catch_up).lower()}
[[payers]]
name = "commissioner"
share = {share}
{pcap}
[[payers]]
name = "fund"
share = {D(1) - D(share)}
{caps}
"""


def estimates(reductions, sizes):
    out = []
    for i, (r, n) in enumerate(zip(reductions, sizes, strict=True)):
        comparison = 1.6
        treated = float(D("1.6") * (1 - D(str(r))))
        out.append(EffectEstimate(estimate=treated - comparison, se=0.05, treated_mean=treated,
                                  comparison_mean=comparison, n_treated=n, n_comparison=5 * n, label=f"c{i + 1}"))
    return out


reductions = st.lists(st.floats(-0.3, 0.3, allow_nan=False).map(lambda x: round(x, 4)), min_size=3, max_size=3)
sizes = st.lists(st.integers(60, 3000), min_size=3, max_size=3)
prices = st.integers(1, 5000)
caps = st.one_of(st.none(), st.integers(0, 3_000_000))
shares = st.sampled_from(["0.8", "0.75", "0.5", "0.333", "1"])


@SETTINGS
@given(reductions, sizes, prices, caps, caps, caps, shares)
def test_no_payment_exceeds_any_cap(red, n, price, contract_cap, payer_cap, outcome_cap, share):
    c = parse_contract(cohort_contract(price, contract_cap, payer_cap, share, outcome_cap=outcome_cap))
    s = calculate(c, estimates=estimates(red, n))
    if contract_cap is not None:
        assert s.total <= contract_cap
    if payer_cap is not None:
        assert s.by_payer["commissioner"] <= payer_cap
    if outcome_cap is not None:
        assert s.by_outcome["events"] <= outcome_cap
    for line in s.lines:
        assert 0 <= line.amount <= line.gross
        for step in line.caps:
            assert step.after <= step.before and step.after <= max(step.limit, 0)


@SETTINGS
@given(reductions, sizes, prices, caps, shares)
def test_payer_shares_sum_to_the_line(red, n, price, contract_cap, share):
    c = parse_contract(cohort_contract(price, contract_cap, None, share))
    s = calculate(c, estimates=estimates(red, n))
    for line in s.lines:
        parts = line.payer_amounts
        assert sum(parts.values()) == line.amount
        assert abs(parts["commissioner"] - line.amount * D(share)) <= D("0.01")
        assert all(v == v.quantize(D("0.01")) for v in parts.values())
    assert sum(s.by_payer.values()) == s.total


@SETTINGS
@given(reductions, sizes, prices, caps)
def test_catch_up_is_never_negative_and_never_pays_twice(red, n, price, contract_cap):
    c = parse_contract(cohort_contract(price, contract_cap, None, "0.8"))
    s = calculate(c, estimates=estimates(red, n))
    catch = s.line(kind="pooled catch-up")
    assert catch.gross >= 0 and catch.amount >= 0
    cohort_lines = [ln for ln in s.lines if ln.kind == "cohort"]
    paid_units = sum((ln.units for ln in cohort_lines if ln.amount > 0), D(0))
    # staged payment never exceeds paying once for the larger of the pooled result and the cohorts paid
    once = max(catch.units, paid_units) * price
    assert s.total <= once.quantize(D("0.01")) + D("0.01") * len(s.lines)
    if not catch.decision.met:
        assert catch.amount == 0


@SETTINGS
@given(reductions, sizes, prices, caps, caps, st.dates(dt.date(2012, 1, 1), dt.date(2018, 1, 1)))
def test_paying_in_two_stages_never_pays_more_than_paying_once(red, n, price, contract_cap, payer_cap, stage):
    c = parse_contract(cohort_contract(price, contract_cap, payer_cap, "0.8"))
    ests = estimates(red, n)
    first = calculate(c, estimates=ests, as_of=stage)
    final = calculate(c, estimates=ests)
    assert first.total <= final.total
    # whatever was payable at the first stage is paid identically in the final schedule
    for early, late in zip(first.lines, final.lines, strict=True):
        assert (early.outcome, early.cohort, early.kind) == (late.outcome, late.cohort, late.kind)
        if early.status != "not yet measurable":
            assert early.amount == late.amount and early.payers == late.payers
        assert early.amount <= late.amount


@SETTINGS
@given(reductions, sizes, prices, caps, caps, st.integers(0, 2), st.floats(0.0, 0.2).map(lambda x: round(x, 4)))
def test_payments_are_monotone_in_the_effect(red, n, price, contract_cap, payer_cap, which, extra):
    c = parse_contract(cohort_contract(price, contract_cap, payer_cap, "0.8"))
    base = calculate(c, estimates=estimates(red, n))
    better = list(red)
    better[which] = round(better[which] + extra, 4)
    more = calculate(c, estimates=estimates(better, n))
    assert more.total >= base.total
    for payer in base.by_payer:
        assert more.by_payer[payer] >= base.by_payer[payer]


RATE_CARD = """
[contract]
name = "rc"
version = "1"
effective = 2020-01-01
currency = "GBP"
[[outcomes]]
name = "a"
mechanism = "rate_card"
design = "assumed_rate"
price = 700
[[outcomes]]
name = "b"
mechanism = "rate_card"
design = "assumed_rate"
price = 2500
max_per_person = 2
volume_cap = 6
[[payers]]
name = "la"
share = 1
[caps]
per_person = 3000
"""

claims_rows = st.lists(
    st.tuples(st.sampled_from("pqrstu"), st.sampled_from("ab"), st.integers(1, 300), st.booleans()),
    min_size=1, max_size=40,
)


@SETTINGS
@given(claims_rows)
def test_rate_card_caps_once_only_and_validation(rows):
    claims = pd.DataFrame(
        {
            "person": [r[0] for r in rows],
            "outcome": [r[1] for r in rows],
            "date": [(dt.date(2020, 1, 1) + dt.timedelta(days=r[2])).isoformat() for r in rows],
            "validated": [r[3] for r in rows],
        }
    )
    s = calculate(parse_contract(RATE_CARD), claims=claims)
    per_person: dict[str, Decimal] = {}
    counts: dict[tuple[str, str], int] = {}
    for line in s.lines:
        person, outcome, _, validated = rows[line.claim_row - 1]
        if not validated:
            assert line.amount == 0 and line.status == "not validated"
        if line.amount > 0:
            counts[(person, outcome)] = counts.get((person, outcome), 0) + 1
        per_person[person] = per_person.get(person, D(0)) + line.amount
    assert all(v <= 3000 for v in per_person.values())
    assert all(k <= (2 if o == "b" else 1) for (_, o), k in counts.items())
    assert sum(1 for ln in s.lines if ln.outcome == "b" and ln.amount > 0) <= 6
    assert len(s.lines) == len(rows)


@SETTINGS
@given(st.lists(st.decimals(-1, 3, places=4), min_size=2, max_size=2))
def test_ladder_and_scale_are_monotone_and_bounded(values):
    from sop_eval.payments import load_contract
    from sop_eval.payments.caps import DECIMAL
    from sop_eval.payments.ladders import ladder_amount, scale_amount

    lo, hi = sorted(values)
    ladder = load_contract(FIX / "ladder.toml").outcomes[0]
    assert ladder_amount(lo, ladder.steps, DECIMAL) <= ladder_amount(hi, ladder.steps, DECIMAL) <= D(11_712_000)
    s = load_contract(FIX / "sliding_scale.toml").outcomes[0]
    a, b = (scale_amount(v, s.floor, s.ceiling, s.amount, s.amount_at_floor, DECIMAL) for v in (lo, hi))
    assert 0 <= a <= b <= s.amount
