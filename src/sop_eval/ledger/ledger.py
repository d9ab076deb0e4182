"""The :class:`Ledger`: a contract's life — terms, claims, samples, evaluations, payments — in a database.

Every method that records something appends entries in one locked transaction, after re-reading the
ledger inside that transaction, so what it computes is based on every committed entry and nothing partial
is ever visible. Amounts come back as :class:`~decimal.Decimal` currency units.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import uuid
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from copy import copy
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select

from sop_eval.errors import SopEvalError, SopEvalWarning, examples
from sop_eval.ledger.chain import canonical, chain_rows, chain_texts, first_break, quote
from sop_eval.ledger.due import DUE_RULE, Due, cumulative_due, paid_by_due, versions
from sop_eval.ledger.indigo import contract_toml_from_indigo, export_project
from sop_eval.ledger.pence import to_money, to_pence
from sop_eval.ledger.sampling import RULE, ErrorRate, draw, estimate
from sop_eval.ledger.schema import entries
from sop_eval.ledger.state import ELIGIBLE, State, replay, replay_terms
from sop_eval.ledger.statement import Statement, statement
from sop_eval.ledger.store import (
    Store,
    append_rows,
    bulk,
    existing_keys,
    head,
    is_url,
    read_entries,
)
from sop_eval.ledger.terms import changed_terms
from sop_eval.outputs import write_json_atomic
from sop_eval.payments import Contract, parse_contract, read_claims
from sop_eval.payments.ratecard import repeat_numbers

#: Called inside a write transaction just before it commits (tests use it to hold a run open).
BeforeCommit = Callable[[], None]


def default_db(contract: str | Path) -> Path:
    """The default ledger of a contract: a SQLite file next to it (``name.ledger.sqlite``)."""
    p = Path(contract)
    return p.with_name(p.stem + ".ledger.sqlite")


def _day(value: dt.date | str, what: str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise SopEvalError(f"{what} = {value!r} is not a date; give it as YYYY-MM-DD.") from None


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


@dataclass(frozen=True)
class ImportResult:
    """What a claims import did: the file, its rows, the claims added, the rows that repeat an earlier row of
    the same file, the claims already in the ledger, and the rows added as duplicates (pay nothing)."""

    file: str
    rows: int
    added: int
    already: int
    repeated: int = 0
    duplicates: tuple[int, ...] = ()


@dataclass(frozen=True)
class PaymentRun:
    """A payment run: what it paid by group and payer (Decimal), caps applied, payer and top-up split."""

    seq: int
    period_end: dt.date
    payers: tuple[str, ...]
    lines: tuple[dict[str, Any], ...]
    by_payer: Mapping[str, Decimal]
    top_up: Decimal
    caps: Mapping[str, Decimal]

    @property
    def total(self) -> Decimal:
        """The run's total (negative when it recovers more than it pays)."""
        return sum(self.by_payer.values(), Decimal("0.00"))

    def summary(self) -> pd.DataFrame:
        """One row per line: group, due, already paid, paid now (by payer in columns)."""
        return pd.DataFrame(self.lines)


@dataclass(frozen=True)
class Reconciliation:
    """Interim (what was settled) against final (what is due now), by group, with the balance either way.

    A positive balance is owed to the provider, a negative one is owed back by it.
    """

    payers: tuple[str, ...]
    rows: tuple[dict[str, Any], ...]
    interim: Mapping[str, Decimal]
    final: Mapping[str, Decimal]
    evaluations: tuple[dict[str, Any], ...]

    @property
    def balance(self) -> dict[str, Decimal]:
        """Balance by payer (final - interim)."""
        return {p: self.final[p] - self.interim[p] for p in self.payers}

    @property
    def total_balance(self) -> Decimal:
        """The balance over every payer."""
        return sum(self.balance.values(), Decimal("0.00"))

    def summary(self) -> pd.DataFrame:
        """One row per group: interim, final and balance."""
        return pd.DataFrame(self.rows, columns=["group", "interim", "final", "balance"])


@dataclass(frozen=True)
class Verification:
    """The result of :meth:`Ledger.verify`: entries walked, the first break (if any), figures that differ, and
    the chain head (last entry number and hash) to record — a ledger cut short at the end or restored from an
    old copy is still a whole chain, so only a head recorded elsewhere (``expect_head``) can show it."""

    entries: int
    broken: str | None
    differences: tuple[str, ...]
    last_seq: int = 0
    last_hash: str = ""

    @property
    def head(self) -> str:
        """``ENTRY:HASH`` of the last entry (give it back as ``expect_head`` to check nothing was cut off)."""
        return f"{self.last_seq}:{self.last_hash}"

    @property
    def ok(self) -> bool:
        """True when the chain is whole and every recorded figure is recomputed exactly."""
        return self.broken is None and not self.differences


