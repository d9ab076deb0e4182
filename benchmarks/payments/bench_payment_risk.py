"""Timing of the Monte Carlo payment-risk view and of the IRR, beside named peers, in one run.

Peers: (1) the straightforward alternative to the vectorised view — drawing the cohort effects one at
a time and calling the exact calculator for each draw (what a spreadsheet model does), timed on a few
hundred draws and scaled per draw; (2) numpy-financial's ``irr`` on periodic cash flows (benchmark-only
dependency: ``pip install numpy-financial``).

Run: ``.venv/bin/python benchmarks/payments/bench_payment_risk.py`` (writes results.md next to it).
"""

from __future__ import annotations

import platform
import time
from pathlib import Path

import numpy as np

from sop_eval import finance
from sop_eval.effects.estimate import EffectEstimate
from sop_eval.payments import calculate, load_contract

HERE = Path(__file__).parent
CONTRACT = load_contract(HERE.parents[1] / "src" / "sop_eval" / "fixtures" / "contracts" / "peterborough.toml")


def estimates(e1: float = -0.13, e2: float = -0.17, se: float = 0.06) -> list[EffectEstimate]:
    return [
        EffectEstimate(estimate=e1, se=se, treated_mean=1.55 + e1, comparison_mean=1.55, n_treated=1000,
                       n_comparison=9000, label="cohort 1"),
        EffectEstimate(estimate=e2, se=se, treated_mean=1.53 + e2, comparison_mean=1.53, n_treated=1000,
                       n_comparison=9000, label="cohort 2"),
    ]


def best_of(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    n = 100_000
    vector = best_of(lambda: finance.payment_risk(CONTRACT, estimates(), n_draws=n, seed=1))
    loop_draws = 300
    rng = np.random.default_rng(1)
    z = rng.standard_normal((loop_draws, 2)) * 0.06

    def loop() -> None:
        for d1, d2 in z:
            calculate(CONTRACT, estimates=estimates(round(-0.13 + d1, 6), round(-0.17 + d2, 6)))

    per_draw_loop = best_of(loop, repeat=2) / loop_draws
    loop_equiv = per_draw_loop * n

    flows = [-5_000_000, 0, 0, 0, 1_500_000, 2_500_000, 2_200_000]
    reps = 200
    ours = best_of(lambda: [finance.irr(flows) for _ in range(reps)]) / reps
    try:
        import numpy_financial as npf

        peer = best_of(lambda: [npf.irr(flows) for _ in range(reps)]) / reps
        agree = abs(npf.irr(flows) - finance.irr(flows))
        peer_text = f"{peer * 1e6:.0f} µs"
        ratio = f"{ours / peer:.1f}"
    except ImportError:
        peer_text, ratio, agree = "not installed", "–", float("nan")

    lines = [
        "# Payment risk and IRR timings",
        "",
        f"Machine: {platform.machine()}, Python {platform.python_version()}, numpy {np.__version__}. "
        "Best of several runs; produced by `bench_payment_risk.py` in one run.",
        "",
        "| task | sop_eval | peer | peer time | ratio (sop_eval / peer) |",
        "|---|---|---|---|---|",
        f"| Monte Carlo payment risk, {n:,} draws, Peterborough contract (2 cohorts + pooled catch-up, caps, 2 payers) "
        f"| {vector:.3f} s | per-draw loop over the exact calculator ({loop_draws} draws timed, scaled to {n:,}) "
        f"| {loop_equiv:.1f} s | {vector / loop_equiv:.4f} |",
        f"| IRR of 7 annual cash flows | {ours * 1e6:.0f} µs | numpy-financial `irr` | {peer_text} | {ratio} |",
        "",
        f"IRR agreement with numpy-financial: |difference| = {agree:.2e}.",
        "",
        "The IRR brackets every sign change on a grid before Brent's method so that several roots are detected "
        "and refused, and accepts uneven times in years; numpy-financial's `irr` takes periodic flows only and "
        "returns one root. It is slower per call for that reason; both are far below a millisecond.",
    ]
    (HERE / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
