"""The ledger's tables (SQLAlchemy Core). Every change of schema comes with an Alembic migration.

``entries`` is the whole ledger: one row per entry, append-only (a database trigger refuses UPDATE and
DELETE), each hash-chained to the one before (:mod:`sop_eval.ledger.chain`). Amounts inside entries are
integer pence. Everything else the ledger reports is recomputed from these rows.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, MetaData, String, Table, Text

metadata = MetaData()

entries = Table(
    "ledger_entries",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("kind", String(32), nullable=False),
    Column("key", String(64), nullable=True),
    Column("body", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_ledger_entries_kind_key", "kind", "key", unique=True),
)

COLUMNS = ("seq", "kind", "key", "body", "prev_hash", "hash")
