"""The ledger on a real PostgreSQL server (started here in a temporary directory, stopped afterwards)."""

import os
import signal
import threading
import time
from decimal import Decimal

import pytest

from ledger_support import PostgresServer, contract_text, postgres_bin, start_pay, write_claims
from sop_eval.ledger import Ledger
from sop_eval.ledger.store import LedgerBusy
from sop_eval.payments import calculate

BIN = postgres_bin()
pytestmark = pytest.mark.skipif(BIN is None, reason="PostgreSQL server binaries (initdb, pg_ctl) are not installed "
                                                    "under /usr/lib/postgresql/*/bin; install Debian's postgresql")


@pytest.fixture(scope="module")
def server():
    s = PostgresServer(BIN).start()
    yield s
    s.stop()


@pytest.fixture
def made(server, tmp_path, request):
    url = server.create_database(request.node.name.lower()[:60])
    contract = tmp_path / "c.toml"
    contract.write_text(contract_text(per_person="3000", fund_cap="700"))
    rows = [(f"p{i % 5}", "housed" if i % 2 else "employed", f"2024-{1 + i % 12:02d}-10", "true") for i in range(30)]
    claims = write_claims(tmp_path / "claims.csv", rows)
    ledger = Ledger.init(url, contract)
    yield ledger, url, contract, claims
    ledger.close()


def test_postgres_ledger_pays_like_the_calculator_and_verifies(made):
    ledger, url, contract, claims = made
    assert ledger.store.dialect == "postgresql" and ledger.store.schema_version() == "0001"
    first = ledger.import_claims(claims)
    assert ledger.import_claims(claims).added == 0
    run = ledger.pay("2024-12-31")
    expected = calculate(contract, claims=claims)
    assert run.total == expected.total and run.total > 0
    assert run.by_payer["central fund"] == Decimal("700.00")  # the fund's cap over the life
    assert ledger.reconcile().total_balance == 0
    assert ledger.verify().ok and ledger.verify().entries == first.added + 3


def test_postgres_entries_are_append_only(made):
    ledger, *_ = made
    from sqlalchemy import text

    with pytest.raises(Exception, match="append-only"):
        with ledger.store.writing() as conn:
            conn.execute(text("UPDATE ledger_entries SET kind = 'x'"))


def test_postgres_two_runs_at_once_one_refuses(made):
    ledger, url, _, claims = made
    ledger.import_claims(claims)
    inside, release = threading.Event(), threading.Event()
    done = {}

    def first():
        with Ledger(url) as mine:
            done["run"] = mine.pay("2024-12-31", before_commit=lambda: (inside.set(), release.wait(30)))

    worker = threading.Thread(target=first)
    worker.start()
    assert inside.wait(30)
    with Ledger(url) as other:
        with pytest.raises(LedgerBusy):
            other.pay("2024-12-31")
        assert other.state().runs == []  # the first run is not visible before it commits
    release.set()
    worker.join(30)
    assert done["run"].total > 0 and len(ledger.state().runs) == 1


def _backends(ledger):
    """``(pid, state)`` of the server's other client backends on the ledger's database, and the advisory locks
    held on it."""
    from sqlalchemy import text

    with ledger.store.engine.connect() as conn:
        rows = conn.execute(text("SELECT pid, state FROM pg_stat_activity WHERE datname = current_database() "
                                 "AND backend_type = 'client backend' AND pid <> pg_backend_pid()")).all()
        locks = conn.execute(text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted")).scalar()
    return {int(pid): state for pid, state in rows}, int(locks)


def test_postgres_kill_9_during_a_run_leaves_nothing_partial(made):
    ledger, url, _, claims = made
    ledger.import_claims(claims)
    before = ledger.state().last_seq
    ledger.store.close()  # pooled connections of this process are not the writer's
    proc = start_pay(url, "time.sleep(60)")
    try:
        assert proc.stdout.readline().strip() == "inside"  # the run's entry is written, not committed
        writers, locks = _backends(ledger)
        assert list(writers.values()) == ["idle in transaction"] and locks == 1  # the writer holds the lock
        assert ledger.state().last_seq == before  # and nothing it wrote is visible
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(30)
    # the server rolls the transaction back when it sees the client's connection close
    deadline = time.monotonic() + 30
    while _backends(ledger) != ({}, 0):
        assert time.monotonic() < deadline, "the killed writer's backend did not end"
        time.sleep(0.05)
    state = ledger.state()
    assert state.last_seq == before and state.runs == []
    assert ledger.verify().ok
    run = ledger.pay("2024-12-31")  # the lock died with the writer
    assert run.total > 0 and run.seq == before + 1
    assert ledger.verify().ok and len(ledger.state().runs) == 1
