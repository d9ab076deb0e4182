"""Statistical disclosure control for published tables: small-count suppression and rounding.

The default policy follows the OpenSAFELY convention: counts of 1 to 7 are suppressed, every other
count is rounded to the nearest 5, and further cells are suppressed (secondary suppression) wherever a
hidden cell could be recovered from a published total.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sop_eval.errors import SopEvalError, require_columns


@dataclass(frozen=True)
class DisclosurePolicy:
    """A named rule for publishing counts.

    Counts ``1..threshold`` are suppressed (zero is published as zero); the rest are rounded to the
    nearest ``rounding`` (halves round up); with ``secondary=True`` the smallest other cell of a row or
    column is also suppressed when exactly one cell of it is hidden and its total is published.
    """

    name: str = "suppress-1-7-round-5"
    threshold: int = 7
    rounding: int = 5
    secondary: bool = True
    mask: str = "[suppressed]"

    def __post_init__(self) -> None:
        if self.threshold < 0 or self.rounding < 1:
            raise SopEvalError(
                f"disclosure policy '{self.name}': threshold ({self.threshold}) must be >= 0 and rounding "
                f"({self.rounding}) >= 1."
            )

    def round_count(self, value: float) -> int:
        """Round one unsuppressed count to the nearest multiple of ``rounding`` (halves up)."""
        return int(np.floor(value / self.rounding + 0.5) * self.rounding)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe record of the policy."""
        return {"name": self.name, "threshold": self.threshold, "rounding": self.rounding, "secondary": self.secondary}


DEFAULT_POLICY = DisclosurePolicy()
NO_DISCLOSURE_CONTROL = DisclosurePolicy(name="none", threshold=0, rounding=1, secondary=False)


@dataclass(frozen=True)
class ProtectedTable:
    """A table after disclosure control, with a log of what was hidden (positions only, never values)."""

    table: pd.DataFrame
    name: str
    policy: DisclosurePolicy
    suppressed: tuple[dict[str, Any], ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """The suppression log entry for the audit record."""
        primary = sum(1 for s in self.suppressed if s["reason"] == "primary")
        return {
            "table": self.name,
            "policy": self.policy.name,
            "primary_suppressions": primary,
            "secondary_suppressions": len(self.suppressed) - primary,
            "cells": [dict(s) for s in self.suppressed],
        }


def protect(
    frame: pd.DataFrame,
    counts: Sequence[str],
    *,
    name: str = "table",
    policy: DisclosurePolicy = DEFAULT_POLICY,
    row_total: str | None = None,
    total_row: Any = None,
) -> ProtectedTable:
    """Apply ``policy`` to the count columns ``counts`` of ``frame`` and return a protected copy.

    ``row_total`` names a column equal to the sum of the other count columns in its row;
    ``total_row`` is the index label of a row equal to the sum of the other rows. These additive
    relations drive secondary suppression. Suppressed cells hold ``policy.mask``; the rest are rounded.
    Other columns are passed through unchanged: do not pass person-level columns.
    """
    require_columns(list(counts) + ([row_total] if row_total else []), frame.columns, f"table '{name}'")
    if total_row is not None and total_row not in frame.index:
        raise SopEvalError(f"table '{name}': total_row={total_row!r} is not a row label of the table.")
    values = frame[list(counts)].apply(pd.to_numeric, errors="coerce")
    if values.isna().any().any():
        bad = values.columns[values.isna().any()].tolist()
        raise SopEvalError(f"table '{name}': count column(s) {bad} hold missing or non-numeric values.")
    v = values.to_numpy(dtype=float)
    if (v < 0).any() or not np.isfinite(v).all():
        bad = values.columns[((values < 0) | ~np.isfinite(values)).any()].tolist()
        raise SopEvalError(f"table '{name}': count column(s) {bad} hold negative or infinite values; "
                           "counts must be >= 0.")
    hidden = (v >= 1) & (v <= policy.threshold)
    reasons = np.where(hidden, "primary", "").astype(object)

    if policy.secondary and hidden.any():
        cols = list(counts)
        part_cols = [j for j, c in enumerate(cols) if c != row_total]
        total_col = cols.index(row_total) if row_total else None
        rows = list(range(len(frame)))
        total_i = frame.index.get_loc(total_row) if total_row is not None else None
        part_rows = [i for i in rows if i != total_i]
        groups: list[tuple[list[tuple[int, int]], tuple[int, int]]] = []
        if total_col is not None:
            groups += [([(i, j) for j in part_cols], (i, total_col)) for i in rows]
        if total_i is not None:
            groups += [([(i, j) for i in part_rows], (total_i, j)) for j in range(len(cols))]
        changed = True
        while changed:
            changed = False
            for cells, total in groups:
                n_hidden = sum(hidden[c] for c in cells)
                if n_hidden != 1 or hidden[total]:
                    continue
                candidates = [c for c in cells if not hidden[c] and v[c] > 0] or [c for c in cells if not hidden[c]]
                if not candidates:
                    continue
                pick = min(candidates, key=lambda c: (v[c], c))
                hidden[pick] = True
                reasons[pick] = "secondary"
                changed = True

    out = frame.copy()
    log: list[dict[str, Any]] = []
    for j, column in enumerate(counts):
        shown: list[Any] = []
        for i in range(len(frame)):
            if hidden[i, j]:
                shown.append(policy.mask)
                log.append({"row": _label(frame.index[i]), "column": column, "reason": str(reasons[i, j])})
            else:
                shown.append(policy.round_count(v[i, j]))
        out[column] = pd.Series(shown, index=frame.index, dtype=object)
    return ProtectedTable(table=out, name=name, policy=policy, suppressed=tuple(log))


def _label(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    return value if isinstance(value, (int, float, str)) else str(value)
