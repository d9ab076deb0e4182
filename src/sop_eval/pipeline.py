"""Former home of :func:`evaluate` and :func:`run`; kept for one release. Import from :mod:`sop_eval.evaluation`."""

from sop_eval.evaluation.evaluate import COHORT_COLUMN, DEFAULT_SEED, evaluate, run
from sop_eval.evaluation.results import CohortResult, DidEvaluation, Evaluation

__all__ = ["COHORT_COLUMN", "DEFAULT_SEED", "CohortResult", "DidEvaluation", "Evaluation", "evaluate", "run"]
