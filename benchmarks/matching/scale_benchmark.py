"""Scale benchmark: 100,000 treated + 10,000,000 controls, 10 covariates (benchmarks/matching/data.py).

Run from the repository root:  .venv/bin/python benchmarks/matching/scale_benchmark.py [--repeats 3] [--base DIR]
Each measurement runs in a fresh interpreter (BLAS limited to one thread; sop_eval's own block threads use
the machine's cores). Reported: wall-clock and CPU seconds (user + system, all threads) of the best run
(the run with the least CPU), because the machine may be shared: CPU time is what a busy machine does not
inflate much, wall time is what an idle one would show. Measured:

- sop_eval: the logit fit (``fit_logit``), the whole ``match()`` (design matrix, fit, 1:1 nearest without
  replacement, weights, result), ``balance()`` on the matched cohort, peak resident memory of the process;
  with ``--base DIR`` the same for another checkout's ``src`` (the code before this change), for the ratio;
- R ``glm(family = binomial)`` on the same data (read from a raw float64 file, reading not timed), at 1,000,000
  rows and at the full size when R manages it.

Writes benchmarks/matching/scale_results.json and scale_results.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
SIZE = (100_000, 10_000_000)


def _clock() -> tuple[float, float]:
    t = os.times()
    return time.perf_counter(), t.user + t.system


def _best(fn, repeats: int) -> dict:
    runs = []
    for _ in range(repeats):
        w0, c0 = _clock()
        fn()
        w1, c1 = _clock()
        runs.append({"wall_s": w1 - w0, "cpu_s": c1 - c0})
    return min(runs, key=lambda r: r["cpu_s"]) | {"runs": runs}


def child(n_t: int, n_c: int, repeats: int) -> dict:
    import numpy as np
    from data import COVARIATES, make_problem

    import sop_eval
    from sop_eval.cohorts import design
    from sop_eval.cohorts.propensity import fit_logit

    df = make_problem(n_t, n_c, seed=1)
    sop_eval.match(make_problem(50, 500), "treat", COVARIATES)  # warm-up: imports
    treat = df["treat"].to_numpy().astype(bool)
    out: dict = {}

    def fit():
        X = design.covariate_matrix(df, COVARIATES, all_levels=False)
        return fit_logit(X, treat)

    out["fit"] = _best(fit, repeats)
    out["coefficients"] = fit()[2].tolist()
    out["match"] = _best(lambda: sop_eval.match(df, "treat", COVARIATES, warn_dropped=1.0), repeats)
    m = sop_eval.match(df, "treat", COVARIATES, warn_dropped=1.0)
    out["pairs"] = int(len(m.pairs))
    if importlib.util.find_spec("sop_eval.cohorts.assessment") is not None:
        from sop_eval.cohorts.assessment import balance

        out["balance"] = _best(lambda: balance(m), repeats)
    out["matched_balance_table"] = _best(lambda: m.balance(), 1)
    out["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    del np
    return out


def run_child(src: Path, repeats: int, timeout: float) -> dict:
    env = {**ENV, "PYTHONPATH": f"{src}{os.pathsep}{HERE}"}
    cmd = [sys.executable, str(Path(__file__)), "--child", str(repeats)]
    try:
        res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"status": f"did not finish in {timeout:.0f} s"}
    if res.returncode != 0:
        return {"status": "failed: " + res.stderr.strip()[-300:]}
    return {"status": "ok", **json.loads(res.stdout.strip().splitlines()[-1])}


def r_glm(n_rows: int, repeats: int, timeout: float) -> dict:
    import numpy as np
    from data import COVARIATES, make_problem

    df = make_problem(SIZE[0], SIZE[1], seed=1)
    if n_rows < len(df):  # all treated first: keep the treated share
        keep = np.random.default_rng(2).choice(len(df), size=n_rows, replace=False)
        df = df.iloc[np.sort(keep)]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "problem.bin"
        np.asfortranarray(df[["treat", *COVARIATES]].to_numpy(dtype=np.float64)).ravel(order="F").tofile(path)
        del df
        try:
            res = subprocess.run(["Rscript", str(HERE / "bench_glm.R"), str(path), str(n_rows), str(repeats)],
                                 env=ENV, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"status": f"did not finish in {timeout:.0f} s"}
    if res.returncode != 0:
        return {"status": "failed: " + res.stderr.strip()[-300:]}
    return {"status": "ok", **json.loads(res.stdout.strip().splitlines()[-1])}


def _t(r: dict | None) -> str:
    return "—" if not r else f"{r['wall_s']:.1f} s wall, {r['cpu_s']:.1f} s CPU"


def write(res: dict) -> None:
    new, base = res["sop_eval"], res.get("base") or {}
    lines = [
        "# Scale benchmark: 100,000 treated + 10,000,000 controls, 10 covariates",
        "",
        f"Machine: {res['machine']}; load average (1, 5, 15 min) at the start {res['load']}"
        + (f", at the end {res['load_end']}" if res.get("load_end") else "") + ". All figures from one run "
        f"({res['date']}), best of {res['repeats']} (the run with the least CPU time). CPU time is user + system "
        "over all threads; the machine was shared with other work, so wall times are inflated and the CPU times "
        "are the comparable figures. Reproduce: `.venv/bin/python benchmarks/matching/scale_benchmark.py "
        "--base <checkout of the previous code>`.",
        "",
        "| step | this code | previous code | previous / this (CPU) |",
        "|---|---|---|---|",
    ]
    for key, label in (("fit", "logit fit (design matrix + `fit_logit`)"), ("match", "whole `match()` (logit + 1:1 "
                       "nearest)"), ("balance", "`balance()` on the matched cohort"),
                       ("matched_balance_table", "`MatchedCohort.balance()` (single run)")):
        if key not in new:
            continue
        b = base.get(key)
        ratio = f"{b['cpu_s'] / new[key]['cpu_s']:.2f}×" if b else "—"
        lines.append(f"| {label} | {_t(new[key])} | {_t(b)} | {ratio} |")
    lines += ["", f"Peak resident memory (process, data included): {new['peak_rss_gb']:.2f} GB (limit 8 GB)"
              + (f"; previous code {base['peak_rss_gb']:.2f} GB." if base.get("peak_rss_gb") else "."), ""]
    if base.get("coefficients"):
        import numpy as np

        a, b = np.array(new["coefficients"]), np.array(base["coefficients"])
        lines.append(f"Logit coefficients, this code against the previous (intercept start, no blocks): largest "
                     f"relative difference {float(np.max(np.abs(a - b) / np.abs(b))):.1e}.")
        lines.append("")
    r_date = f" (figures from the run of {res['r_glm_date']})" if res.get("r_glm_date") else ""
    lines += [f"## R `glm(family = binomial)` on the same data (the floor to beat){r_date}", "",
              "| rows | R glm (time, IRLS iterations, R's peak memory) | sop_eval logit fit (full size) "
              "| R / sop_eval (CPU) |", "|---|---|---|---|"]
    for row in res["r_glm"]:
        r = row["result"]
        if r.get("status") != "ok":
            lines.append(f"| {row['n']:,} | {r.get('status')} | | |")
            continue
        ratio = (f"{r['cpu_s'] / new['fit']['cpu_s']:.2f}×" if row["n"] == sum(SIZE) else
                 "— (R at fewer rows than sop_eval)")
        lines.append(f"| {row['n']:,} | {r['elapsed_s']:.1f} s wall, {r['cpu_s']:.1f} s CPU, {r['iterations']} "
                     f"iterations, {r['max_rss_mb']:,.0f} MB | {_t(new['fit'])} | {ratio} |")
    (HERE / "scale_results.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--base", type=Path, help="a checkout of the previous code (its src/ is used)")
    parser.add_argument("--child", type=int)
    parser.add_argument("--r-rows", type=int, nargs="*", default=[1_000_000, sum(SIZE)])
    parser.add_argument("--from-json", action="store_true")
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(child(*SIZE, args.child)))
        return
    if args.from_json:
        write(json.loads((HERE / "scale_results.json").read_text()))
        return
    res = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
           "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "repeats": args.repeats,
           "load": " ".join(f"{x:.1f}" for x in os.getloadavg())}
    res["sop_eval"] = run_child(ROOT / "src", args.repeats, 3600)
    print("sop_eval", res["sop_eval"], flush=True)
    if args.base:
        res["base"] = run_child(args.base / "src", args.repeats, 3600)
        print("base", res["base"], flush=True)
    res["load_end"] = " ".join(f"{x:.1f}" for x in os.getloadavg())
    sys.path.insert(0, str(HERE))
    res["r_glm"] = []
    if not args.r_rows:  # `--r-rows` without sizes: keep the previous run's R figures
        previous = json.loads((HERE / "scale_results.json").read_text())
        res["r_glm"] = previous.get("r_glm", [])
        res["r_glm_date"] = previous.get("r_glm_date", previous["date"])
    for n in args.r_rows:
        res["r_glm"].append({"n": n, "result": r_glm(n, 2 if n < sum(SIZE) else 1, 3600)})
        print("R", res["r_glm"][-1], flush=True)
    (HERE / "scale_results.json").write_text(json.dumps(res, indent=1) + "\n")
    write(res)


if __name__ == "__main__":
    main()
