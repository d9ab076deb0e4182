"""Execute every walkthrough notebook and store it with its outputs (plots inline, text, tables).

    python notebooks/regenerate.py            # all notebooks
    python notebooks/regenerate.py 01_*.ipynb # some

Each notebook runs top to bottom in a fresh kernel in a temporary directory; timings are not recorded.
``tests/test_notebooks.py`` re-executes them and compares the text outputs with the stored ones
(:func:`text_outputs`, which ignores temporary paths, memory addresses and timings), so the stored
outputs never go stale: after a change that moves a figure, run this script and commit the notebooks.
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent
NOTEBOOKS = sorted(HERE.glob("*.ipynb"))
_VOLATILE = [
    (re.compile(r"(/private)?/(tmp|var/folders)/[^\s'\"),]*"), "<tmp>"),
    (re.compile(r"0x[0-9a-f]{6,}"), "0x…"),
    (re.compile(r"\b\d+(\.\d+)?\s?(ms|s|sec|seconds)\b"), "<time>"),
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(\+00:00|Z)?"), "<timestamp>"),
]


def execute(path: Path, timeout: int = 600) -> nbformat.NotebookNode:
    """The notebook at ``path``, executed in a fresh kernel in a temporary directory."""
    book = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory(prefix="sop-eval-nb-") as tmp:
        NotebookClient(book, timeout=timeout, kernel_name="python3", record_timing=False,
                       resources={"metadata": {"path": tmp}}).execute()
    return book


def _normalise(text: str) -> str:
    for pattern, repl in _VOLATILE:
        text = pattern.sub(repl, text)
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


def _joined_streams(outputs: list) -> list:
    """Consecutive chunks of one stream joined: how the kernel splits printed text into messages depends on
    timing, not on what was printed."""
    joined: list = []
    for out in outputs:
        if (out.get("output_type") == "stream" and joined and joined[-1].get("output_type") == "stream"
                and joined[-1].get("name") == out.get("name")):
            joined[-1] = {**joined[-1], "text": joined[-1].get("text", "") + out.get("text", "")}
        else:
            joined.append(out)
    return joined


def text_outputs(book: nbformat.NotebookNode) -> list[list[str]]:
    """Per code cell, its text outputs (streams, plain-text results, errors), normalised for comparison."""
    cells = []
    for cell in book.cells:
        if cell.cell_type != "code":
            continue
        texts = []
        for out in _joined_streams(cell.get("outputs", [])):
            if out.get("output_type") == "stream":
                texts.append(f"{out.get('name')}: " + _normalise(out.get("text", "")))
            elif out.get("output_type") in ("execute_result", "display_data"):
                data = out.get("data", {})
                texts.append(_normalise(data.get("text/plain", "")) if "image/png" not in data else "<figure>")
            elif out.get("output_type") == "error":
                texts.append(f"error: {out.get('ename')}: {out.get('evalue')}")
        cells.append(texts)
    return cells


def main(names: list[str]) -> int:
    paths = [HERE / n for n in names] if names else NOTEBOOKS
    for path in paths:
        book = execute(path)
        for cell in book.cells:
            cell.get("metadata", {}).pop("execution", None)
        nbformat.write(book, path)
        print(f"{path.name}: executed and stored with its outputs")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
