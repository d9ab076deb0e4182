"""The assessor's audit trail: the provenance record of a run (``audit.json``).

``audit.json`` records the SHA-256 of every input file and of the contract, the contract version,
package and dependency versions, every parameter and seed, the time of the run and the digest of
``results.json``. :mod:`sop_eval.evaluation.verify` re-runs an evaluation from it.
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

from sop_eval._version import __version__
from sop_eval.errors import SopEvalError
from sop_eval.outputs import write_json_atomic

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


AUDIT_FORMAT = "sop_eval audit 1"


def write_audit(
    path: Path, contract_path: Path, evaluation: Any, results_text: str, protected: Any, policy: Any, out_dir: Path
) -> dict[str, Any]:
    """Write ``audit.json``: hashes of the contract and inputs, versions, parameters, time and results digest."""
    out_dir = Path(out_dir).resolve()
    record = {
        "format": AUDIT_FORMAT,
        "created_utc": utc_now(),
        "contract": _file_record(contract_path, out_dir) | {
            "name": evaluation.contract.name,
            "version": evaluation.contract.version,
        },
        "inputs": [_file_record(p, out_dir) for p in evaluation.inputs],
        "parameters": evaluation.parameters,
        "environment": environment(),
        "results_sha256": sha256_bytes(results_text.encode("utf-8")),
        "disclosure": {"policy": policy.to_dict(), "tables": [t.to_dict() for t in protected]},
    }
    write_json_atomic(path, record)
    return record


def _file_record(path: Path, out_dir: Path) -> dict[str, Any]:
    path = Path(path).resolve()
    try:
        relative = str(Path(os.path.relpath(path, out_dir)))
    except ValueError:  # another drive on Windows
        relative = None
    return {"path": str(path), "relative_to_output": relative, "sha256": sha256_file(path),
            "bytes": path.stat().st_size}


def read_audit(out_dir: str | Path) -> dict[str, Any]:
    """Read and check ``audit.json`` in a results directory (clear errors for a missing or corrupt file)."""
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
        raise SopEvalError(f"'{path}' is corrupt ({exc}); re-run `sop-eval run` to write a new audit record.") from None
    needed = ("format", "contract", "inputs", "parameters", "results_sha256")
    if not isinstance(record, dict) or record.get("format") != AUDIT_FORMAT or any(k not in record for k in needed):
        raise SopEvalError(
            f"'{path}' is not a sop_eval audit record (expected format '{AUDIT_FORMAT}' with keys {', '.join(needed)})."
        )
    return record
