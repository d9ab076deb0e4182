"""The INDIGO data standard (Government Outcomes Lab): a contract's terms and payments as a project's JSON.

Exported: ``outcome_metrics`` (one per outcome), ``outcome_pricings`` (one per outcome and contract
version that changes its price, with the price index in ``contracted_increases_to_outcome_pricing``),
``outcome_payment_commitments`` (one per payer: its cap as the maximum potential payment, what it has
paid, variations as alterations) and
``outcome_payments`` (one per payment run or clawback, outcome and payer, type ``Actual``). Values use the
standard's ``{"value": …}`` objects. Imported: a rate-card contract's terms from the same sections (the
first pricing of each metric is the base price, later ones become amendments when their description names
a version and date as this export writes them; payer shares are those the commitments' notes state, as
this export writes them, else the commitments' maxima in proportion).

Organisations are referenced by their org-id.guide identifiers (``GB-LAE-KIR``), as the standard asks of
real-world identifiers: each payer's ``organisation_id`` ([[payers]] in the contract) in its commitment
and as ``payer_organisation_id`` of its payments; the provider's ([contract] ``provider_organisation_id``)
as the payments' ``recipient_organisation_id`` and in ``service_provisions``. (INDIGO's own register
gives each organisation an ``INDIGO-ORG`` identifier and keeps its org-id beside it; a project file made
outside it can only name the org-id.) Where the contract gives no identifier the organisation's name
stands in its place, and the export warns, naming the organisation and the contract key to set; no
identifier is ever made up. Names travel in the ``notes`` (``name: …``), so an import recovers both.
"""

from __future__ import annotations

import json
import re
import sys
import warnings
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

from sop_eval.errors import SopEvalError, SopEvalWarning
from sop_eval.ledger.pence import to_money
from sop_eval.ledger.state import State

_VERSION = re.compile(r"^version (?P<version>\S+) from (?P<date>\d{4}-\d{2}-\d{2})")
#: org-id.guide form: a list code (country or XI/XM, then the list) and the identifier in that list
ORG_ID = re.compile(r"^[A-Z]{2}-[A-Z0-9]+-\S+$")
_SHARE = re.compile(r": share (?P<share>[0-9.]+) of every outcome payment$")
_NAMED = re.compile(r"^(?P<name>.+): (share \S+ of every outcome payment|the service provider)$", re.DOTALL)


def _v(value: Any) -> dict[str, Any]:
    return {"value": value}


def _num(amount: Decimal) -> float | int:
    return int(amount) if amount == amount.to_integral_value() else float(amount)


def _outcome_of(group: str) -> str:
    return group.split(" | ")[1] if " | " in group else ""


def _warn(message: str) -> None:
    """Warn, attributed to the first caller outside this package (the line the user wrote)."""
    frame, level = sys._getframe(1), 2
    while frame is not None and str(frame.f_globals.get("__name__", "")).startswith("sop_eval."):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, SopEvalWarning, stacklevel=level)


def _reference(name: str, org_id: str | None, key: str) -> str:
    """The organisation reference of ``name``: its org-id, else its name with a warning naming ``key``."""
    if org_id:
        return org_id
    _warn(f"INDIGO export: {name!r} has no organisation identifier, so its name stands where the standard expects an "
          f"org-id.guide identifier; set {key} in the contract (e.g. \"GB-LAE-KIR\" for a local authority) and "
          "record the restated contract with `sop-eval ledger init --db DB --contract FILE --reason \"organisation "
          "identifiers\"`.")
    return name


