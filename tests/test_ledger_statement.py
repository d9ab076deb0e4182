"""A payer's statement from the ledger, as HTML and as a PDF typeset with Typst."""

import re
from decimal import Decimal

import pypdf
import pytest

import sop_eval.report.statement as statement_module
from ledger_support import contract_text, write_claims
from sop_eval.cli import main
from sop_eval.errors import SopEvalError
from sop_eval.ledger import Ledger
from sop_eval.report.statement import write_statement
from sop_eval.report.style import money

ROWS = [(f"p{i % 5}", "housed" if i % 2 else "employed", f"2024-{1 + i % 12:02d}-10", "true") for i in range(30)]
MARGIN = 14 * 72 / 25.4  # the PDF's left and right margins (14 mm), in points


@pytest.fixture
def made(tmp_path):
    contract = tmp_path / "c.toml"
    contract.write_text(contract_text(per_person="3000"))
    db = str(tmp_path / "c.ledger.sqlite")
    with Ledger.init(db, contract) as ledger:
        ledger.import_claims(write_claims(tmp_path / "claims.csv", ROWS))
        runs = [ledger.pay("2024-04-30"), ledger.pay("2024-09-30"), ledger.pay("2024-12-31")]
        clawback = ledger.clawback([ledger.state().claim_seq[0]], "evidence withdrawn")
        # a long reason, with a reference that has no place to break a line
        ledger.adjust("council", "125.40", "late_invoice/2024-Q4 settlement agreed with the provider " * 3
                      + "ref. INV" + "0123456789" * 12)
    return db, runs, clawback, tmp_path


