"""The report's words and tables say what the numbers are: interval direction, column headers, unit plurals,
area designs (no sample-size figure, exact area counts, periods of cohorts), the release file's level and a
command whose reader stops early."""

import json
import os
import re
import subprocess
import sys
from html import unescape
from pathlib import Path

import pandas as pd
import pytest

import sop_eval
from contract_copies import FIXTURES, copy_contract
from sop_eval.cli import main
from sop_eval.contract import load_contract
from sop_eval.effects.estimate import EffectEstimate
from sop_eval.report.certificate import effect_sentence
from sop_eval.report.disclosure import count_columns
from sop_eval.report.style import outcome_label, plural, styled


def _estimate(estimate: float, se: float, **kw) -> EffectEstimate:
    base = dict(treated_mean=0.3 + estimate, comparison_mean=0.3, n_treated=400, n_comparison=800, kind="count")
    return EffectEstimate(estimate=estimate, se=se, **{**base, **kw})


@pytest.mark.parametrize("sign", [-1, 1])
def test_an_interval_across_zero_names_its_larger_side_for_the_right_direction(sign):
    est = _estimate(sign * 0.03223, 0.0182)
    lo, hi = est.conf_int()
    fewer, more = -100 * lo, 100 * hi
    text = effect_sentence("cohort 1", est, "reconviction events")
    assert f"between {fewer:.1f} fewer and {more:.1f} more" in text
    assert (fewer > more) == (sign < 0)  # the side the estimate leans to is the wider one
    best = f"best estimate {abs(100 * est.estimate):.1f} {'fewer' if sign < 0 else 'more'}"
    assert best in text


def test_sample_size_needed_only_where_the_standard_error_scales_with_people():
    person = _estimate(-0.01, 0.02)
    assert "treated people would be needed" in person.describe()
    assert "people served would be needed" in effect_sentence("cohort 1", person, "events")
    area = _estimate(-0.0003, 0.0002, design="sdid", kind="continuous", details={"rate_per": 10000})
    did = _estimate(-0.5, 0.4, design="did", kind="continuous")
    for est in (area, did):
        assert not est.scales_with_n
        assert "would be needed" not in est.describe()
        assert "would be needed" not in effect_sentence("cohort 1", est, "events")
    assert area.describe("care admissions").startswith("care admissions per 10,000 population per period could")


@pytest.mark.parametrize(("unit", "label"), [
    ("care admission", "care admissions"),
    ("child-year in care", "child-years in care"),
    ("night of accommodation", "nights of accommodation"),
    ("reconviction events", "reconviction events"),
    ("day in custody", "days in custody"),
    ("person-day with support", "person-days with support"),
    ("bed-night at a hostel", "bed-nights at a hostel"),
    ("family", "families"),
    ("days in custody", "days in custody"),
])
def test_units_are_made_plural_at_their_head_noun(unit, label):
    assert plural(unit) == label


def test_outcome_label_uses_the_plural_rule(tmp_path):
    path = copy_contract("area_sdid.toml", tmp_path, FIXTURES / "area_panel.parquet",
                         **{'unit = "care admission"': 'unit = "child-year in care"'})
    assert outcome_label(load_contract(path), "entering_care") == "child-years in care"


def test_styled_refuses_two_columns_under_one_header():
    frame = pd.DataFrame({"ci_high": [1.0], "reduction to": [0.1]})
    with pytest.raises(ValueError, match="'to'"):
        styled(frame, "GBP", rename={"ci_high": "to", "reduction to": "to"})
    assert list(styled(frame, "GBP", rename={"ci_high": "difference to"}).columns) == ["difference to", "reduction to"]


def test_disclosure_applies_to_people_not_areas():
    assert count_columns("psm", ["n_treated", "n_comparison"]) == ["n_treated", "n_comparison"]
    for design in ("synthetic_control", "sdid", "did"):
        assert count_columns(design, ["n_treated", "n_comparison"]) == []


@pytest.fixture(scope="module")
def area_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("area")
    contract = copy_contract("area_sdid.toml", base / "c", FIXTURES / "area_panel.parquet",
                             **{"replications = 200": "replications = 30"})
    out = base / "out"
    assert main(["run", str(contract), "--out", str(out), "--quiet"]) == 0
    return out


