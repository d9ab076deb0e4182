"""Results bundles as the assessor meets them, through the command line: copied, moved, hand-edited,
with an edited audit record, a missing input or no extract date."""

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from contract_copies import FIXTURES, copy_contract
from sop_eval.cli import main
from sop_eval.report.disclosure import DEFAULT_POLICY


def case(tmp: Path, **replace: str) -> Path:
    """A case folder as a commissioner hands it over: the contract with its data file beside it."""
    return copy_contract("demo.toml", tmp, FIXTURES / "reoffending_small.csv", **replace)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    """A case folder ``a/`` holding contract.toml, the data and the results in ``a/out``."""
    base = tmp_path_factory.mktemp("bundle")
    contract = case(base / "a")
    assert main(["run", str(contract), "--out", str(base / "a" / "out")]) == 0
    return base / "a"


def copy_case(bundle: Path, tmp: Path) -> Path:
    target = tmp / "case"
    shutil.copytree(bundle, target)
    return target


def verify(capsys, *args: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["verify", *args])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.out + captured.err


def test_outputs_hold_no_absolute_path(bundle):
    folder = str(bundle.parent)
    for name in ("results.json", "results.release.json", "audit.json", "report.html"):
        text = (bundle / "out" / name).read_text()
        assert folder not in text and str(Path.home()) not in text, name
    audit = json.loads((bundle / "out" / "audit.json").read_text())
    assert audit["contract"]["path"] == "../contract.toml"
    assert audit["inputs"][0]["path"] == "reoffending_small.csv"
    assert json.loads((bundle / "out" / "results.json").read_text())["contract"]["source"] == "contract.toml"


def test_copied_case_folder_verifies_elsewhere(bundle, tmp_path, capsys):
    copied = copy_case(bundle, tmp_path / "b")
    code, out = verify(capsys, str(copied / "out"))
    assert code == 0, out
    assert out.startswith("verified:")


def test_moved_results_need_the_inputs_repointed(bundle, tmp_path, capsys):
    copied = copy_case(bundle, tmp_path / "b")
    moved = tmp_path / "elsewhere" / "results"
    moved.parent.mkdir()
    (copied / "out").rename(moved)
    code, out = verify(capsys, str(moved))
    assert code == 1
    assert out.startswith("NOT verified:") and "nothing was re-run" in out and "--contract" in out
    assert "all agree" not in out
    code, out = verify(capsys, str(moved), "--contract", str(copied / "contract.toml"), "--data-dir", str(copied))
    assert code == 0, out
    # the data alone moved: --data-dir finds it by file name
    data = tmp_path / "data"
    data.mkdir()
    (copied / "reoffending_small.csv").rename(data / "reoffending_small.csv")
    code, out = verify(capsys, str(moved), "--contract", str(copied / "contract.toml"))
    assert code == 1 and "input reoffending_small.csv is missing" in out and "--data-dir" in out
    code, out = verify(capsys, str(moved), "--contract", str(copied / "contract.toml"), "--data-dir", str(data))
    assert code == 0, out


def test_missing_input_reruns_nothing(bundle, tmp_path, capsys):
    copied = copy_case(bundle, tmp_path)
    (copied / "reoffending_small.csv").unlink()
    code, out = verify(capsys, str(copied / "out"))
    assert code == 1
    assert "nothing was re-run" in out.splitlines()[0]
    assert re.search(r"NO  input participants reoffending_small.csv: missing", out)
    assert "not re-computed" in out and "all agree" not in out and "re-rendered" not in out


def test_hand_edited_report_and_deleted_figure_are_named(bundle, tmp_path, capsys):
    copied = copy_case(bundle, tmp_path)
    report = copied / "out" / "report.html"
    html = report.read_text()
    total = re.search(r"Total due: £([\d,.]+)", html)
    assert total
    report.write_text(html.replace(total.group(0), "Total due: £999,999.00"))
    code, out = verify(capsys, str(copied / "out"))
    assert code == 1
    assert "report.html" in out.splitlines()[0]
    assert re.search(r"NO  report.html: changed since the run", out)
    assert "all agree" in out  # the figures of results.json still agree: only the report was edited
    figure = sorted((copied / "out" / "figures").iterdir())[0]
    figure.unlink()
    code, out = verify(capsys, str(copied / "out"))
    assert code == 1 and re.search(rf"NO  figures/{figure.name}: deleted since the run", out)


