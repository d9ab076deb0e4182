"""The assessor's audit trail: provenance of a run and figure-by-figure comparison of results.

``audit.json`` records the SHA-256 of every input file and of the contract, the contract version,
package and dependency versions, every parameter and seed, the time of the run and the digest of
``results.json``. :func:`compare_results` is what ``sop-eval verify`` uses to set a re-run against the
stored results: counts and money must agree exactly, other floating-point figures within a relative
tolerance of ``1e-9`` (and an absolute one of ``1e-12`` near zero).
"""

from __future__ import annotations

import hashlib
import math
import platform
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Iterator, Mapping

from sop_eval.errors import SopEvalError

FLOAT_RTOL = 1e-9
FLOAT_ATOL = 1e-12
DEPENDENCIES = ("numpy", "pandas", "scipy", "statsmodels", "scikit-learn", "matplotlib", "pyarrow", "jinja2", "tqdm")
# figures whose key names one of these words are counts or money and must agree exactly
EXACT_KEYS = ("n_", "count", "events", "people", "amount", "payment", "total", "paid", "due", "cap", "price", "catch_up")


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise SopEvalError(f"cannot read '{path}' to hash it: {exc.strerror}.") from None
    return digest.hexdigest()


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of bytes."""
    return hashlib.sha256(data).hexdigest()


def environment() -> dict[str, Any]:
    """Python, platform, sop_eval and dependency versions."""
    from sop_eval import __version__

    versions = {}
    for name in DEPENDENCIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "sop_eval": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "dependencies": versions,
    }


def utc_now() -> str:
    """The current time in UTC, ISO 8601 to the second."""
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Yield ``(path, leaf)`` for every leaf of nested dicts and lists, paths like ``a.b[2].c``."""
    if isinstance(value, Mapping):
        for key in sorted(value):
            yield from flatten(value[key], f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from flatten(item, f"{prefix}[{i}]")
    else:
        yield prefix, value


def _exact(path: str) -> bool:
    leaf = path.rsplit(".", 1)[-1].split("[", 1)[0].lower()
    return any(word in leaf for word in EXACT_KEYS)


@dataclass(frozen=True)
class Difference:
    """One figure that differs between stored and re-computed results."""

    path: str
    stored: Any
    recomputed: Any
    rule: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        return {"path": self.path, "stored": self.stored, "recomputed": self.recomputed, "rule": self.rule}


def compare_results(stored: Any, recomputed: Any) -> list[Difference]:
    """Every figure that differs: exact for counts, money and text; floats within the stated tolerance."""
    a = dict(flatten(stored))
    b = dict(flatten(recomputed))
    out: list[Difference] = []
    for path in sorted(set(a) | set(b)):
        if path not in a or path not in b:
            out.append(Difference(path, a.get(path), b.get(path), "present in only one"))
            continue
        x, y = a[path], b[path]
        numeric = isinstance(x, (int, float)) and isinstance(y, (int, float)) and not isinstance(x, bool)
        if numeric and not _exact(path) and (isinstance(x, float) or isinstance(y, float)):
            if not math.isclose(x, y, rel_tol=FLOAT_RTOL, abs_tol=FLOAT_ATOL):
                out.append(Difference(path, x, y, f"float, rtol {FLOAT_RTOL:g}"))
        elif x != y:
            out.append(Difference(path, x, y, "exact"))
    return out
