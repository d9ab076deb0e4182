"""Verification of a run: re-run the evaluation its audit record describes and compare every figure.

:func:`compare_results` is what ``sop-eval verify`` uses to set a re-run against the stored results:
counts and money must agree exactly, other floating-point figures within a relative tolerance of
``1e-9`` (and an absolute one of ``1e-12`` near zero).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from sop_eval.errors import SopEvalError
from sop_eval.evaluation.audit import read_audit, sha256_bytes, sha256_file
from sop_eval.evaluation.evaluate import evaluate
from sop_eval.outputs import ShortRepr, dumps

FLOAT_RTOL = 1e-9
FLOAT_ATOL = 1e-12
# money in the payment schedule: compared exactly (counts are integers and always compared exactly)
MONEY_LEAVES = ("amount", "gross", "before", "after", "limit", "price", "total_payment")
MONEY_PARENTS = ("payers", "payments_by_payer", "payments_by_outcome")


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
    """Whether a float figure is money of the payment schedule (compared exactly)."""
    if not path.startswith("payments."):
        return False
    parts = [p.split("[", 1)[0] for p in path.split(".")]
    return parts[-1] in MONEY_LEAVES or (len(parts) > 1 and parts[-2] in MONEY_PARENTS)


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
    """Every figure that differs: exact for counts (integers), text, flags and the schedule's money; other
    floating-point figures within a relative tolerance of ``FLOAT_RTOL`` (``FLOAT_ATOL`` near zero)."""
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


@dataclass(frozen=True, repr=False)
class Verification(ShortRepr):
    """The outcome of re-running an evaluation from its audit record and comparing every figure."""

    directory: str
    checks: tuple[dict[str, Any], ...]
    differences: tuple[Difference, ...]

    @property
    def ok(self) -> bool:
        """True when every file is unchanged and every figure agrees."""
        return all(c["ok"] for c in self.checks) and not self.differences

    def summary(self) -> pd.DataFrame:
        """One row per check (files, then figures)."""
        rows = [dict(c) for c in self.checks]
        rows.append({"check": "figures in results.json", "ok": not self.differences,
                     "detail": "all agree" if not self.differences else f"{len(self.differences)} differ"})
        return pd.DataFrame(rows)[["check", "ok", "detail"]]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        return {"directory": self.directory, "ok": self.ok, "checks": list(self.checks),
                "differences": [d.to_dict() for d in self.differences]}


def _locate(entry: Mapping[str, Any], out_dir: Path) -> Path:
    relative = entry.get("relative_to_output")
    if relative:
        candidate = (out_dir / relative).resolve()
        if candidate.exists():
            return candidate
    return Path(entry["path"])


def verify(out_dir: str | Path) -> Verification:
    """Re-run the evaluation recorded in ``out_dir/audit.json`` and compare every figure with ``results.json``.

    Checks that ``results.json`` is the file the run wrote, that the contract and every input file are
    unchanged (SHA-256), then re-runs the evaluation from the recorded contract, parameters and seed and
    compares figure by figure (:func:`compare_results`).
    """
    out_dir = Path(out_dir)
    record = read_audit(out_dir)
    checks: list[dict[str, Any]] = []
    results_path = out_dir / "results.json"
    if not results_path.is_file():
        raise SopEvalError(f"'{out_dir}' has no results.json to verify; re-run `sop-eval run`.")
    stored_bytes = results_path.read_bytes()
    same = sha256_bytes(stored_bytes) == record["results_sha256"]
    checks.append({"check": "results.json", "ok": same, "detail": "unchanged since the run" if same else
                   "changed since the run (its SHA-256 differs from audit.json)"})
    files = [("contract", record["contract"])] + [("input", e) for e in record["inputs"]]
    for role, entry in files:
        path = _locate(entry, out_dir)
        if not path.is_file():
            checks.append({"check": f"{role} {path}", "ok": False, "detail": "missing"})
            continue
        ok = sha256_file(path) == entry["sha256"]
        checks.append({"check": f"{role} {path}", "ok": ok,
                       "detail": "unchanged" if ok else "changed (SHA-256 differs)"})
    contract_path = _locate(record["contract"], out_dir)
    if not contract_path.is_file():
        return Verification(str(out_dir), tuple(checks), ())
    try:
        stored = json.loads(stored_bytes.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SopEvalError(f"'{results_path}' is corrupt ({exc}); it cannot be compared.") from None
    p = record["parameters"]
    again = evaluate(contract_path, seed=p["seed"], as_of=p.get("as_of"), risk_draws=p.get("risk_draws", 100_000),
                     progress=False)
    recomputed = json.loads(dumps(again.to_dict()))
    return Verification(str(out_dir), tuple(checks), tuple(compare_results(stored, recomputed)))
