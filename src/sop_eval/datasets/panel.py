"""A simulated area-by-period panel with staggered adoption, for difference-in-differences."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from sop_eval.datasets._arguments import real_number, whole_number
from sop_eval.errors import SopEvalError


def make_staggered_panel(
    n_units: int = 300,
    n_periods: int = 10,
    waves: Sequence[int] = (4, 6, 8),
    never_share: float = 0.3,
    effect: float = 2.0,
    dynamic: float = 0.5,
    heterogeneity: float = 0.5,
    covariate_trend: float = 0.0,
    noise: float = 1.0,
    baseline: float = 0.0,
    seed: int = 0,
) -> pd.DataFrame:
    """Simulate a balanced panel of areas over periods in which areas adopt a service in waves.

    Columns: ``unit``, ``period`` (1..``n_periods``), ``group`` (the first treated period; 0 for areas
    that never adopt), ``treated`` (1 from the area's first treated period on), ``x`` (a time-invariant
    area characteristic) and ``y`` (the outcome, e.g. children in care per 10,000).

    The untreated outcome is ``baseline + unit effect + period effect + covariate_trend * x * period /
    n_periods + noise``; areas with larger ``x`` adopt earlier, so with ``covariate_trend != 0`` parallel trends hold
    only conditionally on ``x``. The effect in period ``t`` for the wave first treated in ``g`` is
    ``effect * (1 + heterogeneity * k) + dynamic * (t - g)`` for ``t >= g`` (``k`` = 0, 1, … the wave's
    position), zero before: dynamic, heterogeneous and no anticipation. ``df.attrs["true_att_gt"]`` lists
    ``{"group", "time", "att"}`` for every post-treatment cell; ``df.attrs["group_sizes"]`` the units per
    group.
    """
    what = "make_staggered_panel"
    n_units = whole_number(n_units, "n_units", what)
    n_periods = whole_number(n_periods, "n_periods", what)
    never_share, effect, dynamic, heterogeneity, covariate_trend, noise, baseline = (
        real_number(v, k, what) for k, v in (("never_share", never_share), ("effect", effect), ("dynamic", dynamic),
                                             ("heterogeneity", heterogeneity), ("covariate_trend", covariate_trend),
                                             ("noise", noise), ("baseline", baseline))
    )
    try:
        waves = sorted(int(w) for w in waves)
    except (TypeError, ValueError):
        raise SopEvalError(f"make_staggered_panel: waves={waves!r} must be whole periods, e.g. (4, 6, 8).") from None
    if not waves or waves[0] < 2 or waves[-1] > n_periods:
        raise SopEvalError(
            f"make_staggered_panel: waves {waves} must lie in 2..n_periods ({n_periods}) so each wave has a "
            "pre-treatment period."
        )
    if not 0.0 <= never_share < 1.0 or n_units < len(waves) + 1:
        raise SopEvalError(
            f"make_staggered_panel: never_share={never_share} must be in [0, 1) and n_units={n_units} must exceed "
            "the number of waves."
        )
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n_units)
    # larger x adopts earlier: rank units by x plus noise and cut into never-treated and waves
    order = np.argsort(-(x + rng.normal(scale=1.0, size=n_units)))
    n_never = int(round(never_share * n_units))
    n_treated = n_units - n_never
    group = np.zeros(n_units, dtype=np.int64)
    wave_of_rank = np.repeat(
        np.arange(len(waves)), np.diff(np.linspace(0, n_treated, len(waves) + 1).round().astype(int))
    )
    group[order[:n_treated]] = np.asarray(waves)[wave_of_rank]

    unit_effect = rng.normal(scale=2.0, size=n_units) + 0.5 * x
    period_effect = np.cumsum(rng.normal(loc=0.3, scale=0.5, size=n_periods))
    units = np.repeat(np.arange(1, n_units + 1), n_periods)
    periods = np.tile(np.arange(1, n_periods + 1), n_units)
    g = np.repeat(group, n_periods)
    xi = np.repeat(x, n_periods)
    wave_index = {w: k for k, w in enumerate(waves)}
    wave_k = np.array([wave_index.get(v, 0) for v in g])
    post = (g > 0) & (periods >= g)
    att = np.where(post, effect * (1 + heterogeneity * wave_k) + dynamic * (periods - g), 0.0)
    y0 = (
        baseline
        + np.repeat(unit_effect, n_periods)
        + period_effect[periods - 1]
        + covariate_trend * xi * periods / n_periods
        + rng.normal(scale=noise, size=units.size)
    )
    df = pd.DataFrame(
        {"unit": units, "period": periods, "group": g, "treated": post.astype(np.int64), "x": xi, "y": y0 + att}
    )
    cells = (
        df.loc[post, ["group", "period"]].drop_duplicates().sort_values(["group", "period"]).to_numpy().tolist()
    )
    df.attrs["true_att_gt"] = [
        {"group": int(gg), "time": int(t),
         "att": float(effect * (1 + heterogeneity * wave_index[gg]) + dynamic * (t - gg))}
        for gg, t in cells
    ]
    df.attrs["group_sizes"] = {int(k): int(v) for k, v in pd.Series(group).value_counts().sort_index().items()}
    df.attrs["seed"] = int(seed)
    return df
