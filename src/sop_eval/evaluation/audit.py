"""The assessor's audit trail: the provenance record of a run (``audit.json``).

``audit.json`` records the contract (its path relative to the bundle, SHA-256, name and version), every
input file (its path relative to the contract, SHA-256, row count and a digest per column), package and
dependency versions, every parameter and seed, the time of the run, the SHA-256 of every file the run
wrote (``results.json``, ``results.release.json``, ``report.html``, each figure) and the disclosure log.
It carries a seal: the SHA-256 of its own canonical JSON without the seal, and one per part, so an edit is
found and named. The seal detects edits; it is not a signature (sign the seal's digest for that).
:mod:`sop_eval.evaluation.verify` re-runs an evaluation from it.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from sop_eval._version import __version__
from sop_eval.data import read_table
from sop_eval.errors import SopEvalError
from sop_eval.outputs import dumps, write_json_atomic

DEPENDENCIES = ("numpy", "pandas", "scipy", "statsmodels", "scikit-learn", "matplotlib", "pyarrow", "jinja2", "tqdm")


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
    versions: dict[str, str | None] = {}
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
    return datetime.now(UTC).replace(microsecond=0).isoformat()


AUDIT_FORMAT = "sop_eval audit 2"
SEAL = "seal"

#: Fields an audit record must hold (``a.b``: key ``b`` of part ``a``; ``inputs[]``: every input entry).
REQUIRED = (
    "format", "created_utc", "contract.path", "contract.sha256", "contract.name", "contract.version", "inputs",
    "inputs[].role", "inputs[].path", "inputs[].sha256", "inputs[].rows", "inputs[].columns", "parameters",
    "parameters.seed", "environment.sop_eval", "outputs", "outputs.results.json", "outputs.report.html",
    "disclosure.policy", "seal.sha256", "seal.parts",
)


def column_digests(path: str | Path, id_column: str | None = None) -> dict[str, Any]:
    """Row count and a SHA-256 per column of a data file, so a changed file can be traced to its columns.

    Rows are taken in the order of ``id_column`` where the file has it (the file's order otherwise), so a
    file whose rows were only reordered gives the same digests; each value is hashed as its text.
    """
    frame = read_table(path)
    by = id_column if id_column is not None and id_column in frame.columns else None
    if by is not None:
        frame = frame.sort_values(by, kind="stable", ignore_index=True)
    columns = {}
    for name in frame.columns:
        values = frame[name]
        text = "\x1f".join("" if pd.isna(v) else str(v) for v in values.tolist())
        columns[str(name)] = sha256_bytes(text.encode("utf-8"))
    return {"rows": int(len(frame)), "rows_ordered_by": by, "columns": columns}


def write_audit(
    path: Path,
    *,
    contract: str,
    contract_path: Path,
    evaluation: Any,
    outputs: dict[str, bytes],
    protected: Any,
    policy: Any,
    created_utc: str | None = None,
) -> dict[str, Any]:
    """Write ``audit.json`` and return the record (``created_utc``: the run's time, default now).

    ``contract`` is the contract's path relative to the bundle; every input is recorded relative to the
    contract's folder; ``outputs`` maps each file of the bundle (path inside it) to its content.
    """
    contract_path = Path(contract_path)
    c = evaluation.contract
    id_column = (c.data.columns.get("id") if c.data is not None else None)
    roles = _input_roles(c)
    record: dict[str, Any] = {
        "format": AUDIT_FORMAT,
        "created_utc": created_utc or utc_now(),
        "contract": {"path": contract, "sha256": sha256_file(contract_path), "bytes": contract_path.stat().st_size,
                     "name": c.name, "version": c.version},
        "inputs": [
            {"role": roles.get(Path(p).resolve(), "data"), "path": _relative(Path(p), contract_path.parent),
             "sha256": sha256_file(p), "bytes": Path(p).stat().st_size} | column_digests(p, id_column)
            for p in evaluation.inputs
        ],
        "parameters": evaluation.parameters,
        "environment": environment(),
        "outputs": {name: sha256_bytes(content) for name, content in sorted(outputs.items())},
        "disclosure": {"policy": policy.to_dict(), "tables": [t.to_dict() for t in protected]},
    }
    record = json.loads(dumps(record))
    record[SEAL] = seal(record)
    write_json_atomic(path, record)
    return record


def _input_roles(contract: Any) -> dict[Path, str]:
    settings = contract.data
    if settings is None:
        return {}
    return {Path(p).resolve(): key for key in ("participants", "comparison_pool")
            if (p := getattr(settings, key, None)) is not None}


def _relative(path: Path, start: Path) -> str:
    try:
        return Path(os.path.relpath(Path(path).resolve(), Path(start).resolve())).as_posix()
    except ValueError:  # another drive on Windows
        return Path(path).name


def _parts(record: dict[str, Any]) -> dict[str, Any]:
    """The record cut into named parts: each key of a table part, each entry of a list part, each scalar."""
    parts: dict[str, Any] = {}
    for key, value in record.items():
        if key == SEAL:
            continue
        if isinstance(value, dict) and value:
            parts.update({f"{key}.{k}": v for k, v in value.items()})
        elif isinstance(value, list) and value:
            parts.update({f"{key}[{i}]": v for i, v in enumerate(value)})
        else:
            parts[key] = value
    return parts


def _digest(value: Any) -> str:
    return sha256_bytes(dumps(value).encode("utf-8"))


def seal(record: dict[str, Any]) -> dict[str, Any]:
    """The seal of an audit record: the SHA-256 of its canonical JSON without the seal, and one per part."""
    content = {k: v for k, v in record.items() if k != SEAL}
    return {"sha256": _digest(content), "parts": {name: _digest(v) for name, v in sorted(_parts(content).items())}}


def check_audit(record: dict[str, Any]) -> list[str]:
    """What is wrong with a readable audit record, each problem naming its field; empty when it is intact.

    Finds every part edited, added or removed since the run (against the seal) and every required field
    missing (:data:`REQUIRED`).
    """
    problems = [f"{name} is missing" for name in _missing(record)]
    stored = record.get(SEAL)
    if not isinstance(stored, dict) or not isinstance(stored.get("sha256"), str):
        return problems or ["seal is missing"]
    now = seal(record)
    if now["sha256"] == stored["sha256"]:
        return problems
    parts = stored.get("parts")
    recorded: dict[str, Any] = parts if isinstance(parts, dict) else {}
    for name in sorted(set(recorded) | set(now["parts"])):
        if name not in now["parts"]:
            if f"{name} is missing" not in problems:
                problems.append(f"{name} was removed since the run")
        elif name not in recorded:
            problems.append(f"{name} was added since the run")
        elif recorded[name] != now["parts"][name]:
            problems.append(f"{name} was edited since the run")
    return problems or ["the content no longer matches the seal's digest (seal.sha256)"]


def _missing(record: dict[str, Any]) -> list[str]:
    missing = []
    for field in REQUIRED:
        part, _, key = field.partition(".")
        if part.endswith("[]"):
            entries = record.get(part[:-2])
            for i, entry in enumerate(entries if isinstance(entries, list) else []):
                if not isinstance(entry, dict) or key not in entry:
                    missing.append(f"{part[:-2]}[{i}].{key}")
        elif part not in record:
            if not key:
                missing.append(part)
        elif key and (not isinstance(record[part], dict) or key not in record[part]):
            missing.append(field)
    return list(dict.fromkeys(missing))


def read_audit(out_dir: str | Path) -> dict[str, Any]:
    """Read ``audit.json`` in a results directory; a missing, unreadable or foreign file raises a clear error.

    The record is returned as read: :func:`check_audit` says whether it was edited since the run.
    """
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        raise SopEvalError(f"'{out_dir}' is not a results directory; give the directory `sop-eval run --out` wrote.")
    path = out_dir / "audit.json"
    if not path.is_file():
        raise SopEvalError(
            f"'{out_dir}' has no audit.json, so it is not a results directory written by `sop-eval run`."
        )
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SopEvalError(
            f"'{path}' is corrupt or incomplete ({exc}); it cannot be read. Restore it from the bundle you "
            "received, or re-run `sop-eval run` to write a new audit record."
        ) from None
    except OSError as exc:
        raise SopEvalError(f"cannot read '{path}': {exc.strerror}.") from None
    if not isinstance(record, dict) or "format" not in record:
        raise SopEvalError(f"'{path}' is not a sop_eval audit record (it has no 'format' field).")
    if record["format"] != AUDIT_FORMAT:
        raise SopEvalError(
            f"'{path}' has format {record['format']!r}; this sop_eval reads {AUDIT_FORMAT!r}. Verify it with the "
            "sop_eval version that wrote it (environment.sop_eval), or re-run `sop-eval run`."
        )
    return record
