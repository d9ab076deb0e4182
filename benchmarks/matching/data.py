"""Simulated matching problems for the benchmarks: n_treated + n_controls rows, 10 covariates."""

from __future__ import annotations

import numpy as np
import pandas as pd

COVARIATES = [f"x{i}" for i in range(1, 11)]


def make_problem(n_treated: int, n_controls: int, seed: int = 0) -> pd.DataFrame:
    """Seven continuous and three binary covariates; the treated are shifted so scores overlap partly."""
    rng = np.random.default_rng(seed)
    n = n_treated + n_controls
    treat = np.zeros(n, dtype=np.int8)
    treat[:n_treated] = 1
    shift = np.where(treat == 1, 0.3, 0.0)
    cols: dict[str, np.ndarray] = {"treat": treat}
    for i in range(1, 8):
        cols[f"x{i}"] = rng.standard_normal(n) + shift * (1 if i % 2 else -1)
    for i in range(8, 11):
        cols[f"x{i}"] = (rng.random(n) < 0.3 + shift / 2).astype(np.float64)
    return pd.DataFrame(cols)
