"""The pipeline's standard error for a contract matched with replacement, and what the report says of it."""

from contract_copies import FIXTURES, copy_contract
from sop_eval.effects.matched import RECOMMENDED_WITH_REPLACEMENT
from sop_eval.pipeline import run


def test_demo_contract_uses_a_recommended_se_and_the_report_names_its_clusters(tmp_path):
    contract = copy_contract("demo.toml", tmp_path / "c", FIXTURES / "reoffending_small.parquet")
    evaluation = run(contract, tmp_path / "out", risk_draws=200)
    assert evaluation.contract.evaluation.matching.replace
    assert evaluation.parameters["se"] in RECOMMENDED_WITH_REPLACEMENT
    for cohort in evaluation.cohorts:
        assert cohort.effect.details["clusters_on"] == "matched set and person (two-way)"
        assert "two-way" in cohort.effect.method
    html = (tmp_path / "out" / "report.html").read_text()
    assert "clustered on matched set and person (two-way)" in html
