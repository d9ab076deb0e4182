"""The first ledger schema: the append-only, hash-chained entries table.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_SQLITE_GUARDS = (
    "CREATE TRIGGER ledger_entries_no_update BEFORE UPDATE ON ledger_entries "
    "BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END",
    "CREATE TRIGGER ledger_entries_no_delete BEFORE DELETE ON ledger_entries "
    "BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END",
)
_PG_GUARDS = (
    "CREATE FUNCTION ledger_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION 'ledger entries are append-only'; END $$",
    "CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries "
    "FOR EACH ROW EXECUTE FUNCTION ledger_entries_append_only()",
)


def upgrade() -> None:
    op.create_table(
        "ledger_entries",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("key", sa.String(64), nullable=True),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_index("ix_ledger_entries_kind_key", "ledger_entries", ["kind", "key"], unique=True)
    dialect = op.get_bind().dialect.name
    for statement in _SQLITE_GUARDS if dialect == "sqlite" else _PG_GUARDS if dialect == "postgresql" else ():
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TRIGGER ledger_entries_no_update")
        op.execute("DROP TRIGGER ledger_entries_no_delete")
    elif dialect == "postgresql":
        op.execute("DROP TRIGGER ledger_entries_append_only ON ledger_entries")
        op.execute("DROP FUNCTION ledger_entries_append_only()")
    op.drop_table("ledger_entries")
