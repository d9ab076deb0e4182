"""The report opens with the payment certificate, speaks one style, prints as PDF and has a JDL layout;
`sop-eval init` and `sop-eval check` prepare a contract without estimating."""

import hashlib
import io
import json
import re
from html import unescape

import matplotlib.pyplot as plt
import pandas as pd
import pypdf
import pytest

from contract_copies import FIXTURES, copy_contract
from sop_eval.cli import build_parser, main
from sop_eval.contract import load_contract
from sop_eval.effects.estimate import EffectEstimate
from sop_eval.errors import SopEvalError
from sop_eval.evaluation import verify
from sop_eval.report.effect_plots import plot_effects
from sop_eval.report.style import money, pct


def _visible(html: str) -> str:
    html = re.sub(r"<style>.*?</style>", " ", html, flags=re.S)
    html = re.sub(r'src="data:[^"]+"', "", html)
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    base = tmp_path_factory.mktemp("demo")
    contract = copy_contract("demo.toml", base / "c", FIXTURES / "reoffending.parquet")
    out = base / "out"
    assert main(["run", str(contract), "--out", str(out), "--pdf", "--quiet"]) == 0
    return contract, out


def test_certificate_comes_first_with_every_decision(demo):
    _, out = demo
    html = (out / "report.html").read_text()
    text = _visible(html)
    sections = re.findall(r'data-section="([^"]+)"', html)
    assert sections[0] == "Payment certificate"
    cert = text[text.index("Payment certificate Total due"):text.index(" Contract Demonstration")]
    assert "Total due: £600,000.00." in cert
    assert "Ministry of Justice £480,000.00" in cert and "lottery fund £120,000.00" in cert
    assert re.search(r"For 100 typical people in cohort 1, the service reduced reconviction events by between "
                     r"[\d.]+ and [\d.]+ \(best estimate [\d.]+; 95% CI\)", cert)
    assert "The gate, a 10.0% reduction, is not met" in cert and "The gate, a 7.5% reduction, is met" in cert
    assert "which the contract does not require" in cert
    assert "contract cap" in cert and "due 2016-03-09" in cert
    digest = hashlib.sha256((out / "results.json").read_bytes()).hexdigest()
    assert f"SHA-256 of results.json): {digest}" in cert


def test_one_style_and_no_python_literals(demo):
    _, out = demo
    text = _visible((out / "report.html").read_text())
    for literal in (r"\bTrue\b", r"\bFalse\b", r"\bNone\b", r"\bnan\b", r"(?<![\w.])-0(\.0+)?(?![\d.])", r"\bGBP \d"):
        assert not re.search(literal, text), (literal, re.search(literal, text))
    for column in ("n_treated", "p_value", "ci_low", "se_method", "paid_by_"):
        assert column not in text
    assert "P(gate met) is a sampling statement" in text and "not the probability that the true effect" in text
    assert money(1234567.5, "GBP") == "£1,234,567.50" and money(-0.001, "GBP") == "£0.00"
    assert pct(-0.00001) == "0.0%" and pct(0.084) == "8.4%"


def test_pdf_holds_the_total_and_each_gate_decision(demo, tmp_path):
    _, out = demo
    reader = pypdf.PdfReader(out / "report.pdf")
    text = " ".join(" ".join(page.extract_text().split()) for page in reader.pages)
    first = " ".join(reader.pages[0].extract_text().split())
    assert "Total due: £600,000.00" in first
    assert first.count("not met") >= 1 and len(re.findall(r"\bmet\b", first)) >= 3
    assert "Payment certificate" in first and "Methods and conventions" in text
    # `sop-eval report BUNDLE --pdf` typesets from the bundle alone
    (out / "report.pdf").unlink()
    assert main(["report", str(out), "--pdf"]) == 0
    again = pypdf.PdfReader(io.BytesIO((out / "report.pdf").read_bytes()))
    assert "Total due: £600,000.00" in " ".join(again.pages[0].extract_text().split())
    with pytest.raises(SystemExit):
        build_parser().parse_args(["report"])
    assert main(["report", str(tmp_path), "--pdf"]) == 2


