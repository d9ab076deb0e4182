"""The report as a PDF, typeset with Typst (the ``typst`` package: self-contained, no browser, no system libraries).

The PDF is made from the bundle's ``report.html`` (the one source of the report's text), so ``sop-eval
report BUNDLE --pdf`` needs nothing but the bundle. Every table fits the page: columns share the text
width and wrap, and a table with more than :data:`MAX_COLUMNS` columns is split into parts that repeat
its first column.
"""

from __future__ import annotations

import base64
import re
import tempfile
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import typst

from sop_eval.errors import SopEvalError
from sop_eval.outputs import write_bytes_atomic

MAX_COLUMNS = 10
_RUN = 20


@dataclass
class _Table:
    caption: str
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)


@dataclass
class _Section:
    title: str
    kind: str = ""
    blocks: list[tuple[str, object]] = field(default_factory=list)


class _Reader(HTMLParser):
    """Reads the report's own HTML (title, subtitle, sections of paragraphs, tables and figures)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title = ""
        self.subtitle = ""
        self.sections: list[_Section] = []
        self._text: list[str] | None = None
        self._tag = ""
        self._klass = ""
        self._caption = ""
        self._table: _Table | None = None
        self._row: list[str] | None = None
        self._in_head = False
        self._figure: dict[str, str] | None = None
        self._in_nav = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "nav":
            self._in_nav = True
        if self._in_nav:
            return
        if tag == "section":
            self.sections.append(_Section(a.get("data-section", ""), a.get("class", "")))
        elif tag in ("h1", "h2", "h3", "p", "figcaption") or (tag in ("td", "th") and self._row is not None):
            self._text, self._tag, self._klass = [], tag, a.get("class", "")
        elif tag == "table":
            self._table = _Table(self._caption)
        elif tag == "thead":
            self._in_head = True
        elif tag == "tr" and self._table is not None:
            self._row = []
        elif tag == "figure":
            self._figure = {}
        elif tag == "img" and self._figure is not None:
            self._figure["src"] = a.get("src", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "nav":
            self._in_nav = False
            return
        if self._in_nav:
            return
        text = " ".join("".join(self._text or []).split())
        if tag in ("td", "th") and self._row is not None:
            self._row.append(text)
            self._text = None
        elif tag == "tr" and self._table is not None and self._row is not None:
            (self._table.header.extend if self._in_head else self._table.rows.append)(self._row)  # type: ignore[operator]
            self._row = None
        elif tag == "thead":
            self._in_head = False
        elif tag == "table" and self._table is not None:
            self.sections[-1].blocks.append(("table", self._table))
            self._table = None
        elif tag == "h1":
            self.title = text
        elif tag == "p" and self._klass == "subtitle":
            self.subtitle = text
        elif tag == "h3":
            self._caption = text
        elif tag == "p" and self.sections:
            self.sections[-1].blocks.append(("lead" if self._klass == "lead" else self._klass or "p", text))
        elif tag == "figcaption" and self._figure is not None:
            self._figure["caption"] = text
        elif tag == "figure" and self._figure is not None:
            self.sections[-1].blocks.append(("figure", self._figure))
            self._figure = None
        if tag in ("h1", "h2", "h3", "p", "figcaption"):
            self._text = None

    def handle_data(self, data: str) -> None:
        if self._text is not None and not self._in_nav:
            self._text.append(data)


_UNBROKEN = re.compile(f"[^\\s\u200b]{{{2 * _RUN}}}[^\\s\u200b]*")


def _s(text: str) -> str:
    """A Typst string literal; underscores and slashes may break a line (long identifiers in narrow columns), and
    so may any run of ``2 * _RUN`` or more characters without one, every ``_RUN`` characters."""
    text = text.replace("_", "_\u200b").replace("/", "/\u200b")
    text = _UNBROKEN.sub(lambda m: "\u200b".join(re.findall(f".{{1,{_RUN}}}", m[0])), text)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _table(t: _Table) -> list[str]:
    width = len(t.header) or max((len(r) for r in t.rows), default=0)
    if width == 0:
        return []
    parts: list[list[int]] = []
    rest = list(range(1, width))
    while True:
        parts.append([0, *rest[: MAX_COLUMNS - 1]])
        rest = rest[MAX_COLUMNS - 1:]
        if not rest:
            break
    out = []
    for k, cols in enumerate(parts):
        caption = t.caption + (f" (part {k + 1} of {len(parts)})" if len(parts) > 1 else "")
        out.append(f"#text(weight: \"bold\", {_s(caption)})")
        size = "7pt" if len(cols) > 5 else "8pt"
        cells = []
        if t.header:
            cells.append("table.header(" + ", ".join(f"strong({_s(t.header[i])})" for i in cols if i < len(t.header))
                         + ")")
        for row in t.rows:
            cells += [_s(row[i]) if i < len(row) else '""' for i in cols]
        out.append(f"#block(breakable: true, text(size: {size}, table(columns: ({'1fr, ' * len(cols)}), "
                   f"stroke: 0.4pt + luma(180), inset: 3pt, align: left, {', '.join(cells)})))")
    return out


def typst_source(html: str, images: Path) -> str:
    """The Typst document of a report (``images``: where its figures are written as PNG files)."""
    reader = _Reader()
    reader.feed(html)
    if not reader.sections:
        raise SopEvalError("the report has no sections; give the report.html that `sop-eval run` wrote.")
    lines = [
        "#set document(date: none)",  # no typesetting time: the PDF is a function of report.html alone
        '#set page(paper: "a4", margin: (x: 14mm, y: 16mm), numbering: "1 / 1")',
        '#set text(size: 9.5pt, lang: "en")',
        "#set par(justify: false)",
        f"#text(size: 15pt, weight: \"bold\", {_s(reader.title)})",
        "",
        f"#text(fill: luma(90), {_s(reader.subtitle)})",
        "",
    ]
    n = 0
    for section in reader.sections:
        lines.append(f"#heading(level: 1, {_s(section.title)})")
        for kind, value in section.blocks:
            if kind == "table":
                lines += _table(value)  # type: ignore[arg-type]
            elif kind == "figure":
                fig = value  # type: ignore[assignment]
                src = fig.get("src", "")  # type: ignore[union-attr]
                if not src.startswith("data:image/png;base64,"):
                    continue
                n += 1
                name = f"figure{n}.png"
                (images / name).write_bytes(base64.b64decode(src.split(",", 1)[1]))
                lines.append(f"#figure(image({_s(name)}, width: 85%), caption: {_s(fig.get('caption', ''))})")  # type: ignore[union-attr]
            elif kind == "lead":
                lines.append(f"#text(size: 12pt, weight: \"bold\", {_s(str(value))})")
            elif kind == "note":
                lines.append(f"#block(fill: rgb(\"#fff7dc\"), inset: 4pt, width: 100%, "
                             f"text(size: 8.5pt, {_s(str(value))}))")
            elif kind == "provenance":
                lines.append(f"#text(size: 7.5pt, fill: luma(70), {_s(str(value))})")
            else:
                lines.append(f"#par({_s(str(value))})")
            lines.append("")
        if section.kind == "certificate":
            lines.append("#pagebreak()")
    return "\n".join(lines) + "\n"


PDF = "report.pdf"
"""The typeset report's name in a results bundle."""


def render_pdf(html: str) -> bytes:
    """Typeset the report ``html`` as PDF bytes: the same bytes for the same ``html`` and Typst version (no
    typesetting date is embedded), so ``verify`` can re-typeset a verified report.html and compare."""
    with tempfile.TemporaryDirectory(prefix="sop-eval-pdf-") as tmp:
        root = Path(tmp)
        (root / "report.typ").write_text(typst_source(html, root), encoding="utf-8")
        return bytes(typst.compile(str(root / "report.typ"), root=str(root)))


def write_pdf(bundle: str | Path) -> Path:
    """Write ``report.pdf`` beside the ``report.html`` of a results bundle (atomically); returns its path."""
    bundle = Path(bundle)
    source = bundle / "report.html"
    if not source.is_file():
        raise SopEvalError(f"'{bundle}' holds no report.html; give a directory written by `sop-eval run`.")
    return write_bytes_atomic(bundle / PDF, render_pdf(source.read_text(encoding="utf-8")))
