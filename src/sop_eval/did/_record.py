"""JSON-safe records for the audit trail (the project's one converter, imported on first use)."""

from __future__ import annotations

from typing import Any


def json_safe(value: Any) -> Any:
    """Convert numpy scalars and arrays, non-finite floats (to None) and nested containers to JSON types."""
    from sop_eval.effects.estimate import _json_safe

    return _json_safe(value)
