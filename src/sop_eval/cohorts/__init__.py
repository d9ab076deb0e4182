"""Comparison cohorts: propensity scores, nearest-neighbour matching, balance and who was dropped."""

from sop_eval.cohorts.balance import BalanceTable
from sop_eval.cohorts.matching import MatchedCohort, match

__all__ = ["BalanceTable", "MatchedCohort", "match"]