class Ledger:
    """A contract's ledger in a database (a SQLite path or any SQLAlchemy URL)."""

    def __init__(self, db: str | Path) -> None:
        if not is_url(db) and not Path(db).is_file():
            raise SopEvalError(f"ledger {str(db)!r} does not exist; create it with `sop-eval ledger init --db {db} "
                               "--contract FILE`.")
        self.store = Store(db)
        self._cache: State | None = None
        if self.store.schema_version() is None:
            where = self.store.where
            self.store.close()
            raise SopEvalError(f"ledger {where!r} has not been created; run `sop-eval ledger init --db {where} "
                               "--contract FILE` first.")

    def close(self) -> None:
        """Release the database connections."""
        self.store.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- creating -----------------------------------------------------------------------------------

    @classmethod
    def init(cls, db: str | Path, contract: str | Path, reason: str = "contract signed") -> Ledger:
        """Create the ledger's schema (Alembic migrations) and record the contract (TOML, or INDIGO JSON)."""
        text, source = _contract_text(contract)
        store = Store(db)
        try:
            store.migrate()
        finally:
            store.close()
        ledger = cls(db)
        ledger.record_contract(text, source, reason)
        return ledger

    def record_contract(self, text: str, source: str, reason: str) -> int:
        """Record a contract (the first one, or a restated version) from its TOML text."""
        contract = parse_contract(text, source=source)
        with self.store.writing() as conn:
            state = replay_terms(read_entries(conn, skip=("claim",)))
            if state.base_contract is not None and state.base_contract.name != contract.name:
                raise SopEvalError(f"{source}: contract {contract.name!r} is not this ledger's contract "
                                   f"({state.base_contract.name!r}); give each contract its own --db.")
            if state.base_contract is not None and state.base_contract.sha256 == contract.sha256:
                return 0
            if state.base_contract is not None and state.base_contract.version == contract.version:
                changed = changed_terms(state.base_contract, contract)
                if changed:
                    raise SopEvalError(
                        f"{source}: version {contract.version} of contract {contract.name!r} is already recorded "
                        f"with other money terms ({'; '.join(changed)}); restating it would re-price every claim "
                        "back to the first. Record a price change as a variation from the day it takes effect "
                        f"(`sop-eval ledger variation --db {self.store.where} --version NEW --effective YYYY-MM-DD "
                        "--reason WHY --price OUTCOME=PRICE`), or give the restated contract a new version. "
                        "Metadata such as organisation ids may be restated at the same version.")
            body = {"name": contract.name, "version": contract.version, "effective": contract.effective.isoformat(),
                    "reason": reason, "toml": text, "sha256": contract.sha256, "source": Path(source).name,
                    "ledger_id": state.ledger_id or uuid.uuid4().hex, "recorded_at": _now()}
            return self._append(conn, [("contract", None, body)])[0]

    def add_variation(self, version: str, effective: dt.date | str, reason: str,
                      prices: Mapping[str, Decimal | str | int]) -> int:
        """Record a variation: a new ``version`` in force from ``effective`` with changed ``prices``, and why."""
        day = _day(effective, "variation effective date")
        if not reason.strip():
            raise SopEvalError("a variation needs a reason; give --reason.")
        with self.store.writing() as conn:
            state = replay_terms(read_entries(conn, skip=("claim",)))
            c = state.contract
            names = {o.name for o in c.outcomes}
            clean = {}
            for name, value in prices.items():
                if name not in names:
                    raise SopEvalError(f"variation price for {name!r}: no such outcome; outcomes: "
                                       f"{examples(sorted(names), 10)}.")
                try:
                    amount = Decimal(str(value))
                except InvalidOperation:
                    raise SopEvalError(f"variation price for {name!r} = {value!r} is not an amount.") from None
                if amount < 0:
                    raise SopEvalError(f"variation price for {name!r} = {value}; a price cannot be negative.")
                clean[name] = str(amount)
            last = max([c.effective, *(a.effective for a in c.amendments)])
            if day <= last:
                raise SopEvalError(f"variation {version!r} effective {day} is not after the version in force from "
                                   f"{last}; variations take effect in date order.")
            if version in {c.version, *(a.version for a in c.amendments)}:
                raise SopEvalError(f"version {version!r} already exists; give the variation a new version.")
            body = {"version": version, "effective": day.isoformat(), "reason": reason, "prices": clean,
                    "recorded_at": _now()}
            return self._append(conn, [("variation", None, body)])[0]

    def set_index(self, name: str, base_date: dt.date | str, points: Iterable[tuple[dt.date | str, Any]],
                  reason: str = "price index") -> int:
        """Record the price index (a series of dated values and its base date) that uprates prices."""
        base = _day(base_date, "index base date")
        series = []
        for when, value in points:
            try:
                v = Decimal(str(value))
            except InvalidOperation:
                raise SopEvalError(f"index {name!r}: value {value!r} on {when} is not a number.") from None
            if v <= 0:
                raise SopEvalError(f"index {name!r}: value {value} on {when} must be positive.")
            series.append((_day(when, f"index {name!r} date").isoformat(), str(v)))
        series.sort()
        if not series or series[0][0] > base.isoformat():
            raise SopEvalError(f"index {name!r} has no value on or before its base date {base}; add that point.")
        with self.store.writing() as conn:
            contract = replay_terms(read_entries(conn, skip=("claim",))).contract  # a contract must exist
            if not contract.outcomes:
                raise SopEvalError("the ledger's contract has no outcomes to uprate.")
            body = {"name": name, "base_date": base.isoformat(), "points": series, "reason": reason,
                    "recorded_at": _now()}
            return self._append(conn, [("index", None, body)])[0]

    # -- claims -------------------------------------------------------------------------------------

    def import_claims(self, path: str | Path, received: dt.date | str | None = None) -> ImportResult:
        """Record the claims of a CSV file (person, outcome, date, validated; optional claim_id, evidence).

        Idempotent: a claim already recorded with the same content adds nothing; one recorded with other
        content is refused, naming its row. Claims achieved before the contract took effect or after the day
        the file was ``received`` (default today) are refused. A validated claim beyond what a person may
        earn for its outcome (the rule of :func:`sop_eval.payments.ratecard.repeat_numbers`; claims already
        recorded keep their place) is recorded as ``duplicate``, pays nothing and is named in a warning.
        Person references are stored only as keyed hashes.
        """
        p = Path(path)
        if not p.is_file():
            raise SopEvalError(f"claims file {str(p)!r} does not exist; check the path.")
        day = dt.date.today() if received is None else _day(received, "claims received date")
        raw = p.read_bytes()
        file_sha = hashlib.sha256(raw).hexdigest()
        frame = pd.read_csv(p, dtype=str, keep_default_na=False)
        where = f"claims file {p.name!r}"
        try:
            claims = read_claims(frame)
        except SopEvalError as exc:
            raise SopEvalError(f"{where}: {exc}") from None
        evidence = frame["evidence"].astype(str).to_numpy() if "evidence" in frame.columns else np.full(len(frame), "")
        with self.store.writing() as conn, bulk():
            terms = list(read_entries(conn, skip=("claim",)))
            state = replay_terms(terms)
            _check_dates(where, claims, state.contract.effective, day, received is None)
            cards = {o.name for o in state.contract.outcomes if o.mechanism == "rate_card"}
            bad = ~claims["outcome"].isin(cards)
            if bad.any():
                rows = claims.loc[bad, "row"].tolist()
                raise SopEvalError(f"{where}: outcome {claims.loc[bad, 'outcome'].iloc[0]!r} in row(s) "
                                   f"{examples(rows)} is not a rate-card outcome of the contract; its rate-card "
                                   f"outcomes are {examples(sorted(cards), 10) or 'none'}.")
            salt = state.ledger_id
            sha = hashlib.sha256
            persons = [sha(f"{salt}:{v}".encode()).hexdigest()[:24] for v in claims["person"].tolist()]
            dates = [d.isoformat() for d in claims["date"]]
            status = np.where(claims["validated"].to_numpy(dtype=bool), "claimed", "not validated")
            ids = claims["claim_id"].tolist() if "claim_id" in claims.columns else None
            keys = [sha((f"id:{ids[i]}" if ids else f"{persons[i]}|{o}|{d}").encode()).hexdigest()[:32]
                    for i, (o, d) in enumerate(zip(claims["outcome"].tolist(), dates, strict=True))]
            known = existing_keys(conn, "claim")
            seen: dict[str, tuple[int, tuple[str, ...]]] = {}
            new = []
            already = repeated = 0
            contents = zip(persons, claims["outcome"].tolist(), dates, [str(e) for e in evidence], status.tolist(),
                           strict=True)
            for row, (key, content) in enumerate(zip(keys, contents, strict=True), start=1):
                if key in seen:
                    first, before = seen[key]
                    if before != content:
                        raise SopEvalError(f"{where}: row {row} is the same claim as row {first} with different "
                                           "content; keep one of them.")
                    repeated += 1
                    continue
                seen[key] = (row, content)
                if key in known:
                    seq, body = known[key]
                    b = json.loads(body)
                    recorded = "claimed" if b["status"] == "duplicate" else b["status"]
                    if (b["person"], b["outcome"], b["achieved"], b["evidence"], recorded) != content:
                        raise SopEvalError(
                            f"{where}: row {row} conflicts with claim {seq} already recorded (row {b['row']} of an "
                            "earlier import) with other content; a recorded claim changes only through findings or "
                            "a clawback. Correct the row or leave it out.")
                    already += 1
                    continue
                new.append((key, row, content))
            new, flagged = _flag_duplicates(where, state.contract, new, known, terms)
            if not new:
                return ImportResult(p.name, len(claims), 0, already, repeated)
            seq0, prev = head(conn)
            import_seq = seq0 + 1
            header = canonical({"file": p.name, "sha256": file_sha, "rows": len(claims), "added": len(new),
                                "received": day.isoformat(), "recorded_at": _now()})
            # claim bodies written straight as canonical JSON (sorted keys); verify re-checks the form
            texts = ((("claim", key, f'{{"achieved":"{c[2]}","evidence":{quote(c[3])},"import":{import_seq},'
                       f'"outcome":{quote(c[1])},"person":"{c[0]}","row":{row},"status":"{c[4]}"}}')
                      for key, row, c in new))
            rows, _ = chain_texts(import_seq, prev, itertools.chain([("claims_import", None, header)], texts))
            append_rows(conn, rows)
            return ImportResult(p.name, len(claims), len(new), already, repeated, flagged)

    # -- verification samples -----------------------------------------------------------------------

    def draw_sample(self, start: dt.date | str, end: dt.date | str, *, fraction: float = 0.05, minimum: int = 10,
                    seed: int = 20240601) -> tuple[int, pd.DataFrame]:
        """Draw and record a verification sample of the period's eligible claims (see :mod:`.sampling`).

        Returns the sample's entry number and the sampled claims (claim, row, outcome, date, evidence).
        """
        lo, hi = _day(start, "sample start"), _day(end, "sample end")
        if hi < lo:
            raise SopEvalError(f"sample period ends ({hi}) before it starts ({lo}).")
        if not 0 < fraction <= 1:
            raise SopEvalError(f"sample fraction = {fraction}; give a fraction in (0, 1], e.g. 0.05.")
        with self.store.writing() as conn:
            state = self._current(conn)
            arr = state.claims_array()
            inside = (arr["date"] >= np.datetime64(lo)) & (arr["date"] <= np.datetime64(hi)) & \
                np.isin(arr["status"], ELIGIBLE)
            if not inside.any():
                raise SopEvalError(f"no claims eligible for payment were achieved from {lo} to {hi}; "
                                   "nothing to sample.")
            chosen = draw(arr["seq"][inside], arr["outcome"][inside], fraction, minimum, seed)
            claims = sorted(s for v in chosen.values() for s in v)
            body = {"start": lo.isoformat(), "end": hi.isoformat(), "seed": seed,
                    "rule": RULE.format(minimum=minimum, fraction=fraction), "fraction": fraction, "minimum": minimum,
                    "strata": {k: len(v) for k, v in chosen.items()}, "claims": claims, "recorded_at": _now()}
            seq = self._append(conn, [("sample", None, body)])[0]
        return seq, self._claim_table(state, claims)

    @staticmethod
    def _claim_table(state: State, claims: Sequence[int]) -> pd.DataFrame:
        pos = [state.claim_pos[s] for s in claims]
        return pd.DataFrame({"claim": list(claims), "row": [state.claim_row[i] for i in pos],
                             "outcome": [state.claim_outcome[i] for i in pos],
                             "date": [state.claim_date[i] for i in pos],
                             "evidence": [state.claim_evidence[i] for i in pos]})

    def record_findings(self, sample: int, findings: Mapping[int, str] | str | Path, level: float = 0.95) -> ErrorRate:
        """Record what checking a sample's claims found (``valid`` or ``invalid``) and estimate the error rate."""
        where = "findings"
        if isinstance(findings, (str, Path)):
            path = Path(findings)
            if not path.is_file():
                raise SopEvalError(f"findings file {str(path)!r} does not exist; check the path.")
            where = f"findings file {path.name!r}"
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
            missing = {"claim", "finding"} - set(frame.columns)
            if missing:
                raise SopEvalError(f"{where} has no column(s) {examples(sorted(missing))}; give claim,finding.")
            items = []
            for i, (c, f) in enumerate(zip(frame["claim"], frame["finding"], strict=True), start=1):
                if not str(c).strip().isdigit():
                    raise SopEvalError(f"{where}, row {i}: claim = {c!r}; give the claim number from the sample.")
                items.append((int(c), str(f).strip().lower()))
        else:
            items = [(int(c), str(f).strip().lower()) for c, f in findings.items()]
        for i, (c, f) in enumerate(items, start=1):
            if f not in ("valid", "invalid"):
                raise SopEvalError(f"{where}, row {i}: finding = {f!r} for claim {c}; expected valid or invalid.")
        with self.store.writing() as conn:
            state = self._current(conn)
            if sample not in state.samples:
                raise SopEvalError(f"ledger entry {sample} is not a verification sample; samples: "
                                   f"{examples(sorted(state.samples))}.")
            s = state.samples[sample]
            if s.findings:
                raise SopEvalError(f"sample {sample} already has findings recorded; findings are recorded once.")
            members = set(s.claims)
            for i, (c, _) in enumerate(items, start=1):
                if c not in members:
                    raise SopEvalError(f"{where}, row {i}: claim {c} is not in sample {sample}.")
            result = self._estimate(state, s, dict(items), level)
            body = {"sample": sample, "findings": sorted([c, f] for c, f in dict(items).items()),
                    "estimate": result.to_dict(), "recorded_at": _now()}
            self._append(conn, [("findings", None, body)])
        return result

    @staticmethod
    def _estimate(state: State, s: Any, found: Mapping[int, str], level: float) -> ErrorRate:
        arr = state.claims_array()
        inside = (arr["date"] >= np.datetime64(s.start)) & (arr["date"] <= np.datetime64(s.end)) & \
            np.isin(arr["status"], ELIGIBLE)
        outcomes = sorted(set(arr["outcome"][inside].tolist()))
        starts, _, prices = versions(state, outcomes)
        version = np.maximum(np.searchsorted(starts, arr["date"], side="right") - 1, 0)
        checked = np.isin(arr["seq"], np.asarray(list(found), dtype=np.int64))
        strata = {}
        for o in outcomes:
            mask = inside & (arr["outcome"] == o)
            table = np.asarray([to_pence(prices[(o, i)] or 0) for i in range(len(starts))], dtype=np.int64)
            value = table[version[mask]]
            sampled = checked[mask]
            if sampled.any():
                seqs = arr["seq"][mask][sampled]
                strata[o] = (value[sampled].tolist(), [found[int(x)] == "invalid" for x in seqs],
                             int(mask.sum()), int(value.sum()))
        return estimate(strata, level)

    # -- evaluation results -------------------------------------------------------------------------

    def add_evaluation(self, directory: str | Path, stage: str = "final") -> int:
        """Record a results bundle's payment figures (``results.json``) with its audit digest (``audit.json``).

        The bundle must be intact: ``results.json`` must have the SHA-256 its ``audit.json`` records (a full
        re-run is ``sop-eval verify DIR``). ``stage`` is ``interim`` or ``final``.
        """
        if stage not in ("interim", "final"):
            raise SopEvalError(f"evaluation stage = {stage!r}; expected interim or final.")
        d = Path(directory)
        results_path, audit_path = d / "results.json", d / "audit.json"
        for f in (results_path, audit_path):
            if not f.is_file():
                raise SopEvalError(f"'{d}' has no {f.name}; give a directory written by `sop-eval run`.")
        results_bytes, audit_bytes = results_path.read_bytes(), audit_path.read_bytes()
        try:
            results, audit = json.loads(results_bytes), json.loads(audit_bytes)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SopEvalError(f"'{d}': results.json or audit.json is not valid JSON ({exc}).") from None
        digest = hashlib.sha256(results_bytes).hexdigest()
        if audit.get("results_sha256") != digest:
            raise SopEvalError(f"'{results_path}' has changed since the run (its SHA-256 differs from audit.json's "
                               "results_sha256); re-run `sop-eval run` and add the new bundle.")
        payments = results.get("payments") or {}
        with self.store.writing() as conn:
            state = replay_terms(read_entries(conn, skip=("claim",)))
            c = state.contract
            if payments.get("contract") != c.name:
                raise SopEvalError(f"'{results_path}': payments are for contract {payments.get('contract')!r}, not "
                                   f"this ledger's {c.name!r}.")
            payers = set(state.payers)
            lines = []
            for line in payments.get("lines", []):
                ref = line.get("cohort") or f"claim row {line.get('claim_row')}"
                if set(line.get("payers", {})) - payers:
                    raise SopEvalError(f"'{results_path}': line {line.get('number')} names payer(s) that are not the "
                                       f"contract's ({examples(sorted(payers))}).")
                lines.append({"group": f"evaluation | {line['outcome']} | {ref}", "outcome": line["outcome"],
                              "kind": line.get("kind", ""), "status": line.get("status", ""),
                              "amount": to_pence(Decimal(str(line["amount"]))),
                              "payers": {k: to_pence(Decimal(str(v))) for k, v in line.get("payers", {}).items()}})
            body = {"stage": stage, "directory": d.name, "results_sha256": digest,
                    "audit_sha256": hashlib.sha256(audit_bytes).hexdigest(),
                    "contract_version": payments.get("contract_version"),
                    "contract_sha256": payments.get("contract_sha256"),
                    "lines": lines, "recorded_at": _now()}
            return self._append(conn, [("evaluation", None, body)])[0]

    # -- payments -----------------------------------------------------------------------------------

    def pay(self, period_end: dt.date | str, *, before_commit: BeforeCommit | None = None) -> PaymentRun:
        """Pay, for every group and payer, what is due up to ``period_end`` less what was already paid."""
        end = _day(period_end, "payment period end")
        with self.store.writing() as conn:
            state = self._current(conn)
            if state.last_period_end is not None and end < state.last_period_end:
                raise SopEvalError(f"payment period end {end} is before the last run's ({state.last_period_end}); "
                                   "runs go forward in time.")
            body = run_body(state, end)
            seq = self._append(conn, [("payment_run", None, body)])[0]
            if before_commit is not None:
                before_commit()
        return run_result(seq, body, state.payers)

    def clawback(self, claims: Sequence[int], reason: str) -> PaymentRun:
        """Withdraw paid claims (found invalid) with a reason, and recover what was paid on them."""
        if not reason.strip():
            raise SopEvalError("a clawback needs a reason; give --reason.")
        with self.store.writing() as conn:
            state = self._current(conn)
            for c in claims:
                if c not in state.claim_pos:
                    raise SopEvalError(f"claim {c} is not recorded in this ledger; give claim numbers from the ledger.")
                if state.claim_status[state.claim_pos[c]] not in ELIGIBLE:
                    raise SopEvalError(f"claim {c} is {state.claim_status[state.claim_pos[c]]!r}; only claims that are "
                                       "claimed or verified can be clawed back.")
            body = clawback_body(state, list(claims), reason)
            seq = self._append(conn, [("clawback", None, body)])[0]
        return run_result(seq, body, state.payers)

    def adjust(self, payer: str, amount: Decimal | str, reason: str) -> int:
        """Record an adjustment owed to (positive) or by (negative) the provider for ``payer``, with a reason."""
        try:
            pence = to_pence(Decimal(str(amount)))
        except InvalidOperation:
            raise SopEvalError(f"adjustment amount = {amount!r} is not an amount.") from None
        with self.store.writing() as conn:
            state = replay_terms(read_entries(conn, skip=("claim",)))
            if payer not in state.payers:
                raise SopEvalError(f"payer {payer!r} is not a payer of the contract; payers: {examples(state.payers)}.")
            if not reason.strip():
                raise SopEvalError("an adjustment needs a reason; give --reason.")
            body = {"payer": payer, "amount": pence, "reason": reason, "recorded_at": _now()}
            return self._append(conn, [("adjustment", None, body)])[0]

    # -- reading ------------------------------------------------------------------------------------

    def state(self, upto: int | None = None) -> State:
        """The ledger's state (replayed from its entries)."""
        with self.store.reading() as conn:
            if upto is None:
                return self._current(conn)
            return replay(read_entries(conn, upto))

    @property
    def contract(self) -> Contract:
        """The contract with every variation recorded."""
        with self.store.reading() as conn:
            return replay_terms(read_entries(conn, skip=("claim",))).contract

    def due(self, as_of: dt.date | str | None = None) -> Due:
        """Cumulative amounts due by group and payer (pence) as of a date (default: the last run's period end)."""
        state = self.state()
        day = _day(as_of, "as of") if as_of is not None else state.last_period_end
        return cumulative_due(state, day)

    def reconcile(self, as_of: dt.date | str | None = None) -> Reconciliation:
        """Interim (settled so far) against final (due now) by group and payer, and the balance either way."""
        state = self.state()
        day = _day(as_of, "as of") if as_of is not None else state.last_period_end
        return reconciliation(state, cumulative_due(state, day))

    def runs(self) -> list[PaymentRun]:
        """Every payment run and clawback, in order."""
        state = self.state()
        done = [(r["seq"], r) for r in state.runs] + [(c["seq"], c) for c in state.clawbacks]
        return [run_result(seq, body, state.payers) for seq, body in sorted(done, key=lambda x: x[0])]

    def verify(self, expect_head: str | None = None) -> Verification:
        """Re-walk the hash chain, then recompute every payment run and clawback from the entries before it.

        ``expect_head`` — a head recorded earlier (``ENTRY:HASH``, ``ENTRY`` or ``HASH``, e.g. in a payment
        run's minutes) — must still be in the chain: entry ENTRY exists and has hash HASH.
        """
        want_seq, want_hash = _parse_head(expect_head)
        with self.store.reading() as conn:
            count = 0
            last = (0, "")
            found: int | None = None

            def counted() -> Iterable[Any]:
                nonlocal count, last, found
                for e in read_entries(conn):
                    count += 1
                    last = (e.seq, e.hash)
                    if want_hash and e.hash.startswith(want_hash) and want_seq in (None, e.seq):
                        found = e.seq
                    yield e

            broken = next((str(b) for b in first_break(counted())), None)
            if broken is not None:
                return Verification(count, broken, (), *last)
            differences: list[str] = []
            if expect_head is not None:
                cut = (want_seq is not None and want_seq > last[0]) or (want_hash and found is None)
                if cut:
                    differences.append(
                        f"the recorded head {expect_head} is not in this ledger, which ends at {last[0]}:{last[1]}; "
                        "entries were removed from its end or an older copy was restored. Restore the ledger from "
                        "the copy whose head matches the one recorded.")
            state = State()
            for e in read_entries(conn):
                try:
                    if e.kind in ("payment_run", "clawback"):
                        body = e.body
                        if e.kind == "payment_run":
                            again = run_body(state, dt.date.fromisoformat(body["period_end"]),
                                             by_due=body.get("rule") == DUE_RULE)
                        else:
                            again = clawback_body(state, body["claims"], body["reason"])
                        if _figures(again) != _figures(body):
                            differences.append(f"entry {e.seq} ({e.kind}): its recorded figures differ from those "
                                               "recomputed from the entries before it")
                    state.apply(e)
                except (KeyError, ValueError, TypeError, SopEvalError) as exc:
                    differences.append(f"entry {e.seq} ({e.kind}): cannot be replayed ({exc})")
                    break
        return Verification(count, None, tuple(differences), *last)

    def export_indigo(self, out: str | Path | None = None) -> dict[str, Any]:
        """The contract's terms and payments in the INDIGO data standard's JSON (written atomically to ``out``)."""
        project = export_project(self.state())
        if out is not None:
            write_json_atomic(out, project)
        return project

    def statement(self, payer: str, issued: dt.date | str | None = None) -> Statement:
        """``payer``'s statement, issued on ``issued`` (default today): the provider, its payment runs, clawbacks
        and adjustments with the day each was recorded, what it paid, what is due and the balance (render it
        with :func:`sop_eval.report.statement.write_statement`, as HTML or PDF)."""
        day = None if issued is None else _day(issued, "statement issue date")
        return statement(self.state(), payer, day)

    # -- internals ----------------------------------------------------------------------------------

    def _current(self, conn: Any) -> State:
        """The whole state as committed now: the cached state brought up to date when the ledger still holds
        the entry it ends with (entries are append-only), else a full replay."""
        cached = self._cache
        with bulk():
            if cached is not None and cached.last_seq:
                found = conn.execute(select(entries.c.hash).where(entries.c.seq == cached.last_seq)).scalar()
                if found == cached.last_hash:
                    for e in read_entries(conn, after=cached.last_seq):
                        cached.apply(e)
                    return cached
            self._cache = replay(read_entries(conn))
        return self._cache

    @staticmethod
    def _append(conn: Any, items: Sequence[tuple[str, str | None, Any]]) -> list[int]:
        seq, prev = head(conn)
        rows, _ = chain_rows(seq + 1, prev, items)
        append_rows(conn, rows)
        return [r[0] for r in rows]


