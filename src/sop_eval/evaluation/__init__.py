"""The evaluation of a contract: :func:`evaluate` / :func:`run`, the result objects, the audit record, verification.

Modules, bottom to top: ``results`` (:class:`Evaluation`), ``audit`` (writing, reading and checking the
sealed provenance record), ``release`` (the release-safe export), ``evaluate`` (the design-agnostic
orchestrator and the bundle ``run`` writes), ``verify`` (re-running a bundle and comparing every file and
figure).
"""

from sop_eval.evaluation.audit import check_audit, read_audit, write_audit
from sop_eval.evaluation.evaluate import COHORT_COLUMN, DEFAULT_SEED, evaluate, run
from sop_eval.evaluation.results import CohortResult, DidEvaluation, Evaluation
from sop_eval.evaluation.verify import Difference, Verification, compare_results, verify

__all__ = ["COHORT_COLUMN", "DEFAULT_SEED", "CohortResult", "Difference", "DidEvaluation", "Evaluation", "Verification",
           "check_audit", "compare_results", "evaluate", "read_audit", "run", "verify", "write_audit"]
