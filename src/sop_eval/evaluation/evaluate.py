"""The one orchestrator: contract + data → the design's cohort effects → gates → payments.

:func:`evaluate` runs the evaluation a contract describes and returns an :class:`Evaluation`; the
design (``[evaluation] design``, one of :data:`sop_eval.designs.DESIGNS`) measures each contract
cohort, everything else is the same for every design. :func:`run` also writes ``results.json``,
``report.html``, ``figures/`` and ``audit.json`` into a directory, atomically.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from sop_eval.contract import Contract, load_contract
from sop_eval.data import COHORT_COLUMN, read_table
from sop_eval.designs import DESIGNS, CohortResult, Design
from sop_eval.effects.estimate import EffectEstimate
from sop_eval.effects.pooling import pool_cohorts
from sop_eval.errors import SopEvalError, SopEvalWarning
from sop_eval.evaluation.audit import write_audit
from sop_eval.evaluation.results import Evaluation
from sop_eval.finance import payment_risk
from sop_eval.outputs import atomic_directory, dumps
from sop_eval.payments import calculate
from sop_eval.report import evaluation_report
from sop_eval.report.disclosure import DEFAULT_POLICY
from sop_eval.seeds import DEFAULT_SEED

__all__ = ["COHORT_COLUMN", "DEFAULT_SEED", "evaluate", "run"]


# -- loading -------------------------------------------------------------------------------------------
def _load_data(contract: Contract, data: pd.DataFrame | None) -> tuple[pd.DataFrame, tuple[Path, ...]]:
    if data is not None:
        if not isinstance(data, pd.DataFrame):
            raise SopEvalError(f"data must be a pandas DataFrame, got {type(data).__name__}.")
        return data, ()
    settings = contract.data
    if settings is None or settings.participants is None:
        raise SopEvalError(
            f"contract '{contract.source}' has no [data] participants file; add `[data] participants = "
            "\"people.csv\"` (relative to the contract) or pass data= to evaluate()."
        )
    roles = settings.column_roles()
    frames, paths = [], []
    for path, treated in ((settings.participants, 1), (settings.comparison_pool, 0)):
        if path is None:
            continue
        frame = read_table(path)
        if settings.comparison_pool is not None and roles.treatment not in frame.columns:
            frame = frame.assign(**{roles.treatment: treated})
        frames.append(frame)
        paths.append(Path(path))
    combined = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    return combined, tuple(paths)


def _design(contract: Contract) -> Design:
    if contract.evaluation is None:
        raise SopEvalError(
            f"contract '{contract.source}' has no [evaluation] section; add one naming the design, the outcome and "
            "the matching settings (see fixtures/contracts/peterborough.toml)."
        )
    name = contract.evaluation.design
    if name not in DESIGNS:
        known = " and ".join(f"{d.title} ({d.name!r})" for d in DESIGNS.values())
        raise SopEvalError(
            f"contract '{contract.source}': [evaluation] design = {name!r}; the end-to-end evaluation runs {known}. "
            "Estimate other designs yourself (e.g. sop_eval.effects.versus_baseline) and pay them with "
            "`sop-eval pay --estimates`."
        )
    return DESIGNS[name]


# -- the evaluation --------------------------------------------------------------------------------------
def evaluate(
    contract: Contract | str | Path,
    data: pd.DataFrame | None = None,
    *,
    seed: int = DEFAULT_SEED,
    as_of: dt.date | str | None = None,
    progress: bool | None = None,
    risk_draws: int = 100_000,
) -> Evaluation:
    """Run the evaluation ``contract`` describes on ``data`` (default: the files its [data] section names).

    The contract's design (:data:`sop_eval.designs.DESIGNS`) validates the data and assigns the rows
    to contract cohorts; for every cohort it measures the effect on the contract's outcome (matched
    cohorts: once the cohort's outcome window has closed by the extract date, matching the people
    served to the comparison pool of the same cohort, with balance, baseline risk and the named
    standard error; staggered difference-in-differences: the cohort's adoption wave). The cohorts the
    contract pools are then pooled (all together, weights ``n_treated``), the gates applied and the
    payments computed ``as_of`` a date, with the payment risk over ``risk_draws`` draws. ``seed``
    fixes every random step (cohort ``i`` is measured with ``seed + i``).
    """
    if not isinstance(contract, Contract):
        contract = load_contract(contract)
    design = _design(contract)
    frame, inputs = _load_data(contract, data)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SopEvalWarning)
        prepared = design.prepare(contract, frame, seed=seed, as_of=as_of, risk_draws=risk_draws)
        bar = tqdm(contract.cohorts, desc="cohorts", unit="cohort", disable=_quiet(progress), leave=False)
        results = tuple(design.measure(cohort, prepared, seed=seed + index) for index, cohort in enumerate(bar))
        measured = [c.effect for c in results if c.effect is not None]
        pooled = _pooled_result(contract, prepared.outcome, results)
        schedule = calculate(contract, estimates=measured, as_of=as_of)
    found = _reissue(caught)
    return Evaluation(
        contract=contract, data=prepared.data, outcome=prepared.outcome, cohorts=results, pooled=pooled,
        schedule=schedule, payment_risk=_payment_risk(contract, measured, risk_draws, seed),
        parameters=prepared.parameters, inputs=inputs, design=design.name, fit=prepared.fit, warnings=found,
    )


def _reissue(caught: Sequence[warnings.WarningMessage]) -> tuple[str, ...]:
    """Issue the warnings recorded during the evaluation again for the caller (each message once, in order)
    and return the :class:`SopEvalWarning` messages, which the Evaluation keeps for its report."""
    found: list[str] = []
    for w in caught:
        message = str(w.message)
        if issubclass(w.category, SopEvalWarning):
            if message in found:
                continue
            found.append(message)
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return tuple(found)


def _pooled_result(contract: Contract, outcome: str, results: Sequence[CohortResult]) -> EffectEstimate | None:
    """The pooled result the contract's pooled gate is tested on (all its cohorts together), once every cohort
    it pools has been measured; None when the outcome has no pooled gate over two or more cohorts."""
    terms = next((o for o in contract.outcomes if o.name == outcome), None)
    if terms is None or terms.pooled is None or len(terms.pooled.cohorts) < 2:
        return None
    members = [c.effect for c in results if c.effect is not None and c.name in terms.pooled.cohorts]
    if len(members) != len(terms.pooled.cohorts):
        return None
    return pool_cohorts(members, label="pooled")


def _quiet(progress: bool | None) -> bool | None:
    # tqdm: None disables the bar when output is not a terminal (CI, notebooks, pipes)
    return None if progress is None else not progress


def _payment_risk(contract: Contract, estimates: Sequence[EffectEstimate], draws: int, seed: int) -> Any:
    if not estimates or draws <= 0:
        return None
    return payment_risk(contract, estimates, n_draws=draws, seed=seed)


# -- writing a run -------------------------------------------------------------------------------------
def run(
    contract: str | Path,
    out: str | Path,
    *,
    seed: int = DEFAULT_SEED,
    as_of: dt.date | str | None = None,
    progress: bool | None = None,
    risk_draws: int = 100_000,
    policy: Any = None,
) -> Evaluation:
    """Evaluate ``contract`` and write ``results.json``, ``report.html``, ``figures/`` and ``audit.json`` into ``out``.

    Everything is built in a temporary directory next to ``out`` and moved into place only when the
    whole run has succeeded, so an interrupted run leaves no half-written output.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise SopEvalError(f"output '{out}' exists and is not a directory; name a directory for the results.")
    contract_path = Path(contract).resolve()
    if not contract_path.is_file():
        raise SopEvalError(f"contract file '{contract}' does not exist; give the path of a contract .toml file.")
    policy = policy or DEFAULT_POLICY
    evaluation = evaluate(contract_path, seed=seed, as_of=as_of, progress=progress, risk_draws=risk_draws)
    results_text = dumps(evaluation.to_dict())
    html, figures, protected = evaluation_report.build_report(evaluation, policy)
    with atomic_directory(out) as staging:
        (staging / "results.json").write_text(results_text, encoding="utf-8")
        (staging / "report.html").write_text(html, encoding="utf-8")
        (staging / "figures").mkdir()
        for fig in figures:
            (staging / "figures" / fig.name).write_bytes(fig.png)
        write_audit(staging / "audit.json", contract_path, evaluation, results_text, protected, policy, out)
    return evaluation
