"""Difference-in-differences: 2×2, two-way fixed effects, event studies, staggered adoption and HonestDiD."""

from sop_eval.did.aggregate import AggregateResult
from sop_eval.did.att_gt import AttGtResult, att_gt
from sop_eval.did.bacon import BaconResult, bacon_decomposition
from sop_eval.did.basic import DidResult, did2x2, twfe
from sop_eval.did.diagnostics import WaldTest, pretrend_test, raw_means
from sop_eval.did.effect import to_effect_estimate
from sop_eval.did.event_study import EventStudyResult, event_study
from sop_eval.did.honest import HonestResult, event_study_inputs, honest_did, honest_sensitivity
from sop_eval.did.matched import matched_did, with_matching_weights
from sop_eval.did.overlap import OverlapReport, overlap_diagnostics

__all__ = [
    "did2x2", "twfe", "event_study", "att_gt", "matched_did", "bacon_decomposition", "pretrend_test", "raw_means",
    "to_effect_estimate", "with_matching_weights", "DidResult", "EventStudyResult", "AttGtResult",
    "AggregateResult", "BaconResult",
    "WaldTest", "honest_did", "honest_sensitivity", "event_study_inputs", "HonestResult", "overlap_diagnostics",
    "OverlapReport",
]