def _glyphs(font):
    """``{text: width}`` of a Typst font (a Type0 font over glyph ids): the glyph widths of ``/W`` (thousandths of
    an em), keyed by the text each glyph stands for in ``/ToUnicode`` (a ligature stands for several characters)."""
    widths, w = {}, list(font["/DescendantFonts"][0].get_object()["/W"])
    while w:
        first = int(w.pop(0))
        if isinstance(w[0], list):
            widths.update({first + k: float(x) for k, x in enumerate(w.pop(0))})
        else:
            last, width = int(w.pop(0)), float(w.pop(0))
            widths.update({c: width for c in range(first, last + 1)})
    cmap = font["/ToUnicode"].get_object().get_data().decode("latin-1")
    text = {}
    for block in re.findall(r"beginbfchar(.*?)endbfchar", cmap, re.S):
        for cid, uni in re.findall(r"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
            text[bytes.fromhex(uni).decode("utf-16-be")] = widths[int(cid, 16)]
    assert "beginbfrange" not in cmap  # Typst lists every glyph on its own
    return text


def _advance(font, text):
    """The width of ``text`` in thousandths of an em."""
    glyphs = _glyphs(font)
    longest = max(len(u) for u in glyphs)
    total, i = 0.0, 0
    while i < len(text):
        n = next((n for n in range(longest, 0, -1) if text[i:i + n] in glyphs), 0)
        if n == 0:
            assert text[i] == "\u200b", text[i]  # a break opportunity, no glyph
            i += 1
            continue
        total += glyphs[text[i:i + n]]
        i += n
    return total


def _fragments(path):
    """Every piece of text on every page: (page width, left x, right x, text, y), right x from the font's widths."""
    out = []
    for page in pypdf.PdfReader(path).pages:
        width = float(page.mediabox.width)

        def visit(text, cm, tm, font, size, width=width):
            if not text.strip() or font is None:
                return
            x = cm[4] + tm[4] * cm[0]
            right = x + _advance(font, text.rstrip()) / 1000 * size * cm[0]
            out.append((width, x, right, text, cm[5] + tm[5] * cm[3]))

        page.extract_text(visitor_text=visit)
    return out


def test_pdf_statement_holds_payer_paid_each_run_and_balance_and_fits_the_page(made, capsys):
    db, runs, clawback, tmp = made
    assert main(["ledger", "statement", "--db", db, "--payer", "council", "--out", str(tmp / "statement.html"),
                 "--pdf"]) == 0
    assert "statement.pdf" in capsys.readouterr().out
    with Ledger(db) as ledger:
        st = ledger.statement("council")
    paid = sum((r.by_payer["council"] for r in [*runs, clawback]), Decimal("0.00"))
    assert st.paid == paid and paid > 0 and clawback.by_payer["council"] < 0
    assert st.balance == st.due - st.paid and st.balance != 0
    text = " ".join(" ".join(p.extract_text().split()) for p in pypdf.PdfReader(tmp / "statement.pdf").pages)
    assert "Statement for council" in text
    assert f"Paid (net of recoveries): {money(paid, 'GBP')}" in text
    amounts = [money(r.by_payer["council"], "GBP") for r in runs]
    assert len(set(amounts)) == 3  # three different runs, so each must be found on its own
    for run, amount, line in zip(runs, amounts, st.lines, strict=False):
        assert f"{run.seq} {line.date} payment run to {run.period_end.isoformat()} {amount}" in text
    side = "owed to the provider" if st.balance > 0 else "owed back by the provider"
    assert f"Balance {side}: {money(abs(st.balance), 'GBP')}" in text
    assert money(clawback.by_payer["council"], "GBP") in text  # a recovery shows as a negative amount
    # the HTML beside it says the same
    html = (tmp / "statement.html").read_text()
    assert "Statement for council" in html and money(paid, "GBP") in html
    # every piece of text, in tables or not, lies within the page's text width
    pieces = _fragments(tmp / "statement.pdf")
    assert len(pieces) > 20
    for width, left, right, piece, _ in pieces:
        assert MARGIN - 1 <= left and right <= width - MARGIN + 1, (piece, left, right, width)
    # each table cell ends before the next column begins (columns: where the header cells start)
    header = next(y for *_, piece, y in pieces if piece.strip() == "what")
    columns = sorted(left for _, left, _, _, y in pieces if abs(y - header) < 0.5)
    assert len(columns) == 4
    cells = 0
    for _, left, right, piece, _ in pieces:
        at = [k for k, c in enumerate(columns[:-1]) if abs(left - c) < 0.5]
        if at:
            cells += 1
            assert right <= columns[at[0] + 1], (piece, right, columns[at[0] + 1])
    assert cells >= 10


def test_pdf_instead_of_html_and_atomic_writing(made, monkeypatch):
    db, *_, tmp = made
    with Ledger(db) as ledger:
        st = ledger.statement("central fund")
    assert write_statement(st, tmp / "only.pdf") == (tmp / "only.pdf",)
    assert (tmp / "only.pdf").read_bytes().startswith(b"%PDF") and not (tmp / "only.html").exists()
    assert "Statement for central fund" in pypdf.PdfReader(tmp / "only.pdf").pages[0].extract_text()
    # typesetting fails: neither file is written, the earlier ones stay whole, no temporary file is left
    (tmp / "s.html").write_text("earlier")

    def broken(html):
        raise RuntimeError("typesetting failed")

    monkeypatch.setattr(statement_module, "render_pdf", broken)
    with pytest.raises(RuntimeError):
        write_statement(st, tmp / "s.html", pdf=True)
    assert (tmp / "s.html").read_text() == "earlier" and not (tmp / "s.pdf").exists()
    assert not [p for p in tmp.iterdir() if p.name.endswith(".tmp")]
    with pytest.raises(SopEvalError, match="directory"):
        write_statement(st, tmp)


def test_statement_object_and_unknown_payer(made):
    db, runs, *_ = made
    with Ledger(db) as ledger:
        st = ledger.statement("central fund")
        with pytest.raises(SopEvalError, match="nobody.*payers"):
            ledger.statement("nobody")
    assert [x.kind for x in st.lines] == ["payment run"] * 3 + ["clawback"]
    assert st.summary()["amount"].tolist() == [x.amount for x in st.lines]
    assert st.to_dict()["balance"] == str(st.balance) and "central fund" in repr(st)
    assert st.role == "co-funder (top-up)" and st.share == Decimal("0.2")


def test_statement_names_the_provider_its_issue_date_and_the_day_of_each_run(made, tmp_path):
    db, runs, *_ = made
    restated = tmp_path / "named.toml"
    restated.write_text(contract_text(per_person="3000").replace('currency = "GBP"',
                                                                 'currency = "GBP"\nprovider = "Ledger test provider"'))
    with Ledger(db) as ledger:
        ledger.record_contract(restated.read_text(), str(restated), "provider named")
        st = ledger.statement("council", issued="2025-01-15")
    assert st.issued.isoformat() == "2025-01-15" and st.to_dict()["issued"] == "2025-01-15"
    assert st.provider == "Ledger test provider" and st.to_dict()["provider"] == "Ledger test provider"
    assert all(len(x.date) == 10 and x.date[:2] == "20" for x in st.lines)
    html = statement_module.statement_html(st)
    assert "Paid to Ledger test provider" in html and "Issued 2025-01-15" in html
    assert f"<td>{runs[0].seq}</td><td>{st.lines[0].date}</td><td>payment run to" in html
