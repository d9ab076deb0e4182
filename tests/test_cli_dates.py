"""A day-first date column, as a UK spreadsheet exports it, through the command line: never read month-first."""

import json

import pandas as pd

from contract_copies import FIXTURES, copy_contract
from sop_eval.cli import main


def _uk_csv(tmp_path):
    frame = pd.read_csv(FIXTURES / "reoffending_small.csv")
    dates = pd.to_datetime(frame["release_date"])
    assert (dates.dt.day <= 12).any() and (dates.dt.day > 12).any()
    frame["release_date"] = dates.dt.strftime("%d/%m/%Y")
    path = tmp_path / "releases_uk.csv"
    frame.to_csv(path, index=False)
    return path


def test_day_first_dates_are_refused_until_the_contract_says_how_they_are_written(tmp_path, capsys):
    uk = _uk_csv(tmp_path)
    contract = copy_contract("demo.toml", tmp_path / "case", uk)
    assert main(["run", str(contract), "--out", str(tmp_path / "out")]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("sop-eval: error:")]
    assert len(errors) == 1 and all(word in errors[0] for word in ("release_date", "date_format", "[data]"))
    assert not (tmp_path / "out").exists()

    stated = copy_contract("demo.toml", tmp_path / "stated", uk,
                           **{"[data]\n": '[data]\ndate_format = "%d/%m/%Y"\n'})
    iso = copy_contract("demo.toml", tmp_path / "iso", FIXTURES / "reoffending_small.csv")
    assert main(["run", str(stated), "--out", str(tmp_path / "uk-out")]) == 0
    assert main(["run", str(iso), "--out", str(tmp_path / "iso-out")]) == 0
    uk_results = json.loads((tmp_path / "uk-out" / "results.json").read_text())
    iso_results = json.loads((tmp_path / "iso-out" / "results.json").read_text())
    paid = {k: v for k, v in uk_results["payments"].items() if k != "contract_sha256"}
    assert paid == {k: v for k, v in iso_results["payments"].items() if k != "contract_sha256"}
    assert [c["effect"] for c in uk_results["cohorts"]] == [c["effect"] for c in iso_results["cohorts"]]


def test_init_never_guesses_day_or_month_first(tmp_path, capsys):
    uk = _uk_csv(tmp_path)
    skeleton = tmp_path / "contract.toml"
    assert main(["init", "--data", str(uk), "--out", str(skeleton)]) == 0
    text = skeleton.read_text()
    assert "GUESS NOT MADE: 'release_date' is not written as ISO dates" in text and "date_format" in text
    assert "\nentry_start = " not in text  # no entry window built from guessed dates (only a commented example)
    capsys.readouterr()


def test_check_refuses_a_contract_without_extract_date(tmp_path, capsys):
    contract = copy_contract("demo.toml", tmp_path / "case", FIXTURES / "reoffending_small.csv")
    text = contract.read_text()
    lines = [line for line in text.splitlines() if not line.startswith("extract_date")]
    contract.write_text("\n".join(lines) + "\n")
    code = main(["check", str(contract)])
    out = capsys.readouterr()
    assert code == 1 and "extract_date is missing" in out.out + out.err
