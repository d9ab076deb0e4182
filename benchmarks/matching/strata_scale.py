"""CEM and subclassification at scale, balance of the CEM cohort, and the largest pool full matching solves in 60 s.

Run from the repository root:
``PYTHONPATH=src python benchmarks/matching/strata_scale.py [--repeats 2] [--base DIR] [--full] [--size N_T N_C]``
(default 100,000 treated + 10,000,000 controls, 10 covariates: 8 normal, two integer-coded categorical).
Each group of measurements runs in a fresh interpreter (BLAS limited to one thread); reported are wall-clock and
CPU seconds (user + system, all threads) of the best of ``--repeats`` runs (least CPU), and the child's peak
resident memory (data included). With ``--base DIR`` the same runs use another checkout's ``src`` (the code
before a change), in the same invocation, for the ratio. ``--full`` also reruns the full-matching sweep (slow);
otherwise the sweep's previous figures are kept. Writes strata_scale.json and strata_scale.md beside this file.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
STEPS = (("cem", "`match(method=\"cem\")`, Sturges cut points"),
         ("cem_3_bins", "`match(method=\"cem\", cutpoints=3)`"),
         ("subclass", "`match(method=\"subclass\", distance=<score column>)`, 6 subclasses"),
         ("balance_cem", "`sop_eval.balance()` on the CEM cohort"),
         ("matched_balance_cem", "`MatchedCohort.balance()` on the CEM cohort"))


def make(n_t: int, n_c: int, p: int = 10, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = n_t + n_c
    cols = {f"x{j}": rng.normal(size=n) + (0.3 if j < 3 else 0.0) * np.r_[np.ones(n_t), np.zeros(n_c)]
            for j in range(p - 2)}
    cols["g1"] = rng.integers(0, 3, n)
    cols["g2"] = rng.integers(0, 2, n)
    return pd.DataFrame({"t": np.r_[np.ones(n_t, np.int8), np.zeros(n_c, np.int8)], **cols})


def _clock() -> tuple[float, float]:
    t = os.times()
    return time.perf_counter(), t.user + t.system


def _best(fn, repeats: int) -> tuple[dict, object]:
    runs, out = [], None
    for _ in range(repeats):
        w0, c0 = _clock()
        out = fn()
        w1, c1 = _clock()
        runs.append({"wall_s": round(w1 - w0, 2), "cpu_s": round(c1 - c0, 2)})
    return min(runs, key=lambda r: r["cpu_s"]) | {"runs": runs}, out


def child(n_t: int, n_c: int, repeats: int) -> dict:
    import sop_eval

    df = make(n_t, n_c)
    covs = [c for c in df.columns if c != "t"]
    out: dict = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sop_eval.match(make(500, 50_000), "t", covs, method="cem", cutpoints=3)  # warm-up: imports
        out["cem"], m = _best(lambda: sop_eval.match(df, "t", covs, method="cem"), repeats)
        out["cem_matched_treated"] = m.n_matched_treated
        out["cem_3_bins"], m3 = _best(lambda: sop_eval.match(df, "t", covs, method="cem", cutpoints=3), repeats)
        out["cem_3_bins_matched_treated"] = m3.n_matched_treated
        del m3
        dfp = df.assign(ps=1 / (1 + np.exp(-(df["x0"] + df["x1"]).to_numpy() / 2)))
        out["subclass"], ms = _best(lambda d=dfp: sop_eval.match(d, "t", covs, method="subclass", distance="ps"),
                                    repeats)
        out["subclass_weights_sum"] = float(ms.weights.sum())
        del ms, dfp
        out["balance_cem"], bal = _best(lambda: sop_eval.balance(m), repeats)
        out["balance_cem_smd_after"] = bal.table["smd_after"].round(12).tolist()
        out["matched_balance_cem"], table = _best(lambda: m.balance(), 1)
        out["matched_balance_cem_smd_after"] = table.table["smd_after"].round(12).tolist()
    out["peak_rss_gb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2, 2)
    return out


def run_child(src: Path, size: tuple[int, int], repeats: int, timeout: float) -> dict:
    env = {**ENV, "PYTHONPATH": f"{src}{os.pathsep}{HERE}"}
    cmd = [sys.executable, str(Path(__file__)), "--child", str(repeats), "--size", *map(str, size)]
    try:
        res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"status": f"did not finish in {timeout:.0f} s"}
    if res.returncode != 0:
        return {"status": "failed: " + res.stderr.strip()[-300:]}
    return {"status": "ok", **json.loads(res.stdout.strip().splitlines()[-1])}


def full_sweep() -> list[dict]:
    """Full matching: grow the pool until one run takes over 60 s (wall-clock)."""
    import sop_eval

    full = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for n_pool in (1_000, 2_000, 5_000, 10_000, 20_000):
            small = make(max(n_pool // 10, 1), n_pool, seed=2)
            start = time.perf_counter()
            sop_eval.match(small, "t", ["x0", "x1", "x2"], method="full")
            sec = time.perf_counter() - start
            full.append({"treated": len(small) - n_pool, "controls": n_pool, "seconds": round(sec, 2)})
            if sec > 60:
                break
    return full


NOTES = """## Where the time went (cProfile of the whole `match()` call at full size)

