"""The ledger records, computes and verifies: imports, prices, samples, evaluations, runs, clawbacks."""

import json
import sqlite3
from decimal import Decimal

import pytest
from sqlalchemy import text

from ledger_support import contract_text, write_claims
from sop_eval.cli import main
from sop_eval.errors import SopEvalError
from sop_eval.ledger import Ledger
from sop_eval.ledger.chain import GENESIS, canonical, entry_hash
from sop_eval.outputs import dumps
from sop_eval.payments import calculate, parse_contract

ROWS = [("p1", "housed", "2024-02-01", "true"), ("p1", "employed", "2024-03-01", "true"),
        ("p2", "housed", "2024-02-15", "true"), ("p3", "housed", "2024-05-01", "false"),
        ("p2", "housed", "2024-06-01", "true"), ("p4", "employed", "2024-07-10", "true")]


@pytest.fixture
def made(tmp_path):
    contract = tmp_path / "c.toml"
    contract.write_text(contract_text(per_person="3000"))
    claims = write_claims(tmp_path / "claims.csv", ROWS)
    ledger = Ledger.init(tmp_path / "c.ledger.sqlite", contract)
    yield ledger, contract, claims, tmp_path
    ledger.close()


def test_sqlite_file_is_in_wal_mode_with_the_first_migration(made):
    ledger, _, _, tmp = made
    con = sqlite3.connect(tmp / "c.ledger.sqlite")
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert con.execute("SELECT version_num FROM ledger_alembic_version").fetchone()[0] == "0001"


def test_entries_are_hash_chained_over_canonical_json(made):
    ledger, *_ = made
    with ledger.store.reading() as conn:
        rows = conn.execute(text("SELECT seq, kind, key, body, prev_hash, hash FROM ledger_entries ORDER BY seq")).all()
    prev = GENESIS
    for seq, kind, key, body, prev_hash, digest in rows:
        assert prev_hash == prev
        assert body == canonical(json.loads(body))
        assert digest == entry_hash(seq, kind, key, body, prev)
        prev = digest


def test_entries_are_append_only_in_the_database(made):
    ledger, *_ = made
    with pytest.raises(Exception, match="append-only"):
        with ledger.store.writing() as conn:
            conn.execute(text("DELETE FROM ledger_entries"))


def test_import_is_idempotent_and_matches_the_payment_calculator(made):
    ledger, contract, claims, _ = made
    first = ledger.import_claims(claims)
    again = ledger.import_claims(claims)
    assert (first.added, again.added, again.already) == (6, 0, 6)
    run = ledger.pay("2024-12-31")
    expected = calculate(contract, claims=claims)
    assert run.by_payer == {k: v for k, v in expected.by_payer.items()}
    assert run.total == expected.total
    assert run.caps == {"per-person cap": Decimal("500.00")}


def test_a_conflicting_duplicate_is_refused_by_row_never_by_person(made, tmp_path):
    ledger, _, claims, _ = made
    ledger.import_claims(claims)
    changed = [r if i != 2 else (r[0], r[1], r[2], "false") for i, r in enumerate(ROWS)]
    other = write_claims(tmp_path / "changed.csv", changed)
    with pytest.raises(SopEvalError, match=r"row 3 conflicts with claim") as err:
        ledger.import_claims(other)
    assert "p2" not in str(err.value)
    same_file_twice = write_claims(tmp_path / "dup.csv", [ROWS[0], (*ROWS[0][:3], "false")])
    with pytest.raises(SopEvalError, match=r"row 2 is the same claim as row 1"):
        ledger.import_claims(same_file_twice)


def test_person_references_are_not_stored(made):
    ledger, _, claims, tmp = made
    ledger.import_claims(claims)
    raw = (tmp / "c.ledger.sqlite").read_bytes() + (tmp / "c.ledger.sqlite-wal").read_bytes()
    assert b'"p1"' not in raw and b'"p2"' not in raw


def test_pay_pays_due_less_paid_and_a_second_run_pays_nothing(made):
    ledger, _, claims, _ = made
    ledger.import_claims(claims)
    first = ledger.pay("2024-03-31")
    # by 31 March: p1 housed 1000 + employed 2500 (per-person cap 3000 cuts 500), p2 housed 1000
    assert first.total == Decimal("4000.00")
    assert first.caps == {"per-person cap": Decimal("500.00")}
    assert first.by_payer == {"council": Decimal("3200.00"), "central fund": Decimal("800.00")}
    assert first.top_up == Decimal("800.00")
    second = ledger.pay("2024-03-31")
    assert second.total == 0 and second.lines == ()
    third = ledger.pay("2024-12-31")
    assert third.total == Decimal("2500.00")  # p4 employed; p2's second housed is a duplicate, p3 not validated
    with pytest.raises(SopEvalError, match="before the last run"):
        ledger.pay("2024-06-30")


