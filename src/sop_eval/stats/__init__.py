"""The numerical core."""

from sop_eval.stats.estimate import Estimate

__all__ = ["Estimate"]
