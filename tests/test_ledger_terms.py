"""Restated terms, claim dates and duplicates at import, due dates of runs, the chain head and the CLI help."""

import pytest

import sop_eval.ledger.ledger as ledger_module
from ledger_support import contract_text, write_claims
from sop_eval.errors import SopEvalError
from sop_eval.ledger import Ledger
from sop_eval.ledger.ledger import run_body as old_run_body
from sop_eval.payments import calculate

ROWS = [("p1", "housed", "2024-02-01", "true"), ("p2", "employed", "2024-03-01", "true")]


@pytest.fixture
def made(tmp_path):
    contract = tmp_path / "c.toml"
    contract.write_text(contract_text())
    ledger = Ledger.init(tmp_path / "c.ledger.sqlite", contract)
    ledger.import_claims(write_claims(tmp_path / "claims.csv", ROWS))
    ledger.pay("2024-06-30")
    yield ledger, contract, tmp_path
    ledger.close()


@pytest.mark.parametrize(("old", "new", "named"), [
    ("price = 1000", "price = 2000", "price of outcome housed: 1000 -> 2000"),
    ("share = 0.8", "share = 0.5", "share of payer council: 0.8 -> 0.5"),
])
def test_restating_the_same_version_with_other_money_terms_is_refused(made, old, new, named):
    ledger, contract, tmp = made
    changed = tmp / "changed.toml"
    text = contract.read_text().replace(old, new, 1)
    if "share" in old:
        text = text.replace("share = 0.2", "share = 0.5")
    changed.write_text(text)
    paid = ledger.runs()[-1].total
    with pytest.raises(SopEvalError, match="money terms") as err:
        ledger.record_contract(changed.read_text(), str(changed), "restated")
    assert named in str(err.value) and "ledger variation" in str(err.value) and "new version" in str(err.value)
    assert ledger.contract.outcome("housed").price == 1000 and ledger.verify().ok
    assert ledger.pay("2024-07-31").total == 0 and ledger.runs()[0].total == paid


def test_restating_metadata_at_the_same_version_is_recorded(made):
    ledger, contract, tmp = made
    restated = tmp / "ids.toml"
    restated.write_text(contract.read_text().replace('currency = "GBP"', 'currency = "GBP"\n'
                                                     'provider_organisation_id = "GB-COH-1"')
                        .replace('name = "council"', 'name = "council"\norganisation_id = "GB-LAE-LDS"'))
    assert ledger.record_contract(restated.read_text(), str(restated), "organisation identifiers") > 0
    assert ledger.contract.provider_organisation_id == "GB-COH-1"
    assert ledger.pay("2024-07-31").total == 0 and ledger.verify().ok


def test_a_run_pays_only_claims_due_by_its_period_end_as_pay_states(tmp_path):
    contract = tmp_path / "c.toml"
    contract.write_text(contract_text().replace('currency = "GBP"', 'currency = "GBP"\npayment_terms_days = 30'))
    claims = write_claims(tmp_path / "claims.csv", [("p1", "housed", "2024-03-20", "true")])
    schedule = calculate(contract, claims=claims, as_of="2024-03-31")
    assert [ln.due.isoformat() for ln in schedule.lines] == ["2024-04-19"]
    with Ledger.init(tmp_path / "c.ledger.sqlite", contract) as ledger:
        ledger.import_claims(claims)
        assert ledger.pay("2024-03-31").total == 0
        assert ledger.pay("2024-04-18").total == 0
        assert ledger.pay("2024-04-19").total == 1000
        assert ledger.runs()[-1].lines[0]["council paid now"] == 800
        assert ledger.verify().ok


def test_runs_recorded_before_the_due_date_rule_still_verify(tmp_path, monkeypatch):
    contract = tmp_path / "c.toml"
    contract.write_text(contract_text().replace('currency = "GBP"', 'currency = "GBP"\npayment_terms_days = 30'))
    claims = write_claims(tmp_path / "claims.csv", [("p1", "housed", "2024-03-20", "true")])
    with Ledger.init(tmp_path / "c.ledger.sqlite", contract) as ledger:
        ledger.import_claims(claims)
        monkeypatch.setattr(ledger_module, "run_body", lambda state, end: old_run_body(state, end, by_due=False))
        assert ledger.pay("2024-03-31").total == 1000  # as runs were recorded before
        monkeypatch.undo()
        assert ledger.verify().ok
        assert ledger.pay("2024-04-30").total == 0 and ledger.verify().ok