def test_variation_prices_by_achievement_date_and_index_uplift(made, tmp_path):
    ledger, _, claims, _ = made
    ledger.import_claims(claims)
    ledger.add_variation("2.0", "2024-06-01", "rate card revised", {"employed": "3000"})
    ledger.set_index("CPI", "2024-01-01", [("2024-01-01", "100"), ("2024-07-01", "104")])
    ledger.pay("2024-12-31")
    due = ledger.due()
    frame = due.claims.set_index("date")
    p4 = frame.loc[frame["outcome"] == "employed"].iloc[-1]
    assert p4["version"] == "2.0" and p4["gross"] == 312000  # 3000 x 104/100, in pence
    with pytest.raises(SopEvalError, match="not after"):
        ledger.add_variation("3.0", "2024-05-01", "back-dated", {})


def test_sample_error_rate_adjusts_unsampled_claims(tmp_path):
    contract = tmp_path / "c.toml"
    contract.write_text(contract_text())
    rows = [(f"q{i}", "housed", f"2024-0{1 + i % 3}-{10 + i % 15}", "true") for i in range(200)]
    claims = write_claims(tmp_path / "claims.csv", rows)
    with Ledger.init(tmp_path / "l.sqlite", contract) as ledger:
        ledger.import_claims(claims)
        seq, sample = ledger.draw_sample("2024-01-01", "2024-03-31", fraction=0.25, seed=7)
        assert len(sample) == 50
        again = ledger.state().samples[seq].claims
        assert again == sorted(sample["claim"].tolist())
        bad = sample["claim"].tolist()[:2]
        result = ledger.record_findings(seq, {c: "invalid" if c in bad else "valid" for c in sample["claim"]})
        assert result.rate == pytest.approx(0.04)
        lo, hi = result.conf_int
        assert 0 <= lo < 0.04 < hi
        run = ledger.pay("2024-03-31")
        # 48 valid sampled claims in full, 150 unsampled at 96%, 2 invalid at nothing
        assert run.total == Decimal(48 * 1000 + 150 * 960)
        with pytest.raises(SopEvalError, match="already has findings"):
            ledger.record_findings(seq, {})


def test_clawback_recovers_and_reconciliation_balances(made):
    ledger, _, claims, _ = made
    ledger.import_claims(claims)
    ledger.pay("2024-12-31")
    assert ledger.reconcile().total_balance == 0
    claim = ledger.state().claim_seq[-1]  # p4 employed, 2500
    back = ledger.clawback([claim], "evidence of employment not found")
    assert back.total == Decimal("-2500.00")
    assert ledger.reconcile().total_balance == 0
    ledger.adjust("council", "-100", "late-payment deduction agreed")
    assert ledger.reconcile().balance["council"] == Decimal("-100.00")
    assert ledger.verify().ok


def _bundle(tmp_path, estimates, name):
    from importlib import resources

    from sop_eval.payments import load_contract

    path = resources.files("sop_eval") / "fixtures/contracts/peterborough.toml"
    schedule = calculate(load_contract(path), estimates=estimates)
    out = tmp_path / name
    out.mkdir()
    results = dumps({"payments": schedule.to_dict()})
    (out / "results.json").write_text(results)
    import hashlib

    (out / "audit.json").write_text(dumps({"results_sha256": hashlib.sha256(results.encode()).hexdigest()}))
    return out, path


def test_pooled_catch_up_pays_pooled_due_less_cohort_payments(tmp_path):
    est1 = {"cohort": "cohort 1", "n_treated": 1000, "treated_events": 1420, "comparison_mean": 1.55, "se": 0.06}
    est2 = {"cohort": "cohort 2", "n_treated": 1000, "treated_events": 1380, "comparison_mean": 1.55, "se": 0.06}
    interim, path = _bundle(tmp_path, [est1], "interim")
    final, _ = _bundle(tmp_path, [est1, est2], "final")
    with Ledger.init(tmp_path / "l.sqlite", path) as ledger:
        ledger.add_evaluation(interim, stage="interim")
        assert ledger.pay("2013-01-01").total == 0  # cohort 1 missed its 10% gate
        ledger.add_evaluation(final, stage="final")
        run = ledger.pay("2016-01-01")
        groups = {line["group"]: line for line in run.lines}
        assert any("pooled" in g for g in groups)
        expected = calculate(parse_contract(path.read_text()), estimates=[est1, est2])
        assert run.total == expected.total
        (final / "results.json").write_text("{}")
        with pytest.raises(SopEvalError, match="changed since the run"):
            ledger.add_evaluation(final)