def _figures(body: Mapping[str, Any]) -> str:
    return canonical({k: v for k, v in body.items() if k != "recorded_at"})


def _parse_head(value: str | None) -> tuple[int | None, str]:
    """``(entry, hash)`` of a recorded head given as ``ENTRY:HASH``, ``ENTRY`` or ``HASH``."""
    if value is None:
        return None, ""
    seq, _, digest = value.strip().rpartition(":") if ":" in value else ("", "", value.strip())
    if not seq and digest.isdigit() and len(digest) < 12:
        seq, digest = digest, ""
    digest = digest.lower()
    if (seq and not seq.isdigit()) or (digest and (len(digest) < 12 or any(ch not in "0123456789abcdef"
                                                                             for ch in digest))):
        raise SopEvalError(f"expected head {value!r} is not ENTRY:HASH (e.g. 218:3f9a0c2e71b4, as `sop-eval ledger "
                           "verify` prints it), an entry number, or a hash of at least 12 hex digits.")
    return (int(seq) if seq else None), digest


def _check_dates(where: str, claims: pd.DataFrame, effective: dt.date, received: dt.date, today: bool) -> None:
    """Refuse claims achieved before the contract took effect or after the file was received, naming rows."""
    after = f"after today ({received})" if today else f"after the file was received ({received})"
    for bad, what in ((claims["date"] < effective, f"before the contract took effect on {effective}"),
                      (claims["date"] > received, after)):
        if bad.any():
            rows = claims.loc[bad, "row"].tolist()
            raise SopEvalError(f"{where}: row(s) {examples(rows)} were achieved {what}; a claim is paid only for an "
                               "outcome achieved while the contract is in force and already achieved. Correct their "
                               "date or leave those rows out, and import the file again.")


