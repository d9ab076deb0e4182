"""Difference-in-differences: 2×2, two-way fixed effects, event studies and staggered adoption."""

from sop_eval.did.aggregate import AggregateResult
from sop_eval.did.att_gt import AttGtResult, att_gt
from sop_eval.did.diagnostics import WaldTest, pretrend_test

__all__ = ["att_gt", "AttGtResult", "AggregateResult", "WaldTest", "pretrend_test"]
