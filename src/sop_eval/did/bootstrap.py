"""Multiplier bootstrap on influence functions: standard errors and uniform (sup-t) critical values.

Convention (Callaway & Sant'Anna 2021, as R ``did::mboot``): each draw multiplies every unit's influence
function by an independent Rademacher variable (±1 with probability 1/2) and averages; the bootstrap standard
error is the interquartile range of the ``sqrt(n)``-scaled draws divided by the normal IQR (2 × 0.6745) and by
``sqrt(n)``. With clusters, one multiplier is drawn per cluster and applied to the cluster sums of the influence
functions, and the standard error is ``IQR-sigma · sqrt(G) / n`` (``G`` clusters, ``n`` units). The uniform
critical value is the ``level`` quantile (type 1, the inverse empirical CDF) of the
largest absolute t-statistic across the columns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from sop_eval.seeds import rng as seeded_rng

_CHUNK = 256


@dataclass(frozen=True, eq=False)
class BootstrapDraws:
    """``draws[b, k]``: draw ``b`` of ``sqrt(G) * mean(v * psi_k)`` over the ``G`` clusters (units by default)."""

    draws: np.ndarray
    n: int
    n_clusters: int

    def se(self) -> np.ndarray:
        """IQR-based bootstrap standard error of each column (NaN where degenerate)."""
        q75, q25 = np.quantile(self.draws, [0.75, 0.25], axis=0, method="inverted_cdf")
        sigma = (q75 - q25) / (stats.norm.ppf(0.75) - stats.norm.ppf(0.25))
        sigma = np.where(np.isfinite(sigma) & (sigma > 0), sigma, np.nan)
        return sigma * np.sqrt(self.n_clusters) / self.n

    def uniform_critical(self, level: float = 0.95, columns: np.ndarray | None = None) -> float:
        """Sup-t critical value over ``columns`` (all columns by default) for a uniform band at ``level``."""
        draws = self.draws if columns is None else self.draws[:, columns]
        sigma = self.se() if columns is None else self.se()[columns]
        ok = np.isfinite(sigma)
        if not ok.any():
            return float("nan")
        scale = self.n / np.sqrt(self.n_clusters)  # back to the scale of the draws
        t_max = np.max(np.abs(draws[:, ok] / (sigma[ok] * scale)), axis=1)
        return float(np.quantile(t_max, level, method="inverted_cdf"))


def cluster_sums(psi: np.ndarray, clusters: np.ndarray) -> np.ndarray:
    """Sum the rows of ``psi`` (n × k) within each cluster code 0..G-1 (G × k)."""
    out = np.zeros((int(clusters.max()) + 1, psi.shape[1]))
    np.add.at(out, clusters, psi)
    return out


def _columns(psi: np.ndarray) -> np.ndarray:
    psi = np.asarray(psi, dtype=float)
    return psi[:, None] if psi.ndim == 1 else psi


def multiplier_bootstrap(psi: np.ndarray, n_boot: int, seed: int | np.random.Generator | None,
                         clusters: np.ndarray | None = None) -> BootstrapDraws:
    """Draw ``n_boot`` Rademacher multiplier replicates of the influence functions ``psi`` (n × k), one multiplier
    per unit, or per cluster when ``clusters`` (codes 0..G-1 per unit) is given."""
    psi = _columns(psi)
    n_units, k = psi.shape
    clean = np.where(np.isfinite(psi), psi, 0.0)
    if clusters is not None:
        clean = cluster_sums(clean, clusters)
    n = clean.shape[0]
    rng = seeded_rng(seed)
    # v = 2b - 1 with b ~ Bernoulli(1/2) drawn as packed random bits; v @ psi = 2 (b @ psi) - colsum(psi).
    # The products run in float32 (the draws only feed quantiles); the column sums stay in float64.
    low = clean.astype(np.float32)
    colsum = clean.sum(axis=0)
    n_bytes = (n + 7) // 8
    out = np.empty((n_boot, k))
    for start in range(0, n_boot, _CHUNK):
        b = min(_CHUNK, n_boot - start)
        bits = np.unpackbits(rng.integers(0, 256, size=(b, n_bytes), dtype=np.uint8), axis=1, count=n)
        out[start:start + b] = 2.0 * (bits.astype(np.float32) @ low) - colsum
    out /= np.sqrt(n)
    out[:, ~np.isfinite(psi).all(axis=0)] = np.nan
    return BootstrapDraws(draws=out, n=n_units, n_clusters=n)


def analytic_se(psi: np.ndarray, clusters: np.ndarray | None = None) -> np.ndarray:
    """Influence-function standard error ``sqrt(mean(psi**2) / n)`` of each column; with ``clusters``,
    ``sqrt(sum over clusters of (cluster sum of psi)**2) / n``."""
    psi = _columns(psi)
    n = psi.shape[0]
    if clusters is not None:
        return np.sqrt(np.sum(cluster_sums(psi, clusters) ** 2, axis=0)) / n
    return np.sqrt(np.mean(psi**2, axis=0) / n)


def influence_covariance(psi: np.ndarray, clusters: np.ndarray | None = None) -> np.ndarray:
    """``V`` with ``Var(estimates) = V / n``: ``psi'psi / n``, or from the cluster sums with ``clusters``."""
    psi = _columns(psi)
    s = cluster_sums(psi, clusters) if clusters is not None else psi
    return s.T @ s / psi.shape[0]
