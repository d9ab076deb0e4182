"""Output files and text: atomic writing (a failed run never leaves half-written output), canonical JSON and
plain-text tables for the terminal."""

from __future__ import annotations

import ctypes
import fcntl
import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sop_eval.errors import SopEvalError, examples


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


#: Top-level names a results bundle may hold; anything else in an output directory belongs to the user.
BUNDLE_NAMES = frozenset(
    {"results.json", "results.release.json", "report.html", "report.pdf", "figures", "audit.json", "run.log",
     "contract", "data"}
)
_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one atomic step (Linux ``renameat2``); False where the system cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd = -100
    done = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE)
    return done == 0


def _within(path: Path, directory: Path) -> bool:
    try:
        path.resolve().relative_to(directory.resolve())
    except ValueError:
        return False
    return True


def check_destination(target: str | Path, *, inputs: Iterable[str | Path] = ()) -> Path:
    """Refuse an output directory a run must not replace; returns ``target`` as a Path.

    Refused: a symbolic link, something that is not a directory, a directory holding files that no
    run wrote (they would be lost), and a directory holding any of ``inputs`` (it would be deleted).
    """
    target = Path(target)
    if target.is_symlink():
        raise SopEvalError(
            f"output '{target}' is a symbolic link; results are never written through a link. "
            "Give a real directory for --out."
        )
    if target.exists() and not target.is_dir():
        raise SopEvalError(f"output '{target}' exists and is not a directory; give a directory for --out.")
    for item in inputs:
        if _within(Path(item), target):
            raise SopEvalError(
                f"output directory '{target}' holds an input of this run ('{Path(item).name}'); a run replaces "
                "its output directory whole. Choose another directory for --out."
            )
    if target.is_dir():
        foreign = sorted(p.name for p in target.iterdir() if p.name not in BUNDLE_NAMES)
        if foreign:
            raise SopEvalError(
                f"output directory '{target}' holds files that are not a results bundle's "
                f"({examples(foreign, 3)}); a run replaces its output directory whole. Move them, or choose "
                "an empty or new directory for --out."
            )
    return target


@contextmanager
def atomic_directory(target: str | Path, *, inputs: Iterable[str | Path] = ()) -> Iterator[Path]:
    """Build a directory in a temporary sibling and swap it in whole, only on success.

    The destination is checked (:func:`check_destination`) before anything is built and again before
    the swap. The swap is one atomic exchange where the system offers it (two renames otherwise), under
    a lock on the parent directory, so overlapping runs each leave one complete bundle. The previous
    content of ``target`` is removed only after the new one is in place; on failure nothing changes.
    """
    target = Path(target)
    protected = tuple(inputs)
    check_destination(target, inputs=protected)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent))
    os.chmod(staging, 0o777 & ~_umask())
    try:
        yield staging
        with _locked(target.parent):
            check_destination(target, inputs=protected)
            if not target.exists():
                os.rename(staging, target)
            elif _exchange(staging, target):
                pass
            else:
                old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
                os.rename(target, old / "previous")
                os.rename(staging, target)
                staging = old
    finally:
        shutil.rmtree(staging, ignore_errors=True)


@contextmanager
def _locked(directory: Path) -> Iterator[None]:
    fd = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def format_table(frame: pd.DataFrame, floatfmt: str = ".2f") -> str:
    """Render a DataFrame as an aligned plain-text table (no index), floats with ``floatfmt``."""
    cells = [[str(c) for c in frame.columns]]
    for row in frame.itertuples(index=False):
        cells.append([format(v, floatfmt) if isinstance(v, float) else str(v) for v in row])
    widths = [max(len(r[i]) for r in cells) for i in range(len(cells[0]))]
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) for c in frame.columns]
    lines = []
    for k, texts in enumerate(cells):
        parts = [v.rjust(w) if num else v.ljust(w) for v, w, num in zip(texts, widths, numeric, strict=True)]
        lines.append("  ".join(parts).rstrip())
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


class ShortRepr:
    """A short ``repr`` for result objects, as statsmodels and MatchIt print: one line of headline figures.

    A result with an uncertainty shows its estimate, SE and interval; any other shows the size of its
    :meth:`summary` table. A class adds its own figures with ``_repr_items()`` (label, value pairs).
    In notebooks ``_repr_html_`` shows the :meth:`summary` table. Dataclasses using it pass ``repr=False``.
    """

    def _repr_items(self) -> list[tuple[str, Any]]:
        return []

    def __repr__(self) -> str:
        name = type(self).__name__
        items = list(self._repr_items())
        est, se = getattr(self, "estimate", None), getattr(self, "se", None)
        if isinstance(est, (int, float, np.floating)) and isinstance(se, (int, float, np.floating)):
            level = getattr(self, "level", None)
            items[:0] = [("estimate", est), ("SE", se)]
            conf_int = getattr(self, "conf_int", None)
            if callable(conf_int) and isinstance(level, float):
                try:
                    lo, hi = conf_int()
                    items.insert(2, (f"{round(level * 100, 6):g}% CI", f"[{_short(lo)}, {_short(hi)}]"))
                except (TypeError, ValueError):
                    pass
        if not items:
            summary = getattr(self, "summary", None)
            table = summary() if callable(summary) else None
            if isinstance(table, pd.DataFrame):
                items.append(("summary()", f"{len(table)} rows × {table.shape[1]} columns"))
        return f"<{name}: " + ", ".join(f"{k} {_short(v)}" for k, v in items) + ">"

    def _repr_html_(self) -> str:
        summary = getattr(self, "summary", None)
        table = summary() if callable(summary) else None
        head = format(repr(self)).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        if isinstance(table, pd.DataFrame):
            return f"<p><code>{head}</code></p>" + table.to_html(max_rows=30, float_format=lambda v: f"{v:.4g}")
        return f"<p><code>{head}</code></p>"


def _short(value: Any) -> str:
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.4g}"
    return str(value)
