"""The one orchestrator: contract + data → the design's cohort effects → gates → payments.

:func:`evaluate` runs the evaluation a contract describes and returns an :class:`Evaluation`; the
design (``[evaluation] design``, one of :data:`sop_eval.designs.DESIGNS`) measures each contract
cohort, everything else is the same for every design. :func:`run` also writes ``results.json``,
``results.release.json``, ``report.html``, ``figures/`` and ``audit.json`` into a directory, atomically.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import shutil
import warnings
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from sop_eval.contract import Contract, load_contract
from sop_eval.data import COHORT_COLUMN, load_contract_data
from sop_eval.designs import DESIGNS, CohortResult, Design
from sop_eval.designs.base import PoolsCohorts, Prepared
from sop_eval.effects.estimate import EffectEstimate
from sop_eval.effects.pooling import pool_cohorts
from sop_eval.errors import SopEvalError, SopEvalWarning
from sop_eval.evaluation.audit import utc_now, write_audit
from sop_eval.evaluation.release import NOT_FOR_RELEASE, release_record
from sop_eval.evaluation.results import Evaluation
from sop_eval.finance import payment_risk
from sop_eval.outputs import atomic_directory, dumps
from sop_eval.payments import calculate
from sop_eval.report import evaluation_report
from sop_eval.report.disclosure import DEFAULT_POLICY, DisclosurePolicy, ProtectedTable
from sop_eval.report.pdf import PDF, render_pdf
from sop_eval.seeds import DEFAULT_SEED

__all__ = ["COHORT_COLUMN", "DEFAULT_SEED", "bundle_files", "evaluate", "results_record", "run", "with_extract_date"]


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
    contract = with_extract_date(contract, as_of)
    frame, inputs = load_contract_data(contract, data)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SopEvalWarning)
        prepared = design.prepare(contract, frame, seed=seed, as_of=as_of, risk_draws=risk_draws)
        bar = tqdm(contract.cohorts, desc="cohorts", unit="cohort", disable=_quiet(progress), leave=False)
        results = tuple(design.measure(cohort, prepared, seed=seed + index) for index, cohort in enumerate(bar))
        measured = [c.effect for c in results if c.effect is not None]
        pooled = _pooled_result(contract, design, prepared, results)
        together = [pooled] if pooled is not None else []
        pending = {c.name: c.first_measurable or f"on {c.window_closes}" for c in results
                   if c.status == "not yet measurable"}
        schedule = calculate(contract, estimates=measured or None, as_of=as_of, pooled=together,
                             pending=pending)  # nothing measured yet: no lines
    found = _reissue(caught)
    return Evaluation(
        contract=contract, data=prepared.data, outcome=prepared.outcome, cohorts=results, pooled=pooled,
        schedule=schedule, payment_risk=_payment_risk(contract, measured, together, risk_draws, seed),
        parameters=prepared.parameters, inputs=inputs, design=design.name, fit=prepared.fit, warnings=found,
    )


def with_extract_date(contract: Contract, as_of: dt.date | str | None) -> Contract:
    """``contract`` with its data extract date settled: a design that pays on measured outcomes (one that
    reads ``[evaluation] extract_date``) needs it; without the key the ``as_of`` date is taken as the
    extract date, and without either the evaluation is refused (never guessed)."""
    ev = contract.evaluation
    design = DESIGNS.get(ev.design) if ev is not None else None
    if ev is None or design is None or "extract_date" not in design.contract_keys or ev.extract_date is not None:
        return contract
    if as_of is None:
        raise SopEvalError(
            f"contract '{Path(contract.source).name}': [evaluation] extract_date is missing; a {design.title} "
            "evaluation pays only for cohorts whose outcome window closed by the date the data were extracted. "
            "Add `extract_date = YYYY-MM-DD` to [evaluation], or pass --as-of YYYY-MM-DD (as_of= in Python)."
        )
    try:
        day = as_of if isinstance(as_of, dt.date) else dt.date.fromisoformat(str(as_of))
    except ValueError:
        raise SopEvalError(f"--as-of {as_of!r} is not a date; give it as YYYY-MM-DD.") from None
    return replace(contract, evaluation=replace(ev, extract_date=day))


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


def _pooled_result(contract: Contract, design: Design, prepared: Prepared,
                   results: Sequence[CohortResult]) -> EffectEstimate | None:
    """The pooled result the contract's pooled gate is tested on (all its cohorts together), once every cohort
    it pools has been measured; None when the outcome has no pooled gate over two or more cohorts. A design
    whose cohorts share one fit pools them itself (:class:`~sop_eval.designs.base.PoolsCohorts`)."""
    terms = next((o for o in contract.outcomes if o.name == prepared.outcome), None)
    if terms is None or terms.pooled is None or len(terms.pooled.cohorts) < 2:
        return None
    members = [c for c in results if c.effect is not None and c.name in terms.pooled.cohorts]
    if len(members) != len(terms.pooled.cohorts):
        return None
    if isinstance(design, PoolsCohorts):
        return design.pool(members, prepared, label="pooled")
    return pool_cohorts([c.effect for c in members if c.effect is not None], label="pooled")


def _quiet(progress: bool | None) -> bool | None:
    # tqdm: None disables the bar when output is not a terminal (CI, notebooks, pipes)
    return None if progress is None else not progress


def _payment_risk(contract: Contract, estimates: Sequence[EffectEstimate], pooled: Sequence[EffectEstimate],
                  draws: int, seed: int) -> Any:
    if not estimates or draws <= 0:
        return None
    return payment_risk(contract, estimates, n_draws=draws, seed=seed, pooled=pooled)


# -- writing a run -------------------------------------------------------------------------------------
def results_record(evaluation: Evaluation, contract_name: str) -> dict[str, Any]:
    """The content of ``results.json``: every figure, marked not for release, the contract named by its file
    name only (where it lives is the audit record's business, relative to the bundle)."""
    record = evaluation.to_dict()
    record["contract"] = {**record["contract"], "source": contract_name}
    record["release"] = NOT_FOR_RELEASE
    return record


def bundle_files(
    evaluation: Evaluation, policy: DisclosurePolicy, contract_name: str, run_time: str
) -> tuple[dict[str, bytes], list[ProtectedTable]]:
    """Every file of a results bundle except ``audit.json``, by path inside the bundle, and the disclosure log.

    ``results.json`` (unrounded, not for release), ``results.release.json`` (counts under ``policy``),
    ``report.html`` and one PNG per figure under ``figures/``; :func:`sop_eval.evaluation.verify` renders
    them again to compare, with the run's ``run_time`` (UTC, as ``audit.json`` records it) printed on the report.
    """
    results = dumps(results_record(evaluation, contract_name)).encode("utf-8")
    html, figures, protected = evaluation_report.build_report(
        evaluation, policy, run_time=run_time, results_sha256=hashlib.sha256(results).hexdigest())
    release, release_log = release_record(evaluation, policy)
    files = {
        "results.json": results,
        "results.release.json": dumps(release).encode("utf-8"),
        "report.html": html.encode("utf-8"),
    }
    files.update({f"figures/{fig.name}": fig.png for fig in figures})
    return files, [*protected, *release_log]


def run(
    contract: str | Path,
    out: str | Path,
    *,
    seed: int = DEFAULT_SEED,
    as_of: dt.date | str | None = None,
    progress: bool | None = None,
    risk_draws: int = 100_000,
    policy: DisclosurePolicy | None = None,
    bundle_inputs: bool = False,
    pdf: bool = False,
) -> Evaluation:
    """Evaluate ``contract`` and write a results bundle into ``out``: ``results.json``, ``results.release.json``,
    ``report.html``, ``figures/`` and ``audit.json``.

    Every path written is relative: the audit record names the contract relative to ``out`` and each data
    file relative to the contract, so the folder holding both can be copied anywhere and verified there.
    With ``bundle_inputs`` the contract and its data files are copied into ``out/contract/`` and ``out/data/``
    (the contract's ``[data]`` paths rewritten to the copies) and the run reads the copies: the bundle is
    then self-contained. With ``pdf`` the report is also typeset as ``report.pdf``, which the audit record
    covers like every other output. Everything is built in a temporary directory next to ``out`` and moved
    into place only when the whole run has succeeded; a run never writes over its own inputs.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise SopEvalError(f"output '{out}' exists and is not a directory; name a directory for the results.")
    contract_path = Path(contract).resolve()
    if not contract_path.is_file():
        raise SopEvalError(f"contract file '{contract}' does not exist; give the path of a contract .toml file.")
    policy = policy or DEFAULT_POLICY
    inputs = [contract_path, *_data_paths(load_contract(contract_path))]
    with atomic_directory(out, inputs=inputs) as staging:
        if bundle_inputs:
            contract_path = _copy_inputs(contract_path, staging)
            bundle = staging
        else:
            bundle = out.resolve()
        evaluation = evaluate(contract_path, seed=seed, as_of=as_of, progress=progress, risk_draws=risk_draws)
        run_time = utc_now()
        files, protected = bundle_files(evaluation, policy, contract_path.name, run_time)
        if pdf:
            files[PDF] = render_pdf(files["report.html"].decode("utf-8"))
        for name, content in files.items():
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            (staging / name).write_bytes(content)
        write_audit(staging / "audit.json", contract=_relative(contract_path, bundle), evaluation=evaluation,
                    contract_path=contract_path, outputs=files, protected=protected, policy=policy,
                    created_utc=run_time)
    return evaluation


def _data_paths(contract: Contract) -> list[Path]:
    settings = contract.data
    if settings is None:
        return []
    return [Path(p) for p in (settings.participants, settings.comparison_pool) if p is not None]


def _relative(path: Path, start: Path) -> str:
    """``path`` relative to the directory ``start``, with forward slashes (the file name alone across drives)."""
    try:
        return Path(os.path.relpath(path, start)).as_posix()
    except ValueError:  # another drive on Windows
        return path.name


_DATA_KEYS = ("participants", "comparison_pool")


def _copy_inputs(contract_path: Path, staging: Path) -> Path:
    """Copy the contract into ``staging/contract/`` and its data files into ``staging/data/``, pointing the
    copy's ``[data]`` paths at the copied files; returns the copied contract's path."""
    contract = load_contract(contract_path)
    copies: dict[str, str] = {}
    (staging / "data").mkdir()
    for key in _DATA_KEYS:
        path = getattr(contract.data, key, None) if contract.data is not None else None
        if path is None:
            continue
        target = staging / "data" / Path(path).name
        if target.exists():
            raise SopEvalError(f"contract '{contract_path.name}': [data] names two files called '{target.name}'; "
                               "rename one of them to bundle the inputs.")
        shutil.copyfile(path, target)
        copies[key] = f"../data/{target.name}"
    text, section = [], ""
    for line in contract_path.read_text(encoding="utf-8").splitlines(keepends=True):
        header = re.match(r"\s*\[([^\[\]]+)\]\s*(#.*)?$", line)
        if header:
            section = header.group(1).strip()
        found = re.match(r"\s*(participants|comparison_pool)\s*=", line)
        if section == "data" and found and found.group(1) in copies:
            line = f'{found.group(1)} = "{copies[found.group(1)]}"\n'
        text.append(line)
    (staging / "contract").mkdir()
    copied = staging / "contract" / contract_path.name
    copied.write_text("".join(text), encoding="utf-8")
    moved = load_contract(copied)
    for key, relative in copies.items():
        if Path(getattr(moved.data, key)).resolve() != (copied.parent / relative).resolve():
            raise SopEvalError(f"contract '{contract_path.name}': could not point the copy's [data] {key} at the "
                               "bundled file; write it as one line `" + key + ' = "file.csv"` in the [data] table.')
    return copied