- CEM: cutting the 8 numeric covariates into bins (temporaries of 80 MB per step), one int64 copy of every
  column before the mixed-radix key, and a hash of all 10,100,000 keys (`pandas.factorize`, millions of distinct
  keys) plus a second hash to order the strata. Now the bins are worked out in one float buffer, the key is built
  in place, and only the treated units' strata are hashed (every stratum holding both groups is among them);
  each control is looked up in that small table. Same strata, same numbering, same weights.
- Subclassification on a score column: the covariate design matrix (still built, to check the covariates) was
  copied once more into a DataFrame (now shares its memory), and four `np.unique` sorts of 10^7 subclass codes
  (now counted with `bincount`: the codes are 1..k).
- `balance()`: searching 10^5 unsorted values among 10^7 sorted points jumps through memory for every value; the
  values are now searched in sorted order (the treated values are sorted once anyway; the weighted units are
  sorted and the positions put back in their order, so sums run in the same order and every statistic is
  bit-identical). Each group's variance is computed once instead of twice. `MatchedCohort.balance()` now takes
  its statistics from `balance()` (one rule; before, a slower second implementation evaluated each weighted eCDF
  by sorting all units again).
"""


def _t(r: dict | None) -> str:
    return "—" if not r or "wall_s" not in r else f"{r['wall_s']:.1f} s wall, {r['cpu_s']:.1f} s CPU"


def write(res: dict) -> None:
    new, base = res["sop_eval"], res.get("base") or {}
    n_t, n_c = res["size"]
    lines = [
        "# CEM, subclassification and full matching at scale", "",
        f"`PYTHONPATH=src python benchmarks/matching/strata_scale.py --base <checkout of the previous code>` "
        f"(from the repository root). {n_t:,} treated + {n_c:,} controls, 10 covariates (8 normal, two "
        f"integer-coded categorical). Machine: {res['machine']}. All figures from one run ({res['date']}), best of "
        f"{res['repeats']} (the run with the least CPU time; `MatchedCohort.balance()` single run), each code in "
        f"its own fresh interpreter. Load average (1, 5, 15 min) at the start {res['load_start']}, at the end "
        f"{res['load_end']}: the 2 cores were shared with other work, so wall times are inflated and the CPU "
        "times are the comparable figures.", "",
        "| step | this code | previous code | previous / this (CPU) |", "|---|---|---|---|",
    ]
    for key, label in STEPS:
        b = base.get(key)
        ratio = f"{b['cpu_s'] / new[key]['cpu_s']:.2f}×" if b and key in new else "—"
        lines.append(f"| {label} | {_t(new.get(key))} | {_t(b)} | {ratio} |")
    lines += ["", f"Peak resident memory (process, data and all steps included): {new.get('peak_rss_gb', 0):.2f} GB "
              f"(limit 8 GB)" + (f"; previous code {base['peak_rss_gb']:.2f} GB." if base.get("peak_rss_gb") else "."),
              ""]
    if base:
        same = all(new.get(k) == base.get(k) for k in ("cem_matched_treated", "cem_3_bins_matched_treated",
                                                        "subclass_weights_sum", "balance_cem_smd_after"))
        lines += [f"Results identical to the previous code (matched counts, weight sums, balance SMDs to 1e-12): "
                  f"{'yes' if same else 'NO'}.", ""]
    lines += [f"CEM matched {new.get('cem_matched_treated', 0):,} treated (Sturges), "
              f"{new.get('cem_3_bins_matched_treated', 0):,} with 3 bins.", "",
              "## Full matching (wall-clock, one run each" + ("" if res.get("full_rerun") else
                                                            "; from an earlier run, not rerun here: `--full`") + ")",
              "", "| pool | seconds |", "|---|---|"]
    lines += [f"| {r['treated']:,} treated × {r['controls']:,} controls | {r['seconds']} |"
              for r in res.get("full", [])]
    lines += ["", NOTES.strip()]
    (HERE / "strata_scale.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--base", type=Path, help="a checkout of the previous code (its src/ is used)")
    parser.add_argument("--size", type=int, nargs=2, default=[100_000, 10_000_000])
    parser.add_argument("--full", action="store_true", help="rerun the full-matching sweep")
    parser.add_argument("--child", type=int)
    parser.add_argument("--from-json", action="store_true")
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(child(*args.size, args.child)))
        return
    path = HERE / "strata_scale.json"
    if args.from_json:
        write(json.loads(path.read_text()))
        return
    old = json.loads(path.read_text()) if path.exists() else {}

    def load() -> str:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())

    res = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
           "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "repeats": args.repeats,
           "size": args.size, "load_start": load()}
    res["sop_eval"] = run_child(ROOT / "src", tuple(args.size), args.repeats, 3600)
    print("sop_eval", res["sop_eval"], flush=True)
    if args.base:
        res["base"] = run_child(args.base / "src", tuple(args.size), args.repeats, 3600)
        print("base", res["base"], flush=True)
    res["load_end"] = load()
    res["full"] = full_sweep() if args.full else old.get("full", [])
    res["full_rerun"] = bool(args.full)
    path.write_text(json.dumps(res, indent=1) + "\n")
    write(res)


if __name__ == "__main__":
    main()