def test_the_audit_covers_the_pdf_and_verify_re_typesets_it(demo, tmp_path):
    contract, _ = demo
    out = tmp_path / "with_pdf"
    assert main(["run", str(contract), "--out", str(out), "--pdf", "--quiet"]) == 0
    audit = json.loads((out / "audit.json").read_text())
    assert audit["outputs"]["report.pdf"] == hashlib.sha256((out / "report.pdf").read_bytes()).hexdigest()
    assert verify(out).ok
    pdf = out / "report.pdf"
    pdf.write_bytes(pdf.read_bytes() + b"\n% edited\n")
    result = verify(out)
    assert not result.ok and any(c["check"] == "report.pdf" and not c["ok"] for c in result.checks)
    # typeset after the run: not in the audit, but checked against a fresh typesetting of the verified report
    bare = tmp_path / "bare"
    assert main(["run", str(contract), "--out", str(bare), "--quiet"]) == 0
    assert "report.pdf" not in json.loads((bare / "audit.json").read_text())["outputs"]
    assert main(["report", str(bare), "--pdf"]) == 0
    result = verify(bare)
    check = next(c for c in result.checks if c["check"] == "report.pdf")
    assert result.ok and check["ok"] and "typeset after the run" in check["detail"]
    (bare / "report.pdf").write_bytes((bare / "report.pdf").read_bytes()[:-20])
    result = verify(bare)
    check = next(c for c in result.checks if c["check"] == "report.pdf")
    assert not result.ok and "do not rely on it" in check["detail"]


def test_run_log_in_the_bundle_without_person_data(demo):
    _, out = demo
    log = (out / "run.log").read_text()
    assert "evaluated 2 cohort(s)" in log and "typesetting report.pdf" in log
    assert "P0" not in log and "person_id" not in log


def test_jdl_layout(tmp_path):
    contract = copy_contract("demo.toml", tmp_path / "c", FIXTURES / "reoffending.parquet")
    contract.write_text(contract.read_text() + '\n[report]\nlayout = "jdl"\n')
    assert load_contract(contract).report.layout == "jdl"
    out = tmp_path / "out"
    assert main(["run", str(contract), "--out", str(out), "--quiet"]) == 0
    text = _visible((out / "report.html").read_text())
    assert "Justice Data Lab headline measures" in text
    for measure in ("one-year proven reoffending rate", "frequency of reoffending", "time to first reoffence"):
        assert measure in text
    assert "p ≤ 0.05 and at least 10 events were expected" in text
    assert "for 100 typical people in the treatment group, the equivalent of" in text
    assert "profile of the treatment and matched comparison groups" in text and "standardised difference" in text
    # the design measured the extra measures; the report rendered what results.json records, verify re-checks them
    results = json.loads((out / "results.json").read_text())
    assert [m["kind"] for m in results["parameters"]["jdl_measures"]] == ["binary", "count", "time_to_event"]
    for cohort in results["cohorts"]:
        measures = {m["kind"]: m for m in cohort["measures"]}
        assert list(measures) == ["binary", "count", "time_to_event"]
        assert measures["count"]["effect"] == cohort["effect"]  # the contract's outcome, not estimated twice
        rate = measures["binary"]["effect"]
        assert rate["label"] == cohort["name"] and "rows" not in json.dumps(rate)  # aggregates only
        shown = f"the equivalent of {100 * rate['treated_mean']:.1f} people who reoffended"
        assert f"{cohort['name']}, one-year proven reoffending rate" in text and shown in text
    assert main(["verify", str(out)]) == 0
    bad = tmp_path / "bad.toml"
    bad.write_text(contract.read_text().replace('layout = "jdl"', 'layout = "mojn"'))
    with pytest.raises(SopEvalError, match="layout"):
        load_contract(bad)


def test_forest_plot_uses_the_tables_sign():
    est = EffectEstimate(estimate=-0.2, se=0.05, treated_mean=1.5, comparison_mean=1.7, n_treated=1000,
                         n_comparison=9000, kind="count", label="cohort 1")
    fig, ax = plt.subplots()
    _, bars = plot_effects([est], ax=ax, gate=[0.10], scale="reduction")
    assert bars.lines[0].get_xdata()[0] == pytest.approx(-100 * est.relative) and -100 * est.relative > 0
    assert [line.get_xdata()[0] for line in ax.lines if line.get_color() == "tab:red"] == [10.0]
    plt.close(fig)


