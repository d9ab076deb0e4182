"""The ``sop-eval`` command: ``demo`` and the evaluation subcommands.

Every user error is a :class:`SopEvalError`, printed as one readable line on stderr with exit code 2.
The subcommands import the evaluation (pandas, scipy, matplotlib) when they run, so ``--help`` and
``--version`` answer at once.
"""

from __future__ import annotations

import argparse
import os
import sys
import tomllib
import warnings
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, NoReturn, TextIO

from sop_eval._version import __version__
from sop_eval.errors import SopEvalError, SopEvalWarning
from sop_eval.ledger.cli import add_ledger_parser, open_ledger
from sop_eval.seeds import DEFAULT_SEED
from sop_eval.stats.estimate import DEFAULT_LEVEL, interval_label

Handler = Callable[[argparse.Namespace], int]


def _print_headline(evaluation, out) -> None:  # noqa: ANN001
    from sop_eval.report.style import DASH, money, outcome_metric, pct  # lazy: fast --help (module docstring)
    from sop_eval.report.tables import format_table

    head = evaluation.headline()
    c = evaluation.contract
    table = head[["cohort"]].copy()
    table["status"] = head["status"].str.replace("not yet measurable — ", "not yet measurable, ", regex=False)
    means = [("treated_per_100", "comparison_per_100", " per 100"), ("treated_mean", "comparison_mean", " mean")]
    for treated, comparison, suffix in means:
        if treated in head:
            table["treated" + suffix] = head[treated].map(lambda v: f"{v:.1f}" if v == v else DASH)
            table["comparison" + suffix] = head[comparison].map(lambda v: f"{v:.1f}" if v == v else DASH)
    if "reduction" in head:
        table[f"reduction ({interval_label(evaluation.parameters.get('level', DEFAULT_LEVEL))})"] = [
            f"{pct(r)} ({pct(lo)} to {pct(hi)})" if r == r else DASH
            for r, lo, hi in zip(head["reduction"], head["reduction_ci_low"], head["reduction_ci_high"], strict=True)
        ]
    if "gate" in head:
        table["gate"] = [f"{pct(g)} {'met' if m else 'not met'}" if g == g else DASH
                         for g, m in zip(head["gate"], head["gate_met"], strict=True)]
    if "payment" in head:
        table["amount due"] = head["payment"].map(lambda v: money(v, c.currency) if v == v else DASH)
    print(f"{c.name} (version {c.version}): {outcome_metric(c, evaluation.outcome)}")
    print(format_table(table))
    print(f"\ntotal due: {money(evaluation.schedule.total, c.currency)}  (" + ", ".join(
        f"{name} {money(v, c.currency)}" for name, v in evaluation.schedule.by_payer.items()) + ")")
    print(f"report: {out / 'report.html'}  ·  verify with: sop-eval verify {out}")


def _stage(args: argparse.Namespace, message: str, log: list[str]) -> None:
    """A stage message on stderr (unless --quiet) and in the bundle's run.log (no person-level data).

    Stage messages go to stderr whether or not it is a terminal (a log file or CI keeps them); only the
    progress bars need a terminal. An error is still one line of its own, ``sop-eval: error: …``.
    """
    import datetime as dt

    log.append(f"{dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()}  {message}")
    if not getattr(args, "quiet", False):
        print(f"sop-eval: {message}", file=sys.stderr)


def _finish_bundle(args: argparse.Namespace, out: Path, log: list[str]) -> None:
    """Write run.log into a finished bundle."""
    from sop_eval.outputs import write_text_atomic

    _stage(args, f"done: {out}", log)
    write_text_atomic(out / "run.log", "\n".join(log) + "\n")


STAGES = {
    "psm": "matching per cohort, bootstrap and payment-risk draws",
    "did": "group-time effects per cohort, their standard errors and payment-risk draws",
    "synthetic_control": "the synthetic-control fit, placebo fits of the donor areas and payment-risk draws",
    "sdid": "the synthetic difference-in-differences fit, placebo draws and payment-risk draws",
}
"""The work an evaluation run does, by ``[evaluation] design``, as the run's first stage message says it."""


def _work_ahead(contract: str) -> str:
    """What the run of ``contract`` does next, by its design (read leniently: the run itself reports bad input)."""
    try:
        doc = tomllib.loads(Path(contract).read_text(encoding="utf-8"))
        design = doc.get("evaluation", {}).get("design", "psm")
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, AttributeError):
        design = None
    return STAGES.get(design if isinstance(design, str) else "", "estimation per cohort and payment-risk draws")


