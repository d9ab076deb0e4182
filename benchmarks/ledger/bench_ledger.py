"""One million rate-card claims imported, sampled and paid in one run: SQLite, and PostgreSQL when available.

The contract is a two-payer rate card (council 80%, central fund top-up 20%, the fund capped) with a
per-person cap, so every claim goes through the cap pass. Timed: writing the claims CSV (not part of the
ledger), ``import_claims`` (validation, pseudonymised keys, the hash chain over a million entries, bulk
insert), ``draw_sample`` (replaying the ledger, a 1% sample stratified by outcome), ``record_findings``
and ``pay`` (replay, prices, caps over the life, payer split, the run's entry), then ``verify``.

Run: ``.venv/bin/python benchmarks/ledger/bench_ledger.py [N] [--postgres]`` (writes results.md next to
it). ``--postgres`` starts a throwaway server from Debian's ``postgresql`` package, as the tests do.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd

from sop_eval.ledger import Ledger

HERE = Path(__file__).parent


def _test_helpers(name: str) -> ModuleType:
    """A helper module of the test suite, loaded from its file (``tests/`` is not a package)."""
    path = HERE.parents[1] / "tests" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


_support = _test_helpers("ledger_support")
PostgresServer = _support.PostgresServer
contract_text = _support.contract_text
postgres_bin = _support.postgres_bin


def claims_csv(path: Path, n: int, seed: int = 1) -> None:
    rng = np.random.default_rng(seed)
    days = rng.integers(0, 5 * 365, n)
    frame = pd.DataFrame({
        "claim_id": np.char.add("C", np.arange(n).astype(str)),
        "person": np.char.add("P", rng.integers(0, n // 2, n).astype(str)),
        "outcome": np.where(rng.random(n) < 0.7, "housed", "employed"),
        "date": (np.datetime64("2024-01-01") + days).astype(str),
        "validated": np.where(rng.random(n) < 0.97, "true", "false"),
        "evidence": np.char.add("EV", np.arange(n).astype(str)),
    })
    frame.to_csv(path, index=False)


def run(db: str, contract: Path, claims: Path, n: int) -> dict[str, float]:
    times = {}
    t0 = time.perf_counter()
    ledger = Ledger.init(db, contract)
    times["init"] = time.perf_counter() - t0
    t = time.perf_counter()
    result = ledger.import_claims(claims)
    assert result.added == n, result
    times["import"] = time.perf_counter() - t
    t = time.perf_counter()
    seq, sample = ledger.draw_sample("2024-01-01", "2028-12-31", fraction=0.01, seed=3)
    times["sample"] = time.perf_counter() - t
    t = time.perf_counter()
    ledger.record_findings(seq, {c: "invalid" if i % 25 == 0 else "valid" for i, c in enumerate(sample["claim"])})
    times["findings"] = time.perf_counter() - t
    t = time.perf_counter()
    paid = ledger.pay("2028-12-31")
    times["pay"] = time.perf_counter() - t
    times["import + sample + findings + pay"] = times["import"] + times["sample"] + times["findings"] + times["pay"]
    t = time.perf_counter()
    assert ledger.verify().ok
    times["verify"] = time.perf_counter() - t
    times["paid (GBP)"] = float(paid.total)
    ledger.close()
    return times


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    n = int(args[0]) if args else 1_000_000
    work = Path(tempfile.mkdtemp(prefix="bench-ledger-"))
    contract = work / "contract.toml"
    contract.write_text(contract_text(per_person="6000", fund_cap="150000000"))
    claims = work / "claims.csv"
    t = time.perf_counter()
    claims_csv(claims, n)
    print(f"claims CSV of {n:,} rows written in {time.perf_counter() - t:.1f} s")
    results = {"SQLite (WAL, synchronous=FULL)": run(str(work / "ledger.sqlite"), contract, claims, n)}
    if "--postgres" in sys.argv and postgres_bin() is not None:
        server = PostgresServer(postgres_bin()).start()
        try:
            results["PostgreSQL (local server, COPY)"] = run(server.create_database("bench"), contract, claims, n)
        finally:
            server.stop()
    lines = [f"# Ledger benchmark: {n:,} claims", "",
             f"{platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} cores, load average "
             f"{os.getloadavg()[0]:.1f} at the end", "",
             "| step | " + " | ".join(results) + " |", "|---|" + "---:|" * len(results)]
    for step in next(iter(results.values())):
        cells = [f"{r[step]:,.2f}" if step == "paid (GBP)" else f"{r[step]:.1f} s" for r in results.values()]
        lines.append(f"| {step} | " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    print(text)
    (HERE / "results.md").write_text(text)


if __name__ == "__main__":
    main()
