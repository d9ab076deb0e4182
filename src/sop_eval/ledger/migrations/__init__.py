"""Alembic migrations of the ledger schema, run by :func:`sop_eval.ledger.store.migrate`."""