def test_changed_outcome_names_the_column_and_the_consequence(bundle, tmp_path, capsys):
    copied = copy_case(bundle, tmp_path)
    data = pd.read_csv(copied / "reoffending_small.csv")
    served = data.index[(data.treated == 1) & (data.cohort == data.loc[data.treated == 1, "cohort"].iloc[-1])]
    data.loc[served, "reconviction_events"] = 0  # the people served of one cohort: no event at all
    data.to_csv(copied / "reoffending_small.csv", index=False)
    code, out = verify(capsys, str(copied / "out"))
    assert code == 1
    assert re.search(r"NO  input participants reoffending_small.csv: changed since the run: "
                     r"column\(s\) 'reconviction_events' changed; [\d,]+ rows as at the run", out)
    first, details = out.split("\nInputs:")
    assert "changed from £" in first  # a payment changed, said before the inputs
    assert "changed from met" in first or "changed from not met" in first
    assert "differs: cohorts" in details


def test_output_starts_with_the_bottom_line(bundle, capsys):
    code, out = verify(capsys, str(bundle / "out"))
    assert code == 0
    order = [out.index(h) for h in ("Payments due", "Gate decisions", "Inputs:", "Audit record:", "Files people read:")]
    assert order == sorted(order)
    assert re.search(r"  total\s+£[\d]{1,3}(,\d{3})*\.\d\d\s+unchanged", out)
    capsys.readouterr()
    code = main(["verify", str(bundle / "out"), "--json"])
    record = json.loads(capsys.readouterr().out)  # the record alone on stdout; warnings go to stderr
    assert code == 0 and record["verified"] is True and record["exit_code"] == 0
    assert record["bottom_line"]["payments"][0]["name"] == "total"
    assert all(g["status"] == "unchanged" for g in record["bottom_line"]["gates"])


@pytest.mark.parametrize(
    "edit, named",
    [
        (lambda a: a["inputs"][0].pop("sha256"), "inputs[0].sha256 is missing"),
        (lambda a: a["parameters"].pop("seed"), "parameters.seed is missing"),
        (lambda a: a["environment"].update(sop_eval="0.0.1"), "environment.sop_eval was edited"),
        (lambda a: a["contract"].update(version="2.0"), "contract.version was edited"),
        (lambda a: a.pop("seal"), "seal"),
    ],
    ids=["input without sha256", "without seed", "package version edited", "contract version edited", "no seal"],
)
def test_edited_audit_is_named_and_exit_1(edit, named, bundle, tmp_path, capsys):
    copied = copy_case(bundle, tmp_path)
    path = copied / "out" / "audit.json"
    audit = json.loads(path.read_text())
    edit(audit)
    path.write_text(json.dumps(audit, indent=1))
    code, out = verify(capsys, str(copied / "out"))
    assert code == 1
    first = out.splitlines()[0]
    assert first.startswith("NOT verified: audit.json was edited") and named in first
    assert "nothing was re-run" in first and "all agree" not in out


def test_deleting_what_the_audit_covers_is_named(bundle, tmp_path, capsys):
    copied = copy_case(bundle, tmp_path)
    (copied / "out" / "results.release.json").unlink()
    code, out = verify(capsys, str(copied / "out"))
    assert code == 1 and re.search(r"NO  results.release.json: deleted since the run", out)


