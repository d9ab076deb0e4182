"""A payer's statement: every payment run, clawback and adjustment for that payer, and the balance, as HTML."""

from __future__ import annotations

from html import escape
from pathlib import Path

from sop_eval.errors import SopEvalError, examples
from sop_eval.ledger.due import cumulative_due
from sop_eval.ledger.pence import to_money
from sop_eval.ledger.state import State
from sop_eval.outputs import write_text_atomic
from sop_eval.payments.money import fmt_money

_STYLE = ("body{font-family:sans-serif;max-width:52rem;margin:2rem auto}"
          "td,th{padding:.2rem .6rem;border-bottom:1px solid #ccc}\n"
          ".n{text-align:right;font-variant-numeric:tabular-nums}")


def statement_html(state: State, payer: str) -> str:
    """The statement of ``payer`` as a self-contained HTML page (no person-level data)."""
    if payer not in state.payers:
        raise SopEvalError(f"payer {payer!r} is not a payer of the contract; payers: {examples(state.payers)}.")
    c = state.contract
    i = state.payers.index(payer)

    def money(pence: int) -> str:
        return escape(fmt_money(to_money(pence), c.currency))

    rows = []
    for r in sorted(state.runs + state.clawbacks, key=lambda r: r["seq"]):
        what = f"clawback: {r['reason']}" if "claims" in r else f"payment run to {r['period_end']}"
        rows.append(f"<tr><td>{r['seq']}</td><td>{escape(what)}</td><td class=n>{money(r['paid'][i])}</td></tr>")
    for a in state.adjustments:
        if a["payer"] == payer:
            rows.append(f"<tr><td>{a['seq']}</td><td>adjustment (due at the next run): {escape(a['reason'])}</td>"
                        f"<td class=n>{money(a['amount'])}</td></tr>")
    due = cumulative_due(state, state.last_period_end).totals()[i]
    paid = state.paid()[i]
    role = "commissioner" if i == 0 else "co-funder (top-up)"
    share = c.payers[i].share
    cap = c.payers[i].cap
    cap_text = "" if cap is None else ", cap " + escape(fmt_money(cap, c.currency))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Statement: {escape(payer)}</title>
<style>{_STYLE}</style></head><body>
<h1>Statement for {escape(payer)}</h1>
<p>{escape(c.name)} — {escape(role)}, share {share}{cap_text}.
Ledger entries up to {state.last_seq}.</p>
<table><thead><tr><th>entry</th><th>what</th><th class=n>amount</th></tr></thead><tbody>
{''.join(rows)}
</tbody></table>
<p>Paid (net of recoveries): <b>{money(paid)}</b>. Due to date: <b>{money(due)}</b>.
Balance owed {'to the provider' if due >= paid else 'back by the provider'}: <b>{money(abs(due - paid))}</b>.</p>
</body></html>
"""


def write_statement(state: State, payer: str, out: str | Path) -> Path:
    """Write ``payer``'s statement to ``out`` atomically."""
    return write_text_atomic(out, statement_html(state, payer))
