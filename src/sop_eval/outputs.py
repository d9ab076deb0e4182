"""Output files and text: atomic writing (a failed run never leaves half-written output), canonical JSON and
plain-text tables for the terminal."""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd


def json_safe(value: Any) -> Any:
    """Convert numpy scalars, arrays, tuples and non-finite floats (to ``None``) for JSON."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return v if math.isfinite(v) else None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def dumps(value: Any) -> str:
    """Canonical JSON text: sorted keys, two-space indent, no NaN; identical for identical content."""
    return json.dumps(json_safe(value), sort_keys=True, indent=2, allow_nan=False, ensure_ascii=False) + "\n"


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same directory, then rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write UTF-8 ``text`` atomically (see :func:`write_bytes_atomic`)."""
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | Path, value: Any) -> Path:
    """Write ``value`` as canonical JSON (:func:`dumps`) atomically."""
    return write_text_atomic(path, dumps(value))


@contextmanager
def atomic_directory(target: str | Path) -> Iterator[Path]:
    """Build a directory's content in a temporary sibling and move it into place only on success.

    Files already in ``target`` that the run does not write are kept; files it writes replace them
    only when the whole block succeeds. On failure the temporary directory is removed.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent))
    try:
        yield staging
        target.mkdir(exist_ok=True)
        for item in sorted(staging.rglob("*")):
            if item.is_dir():
                continue
            dest = target / item.relative_to(staging)
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(item, dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


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
