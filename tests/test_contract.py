import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from sop_eval import SopEvalError
from sop_eval.contract import vocabulary
from sop_eval.payments import Contract, load_contract, parse_contract
from sop_eval.payments.contract import add_months

FIXTURES = Path(__file__).resolve().parents[1] / "src" / "sop_eval" / "fixtures"

BASE = """
[contract]
name = "test"
version = "1.0"
effective = 2020-01-01
currency = "GBP"

[[cohorts]]
name = "c1"
entry_start = 2020-01-01
entry_end = 2020-12-31

[[outcomes]]
name = "events"
mechanism = "attributable"
design = "psm"
price = 100

[outcomes.gate]
threshold = 0.1

[[payers]]
name = "p1"
share = 0.8

[[payers]]
name = "p2"
share = 0.2
"""


def test_fixture_contracts_load():
    c = load_contract(FIXTURES / "contracts" / "peterborough.toml")
    assert isinstance(c, Contract) and c.version == "1.0" and c.currency == "GBP"
    o = c.outcome("reconviction_events")
    assert o.price == Decimal("2000") and o.gate.threshold == Decimal("0.10")
    assert o.pooled.threshold == Decimal("0.075") and o.pooled.catch_up
    assert [p.share for p in c.payers] == [Decimal("0.80"), Decimal("0.20")]
    assert c.caps.contract == Decimal("500000")
    # 12 months follow-up + 6 months court lag + 3 months analysis after the last entry
    assert c.cohort("cohort 1").measurable_from == dt.date(2014, 3, 30)
    assert len(c.sha256) == 64
    for name in ("rate_card", "ladder", "sliding_scale"):
        load_contract(FIXTURES / "contracts" / f"{name}.toml")


def test_evaluation_and_data_sections():
    c = load_contract(FIXTURES / "contracts" / "peterborough.toml")
    assert c.data.participants == (FIXTURES / "reoffending_small.csv").resolve()
    roles = c.data.column_roles()
    assert roles.id == "person_id" and "age" in roles.covariates and roles.outcomes == ("reconviction_events",)
    ev = c.evaluation
    assert ev.matching.ratio == 10 and ev.matching.exact == ("cohort",) and ev.matching.caliper == Decimal("0.2")
    assert ev.extract_date == dt.date(2016, 1, 31) and ev.se == "cluster"
    pay_only = parse_contract(BASE)
    assert pay_only.data is None and pay_only.evaluation is None


def test_add_months_clips_to_month_end():
    assert add_months(dt.date(2020, 1, 31), 1) == dt.date(2020, 2, 29)
    assert add_months(dt.date(2021, 12, 15), 21) == dt.date(2023, 9, 15)


def test_amendments_version_prices_from_their_date():
    text = BASE + """
[[amendments]]
version = 1.1
effective = 2021-04-01
description = "new price"
[amendments.prices]
events = 150
"""
    c = parse_contract(text)
    o = c.outcome("events")
    assert c.price(o, dt.date(2021, 3, 31)) == (Decimal(100), "1.0")
    assert c.price(o, dt.date(2021, 4, 1)) == (Decimal(150), "1.1")


def bad(old: str, new: str, match: str) -> None:
    assert old in BASE, old
    with pytest.raises(SopEvalError, match=match):
        parse_contract(BASE.replace(old, new, 1))


def test_unknown_key_names_its_path():
    bad('price = 100', 'price = 100\nprise = 3', r"outcomes\[0\]\.prise = 3: unknown key")
    bad('currency = "GBP"', 'currency = "GBP"\ncolour = "red"', r"contract\.colour")


def test_negative_price():
    bad("price = 100", "price = -5", r"outcomes\[0\]\.price = -5: expected a price .* >= 0")


def test_shares_must_sum_to_one():
    bad("share = 0.2", "share = 0.3", r"sum to 1\.1 \(110")


def test_gate_outside_zero_to_hundred_percent():
    bad("threshold = 0.1", "threshold = 1.5", r"outcomes\[0\]\.gate\.threshold")
    bad("threshold = 0.1", "threshold = -0.1", r"outcomes\[0\]\.gate\.threshold")


def test_pooled_gate_without_cohorts():
    text = BASE.replace('[[cohorts]]\nname = "c1"\nentry_start = 2020-01-01\nentry_end = 2020-12-31\n', "")
    text = text.replace("[outcomes.gate]", "[outcomes.pooled]\nthreshold = 0.075\ncohorts = []\n\n[outcomes.gate]")
    with pytest.raises(SopEvalError, match=r"pooled\.cohorts"):
        parse_contract(text)
    bad("[outcomes.gate]", '[outcomes.pooled]\nthreshold = 0.075\ncohorts = ["c9"]\n\n[outcomes.gate]', "c9|pooled")


def test_dates_out_of_order():
    bad("entry_end = 2020-12-31", "entry_end = 2019-12-31", r"cohorts\[0\]\.entry_end")
    text = BASE + '[[amendments]]\nversion = "0.9"\neffective = 2019-06-01\n'
    with pytest.raises(SopEvalError, match="not after"):
        parse_contract(text)


def test_currency_missing_or_malformed():
    bad('currency = "GBP"\n', "", r"contract\.currency is missing")
    bad('currency = "GBP"', 'currency = "pounds"', "ISO 4217")


