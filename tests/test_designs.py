"""Evaluation designs as plug-ins, short reprs of the results, and the package's import layering."""

import ast
import json
import math
from pathlib import Path

import pandas as pd
import pytest

import sop_eval
from contract_copies import FIXTURES, copy_contract
from sop_eval.contract.vocabulary import EVALUATION_DESIGNS
from sop_eval.designs import DESIGNS, CohortResult, Prepared, register
from sop_eval.designs.psm import assign_cohorts
from sop_eval.effects.estimate import EffectEstimate
from sop_eval.evaluation import Evaluation, evaluate, run

SRC = Path(sop_eval.__file__).parent


def test_builtin_designs_are_registered_by_contract_name():
    assert set(DESIGNS) == {"psm", "did", "synthetic_control", "sdid"}
    for name, design in DESIGNS.items():
        assert design.name == name and design.title
        for hook in ("prepare", "measure", "report_sections", "methods"):
            assert callable(getattr(design, hook))


class RctDesign:
    """A randomised trial: the difference in mean outcome between the arms of each contract cohort."""

    name = "rct"
    title = "randomised trial"
    contract_keys = ("design", "outcome", "extract_date", "se", "level", "matching")
    data_columns = ("id", "treatment", "cohort", "index_date", "covariates", "outcomes", "counts", "allow_missing")

    def prepare(self, contract, frame, *, seed, as_of, risk_draws):
        roles = contract.data.column_roles()
        outcome = contract.evaluation.outcome
        cohorts = assign_cohorts(frame, roles, contract)
        state = {"frame": frame.assign(_cohort=cohorts), "treatment": roles.treatment}
        return Prepared(outcome=outcome, parameters={"seed": seed, "outcome": outcome, "design": "rct"}, state=state)

    def measure(self, cohort, prepared, *, seed):
        frame, t = prepared.state["frame"], prepared.state["treatment"]
        rows = frame[frame["_cohort"] == cohort.name]
        y1 = rows.loc[rows[t] == 1, prepared.outcome]
        y0 = rows.loc[rows[t] == 0, prepared.outcome]
        effect = EffectEstimate(
            estimate=y1.mean() - y0.mean(), se=math.sqrt(y1.var() / len(y1) + y0.var() / len(y0)),
            treated_mean=y1.mean(), comparison_mean=y0.mean(), n_treated=len(y1), n_comparison=len(y0),
            outcome=prepared.outcome, kind="count", design="rct", label=cohort.name,
        )
        return CohortResult(cohort.name, "measured", None, len(y1), len(y0), effect=effect, design="rct")

    def report_sections(self, evaluation, kit):
        arms = pd.DataFrame([{"cohort": c.name, "treated": c.n_treated, "control": c.n_pool}
                             for c in evaluation.cohorts])
        shown = kit.protect(arms, ["treated", "control"], name="trial arms")
        return [kit.section("Randomisation", paragraphs=("People were allocated to the service at random.",),
                            tables=(("Trial arms", shown.table),))]

    def methods(self, evaluation, *, significance, policy):
        return (f"Effects: the difference in mean outcome between the arms. {significance}.",
                f"Disclosure control: {policy}.")


@pytest.fixture
def rct_design():
    design = register(RctDesign())
    yield design
    del DESIGNS["rct"]
    del EVALUATION_DESIGNS["rct"]


def test_a_new_design_is_one_class_and_a_register_line(rct_design, tmp_path):
    contract = copy_contract("demo.toml", tmp_path, FIXTURES / "reoffending_small.parquet",
                             **{'[evaluation]\ndesign = "psm"': '[evaluation]\ndesign = "rct"',
                                'design = "psm"\nmetric': 'design = "rct"\nmetric'})
    evaluation = run(contract, tmp_path / "out", risk_draws=0)
    assert evaluation.design == "rct" and evaluation.fit is None and evaluation.did is None
    assert [c.effect.design for c in evaluation.cohorts] == ["rct", "rct"]
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["design"] == "rct" and results["parameters"]["design"] == "rct"
    html = (tmp_path / "out" / "report.html").read_text()
    assert "Randomisation" in html and "difference in mean outcome between the arms" in html
    assert "Balance and baseline risk" not in html
    audit = json.loads((tmp_path / "out" / "audit.json").read_text())
    assert "trial arms" in [t["table"] for t in audit["disclosure"]["tables"]]


