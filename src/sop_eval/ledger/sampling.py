"""Verification samples: which claims to check, and what the findings say about the rest.

**Drawing.** The claims of a period (achievement date from ``start`` to ``end``, inclusive) that are
eligible for payment are split by outcome (the strata); from each stratum of ``N_h`` claims,
``n_h = min(N_h, max(minimum, ceil(fraction * N_h)))`` claims are drawn without replacement by
``numpy.random.default_rng(seed)``, strata in name order and claims in ledger order, so the same seed
and ledger give the same sample.

**Estimating.** The error rate is a *ratio estimator stratified by outcome*: in stratum ``h``,
``R_h = sum(y) / sum(x)`` over the sampled claims with findings, where ``x`` is a claim's value (its price
in pence) and ``y`` is ``x`` for a claim found invalid and 0 otherwise. The overall rate is
``R = sum_h R_h X_h / X`` (``X_h`` the stratum's value, ``X`` the period's), with the linearised variance
``V = sum_h N_h^2 (1 - n_h / N_h) s_h^2 / n_h``, ``s_h^2`` the sample variance of ``y - R_h x``, and a
normal interval ``R ± z sqrt(V) / X`` clipped to [0, 1]. Each stratum's unsampled claims are then paid at
``1 - R_h`` of their value; sampled claims are paid in full when valid and not at all when invalid.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from statistics import NormalDist
from typing import Any

import numpy as np

RULE = "stratified by outcome: n_h = min(N_h, max({minimum}, ceil({fraction} * N_h))), without replacement"


def draw(seqs: np.ndarray, outcomes: np.ndarray, fraction: float, minimum: int, seed: int) -> dict[str, list[int]]:
    """``{outcome: sampled claim seqs}`` (see the module docstring)."""
    rng = np.random.default_rng(seed)
    out = {}
    for outcome in sorted(set(outcomes.tolist())):
        members = np.sort(seqs[outcomes == outcome])
        n = min(len(members), max(minimum, math.ceil(fraction * len(members))))
        chosen = rng.choice(members, size=n, replace=False)
        out[outcome] = sorted(int(s) for s in chosen)
    return out


@dataclass(frozen=True)
class ErrorRate:
    """The stratified ratio estimate of the error rate (by value) with its interval, and each stratum's rate."""

    rate: float
    se: float
    level: float
    conf_int: tuple[float, float]
    strata: Mapping[str, Mapping[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe record (stratum rates as exact decimal text)."""
        return {"estimator": "ratio estimator stratified by outcome (value-weighted), normal interval",
                "rate": self.rate, "se": self.se, "level": self.level, "conf_int": list(self.conf_int),
                "strata": {k: dict(v) for k, v in self.strata.items()}}


def estimate(strata: Mapping[str, tuple[Sequence[int], Sequence[bool], int, int]], level: float = 0.95) -> ErrorRate:
    """Stratified ratio estimate from ``{outcome: (sampled values x, invalid flags, N_h, X_h)}``."""
    total_value = sum(X for _, _, _, X in strata.values())
    invalid_value = 0.0
    variance = 0.0
    out = {}
    for h, (x, bad, N, X) in sorted(strata.items()):
        xs = np.asarray(x, dtype=float)
        ys = np.where(np.asarray(bad, dtype=bool), xs, 0.0)
        n = len(xs)
        sx = int(np.sum(xs))
        num = int(np.sum(ys))
        r_exact = Decimal(num) / Decimal(sx) if sx else Decimal(0)
        r = float(r_exact)
        if n > 1:
            d = ys - r * xs
            s2 = float(np.sum((d - d.mean()) ** 2) / (n - 1))
            variance += N * N * (1 - n / N) * s2 / n
        invalid_value += r * X
        out[h] = {"rate": str(r_exact.quantize(Decimal("1e-12")).normalize()), "sampled": n,
                  "invalid": int(np.sum(bad)), "claims": N}
    rate = invalid_value / total_value if total_value else 0.0
    se = math.sqrt(variance) / total_value if total_value else 0.0
    z = NormalDist().inv_cdf(0.5 + level / 2)
    return ErrorRate(rate, se, level, (max(0.0, rate - z * se), min(1.0, rate + z * se)), out)
