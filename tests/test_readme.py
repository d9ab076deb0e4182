"""The README's Python examples run as written, from the repository root."""

import re
import warnings
from pathlib import Path

import matplotlib
import pytest

ROOT = Path(__file__).parent.parent
BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)


def test_readme_has_examples():
    assert len(BLOCKS) >= 5


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(index, monkeypatch):
    matplotlib.use("Agg")
    monkeypatch.chdir(ROOT)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(compile(BLOCKS[index], f"README.md python block {index}", "exec"), {"__name__": "readme"})


QUOTED = re.compile(r"^(?P<expr>\S.*?)\s+#\s*(?P<approx>≈\s*)?(?P<value>-?\d+(?:\.\d+)?|\{.*\})\s*$")


def _quoted_figures() -> list[tuple[int, str, str, bool]]:
    found = []
    for index, block in enumerate(BLOCKS):
        for line in block.splitlines():
            m = QUOTED.match(line)
            if m:
                found.append((index, m["expr"], m["value"], bool(m["approx"])))
    return found


def test_readme_quotes_figures_to_check():
    assert len(_quoted_figures()) >= 3


@pytest.mark.parametrize("index, expr, value, approx", _quoted_figures())
def test_readme_quoted_figure_is_what_the_example_gives(index, expr, value, approx, monkeypatch):
    """A figure the README quotes in a comment (``expr  # 0.053575`` or ``# ≈ 0.107``) is what ``expr`` gives."""
    from decimal import Decimal

    matplotlib.use("Agg")
    monkeypatch.chdir(ROOT)
    namespace = {"__name__": "readme"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(compile(BLOCKS[index], f"README.md python block {index}", "exec"), namespace)
        got = eval(expr, namespace)
    if value.startswith("{"):
        assert got == eval(value, {"Decimal": Decimal})
        return
    decimals = len(value.split(".")[1]) if "." in value else 0
    assert abs(float(got) - float(value)) <= (5 if approx else 0.5) * 10 ** -decimals