def export_project(state: State) -> dict[str, Any]:
    """The ledger's contract terms and payments as an INDIGO project document (warns for each organisation
    without an org-id.guide identifier)."""
    c = state.contract
    refs = {p.name: _reference(p.name, p.organisation_id, f"organisation_id under the [[payers]] named {p.name!r}")
            for p in c.payers}
    provider = None
    if c.provider is not None or c.provider_organisation_id is not None:
        provider = _reference(c.provider or "", c.provider_organisation_id, "provider_organisation_id under [contract]")
    currency = c.currency
    metrics, pricings = [], []
    starts = [(c.version, c.effective), *((a.version, a.effective) for a in c.amendments)]
    index = state.index
    for o in c.outcomes:
        metrics.append({"id": o.name, "definition": _v(o.metric or o.name.replace("_", " ")),
                        "unit_type_of_targeted_service_users_or_beneficiaries": _v("Individual"),
                        "unit_description_of_service_user_or_beneficiaries": _v(o.unit or "person"),
                        "outcome_validation_method": _v(f"{o.mechanism.replace('_', ' ')}; design {o.design}")})
        last = None
        for version, start in starts:
            price = c.price(o, start)[0]
            if price is None or price == last:
                continue
            last = price
            pricing: dict[str, Any] = {
                "outcome_metric_id": _v(o.name), "currency": _v(currency),
                "price_per_unit": {"amount": _v(_num(price))},
                "price_description": _v(f"version {version} from {start.isoformat()}"),
            }
            if o.cap is not None:
                pricing["maximum_price_if_all_targets_achieved"] = {"amount": _v(str(o.cap))}
            if index is not None:
                pricing["contracted_increases_to_outcome_pricing"] = _v(
                    f"uprated by index {index.name} (base {index.base.isoformat()})")
            pricings.append(pricing)
    paid = dict(zip(state.payers, state.paid(), strict=True))
    variations = [v for v in state.contract_versions if "prices" in v]
    commitments = []
    for p in c.payers:
        commitment: dict[str, Any] = {
            "organisation_id": _v(refs[p.name]),
            "organisation_role_category": _v("Government/Public Sector/Public Bank"), "result_type": _v("Interim"),
            "total_outcome_payments": {"currency": _v(currency), "amount": _v(_num(to_money(paid[p.name])))},
            "notes": f"{p.name}: share {p.share} of every outcome payment",
        }
        if p.cap is not None:
            commitment["maximum_potential_outcome_payment"] = {"currency": _v(currency), "amount": _v(_num(p.cap))}
        if variations:
            commitment["alterations"] = {
                "description": _v("; ".join(f"version {v['version']} from {v['effective']}" for v in variations)),
                "reason": _v("; ".join(v["reason"] for v in variations)),
            }
        commitments.append(commitment)
    payments = []
    previous_end = c.effective.isoformat()
    for run in sorted(state.runs + state.clawbacks, key=lambda r: r["seq"]):
        end = run.get("period_end", previous_end)
        by: defaultdict[str, list[int]] = defaultdict(lambda: [0] * len(state.payers))
        for line in run["lines"]:
            totals = by[_outcome_of(line["group"])]
            for i, x in enumerate(line["paid_now"]):
                totals[i] += x
        for outcome, totals in sorted(by.items()):
            for payer, amount in zip(state.payers, totals, strict=True):
                if amount == 0:
                    continue
                payment: dict[str, Any] = {
                    "period": {"start_date": _v(previous_end), "end_date": _v(end)},
                    "payer_organisation_id": _v(refs[payer]), "type": _v("Actual"),
                    "money": {"currency": _v(currency), "amount": _v(_num(to_money(amount)))},
                    "notes": f"ledger entry {run['seq']} ({'clawback' if 'claims' in run else 'payment run'})",
                }
                if outcome:
                    payment["outcome_metric_id"] = _v(outcome)
                if provider is not None:
                    payment["recipient_organisation_id"] = _v(provider)
                payments.append(payment)
        previous_end = end
    project = {"name": _v(c.name), "status": "PUBLIC", "outcome_metrics": metrics, "outcome_pricings": pricings,
               "outcome_payment_commitments": commitments, "outcome_payments": payments}
    if provider is not None:
        provision: dict[str, Any] = {"id": "provider", "organisation_id": _v(provider)}
        if c.provider is not None:
            provision["notes"] = f"{c.provider}: the service provider"
        project["service_provisions"] = [provision]
    return project


def _value(obj: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, dict) or key not in obj:
            return None
        obj = obj[key]
    return obj.get("value") if isinstance(obj, dict) else obj


def _organisation(file: str, where: str, item: Any) -> tuple[str | None, str | None]:
    """``(name, org-id)`` of an organisation reference: the name from the notes (``name: …``) where this export
    wrote it, else the reference itself; the org-id only where the reference is one (else a warning)."""
    ref = _value(item, "organisation_id")
    named = _NAMED.match(item.get("notes") or "") if isinstance(item, dict) else None
    if ref is None:
        return (named["name"] if named else None), None
    ref = str(ref)
    if ORG_ID.match(ref):
        return (named["name"] if named else ref), ref
    _warn(f"INDIGO file {file!r}: {where}.organisation_id = {ref!r} is not an org-id.guide identifier; it is read "
          "as the organisation's name, with no identifier. Set the identifier in the contract (organisation_id "
          "under [[payers]], provider_organisation_id under [contract]).")
    return ref, None