def test_verify_names_the_first_tampered_entry(made):
    ledger, _, claims, tmp = made
    ledger.import_claims(claims)
    ledger.pay("2024-12-31")
    assert main(["ledger", "verify", "--db", str(tmp / "c.ledger.sqlite")]) == 0
    con = sqlite3.connect(tmp / "c.ledger.sqlite")
    con.execute("DROP TRIGGER ledger_entries_no_update")
    body = con.execute("SELECT body FROM ledger_entries WHERE seq = 3").fetchone()[0]
    con.execute("UPDATE ledger_entries SET body = ? WHERE seq = 3", (body.replace('"housed"', '"employed"'),))
    con.commit()
    con.close()
    result = ledger.verify()
    assert not result.ok and result.broken.startswith("entry 3 (claim)")
    assert main(["ledger", "verify", "--db", str(tmp / "c.ledger.sqlite")]) == 1


def test_verify_recomputes_payment_runs(made):
    ledger, _, claims, tmp = made
    ledger.import_claims(claims)
    run = ledger.pay("2024-12-31")
    # rewrite the run with a larger figure and re-chain everything after it: the chain is whole, the sums are not
    con = sqlite3.connect(tmp / "c.ledger.sqlite")
    con.execute("DROP TRIGGER ledger_entries_no_update")
    body = json.loads(con.execute("SELECT body FROM ledger_entries WHERE seq = ?", (run.seq,)).fetchone()[0])
    body["paid"][0] += 100
    prev = con.execute("SELECT hash FROM ledger_entries WHERE seq = ?", (run.seq - 1,)).fetchone()[0]
    text_ = canonical(body)
    con.execute("UPDATE ledger_entries SET body = ?, hash = ? WHERE seq = ?",
                (text_, entry_hash(run.seq, "payment_run", None, text_, prev), run.seq))
    con.commit()
    result = ledger.verify()
    assert result.broken is None and result.differences[0].startswith(f"entry {run.seq} (payment_run)")


def test_cli_workflow_and_one_line_errors(tmp_path, capsys):
    contract = tmp_path / "c.toml"
    contract.write_text(contract_text())
    claims = write_claims(tmp_path / "claims.csv", ROWS)
    db = str(tmp_path / "c.ledger.sqlite")
    assert main(["ledger", "init", "--contract", str(contract)]) == 0
    assert main(["ledger", "claims", "import", "--db", db, str(claims)]) == 0
    assert main(["ledger", "sample", "--db", db, "--start", "2024-01-01", "--end", "2024-12-31", "--fraction", "0.5",
                 "--minimum", "1", "--out", str(tmp_path / "s.csv")]) == 0
    sampled = (tmp_path / "s.csv").read_text().splitlines()[1].split(",")[0]
    (tmp_path / "f.csv").write_text(f"claim,finding\n{sampled},valid\n")
    sample_seq = max(s for s in Ledger(db).state().samples)
    assert main(["ledger", "findings", "--db", db, "--sample", str(sample_seq), str(tmp_path / "f.csv")]) == 0
    assert main(["ledger", "pay", "--db", db, "--period-end", "2024-12-31"]) == 0
    assert main(["ledger", "reconcile", "--db", db]) == 0
    assert main(["ledger", "statement", "--db", db, "--payer", "central fund", "--out", str(tmp_path / "s.html")]) == 0
    assert "Statement for central fund" in (tmp_path / "s.html").read_text()
    capsys.readouterr()
    assert main(["ledger", "export", "--db", db, "--out", str(tmp_path / "i.json")]) == 0
    err = capsys.readouterr().err  # one warning line per payer without an organisation identifier
    assert err.count("warning: INDIGO export:") == 2 and "[[payers]] named 'central fund'" in err
    assert main(["ledger", "claims", "import", "--db", db, str(tmp_path / "missing.csv")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "missing.csv" in err
    assert main(["ledger", "pay", "--db", str(tmp_path / "none.sqlite"), "--period-end", "2024-01-01"]) == 2
    assert "none.sqlite" in capsys.readouterr().err
    assert main(["ledger", "statement", "--db", db, "--payer", "nobody", "--out", str(tmp_path / "x.html")]) == 2


def test_claim_text_is_stored_as_canonical_json(tmp_path):
    contract = tmp_path / "c.toml"
    contract.write_text(contract_text())
    claims = tmp_path / "claims.csv"
    claims.write_text('person,outcome,date,validated,evidence\nx,housed,2024-01-05,yes,"réf ""7"" \\ n°2"\n')
    with Ledger.init(tmp_path / "l.sqlite", contract) as ledger:
        ledger.import_claims(claims)
        assert ledger.verify().ok
        assert ledger.state().claim_evidence == ['réf "7" \\ n°2']
