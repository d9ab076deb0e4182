"""INDIGO: the ledger's export validates against the published project schema, and terms import back."""

import json
from decimal import Decimal
from pathlib import Path

import jsonschema
import pytest

from ledger_support import contract_text, write_claims
from sop_eval.ledger import Ledger

SCHEMA = json.loads((Path(__file__).parent / "results" / "indigo" / "project-schema.json").read_text())
SECTIONS = ("outcome_metrics", "outcome_pricings", "outcome_payment_commitments", "outcome_payments")


@pytest.fixture
def exported(tmp_path):
    contract = tmp_path / "c.toml"
    contract.write_text(contract_text(council_cap="50000", fund_cap="12500"))
    claims = write_claims(tmp_path / "claims.csv", [("a", "housed", "2024-02-01", "true"),
                                                    ("b", "employed", "2024-08-01", "true")])
    with Ledger.init(tmp_path / "l.sqlite", contract) as ledger:
        ledger.import_claims(claims)
        ledger.add_variation("2.0", "2024-07-01", "employment price revised", {"employed": "2750"})
        ledger.set_index("CPI", "2024-01-01", [("2024-01-01", "100"), ("2024-07-01", "102")])
        ledger.pay("2024-12-31")
        project = ledger.export_indigo(tmp_path / "indigo.json")
    return project, tmp_path


def test_export_is_valid_indigo_project_json(exported):
    project, tmp = exported
    jsonschema.Draft7Validator.check_schema(SCHEMA)
    jsonschema.validate(json.loads((tmp / "indigo.json").read_text()), SCHEMA)
    assert set(SECTIONS) <= set(SCHEMA["properties"])
    assert all(project[s] for s in SECTIONS)
    item_keys = {s: set(SCHEMA["properties"][s]["items"]["properties"]) for s in SECTIONS}
    for s in SECTIONS:
        for item in project[s]:
            assert set(item) <= item_keys[s], (s, set(item) - item_keys[s])


def test_schema_rejects_a_wrong_type(exported):
    project, _ = exported
    bad = json.loads(json.dumps(project))
    bad["outcome_payments"][0]["money"]["amount"]["value"] = "lots"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, SCHEMA)


def test_export_holds_prices_by_version_and_payments_by_payer(exported):
    project, _ = exported
    employed = [p for p in project["outcome_pricings"] if p["outcome_metric_id"]["value"] == "employed"]
    assert [p["price_per_unit"]["amount"]["value"] for p in employed] == [2500, 2750]
    paid = sum(Decimal(str(p["money"]["amount"]["value"])) for p in project["outcome_payments"])
    assert paid == Decimal(1000) + Decimal(2805)  # 2750 x 102/100
    payers = {c["organisation_id"]["value"] for c in project["outcome_payment_commitments"]}
    assert payers == {"council", "central fund"}


def test_contract_terms_import_from_indigo(exported, tmp_path):
    _, tmp = exported
    with Ledger.init(tmp_path / "again.sqlite", tmp / "indigo.json") as ledger:
        c = ledger.contract
    assert [o.name for o in c.outcomes] == ["housed", "employed"]
    assert c.outcome("employed").price == Decimal(2500)
    assert [(a.version, str(a.effective), dict(a.prices)) for a in c.amendments] == [
        ("2.0", "2024-07-01", {"employed": Decimal(2750)})]
    assert [(p.name, p.share, p.cap) for p in c.payers] == [("council", Decimal("0.8"), Decimal(50000)),
                                                             ("central fund", Decimal("0.2"), Decimal(12500))]
