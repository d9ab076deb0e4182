"""The ``sop-eval pay`` command: a contract's payment schedule as a table, and optionally as JSON."""

from __future__ import annotations

import argparse

from sop_eval.outputs import dumps, write_text_atomic
from sop_eval.payments.calculator import calculate


def run_pay(args: argparse.Namespace) -> int:
    """Calculate the schedule for ``args.contract`` with ``--estimates`` or ``--claims``; print it; write ``--json``."""
    schedule = calculate(args.contract, estimates=args.estimates, claims=args.claims, as_of=args.as_of)
    print(schedule.format())
    if args.json:
        write_text_atomic(args.json, dumps(schedule.to_dict()))
        print(f"\nschedule written to {args.json}")
    return 0