def _run(args: argparse.Namespace) -> int:
    from sop_eval.evaluation import run  # lazy: fast --help (module docstring)

    out = Path(args.out)
    log: list[str] = []
    _stage(args, f"reading {args.contract} and its data; {_work_ahead(args.contract)} follow (progress bars at a "
           "terminal)", log)
    if args.pdf:
        _stage(args, "typesetting report.pdf with the report (the audit record covers it)", log)
    evaluation = run(args.contract, out, seed=args.seed, as_of=args.as_of, progress=False if args.quiet else None,
                     pdf=args.pdf)
    _stage(args, f"evaluated {len(evaluation.cohorts)} cohort(s); report and audit written", log)
    _finish_bundle(args, out, log)
    _print_headline(evaluation, out)
    return 0


def _report(args: argparse.Namespace) -> int:
    from sop_eval.report.pdf import write_pdf  # lazy: fast --help (module docstring)

    if not args.pdf:
        print(f"{Path(args.bundle) / 'report.html'} is the report; add --pdf to typeset report.pdf")
        return 0
    path = write_pdf(args.bundle)
    print(f"report: {path}")
    return 0


def _init(args: argparse.Namespace) -> int:
    from sop_eval.outputs import write_text_atomic
    from sop_eval.preflight import contract_skeleton  # lazy: fast --help (module docstring)

    where = Path(args.out).parent if args.out else Path.cwd()
    text = contract_skeleton(args.data, args.pool, contract_dir=where)
    if args.out:
        if Path(args.out).exists() and not args.force:
            raise SopEvalError(f"'{args.out}' exists; choose another file or add --force to replace it.")
        write_text_atomic(args.out, text)
        print(f"contract skeleton written to {args.out}; check every line marked GUESS, then: "
              f"sop-eval check {args.out}")
    else:
        print(text)
    return 0


def _check(args: argparse.Namespace) -> int:
    from sop_eval.preflight import check  # lazy: fast --help (module docstring)
    from sop_eval.report.tables import format_table

    result = check(args.contract)
    if len(result.cohorts):
        print(format_table(result.cohorts))
    for note in result.notes:
        print(f"note: {note}")
    for warning in result.warnings:
        print(f"warning: {warning}")
    for problem in result.problems:
        print(f"problem: {problem}")
    print("\nready to run" if result.ok else "\nNOT ready: fix the problems above")
    return 0 if result.ok else 1


def _demo(args: argparse.Namespace) -> int:
    from sop_eval.evaluation import run  # lazy: fast --help (module docstring)

    out = Path(args.out)
    with resources.as_file(resources.files("sop_eval").joinpath("fixtures/contracts/demo.toml")) as contract:
        print("sop-eval demo: a Peterborough-style bond on simulated releases (true effect: -10% in expected events)\n")
        evaluation = run(contract, out, seed=args.seed, bundle_inputs=True)
    _print_headline(evaluation, out)
    print(f"the contract and data are copied into {out / 'contract'} and {out / 'data'}: the folder is self-contained")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from sop_eval.evaluation import verify  # lazy: fast --help (module docstring)
    from sop_eval.outputs import dumps

    result = verify(args.directory, contract=args.contract, data_dir=args.data_dir)
    if args.json:
        print(dumps(result.to_dict()), end="")
    else:
        print(result.text())
    return result.exit_code


def _pay(args: argparse.Namespace) -> int:
    from sop_eval.payments.cli import run_pay  # lazy: fast --help (module docstring)

    return run_pay(args)


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors as one line (``sop-eval: error: …``) and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"sop-eval: error: {_one_line(message)} (see `{self.prog} --help`)\n")


