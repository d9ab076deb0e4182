"""Benchmark: SDID with 1,000 donors × 40 periods (one treated area, 10 post-periods) and 200 placebo replications,
against the PyPI package ``synthdid`` 0.10.1 on the same matrix in the same run; and HonestDiD for 10
post-periods (smoothness FLCI and relative magnitudes at one Mbar) against ``honestdid`` 0.1.1.

The peers run in throwaway environments (never dependencies of sop_eval), called as subprocesses so one run
times both:

    python3 -m venv /tmp/synthcheck && /tmp/synthcheck/bin/pip install numpy pandas==2.1.4 scipy matplotlib \
        statsmodels && /tmp/synthcheck/bin/pip install --no-deps synthdid==0.10.1
    python3 -m venv /tmp/honestcheck && /tmp/honestcheck/bin/pip install honestdid==0.1.1
    PYTHONPATH=src .venv/bin/python benchmarks/synth/bench_sdid.py [--peer-placebo 5]
    PYTHONPATH=src .venv/bin/python benchmarks/synth/bench_sdid.py --honest-only [--honest-python PATH]

The peer's placebo replications are timed for ``--peer-placebo`` draws and scaled to 200 (its placebo re-fits
from scratch; a full 200 takes too long on a shared machine); the scaling is stated in the results.
Writes benchmarks/synth/results.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from sop_eval.did.honest import honest_did
from sop_eval.synth import AreaMatrix, fit_matrix

OUT = Path(__file__).parent / "results.md"
N, T, T0 = 1001, 40, 30

PEER_SDID = r"""
import json, sys, time, numpy as np, pandas as pd
from synthdid.synthdid import Synthdid
df = pd.read_csv(sys.argv[1]); reps = int(sys.argv[2])
t = time.perf_counter(); m = Synthdid(df, unit="unit", time="time", treatment="treated", outcome="y").fit()
fit = time.perf_counter() - t
t = time.perf_counter(); m.vcov(method="placebo", n_reps=reps); pl = time.perf_counter() - t
print(json.dumps({"att": float(np.asarray(m.att).ravel()[0]), "fit": fit, "placebo": pl, "reps": reps}))
"""

PEER_HONEST = r"""
import json, sys, time, warnings, numpy as np
warnings.simplefilter("ignore")
from honestdid import createSensitivityResults, createSensitivityResults_relativeMagnitudes
d = json.load(open(sys.argv[1])); b, s = np.array(d["b"]), np.array(d["s"])
t = time.perf_counter()
sd = createSensitivityResults(b, s, d["n_pre"], d["n_post"], Mvec=[0.05])
t_sd = time.perf_counter() - t
t = time.perf_counter()
rm = createSensitivityResults_relativeMagnitudes(b, s, d["n_pre"], d["n_post"], Mbarvec=[0.5])
t_rm = time.perf_counter() - t
print(json.dumps({"sd": [sd["lb"][0], sd["ub"][0]], "rm": [rm["lb"][0], rm["ub"][0]], "t_sd": t_sd, "t_rm": t_rm}))
"""


def panel() -> tuple[AreaMatrix, pd.DataFrame]:
    rng = np.random.default_rng(0)
    L = rng.normal(size=(N, 3)) @ np.cumsum(rng.normal(size=(3, T)), axis=1)
    Y = 20 + L + rng.normal(scale=0.5, size=(N, T))
    Y[-1, T0:] -= 2.0
    units = np.array([f"u{i:04d}" for i in range(N)])
    df = pd.DataFrame({"unit": np.repeat(units, T), "time": np.tile(np.arange(T), N), "y": Y.ravel()})
    df["treated"] = ((df["unit"] == units[-1]) & (df["time"] >= T0)).astype(int)
    return AreaMatrix(Y, units, np.arange(T), N - 1, T0, "y"), df


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--peer-placebo", type=int, default=5)
    ap.add_argument("--honest-only", action="store_true",
                    help="time only the HonestDiD rows (both packages, one run); writes results_honest.md")
    ap.add_argument("--honest-python", default="/tmp/honestcheck/bin/python",
                    help="the Python of the environment holding honestdid")
    args = ap.parse_args()
    if args.honest_only:
        lines = honest_rows(args.honest_python)
        text = "\n".join(["# HonestDiD benchmark (HonestDiD rows only, one run)", "",
                          f"Python {sys.version.split()[0]}; shared 2-core machine (wall-clock, one run).", "",
                          "| task | sop_eval (s) | peer (s) | peer / sop_eval | estimates (sop_eval / peer) |",
                          "| --- | ---: | ---: | ---: | --- |", *lines, "",
                          "Peer: honestdid 0.1.1 from PyPI, in a throwaway environment.", ""])
        OUT.with_name("results_honest.md").write_text(text)
        print(text)
        return
    data, df = panel()
    t = time.perf_counter()
    fit = fit_matrix(data, se="none")
    t_fit = time.perf_counter() - t
    t = time.perf_counter()
    pl = fit_matrix(data, se="placebo", replications=200)
    t_pl = time.perf_counter() - t - t_fit
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "p.csv"
        df.to_csv(path, index=False)
        peer = json.loads(subprocess.run(["/tmp/synthcheck/bin/python", "-c", PEER_SDID, str(path),
                                          str(args.peer_placebo)], capture_output=True, text=True, check=True)
                          .stdout.strip().splitlines()[-1])
    peer_pl200 = peer["placebo"] / peer["reps"] * 200
    lines = [
        "# Synthetic DiD and HonestDiD benchmark", "",
        f"Python {sys.version.split()[0]}; shared 2-core machine (timings are wall-clock, one run).", "",
        "| task | sop_eval (s) | peer (s) | peer / sop_eval | estimates (sop_eval / peer) |",
        "| --- | ---: | ---: | ---: | --- |",
        (f"| SDID fit, 1,000 donors × 40 periods | {t_fit:.2f} | {peer['fit']:.2f} | {peer['fit'] / t_fit:.1f} | "
         f"{fit.estimate:.4f} / {peer['att']:.4f} |"),
        (f"| 200 placebo replications | {t_pl:.2f} | {peer_pl200:.1f} (from {peer['reps']}, scaled) | "
         f"{peer_pl200 / t_pl:.1f} | se {pl.se:.4f} / (its own placebo algorithm) |"),
        *honest_rows(args.honest_python),
        "", "Peers: synthdid 0.10.1 and honestdid 0.1.1 from PyPI, in throwaway environments.", "",
    ]
    OUT.write_text("\n".join(lines))
    print("\n".join(lines))


def honest_rows(python: str) -> list[str]:
    """HonestDiD: an AR(1)-correlated event study with 4 pre- and 10 post-periods, both packages in this run."""
    k = 14
    S = 0.01 * 0.5 ** np.abs(np.subtract.outer(np.arange(k), np.arange(k)))
    b = np.concatenate([[0.02, -0.01, 0.0, 0.01], np.linspace(0.2, 0.5, 10)])
    t = time.perf_counter()
    sd = honest_did(b, S, 4, 10, restriction="smoothness", grid=[0.05], breakdown=False)
    t_sd = time.perf_counter() - t
    t = time.perf_counter()
    rm = honest_did(b, S, 4, 10, restriction="relative_magnitudes", grid=[0.5], breakdown=False)
    t_rm = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "h.json"
        path.write_text(json.dumps({"b": b.tolist(), "s": S.tolist(), "n_pre": 4, "n_post": 10}))
        hp = json.loads(subprocess.run([python, "-c", PEER_HONEST, str(path)],
                                       capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1])
    return [
        (f"| HonestDiD FLCI, 10 post-periods, one M | {t_sd:.2f} | {hp['t_sd']:.2f} | {hp['t_sd'] / t_sd:.1f} | "
         f"[{sd.lb[0]:.4f}, {sd.ub[0]:.4f}] / [{hp['sd'][0]:.4f}, {hp['sd'][1]:.4f}] |"),
        (f"| HonestDiD relative magnitudes (C-LF), 10 post-periods, one Mbar | {t_rm:.2f} | {hp['t_rm']:.2f} | "
         f"{hp['t_rm'] / t_rm:.1f} | [{rm.lb[0]:.4f}, {rm.ub[0]:.4f}] / [{hp['rm'][0]:.4f}, {hp['rm'][1]:.4f}] |"),
    ]


if __name__ == "__main__":
    main()