def test_init_writes_a_skeleton_that_check_reads(tmp_path, capsys):
    data = tmp_path / "reoffending_small.csv"
    data.write_bytes((FIXTURES / "reoffending_small.csv").read_bytes())
    skeleton = tmp_path / "contract.toml"
    assert main(["init", "--data", str(data), "--out", str(skeleton)]) == 0
    text = skeleton.read_text()
    assert "GUESS" in text and 'id = "person_id"' in text and 'treatment = "treated"' in text
    assert 'participants = "reoffending_small.csv"' in text
    contract = load_contract(skeleton)
    assert contract.data is not None and "release_date" == contract.data.columns["index_date"]
    assert main(["init", "--data", str(data), "--out", str(skeleton)]) == 2  # exists, no --force
    capsys.readouterr()


def test_init_finds_a_yes_no_treatment_column_across_the_pool(tmp_path, capsys):
    frame = pd.read_csv(FIXTURES / "reoffending_small.csv")
    frame = frame.rename(columns={"treated": "in_programme"})
    frame["in_programme"] = frame["in_programme"].map({1: "Y", 0: "N"})
    served, pool = tmp_path / "served.csv", tmp_path / "pool.csv"
    frame[frame["in_programme"] == "Y"].to_csv(served, index=False)
    frame[frame["in_programme"] == "N"].to_csv(pool, index=False)
    skeleton = tmp_path / "contract.toml"
    assert main(["init", "--data", str(served), "--pool", str(pool), "--out", str(skeleton)]) == 0
    text = skeleton.read_text()
    assert 'treatment = "in_programme"' in text and 'treated_values = ["Y"]  # GUESS' in text
    assert list(load_contract(skeleton).data.columns["treated_values"]) == ["Y"]
    assert "in_programme" not in text.split("covariates = ")[1].split("\n")[0]
    capsys.readouterr()


def test_check_reports_sizes_power_and_false_payment(tmp_path, capsys):
    contract = copy_contract("demo.toml", tmp_path / "c", FIXTURES / "reoffending.parquet")
    assert main(["check", str(contract)]) == 0
    printed = capsys.readouterr().out
    assert "cohort 1" in printed and "1,000" in printed and "minimum detectable reduction" in printed
    assert "gate pays with no effect" in printed and "ready to run" in printed
    small = copy_contract("demo.toml", tmp_path / "s", FIXTURES / "reoffending_small.parquet")
    small.write_text(small.read_text().replace("size = 1000\n", ""))
    code = main(["check", str(small)])
    assert code in (0, 1)
    missing = copy_contract("demo.toml", tmp_path / "m", FIXTURES / "reoffending.parquet",
                            **{'"age", ': '"age_missing", '})
    assert main(["check", str(missing)]) == 2
    for command in ("init", "check", "run", "report"):
        helptext = build_parser()._subparsers._group_actions[0].choices[command].format_help()  # noqa: SLF001
        assert "examples:" in helptext and "exit codes:" in helptext


RAW_NAMES = (r"\b(prior_convictions|prior_custodial|offence_group\w*|sentence_months|drug_misuse|no_fixed_abode"
             r"|reconviction_events)\b")


def _section(html: str, title: str) -> str:
    start = html.index(f"<h2>{title}</h2>")
    return _visible(html[start:html.index("</section>", start)])


def test_psm_tables_name_covariates_by_their_labels(tmp_path):
    labels = ('\n[data.labels]\nprior_convictions = "previous convictions"\noffence_group = "main offence"\n'
              'reconviction_events = "reconvictions"\n')
    contract = copy_contract("demo.toml", tmp_path / "c", FIXTURES / "reoffending_small.parquet",
                             **{"[evaluation]\n": labels + "\n[evaluation]\n"})
    contract.write_text(contract.read_text() + '\n[report]\nlayout = "jdl"\n')
    settings = load_contract(contract).data
    assert settings.label("offence_group_public_order") == "main offence: public order"
    assert settings.label("prior_custodial") == "prior custodial" and settings.label("age") == "age"
    out = tmp_path / "out"
    assert main(["run", str(contract), "--out", str(out), "--quiet"]) == 0
    html = (out / "report.html").read_text()
    for title in ("Balance and baseline risk", "Profile of the treatment and comparison groups"):
        text = _section(html, title)
        assert not re.search(RAW_NAMES, text), (title, re.search(RAW_NAMES, text))
        assert "previous convictions" in text and "main offence: theft" in text and "drug misuse" in text
    assert "expected reconvictions without the service" in _section(html, "Balance and baseline risk")
    bad = tmp_path / "bad.toml"
    bad.write_text(contract.read_text().replace('offence_group = "main offence"', "offence_group = 3"))
    with pytest.raises(SopEvalError, match=r"data\.labels\.offence_group = 3"):
        load_contract(bad)
