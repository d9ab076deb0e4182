"""Ledger reliability: one writer at a time, nothing partial after a kill, no committed entry lost, and
properties of the money (conserved, capped, reconciled, imported once)."""

import os
import signal
import sqlite3
import subprocess
import sys
import threading
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger_support import contract_text, pay_script, start_pay, write_claims
from sop_eval.errors import SopEvalError
from sop_eval.ledger import Ledger
from sop_eval.ledger.store import LedgerBusy
from sop_eval.payments import calculate

ROWS = [(f"p{i % 7}", "housed" if i % 3 else "employed", f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}", "true")
        for i in range(60)]


@pytest.fixture
def ledger_path(tmp_path):
    contract = tmp_path / "c.toml"
    contract.write_text(contract_text(per_person="3000"))
    db = tmp_path / "c.ledger.sqlite"
    with Ledger.init(db, contract) as ledger:
        ledger.import_claims(write_claims(tmp_path / "claims.csv", ROWS))
    return db


def test_two_runs_at_once_one_completes_the_other_refuses(ledger_path):
    inside, release = threading.Event(), threading.Event()
    outcome = {}

    def first():
        with Ledger(ledger_path) as ledger:
            outcome["first"] = ledger.pay("2024-12-31", before_commit=lambda: (inside.set(), release.wait(30)))

    worker = threading.Thread(target=first)
    worker.start()
    assert inside.wait(30)
    with Ledger(ledger_path) as other, pytest.raises(LedgerBusy, match="busy"):
        other.pay("2024-12-31")
    release.set()
    worker.join(30)
    assert outcome["first"].total > 0
    with Ledger(ledger_path) as ledger:
        assert len(ledger.state().runs) == 1 and ledger.verify().ok


def test_kill_9_during_a_run_leaves_nothing_partial(ledger_path):
    with Ledger(ledger_path) as ledger:
        before = ledger.state().last_seq
    proc = start_pay(ledger_path, "time.sleep(60)")
    assert proc.stdout.readline().strip() == "inside"  # the run's entry is written, not committed
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(30)
    with Ledger(ledger_path) as ledger:
        assert ledger.state().last_seq == before and ledger.state().runs == []
        assert ledger.verify().ok
        assert ledger.pay("2024-12-31").total > 0  # the lock died with the process


def test_power_cut_loses_no_committed_entry(ledger_path):
    # a process commits a run and dies at once, without closing anything
    script = pay_script(ledger_path, "pass", "2024-06-30") + "import os; os._exit(0)\n"
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60, capture_output=True,
                   env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    with Ledger(ledger_path) as ledger:
        committed = ledger.runs()[-1]
        assert committed.period_end.isoformat() == "2024-06-30" and committed.total > 0
    # a second writer is cut off mid-transaction: its connection closes without a commit
    con = sqlite3.connect(ledger_path, isolation_level=None)
    con.execute("BEGIN IMMEDIATE")
    con.execute("INSERT INTO ledger_entries VALUES (999, 'adjustment', NULL, '{}', 'x', 'y')")
    con.close()
    with Ledger(ledger_path) as ledger:
        state = ledger.state()
        assert state.last_seq == committed.seq and state.runs[-1]["seq"] == committed.seq
        assert ledger.verify().ok


# -- properties -------------------------------------------------------------------------------------

claim_rows = st.lists(
    st.tuples(st.sampled_from(["a", "b", "c", "d"]), st.sampled_from(["housed", "employed"]),
              st.dates(min_value=__import__("datetime").date(2024, 1, 1),
                       max_value=__import__("datetime").date(2024, 12, 31)).map(str),
              st.sampled_from(["true", "false"])),
    min_size=1, max_size=25, unique_by=lambda r: r[:3])
caps = st.fixed_dictionaries({
    "share": st.sampled_from(["0.8", "0.75", "0.667", "1"]),
    "per_person": st.sampled_from([None, "1500", "3000"]),
    "contract_cap": st.sampled_from([None, "4000", "9999.99"]),
    "council_cap": st.sampled_from([None, "2000", "5000"]),
    "fund_cap": st.sampled_from([None, "600"]),
    "outcome_cap": st.sampled_from([None, "5000"]),
})
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _fresh(tmp_path_factory, terms):
    d = tmp_path_factory.mktemp("prop")
    contract = d / "c.toml"
    share = terms["share"]
    text = contract_text(**{k: v for k, v in terms.items()})
    if share == "1":
        text = text.replace('name = "central fund"\nshare = 0', 'name = "central fund"\nshare = 0.0')
    contract.write_text(text)
    return d, contract, Ledger.init(d / "l.sqlite", contract)


@SETTINGS
@given(rows=claim_rows, terms=caps, cut=st.integers(0, 24))
def test_money_is_conserved_capped_and_reconciled(tmp_path_factory, rows, terms, cut):
    d, contract, ledger = _fresh(tmp_path_factory, terms)
    with ledger:
        first = write_claims(d / "a.csv", rows[:cut])
        second = write_claims(d / "b.csv", rows[cut:])
        if cut:
            ledger.import_claims(first)
            ledger.pay("2024-06-30")
        ledger.import_claims(second)
        ledger.pay("2024-12-31")
        state = ledger.state()
        c = state.contract
        paid = dict(zip(state.payers, state.paid(), strict=True))
        due = ledger.due()
        # conserved: every group's payer parts add up to its claims' amounts, which are never above gross
        frame = due.claims
        assert int(frame[state.payers].sum(axis=1).sum()) == int(frame["amount"].sum()) == sum(paid.values())
        assert (frame["amount"] <= frame["gross"]).all()
        # never above a cap over the life
        for payer in c.payers:
            if payer.cap is not None:
                assert paid[payer.name] <= int(payer.cap * 100)
        if c.caps.contract is not None:
            assert sum(paid.values()) <= int(c.caps.contract * 100)
        if c.caps.per_person is not None and len(frame):
            assert frame.groupby("person")["amount"].sum().max() <= int(c.caps.per_person * 100)
        for o in c.outcomes:
            if o.cap is not None:
                assert frame.loc[frame["outcome"] == o.name, "amount"].sum() <= int(o.cap * 100)
        # interim equals final: the balance is zero
        assert ledger.reconcile().total_balance == 0
        # the same as the payment calculator on the same claims, in one go (same-date claims in file order)
        if cut == 0:
            expected = calculate(contract, claims=second)
            assert {p: v for p, v in expected.by_payer.items()} == {p: Decimal(v) / 100 for p, v in paid.items()}


@SETTINGS
@given(rows=claim_rows, repeat=st.integers(0, 3))
def test_imports_are_idempotent(tmp_path_factory, rows, repeat):
    d, _, ledger = _fresh(tmp_path_factory, {"share": "0.8"})
    with ledger:
        path = write_claims(d / "a.csv", rows + rows[:repeat], evidence=False)
        try:
            first = ledger.import_claims(path)
        except SopEvalError as exc:
            assert "same claim as row" in str(exc)
            return
        seq = ledger.state().last_seq
        again = ledger.import_claims(path)
        assert again.added == 0 and again.already + again.repeated == first.rows and again.already == first.added
        assert ledger.state().last_seq == seq
