"""Placebo standard errors for Proposition 99: sop_eval against Table 1 of Arkhangelsky et al. (2021).

Run from the repository root (no extra packages needed):

    .venv/bin/python tests/results/synth/placebo_se_reference.py

The published SEs (SDID 8.4, SC 9.9, DID 17.7; synthdid's vignette paper-results.Rmd prints the table) are
themselves 200 placebo draws: ``set.seed(12345)`` then ``sqrt(vcov(estimate, method = "placebo"))`` for each
estimator, i.e. 200 times ``sample(1:N0)`` (the donors permuted; the last plays the treated state, the weights
re-estimated from the estimate's own weights restricted to the other donors, with the estimate's
regularisation kept), and ``sqrt((R - 1)/R) * sd(...)``. This script

1. reproduces R's random draws exactly (R's Mersenne Twister seeded by ``set.seed`` and ``sample``'s rejection
   sampling, R >= 3.6; checked against values R prints) and feeds those permutations to sop_eval's placebo
   routine: the SEs R computed from the same draws, to compare with the published table at its rounding;
2. gives the placebo SE with the Monte Carlo error removed: with one treated state each replicate depends only on
   which donor is drawn last (the others' order changes nothing but summation order), so the infinite-draw SE is
   the population standard deviation of the 38 donor-as-treated estimates, and the 200-draw SE has a sampling
   distribution that resampling those 38 values gives exactly (quantiles stored);
3. runs sop_eval's own placebo SE (its random stream) with 200 and with 5,000 draws, with their Monte Carlo error
   (delta method: sd(SE) ≈ SE sqrt((kurtosis - 1)/R) / 2, the kurtosis that of the 38 donor-as-treated values,
   about 6 here: the placebo distribution is heavy-tailed, so SE/sqrt(2R) would understate it).

Writes placebo_se.json.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from sop_eval.synth.panel import area_matrix
from sop_eval.synth.sdid import _fit, _options, _placebo_replicates, _replicate_se, fit_matrix

HERE = Path(__file__).parent
KW = dict(unit="State", time="Year", outcome="PacksPerCapita", treatment="treated")
R_SEED, R_DRAWS, BIG = 12345, 200, 5000


class RRandom:
    """R's default generator: Mersenne Twister seeded by ``set.seed`` (RNG.c: 50 LCG scrambles, then 625 words,
    position 624), ``unif_rand`` and ``sample(n)`` with the rejection sampling of R >= 3.6 (``R_unif_index``)."""

    def __init__(self, seed: int) -> None:
        seed &= 0xFFFFFFFF
        for _ in range(50):
            seed = (69069 * seed + 1) & 0xFFFFFFFF
        words = []
        for _ in range(625):
            seed = (69069 * seed + 1) & 0xFFFFFFFF
            words.append(seed)
        self.mt, self.mti = words[1:], 624

    def _twist(self) -> None:
        mt = self.mt
        for k in range(624):
            y = (mt[k] & 0x80000000) | (mt[(k + 1) % 624] & 0x7FFFFFFF)
            mt[k] = mt[(k + 397) % 624] ^ (y >> 1) ^ (0x9908B0DF if y & 1 else 0)
        self.mti = 0

    def unif(self) -> float:
        if self.mti >= 624:
            self._twist()
        y = self.mt[self.mti]
        self.mti += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9D2C5680
        y ^= (y << 15) & 0xEFC60000
        y ^= y >> 18
        v = y * 2.3283064365386963e-10
        return min(max(v, 0.5 * 2.328306437080797e-10), 1.0 - 0.5 * 2.328306437080797e-10)

    def _index(self, n: int) -> int:
        bits = math.ceil(math.log2(n)) if n > 0 else 0
        while True:
            v, done = 0, 0
            while done <= bits:
                v = 65536 * v + int(self.unif() * 65536)
                done += 16
            v &= (1 << bits) - 1
            if v < n:
                return v

    def sample(self, n: int) -> list[int]:
        """``sample(1:n)``, 1-based."""
        x, out, m = list(range(n)), [], n
        for _ in range(n):
            j = self._index(m)
            out.append(x[j] + 1)
            m -= 1
            x[j] = x[m]
        return out


class _Given:
    """Stands in for a numpy Generator: hands out the given permutations in turn."""

    def __init__(self, perms: list[np.ndarray]) -> None:
        self.perms = iter(perms)

    def permutation(self, n: int) -> np.ndarray:
        p = next(self.perms)
        assert len(p) == n
        return p


def _mc_error(reps: np.ndarray) -> float:
    """Standard error of ``sqrt((R-1)/R) sd(reps)`` by the delta method: var(s²) ≈ (m4 - s⁴)/R."""
    d = reps - reps.mean()
    s2, m4 = float(np.mean(d**2)), float(np.mean(d**4))
    return math.sqrt(max(m4 - s2**2, 0.0) / len(reps)) / (2 * math.sqrt(s2))


def main() -> None:
    assert [round(RRandom(42).unif(), 7) for _ in range(1)] == [0.914806]
    assert RRandom(123).sample(10) == [3, 10, 2, 8, 6, 9, 1, 7, 5, 4]  # R 3.6+: set.seed(123); sample(10)
    published = json.loads((HERE / "prop99_published.json").read_text())
    data = area_matrix(pd.read_csv(HERE / "california_prop99.csv", sep=";"), **KW)
    Y, N0, T0 = data.Y, data.N0, data.T0
    out: dict = {"source": "placebo_se_reference.py", "donors": [str(u) for u in data.units[:N0]],
                 "published_se": published["se"], "r_seed": R_SEED, "r_draws": R_DRAWS, "estimators": {}}
    for est in ("sdid", "sc", "did"):
        opts, _, omega0, lam0 = _options(Y, N0, T0, est)
        tau, omega, lam = _fit(Y, N0, T0, opts, omega0, lam0)
        rng = RRandom(R_SEED)
        perms = [np.array(rng.sample(N0)) - 1 for _ in range(R_DRAWS)]
        reps_r, _ = _placebo_replicates(Y, N0, T0, opts, omega, lam, R_DRAWS, _Given(perms))
        # each donor as the treated state, the others in their own order
        last = [np.array([k for k in range(N0) if k != j] + [j]) for j in range(N0)]
        by_donor, _ = _placebo_replicates(Y, N0, T0, opts, omega, lam, N0, _Given(last))
        order_effect = float(np.max(np.abs(reps_r - by_donor[[p[-1] for p in perms]])))
        se_inf = float(np.sqrt(np.mean((by_donor - by_donor.mean()) ** 2)))
        sim = np.random.default_rng(0).integers(0, N0, size=(100_000, R_DRAWS))
        dist = np.sqrt((R_DRAWS - 1) / R_DRAWS) * by_donor[sim].std(axis=1, ddof=1)
        d = by_donor - by_donor.mean()
        kurtosis = float(np.mean(d**4) / np.mean(d**2) ** 2)
        own = {}
        for R in (R_DRAWS, BIG):
            r = fit_matrix(data, est, se="placebo", replications=R)
            # exact: the replicates are draws from the 38 donor-as-treated values, whose kurtosis is known
            own[str(R)] = {"se": r.se, "mc_error_from_replicates": _mc_error(r.replicates),
                           "mc_error": se_inf * math.sqrt((kurtosis - 1) / R) / 2}
        out["estimators"][est] = {
            "estimate": tau,
            "se_r_draws": _replicate_se(reps_r, "placebo"),
            "r_draws_treated_donor": [int(p[-1]) for p in perms],
            "kurtosis_donor_as_treated": kurtosis,
            "order_effect_max_abs": order_effect,
            "donor_as_treated": by_donor.tolist(),
            "se_infinite_draws": se_inf,
            "se_200_draw_quantiles": {str(q): float(np.quantile(dist, q)) for q in (0.00135, 0.025, 0.5, 0.975,
                                                                                    0.99865)},
            "sop_eval_default_seed": own,
        }
        print(est, json.dumps({k: v for k, v in out["estimators"][est].items()
                               if k not in ("donor_as_treated", "r_draws_treated_donor")}))
    tmp = HERE / "placebo_se.json.tmp"
    tmp.write_text(json.dumps(out, indent=1) + "\n")
    tmp.replace(HERE / "placebo_se.json")


if __name__ == "__main__":
    main()
