"""A simulated panel of local authorities with one treated authority, for the area-level designs."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sop_eval.datasets._arguments import real_number, whole_number
from sop_eval.errors import SopEvalError


def make_area_panel(n_areas: int = 150, n_years: int = 10, first_year: int = 2015, start: int = 2021,
                    effect: float = -4.0, noise: float = 0.8, seed: int = 0) -> pd.DataFrame:
    """Children entering care per 10,000 children in ``n_areas`` local authorities over ``n_years`` years; the
    authority ``"LA-001"`` runs the contract from ``start`` on and its rate falls by ``effect`` each year.

    Columns: ``area`` (``"LA-001"`` … pseudonymised labels), ``year``, ``treated`` (1 for LA-001 from ``start``),
    ``entering_care`` (rate per 10,000, 2 decimals) and ``population`` (children aged 0-17, a predictor).
    The untreated rate is ``level_i + trend_t + loading_i · factor_t + noise`` with two common factors, so
    parallel trends fail for a plain DiD while a weighted combination of authorities tracks LA-001 (its loadings
    are an average of other authorities'). ``df.attrs``: ``true_effect`` (per treated year), ``treated_area``,
    ``start``, ``seed``.
    """
    what = "make_area_panel"
    n_areas = whole_number(n_areas, "n_areas", what)
    n_years = whole_number(n_years, "n_years", what)
    effect, noise = real_number(effect, "effect", what), real_number(noise, "noise", what)
    years = np.arange(int(first_year), int(first_year) + n_years)
    if n_areas < 5 or not years[0] + 2 <= start <= years[-1]:
        raise SopEvalError(f"{what}: need n_areas >= 5 and start={start} within {years[0] + 2}..{years[-1]} "
                           "(at least two years before the contract).")
    rng = np.random.default_rng(seed)
    loadings = rng.normal(size=(n_areas, 2))
    loadings[0] = loadings[1:6].mean(axis=0)  # LA-001 lies inside the donors' hull
    level = 35.0 + rng.normal(scale=8.0, size=n_areas)
    level[0] = level[1:6].mean()
    factors = np.cumsum(rng.normal(scale=1.2, size=(n_years, 2)), axis=0)
    trend = np.linspace(0.0, 3.0, n_years)
    y0 = level[:, None] + trend[None, :] + loadings @ factors.T + rng.normal(scale=noise, size=(n_areas, n_years))
    post = years >= start
    y = y0.copy()
    y[0, post] += effect
    population = np.round(np.exp(rng.normal(10.5, 0.5, size=n_areas))).astype(np.int64)
    areas = np.array([f"LA-{i + 1:03d}" for i in range(n_areas)])
    df = pd.DataFrame({
        "area": np.repeat(areas, n_years), "year": np.tile(years, n_areas),
        "treated": np.zeros(n_areas * n_years, dtype=np.int64), "entering_care": np.round(y, 2).ravel(),
        "population": np.repeat(population, n_years),
    })
    df.loc[(df["area"] == "LA-001") & (df["year"] >= start), "treated"] = 1
    df.attrs.update({"true_effect": float(effect), "treated_area": "LA-001", "start": int(start), "seed": int(seed)})
    return df
