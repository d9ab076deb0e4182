"""Multiplier bootstrap and influence-function standard errors; they live in :mod:`sop_eval.stats`."""

from sop_eval.stats.bootstrap import BootstrapDraws, multiplier_bootstrap
from sop_eval.stats.influence import analytic_se, cluster_sums, influence_covariance

__all__ = ["BootstrapDraws", "analytic_se", "cluster_sums", "influence_covariance", "multiplier_bootstrap"]
