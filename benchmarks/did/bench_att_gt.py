"""Benchmark: att_gt with not-yet-treated controls, analytic SEs plus 999 multiplier-bootstrap draws.

10,000 units × 20 periods × 5 adoption waves (sop_eval.datasets.make_staggered_panel, seed 0), doubly robust
estimator without covariates, followed by the dynamic (event-time) aggregation with its uniform band.
sop_eval, csdid and differences run on the same data in one process, one after the other, single-threaded
BLAS. Writes benchmarks/did/results.md. Run from the repository root:

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/did/bench_att_gt.py
"""

from __future__ import annotations

import contextlib
import importlib.metadata as md
import io
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from sop_eval.datasets import make_staggered_panel
from sop_eval.did import att_gt

OUT = Path(__file__).parent / "results.md"
N_UNITS, N_PERIODS, WAVES, N_BOOT = 10_000, 20, (4, 7, 10, 13, 16), 999


def run_sop_eval(df, cov=None):
    res = att_gt(df, "y", "unit", "period", "group", control="not_yet", method="dr", se="bootstrap", n_boot=N_BOOT,
                 seed=1, covariates=[cov] if cov else None)
    dyn = res.aggregate("dynamic")
    return res.aggregate("simple").overall_att, dyn.overall_att


def run_csdid(df, cov=None):
    from csdid.att_gt import ATTgt

    np.random.seed(1)
    o = ATTgt(yname="y", tname="period", idname="unit", gname="group", data=df, control_group="notyettreated",
              biters=N_BOOT, cband=True, xformla=f"y ~ {cov or 1}")
    o.fit(est_method="dr", bstrap=True)
    o.aggte("simple", bstrap=True)
    simple = o.atte["overall_att"]
    o.aggte("dynamic", bstrap=True, cband=True)
    return simple, o.atte["overall_att"]


def run_differences(df, cov=None):
    from differences import ATTgt

    d = df.assign(cohort=df["group"].where(df["group"] > 0)).set_index(["unit", "period"])
    a = ATTgt(data=d, cohort_column="cohort")
    a.fit(f"y ~ {cov}" if cov else "y", est_method="dr", control_group="not_yet_treated", boot_iterations=N_BOOT,
          random_state=1, progress_bar=False, n_jobs=1)
    simple = a.aggregate("simple")
    a.aggregate("event")
    return float(simple.iloc[0, 0]), float("nan")


def timed(fn, df, repeats, cov):
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):  # csdid prints its summaries
            out = fn(df, cov)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main() -> None:
    warnings.simplefilter("ignore")
    df = make_staggered_panel(n_units=N_UNITS, n_periods=N_PERIODS, waves=WAVES, seed=0)
    rng = np.random.default_rng(1)
    z = 0.5 * df.groupby("unit")["x"].first() + rng.normal(size=N_UNITS)  # a covariate with overlap
    df["z"] = df["unit"].map(z)
    lines = [
        "# att_gt benchmark",
        "",
        f"{N_UNITS:,} units × {N_PERIODS} periods × {len(WAVES)} adoption waves (make_staggered_panel, seed 0); "
        f"not-yet-treated controls, doubly robust; ATT(g,t) with analytic SEs plus {N_BOOT} "
        "multiplier-bootstrap draws, then the simple and dynamic aggregations (bootstrap SEs, uniform band), "
        "without covariates and with one covariate `z`. "
        "All three packages in one run, one after the other, single-threaded BLAS "
        f"(Python {platform.python_version()}, {platform.machine()}, {platform.system()}). "
        "Median of 3 runs each. Produced by `bench_att_gt.py`.",
        "",
        "| covariates | package | version | seconds | × slower than sop_eval | simple ATT |",
        "|---|---|---|---:|---:|---:|",
    ]
    for cov in (None, "z"):
        rows = []
        for name, fn in (("sop_eval", run_sop_eval), ("csdid", run_csdid), ("differences", run_differences)):
            seconds, (simple, _) = timed(fn, df, 3, cov)
            version = md.version("sop-eval" if name == "sop_eval" else name)
            rows.append((name, version, seconds, simple))
            print(f"{cov or 'none'} {name} {version}: {seconds:.2f} s, simple ATT {simple:.6f}", flush=True)
        base = rows[0][2]
        for name, version, seconds, simple in rows:
            lines.append(f"| {cov or 'none'} | {name} | {version} | {seconds:.2f} | {seconds / base:.1f} "
                         f"| {simple:.6f} |")
    lines += ["", "The simple ATT agrees across packages to the printed digits (the same estimator on the same data).",
              ""]
    tmp = OUT.with_suffix(".md.tmp")
    tmp.write_text("\n".join(lines))
    tmp.replace(OUT)
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
