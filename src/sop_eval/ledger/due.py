"""What is due over the contract's whole life, as of a date, computed from the ledger's state alone.

A claim's gross amount, in pence: the rate-card price of the contract version in force on the date it was
achieved (the k-th eligible claim of an outcome for one person pays the k-th tier price, at most
``max_per_person`` times, as :mod:`sop_eval.payments.ratecard` does), times the price index's uplift
(index on the achievement date / index on its base date; 1 before the base date), times ``1 - R`` when a
verification sample's findings put the error rate of the claim's period and outcome at ``R`` and the
claim was not itself sampled; rounded to the penny (half away from zero) once. Eligible claims are those
``claimed`` (validated by the provider) or ``verified`` by a sample; ``not validated``, ``invalid`` and
``clawed back`` claims pay nothing.

A payment run (or reconciliation) as of a date covers the claims *due* by that date: achieved at least
``payment_terms_days`` before it (:func:`sop_eval.payments.ratecard.claim_due`, the due date ``sop-eval pay``
shows); a claim achieved later is paid by the first run on or after its due date. (Runs recorded before this
rule, which carry no ``rule`` key, covered the claims achieved by their period end, and are recomputed so.)

Caps are those of :mod:`sop_eval.payments.caps`, over the whole life and in the same order — volume cap,
per-person cap, outcome cap, contract cap, then the payer split (largest remainder, whole pence) and each
payer's own cap — applied first to the latest evaluation's payment lines (already capped by the payment
calculator, so they only use up room), then to the claims in order of achievement date and ledger entry.
Results are gathered into *groups* — an evaluation line (outcome and cohort, or the pooled catch-up), the
claims of one outcome, contract version and quarter, or an adjustment — and each payer's share of a group
is what the payment runs settle.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np
import pandas as pd

from sop_eval.ledger.pence import share_numerators, split_one, split_pence, to_pence
from sop_eval.ledger.state import ELIGIBLE, State
from sop_eval.payments.ratecard import claim_due, repeat_numbers

_ONE = Decimal(1)

#: The ``rule`` a payment run records: it pays the claims whose due date (achievement + payment terms) is on or
#: before its period end (runs without it paid every claim achieved by then).
DUE_RULE = "claims due by the period end"


def paid_by_due(state: State) -> bool:
    """Whether the last payment run paid claims by due date (the rule of every run recorded now)."""
    return not state.runs or state.runs[-1].get("rule") == DUE_RULE


@dataclass
class Due:
    """Cumulative amounts due by group and payer (pence), with the caps that cut them and per-claim figures."""

    payers: list[str]
    groups: dict[str, list[int]]
    caps: dict[str, int] = field(default_factory=dict)
    claims: pd.DataFrame | None = None

    def totals(self) -> list[int]:
        """Each payer's total due."""
        return [sum(v[i] for v in self.groups.values()) for i in range(len(self.payers))]


def quarter(day: np.ndarray) -> np.ndarray:
    """``YYYY-Qn`` labels of datetime64[D] dates."""
    months = day.astype("datetime64[M]").astype(np.int64)
    years = months // 12 + 1970
    q = months % 12 // 3 + 1
    return np.char.add(np.char.add(years.astype(str), "-Q"), q.astype(str))


def versions(state: State,
             outcome_names: list[str]) -> tuple[np.ndarray, list[str], dict[tuple[str, int], Decimal | None]]:
    """Version effective dates, version names and ``{(outcome, version index): price}``."""
    c = state.contract
    starts = [c.effective, *(a.effective for a in c.amendments)]
    names = [c.version, *(a.version for a in c.amendments)]
    prices = {}
    for o in outcome_names:
        outcome = c.outcome(o)
        for i, day in enumerate(starts):
            prices[(o, i)] = c.price(outcome, day)[0]
    return np.asarray(starts, dtype="datetime64[D]"), names, prices


