"""Hostile inputs as a user meets them through the command line: row order, warnings that bear on money,
disclosure control, one-line failures with exit status 2, and a covariate with thousands of categories."""

import json
import re
import shutil
import time

import numpy as np
import pandas as pd
import pytest

from contract_copies import FIXTURES, copy_contract
from sop_eval.cli import main
from sop_eval.report.disclosure import DEFAULT_POLICY, protect_text, safe_bin_edges
from sop_eval.stats.design import collinear_terms

SMALL = FIXTURES / "reoffending_small.csv"
PAY_CONTRACT = FIXTURES / "contracts" / "peterborough.toml"
PAY_ESTIMATES = FIXTURES / "estimates" / "peterborough_example.json"


def small() -> pd.DataFrame:
    return pd.read_csv(SMALL)


def contract_with(tmp_path, frame: pd.DataFrame | None = None, name: str = "people.csv", **replace: str):
    """The demo contract in ``tmp_path`` over ``frame`` (default: the small fixture) written as ``name``."""
    source = tmp_path / "source"
    source.mkdir(parents=True, exist_ok=True)
    data = source / name
    frame = small() if frame is None else frame
    if name.endswith(".parquet"):
        frame.to_parquet(data, index=False)
    else:
        frame.to_csv(data, index=False)
    return copy_contract("demo.toml", tmp_path, data, **replace)


def failure(capsys, *argv: str) -> str:
    """Run the command, expect exit 2, and return its one error line (the last on stderr, after any warnings
    and stage messages)."""
    code = main(list(argv))
    err = capsys.readouterr().err
    assert code == 2, err
    assert all(line.startswith("sop-eval: ") for line in err.strip().splitlines()), err
    lines = [line for line in err.strip().splitlines() if line.startswith("sop-eval: error: ")]
    assert len(lines) == 1, err
    assert err.strip().splitlines()[-1] == lines[0]
    assert "Traceback" not in err
    return lines[0]


def report_warnings(out) -> str:
    html = (out / "report.html").read_text()
    start = html.index("<h2>Warnings</h2>")
    assert start < html.index("<h2>Data and cohort flow</h2>")  # near the top, after the certificate and contract
    return html[start:html.index("</section>", start)].replace("&#39;", "'")


# -- 1. row order never changes a result ------------------------------------------------------------------
def test_shuffled_rows_give_byte_identical_results(tmp_path, capsys):
    contract = contract_with(tmp_path / "c")
    assert main(["run", str(contract), "--out", str(tmp_path / "a")]) == 0
    shuffled = small().sample(frac=1.0, random_state=7)
    shuffled.to_csv(tmp_path / "c" / "people.csv", index=False)
    assert not shuffled["person_id"].equals(small()["person_id"])
    assert main(["run", str(contract), "--out", str(tmp_path / "b")]) == 0
    first = (tmp_path / "a" / "results.json").read_bytes()
    assert first == (tmp_path / "b" / "results.json").read_bytes()
    assert "rows sorted by 'person_id'" in first.decode()