def _flag_duplicates(where: str, contract: Contract, new: list[tuple[str, int, tuple[str, ...]]],
                     known: Mapping[str, tuple[int, str]],
                     terms: Sequence[Any]) -> tuple[list[tuple[str, int, tuple[str, ...]]], tuple[int, ...]]:
    """``new`` claims with those beyond what a person may earn marked ``duplicate`` (the rule of
    :func:`repeat_numbers`; recorded claims that still pay keep their place, new ones follow in date order),
    and their rows. Warns naming the rows, the claims they repeat and the fix."""
    claimed = [(key, row, c) for key, row, c in new if c[4] == "claimed"]
    if not claimed:
        return new, ()
    withdrawn = {c for e in terms if e.kind == "clawback" for c in e.body["claims"]}
    withdrawn |= {c for e in terms if e.kind == "findings" for c, f in e.body["findings"] if f == "invalid"}
    wanted = {(c[0], c[1]) for _, _, c in claimed}
    taken: dict[tuple[str, str], int] = {}
    holders: dict[tuple[str, str], list[str]] = {}
    for seq, body in known.values():
        b = json.loads(body)
        pair = (b["person"], b["outcome"])
        if pair in wanted and b["status"] in ELIGIBLE and seq not in withdrawn:
            taken[pair] = taken.get(pair, 0) + 1
            holders.setdefault(pair, []).append(f"claim {seq} in the ledger")
    ordered = sorted(claimed, key=lambda x: (x[2][2], x[1]))
    numbers = repeat_numbers(contract, [c[0] for _, _, c in ordered], [c[1] for _, _, c in ordered], taken)
    flagged = {}
    for (_, row, c), (_, duplicate) in zip(ordered, numbers, strict=True):
        pair = (c[0], c[1])
        if duplicate:
            flagged[row] = holders.get(pair, [])[:]
        else:
            holders.setdefault(pair, []).append(f"row {row}")
    if not flagged:
        return new, ()
    rows = sorted(flagged)
    firsts = sorted({h for r in rows for h in flagged[r]}, key=lambda h: (h.startswith("row"), int(h.split()[1])))
    warnings.warn(f"{where}: row(s) {examples(rows)} claim an outcome the same person already claimed on another "
                  f"date as often as the contract pays it ({', '.join(firsts[:5])}); they are recorded as "
                  "duplicate and pay nothing (as `sop-eval pay --claims` labels them). If a row is a repeat, nothing "
                  "more is needed; if it corrects the earlier claim, withdraw that one with `sop-eval ledger "
                  "clawback CLAIM --reason ...`.", SopEvalWarning, stacklevel=3)
    out = [(key, row, (*c[:4], "duplicate") if row in flagged else c) for key, row, c in new]
    return out, tuple(rows)


