"""Standard errors of ATT(g,t) and its aggregates, by name (declared in :mod:`sop_eval.stats.registry`).

Each implementation takes the influence functions ``psi`` (units × estimates), the cluster code of each unit
(None: units are independent) and ``draws``, a function returning the multiplier-bootstrap draws of ``psi``
(drawn once, on first call), and returns one standard error per column.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from sop_eval.stats.bootstrap import BootstrapDraws
from sop_eval.stats.influence import analytic_se
from sop_eval.stats.registry import register_se, se_implementation


@register_se("did", "analytic")
def analytic(psi: np.ndarray, clusters: np.ndarray | None, draws: Callable[[], BootstrapDraws]) -> np.ndarray:
    """Influence-function standard errors (clustered when ``clusters`` is given)."""
    return analytic_se(psi, clusters)


@register_se("did", "bootstrap")
def bootstrap(psi: np.ndarray, clusters: np.ndarray | None, draws: Callable[[], BootstrapDraws]) -> np.ndarray:
    """Multiplier-bootstrap (IQR-based) standard errors."""
    return draws().se()


def standard_errors(name: str, psi: np.ndarray, clusters: np.ndarray | None,
                    draws: Callable[[], BootstrapDraws]) -> np.ndarray:
    """Standard errors of the columns of ``psi`` by the registered method ``name`` (``check_se``'s canonical name)."""
    return se_implementation("did", name)(psi, clusters, draws)
