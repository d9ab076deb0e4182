"""Verification of a run: re-run the evaluation its audit record describes and compare what people read.

:func:`verify` checks the audit record's seal, the contract and every input (by SHA-256; a changed data
file down to its columns), re-runs the evaluation, renders every file of the bundle again and compares
them by SHA-256 with what the run wrote and with what is on disk, and compares every figure of
``results.json`` (:func:`compare_results`: counts and money exactly, other floating-point figures within a
relative tolerance of ``1e-9``, an absolute one of ``1e-12`` near zero). Its answer starts with the bottom
line: the payments due and each gate decision, each unchanged or changed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from sop_eval.contract import Contract, load_contract
from sop_eval.errors import SopEvalError, examples
from sop_eval.evaluation.audit import check_audit, column_digests, environment, read_audit, sha256_bytes, sha256_file
from sop_eval.evaluation.evaluate import bundle_files, evaluate
from sop_eval.outputs import ShortRepr
from sop_eval.report.disclosure import DEFAULT_POLICY, DisclosurePolicy
from sop_eval.report.pdf import PDF, render_pdf
from sop_eval.report.style import money

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


#: How many differing figures the text form lists.
SHOWN_DIFFERENCES = 50


@dataclass(frozen=True, repr=False)
class Verification(ShortRepr):
    """The outcome of re-running an evaluation from its audit record and comparing every file and figure.

    ``checks`` holds one entry per file (``kind``: ``contract``, ``input``, ``output``; with ``check`` naming
    the file, ``ok`` and ``detail``); ``differences`` every figure of ``results.json`` that differs;
    ``audit_problems`` every field of ``audit.json`` edited, added, removed or missing since the run;
    ``rerun`` whether the evaluation was re-run (``reason`` says why not); ``bottom_line`` the payments due
    and gate decisions, each with its status against ``results.json``.
    """

    directory: str
    checks: tuple[dict[str, Any], ...]
    differences: tuple[Difference, ...]
    rerun: bool = True
    reason: str = ""
    audit_problems: tuple[str, ...] = ()
    bottom_line: Mapping[str, Any] = field(default_factory=dict)
    environment: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when the evaluation was re-run, the audit record is intact, every file is unchanged and every
        figure agrees."""
        return self.rerun and not self.audit_problems and all(c["ok"] for c in self.checks) and not self.differences

    @property
    def exit_code(self) -> int:
        """0 when verified, 1 otherwise (``sop-eval verify``'s exit status)."""
        return 0 if self.ok else 1

    def reasons(self) -> list[str]:
        """Why the bundle is not verified, most important first (empty when it is)."""
        out = []
        if self.audit_problems:
            out.append(f"audit.json was edited since the run ({examples(self.audit_problems, 4)})")
        if not self.rerun:
            out.append(f"nothing was re-run: {self.reason}")
        failed = [c["check"] for c in self.checks if not c["ok"]]
        if failed:
            out.append(f"{len(failed)} file(s) changed or missing: {examples(failed, 6)}")
        if self.differences:
            out.append(f"{len(self.differences)} figure(s) in results.json differ from the re-run")
        return out

    def summary(self) -> pd.DataFrame:
        """One row per check (audit record, files, then figures)."""
        rows = [{"check": "audit.json", "ok": not self.audit_problems,
                 "detail": "; ".join(self.audit_problems) or "intact (its seal matches)"}]
        rows += [dict(c) for c in self.checks]
        if self.rerun:
            rows.append({"check": "figures in results.json", "ok": not self.differences,
                         "detail": "all agree" if not self.differences else f"{len(self.differences)} differ"})
        else:
            rows.append({"check": "re-run", "ok": False, "detail": f"nothing was re-run: {self.reason}"})
        return pd.DataFrame(rows)[["check", "ok", "detail"]]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form: the same content, in the same order, as :meth:`text`."""
        return {
            "verified": self.ok,
            "exit_code": self.exit_code,
            "reasons": self.reasons(),
            "directory": self.directory,
            "bottom_line": dict(self.bottom_line),
            "rerun": self.rerun,
            "not_rerun_because": self.reason or None,
            "inputs": [c for c in self.checks if c["kind"] in ("contract", "input")],
            "environment": list(self.environment),
            "audit": {"intact": not self.audit_problems, "problems": list(self.audit_problems)},
            "outputs": [c for c in self.checks if c["kind"] == "output"],
            "differences": [d.to_dict() for d in self.differences],
        }

    def text(self) -> str:
        """The report ``sop-eval verify`` prints: the verdict and bottom line first, then inputs, then details."""
        lines = ["verified: the re-run agrees with every file and every figure" if self.ok
                 else "NOT verified: " + "; ".join(self.reasons())]
        bottom = self.bottom_line
        source = "re-computed" if self.rerun else "as results.json states them; not re-computed"
        lines += ["", f"Payments due ({source}):"]
        lines += _aligned([(p["name"], p["shown"], p["status"]) for p in bottom.get("payments", [])])
        if not bottom.get("payments"):
            lines.append("  (results.json cannot be read)")
        gates = bottom.get("gates", [])
        lines += ["", f"Gate decisions ({source}):" if gates else "Gate decisions: none in this contract"]
        lines += _aligned([(g["gate"], g["shown"], g["status"]) for g in gates])
        lines += ["", "Inputs:"]
        lines += [f"  {'ok' if c['ok'] else 'NO'}  {c['kind']} {c['check']}: {c['detail']}"
                  for c in self.checks if c["kind"] in ("contract", "input")]
        if self.environment:
            lines.append("  note  package versions differ from the run's: " + ", ".join(self.environment))
        lines += ["", "Audit record:"]
        lines += ([f"  NO  audit.json: {p}" for p in self.audit_problems] if self.audit_problems
                  else ["  ok  audit.json: intact (its seal matches)"])
        lines += ["", "Files people read:"]
        lines += [f"  {'ok' if c['ok'] else 'NO'}  {c['check']}: {c['detail']}" for c in self.checks
                  if c["kind"] == "output"]
        if self.differences:
            lines += ["", "Figures in results.json that differ (stored, re-computed):"]
            lines += [f"  differs: {d.path}: stored {d.stored!r}, re-computed {d.recomputed!r} ({d.rule})"
                      for d in self.differences[:SHOWN_DIFFERENCES]]
            if len(self.differences) > SHOWN_DIFFERENCES:
                lines.append(f"  … and {len(self.differences) - SHOWN_DIFFERENCES} more")
        elif self.rerun:
            lines += ["", "Figures in results.json: all agree with the re-run"]
        return "\n".join(lines)


def _aligned(rows: list[tuple[str, str, str]]) -> list[str]:
    if not rows:
        return []
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    return [f"  {a.ljust(w0)}  {b.ljust(w1)}  {c}" for a, b, c in rows]


# -- the bottom line ----------------------------------------------------------------------------------------
def _money(currency: str, value: Any) -> str:
    try:
        return money(float(value), currency)
    except (TypeError, ValueError, ArithmeticError):
        return str(value)


def _answer(results: Any) -> dict[str, Any] | None:
    """Payments (total, then per payer) and gate decisions of a results.json record; None when unreadable."""
    try:
        payments = results["payments"]
        currency = str(payments["currency"])
        money = {"total": float(payments["total_payment"])}
        money.update({str(k): float(v) for k, v in payments["payments_by_payer"].items()})
        gates = {}
        for line in payments["lines"]:
            d = line.get("decision")
            if d:
                gates[str(d["gate"])] = {"met": bool(d["met"]), "value": d["value"], "threshold": d["threshold"],
                                         "measure": str(d.get("measure", ""))}
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    return {"currency": currency, "money": money, "gates": gates}


def _gate_text(g: Mapping[str, Any] | None) -> str:
    if g is None:
        return "absent"
    word = "met" if g["met"] else "not met"
    try:
        value, threshold = float(g["value"]), float(g["threshold"])
    except (TypeError, ValueError):
        return word
    if "relative" in g["measure"]:
        return f"{word} ({100 * value:.1f}% against {100 * threshold:.1f}%)"
    return f"{word} ({value:.4g} against {threshold:.4g})"


def bottom_line(stored: Any, recomputed: Any) -> dict[str, Any]:
    """Payments due and gate decisions: re-computed where there is a re-run (stored otherwise), each with its
    status — ``unchanged``, ``changed from X to Y`` (stored to re-computed) or ``not re-computed``."""
    a, b = _answer(stored) if stored is not None else None, _answer(recomputed) if recomputed is not None else None
    main = b or a
    if main is None:
        return {"currency": None, "payments": [], "gates": []}
    currency = main["currency"]
    payments, gates = [], []
    for name in dict.fromkeys([*main["money"], *((a or {}).get("money", {}))]):
        new, old = (b or {}).get("money", {}).get(name), (a or {}).get("money", {}).get(name)
        shown = new if b is not None else old
        if b is None:
            status = "not re-computed"
        elif old == new:
            status = "unchanged"
        else:
            status = f"changed from {_money(currency, old) if old is not None else 'absent'} to {_money(currency, new)}"
        payments.append({"name": name, "amount": shown, "stored": old, "recomputed": new,
                         "shown": _money(currency, shown) if shown is not None else "absent", "status": status})
    for name in dict.fromkeys([*main["gates"], *((a or {}).get("gates", {}))]):
        new, old = (b or {}).get("gates", {}).get(name), (a or {}).get("gates", {}).get(name)
        shown = new if b is not None else old
        if b is None:
            status = "not re-computed"
        elif old is not None and new is not None and old["met"] == new["met"]:
            status = "unchanged"
        else:
            status = f"changed from {_gate_text(old)} to {_gate_text(new)}"
        gates.append({"gate": name, "met": None if shown is None else shown["met"],
                      "stored": None if old is None else old["met"], "recomputed": None if new is None else new["met"],
                      "shown": _gate_text(shown), "status": status})
    return {"currency": currency, "payments": payments, "gates": gates}


# -- the checks --------------------------------------------------------------------------------------------
def _check(kind: str, name: str, ok: bool, detail: str) -> dict[str, Any]:
    return {"kind": kind, "check": name, "ok": ok, "detail": detail}


def _get(record: Any, *keys: Any) -> Any:
    for key in keys:
        try:
            record = record[key]
        except (KeyError, IndexError, TypeError):
            return None
    return record


def _file_check(kind: str, name: str, path: Path, digest: Any, hint: str) -> dict[str, Any]:
    if not path.is_file():
        return _check(kind, name, False, f"missing (looked for {path}); {hint}")
    if not isinstance(digest, str):
        return _check(kind, name, False, "audit.json records no SHA-256 for it")
    ok = sha256_file(path) == digest
    return _check(kind, name, ok, "unchanged" if ok else "changed since the run (SHA-256 differs)")


def _columns_changed(entry: Mapping[str, Any], path: Path) -> str:
    """What changed in a data file, by column, against the row count and column digests of the audit."""
    try:
        now = column_digests(path, entry.get("rows_ordered_by"))
    except SopEvalError as exc:
        return f"changed since the run, and cannot be read: {exc}"
    columns = entry.get("columns")
    before: dict[str, Any] = columns if isinstance(columns, dict) else {}
    parts = []
    changed = [c for c in before if c in now["columns"] and now["columns"][c] != before[c]]
    if changed:
        parts.append(f"column(s) {examples(changed, 8)} changed")
    removed = [c for c in before if c not in now["columns"]]
    if removed:
        parts.append(f"column(s) {examples(removed, 8)} removed")
    added = [c for c in now["columns"] if c not in before]
    if added:
        parts.append(f"column(s) {examples(added, 8)} added")
    rows = entry.get("rows")
    if rows != now["rows"]:
        parts.append(f"{now['rows']:,} rows, {rows:,} at the run" if isinstance(rows, int) else f"{now['rows']:,} rows")
    elif parts:
        parts.append(f"{rows:,} rows as at the run")
    if not parts:
        return "changed since the run (SHA-256 differs), but every column holds the same values"
    return "changed since the run: " + "; ".join(parts)


def _environment_changes(recorded: Any) -> tuple[str, ...]:
    now = environment()
    if not isinstance(recorded, Mapping):
        return ()
    out = []
    for key in ("sop_eval", "python"):
        if recorded.get(key) != now[key]:
            out.append(f"{key} {now[key]} (run: {recorded.get(key)})")
    deps: Mapping[str, Any] = recorded["dependencies"] if isinstance(recorded.get("dependencies"), Mapping) else {}
    for name, version in now["dependencies"].items():
        if deps.get(name) != version:
            out.append(f"{name} {version} (run: {deps.get(name)})")
    return tuple(out)


def _policy(record: Mapping[str, Any]) -> DisclosurePolicy:
    given = _get(record, "disclosure", "policy")
    if not isinstance(given, Mapping):
        return DEFAULT_POLICY
    keys = ("name", "threshold", "rounding", "secondary")
    return DisclosurePolicy(**{k: given[k] for k in keys if k in given})


def _read_results(out_dir: Path) -> Any:
    try:
        return json.loads((out_dir / "results.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None


def _repointed(contract: Contract, located: Mapping[str, Path]) -> Contract:
    if contract.data is None:
        return contract
    changes: dict[str, Any] = {role: path for role, path in located.items() if hasattr(contract.data, role)}
    return replace(contract, data=replace(contract.data, **changes)) if changes else contract


# -- verify ------------------------------------------------------------------------------------------------
def verify(
    out_dir: str | Path, *, contract: str | Path | None = None, data_dir: str | Path | None = None
) -> Verification:
    """Re-run the evaluation recorded in ``out_dir/audit.json`` and compare every file and figure.

    The contract is found at its path relative to ``out_dir`` (or at ``contract``), each data file at its path
    relative to the contract (or, by file name, in ``data_dir``). Checks the audit record's seal, the contract
    and every input (SHA-256; a changed data file by column), re-runs the evaluation from the recorded
    parameters and seed, renders every file of the bundle again and compares each with what the run wrote
    and with what is on disk, and compares every figure of ``results.json`` (:func:`compare_results`).
    Nothing is re-run when the audit record was edited or an input is missing. An unreadable or foreign
    ``audit.json`` raises :class:`SopEvalError`.
    """
    out_dir = Path(out_dir)
    record = read_audit(out_dir)
    problems = tuple(check_audit(record))
    stored = _read_results(out_dir)
    checks: list[dict[str, Any]] = []
    why: list[str] = []

    centry: Mapping[str, Any] = record["contract"] if isinstance(record.get("contract"), Mapping) else {}
    recorded_path = centry.get("path") if isinstance(centry.get("path"), str) else None
    contract_path = Path(contract) if contract is not None else (out_dir / recorded_path if recorded_path else None)
    contract_name = Path(recorded_path).name if recorded_path else "contract.toml"
    if contract_path is None:
        checks.append(_check("contract", "(no path recorded)", False, "audit.json records no contract path"))
    else:
        shown = recorded_path if contract is None and recorded_path else str(contract_path)
        checks.append(_file_check("contract", shown, contract_path, centry.get("sha256"),
                                  "give its new place with --contract PATH"))
    if contract_path is None or not contract_path.is_file():
        why.append("the contract is missing (give it with --contract PATH)")

    located: dict[str, Path] = {}
    entries: list[Any] = record["inputs"] if isinstance(record.get("inputs"), list) else []
    for entry in entries:
        entry = entry if isinstance(entry, Mapping) else {}
        relative = entry.get("path") if isinstance(entry.get("path"), str) else None
        role = str(entry.get("role", "data"))
        if relative is None:
            checks.append(_check("input", role, False, "audit.json records no path for it"))
            why.append(f"the {role} file is not recorded")
            continue
        if data_dir is not None:
            path = Path(data_dir) / Path(relative).name
        elif contract_path is not None:
            path = contract_path.parent / relative
        else:
            path = out_dir / relative
        check = _file_check("input", f"{role} {relative}", path, entry.get("sha256"),
                            "give the folder holding it with --data-dir DIR")
        if path.is_file():
            located[role] = path
            if not check["ok"] and isinstance(entry.get("sha256"), str):
                check["detail"] = _columns_changed(entry, path)
        else:
            why.append(f"input {Path(relative).name} is missing (give the folder holding it with --data-dir DIR)")
        checks.append(check)

    recorded_outputs: Mapping[str, Any] = record["outputs"] if isinstance(record.get("outputs"), Mapping) else {}
    outputs = {}
    for name in sorted(recorded_outputs):
        check = _file_check("output", name, out_dir / name, recorded_outputs[name], "it was deleted since the run")
        if not (out_dir / name).is_file():
            check["detail"] = "deleted since the run"
        outputs[name] = check
    typeset_later = (out_dir / PDF).is_file() and PDF not in recorded_outputs
    figures = out_dir / "figures"
    if figures.is_dir():
        for path in sorted(figures.iterdir()):
            name = f"figures/{path.name}"
            if name not in outputs:
                outputs[name] = _check("output", name, False, "not written by the run")

    env = _environment_changes(record.get("environment"))
    if problems:
        why.insert(0, "audit.json, which says how to re-run, was edited since the run")
    if why:
        checks.extend(outputs.values())
        return Verification(str(out_dir), tuple(checks), (), rerun=False, reason="; ".join(why),
                            audit_problems=problems, bottom_line=bottom_line(stored, None), environment=env)

    assert contract_path is not None
    parameters = record["parameters"]
    try:
        terms = load_contract(contract_path)
        if data_dir is not None:
            terms = _repointed(terms, located)
        again = evaluate(terms, seed=parameters["seed"], as_of=parameters.get("as_of"),
                         risk_draws=parameters.get("risk_draws", 100_000), progress=False)
        files, _ = bundle_files(again, _policy(record), contract_name, str(record["created_utc"]))
    except SopEvalError as exc:
        checks.extend(outputs.values())
        return Verification(str(out_dir), tuple(checks), (), rerun=False, reason=f"the re-run failed: {exc}",
                            audit_problems=problems, bottom_line=bottom_line(stored, None), environment=env)

    if PDF in recorded_outputs or typeset_later:
        files[PDF] = render_pdf(files["report.html"].decode("utf-8"))
    if typeset_later:
        same = sha256_bytes(files.pop(PDF)) == sha256_bytes((out_dir / PDF).read_bytes())
        outputs[PDF] = _check("output", PDF, same, (
            "not in the audit record (typeset after the run), and identical to a fresh typesetting of the verified "
            "report.html" if same else "not in the audit record (typeset after the run), and it differs from a "
            "fresh typesetting of the verified report.html: do not rely on it; re-typeset it with "
            "`sop-eval report BUNDLE --pdf`"))
    for name in sorted(set(files) | set(recorded_outputs)):
        check = outputs.setdefault(name, _check("output", name, True, "unchanged"))
        if name not in files:
            check.update(ok=False, detail=check["detail"] + "; the re-run does not write it")
        elif name not in recorded_outputs:
            check.update(ok=False, detail="the re-run writes it but the run did not")
        elif sha256_bytes(files[name]) != recorded_outputs[name]:
            note = " (package versions differ, see above)" if env else ""
            kept = "as the run wrote it" if check["ok"] else check["detail"]
            check.update(ok=False, detail=f"{kept}; the re-run renders it differently{note}")
        elif check["ok"]:
            check["detail"] = "unchanged, and re-rendered identically"
    checks.extend(outputs[name] for name in sorted(outputs))
    recomputed = json.loads(files["results.json"])
    if stored is None:
        differences = [Difference("results.json", None, "(re-computed)", "results.json cannot be read")]
    else:
        differences = compare_results(stored, recomputed)
    return Verification(str(out_dir), tuple(checks), tuple(differences), audit_problems=problems,
                        bottom_line=bottom_line(stored, recomputed), environment=env)
