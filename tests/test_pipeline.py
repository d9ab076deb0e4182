"""The evaluation end to end: evaluate, run, verify, timing, bad input, atomic output, report content."""

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

import sop_eval
from contract_copies import FIXTURES, copy_contract
from sop_eval import SopEvalError
from sop_eval.audit import read_audit, verify
from sop_eval.cli import main
from sop_eval.pipeline import evaluate, run


def contract_for(tmp: Path, data: Path, **replace: str) -> Path:
    """A copy of the demo contract pointing at ``data`` (copied next to it), with text replacements."""
    return copy_contract("demo.toml", tmp, data, **replace)


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("small")
    contract = contract_for(base, FIXTURES / "reoffending_small.parquet")
    out = base / "out"
    evaluation = run(contract, out, risk_draws=2000)
    return contract, out, evaluation


def test_run_writes_every_output(small_run):
    _, out, evaluation = small_run
    assert sorted(p.name for p in out.iterdir()) == ["audit.json", "figures", "report.html", "results.json",
                                                     "results.release.json"]
    assert len(list((out / "figures").glob("*.png"))) >= 4
    results = json.loads((out / "results.json").read_text())
    assert [c["name"] for c in results["cohorts"]] == ["cohort 1", "cohort 2"]
    assert float(results["payments"]["total_payment"]) == float(evaluation.schedule.total)
    audit = read_audit(out)
    assert audit["contract"]["version"] == "1.0" and len(audit["contract"]["sha256"]) == 64
    assert audit["inputs"][0]["path"].endswith("reoffending_small.parquet")
    assert audit["parameters"]["seed"] == sop_eval.pipeline.DEFAULT_SEED
    assert audit["environment"]["dependencies"]["numpy"]
    assert audit["disclosure"]["policy"]["name"] == "suppress-1-7-round-5"


def test_same_inputs_give_byte_identical_results(small_run, tmp_path):
    contract, out, _ = small_run
    run(contract, tmp_path / "again", risk_draws=2000)
    assert (tmp_path / "again" / "results.json").read_bytes() == (out / "results.json").read_bytes()


def test_verify_agrees_then_names_what_changed(small_run, tmp_path):
    contract, out, _ = small_run
    assert verify(out).ok
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    results = json.loads((copy / "results.json").read_text())
    results["pooled"]["estimate"] += 0.01
    (copy / "results.json").write_text(json.dumps(results))
    outcome = verify(copy, contract=contract, data_dir=contract.parent)  # the results alone moved
    assert not outcome.ok
    assert any(c["check"] == "results.json" and not c["ok"] for c in outcome.checks)
    assert [d.path for d in outcome.differences] == ["pooled.estimate"]


def test_verify_cli_exit_codes_and_changed_input(tmp_path, capsys):
    contract = contract_for(tmp_path / "c", FIXTURES / "reoffending_small.csv")
    out = tmp_path / "out"
    assert main(["run", str(contract), "--out", str(out)]) == 0
    assert main(["verify", str(out)]) == 0
    assert "verified" in capsys.readouterr().out
    data = pd.read_csv(tmp_path / "c" / "reoffending_small.csv")
    data.loc[data.treated == 1, "reconviction_events"] += 1
    data.to_csv(tmp_path / "c" / "reoffending_small.csv", index=False)
    assert main(["verify", str(out)]) == 1
    printed = capsys.readouterr().out
    assert re.search(r"NO  input participants reoffending_small.csv: changed since the run: "
                     r"column\(s\) 'reconviction_events' changed", printed)
    assert "differs: cohorts[0].effect.treated_mean" in printed
    assert "NOT verified" in printed


def test_recovers_true_effect_on_the_demo_data():
    evaluation = evaluate(FIXTURES / "contracts" / "demo.toml", risk_draws=0)
    lo, hi = evaluation.pooled.relative_conf_int()
    assert lo < -0.10 < hi  # the true effect is -10% in expected events
    naive = evaluation.cohorts[0].risk.loc["before", "relative"]
    assert naive > 0.2 and abs(evaluation.cohorts[0].risk.loc["after", "relative"]) < 0.05
    head = evaluation.headline().set_index("cohort")
    assert list(head.index) == ["cohort 1", "cohort 2", "pooled"]
    assert head.loc["pooled", "gate"] == 0.075
    # the pooled row is all cohorts together, the figure the pooled gate is decided on
    sizes = [c.effect.n_treated for c in evaluation.cohorts]
    avoided = -sum(n * c.effect.estimate for n, c in zip(sizes, evaluation.cohorts, strict=True))
    expected = sum(n * c.effect.comparison_mean for n, c in zip(sizes, evaluation.cohorts, strict=True))
    together = avoided / expected
    assert head.loc["pooled", "reduction"] == pytest.approx(together, rel=1e-12)
    assert head.loc["pooled", "gate_measure"] == pytest.approx(together, rel=1e-12)
    assert head.loc["pooled", "reduction_ci_low"] < together < head.loc["pooled", "reduction_ci_high"]


def test_cohort_not_yet_measurable_pays_nothing(tmp_path):
    contract = contract_for(tmp_path, FIXTURES / "reoffending_small.parquet",
                            **{"extract_date = 2016-02-09": "extract_date = 2015-06-30"})
    with pytest.warns(sop_eval.SopEvalWarning, match="has not closed"):
        evaluation = evaluate(contract, risk_draws=0)
    c2 = evaluation.cohort("cohort 2")
    assert c2.status == "not yet measurable" and c2.effect is None
    assert c2.status_text == "not yet measurable — first measurable on 2015-11-08"
    assert evaluation.cohort("cohort 1").measured
    line = evaluation.schedule.line(outcome="reconviction_events", cohort="cohort 2")
    assert float(line.amount) == 0
    assert evaluation.pooled is None