def _table(html: str, caption: str) -> pd.DataFrame:
    body = html[html.index(caption):]
    body = body[:body.index("</table>")]
    cells = lambda tag, text: [unescape(re.sub(r"<[^>]+>", "", c)).strip()  # noqa: E731
                               for c in re.findall(rf"<{tag}[^>]*>(.*?)</{tag}>", text, flags=re.S)]
    head = cells("th", body[:body.index("</thead>")])
    rows = [cells("td", r) for r in re.findall(r"<tr>(.*?)</tr>", body[body.index("<tbody>"):], flags=re.S)]
    return pd.DataFrame(rows, columns=head)


def _number(text: str) -> float:
    return float(text.replace(",", "").rstrip("%"))


def test_area_effect_table_columns_hold_their_quantities(area_run):
    html = (area_run / "report.html").read_text()
    results = json.loads((area_run / "results.json").read_text())
    table = _table(html, "Effect estimates (Justice Data Lab layout)")
    assert len(set(table.columns)) == len(table.columns)
    effects = {k["name"]: k["effect"] for k in results["cohorts"] if k.get("effect")}
    assert len(effects) >= 2
    for name, e in effects.items():
        row = table[table["cohort"] == name].iloc[0]
        assert _number(row["difference"]) == pytest.approx(10000 * e["estimate"], abs=1e-3)
        assert _number(row["difference 95% CI from"]) == pytest.approx(10000 * e["ci_low"], abs=1e-3)
        assert _number(row["difference to"]) == pytest.approx(10000 * e["ci_high"], abs=1e-3)
        assert _number(row["reduction"]) == pytest.approx(-100 * e["relative"], abs=0.05)
        assert _number(row["reduction 95% CI from"]) == pytest.approx(-100 * e["relative_ci_high"], abs=0.05)
        assert _number(row["reduction to"]) == pytest.approx(-100 * e["relative_ci_low"], abs=0.05)
        # areas and population-periods are not person-level counts: shown exactly
        assert _number(row["population-periods"]) == e["n_treated"]
        assert _number(row["comparison group"]) == e["n_comparison"]
    assert any(e["n_treated"] % 5 or e["n_comparison"] % 5 for e in effects.values())  # rounding would show


def test_area_report_words(area_run):
    html = (area_run / "report.html").read_text()
    text = unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", re.sub(r"<style>.*?</style>", "", html, flags=re.S))))
    assert "would be needed" not in text
    assert re.search(r"years 1-2: care admissions per 10,000 population per period (was|could)", text)
    assert "years 1-2: entering_care" not in text
    assert "areas, area-periods and population-periods of this area-level design are shown exactly" in text
    cohorts = _table(html, "Cohorts")
    assert list(cohorts.columns) == ["cohort", "periods"]
    assert cohorts["periods"].tolist() == ["2021–2022", "2023–2024", "2025–2026"]
    log = (area_run / "run.log").read_text()
    assert "synthetic difference-in-differences fit, placebo draws" in log and "matching" not in log


def test_release_file_states_its_level_and_exact_area_counts(area_run):
    release = json.loads((area_run / "results.release.json").read_text())
    results = json.loads((area_run / "results.json").read_text())
    assert release["level"] == 0.95
    exact = {k["name"]: k["effect"]["n_treated"] for k in results["cohorts"] if k.get("effect")}
    for row in release["cohorts"]:
        if row["cohort"] in exact:
            assert row["n_treated"] == exact[row["cohort"]]
    assert "not counts of people" in release["release"]


def test_a_reader_that_stops_early_ends_the_command_quietly(area_run):
    code = ("import sys\nfrom sop_eval.cli import main\nsys.exit(main(sys.argv[1:]))")
    reader = subprocess.Popen([sys.executable, "-c", code, "verify", str(area_run)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env=_env())
    assert reader.stdout is not None
    reader.stdout.close()  # the reader goes away before anything is written (`| head -0`)
    _, err = reader.communicate(timeout=600)
    assert err.decode() == ""
    assert reader.returncode == 141


def _env() -> dict[str, str]:
    src = str(Path(sop_eval.__file__).resolve().parents[1])  # the package under test, in the child too
    return {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