@pytest.mark.parametrize("damage", ["truncated", "not an object", "older format"])
def test_unreadable_audit_is_one_line_exit_2(damage, bundle, tmp_path, capsys):
    copied = copy_case(bundle, tmp_path)
    path = copied / "out" / "audit.json"
    text = path.read_text()
    path.write_text({"truncated": text[: len(text) // 2], "not an object": "[1, 2]",
                     "older format": text.replace('"sop_eval audit 2"', '"sop_eval audit 1"')}[damage])
    code, out = verify(capsys, str(copied / "out"))
    assert code == 2
    assert len(out.strip().splitlines()) == 1 and out.startswith("sop-eval: error:") and "audit.json" in out


def test_results_json_is_marked_and_the_release_export_is_disclosure_safe(bundle):
    results = json.loads((bundle / "out" / "results.json").read_text())
    assert results["release"].startswith("not for release")
    release = json.loads((bundle / "out" / "results.release.json").read_text())
    assert release["release"].startswith("release-safe")
    assert release["disclosure_policy"]["name"] == DEFAULT_POLICY.name
    counts = [c[k] for c in release["cohorts"] for k in ("n_treated", "n_comparison") if k in c]
    counts += list(release["data"].values())
    assert counts and all(v == DEFAULT_POLICY.mask or v % DEFAULT_POLICY.rounding == 0 for v in counts)
    assert release["payments"]["total"] == pytest.approx(results["payments"]["total_payment"])


def test_missing_extract_date_is_one_line_naming_key_and_flag(tmp_path, capsys):
    contract = case(tmp_path / "c", **{"extract_date = 2016-02-09\n": ""})
    out = tmp_path / "out"
    assert main(["run", str(contract), "--out", str(out)]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("sop-eval: error:")]
    assert len(errors) == 1 and "[evaluation] extract_date" in errors[0] and "--as-of" in errors[0]
    assert not out.exists()
    assert main(["run", str(contract), "--out", str(out), "--as-of", "2016-02-09"]) == 0
    html = (out / "report.html").read_text()
    assert "data extract date 2016-02-09" in html and "extract date None" not in html
    capsys.readouterr()
    assert main(["verify", str(out)]) == 0, capsys.readouterr().out


def test_a_run_never_writes_over_its_inputs(tmp_path, capsys):
    contract = case(tmp_path / "c")
    assert main(["run", str(contract), "--out", str(tmp_path / "c")]) == 2
    assert "holds an input of this run" in capsys.readouterr().err
    assert contract.is_file() and (tmp_path / "c" / "reoffending_small.csv").is_file()


def test_release_export_hides_a_small_cohort_and_the_total_that_would_reveal_it():
    from types import SimpleNamespace as NS

    from sop_eval.evaluation.release import release_record

    effects = {"a": NS(n_treated=5, n_comparison=40), "b": NS(n_treated=120, n_comparison=900)}
    pooled = NS(n_treated=125, n_comparison=940)
    head = pd.DataFrame([{"cohort": k, "status": "measured", "treated_per_100": 12.345, "reduction": 0.1234,
                          "payment": 10.0} for k in ("a", "b", "pooled")])
    ev = NS(headline=lambda: head, cohorts=[NS(name=k, effect=e) for k, e in effects.items()], pooled=pooled,
            data=NS(to_dict=lambda: {"n_treated": 125, "n_pool": 5000}), design="psm", outcome="events",
            parameters={"extract_date": "2020-01-01"}, schedule=NS(total=20.0, by_payer={"payer": 20.0}),
            contract=NS(name="c", version="1", currency="GBP", sha256="0" * 64))
    record, log = release_record(ev, DEFAULT_POLICY)
    rows = {r["cohort"]: r for r in record["cohorts"]}
    assert rows["a"]["n_treated"] == DEFAULT_POLICY.mask  # primary: 1-7
    assert rows["b"]["n_treated"] == DEFAULT_POLICY.mask  # secondary: the pooled total would give a away
    assert rows["pooled"]["n_treated"] == 125 and rows["b"]["n_comparison"] == 900
    assert rows["a"]["treated_per_100"] == 12.3 and rows["a"]["reduction_percent"] == 12.3
    assert [t.name for t in log] == ["release: people per cohort", "release: people in the data"]
