"""The ``sop-eval pay`` command: a contract's payment schedule as a table, and optionally as JSON."""

from __future__ import annotations

import argparse
from pathlib import Path

from sop_eval.errors import SopEvalError
from sop_eval.outputs import dumps, write_text_atomic
from sop_eval.payments.calculator import calculate


def run_pay(args: argparse.Namespace) -> int:
    """Calculate the schedule for ``args.contract`` with ``--estimates`` or ``--claims``; print it; write ``--json``."""
    if args.json:
        _check_json_target(Path(args.json), [args.contract, args.estimates, args.claims])
    schedule = calculate(args.contract, estimates=args.estimates, claims=args.claims, as_of=args.as_of)
    print(schedule.format())
    if args.json:
        write_text_atomic(args.json, dumps(schedule.to_dict()))
        print(f"\nschedule written to {args.json}")
    return 0


def _check_json_target(target: Path, inputs: list[str | None]) -> None:
    """``--json`` must name a file that is neither a directory nor one of the command's own inputs."""
    if target.is_dir():
        raise SopEvalError(f"--json '{target}' is a directory; name a file such as '{target / 'schedule.json'}'.")
    for given in inputs:
        if given is not None and Path(given).exists() and target.exists() and target.resolve() == Path(given).resolve():
            raise SopEvalError(
                f"--json '{target}' is the input file '{given}'; writing there would overwrite it. Name another file."
            )
