"""Restated terms, claim dates and duplicates at import, due dates of runs, the chain head and the CLI help."""

import shutil

import pytest

import sop_eval.ledger.ledger as ledger_module
from ledger_support import contract_text, write_claims
from sop_eval.cli import main
from sop_eval.errors import SopEvalError, SopEvalWarning
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


@pytest.mark.parametrize(("date", "what"), [("2023-12-31", "before the contract took effect on 2024-01-01"),
                                            ("2099-01-01", "after today")])
def test_claims_achieved_before_the_contract_or_in_the_future_are_refused_naming_rows(made, date, what):
    ledger, _, tmp = made
    path = write_claims(tmp / "odd.csv", [("p7", "housed", "2024-05-01", "true"), ("p8", "housed", date, "true")])
    before = ledger.state().last_seq
    with pytest.raises(SopEvalError, match=rf"row\(s\) 2 were achieved {what}") as err:
        ledger.import_claims(path)
    assert "p8" not in str(err.value) and "Correct their date or leave those rows out" in str(err.value)
    assert ledger.state().last_seq == before


def test_a_claim_repeating_an_outcome_on_another_date_is_flagged_as_pay_labels_it(made):
    ledger, contract, tmp = made
    rows = [("p5", "housed", "2024-04-01", "true"), ("p5", "housed", "2024-05-01", "true"),
            ("p5", "housed", "2024-04-01", "true"), ("p1", "housed", "2024-04-10", "true")]
    path = write_claims(tmp / "dup.csv", rows, evidence=False)
    labelled = [ln.claim_row for ln in calculate(contract, claims=path).lines if ln.status == "duplicate"]
    with pytest.warns(SopEvalWarning, match=r"row\(s\) 2, 4 claim an outcome .*claim 3 in the ledger, row 1.*clawback"):
        r = ledger.import_claims(path)
    assert labelled == [3, 2]  # pay: row 3 repeats row 1 exactly, row 2 is a later claim of the same outcome
    assert (r.added, r.repeated, r.already, r.duplicates) == (3, 1, 0, (2, 4))
    assert ledger.pay("2024-06-30").total == 1000 and ledger.verify().ok
    again = ledger.import_claims(path)
    assert (again.added, again.repeated, again.already, again.duplicates) == (0, 1, 3, ())
    claim = {b: s for s, b in zip(ledger.state().claim_seq, ledger.state().claim_row, strict=True)}
    ledger.clawback([3], "wrong person")  # p1's first claim withdrawn: its flagged repeat still pays nothing
    assert ledger.state().claim_status[ledger.state().claim_pos[claim[4]]] == "duplicate"


def test_verify_prints_the_head_and_finds_an_old_copy_or_a_cut_end_against_it(made, capsys):
    ledger, _, tmp = made
    db = str(tmp / "c.ledger.sqlite")
    old = tmp / "old.sqlite"
    ledger.close()
    shutil.copy(db, old)  # an old copy, taken before the next run
    with Ledger(db) as again:
        again.pay("2024-09-30")
        v = again.verify()
    assert v.ok and v.head == f"{v.last_seq}:{v.last_hash}" and len(v.last_hash) == 64
    assert main(["ledger", "verify", "--db", db]) == 0
    assert f"chain head: {v.head}" in capsys.readouterr().out
    for recorded in (v.head, str(v.last_seq), v.last_hash[:16]):
        assert main(["ledger", "verify", "--db", db, "--expect-head", recorded]) == 0
        assert main(["ledger", "verify", "--db", str(old), "--expect-head", recorded]) == 1
        assert "entries were removed from its end or an older copy was restored" in capsys.readouterr().out
    with Ledger(old) as restored:
        assert restored.verify().ok  # on its own, the old copy is a whole chain
        earlier = restored.verify().head
    assert main(["ledger", "verify", "--db", db, "--expect-head", earlier]) == 0  # later entries extend it
    assert main(["ledger", "verify", "--db", db, "--expect-head", "12:xyz"]) == 2


@pytest.mark.parametrize("command", [
    ["init"], ["claims"], ["claims", "import"], ["sample"], ["findings"], ["evaluation"], ["evaluation", "add"],
    ["variation"], ["index"], ["pay"], ["clawback"], ["adjust"], ["reconcile"], ["statement"], ["verify"], ["export"]])
def test_every_ledger_subcommand_help_has_examples_and_exit_codes(command, capsys):
    with pytest.raises(SystemExit) as done:
        main(["ledger", *command, "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert f"examples:\n  sop-eval ledger {' '.join(command)}" in out and "exit codes: 0" in out


def test_claims_after_the_day_the_file_was_received_are_refused(made):
    ledger, _, tmp = made
    path = write_claims(tmp / "late.csv", [("p7", "housed", "2024-06-30", "true"),
                                           ("p8", "housed", "2024-07-01", "true")])
    with pytest.raises(SopEvalError, match=r"row\(s\) 2 were achieved after the file was received \(2024-06-30\)"):
        ledger.import_claims(path, received="2024-06-30")
    assert ledger.import_claims(path, received="2024-07-01").added == 2
