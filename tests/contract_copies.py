"""Copies of bundled contracts pointing at a data file copied next to them, for end-to-end tests."""

import shutil
from importlib import resources
from pathlib import Path

FIXTURES = Path(str(resources.files("sop_eval").joinpath("fixtures")))


def copy_contract(template: str, tmp: Path, data: Path, **replace: str) -> Path:
    """Write ``fixtures/contracts/<template>`` into ``tmp`` with its data file ``data`` copied beside it.

    The contract's ``participants`` path is pointed at the copy; each ``old=new`` pair of ``replace`` is
    then substituted in the text (each ``old`` must occur).
    """
    tmp.mkdir(parents=True, exist_ok=True)
    shutil.copy(data, tmp / data.name)
    text = (FIXTURES / "contracts" / template).read_text()
    lines = [f'participants = "{data.name}"' if line.startswith("participants = ") else line
             for line in text.splitlines()]
    text = "\n".join(lines) + "\n"
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new)
    path = tmp / "contract.toml"
    path.write_text(text)
    return path
