"""The ``sop-eval ledger`` command: init, claims import, sample, findings, evaluation add, variation, index,
pay, clawback, adjust, reconcile, statement, verify, export. Every command takes ``--db`` (a SQLite path or
an SQLAlchemy URL; default: ``CONTRACT.ledger.sqlite`` next to ``--contract`` for ``init``)."""

from __future__ import annotations

import argparse
import csv
import textwrap
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from sop_eval.errors import SopEvalError
from sop_eval.ledger.ledger import Ledger, PaymentRun, default_db
from sop_eval.outputs import write_text_atomic


def _ledger(args: argparse.Namespace) -> Ledger:
    if not args.db:
        raise SopEvalError("give the ledger with --db (a SQLite file or an SQLAlchemy URL).")
    return Ledger(args.db)


def _print_run(run: PaymentRun, what: str) -> None:
    print(f"{what} (ledger entry {run.seq})")
    for line in run.lines:
        now = ", ".join(f"{p} {line[p + ' paid now']:,.2f}" for p in run.payers)
        print(f"  {line['group']}: {now}")
    print("total: " + ", ".join(f"{p} {v:,.2f}" for p, v in run.by_payer.items()) + f" (top-up {run.top_up:,.2f})")
    for name, amount in run.caps.items():
        print(f"cap applied: {name} cut {amount:,.2f} over the life")


def _init(args: argparse.Namespace) -> int:
    db = args.db or str(default_db(args.contract))
    with Ledger.init(db, args.contract, reason=args.reason) as ledger:
        c = ledger.contract
    print(f"ledger {db} holds contract {c.name!r} version {c.version}")
    return 0


def _claims_import(args: argparse.Namespace) -> int:
    with _ledger(args) as ledger:
        for path in args.files:
            r = ledger.import_claims(path)
            flagged = f" (rows {', '.join(map(str, r.duplicates))} as duplicates that pay nothing)" \
                if r.duplicates else ""
            print(f"{r.file}: {r.rows} rows, {r.added} claims added{flagged}, {r.repeated} repeating an earlier row "
                  f"of the file, {r.already} already in the ledger")
    return 0


def _sample(args: argparse.Namespace) -> int:
    with _ledger(args) as ledger:
        seq, table = ledger.draw_sample(args.start, args.end, fraction=args.fraction, minimum=args.minimum,
                                        seed=args.seed)
    write_text_atomic(args.out, table.to_csv(index=False))
    print(f"sample {seq}: {len(table)} claims from {args.start} to {args.end} written to {args.out}; record what "
          f"checking them found with `sop-eval ledger findings --db {args.db} --sample {seq} FILE`")
    return 0


def _findings(args: argparse.Namespace) -> int:
    with _ledger(args) as ledger:
        r = ledger.record_findings(args.sample, args.file)
    lo, hi = r.conf_int
    print(f"error rate {100 * r.rate:.2f}% ({100 * r.level:.0f}% interval {100 * lo:.2f}% to {100 * hi:.2f}%), "
          "ratio estimator stratified by outcome")
    for outcome, s in r.strata.items():
        print(f"  {outcome}: {s['invalid']} of {s['sampled']} sampled invalid; unsampled claims pay 1 - {s['rate']}")
    return 0


def _evaluation_add(args: argparse.Namespace) -> int:
    with _ledger(args) as ledger:
        seq = ledger.add_evaluation(args.directory, stage=args.stage)
    print(f"evaluation {args.directory} recorded as ledger entry {seq} ({args.stage})")
    return 0


def _variation(args: argparse.Namespace) -> int:
    prices = {}
    for item in args.price:
        name, _, value = item.partition("=")
        if not value:
            raise SopEvalError(f"--price {item!r}: give OUTCOME=PRICE, e.g. entered_employment=2800.")
        prices[name] = value
    with _ledger(args) as ledger:
        seq = ledger.add_variation(args.version, args.effective, args.reason, prices)
    print(f"variation {args.version} from {args.effective} recorded as ledger entry {seq}")
    return 0


