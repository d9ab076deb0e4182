"""Every notebook runs top to bottom on the bundled data, so the walkthroughs never rot."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))


def test_the_five_walkthroughs_exist():
    assert [p.stem for p in NOTEBOOKS] == [
        "01_matched_cohort_evaluation", "02_assessor_verification", "03_contract_design", "04_staggered_rollout_did",
        "05_contract_ledger",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes(path, tmp_path):
    book = nbformat.read(path, as_version=4)
    NotebookClient(book, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [o for cell in book.cells if cell.cell_type == "code" for o in cell.get("outputs", [])
              if o.get("output_type") == "error"]
    assert errors == []
    assert any(cell.get("outputs") for cell in book.cells if cell.cell_type == "code")
