"""INDIGO: the ledger's export validates against the published project schema, and terms import back."""

import json
import warnings
from decimal import Decimal
from pathlib import Path

import jsonschema
import pytest

from ledger_support import contract_text, write_claims
from sop_eval.cli import main
from sop_eval.errors import SopEvalError, SopEvalWarning
from sop_eval.ledger import Ledger
from sop_eval.payments import parse_contract

SCHEMA = json.loads((Path(__file__).parent / "results" / "indigo" / "project-schema.json").read_text())
SECTIONS = ("outcome_metrics", "outcome_pricings", "outcome_payment_commitments", "outcome_payments")


COUNCIL, PROVIDER = "GB-LAE-KIR", "GB-COH-09506232"


def with_ids(text, council=COUNCIL, fund=None, provider=PROVIDER):
    """The test contract with organisation identifiers for the council (and the fund), and a provider."""
    text = text.replace('name = "Ledger test rate card"', 'name = "Ledger test rate card"\nprovider = "Pathways Ltd"'
                        + (f'\nprovider_organisation_id = "{provider}"' if provider else ""))
    if council:
        text = text.replace('name = "council"', f'name = "council"\norganisation_id = "{council}"')
    if fund:
        text = text.replace('name = "central fund"', f'name = "central fund"\norganisation_id = "{fund}"')
    return text


@pytest.fixture
def exported(tmp_path):
    contract = tmp_path / "c.toml"
    contract.write_text(with_ids(contract_text(council_cap="50000", fund_cap="12500")))
    claims = write_claims(tmp_path / "claims.csv", [("a", "housed", "2024-02-01", "true"),
                                                    ("b", "employed", "2024-08-01", "true")])
    with Ledger.init(tmp_path / "l.sqlite", contract) as ledger:
        ledger.import_claims(claims)
        ledger.add_variation("2.0", "2024-07-01", "employment price revised", {"employed": "2750"})
        ledger.set_index("CPI", "2024-01-01", [("2024-01-01", "100"), ("2024-07-01", "102")])
        ledger.pay("2024-12-31")
        with pytest.warns(SopEvalWarning) as caught:
            project = ledger.export_indigo(tmp_path / "indigo.json")
    assert len(caught) == 1  # the central fund has no identifier; the council and the provider have
    message = str(caught[0].message)
    assert "'central fund' has no organisation identifier" in message
    assert "organisation_id under the [[payers]] named 'central fund'" in message
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
    assert payers == {COUNCIL, "central fund"}  # the fund's name stands in for its missing identifier


def test_organisations_are_referenced_by_their_org_ids(exported):
    project, tmp = exported
    by_payer = {p["payer_organisation_id"]["value"] for p in project["outcome_payments"]}
    assert by_payer == {COUNCIL, "central fund"}
    assert {p["recipient_organisation_id"]["value"] for p in project["outcome_payments"]} == {PROVIDER}
    assert project["service_provisions"] == [{"id": "provider", "organisation_id": {"value": PROVIDER},
                                              "notes": "Pathways Ltd: the service provider"}]
    keys = set(SCHEMA["properties"]["service_provisions"]["items"]["properties"])
    assert set(project["service_provisions"][0]) <= keys
    assert "council: share 0.8" in project["outcome_payment_commitments"][0]["notes"]


def test_contract_terms_import_from_indigo(exported, tmp_path):
    _, tmp = exported
    with pytest.warns(SopEvalWarning, match=r"outcome_payment_commitments\[1\]\.organisation_id = 'central fund' is "
                      "not an org-id.guide identifier"):
        ledger = Ledger.init(tmp_path / "again.sqlite", tmp / "indigo.json")
    with ledger:
        c = ledger.contract
    assert [(p.name, p.organisation_id) for p in c.payers] == [("council", COUNCIL), ("central fund", None)]
    assert (c.provider, c.provider_organisation_id) == ("Pathways Ltd", PROVIDER)
    assert [o.name for o in c.outcomes] == ["housed", "employed"]
    assert c.outcome("employed").price == Decimal(2500)
    assert [(a.version, str(a.effective), dict(a.prices)) for a in c.amendments] == [
        ("2.0", "2024-07-01", {"employed": Decimal(2750)})]
    assert [(p.name, p.share, p.cap) for p in c.payers] == [("council", Decimal("0.8"), Decimal(50000)),
                                                             ("central fund", Decimal("0.2"), Decimal(12500))]


def test_restated_contract_with_every_id_exports_without_warning(exported, tmp_path):
    _, tmp = exported
    restated = tmp / "restated.toml"
    restated.write_text(with_ids(contract_text(council_cap="50000", fund_cap="12500"), fund="GB-GOR-PB1"))
    assert main(["ledger", "init", "--db", str(tmp / "l.sqlite"), "--contract", str(restated), "--reason",
                 "organisation identifiers"]) == 0
    with Ledger(tmp / "l.sqlite") as ledger, warnings.catch_warnings():
        warnings.simplefilter("error")
        project = ledger.export_indigo()
        assert ledger.verify().ok
    ids = {c["organisation_id"]["value"] for c in project["outcome_payment_commitments"]}
    assert ids == {COUNCIL, "GB-GOR-PB1"}
    jsonschema.validate(project, SCHEMA)


def test_an_organisation_id_not_in_org_id_form_is_refused(tmp_path):
    bad = with_ids(contract_text(), council="Kirklees Council")
    with pytest.raises(SopEvalError, match=r"payers\[0\]\.organisation_id = 'Kirklees Council': expected an "
                       "org-id.guide identifier.*GB-LAE-KIR"):
        parse_contract(bad)
    with pytest.raises(SopEvalError, match="provider_organisation_id = 'pathways'"):
        parse_contract(with_ids(contract_text(), provider="pathways"))


def test_export_without_any_id_warns_for_each_payer(tmp_path):
    contract = tmp_path / "c.toml"
    contract.write_text(contract_text())
    with Ledger.init(tmp_path / "l.sqlite", contract) as ledger, pytest.warns(SopEvalWarning) as caught:
        ledger.export_indigo()
    assert sorted(str(w.message).split("'")[1] for w in caught) == ["central fund", "council"]


def test_an_export_without_payer_caps_imports_back_with_its_shares(tmp_path):
    contract = tmp_path / "c.toml"
    contract.write_text(with_ids(contract_text(), fund="GB-GOR-PB1"))
    with Ledger.init(tmp_path / "l.sqlite", contract) as ledger:
        project = ledger.export_indigo(tmp_path / "indigo.json")
    assert all("maximum_potential_outcome_payment" not in c for c in project["outcome_payment_commitments"])
    with Ledger.init(tmp_path / "again.sqlite", tmp_path / "indigo.json") as ledger:
        c = ledger.contract
    assert [(p.name, p.share, p.cap) for p in c.payers] == [("council", Decimal("0.8"), None),
                                                             ("central fund", Decimal("0.2"), None)]
