"""Alembic environment: migrations run on the connection :func:`sop_eval.ledger.store.migrate` passes in."""

from alembic import context

from sop_eval.ledger.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, version_table="ledger_alembic_version")
with context.begin_transaction():
    context.run_migrations()
