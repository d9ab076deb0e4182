import json
from pathlib import Path

from sop_eval.cli import main

FIX = Path(__file__).resolve().parents[1] / "src" / "sop_eval" / "fixtures"


def test_pay_prints_table_and_writes_json(tmp_path, capsys):
    out = tmp_path / "schedule.json"
    code = main(["pay", str(FIX / "contracts" / "peterborough.toml"),
                 "--estimates", str(FIX / "estimates" / "peterborough_example.json"), "--json", str(out)])
    assert code == 0
    text = capsys.readouterr().out
    assert "£500,000.00" in text and "contract cap" in text and "cohort 2" in text
    record = json.loads(out.read_text())
    assert record["total_payment"] == 500000.0
    assert record["payments_by_payer"] == {"Ministry of Justice": 400000.0, "lottery fund": 100000.0}
    assert len(record["lines"]) == 3
    assert not [p for p in tmp_path.iterdir() if p.name != "schedule.json"]  # no temporary file left


def test_pay_claims_and_as_of(capsys):
    code = main(["pay", str(FIX / "contracts" / "rate_card.toml"),
                 "--claims", str(FIX / "claims" / "rate_card_example.csv"), "--as-of", "2015-06-30"])
    assert code == 0
    text = capsys.readouterr().out
    assert "total payment: £6,000.00" in text and "not included" in text


def test_pay_errors_are_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('[contract]\nname = "x"\n')
    code = main(["pay", str(bad), "--estimates", str(FIX / "estimates" / "peterborough_example.json")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "contract.version is missing" in err
