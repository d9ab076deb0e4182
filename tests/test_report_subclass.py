"""Subclassification cohorts in the report and results.json: balance within each subclass (MatchIt's
``summary(subclass = TRUE)``), its counts under disclosure control, re-checked by verify; the balance titles
say what balance is assessed after."""

from __future__ import annotations

import json
import shutil
import warnings

import numpy as np
import pandas as pd
import pypdf
import pytest

import sop_eval
from contract_copies import FIXTURES, copy_contract
from sop_eval.designs.psm import _subclass_balance_table, subclass_balance
from sop_eval.evaluation.verify import compare_results, verify
from sop_eval.pipeline import evaluate, run
from sop_eval.report.disclosure import DEFAULT_POLICY
from sop_eval.report.evaluation_report import _Kit, build_report
from sop_eval.report.pdf import write_pdf

BLOCK = """[evaluation.matching]
method = "nearest"
ratio = 10               # up to ten comparison releases for each person served
replace = true
caliper = 0.2            # standard deviations of the logit of the propensity score
caliper_scale = "logit\""""
SUBCLASS = 'allow_small = true\n\n[evaluation.matching]\nmethod = "subclass"\nsubclass = 5\nmin_n = 2'


def _contract(tmp, settings: str, **more: str):
    return copy_contract("demo.toml", tmp, FIXTURES / "reoffending_small.parquet",
                         **{BLOCK: settings, 'se = "cluster"\n': ""}, **more)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("subclass")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sop_eval.SopEvalWarning)
        evaluation = run(_contract(tmp, SUBCLASS), tmp / "out", risk_draws=200)
    return tmp / "out", evaluation


def test_results_record_the_balance_within_each_subclass(bundle):
    out, evaluation = bundle
    stored = json.loads((out / "results.json").read_text())
    measured = [k for k in evaluation.cohorts if k.matched is not None]
    assert measured
    for k, record in zip(measured, [c for c in stored["cohorts"] if "matching" in c], strict=True):
        sb = record["details"]["subclass_balance"]
        assert sb == k.details["subclass_balance"]
        assert sb["n_subclasses"] == len(sb["subclasses"]) == 5 and sb["threshold"] == 0.1
        assert sb["smd_denominator"].startswith("the subclass's treated SD")
        m = k.matched
        assert sum(r["treated"] for r in sb["subclasses"]) == int(m.treated.sum())
        assert sum(r["control"] for r in sb["subclasses"]) == int((~m.treated & (m.weights > 0)).sum())
        direct = sop_eval.balance(m, subclass=m.subclass.to_numpy()).subclass_table["smd"]
        for r in sb["subclasses"]:
            smd = pd.Series(r["smd"])
            assert "distance" not in smd.index
            np.testing.assert_allclose(smd.to_numpy(), direct.loc[float(r["subclass"])].loc[smd.index], rtol=1e-12)
            assert r["largest_abs_smd"] == pytest.approx(smd.abs().max()) and r["largest_term"] == smd.abs().idxmax()
            assert r["terms_over_threshold"] == int((smd.abs() > 0.1).sum())
        assert sb["subclasses_over_threshold"] == sum(r["terms_over_threshold"] > 0 for r in sb["subclasses"])


def test_verify_rechecks_the_subclass_figures(bundle):
    out, _ = bundle
    assert all(verify(out).summary()["ok"])
    stored = json.loads((out / "results.json").read_text())
    changed = json.loads(json.dumps(stored))
    changed["cohorts"][0]["details"]["subclass_balance"]["subclasses"][2]["smd"]["age"] += 1e-6
    changed["cohorts"][0]["details"]["subclass_balance"]["subclasses"][0]["treated"] += 1
    paths = [d.path for d in compare_results(stored, changed)]
    assert paths == ["cohorts[0].details.subclass_balance.subclasses[0].treated",
                     "cohorts[0].details.subclass_balance.subclasses[2].smd.age"]


def test_report_shows_subclass_balance_with_protected_counts(bundle):
    out, evaluation = bundle
    html = (out / "report.html").read_text()
    assert "cohort 1: balance before and after subclassification" in html
    assert "balance before and after matching" not in html
    assert "cohort 1: balance within each subclass (people and the largest |SMD|)" in html
    for k in evaluation.cohorts:
        sb = k.details["subclass_balance"]
        assert (f"{k.name}: within subclasses, {sb['subclasses_over_threshold']} of 5 subclasses have at least one "
                "term with |SMD| &gt; 0.1") in html
    kit = _Kit(DEFAULT_POLICY)
    table, _ = _subclass_balance_table("c", evaluation.cohorts[0].details["subclass_balance"], kit, str)
    assert list(table.columns) == ["subclass", "people served", "comparison", "largest |SMD|", "term",
                                   "terms |SMD| > 0.1"]
    raw = pd.DataFrame(evaluation.cohorts[0].details["subclass_balance"]["subclasses"])
    assert (table["comparison"].iloc[:-1] == raw["control"].map(DEFAULT_POLICY.round_count)).all()
    assert table["subclass"].iloc[-1] == "all subclasses"
    assert table["comparison"].iloc[-1] == DEFAULT_POLICY.round_count(raw["control"].sum())
    assert [p.name for p in kit.protected] == ["c: subclass sizes"]


