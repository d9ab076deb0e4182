"""A payer's ledger statement as a self-contained HTML page and as a PDF typeset from that page (one source of
its text, as for the report), every figure in the report's money style."""

from __future__ import annotations

from html import escape
from pathlib import Path

from sop_eval.errors import SopEvalError
from sop_eval.ledger.statement import Statement
from sop_eval.outputs import write_bytes_atomic
from sop_eval.report.pdf import render_pdf
from sop_eval.report.style import money, pct

_STYLE = ("body{font-family:sans-serif;max-width:52rem;margin:2rem auto}"
          "table{border-collapse:collapse;width:100%}td,th{padding:.2rem .6rem;border-bottom:1px solid #ccc;"
          "text-align:left}\n.n{text-align:right;font-variant-numeric:tabular-nums}.subtitle{color:#555}")


def statement_html(st: Statement) -> str:
    """The statement as a self-contained HTML page (no person-level data)."""
    def m(amount: object) -> str:
        return escape(money(amount, st.currency))

    cap = "" if st.cap is None else f", cap {money(st.cap, st.currency)}"
    org = f"organisation {st.organisation_id}" if st.organisation_id else "no organisation identifier recorded"
    provider = st.provider or "provider not named in the contract"
    if st.provider_organisation_id:
        provider += f" (organisation {st.provider_organisation_id})"
    subtitle = (f"{st.contract} — {st.role}, share {pct(st.share)}{cap}; {org}. "
                f"Paid to {provider}. Issued {st.issued.isoformat()}; ledger entries up to {st.last_entry}.")
    side = "owed to the provider" if st.balance >= 0 else "owed back by the provider"
    rows = "".join(f"<tr><td>{x.entry}</td><td>{escape(x.date)}</td><td>{escape(x.what)}</td>"
                   f"<td class=n>{m(x.amount)}</td></tr>" for x in st.lines)
    if not rows:
        rows = "<tr><td>—</td><td>—</td><td>no payment run, clawback or adjustment yet</td><td class=n>—</td></tr>"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Statement: {escape(st.payer)}</title>
<style>{_STYLE}</style></head><body>
<h1>Statement for {escape(st.payer)}</h1>
<p class="subtitle">{escape(subtitle)}</p>
<section data-section="Balance"><h2>Balance</h2>
<p class="lead">Balance {side}: {m(abs(st.balance))}</p>
<h3>Paid, due and balance</h3>
<table><thead><tr><th>paid (net of recoveries)</th><th>due to date</th><th>balance {side}</th></tr></thead>
<tbody><tr><td class=n>{m(st.paid)}</td><td class=n>{m(st.due)}</td><td class=n>{m(abs(st.balance))}</td></tr>
</tbody></table>
</section>
<section data-section="Ledger entries"><h2>Ledger entries</h2>
<h3>Payment runs, clawbacks and adjustments</h3>
<table><thead><tr><th>entry</th><th>recorded</th><th>what</th><th class=n>amount</th></tr></thead><tbody>
{rows}
</tbody></table>
<p>Paid (net of recoveries): <b>{m(st.paid)}</b>. Due to date: <b>{m(st.due)}</b>.
Balance {side}: <b>{m(abs(st.balance))}</b>.</p>
</section>
</body></html>
"""


def statement_pdf(st: Statement) -> bytes:
    """The statement typeset as PDF bytes (from :func:`statement_html`)."""
    return render_pdf(statement_html(st))


def write_statement(st: Statement, out: str | Path, *, pdf: bool = False) -> tuple[Path, ...]:
    """Write the statement to ``out``, atomically: HTML, and with ``pdf`` also the PDF beside it (same name,
    ``.pdf``); an ``out`` ending in ``.pdf`` gets the PDF instead of the HTML. Both are made before either is
    written. Returns the paths written."""
    out = Path(out)
    if out.is_dir():
        raise SopEvalError(f"statement output '{out}' is a directory; give a file name such as statement.html.")
    html = statement_html(st)
    if out.suffix.lower() == ".pdf":
        return (write_bytes_atomic(out, render_pdf(html)),)
    typeset = render_pdf(html) if pdf else None
    written = [write_bytes_atomic(out, html.encode("utf-8"))]
    if typeset is not None:
        written.append(write_bytes_atomic(out.with_suffix(".pdf"), typeset))
    return tuple(written)