def _contract_text(contract: str | Path) -> tuple[str, str]:
    p = Path(contract)
    if not p.is_file():
        raise SopEvalError(f"contract file {str(p)!r} does not exist; give the path of a .toml contract.")
    if p.suffix.lower() == ".json":
        return contract_toml_from_indigo(p), str(p)
    return p.read_text("utf-8"), str(p)


# -- runs, clawbacks, reconciliation (pure functions of the state) --------------------------------------


def _lines(payers: list[str], before: Mapping[str, list[int]], after: Mapping[str, list[int]]) -> list[dict[str, Any]]:
    lines = []
    for group in sorted(set(before) | set(after)):
        b = before.get(group, [0] * len(payers))
        a = after.get(group, [0] * len(payers))
        if a != b:
            lines.append({"group": group, "due": a, "already_paid": b,
                          "paid_now": [x - y for x, y in zip(a, b, strict=True)]})
    return lines


def run_body(state: State, end: dt.date, by_due: bool = True) -> dict[str, Any]:
    """The content of a payment run up to ``end``: due (after caps) less settled, by group and payer."""
    due = cumulative_due(state, end, by_due)
    payers = due.payers
    settled = dict(state.settled)
    after = {g: list(v) for g, v in due.groups.items()}
    for g in settled:  # a group no longer due (claims withdrawn) settles at zero
        after.setdefault(g, [0] * len(payers))
    lines = _lines(payers, settled, after)
    paid = [sum(line["paid_now"][i] for line in lines) for i in range(len(payers))]
    return {"period_end": end.isoformat(), "payers": payers, "lines": lines, "paid": paid,
            "top_up": sum(paid[1:]), "caps": dict(sorted(due.caps.items())),
            "settled": {line["group"]: line["due"] for line in lines}, "recorded_at": _now(),
            **({"rule": DUE_RULE} if by_due else {})}