def claim_gross(state: State, as_of: dt.date | None, by_due: bool = True) -> pd.DataFrame:
    """Every eligible claim due by ``as_of`` (achieved at least ``payment_terms_days`` before it) with its
    price, version, uplift, adjustment and gross pence,
    in processing order (achievement date, then ledger entry)."""
    arr = state.claims_array()
    frame = pd.DataFrame({k: arr[k] for k in ("seq", "person", "outcome", "date", "status")})
    c = state.contract
    if as_of is not None and not by_due:  # runs recorded before runs paid by due date
        frame = frame[frame["date"] <= np.datetime64(as_of, "D")]
    elif as_of is not None:
        days = np.unique(arr["date"])
        due_by = days[np.asarray([claim_due(c, d.astype(dt.date)) <= as_of for d in days], dtype=bool)]
        frame = frame[np.isin(frame["date"].to_numpy(dtype="datetime64[D]"), due_by)]
    frame = frame[frame["status"].isin(ELIGIBLE)]
    frame = frame.sort_values(["date", "seq"], kind="stable").reset_index(drop=True)
    outcome_names = sorted(set(frame["outcome"]))
    starts, names, prices = versions(state, outcome_names)
    dates = frame["date"].to_numpy(dtype="datetime64[D]")
    v = np.searchsorted(starts, dates, side="right") - 1
    v = np.maximum(v, 0)
    frame["version_index"] = v
    frame["version"] = np.asarray(names, dtype=object)[v] if len(v) else np.asarray([], dtype=object)
    numbers = repeat_numbers(c, frame["person"], frame["outcome"])
    frame["k"] = np.asarray([k for k, _ in numbers], dtype=np.int64)
    frame = frame[~np.asarray([d for _, d in numbers], dtype=bool)].reset_index(drop=True)
    # price of each claim: tier price, else the version's price
    tiers = {o: c.outcome(o).tier_prices for o in outcome_names}
    frame["price"] = np.asarray([tiers[o][k - 1] if tiers[o] else prices[(o, vi)]
                                 for o, vi, k in zip(frame["outcome"], frame["version_index"], frame["k"],
                                                     strict=True)], dtype=object)
    frame["uplift"] = np.asarray(_uplift(state, frame["date"].to_numpy(dtype="datetime64[D]")), dtype=object)
    frame["keep"] = np.asarray(_adjustment(state, frame), dtype=object)
    combos: dict[tuple[Decimal | None, Decimal, Decimal], int] = {}
    gross = np.empty(len(frame), dtype=np.int64)
    for i, key in enumerate(zip(frame["price"], frame["uplift"], frame["keep"], strict=True)):
        g = combos.get(key)
        if g is None:
            p, u, keep = key
            g = 0 if p is None else int((p * 100 * u * keep).quantize(_ONE, rounding=ROUND_HALF_UP))
            combos[key] = g
        gross[i] = g
    frame["gross"] = gross
    frame["quarter"] = quarter(frame["date"].to_numpy(dtype="datetime64[D]")) if len(frame) else []
    return frame


def _uplift(state: State, dates: np.ndarray) -> list[Decimal]:
    if state.index is None or not len(dates):
        return [_ONE] * len(dates)
    cache: dict[np.datetime64, Decimal] = {}
    out = []
    for d in dates:
        r = cache.get(d)
        if r is None:
            r = state.index.ratio(d.astype(dt.date))
            cache[d] = r
        out.append(r)
    return out


def _adjustment(state: State, frame: pd.DataFrame) -> list[Decimal]:
    """``1 - R`` for unsampled claims in a sampled period and outcome (the latest sample wins), else 1."""
    keep = np.full(len(frame), _ONE, dtype=object)
    for sample in sorted(state.samples.values(), key=lambda s: s.seq):
        if not sample.rates:
            continue
        sampled = np.isin(frame["seq"].to_numpy(), np.asarray(sample.claims, dtype=np.int64))
        dates = frame["date"].to_numpy(dtype="datetime64[D]")
        inside = (dates >= np.datetime64(sample.start, "D")) & (dates <= np.datetime64(sample.end, "D"))
        for outcome, rate in sample.rates.items():
            mask = inside & (frame["outcome"].to_numpy() == outcome)
            keep[mask & ~sampled] = _ONE - rate
            keep[mask & sampled] = _ONE
    return list(keep)


