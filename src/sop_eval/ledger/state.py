"""The ledger's state, rebuilt by replaying its entries in order (nothing else is trusted).

Entry kinds and what they hold (amounts in integer pence):

- ``contract``: the contract TOML text, its version, effective date, reason and SHA-256; the first one
  also the ledger's id (the salt of person keys).
- ``variation``: a new version, its effective date, reason and changed prices by outcome.
- ``index``: a price index series (``[date, value]`` points) with its base date.
- ``claims_import``: one imported file (name, SHA-256, rows, claims added); ``claim``: one claim
  (import row, pseudonymised person key, outcome, date achieved, evidence reference, status).
- ``sample``: a verification sample (period, rule, seed, the sampled claims); ``findings``: what was
  found for sampled claims and the error-rate estimate.
- ``evaluation``: a results bundle's payment figures with its digests and stage (interim or final).
- ``payment_run``: what a run paid (lines by group and payer, caps applied, payer and top-up split).
- ``clawback``: claims withdrawn, the reason and what was recovered; ``adjustment``: an amount owed to
  (positive) or by (negative) the provider for one payer, with a reason.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

import numpy as np

from sop_eval.errors import SopEvalError
from sop_eval.ledger.chain import Entry
from sop_eval.payments import Amendment, Contract, parse_contract

ELIGIBLE = ("claimed", "verified")
Group = str


@dataclass(frozen=True)
class IndexSeries:
    """A price index: ``points`` (date, value) in date order and the ``base`` date prices are stated at."""

    name: str
    base: dt.date
    points: tuple[tuple[dt.date, Decimal], ...]

    def value_on(self, day: dt.date) -> Decimal | None:
        """The index value in force on ``day`` (the last point on or before it), None before the first."""
        found = None
        for when, value in self.points:
            if when > day:
                break
            found = value
        return found

    def ratio(self, day: dt.date) -> Decimal:
        """Uplift of a price for an outcome achieved on ``day``: index(day) / index(base); 1 before the base."""
        base = self.value_on(self.base)
        now = self.value_on(day)
        if base is None or now is None or day < self.base:
            return Decimal(1)
        return now / base


@dataclass
class Sample:
    """A verification sample: its period, stratum sizes and sampled claims; findings once recorded."""

    seq: int
    start: dt.date
    end: dt.date
    rule: str
    seed: int
    claims: list[int]
    findings: dict[int, str] = field(default_factory=dict)
    rates: dict[str, Decimal] = field(default_factory=dict)


@dataclass
class State:
    """Everything the entries say, as of the last entry replayed."""

    ledger_id: str = ""
    base_contract: Contract | None = None
    contract_versions: list[dict[str, Any]] = field(default_factory=list)
    variations: list[Amendment] = field(default_factory=list)
    index: IndexSeries | None = None
    claim_seq: list[int] = field(default_factory=list)
    claim_row: list[int] = field(default_factory=list)
    claim_person: list[str] = field(default_factory=list)
    claim_outcome: list[str] = field(default_factory=list)
    claim_date: list[str] = field(default_factory=list)
    claim_evidence: list[str] = field(default_factory=list)
    claim_status: list[str] = field(default_factory=list)
    claim_pos: dict[int, int] = field(default_factory=dict)
    samples: dict[int, Sample] = field(default_factory=dict)
    evaluations: list[dict[str, Any]] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)
    clawbacks: list[dict[str, Any]] = field(default_factory=list)
    adjustments: list[dict[str, Any]] = field(default_factory=list)
    settled: dict[Group, list[int]] = field(default_factory=dict)
    last_seq: int = 0
    last_hash: str = ""
    _contract: Contract | None = None

    @property
    def contract(self) -> Contract:
        """The contract with every variation recorded so far as amendments (prices by version and date)."""
        if self.base_contract is None:
            raise SopEvalError("the ledger holds no contract yet; run `sop-eval ledger init --contract FILE` first.")
        if self._contract is None:
            self._contract = replace(self.base_contract,
                                     amendments=tuple(self.base_contract.amendments) + tuple(self.variations))
        return self._contract

    @property
    def payers(self) -> list[str]:
        """Payer names in contract order (the first is the commissioner; the others top it up)."""
        return [p.name for p in self.contract.payers]

    @property
    def last_period_end(self) -> dt.date | None:
        """The period end of the last payment run."""
        return dt.date.fromisoformat(self.runs[-1]["period_end"]) if self.runs else None

    def paid(self) -> list[int]:
        """What has been settled with each payer so far (payments less recoveries), in pence."""
        n = len(self.payers)
        return [sum(v[i] for v in self.settled.values()) for i in range(n)]

    def claims_array(self) -> dict[str, np.ndarray]:
        """The claims as arrays (seq, row, person, outcome, date, status, evidence)."""
        return {
            "seq": np.asarray(self.claim_seq, dtype=np.int64),
            "row": np.asarray(self.claim_row, dtype=np.int64),
            "person": np.asarray(self.claim_person, dtype=object),
            "outcome": np.asarray(self.claim_outcome, dtype=object),
            "date": np.asarray(self.claim_date, dtype="datetime64[D]"),
            "status": np.asarray(self.claim_status, dtype=object),
            "evidence": np.asarray(self.claim_evidence, dtype=object),
        }

    def apply(self, entry: Entry) -> None:
        """Replay one entry."""
        self.last_seq = entry.seq
        self.last_hash = entry.hash
        kind = entry.kind
        if kind == "claim":
            b = entry.body
            self.claim_pos[entry.seq] = len(self.claim_seq)
            self.claim_seq.append(entry.seq)
            self.claim_row.append(b["row"])
            self.claim_person.append(b["person"])
            self.claim_outcome.append(b["outcome"])
            self.claim_date.append(b["achieved"])
            self.claim_evidence.append(b["evidence"])
            self.claim_status.append(b["status"])
            return
        b = entry.body
        if kind == "contract":
            contract = parse_contract(b["toml"], source=f"ledger entry {entry.seq}")
            if self.base_contract is None:
                self.ledger_id = b["ledger_id"]
            self.base_contract = contract
            self.contract_versions.append({**b, "seq": entry.seq})
            self._contract = None
        elif kind == "variation":
            self.variations.append(Amendment(b["version"], dt.date.fromisoformat(b["effective"]), b["reason"],
                                             {k: Decimal(v) for k, v in b["prices"].items()}))
            self.contract_versions.append({**b, "seq": entry.seq})
            self._contract = None
        elif kind == "index":
            self.index = IndexSeries(b["name"], dt.date.fromisoformat(b["base_date"]),
                                     tuple((dt.date.fromisoformat(d), Decimal(v)) for d, v in b["points"]))
        elif kind == "sample":
            self.samples[entry.seq] = Sample(entry.seq, dt.date.fromisoformat(b["start"]),
                                             dt.date.fromisoformat(b["end"]), b["rule"], b["seed"], list(b["claims"]))
        elif kind == "findings":
            sample = self.samples[b["sample"]]
            for claim, finding in b["findings"]:
                sample.findings[claim] = finding
                self.claim_status[self.claim_pos[claim]] = "verified" if finding == "valid" else "invalid"
            sample.rates = {k: Decimal(v["rate"]) for k, v in b["estimate"]["strata"].items()}
        elif kind == "evaluation":
            self.evaluations.append({**b, "seq": entry.seq})
        elif kind == "payment_run":
            self.runs.append({**b, "seq": entry.seq})
            for group, parts in b["settled"].items():
                self.settled[group] = list(parts)
        elif kind == "clawback":
            self.clawbacks.append({**b, "seq": entry.seq})
            for claim in b["claims"]:
                self.claim_status[self.claim_pos[claim]] = "clawed back"
            for group, parts in b["settled"].items():
                self.settled[group] = list(parts)
        elif kind == "adjustment":
            self.adjustments.append({**b, "seq": entry.seq})
        elif kind == "claims_import":
            pass
        else:
            raise SopEvalError(f"ledger entry {entry.seq} has an unknown kind {kind!r}; this version of sop-eval "
                               "cannot read it.")


def replay(entries: Iterable[Entry]) -> State:
    """The state after every entry of ``entries``."""
    state = State()
    for e in entries:
        state.apply(e)
    return state


def replay_terms(entries: Iterable[Entry]) -> State:
    """The state of everything but the claims (contract, versions, index, samples, runs): enough for an import."""
    state = State()
    for e in entries:
        if e.kind not in ("claim", "findings", "clawback"):
            state.apply(e)
    return state
