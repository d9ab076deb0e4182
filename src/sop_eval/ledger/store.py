"""Where the ledger lives: an SQLAlchemy engine, its migrations, and one writer at a time.

A database is given as a path (a SQLite file, opened in WAL mode with ``synchronous=FULL`` so a committed
entry survives a power cut) or any SQLAlchemy URL (``postgresql+psycopg://…``). Writes go through
:meth:`Store.writing`, one transaction that first takes the ledger's write lock — ``BEGIN IMMEDIATE`` on
SQLite, a transaction-level advisory lock on PostgreSQL — and refuses at once, without waiting, when
another writer holds it. Entries are appended in bulk (``executemany``; ``COPY`` on PostgreSQL).
"""

from __future__ import annotations

import gc
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, select, text
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    NoSuchModuleError,
    OperationalError,
)

from sop_eval.errors import SopEvalError
from sop_eval.ledger.chain import GENESIS, Entry
from sop_eval.ledger.schema import entries

#: The advisory-lock key of ledger writers on PostgreSQL (any fixed 64-bit number).
PG_LOCK_KEY = 0x50E7_1ED6_E200_0001 - (1 << 63)
_URL = re.compile(r"^[a-z][a-z0-9+]*://")


class LedgerBusy(SopEvalError):
    """Another process is writing to the ledger; this write was refused (try again when it has finished)."""


def is_url(db: str | Path) -> bool:
    """True when ``db`` is an SQLAlchemy URL rather than a file path."""
    return bool(_URL.match(str(db)))


def _sqlite_engine(path: Path) -> Engine:
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 0})

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.isolation_level = None
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA cache_size=-262144")  # 256 MiB: bulk imports touch the key index everywhere
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("ledger_write") else "BEGIN")

    return engine


class Store:
    """The database behind one ledger (a SQLite file path or an SQLAlchemy URL)."""

    def __init__(self, db: str | Path) -> None:
        self.db = str(db)
        if is_url(db):
            self.where = re.sub(r"//[^@/]*@", "//", self.db)  # no password in messages
            try:
                self.engine = create_engine(self.db)
            except (ArgumentError, NoSuchModuleError, ImportError) as exc:
                raise SopEvalError(f"ledger database {self.where!r}: not a usable SQLAlchemy URL ({exc}); give a "
                                   "SQLite path or a URL such as postgresql+psycopg://user@host/db.") from None
        else:
            path = Path(db)
            if not path.parent.is_dir():
                raise SopEvalError(f"ledger database {str(path)!r}: folder {str(path.parent)!r} does not exist.")
            self.engine = _sqlite_engine(path)
            self.where = str(path)
        self.dialect = self.engine.dialect.name

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision (creates it in a new database)."""
        cfg = Config()
        cfg.set_main_option("script_location", str(resources.files("sop_eval.ledger") / "migrations"))
        with self.writing() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def schema_version(self) -> str | None:
        """The Alembic revision of the database, None before ``init``."""
        try:
            conn = self.engine.connect()
        except (OperationalError, DBAPIError) as exc:
            raise SopEvalError(f"ledger database {self.where!r} cannot be opened ({_first_line(exc)}).") from None
        try:
            return conn.exec_driver_sql("SELECT version_num FROM ledger_alembic_version").scalar()
        except (OperationalError, DBAPIError):
            return None
        finally:
            conn.close()

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """One write transaction holding the ledger's write lock; refuses at once if another writer has it."""
        try:
            conn = self.engine.connect().execution_options(ledger_write=True)
        except (OperationalError, DBAPIError) as exc:
            raise SopEvalError(f"ledger database {self.where!r} cannot be opened ({_first_line(exc)}).") from None
        try:
            try:
                conn.begin()
                if self.dialect == "postgresql":
                    got = conn.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": PG_LOCK_KEY}).scalar()
                    if not got:
                        raise LedgerBusy(f"ledger {self.where!r} is busy: another run is writing to it; try again "
                                         "when it has finished.")
            except OperationalError as exc:
                if "locked" in str(exc) or "busy" in str(exc):
                    raise LedgerBusy(f"ledger {self.where!r} is busy: another run is writing to it; try again when "
                                     "it has finished.") from None
                raise SopEvalError(f"ledger database {self.where!r}: {_first_line(exc)}") from None
            yield conn
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
        finally:
            conn.close()

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A read transaction (a consistent snapshot)."""
        with self.engine.connect() as conn, conn.begin():
            yield conn


@contextmanager
def bulk() -> Iterator[None]:
    """Pause the cyclic garbage collector while millions of small, acyclic objects are made (it would
    otherwise rescan them all again and again)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def head(conn: Connection) -> tuple[int, str]:
    """The last entry's ``(seq, hash)``, ``(0, GENESIS)`` for an empty ledger."""
    row = conn.execute(select(entries.c.seq, entries.c.hash).order_by(entries.c.seq.desc()).limit(1)).first()
    return (0, GENESIS) if row is None else (int(row[0]), str(row[1]))


def append_rows(conn: Connection, rows: Sequence[tuple[int, str, str | None, str, str, str]]) -> None:
    """Insert chained rows in bulk: ``COPY`` on PostgreSQL, ``executemany`` elsewhere."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        raw: Any = conn.connection.dbapi_connection
        with raw.cursor() as cur:
            with cur.copy("COPY ledger_entries (seq, kind, key, body, prev_hash, hash) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        return
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    conn.exec_driver_sql(
        f"INSERT INTO ledger_entries (seq, kind, key, body, prev_hash, hash) VALUES ({', '.join([mark] * 6)})",
        list(rows),
    )


def read_entries(conn: Connection, upto: int | None = None, skip: Sequence[str] = (),
                 after: int = 0) -> Iterator[Entry]:
    """Every entry in sequence order (after ``after``, up to ``upto`` inclusive, leaving out the kinds in
    ``skip``), streamed."""
    query = select(entries.c.seq, entries.c.kind, entries.c.key, entries.c.body, entries.c.prev_hash,
                   entries.c.hash).order_by(entries.c.seq)
    if upto is not None:
        query = query.where(entries.c.seq <= upto)
    if after:
        query = query.where(entries.c.seq > after)
    if skip:
        query = query.where(entries.c.kind.not_in(list(skip)))
    result = conn.execution_options(yield_per=50_000).execute(query)
    for seq, kind, key, body, prev, digest in result:
        yield Entry(int(seq), kind, key, body, prev, digest)


def existing_keys(conn: Connection, kind: str) -> dict[str, tuple[int, str]]:
    """``{key: (seq, body)}`` of every entry of ``kind`` that has a key."""
    query = select(entries.c.key, entries.c.seq, entries.c.body).where(entries.c.kind == kind)
    return {k: (int(s), b) for k, s, b in conn.execute(query)}


def _first_line(exc: BaseException) -> str:
    return str(getattr(exc, "orig", exc)).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