def test_a_design_name_cannot_be_taken_twice(rct_design):
    with pytest.raises(sop_eval.SopEvalError, match="already registered"):
        register(RctDesign())


@pytest.fixture(scope="module")
def small_evaluation(tmp_path_factory):
    contract = copy_contract("demo.toml", tmp_path_factory.mktemp("repr"), FIXTURES / "reoffending_small.parquet")
    return evaluate(contract, risk_draws=0)


def test_evaluation_repr_is_a_few_lines_and_html_shows_the_headline(small_evaluation):
    ev = small_evaluation
    assert isinstance(ev, Evaluation) and sop_eval.Evaluation is Evaluation
    text = repr(ev)
    assert len(text.splitlines()) <= 4 and len(text) < 400
    assert "design psm" in text and "cohorts: 2 (2 measured)" in text
    assert f"total due: {ev.contract.currency} {float(ev.schedule.total):,.2f}" in text
    html = ev._repr_html_()
    assert html.count("<table") == 1 and "cohort 1" in html and "total due" in html
    for cohort in ev.cohorts:
        assert len(repr(cohort)) < 200 and cohort.name in repr(cohort)


def test_matched_cohort_repr_is_short_like_matchit(small_evaluation):
    matched = small_evaluation.cohorts[0].matched
    text = repr(matched)
    assert len(text.splitlines()) == 4 and len(text) < 500
    replacement = "with" if matched.replace else "without"
    assert text.startswith(f"<MatchedCohort: 1:{matched.ratio} nearest neighbour matching {replacement} replacement")
    assert "estimand ATT" in text and f"caliper: {matched.caliper:.4g} in distance units" in text
    treated = int(matched.treated.sum())
    assert f"treated: {treated} ({matched.n_matched_treated} matched)" in text
    assert f"control: {len(matched.data) - treated} ({matched.n_matched_controls} matched)" in text


# -- layering ------------------------------------------------------------------------------------------
def _imports():
    """(importing package, imported package, file, line, inside a function) for every sop_eval import."""
    out = []
    for path in SRC.rglob("*.py"):
        module = ".".join(path.relative_to(SRC.parent).with_suffix("").parts)
        package = module.split(".")[1] if module.count(".") else None
        tree = ast.parse(path.read_text(encoding="utf-8"))
        functions = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
        nested = {id(n) for f in functions for n in ast.walk(f) if n is not f}
        checking = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
                    and ast.unparse(node.test) == "TYPE_CHECKING" for n in ast.walk(node)}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            if id(node) in checking:
                continue
            for name in names:
                parts = name.split(".")
                if parts[0] != "sop_eval" or len(parts) < 2:
                    continue
                if (SRC / parts[1]).is_dir() or (SRC / f"{parts[1]}.py").is_file():
                    out.append((package, parts[1], path.relative_to(SRC), node.lineno, id(node) in nested, name))
    return out


def test_no_cycles_between_packages():
    edges = {}
    for a, b, *_ in _imports():
        if a is not None and a != b:
            edges.setdefault(a, set()).add(b)

    def reaches(start, goal, seen=()):
        return any(n == goal or (n not in seen and reaches(n, goal, (*seen, n))) for n in edges.get(start, ()))

    cycles = sorted(a for a in edges if reaches(a, a))
    assert cycles == [], f"packages on an import cycle: {cycles}"


def test_designs_and_report_import_downwards_only():
    above_designs = {"finance", "evaluation", "pipeline", "audit", "report", "cli"}
    for a, b, path, line, _, name in _imports():
        upward = b in above_designs or (b == "payments" and not name.startswith("sop_eval.payments.contract"))
        if a == "designs" and upward:
            pytest.fail(f"{path}:{line} imports {name}, above the designs")
        if a == "report" and b in {"evaluation", "pipeline", "audit", "cli"}:
            pytest.fail(f"{path}:{line} imports {name}; the report is given the evaluation, it does not import it")


def test_no_sop_eval_imports_hidden_in_functions_to_dodge_cycles():
    # the cli imports the evaluation when a subcommand runs (fast --help); MatchedCohort.effect reaches up a layer
    allowed = {Path("cli.py"), Path("cohorts/matching.py")}
    hidden = [f"{path}:{line} {name}" for _, _, path, line, inside, name in _imports()
              if inside and path not in allowed]
    assert hidden == []