def test_a_small_subclass_group_shows_no_statistics():
    record = {"threshold": 0.1, "n_subclasses": 2, "subclasses_over_threshold": 2, "smd_denominator": "x",
              "subclasses": [
                  {"subclass": 1, "treated": 40, "control": 50, "largest_abs_smd": 0.25, "largest_term": "age",
                   "terms_over_threshold": 2, "smd": {}},
                  {"subclass": 2, "treated": 40, "control": 3, "largest_abs_smd": 0.9, "largest_term": "sex",
                   "terms_over_threshold": 1, "smd": {}}]}
    kit = _Kit(DEFAULT_POLICY)
    table, notes = _subclass_balance_table("c", record, kit, str.upper)
    assert table.loc[0, "largest |SMD|"] == "0.250" and table.loc[0, "term"] == "AGE"
    assert (table.loc[1, ["comparison", "largest |SMD|", "term", "terms |SMD| > 0.1"]] == DEFAULT_POLICY.mask).all()
    # the total row is shown, so a second comparison count is hidden: the small one cannot be recovered
    assert table.loc[2, "subclass"] == "all subclasses" and table.loc[2, "comparison"] == 55
    assert table.loc[0, "comparison"] == DEFAULT_POLICY.mask and table.loc[0, "people served"] == 40
    assert notes[0] == ("c: within subclasses, 2 of 2 subclasses have at least one term with |SMD| > 0.1 (each SMD "
                        "over x).")
    assert "1 subclass(es) with fewer than 8 people in a group are not shown" in notes[1]


def test_subclass_balance_of_a_cohort():
    df = sop_eval.datasets.load_lalonde()
    m = sop_eval.match(df, "treat", ["age", "educ", "race", "married", "nodegree", "re74", "re75"],
                       method="subclass", subclass=4)
    sb = subclass_balance(m, threshold=0.25)
    assert sb["threshold"] == 0.25 and sb["n_subclasses"] == 4
    assert [r["subclass"] for r in sb["subclasses"]] == [1, 2, 3, 4]
    assert all(set(r["smd"]) == set(m.balance().table.index) - {"distance"} for r in sb["subclasses"])


@pytest.mark.parametrize("method", ["weighting", "ebal"])
def test_balance_title_names_the_weighting(method, tmp_path):
    settings = f'allow_small = true\n\n[evaluation.matching]\nmethod = "{method}"\nestimand = "ATT"'
    contract = _contract(tmp_path, settings, **{'design = "psm"\nmetric': 'design = "weighting"\nmetric'})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sop_eval.SopEvalWarning)
        evaluation = evaluate(contract, risk_draws=0)
    html = build_report(evaluation, run_time="2026-01-01T00:00:00+00:00", results_sha256="0" * 64)[0]
    assert "cohort 1: balance before and after weighting" in html
    assert "before and after matching" not in html
    assert "subclass" not in html.lower().replace("subclassification", "")


def test_subclass_tables_fit_the_page_in_a_browser(bundle):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is a dev dependency")
    browser_path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not browser_path:
        pytest.skip("no Chromium on this machine: install it (Debian: apt-get install chromium)")
    out, _ = bundle
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=browser_path, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 1400})
            page.goto((out / "report.html").as_uri(), wait_until="load")
            widths = page.evaluate(
                "Array.from(document.querySelectorAll('table.data')).filter(t => t.closest('div')"
                ".previousElementSibling.textContent.includes('within each subclass')).map(t => [t.scrollWidth, "
                "document.querySelector('main').clientWidth])")
        finally:
            browser.close()
    assert len(widths) == 2 and all(table <= page_width + 1 for table, page_width in widths)


def test_pdf_holds_the_subclass_tables(bundle):
    out, _ = bundle
    text = " ".join(page.extract_text() for page in pypdf.PdfReader(write_pdf(out)).pages)
    assert text.count("balance within each subclass") == 2
    assert "within subclasses" in text
