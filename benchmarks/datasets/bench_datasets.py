"""Time the simulated data sets at their defaults (and the demonstration end to end); writes results.md.

Run: .venv/bin/python benchmarks/datasets/bench_datasets.py
"""

import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sop_eval.datasets import load_lalonde, make_reoffending, make_staggered_panel


def best_of(fn, repeat=5):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    rows = [
        ("make_reoffending() — 2 × 1,000 treated + 20,000 pool", best_of(make_reoffending)),
        ("make_staggered_panel() — 300 units × 10 periods", best_of(make_staggered_panel)),
        ("load_lalonde()", best_of(load_lalonde)),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "sop_eval.cli", "demo", "--out", str(Path(tmp) / "demo")],
                       check=True, capture_output=True)
        rows.append(("`sop-eval demo`, whole run in a new process (imports included)", time.perf_counter() - start))
    lines = [
        "# Simulated data and the demonstration",
        "",
        f"Machine: {platform.machine()}, Python {platform.python_version()}; best of 5 for the data sets, one run "
        "for the demo. Reproduce: `.venv/bin/python benchmarks/datasets/bench_datasets.py`.",
        "",
        "| what | seconds |",
        "|---|---:|",
        *[f"| {name} | {seconds:.3f} |" for name, seconds in rows],
        "",
    ]
    out = Path(__file__).with_name("results.md")
    out.write_text("\n".join(lines))
    print(out.read_text())


if __name__ == "__main__":
    main()