def test_interrupted_run_leaves_no_output(tmp_path, monkeypatch):
    contract = contract_for(tmp_path / "c", FIXTURES / "reoffending_small.parquet")
    import sop_eval.report.evaluation_report as rep

    def broken(*args, **kwargs):
        raise RuntimeError("interrupted")

    monkeypatch.setattr(rep, "build_report", broken)
    with pytest.raises(RuntimeError):
        run(contract, tmp_path / "out", risk_draws=0)
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


@pytest.mark.parametrize(
    "setup, message",
    [
        ("missing_data", "data file .* does not exist"),
        ("missing_column", r"has no column\(s\) 'age'"),
        ("not_results", "is not a results directory"),
        ("corrupt_audit", "audit.json' is corrupt"),
        ("no_contract", "contract file .* does not exist"),
    ],
)
def test_bad_input_is_one_line_exit_2(setup, message, tmp_path, capsys):
    contract = contract_for(tmp_path / "c", FIXTURES / "reoffending_small.parquet")
    if setup == "missing_data":
        (tmp_path / "c" / "reoffending_small.parquet").unlink()
        args = ["run", str(contract), "--out", str(tmp_path / "o")]
    elif setup == "missing_column":
        data = pd.read_parquet(tmp_path / "c" / "reoffending_small.parquet").drop(columns="age")
        data.to_parquet(tmp_path / "c" / "reoffending_small.parquet")
        args = ["run", str(contract), "--out", str(tmp_path / "o")]
    elif setup == "not_results":
        (tmp_path / "empty").mkdir()
        args = ["verify", str(tmp_path / "empty")]
    elif setup == "corrupt_audit":
        (tmp_path / "r").mkdir()
        (tmp_path / "r" / "audit.json").write_text("{not json")
        args = ["verify", str(tmp_path / "r")]
    else:
        args = ["run", str(tmp_path / "nope.toml"), "--out", str(tmp_path / "o")]
    assert main(args) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    err = lines[-1]  # after the stage message a run prints first
    assert err.startswith("sop-eval: error:") and all(line.startswith("sop-eval: ") for line in lines)
    assert len(lines) == (2 if args[0] == "run" else 1), lines
    assert re.search(message, err), err
    assert not (tmp_path / "o").exists()


def test_report_is_self_contained_escaped_and_private(tmp_path):
    contract = contract_for(tmp_path / "c", FIXTURES / "reoffending_small.parquet",
                            **{'name = "Demonstration reconviction bond (simulated data)"':
                               'name = "Bond <script>alert(1)</script> & co"'})
    out = tmp_path / "out"
    run(contract, out, risk_draws=500)
    html = (out / "report.html").read_text()
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in html
    assert not re.search(r"(src|href)=\"(https?:)?//", html) and "@import" not in html and "@font-face" not in html
    assert html.count("data:image/png;base64,") >= 4
    for section in ("Contract", "Data and cohort flow", "Balance and baseline risk", "Effects",
                    "Gates and statistical tests", "Payments", "Sensitivity and payment risk",
                    "Methods and conventions"):
        assert f">{section}</h2>" in html
    ids = pd.read_parquet(FIXTURES / "reoffending_small.parquet")["person_id"]
    text = html + (out / "results.json").read_text() + (out / "audit.json").read_text()
    assert not any(pid in text for pid in ids.sample(200, random_state=1))
    assert re.search(r"P\d{7}", text) is None


@pytest.mark.parametrize(
    "replace, message",
    [
        ({'caliper_scale = "logit"': 'caliper_scale = "logit"\ndistance = "probit"'}, r"distance = 'probit'"),
        ({'[evaluation]\ndesign = "psm"': '[evaluation]\ndesign = "historical_baseline"',
          'design = "psm"\nmetric': 'design = "historical_baseline"\nmetric'},
         r"design = 'historical_baseline'.*versus_baseline"),
        ({'[evaluation]\ndesign = "psm"': '[evaluation]\ndesign = "did"'},
         r"evaluation\.extract_date = 2016-02-09: not used by design 'did'"),
    ],
    ids=["unsupported distance", "design without an end-to-end evaluation", "matched-cohort keys under did"],
)
def test_evaluation_settings_it_cannot_run_are_refused(replace, message, tmp_path):
    contract = contract_for(tmp_path, FIXTURES / "reoffending_small.parquet", **replace)
    with pytest.raises(SopEvalError, match=message):
        evaluate(contract, risk_draws=0)


def test_people_outside_every_cohort_window_are_reported(tmp_path):
    contract = contract_for(tmp_path, FIXTURES / "reoffending_small.parquet",
                            **{"entry_end = 2014-05-08": "entry_end = 2013-12-31"})
    with pytest.warns(sop_eval.SopEvalWarning, match=r"\d+ treated row\(s\) fall in no contract cohort"):
        evaluation = evaluate(contract, risk_draws=0)
    outside = evaluation.parameters["rows_outside_cohorts"]
    data = pd.read_parquet(FIXTURES / "reoffending_small.parquet")
    late = data["release_date"] > pd.Timestamp("2013-12-31")
    assert outside == {"treated": int((late & (data.treated == 1)).sum()),
                       "comparison": int((late & (data.treated == 0)).sum())}
    assert evaluation.cohort("cohort 2").n_treated == int(((data.cohort == 2) & (data.treated == 1) & ~late).sum())
