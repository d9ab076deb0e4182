"""The self-contained HTML report: one file, inline CSS, figures embedded, all user text escaped."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup


@dataclass(frozen=True)
class Figure:
    """A rendered figure: PNG bytes, a caption and the file name it is saved under in ``figures/``."""

    name: str
    png: bytes
    caption: str

    def data_uri(self) -> str:
        """The PNG as a ``data:`` URI, so the report needs no external file."""
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


@dataclass(frozen=True)
class Section:
    """One section of the report: paragraphs of text, tables and figures, in that order."""

    title: str
    paragraphs: Sequence[str] = ()
    tables: Sequence[tuple[str, pd.DataFrame]] = ()
    figures: Sequence[Figure] = ()
    notes: Sequence[str] = field(default=())
    kind: str = ""


def figure_png(fig: Any, dpi: int = 110) -> bytes:
    """Render a matplotlib figure to PNG bytes (metadata stripped so output is reproducible)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    return buffer.getvalue()


def _table_html(frame: pd.DataFrame) -> Markup:
    # pandas escapes every cell and header when escape=True; the result is then safe to embed
    html = frame.to_html(index=False, escape=True, border=0, classes="data", na_rep="—", float_format=_fmt)
    return Markup(html)


def _fmt(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.4g}" if abs(value) < 1 else f"{value:,.2f}"


def render_report(title: str, subtitle: str, sections: Sequence[Section]) -> str:
    """Render the report to one HTML string."""
    env = Environment(
        loader=PackageLoader("sop_eval", "report/templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["table"] = _table_html
    template = env.get_template("report.html.j2")
    return template.render(title=title, subtitle=subtitle, sections=sections)
