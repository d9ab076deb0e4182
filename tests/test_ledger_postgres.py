"""The ledger on a real PostgreSQL server (started here in a temporary directory, stopped afterwards)."""

import threading
from decimal import Decimal

import pytest

from ledger_support import PostgresServer, contract_text, postgres_bin, write_claims
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
