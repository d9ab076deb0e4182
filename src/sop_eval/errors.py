"""The one exception users see, and helpers that build its messages."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any


class SopEvalError(ValueError):
    """A problem with the caller's input: names the culprit, shows examples and says what to do.

    Subclasses ``ValueError`` so generic ``except ValueError`` handlers still work.
    """


class SopEvalWarning(UserWarning):
    """A condition in the input that does not stop the analysis but must be seen."""


def examples(values: Iterable[Any], limit: int = 5) -> str:
    """Format up to ``limit`` example values as ``a, b, c, …`` for an error message."""
    items = list(values)
    shown = ", ".join(repr(v) if isinstance(v, str) else str(v) for v in items[:limit])
    return shown + (", …" if len(items) > limit else "")


def require_columns(columns: Sequence[str], available: Iterable[str], what: str = "data") -> None:
    """Raise :class:`SopEvalError` naming every column in ``columns`` that ``available`` lacks."""
    have = list(available)
    missing = [c for c in columns if c not in have]
    if missing:
        raise SopEvalError(
            f"{what} has no column(s) {examples(missing, 10)}; available columns: "
            f"{examples(have, 12)}. Check the spelling or rename the column in your data."
        )