def cumulative_due(state: State, as_of: dt.date | None, by_due: bool = True) -> Due:
    """Everything due over the whole life up to ``as_of``, after caps, by group and payer (see module doc)."""
    c = state.contract
    payers = [p.name for p in c.payers]
    n = len(payers)
    groups: dict[str, list[int]] = {}
    caps: dict[str, int] = defaultdict(int)
    by_outcome: dict[str, int] = defaultdict(int)
    by_payer = [0] * n
    total = 0
    evaluation = latest_evaluation(state)
    if evaluation is not None:
        for line in evaluation["lines"]:
            line_parts = [int(line["payers"].get(p, 0)) for p in payers]
            groups[line["group"]] = line_parts
            amount = sum(line_parts)
            by_outcome[line["outcome"]] += amount
            total += amount
            by_payer = [a + b for a, b in zip(by_payer, line_parts, strict=True)]
    frame = claim_gross(state, as_of, by_due)
    amounts, parts = _cap_pass(frame, state, by_outcome, by_payer, total, caps)
    frame["amount"] = amounts
    for i, p in enumerate(payers):
        frame[p] = parts[:, i] if len(frame) else []
    if len(frame):
        frame["group"] = "claims | " + frame["outcome"] + " | version " + frame["version"] + " | " + frame["quarter"]
        sums = frame.groupby("group", sort=True)[payers].sum()
        for g, row in sums.iterrows():
            groups[str(g)] = [int(x) for x in row.to_numpy()]
    for adj in state.adjustments:
        groups[f"adjustment | entry {adj['seq']}"] = [int(adj["amount"]) if p == adj["payer"] else 0 for p in payers]
    return Due(payers, dict(sorted(groups.items())), {k: v for k, v in caps.items() if v}, frame)


def latest_evaluation(state: State) -> dict[str, Any] | None:
    """The evaluation whose figures are due now: the last final one, else the last interim one."""
    candidates = [e for e in state.evaluations if e["stage"] == "final"] or state.evaluations
    return candidates[-1] if candidates else None


def _pence_or_none(amount: Decimal | None) -> int | None:
    return None if amount is None else to_pence(amount)


def _cap_pass(frame: pd.DataFrame, state: State, by_outcome: dict[str, int], by_payer: list[int], total: int,
              cuts: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    c = state.contract
    numerators, den = share_numerators([p.share for p in c.payers])
    n = len(numerators)
    gross = frame["gross"].to_numpy(dtype=np.int64)
    if not len(frame):
        return gross, np.zeros((0, n), dtype=np.int64)
    outcomes = frame["outcome"].to_numpy()
    persons = frame["person"].to_numpy()
    per_person = None if c.caps.per_person is None else to_pence(c.caps.per_person)
    contract_cap = None if c.caps.contract is None else to_pence(c.caps.contract)
    payer_caps = [None if p.cap is None else to_pence(p.cap) for p in c.payers]
    info = {o: c.outcome(o) for o in set(outcomes)}
    volume = {o: info[o].volume_cap for o in info}
    ocap = {o: _pence_or_none(info[o].cap) for o in info}
    if per_person is None and contract_cap is None and all(v is None for v in volume.values()) \
            and all(v is None for v in ocap.values()) and all(v is None for v in payer_caps):
        return gross, split_pence(gross, numerators, den)
    amounts = [0] * len(gross)
    parts_out = [[0] * n] * len(gross)
    count: dict[str, int] = defaultdict(int)
    person_total: dict[str, int] = defaultdict(int)
    any_payer_cap = any(v is not None for v in payer_caps)
    for i, (amount, o, person) in enumerate(zip(gross.tolist(), outcomes.tolist(), persons.tolist(), strict=True)):
        if amount <= 0:
            continue
        vol = volume[o]
        if vol is not None and count[o] >= vol:
            cuts[f"volume cap of {o}"] += amount
            amount = 0
        if per_person is not None:
            new = min(amount, max(per_person - person_total[person], 0))
            if new < amount:
                cuts["per-person cap"] += amount - new
                amount = new
        cap = ocap[o]
        if cap is not None:
            new = min(amount, max(cap - by_outcome[o], 0))
            if new < amount:
                cuts[f"cap of {o}"] += amount - new
                amount = new
        if contract_cap is not None:
            new = min(amount, max(contract_cap - total, 0))
            if new < amount:
                cuts["contract cap"] += amount - new
                amount = new
        if amount == 0:
            continue
        parts = split_one(amount, numerators, den)
        if any_payer_cap:
            for j, pc in enumerate(payer_caps):
                if pc is not None:
                    new = min(parts[j], max(pc - by_payer[j], 0))
                    if new < parts[j]:
                        cuts[f"payer cap of {c.payers[j].name}"] += parts[j] - new
                        parts[j] = new
            amount = sum(parts)
        for j in range(n):
            by_payer[j] += parts[j]
        parts_out[i] = parts
        amounts[i] = amount
        if amount > 0:
            count[o] += 1
        if per_person is not None:
            person_total[person] += amount
        by_outcome[o] += amount
        total += amount
    return np.asarray(amounts, dtype=np.int64), np.asarray(parts_out, dtype=np.int64).reshape(len(gross), n)