def contract_toml_from_indigo(path: str | Path) -> str:
    """A rate-card contract's TOML text from an INDIGO project JSON file (see the module docstring)."""
    p = Path(path)
    try:
        doc = json.loads(p.read_text("utf-8"), parse_float=Decimal)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SopEvalError(f"INDIGO file {p.name!r} is not valid JSON ({exc}).") from None
    name = _value(doc, "name")
    if not name:
        raise SopEvalError(f"INDIGO file {p.name!r}: 'name.value' is missing; the project needs a name.")
    metrics = [m.get("id") for m in doc.get("outcome_metrics", [])]
    if not metrics:
        raise SopEvalError(f"INDIGO file {p.name!r}: 'outcome_metrics' is empty; nothing to price.")
    prices: dict[str, list[tuple[str, str, Any]]] = defaultdict(list)
    currency = None
    for i, pr in enumerate(doc.get("outcome_pricings", [])):
        metric = _value(pr, "outcome_metric_id")
        amount = _value(pr, "price_per_unit", "amount")
        if metric not in metrics or amount is None:
            raise SopEvalError(f"INDIGO file {p.name!r}: outcome_pricings[{i}] needs an outcome_metric_id of an "
                               "outcome metric and price_per_unit.amount.")
        currency = currency or _value(pr, "currency")
        found = _VERSION.match(_value(pr, "price_description") or "")
        prices[metric].append((found["version"] if found else "1.0", found["date"] if found else "", amount))
    commitments = doc.get("outcome_payment_commitments", [])
    payers = [(_organisation(p.name, f"outcome_payment_commitments[{i}]", c),
               _value(c, "maximum_potential_outcome_payment", "amount"))
              for i, c in enumerate(commitments)]
    stated = [_SHARE.search(str(c.get("notes") or "")) for c in commitments]
    by_notes = bool(stated) and all(stated)
    if not payers or any(o[0] is None for o, _ in payers) or (
            not by_notes and any(m is None for _, m in payers)):
        raise SopEvalError(f"INDIGO file {p.name!r}: every outcome_payment_commitments entry needs "
                           "organisation_id, and either maximum_potential_outcome_payment.amount (payer shares in "
                           "proportion) or notes stating its share as this export writes them.")
    base = {m: v[0] for m, v in prices.items()}
    effective = next((d for _, d, _ in base.values() if d), "2000-01-01")
    lines = ["[contract]", f"name = {json.dumps(name)}", f'version = "{next(iter(base.values()))[0]}"',
             f"effective = {effective}", f'currency = "{currency or "GBP"}"']
    provisions = doc.get("service_provisions") or []
    if provisions:
        provider, provider_id = _organisation(p.name, "service_provisions[0]", provisions[0])
        if provider is not None and provider != provider_id:
            lines.append(f"provider = {json.dumps(provider)}")
        if provider_id is not None:
            lines.append(f"provider_organisation_id = {json.dumps(provider_id)}")
    lines.append("")
    for m in metrics:
        if m not in base:
            raise SopEvalError(f"INDIGO file {p.name!r}: outcome metric {m!r} has no pricing.")
        lines += ["[[outcomes]]", f"name = {json.dumps(m)}", 'mechanism = "rate_card"', 'design = "assumed_rate"',
                  f"price = {base[m][2]}", ""]
    if by_notes:
        shares = [Decimal(found["share"]) for found in stated if found is not None]
    else:
        total = sum(Decimal(str(m)) for _, m in payers)
        shares = [Decimal(str(cap)) / total for _, cap in payers]
        shares[-1] = Decimal(1) - sum(shares[:-1])
    for ((payer, org_id), cap), share in zip(payers, shares, strict=True):
        lines += ["[[payers]]", f"name = {json.dumps(payer)}", f"share = {share}"]
        lines += [f"cap = {cap}"] if cap is not None else []
        lines += [f"organisation_id = {json.dumps(org_id)}", ""] if org_id else [""]
    later = sorted({(d, v) for rows in prices.values() for v, d, _ in rows[1:] if d})
    for date, version in later:
        lines += ["[[amendments]]", f'version = "{version}"', f"effective = {date}", "[amendments.prices]"]
        lines += [f"{json.dumps(m)} = {a}" for m, rows in prices.items() for v, _, a in rows[1:] if v == version]
        lines.append("")
    return "\n".join(lines)