def _seed(text: str) -> int:
    """A seed: a whole number from 0 to 2**32 - 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--seed {text!r} is not a whole number; give e.g. --seed 20240101") from None
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"--seed {value} is out of range; give a whole number from 0 to {MAX_SEED}")
    return value


SIGPIPE_EXIT = 128 + 13  # the shell's exit status of a process ended by SIGPIPE
MAX_SEED = 2**32 - 1 - 10_000  # cohort i runs with seed + i


def _ledger_statement(args: argparse.Namespace) -> int:
    from sop_eval.report.statement import write_statement  # lazy: typst only when a statement is written

    with open_ledger(args) as ledger:
        statement = ledger.statement(args.payer)
    for path in write_statement(statement, args.out, pdf=args.pdf):
        print(f"statement for {args.payer} written to {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = _Parser(
        prog="sop-eval",
        description="Counterfactual impact evaluation and payments for social outcomes contracts.",
    )
    parser.add_argument("--version", action="version", version=f"sop-eval {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    demo = sub.add_parser("demo", help="run the whole evaluation on bundled Peterborough-like data")
    demo.add_argument("--out", default="sop-eval-demo", help="output directory (default ./sop-eval-demo)")
    demo.add_argument("--seed", type=_seed, default=DEFAULT_SEED,
                      help=f"seed of every random step (default {DEFAULT_SEED})")
    demo.set_defaults(handler=_demo)
    run = sub.add_parser(
        "run", help="evaluate a contract: results.json, report.html, figures/, audit.json, run.log",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  sop-eval run contract.toml --out results/\n  sop-eval run contract.toml --out results/ "
               "--pdf --quiet\n\nexit codes: 0 evaluated, 2 error in the contract or data")
    run.add_argument("contract", help="contract terms (TOML) with [data] and [evaluation] sections")
    run.add_argument("--out", required=True, help="output directory")
    run.add_argument("--seed", type=_seed, default=DEFAULT_SEED,
                     help=f"seed of every random step (default {DEFAULT_SEED})")
    run.add_argument("--as-of", metavar="DATE", help="compute payments as of this date (YYYY-MM-DD); also the data "
                     "extract date where the contract gives no [evaluation] extract_date")
    run.add_argument("--pdf", action="store_true", help="also typeset report.pdf (no browser needed)")
    run.add_argument("--quiet", action="store_true", help="no stage messages or progress bars on stderr")
    run.set_defaults(handler=_run)
    report = sub.add_parser(
        "report", help="typeset a bundle's report as PDF", formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  sop-eval report results/ --pdf\n\nexit codes: 0 written, 2 error (e.g. no report.html)")
    report.add_argument("bundle", help="a directory written by `sop-eval run`")
    report.add_argument("--pdf", action="store_true", help="write report.pdf beside report.html")
    report.set_defaults(handler=_report)
    init = sub.add_parser(
        "init", help="write a commented contract skeleton from a data file's header",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  sop-eval init --data people.csv --out contract.toml\n"
               "  sop-eval init --data served.parquet --pool pool.parquet > contract.toml\n\n"
               "Column roles are guessed from names and types; every guess is marked GUESS.\n"
               "exit codes: 0 written, 2 error (unreadable data file, existing --out without --force)")
    init.add_argument("--data", required=True, metavar="FILE", help="participants (CSV or Parquet)")
    init.add_argument("--pool", metavar="FILE", help="comparison pool (CSV or Parquet)")
    init.add_argument("--out", metavar="FILE", help="write the skeleton here (default: print it)")
    init.add_argument("--force", action="store_true", help="replace an existing --out file")
    init.set_defaults(handler=_init)
    check = sub.add_parser(
        "check", help="validate a contract and its data without estimating anything",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  sop-eval check contract.toml\n\n"
               "Checks the schema, the columns and what the design needs before it runs; problems would stop `run`,\n"
               "warnings are what `run` would warn of, in its words.\n"
               "Matched cohorts (psm): cohort windows and who falls in each (counts under the disclosure policy),\n"
               "sizes against the Justice Data Lab minimum of 60, the minimum detectable reduction and the chance\n"
               "the gate pays with no effect, and each measurable cohort's propensity model fitted on the\n"
               "covariates (no outcomes): separation is a problem, near-separation a warning.\n"
               "Area designs (sdid, synthetic_control): treated areas, donors, periods before and from the start,\n"
               "each cohort's periods, whether they are in the data yet and its payment due date, treated periods\n"
               "in no cohort; nothing is fitted.\n"
               "exit codes: 0 ready to run, 1 a rule fails (e.g. a cohort below 60), 2 contract or data error")
    check.add_argument("contract", help="contract terms (TOML) with [data] and [evaluation] sections")
    check.set_defaults(handler=_check)
    verify = sub.add_parser("verify", help="re-run an evaluation from its audit record and compare every file "
                            "and figure; exit 0 verified, 1 not, 2 unreadable")
    verify.add_argument("directory", help="a directory written by `sop-eval run` or `sop-eval demo`")
    verify.add_argument("--contract", metavar="PATH", help="the contract, where it is not at its recorded place "
                        "(relative to the directory)")
    verify.add_argument("--data-dir", metavar="DIR", help="the folder holding the data files, where they are not "
                        "at their recorded place (relative to the contract)")
    verify.add_argument("--json", action="store_true", help="print the answer as one JSON record")
    verify.set_defaults(handler=_verify)
    pay = sub.add_parser("pay", help="the payments a contract makes for effect estimates or rate-card claims")
    pay.add_argument("contract", help="contract terms (TOML)")
    given = pay.add_mutually_exclusive_group(required=True)
    given.add_argument("--estimates", metavar="FILE", help="effect estimates per cohort (JSON)")
    given.add_argument("--claims", metavar="FILE", help="rate-card claims (CSV)")
    pay.add_argument("--as-of", metavar="DATE", help="pay only what is measurable by this date (YYYY-MM-DD)")
    pay.add_argument("--json", metavar="OUT", help="also write the schedule as JSON (atomically)")
    pay.set_defaults(handler=_pay)
    add_ledger_parser(sub, statement=_ledger_statement)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``sop-eval`` command; returns the exit code.

    Every failure prints one line on stderr (``sop-eval: error: …``) and returns 2: input errors name the
    file, key or column; anything unexpected says so and asks for a bug report (``SOP_EVAL_DEBUG=1`` shows
    the traceback instead). Warnings print one line each (``sop-eval: warning: …``). Control characters in
    anything printed (a cohort name, a path) are shown escaped, never sent to the terminal. When the reader
    of stdout goes away (``sop-eval verify BUNDLE | head -5``) the command ends silently with exit 141, as a
    process ended by SIGPIPE does.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 0
    stdout, formatwarning = sys.stdout, warnings.formatwarning
    sys.stdout = _EscapingStream(stdout)  # type: ignore[assignment]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always", SopEvalWarning)
            warnings.formatwarning = _format_warning  # type: ignore[assignment]
            warnings.showwarning = _show_warning
            code = handler(args)
            sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
            return code
    except BrokenPipeError:
        return _pipe_closed(stdout)
    except SopEvalError as exc:
        return _fail(str(exc))
    except OSError as exc:
        where = exc.filename or getattr(args, "out", None) or getattr(args, "json", None) or "a file"
        why = ("a part of the path is a file, not a directory" if isinstance(exc, (FileExistsError, NotADirectoryError))
               else exc.strerror or str(exc))
        return _fail(f"cannot read or write '{where}': {why}. Check the path and its permissions (an output "
                     "directory must be writable).")
    except KeyboardInterrupt:
        return _fail("interrupted; nothing was written.")
    except Exception as exc:
        if os.environ.get("SOP_EVAL_DEBUG") == "1":
            raise
        return _fail(f"unexpected {type(exc).__name__}: {exc}. This is a bug in sop-eval: please report it with "
                     "the command you ran (run again with SOP_EVAL_DEBUG=1 to see the traceback).")
    finally:
        sys.stdout, warnings.formatwarning = stdout, formatwarning


def _pipe_closed(stdout: TextIO) -> int:
    """The reader of stdout went away (``sop-eval verify B | head``): end quietly with the SIGPIPE exit, 141.

    Whatever is still buffered goes to the null device, so the exit flush raises nothing.
    """
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, stdout.fileno())
    except (OSError, ValueError):  # a stream with no file descriptor has nothing left to flush
        pass
    return SIGPIPE_EXIT


def _fail(message: str) -> int:
    print(f"sop-eval: error: {_one_line(message)}", file=sys.stderr)
    return 2


_CONTROL = {c: f"\\x{c:02x}" for c in (*range(0x00, 0x20), *range(0x7F, 0xA0)) if chr(c) not in "\n\t"}


def escape_control(text: str) -> str:
    """``text`` with control characters (ESC, carriage return, bell, …; not newline or tab) written as ``\\xNN``."""
    return text.translate(_CONTROL)


def _one_line(text: str) -> str:
    return escape_control(" ".join(str(text).split("\n"))).replace("\t", " ")


class _EscapingStream:
    """A text stream that writes through ``stream`` with control characters escaped."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        return self._stream.write(escape_control(text))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _format_warning(message, category, filename, lineno, line=None) -> str:  # noqa: ANN001
    return f"sop-eval: warning: {_one_line(str(message))}\n"


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
    print(_format_warning(message, category, filename, lineno), end="", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