def test_ties_decide_many_matches_the_run_says_so_and_ties_true_is_accepted(tmp_path, capsys):
    covariates = 'covariates = ["drug_misuse", "no_fixed_abode"]\n'
    contract = contract_with(tmp_path / "c", **{
        'covariates = ["age", "prior_convictions", "prior_custodial", "offence_group", "sentence_months",\n'
        '              "drug_misuse", "no_fixed_abode"]\n': covariates,
        "caliper = 0.2 ": "# caliper = 0.2 "})
    assert main(["run", str(contract), "--out", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    tie_lines = [line for line in err.splitlines() if "exactly as near" in line]
    assert tie_lines and all(line.startswith("sop-eval: warning: ") for line in tie_lines)
    assert "ties = true" in tie_lines[0]
    assert "ties = true" in report_warnings(tmp_path / "out")
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["cohorts"][0]["details"]["tie_share"] > 0.1

    text = contract.read_text().replace('caliper_scale = "logit"', 'caliper_scale = "logit"\nties = true')
    contract.write_text(text)
    assert main(["run", str(contract), "--out", str(tmp_path / "kept")]) == 0
    assert "exactly as near" not in capsys.readouterr().err
    results = json.loads((tmp_path / "kept" / "results.json").read_text())
    assert results["parameters"]["matching"]["ties"] is True


def test_ties_without_replacement_is_one_line_naming_the_key(tmp_path, capsys):
    contract = contract_with(tmp_path, **{"replace = true": "replace = false\nties = true"})
    line = failure(capsys, "run", str(contract), "--out", str(tmp_path / "out"))
    assert "evaluation.matching.ties" in line and "replace = true" in line


# -- 2. nothing silent that changes money -----------------------------------------------------------------
def test_many_people_left_out_warn_on_the_command_line_and_in_the_report(tmp_path, capsys):
    contract = contract_with(tmp_path / "c", **{"caliper = 0.2 ": "caliper = 0.005 "})
    out = tmp_path / "out"
    assert main(["run", str(contract), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    dropped = [line for line in err.splitlines() if "left out of the match" in line]
    assert dropped and all(line.startswith("sop-eval: warning: cohort ") for line in dropped)
    shown = report_warnings(out)
    assert "left out of the match" in shown
    results = json.loads((out / "results.json").read_text())
    assert any("left out of the match" in w for w in results["warnings"])


def test_near_separation_is_said_on_the_command_line_and_in_the_report(tmp_path, capsys):
    frame = small()
    rng = np.random.default_rng(5)
    frame["risk_score"] = np.where(frame["treated"] == 1, rng.normal(3.5, 1, len(frame)), rng.normal(0, 1, len(frame)))
    contract = contract_with(tmp_path / "c", frame,
                             **{'"drug_misuse", "no_fixed_abode"]': '"drug_misuse", "no_fixed_abode", "risk_score"]'})
    out = tmp_path / "out"
    assert main(["run", str(contract), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    near = [line for line in err.splitlines() if "nearly separate" in line]
    assert near and all(line.startswith("sop-eval: warning: cohort ") for line in near)
    assert "nearly separate" in report_warnings(out)


def _messages(text: str, prefix: str) -> list[str]:
    return [line.removeprefix(prefix) for line in text.splitlines() if line.startswith(prefix)]


def test_check_predicts_the_separation_a_run_refuses(tmp_path, capsys):
    frame = small()
    frame["referral_score"] = frame["treated"] * 10 + frame["age"] / 100  # served people all score 10 or more
    contract = contract_with(tmp_path / "c", frame, **{
        '"drug_misuse", "no_fixed_abode"]': '"drug_misuse", "no_fixed_abode", "referral_score"]'})
    assert main(["check", str(contract)]) == 1
    problems = _messages(capsys.readouterr().out, "problem: ")
    assert len(problems) == 2 and all("perfect separation" in p and "'referral_score'" in p for p in problems)
    assert main(["run", str(contract), "--out", str(tmp_path / "out")]) == 2
    errors = _messages(capsys.readouterr().err, "sop-eval: error: ")
    assert errors == [problems[0]] and errors[0].startswith("cohort 'cohort 1': perfect separation")
    assert not (tmp_path / "out").exists()


def test_a_strong_but_imperfect_binary_covariate_is_not_called_separation(tmp_path, capsys):
    frame = small()
    u = np.random.default_rng(0).random(len(frame))
    frame["hub_referral"] = np.where(frame["treated"] == 1, u < 0.98, u < 0.01).astype(int)
    for _, cohort in frame.groupby("cohort"):  # both groups have both values in each cohort
        assert set(pd.crosstab(cohort["treated"], cohort["hub_referral"]).to_numpy().ravel() > 0) == {True}
    contract = contract_with(tmp_path / "c", frame, **{
        '"drug_misuse", "no_fixed_abode"]': '"drug_misuse", "no_fixed_abode", "hub_referral"]'})
    assert main(["check", str(contract)]) == 0
    assert "separation" not in capsys.readouterr().out
    assert main(["run", str(contract), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    assert "perfect separation" not in capsys.readouterr().err


def test_check_warns_of_near_separation_as_the_run_does(tmp_path, capsys):
    frame = small()
    rng = np.random.default_rng(5)
    frame["risk_score"] = np.where(frame["treated"] == 1, rng.normal(3.5, 1, len(frame)), rng.normal(0, 1, len(frame)))
    contract = contract_with(tmp_path / "c", frame,
                             **{'"drug_misuse", "no_fixed_abode"]': '"drug_misuse", "no_fixed_abode", "risk_score"]'})
    assert main(["check", str(contract)]) == 0
    checked = [w for w in _messages(capsys.readouterr().out, "warning: ") if "nearly separate" in w]
    assert main(["run", str(contract), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    ran = [w for w in _messages(capsys.readouterr().err, "sop-eval: warning: ") if "nearly separate" in w]
    assert checked and checked == ran


def test_overlapping_entry_windows_need_a_rule(tmp_path, capsys):
    contract = contract_with(tmp_path / "c", **{"entry_start = 2012-07-09": "entry_start = 2012-06-01"})
    line = failure(capsys, "run", str(contract), "--out", str(tmp_path / "out"))
    assert "overlap" in line and "[timing]" in line and "'cohort 1'" in line and "'cohort 2'" in line

    contract.write_text(contract.read_text().replace("analysis_months = 3", 'analysis_months = 3\noverlap = "later"'))
    line = failure(capsys, "run", str(contract), "--out", str(tmp_path / "out"))
    assert "cohort column 'cohort'" in line and "the windows decide" in line and "[data.columns]" in line
    # the windows alone decide once the data's own cohort labels are no longer declared
    contract.write_text(contract.read_text().replace('overlap = "later"\n', "").replace('cohort = "cohort"\n', ""))

    contract.write_text(contract.read_text().replace("analysis_months = 3", 'analysis_months = 3\noverlap = "earlier"'))
    assert main(["run", str(contract), "--out", str(tmp_path / "earlier")]) == 0
    contract.write_text(contract.read_text().replace('overlap = "earlier"', 'overlap = "later"'))
    assert main(["run", str(contract), "--out", str(tmp_path / "later")]) == 0
    capsys.readouterr()
    sizes = {}
    for rule in ("earlier", "later"):
        results = json.loads((tmp_path / rule / "results.json").read_text())
        sizes[rule] = [c["flow"]["eligible"] for c in results["cohorts"]]
    frame = small()
    days = pd.to_datetime(frame["release_date"])
    shared = int(((days >= "2012-06-01") & (days <= "2012-07-08") & (frame["treated"] == 1)).sum())
    assert shared > 0
    assert sizes["earlier"][0] - sizes["later"][0] == shared
    assert sizes["later"][1] - sizes["earlier"][1] == shared


def test_extract_date_after_today_is_refused(tmp_path, capsys):
    contract = contract_with(tmp_path, **{"extract_date = 2016-02-09": "extract_date = 2999-01-01"})
    line = failure(capsys, "run", str(contract), "--out", str(tmp_path / "out"))
    assert "evaluation.extract_date = 2999-01-01" in line and "after today" in line


def test_one_person_served_is_too_few_not_perfect_separation(tmp_path, capsys):
    frame = small()
    second = frame.index[(frame["treated"] == 1) & (frame["cohort"] == 2)]
    frame = frame.drop(index=second[1:])
    contract = contract_with(tmp_path, frame, **{"level = 0.95": "level = 0.95\nallow_small = true"})
    line = failure(capsys, "run", str(contract), "--out", str(tmp_path / "out"))
    assert "separation" not in line
    assert "too few people served (1)" in line and "'cohort 2'" in line


def test_missing_headline_outcome_is_one_clear_error(tmp_path, capsys):
    frame = small()
    frame.loc[frame.index[[3, 50, 900]], "reconviction_events"] = np.nan
    contract = contract_with(tmp_path, frame)
    line = failure(capsys, "run", str(contract), "--out", str(tmp_path / "out"))
    assert "outcome column 'reconviction_events'" in line and "3 missing value(s)" in line
    assert "drop those rows" in line.lower()


# -- 3. disclosure everywhere a person could be counted ---------------------------------------------------
def test_validation_messages_in_the_report_pass_the_disclosure_policy(tmp_path, capsys):
    frame = small()
    frame.loc[frame.index[[3, 50, 900]], "reconvicted"] = np.nan
    out = tmp_path / "out"
    assert main(["run", str(contract_with(tmp_path / "c", frame)), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "outcome 'reconvicted' has 3 missing value(s) (rows" in err  # the analyst sees the rows
    shown = report_warnings(out)
    assert "outcome 'reconvicted' has fewer than 8 missing value(s)" in shown
    assert "rows 3" not in shown and "(rows" not in shown


def test_protect_text_rounds_counts_and_recomputes_shares():
    text = "cohort 'cohort 2': 13 of 118 people served (11.0%) were left out of the match (13 people: caliper)"
    shown = protect_text(text, DEFAULT_POLICY)
    assert shown == ("cohort 'cohort 2': 15 of 120 people served (12.5%) were left out of the match "
                     "(15 people: caliper)")
    small_share = protect_text("5 of 118 people served (4.2%) were left out", DEFAULT_POLICY)
    assert small_share == "fewer than 8 of 120 people served were left out"
    dated = protect_text("the window closes 2016-02-09 after 12 months; size = 1000", DEFAULT_POLICY)
    assert dated == "the window closes 2016-02-09 after 12 months; size = 1000"
    assert DEFAULT_POLICY.share(13, 118) == "12.5%"
    assert "suppressed" in DEFAULT_POLICY.share(3, 118)


def test_overlap_histogram_bars_never_show_one_to_seven_people():
    rng = np.random.default_rng(3)
    treated = rng.beta(2, 5, size=40)
    control = np.r_[rng.beta(2, 2, size=300), [0.99, 0.995]]
    edges = safe_bin_edges([treated, control], np.linspace(0, 1, 31))
    for sample in (treated, control):
        counts = np.histogram(sample, bins=edges)[0]
        assert not ((counts >= 1) & (counts <= DEFAULT_POLICY.threshold)).any(), counts
    assert edges[0] == 0 and edges[-1] == 1


def test_overlap_plot_of_a_real_match_is_disclosure_safe():
    from matplotlib.figure import Figure

    from sop_eval import match
    from sop_eval.report.balance_plots import propensity_overlap

    frame = small()
    m = match(frame, "treated", ["age", "prior_convictions", "drug_misuse"], ratio=1, caliper=0.2)
    ax = Figure().subplots()
    propensity_overlap(m, ax=ax, bins=40)
    score, treat, w = m.propensity.to_numpy(), m.treated.to_numpy(), m.weights.to_numpy()
    bars = [p for p in ax.patches if type(p).__name__ == "Rectangle"]
    edges = np.unique(np.r_[[b.get_x() for b in bars], [b.get_x() + b.get_width() for b in bars]])
    for sample in (score[treat], score[~treat], score[treat & (w > 0)], score[~treat & (w > 0)]):
        counts = np.histogram(sample, bins=edges)[0]
        assert not ((counts >= 1) & (counts <= 7)).any(), counts


def test_errors_never_print_identifier_values(tmp_path, capsys):
    contract = contract_with(tmp_path / "a", **{'treatment = "treated"': 'treatment = "person_id"'})
    line = failure(capsys, "run", str(contract), "--out", str(tmp_path / "out"))
    assert "person_id" in line and "P0" not in line
    contract = contract_with(tmp_path / "b", **{'index_date = "release_date"': 'index_date = "person_id"'})
    line = failure(capsys, "run", str(contract), "--out", str(tmp_path / "out"))
    assert "person_id" in line and "P0" not in line and "withheld" in line


def test_cohort_names_with_escapes_and_dollars_print_escaped_and_draw(tmp_path, capsys):
    hostile = '"cohort \\u001b[31m1 $x^2$"'
    contract = contract_with(tmp_path / "c", **{'"cohort 1"': hostile})
    out = tmp_path / "out"
    assert main(["run", str(contract), "--out", str(out)]) == 0
    printed = capsys.readouterr()
    assert "\x1b" not in printed.out and "\x1b" not in printed.err
    assert "cohort \\x1b[31m1 $x^2$" in printed.out
    assert (out / "figures").is_dir() and any((out / "figures").iterdir())


# -- 4. every failure is one line and exit 2 --------------------------------------------------------------
def test_a_text_column_as_the_outcome(tmp_path, capsys):
    contract = contract_with(tmp_path, **{'outcome = "reconviction_events"': 'outcome = "prison"'})
    line = failure(capsys, "run", str(contract), "--out", str(tmp_path / "out"))
    assert "'prison'" in line and "text" in line


def test_time_zones_in_parquet_and_csv_dates(tmp_path, capsys):
    frame = small()
    frame["release_date"] = pd.to_datetime(frame["release_date"]).dt.tz_localize("Europe/London")
    contract = contract_with(tmp_path / "p", frame, name="people.parquet")
    line = failure(capsys, "run", str(contract), "--out", str(tmp_path / "out"))
    assert "'release_date'" in line and "time zone" in line
    frame = small()
    frame["release_date"] = frame["release_date"] + "T00:00:00+01:00"
    contract = contract_with(tmp_path / "c", frame)
    line = failure(capsys, "run", str(contract), "--out", str(tmp_path / "out"))
    assert "'release_date'" in line and "time-zone" in line


def test_a_nested_parquet_column_as_a_covariate(tmp_path, capsys):
    frame = small()
    frame["history"] = [[1, 2]] * len(frame)
    contract = contract_with(tmp_path, frame, name="people.parquet",
                             **{'"drug_misuse", "no_fixed_abode"]': '"drug_misuse", "no_fixed_abode", "history"]'})
    line = failure(capsys, "run", str(contract), "--out", str(tmp_path / "out"))
    assert "'history'" in line and "nested" in line


def test_contract_encodings(tmp_path, capsys):
    text = PAY_CONTRACT.read_text(encoding="utf-8")
    latin = tmp_path / "latin.toml"
    latin.write_bytes(text.replace('name = "', 'name = "Caf\u00e9 ', 1).encode("latin-1"))
    line = failure(capsys, "pay", str(latin), "--estimates", str(PAY_ESTIMATES))
    assert "latin.toml" in line and "not UTF-8" in line and "TOML" not in line
    bom = tmp_path / "bom.toml"
    bom.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    assert main(["pay", str(bom), "--estimates", str(PAY_ESTIMATES)]) == 0


@pytest.mark.parametrize(("old", "new", "named"), [
    ("follow_up_months = 12", "follow_up_months = 100000", "timing.follow_up_months = 100000"),
    ("payment_terms_days = 30", "payment_terms_days = 1e8", "contract.payment_terms_days"),
    ("payment_terms_days = 30", "payment_terms_days = 100000000", "contract.payment_terms_days = 100000000"),
    ("entry_end = 2014-05-08", "entry_end = 9999-12-01", "cohorts[1].entry_end = 9999-12-01"),
])
def test_numbers_that_would_overflow_dates(tmp_path, capsys, old, new, named):
    contract = contract_with(tmp_path, **{old: new})
    line = failure(capsys, "run", str(contract), "--out", str(tmp_path / "out"))
    assert named in line


def test_a_negative_seed(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["run", "contract.toml", "--out", str(tmp_path / "out"), "--seed", "-1"])
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("sop-eval: error: ") and "--seed -1" in err[0]


def test_pay_json_onto_a_directory_or_its_own_input(tmp_path, capsys):
    line = failure(capsys, "pay", str(PAY_CONTRACT), "--estimates", str(PAY_ESTIMATES), "--json", str(tmp_path))
    assert "is a directory" in line
    estimates = tmp_path / "estimates.json"
    shutil.copy(PAY_ESTIMATES, estimates)
    before = estimates.read_bytes()
    line = failure(capsys, "pay", str(PAY_CONTRACT), "--estimates", str(estimates), "--json", str(estimates))
    assert "overwrite" in line
    assert estimates.read_bytes() == before


def test_an_output_directory_that_cannot_be_written(tmp_path, capsys):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file")
    contract = contract_with(tmp_path / "c")
    line = failure(capsys, "run", str(contract), "--out", str(blocker / "out"))
    assert "not-a-directory" in line


def test_a_read_only_output_directory(tmp_path, monkeypatch, capsys):
    import sop_eval.evaluation

    out = tmp_path / "read-only" / "out"

    def refused(contract, out, **kwargs):
        raise PermissionError(13, "Permission denied", str(out))

    monkeypatch.setattr(sop_eval.evaluation, "run", refused)
    line = failure(capsys, "run", "contract.toml", "--out", str(out))
    assert str(out) in line and "Permission denied" in line and "writable" in line


def test_unexpected_exceptions_are_one_line_unless_debugging(monkeypatch, capsys):
    import sop_eval.cli as cli

    def broken(args):
        raise RuntimeError("something\ninternal")

    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    parser._subparsers._group_actions[0].choices["verify"].set_defaults(handler=broken)
    assert cli.main(["verify", "somewhere"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "RuntimeError" in err[0] and "bug" in err[0] and "SOP_EVAL_DEBUG=1" in err[0]
    monkeypatch.setenv("SOP_EVAL_DEBUG", "1")
    with pytest.raises(RuntimeError):
        cli.main(["verify", "somewhere"])


# -- 5. a covariate with thousands of categories ----------------------------------------------------------
def test_five_thousand_categories_are_refused_in_seconds(tmp_path, capsys):
    rng = np.random.default_rng(0)
    base = small()
    frame = base.loc[rng.integers(0, len(base), size=20_000)].reset_index(drop=True)
    frame["person_id"] = [f"Q{i:06d}" for i in range(len(frame))]
    frame["area"] = [f"area {i % 5000}" for i in range(len(frame))]
    contract = contract_with(tmp_path, frame, **{
        '"drug_misuse", "no_fixed_abode"]': '"drug_misuse", "no_fixed_abode", "area"]', "size = 1000": "size = 1"})
    started = time.perf_counter()
    line = failure(capsys, "run", str(contract), "--out", str(tmp_path / "out"))
    assert time.perf_counter() - started < 60
    assert re.search(r"covariate 'area' has \d{4} categories", line) and "Group its rare categories" in line


def test_collinearity_check_is_one_factorisation():
    rng = np.random.default_rng(1)
    n, p = 4000, 800
    x = rng.normal(size=(n, p))
    x[:, 500] = x[:, 3] - 2 * x[:, 7]
    X = np.column_stack([np.ones(n), x])
    gram = X.T @ X / n
    started = time.perf_counter()
    assert collinear_terms(gram, [f"x{j}" for j in range(p)]) == ["x500"]
    assert time.perf_counter() - started < 10