def _index(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if not path.is_file():
        raise SopEvalError(f"index file {str(path)!r} does not exist; give a CSV with columns date,value.")
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if not rows or not {"date", "value"} <= set(rows[0]):
        raise SopEvalError(f"index file {path.name!r} needs columns date,value.")
    with _ledger(args) as ledger:
        seq = ledger.set_index(args.name, args.base_date, [(r["date"], r["value"]) for r in rows], args.reason)
    print(f"index {args.name} (base {args.base_date}, {len(rows)} points) recorded as ledger entry {seq}")
    return 0


def _pay(args: argparse.Namespace) -> int:
    with _ledger(args) as ledger:
        run = ledger.pay(args.period_end)
    _print_run(run, f"payment run to {args.period_end}")
    return 0


def _clawback(args: argparse.Namespace) -> int:
    with _ledger(args) as ledger:
        run = ledger.clawback(args.claims, args.reason)
    _print_run(run, f"clawback of {len(args.claims)} claim(s)")
    return 0


def _adjust(args: argparse.Namespace) -> int:
    with _ledger(args) as ledger:
        seq = ledger.adjust(args.payer, Decimal(args.amount), args.reason)
    print(f"adjustment recorded as ledger entry {seq}; it is settled by the next payment run")
    return 0


def _reconcile(args: argparse.Namespace) -> int:
    with _ledger(args) as ledger:
        r = ledger.reconcile(args.as_of)
    for row in r.rows:
        print(f"{row['group']}: interim {row['interim']:,.2f}, final {row['final']:,.2f}, "
              f"balance {row['balance']:,.2f}")
    for e in r.evaluations:
        print(f"evaluation entry {e['entry']} ({e['stage']}): {e['total']:,.2f}")
    for p, b in r.balance.items():
        side = "owed to the provider" if b >= 0 else "owed back by the provider"
        print(f"{p}: interim {r.interim[p]:,.2f}, final {r.final[p]:,.2f}, balance {abs(b):,.2f} {side}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    with _ledger(args) as ledger:
        v = ledger.verify(args.expect_head)
    if v.ok:
        print(f"verified: {v.entries} entries, hash chain whole, every payment run and clawback recomputed exactly"
              + (f", recorded head {args.expect_head} still in the chain" if args.expect_head else ""))
        print(f"chain head: {v.head} (record it, e.g. in the payment run's minutes; check it later with "
              f"--expect-head {v.head})")
        return 0
    print(f"NOT verified: {v.broken or v.differences[0]}")
    return 1


def _export(args: argparse.Namespace) -> int:
    with _ledger(args) as ledger:
        project: dict[str, Any] = ledger.export_indigo(args.out)
    print(f"INDIGO project JSON written to {args.out} ({len(project['outcome_payments'])} payments)")
    return 0


_DONE = "exit codes: 0 recorded, 2 error (named in one line on stderr; nothing is recorded)"
_EPILOGS = {
    "ledger": ("sop-eval ledger init --contract contract.toml", "sop-eval ledger pay --db contract.ledger.sqlite "
               "--period-end 2026-03-31", "exit codes: 0 done, 1 `ledger verify` found a difference, 2 error "
               "(see `sop-eval ledger COMMAND --help`)"),
    "init": ("sop-eval ledger init --contract contract.toml",
             "sop-eval ledger init --db contract.ledger.sqlite --contract contract.toml --reason \"organisation "
             "identifiers\"", "sop-eval ledger init --db postgresql://user@host/ledger --contract project.json",
             "exit codes: 0 recorded (or already recorded), 2 error (e.g. the same version with other money terms: "
             "record a variation or a new version)"),
    "claims": ("sop-eval ledger claims import --db contract.ledger.sqlite claims_2026q1.csv",
               "exit codes: 0 imported, 2 error (see `sop-eval ledger claims import --help`)"),
    "import": ("sop-eval ledger claims import --db contract.ledger.sqlite claims_2026q1.csv",
               "sop-eval ledger claims import --db contract.ledger.sqlite jan.csv feb.csv mar.csv",
               "exit codes: 0 imported (repeats added nothing; duplicates named in a warning), 2 error (e.g. a claim "
               "dated before the contract or after today; nothing of that file is recorded)"),
    "sample": ("sop-eval ledger sample --db contract.ledger.sqlite --start 2026-01-01 --end 2026-03-31 "
               "--out sample_q1.csv",
               "exit codes: 0 sample recorded and written, 2 error (e.g. no claims in the period)"),
    "findings": ("sop-eval ledger findings --db contract.ledger.sqlite --sample 231 checked_q1.csv",
                 "exit codes: 0 findings and error rate recorded, 2 error (e.g. a claim not in the sample)"),
    "evaluation": ("sop-eval ledger evaluation add --db contract.ledger.sqlite results/ --stage final",
                   "exit codes: 0 recorded, 2 error (see `sop-eval ledger evaluation add --help`)"),
    "add": ("sop-eval ledger evaluation add --db contract.ledger.sqlite results/ --stage interim",
            "exit codes: 0 recorded, 2 error (e.g. results.json changed since the run)"),
    "variation": ("sop-eval ledger variation --db contract.ledger.sqlite --version 1.1 --effective 2026-04-01 "
                  "--reason \"price review\" --price job_start=1300", _DONE),
    "index": ("sop-eval ledger index --db contract.ledger.sqlite cpi.csv --name CPI --base-date 2025-04-01", _DONE),
    "pay": ("sop-eval ledger pay --db contract.ledger.sqlite --period-end 2026-03-31",
            "a run pays the claims due by --period-end: achieved at least the contract's payment_terms_days before it",
            "exit codes: 0 run recorded, 2 error (e.g. a period end before the last run's)"),
    "clawback": ("sop-eval ledger clawback --db contract.ledger.sqlite 57 58 --reason \"evidence withdrawn\"",
                 "exit codes: 0 clawback recorded, 2 error (e.g. a claim not claimed or verified)"),
    "adjust": ("sop-eval ledger adjust --db contract.ledger.sqlite --payer \"Outcomes Fund\" --amount -125.40 "
               "--reason \"overpaid invoice 17\"", _DONE),
    "reconcile": ("sop-eval ledger reconcile --db contract.ledger.sqlite --as-of 2026-03-31",
                  "exit codes: 0 printed, 2 error"),
    "statement": ("sop-eval ledger statement --db contract.ledger.sqlite --payer \"Outcomes Fund\" --out fund.html "
                  "--pdf",
                  "exit codes: 0 written, 2 error (e.g. a payer not in the contract)"),
    "verify": ("sop-eval ledger verify --db contract.ledger.sqlite",
               "sop-eval ledger verify --db contract.ledger.sqlite --expect-head 218:3f9a0c2e71b4",
               "a whole chain cut short at its end, or an old copy restored, verifies on its own: record the chain "
               "head it prints (e.g. in the payment run's minutes) and give it back with --expect-head",
               "exit codes: 0 verified, 1 not verified (a broken chain, a figure that differs, or the recorded head "
               "missing), 2 error"),
    "export": ("sop-eval ledger export --db contract.ledger.sqlite --out project.json",
               "exit codes: 0 written (warnings name organisations without an identifier), 2 error"),
}


def _epilog(name: str) -> dict[str, Any]:
    """``add_parser`` keywords giving ``name``'s help its examples and exit codes."""
    lines = _EPILOGS[name]
    examples = [f"  {x}" for x in lines if x.startswith("sop-eval")]
    notes = [x for x in lines if not x.startswith("sop-eval")]
    return {"formatter_class": argparse.RawDescriptionHelpFormatter,
            "epilog": "examples:\n" + "\n".join(examples) + "\n\n" + "\n\n".join(textwrap.fill(n, 79) for n in notes)}


def open_ledger(args: argparse.Namespace) -> Ledger:
    """The ledger named by ``--db`` (a handler's first step)."""
    return _ledger(args)


def add_ledger_parser(sub: Any, statement: Callable[[argparse.Namespace], int]) -> None:
    """Add the ``ledger`` subcommand and its own subcommands to ``sop-eval``'s subparsers; ``statement`` is the
    handler of ``ledger statement`` (it renders through the report layer, above this one)."""
    ledger = sub.add_parser("ledger", help="the contract's life in a ledger: claims, samples, payments, clawbacks",
                            **_epilog("ledger"))
    cmds = ledger.add_subparsers(dest="ledger_command", metavar="LEDGER_COMMAND", required=True)

    def cmd(name: str, handler: Any, help: str) -> argparse.ArgumentParser:
        p = cmds.add_parser(name, help=help, **_epilog(name))
        p.add_argument("--db", help="ledger database: a SQLite file or an SQLAlchemy URL")
        p.set_defaults(handler=handler)
        return p

    p = cmd("init", _init, "create a ledger and record the contract (TOML, or INDIGO project JSON)")
    p.add_argument("--contract", required=True, help="contract terms (TOML) or an INDIGO project JSON")
    p.add_argument("--reason", default="contract signed", help="why this version is recorded")
    claims = cmds.add_parser("claims", help="claims: import", **_epilog("claims"))
    claims_cmds = claims.add_subparsers(dest="claims_command", metavar="CLAIMS_COMMAND", required=True)
    p = claims_cmds.add_parser("import", help="record a claims CSV (idempotent)", **_epilog("import"))
    p.add_argument("--db", help="ledger database: a SQLite file or an SQLAlchemy URL")
    p.add_argument("files", nargs="+", help="claims CSV(s): person, outcome, date, validated[, claim_id, evidence]")
    p.set_defaults(handler=_claims_import)
    p = cmd("sample", _sample, "draw a verification sample of a period's claims")
    p.add_argument("--start", required=True, help="first achievement date of the period (YYYY-MM-DD)")
    p.add_argument("--end", required=True, help="last achievement date of the period (YYYY-MM-DD)")
    p.add_argument("--fraction", type=float, default=0.05, help="fraction of each outcome's claims (default 0.05)")
    p.add_argument("--minimum", type=int, default=10, help="at least this many per outcome (default 10)")
    p.add_argument("--seed", type=int, default=20240601, help="seed of the draw (default 20240601)")
    p.add_argument("--out", required=True, help="CSV of the sampled claims to check")
    p = cmd("findings", _findings, "record what checking a sample found (CSV: claim,finding)")
    p.add_argument("--sample", type=int, required=True, help="the sample's ledger entry number")
    p.add_argument("file", help="CSV with columns claim, finding (valid or invalid)")
    evaluation = cmds.add_parser("evaluation", help="evaluation results: add", **_epilog("evaluation"))
    ev_cmds = evaluation.add_subparsers(dest="evaluation_command", metavar="EVALUATION_COMMAND", required=True)
    p = ev_cmds.add_parser("add", help="record a `sop-eval run` results bundle's payment figures", **_epilog("add"))
    p.add_argument("--db", help="ledger database: a SQLite file or an SQLAlchemy URL")
    p.add_argument("directory", help="a directory written by `sop-eval run`")
    p.add_argument("--stage", choices=("interim", "final"), default="final")
    p.set_defaults(handler=_evaluation_add)
    p = cmd("variation", _variation, "record a variation of the terms (new version, date, reason, prices)")
    p.add_argument("--version", required=True)
    p.add_argument("--effective", required=True, help="YYYY-MM-DD")
    p.add_argument("--reason", required=True)
    p.add_argument("--price", action="append", default=[], metavar="OUTCOME=PRICE")
    p = cmd("index", _index, "record the price index that uprates prices (CSV: date,value)")
    p.add_argument("file")
    p.add_argument("--name", required=True)
    p.add_argument("--base-date", required=True, help="the date prices are stated at (YYYY-MM-DD)")
    p.add_argument("--reason", default="price index")
    p = cmd("pay", _pay, "pay the claims due by a date (achieved + payment terms) less what was already paid")
    p.add_argument("--period-end", required=True, help="YYYY-MM-DD")
    p = cmd("clawback", _clawback, "withdraw claims found invalid and recover what was paid on them")
    p.add_argument("claims", nargs="+", type=int, help="claim numbers (ledger entries)")
    p.add_argument("--reason", required=True)
    p = cmd("adjust", _adjust, "record an amount owed to (+) or by (-) the provider for one payer")
    p.add_argument("--payer", required=True)
    p.add_argument("--amount", required=True)
    p.add_argument("--reason", required=True)
    p = cmd("reconcile", _reconcile, "interim against final, and the balance owed either way")
    p.add_argument("--as-of", help="YYYY-MM-DD (default: the last run's period end)")
    p = cmd("statement", statement, "write a payer's statement (HTML; --pdf also typesets a PDF)")
    p.add_argument("--payer", required=True)
    p.add_argument("--out", required=True, help="the HTML file (a name ending .pdf writes the PDF instead)")
    p.add_argument("--pdf", action="store_true", help="also write the statement as PDF beside --out (same name, .pdf)")
    p = cmd("verify", _verify, "re-walk the hash chain and recompute every payment (exit 1 if anything differs)")
    p.add_argument("--expect-head", metavar="ENTRY:HASH",
                   help="a chain head recorded earlier (as verify printed it, or just ENTRY or HASH): it must still be "
                        "in the chain, else exit 1 (entries removed from the end or an old copy restored)")
    p = cmd("export", _export, "export terms and payments as INDIGO project JSON")
    p.add_argument("--out", required=True)
