"""Plain-text tables for the terminal."""

from __future__ import annotations

import pandas as pd


def format_table(frame: pd.DataFrame, floatfmt: str = ".2f") -> str:
    """Render a DataFrame as an aligned plain-text table (no index), floats with ``floatfmt``."""
    cells = [[str(c) for c in frame.columns]]
    for row in frame.itertuples(index=False):
        cells.append([format(v, floatfmt) if isinstance(v, float) else str(v) for v in row])
    widths = [max(len(r[i]) for r in cells) for i in range(len(cells[0]))]
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) for c in frame.columns]
    lines = []
    for k, row in enumerate(cells):
        parts = [v.rjust(w) if num else v.ljust(w) for v, w, num in zip(row, widths, numeric)]
        lines.append("  ".join(parts).rstrip())
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)
