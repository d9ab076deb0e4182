"""Statistical disclosure control for published tables: small-count suppression and rounding.

The default policy follows the OpenSAFELY convention: counts of 1 to 7 are suppressed, every other
count is rounded to the nearest 5, and further cells are suppressed (secondary suppression) wherever a
hidden cell could be recovered from a published total.

The policy protects person-level counts (people served, comparison people). Area-level designs
(:data:`AREA_DESIGNS`: synthetic control, SDID, difference-in-differences) count areas, area-periods and
population-periods instead: these are not person-level small counts, so their tables publish them exactly
(:func:`count_columns`).
"""

from __future__ import annotations

import re
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

    def count_text(self, value: int) -> str:
        """One count as text under the policy: 0, "fewer than <threshold + 1>", or rounded."""
        if value == 0:
            return "0"
        if value <= self.threshold:
            return f"fewer than {self.threshold + 1}"
        return f"{self.round_count(value):,}"

    def share(self, part: int, whole: int) -> str | None:
        """``part`` out of ``whole`` people as a percentage computed from the counts as published.

        None when ``part`` is 0; "a suppressed share" when ``part`` or ``whole`` is itself suppressed, so a
        share never reveals a count the tables hide.
        """
        if part <= 0 or whole <= 0:
            return None
        if part <= self.threshold or whole <= self.threshold:
            return f"a suppressed share (fewer than {self.threshold + 1} people)"
        shown_whole = self.round_count(whole)
        return f"{self.round_count(part) / shown_whole:.1%}" if shown_whole else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe record of the policy."""
        return {"name": self.name, "threshold": self.threshold, "rounding": self.rounding, "secondary": self.secondary}


AREA_DESIGNS = ("synthetic_control", "sdid", "did")
"""Designs whose counts are areas, area-periods or population totals rather than people."""


def count_columns(design: str, counts: Sequence[str]) -> list[str]:
    """The columns of ``counts`` that disclosure control applies to under ``design``: all of them for
    person-level designs, none for :data:`AREA_DESIGNS` (areas and population totals are shown exactly)."""
    return [] if design in AREA_DESIGNS else list(counts)


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


# -- counts inside sentences (warnings and validation messages copied into a report) ---------------------
_ADJECTIVE = r"(?:(?:treated|missing|infinite|negative|duplicated|fitted|distinct(?: text)?)\s+)?"
_NOUN = _ADJECTIVE + r"(?:row|id|date|value|cell|unit|person|people|propensity score|treated unit)(?:s|\(s\))?\b"
_NUMBER = r"(?<![\w.\-/:'])(\d[\d,]*)(?![\d.\-/:])"
_PART_OF_WHOLE = re.compile(_NUMBER + r" of " + _NUMBER + r"(\s+" + _NOUN + r"(?:\s+served)?)(\s*\(\d+(?:\.\d+)?%\))?")
_COUNT = re.compile(_NUMBER + r"(?=\s+" + _NOUN + ")")
_ROW_LABELS = re.compile(r"\s*\([^()]*\brows? [^()]*\)|;\s*(?:treated |pool )?rows? [^;()]*(?=[;)])")


def protect_text(message: str, policy: DisclosurePolicy = DEFAULT_POLICY) -> str:
    """A warning or validation message as a report may show it: row labels removed, counts of people
    suppressed (1 to ``threshold``) or rounded, and a share beside a count recomputed from the counts shown.

    Counts are recognised as a number before a word for people or records ("12 people served", "3 missing
    value(s)", "40 of 200 people served (20.0%)"); other numbers (dates, months, percentages) are left alone.
    """
    text = _ROW_LABELS.sub("", message)

    def part_of_whole(m: re.Match[str]) -> str:
        part, whole = int(m.group(1).replace(",", "")), int(m.group(2).replace(",", ""))
        share = policy.share(part, whole)
        pct = "" if m.group(4) is None or share is None or "suppressed" in share else f" ({share})"
        return f"{policy.count_text(part)} of {policy.count_text(whole)}{m.group(3)}{pct}"

    text = _PART_OF_WHOLE.sub(part_of_whole, text)
    return _COUNT.sub(lambda m: policy.count_text(int(m.group(1).replace(",", ""))), text)


def safe_bin_edges(samples: Sequence[np.ndarray], edges: np.ndarray, policy: DisclosurePolicy = DEFAULT_POLICY,
                   weights: Sequence[np.ndarray | None] | None = None) -> np.ndarray:
    """Histogram bin edges, merged from ``edges``, so that no bar counts 1 to ``policy.threshold`` people.

    Each sample (one group of people; a person with weight 0 in ``weights`` is not drawn and not counted)
    must hold 0 or more than ``threshold`` people in every bin; adjacent bins are merged, left to right,
    until that holds (a short last stretch joins the bin before it). A sample of 1 to ``threshold`` people
    in all can never satisfy it: drop it from the plot (the caller's job) before asking for edges.
    """
    edges = np.asarray(edges, dtype=float)
    counts = []
    for i, x in enumerate(samples):
        w = None if weights is None else weights[i]
        keep = np.ones(len(x), dtype=bool) if w is None else np.asarray(w) > 0
        counts.append(np.histogram(np.asarray(x, float)[keep], bins=edges)[0])
    table = np.array(counts).reshape(len(samples), len(edges) - 1)

    def safe(column: np.ndarray) -> bool:
        return bool(np.all((column == 0) | (column > policy.threshold)))

    kept = [edges[0]]
    bars: list[np.ndarray] = []
    running = np.zeros(len(samples), dtype=np.int64)
    for j in range(table.shape[1]):
        running = running + table[:, j]
        if safe(running):
            kept.append(edges[j + 1])
            bars.append(running)
            running = np.zeros(len(samples), dtype=np.int64)
    while running.any() and bars:  # a sparse tail joins the bars before it until the merged bar is safe
        running = running + bars.pop()
        kept.pop()
        if safe(running):
            break
    if len(kept) == 1 or running.any():
        kept.append(edges[-1])
    else:
        kept[-1] = edges[-1]
    return np.asarray(kept)
