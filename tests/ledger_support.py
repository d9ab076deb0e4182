"""Shared helpers of the ledger tests: small contracts, claims files and a throwaway PostgreSQL server."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

RATE_CARD = """
[contract]
name = "Ledger test rate card"
version = "1.0"
effective = 2024-01-01
currency = "GBP"

[[outcomes]]
name = "housed"
mechanism = "rate_card"
design = "assumed_rate"
price = 1000

[[outcomes]]
name = "employed"
mechanism = "rate_card"
design = "assumed_rate"
price = 2500
{outcome_cap}

[[payers]]
name = "council"
share = {share_council}
{council_cap}

[[payers]]
name = "central fund"
share = {share_fund}
{fund_cap}

[caps]
{caps}
"""


def contract_text(share: str = "0.8", per_person: str | None = None, contract_cap: str | None = None,
                  council_cap: str | None = None, fund_cap: str | None = None, outcome_cap: str | None = None) -> str:
    """A two-outcome, two-payer rate-card contract with optional caps."""
    caps = "\n".join(f"{k} = {v}" for k, v in (("per_person", per_person), ("contract", contract_cap)) if v)
    return RATE_CARD.format(
        share_council=share, share_fund=str(1 - __import__("decimal").Decimal(share)),
        council_cap=f"cap = {council_cap}" if council_cap else "", fund_cap=f"cap = {fund_cap}" if fund_cap else "",
        outcome_cap=f"cap = {outcome_cap}" if outcome_cap else "", caps=caps)


def write_claims(path: Path, rows: list[tuple[str, str, str, str]], evidence: bool = True) -> Path:
    """A claims CSV of (person, outcome, date, validated) rows."""
    head = "person,outcome,date,validated" + (",evidence" if evidence else "")
    lines = [head] + [",".join(r) + (f",EV-{i + 1}" if evidence else "") for i, r in enumerate(rows)]
    path.write_text("\n".join(lines) + "\n")
    return path


def pay_script(db: str | Path, hold: str, period_end: str = "2024-12-31") -> str:
    """Python source that runs a payment run on ``db`` and, inside its transaction with the run's entry written
    but not committed, prints ``inside`` and executes ``hold``."""
    src = str(Path(__file__).parent.parent / "src")
    return textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {src!r})
        from sop_eval.ledger import Ledger
        ledger = Ledger({str(db)!r})
        def hold():
            print("inside", flush=True)
            {hold}
        ledger.pay({period_end!r}, before_commit=hold)
        print("done", flush=True)
    """)


def start_pay(db: str | Path, hold: str) -> subprocess.Popen[str]:
    """A subprocess running :func:`pay_script`, its stdout piped."""
    return subprocess.Popen([sys.executable, "-c", pay_script(db, hold)], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})


def postgres_bin() -> Path | None:
    """The newest installed PostgreSQL server's bin directory (Debian layout), None when not installed."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    """A PostgreSQL server in a temporary directory on a free port, as a non-root user when run as root."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.dir = Path(tempfile.mkdtemp(prefix="sop-eval-pg-"))
        self.port = _free_port()
        self.prefix: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
            os.chmod(self.dir, 0o700)
            self.prefix = ["runuser", "-u", "postgres", "--"]
        self.data = self.dir / "data"

    def _run(self, *args: str) -> None:
        subprocess.run([*self.prefix, *args], check=True, capture_output=True, timeout=120)

    def start(self) -> PostgresServer:
        self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=on"
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-o", opts, "-l", str(self.dir / "log"),
                  "-w", "start")
        for _ in range(50):
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    break
            except OSError:
                time.sleep(0.1)
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        try:
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
