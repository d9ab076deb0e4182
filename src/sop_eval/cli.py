"""The ``sop-eval`` command: ``demo`` and the evaluation subcommands.

Every user error is a :class:`SopEvalError`, printed as one readable line on stderr with exit code 2.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from typing import Callable, Sequence

from sop_eval._version import __version__
from sop_eval.errors import SopEvalError, SopEvalWarning

Handler = Callable[[argparse.Namespace], int]


def _demo(args: argparse.Namespace) -> int:
    from sop_eval.data import validate
    from sop_eval.datasets import REOFFENDING_ROLES, make_reoffending
    from sop_eval.report.tables import format_table

    df = make_reoffending(seed=args.seed)
    data = validate(
        df,
        REOFFENDING_ROLES,
        extract_date=df.attrs["extract_date"],
        follow_up_months=df.attrs["follow_up_months"],
        court_lag_months=df.attrs["court_lag_months"],
    )
    summary = data.summary()
    summary["events_per_100"] = 100 * summary.pop("mean_reconviction_events")
    summary["reconvicted_pct"] = 100 * summary.pop("mean_reconvicted")
    summary = summary.drop(columns=[c for c in summary if c.startswith("mean_")])
    print("sop-eval demo: simulated Peterborough-like releases (seed %d)" % args.seed)
    print(f"true effect: {df.attrs['true_effect']:+.0%} in expected reconviction events for the treated")
    print(f"extract date: {data.extract_date.date()}; every cohort's outcome window has closed\n")
    print(format_table(summary, floatfmt=".1f"))
    return 0


def _pay(args: argparse.Namespace) -> int:
    from sop_eval.payments.cli import run_pay

    return run_pay(args)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="sop-eval",
        description="Counterfactual impact evaluation and payments for social outcomes contracts.",
    )
    parser.add_argument("--version", action="version", version=f"sop-eval {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser("demo", help="run the evaluation on bundled Peterborough-like data")
    demo.add_argument("--seed", type=int, default=0, help="seed of the simulated data (default 0)")
    demo.set_defaults(handler=_demo)
    pay = sub.add_parser("pay", help="the payments a contract makes for effect estimates or rate-card claims")
    pay.add_argument("contract", help="contract terms (TOML)")
    given = pay.add_mutually_exclusive_group(required=True)
    given.add_argument("--estimates", metavar="FILE", help="effect estimates per cohort (JSON)")
    given.add_argument("--claims", metavar="FILE", help="rate-card claims (CSV)")
    pay.add_argument("--as-of", metavar="DATE", help="pay only what is measurable by this date (YYYY-MM-DD)")
    pay.add_argument("--json", metavar="OUT", help="also write the schedule as JSON (atomically)")
    pay.set_defaults(handler=_pay)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``sop-eval`` command; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 0
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always", SopEvalWarning)
            warnings.formatwarning = _format_warning  # type: ignore[assignment]
            return handler(args)
    except SopEvalError as exc:
        print(f"sop-eval: error: {exc}", file=sys.stderr)
        return 2


def _format_warning(message, category, filename, lineno, line=None) -> str:  # noqa: ANN001
    return f"sop-eval: warning: {message}\n"


if __name__ == "__main__":
    sys.exit(main())