def test_other_errors():
    bad('mechanism = "attributable"', 'mechanism = "bonus"', "one of")
    bad('design = "psm"', 'design = "guess"', "one of")
    bad("effective = 2020-01-01", 'effective = "first of January"', r"contract\.effective")
    bad('name = "p2"', 'name = "p1"', "unique")
    bad("[outcomes.gate]", "max_per_person = 2\n[outcomes.gate]", "not used by mechanism 'attributable'")
    with pytest.raises(SopEvalError, match="not valid TOML"):
        parse_contract("[contract\nname=")
    with pytest.raises(SopEvalError, match="does not exist"):
        load_contract("no/such/contract.toml")


def test_ladder_and_scale_validation():
    ladder = """
[contract]
name = "l"
version = "1"
effective = 2020-01-01
currency = "USD"
[[cohorts]]
name = "c"
[[outcomes]]
name = "o"
mechanism = "ladder"
design = "did"
[[outcomes.steps]]
at_least = 0.10
amount = 10
[[outcomes.steps]]
at_least = 0.05
amount = 20
[[payers]]
name = "city"
share = 1
"""
    with pytest.raises(SopEvalError, match="increasing order"):
        parse_contract(ladder)
    scale = ladder.split("[[outcomes.steps]]")[0].replace('"ladder"', '"sliding_scale"')
    scale += "floor = 1.4\nceiling = 0.5\namount = 100\n[[payers]]\nname = \"city\"\nshare = 1\n"
    with pytest.raises(SopEvalError, match="ceiling above the floor"):
        parse_contract(scale)


EVALUATION = BASE + """
[evaluation]
design = "psm"
[evaluation.matching]
method = "nearest"
distance = "glm"
"""


@pytest.mark.parametrize(
    "old, new, message",
    [
        ('method = "nearest"', 'method = "genetic"',
         r"evaluation\.matching\.method = 'genetic': not supported.*'nearest'.*'optimal'.*'full'"),
        ('method = "nearest"', 'method = "quick"', r"evaluation\.matching\.method = 'quick'"),
        ('distance = "glm"', 'distance = "probit"', r"evaluation\.matching\.distance = 'probit'.*'glm', 'logit'"),
        ('distance = "glm"', 'distance = "gbm"', r"evaluation\.matching\.distance = 'gbm'"),
        ('design = "psm"\n[evaluation.matching]', 'design = "psm"\nse = "jackknife"\n[evaluation.matching]',
         r"evaluation\.se = 'jackknife': not a standard error sop_eval computes.*'cluster'"),
        ('design = "psm"\n[evaluation.matching]', 'design = "psm"\n[evaluation.did]\n[evaluation.matching]',
         r"evaluation\.did = .*not used by design 'psm'"),
    ],
)
def test_settings_the_engine_does_not_run_are_refused_at_parse_time(old, new, message):
    assert old in EVALUATION
    with pytest.raises(SopEvalError, match=message):
        parse_contract(EVALUATION.replace(old, new, 1))


def test_vocabulary_drives_the_parser():
    for method in vocabulary.EVALUATION_MATCH_METHODS:
        assert parse_contract(EVALUATION.replace('"nearest"', f'"{method}"')).evaluation.matching.method == method


def test_distance_is_recorded_as_written():
    c = parse_contract(EVALUATION.replace('distance = "glm"', 'distance = "logit"'))
    assert c.evaluation.matching.distance == "logit" and c.evaluation.matching.score == "linear_logit"


def test_data_keys_nothing_reads_are_refused():
    with pytest.raises(SopEvalError, match=r"data\.estimates = 'e\.json': .*sop-eval pay --estimates"):
        parse_contract(BASE + '[data]\nestimates = "e.json"\n')
    with pytest.raises(SopEvalError, match=r"data\.columns\.unit = 'area': not used by design 'psm'"):
        parse_contract(EVALUATION + '[data]\n[data.columns]\nunit = "area"\n')


def test_cohort_size_is_read():
    c = parse_contract(BASE.replace("entry_end = 2020-12-31", "entry_end = 2020-12-31\nsize = 40"))
    assert c.cohort("c1").size == 40
    bad("entry_end = 2020-12-31", "entry_end = 2020-12-31\nsize = 0", r"cohorts\[0\]\.size = 0")


def test_an_se_the_matching_cannot_use_names_the_contract_key_that_would_allow_it():
    text = EVALUATION.replace('design = "psm"\n[evaluation.matching]',
                              'design = "psm"\nse = "abadie-imbens"\n[evaluation.matching]')
    assert "replace = true" not in text
    with pytest.raises(SopEvalError, match=r"evaluation\.se = 'abadie-imbens': not available with "
                       r"\[evaluation\.matching\] replace = false.*set replace = true under \[evaluation\.matching\]"):
        parse_contract(text)


def test_a_gate_states_its_significance_as_a_level_like_every_interval():
    gate = '[outcomes.gate]\nmeasure = "relative_reduction"\nthreshold = 0.10\n'
    text = (FIXTURES / "contracts" / "demo.toml").read_text()
    assert gate in text
    as_level = parse_contract(text.replace(gate, gate + "level = 0.9\n"))
    as_alpha = parse_contract(text.replace(gate, gate + "alpha = 0.1\n"))
    assert as_level.outcomes[0].gate == as_alpha.outcomes[0].gate
    with pytest.raises(SopEvalError, match=r"gate\.level = 0\.9: give either level or alpha"):
        parse_contract(text.replace(gate, gate + "level = 0.9\nalpha = 0.1\n"))
