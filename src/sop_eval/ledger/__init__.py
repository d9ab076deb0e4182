"""The contract's life in a ledger: terms and variations, claims, verification samples, evaluation results,
payment runs, clawbacks and adjustments — append-only, hash-chained entries in a real database.

``Ledger.init(db, contract)`` creates a ledger (a SQLite file by default, next to the contract; any
SQLAlchemy URL otherwise) and records the contract; :class:`Ledger` then records and computes. Every
figure is recomputed from the entries (:meth:`Ledger.verify`). The ``sop-eval ledger`` command wraps it.
"""

from sop_eval.ledger.ledger import (
    ImportResult,
    Ledger,
    PaymentRun,
    Reconciliation,
    Verification,
    default_db,
)
from sop_eval.ledger.sampling import ErrorRate
from sop_eval.ledger.state import IndexSeries, State
from sop_eval.ledger.statement import Statement, StatementLine

__all__ = [
    "ErrorRate",
    "ImportResult",
    "IndexSeries",
    "Ledger",
    "PaymentRun",
    "Reconciliation",
    "State",
    "Statement",
    "StatementLine",
    "Verification",
    "default_db",
]