def clawback_body(state: State, claims: list[int], reason: str) -> dict[str, Any]:
    """The content of a clawback: claims withdrawn and, per group and payer, what was paid beyond what is now due."""
    after_state = _withdrawn(state, claims)
    due = cumulative_due(after_state, state.last_period_end, paid_by_due(state))
    payers = due.payers
    new = {g: [min(s, d) for s, d in zip(v, due.groups.get(g, [0] * len(payers)), strict=True)]
           for g, v in state.settled.items()}
    lines = _lines(payers, state.settled, new)
    paid = [sum(line["paid_now"][i] for line in lines) for i in range(len(payers))]
    return {"claims": sorted(claims), "reason": reason, "payers": payers, "lines": lines, "paid": paid,
            "top_up": sum(paid[1:]), "caps": {}, "settled": {line["group"]: line["due"] for line in lines},
            "recorded_at": _now()}


def _withdrawn(state: State, claims: list[int]) -> State:
    other = copy(state)
    other.claim_status = list(state.claim_status)
    for c in claims:
        other.claim_status[state.claim_pos[c]] = "clawed back"
    return other


def run_result(seq: int, body: Mapping[str, Any], payers: list[str]) -> PaymentRun:
    """A :class:`PaymentRun` from a recorded run or clawback body."""
    lines = tuple({"group": line["group"], **{f"{p} due": to_money(line["due"][i]) for i, p in enumerate(payers)},
                   **{f"{p} already paid": to_money(line["already_paid"][i]) for i, p in enumerate(payers)},
                   **{f"{p} paid now": to_money(line["paid_now"][i]) for i, p in enumerate(payers)}}
                  for line in body["lines"])
    end = body.get("period_end")
    return PaymentRun(seq, dt.date.fromisoformat(end) if end else dt.date.min, tuple(payers), lines,
                      {p: to_money(body["paid"][i]) for i, p in enumerate(payers)}, to_money(body["top_up"]),
                      {k: to_money(v) for k, v in body["caps"].items()})


def reconciliation(state: State, due: Due) -> Reconciliation:
    """Interim (settled) against final (due) by group, with each payer's balance."""
    payers = due.payers
    zero = [0] * len(payers)
    rows = []
    for g in sorted(set(state.settled) | set(due.groups)):
        a, b = state.settled.get(g, zero), due.groups.get(g, zero)
        if a == zero and b == zero:
            continue
        rows.append({"group": g, "interim": to_money(sum(a)), "final": to_money(sum(b)),
                     "balance": to_money(sum(b) - sum(a))})
    interim = {p: to_money(v) for p, v in zip(payers, state.paid(), strict=True)}
    final = {p: to_money(v) for p, v in zip(payers, due.totals(), strict=True)}
    evaluations = tuple({"stage": e["stage"], "entry": e["seq"],
                         "total": to_money(sum(x["amount"] for x in e["lines"]))}
                        for e in state.evaluations)
    return Reconciliation(tuple(payers), tuple(rows), interim, final, evaluations)
