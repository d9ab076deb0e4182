"""Evaluation designs: the plug-ins :func:`sop_eval.evaluation.evaluate` runs, by ``[evaluation] design``.

``psm`` (matched cohorts), ``did`` (staggered difference-in-differences) and the area-level
``synthetic_control`` and ``sdid`` (:mod:`sop_eval.designs.synth`) are built in. A new design
(synthetic control, a randomised trial) is one module here holding a class with:

- ``name`` (the contract's ``[evaluation] design`` value) and ``title`` (the design in words);
- ``prepare(contract, frame, *, seed, as_of, risk_draws) -> Prepared``: check the contract's settings,
  validate the data for the design (raising :class:`~sop_eval.SopEvalError` naming the key or column),
  fit whatever is fitted once, and record every setting in ``Prepared.parameters``;
- ``measure(cohort, prepared, *, seed) -> CohortResult``: one contract cohort — ``"measured"`` with an
  :class:`~sop_eval.effects.estimate.EffectEstimate` (estimate, se, level, treated and comparison means,
  ``n_treated`` in the units the contract pays), or ``"not yet measurable"`` / ``"no treated people"``;
- ``report_sections(evaluation, kit)``: the report sections it adds after the headline, built with the
  report's :class:`~sop_eval.designs.base.ReportKit` (disclosure control, figures drawn by a named plot
  function of :mod:`sop_eval.report`, sections);
- ``methods(evaluation, *, significance, policy)``: the paragraphs of the report's methods section;
- optionally ``pool(cohorts, prepared, *, label) -> EffectEstimate`` when its cohorts share one fit
  (:class:`~sop_eval.designs.base.PoolsCohorts`): the pooled result with a standard error that accounts
  for what they share.

and a ``register(NewDesign())`` line below. A figure type the report does not draw yet is one plot
function (taking ``ax=``) added to :data:`sop_eval.report.evaluation_report.PLOTS`. Pooling, gates,
payments, payment risk, the headline, the effects, gates, payments and sensitivity sections and the
audit record are the same for every design.
"""

from sop_eval.designs.base import (
    DESIGNS,
    CohortResult,
    Design,
    OutcomeMeasure,
    PoolsCohorts,
    Prepared,
    ReportKit,
    register,
)
from sop_eval.designs.did import DidDesign, DidEvaluation
from sop_eval.designs.psm import PsmDesign
from sop_eval.designs.synth import AreaFit, SynthDesign

register(PsmDesign())
register(DidDesign())
register(SynthDesign("synthetic_control"))
register(SynthDesign("sdid"))

__all__ = ["DESIGNS", "AreaFit", "CohortResult", "Design", "DidDesign", "DidEvaluation", "OutcomeMeasure",
           "PoolsCohorts", "Prepared", "PsmDesign", "ReportKit", "SynthDesign", "register"]
