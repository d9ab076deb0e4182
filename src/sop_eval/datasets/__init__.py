"""Bundled and simulated evaluation data with known true effects.

- :func:`make_reoffending` — a Peterborough-like world of released prisoners (matched-cohort designs).
- :func:`make_staggered_panel` — an area-by-period panel with staggered adoption (difference-in-differences).
- :func:`make_area_panel` — local authorities by year, one running a contract (synthetic control, SDID).
- :func:`load_lalonde` — the classic 614-row NSW/PSID sample used to check matching against R.
"""

from sop_eval.datasets.area import make_area_panel
from sop_eval.datasets.lalonde import load_lalonde
from sop_eval.datasets.panel import make_staggered_panel
from sop_eval.datasets.reoffending import REOFFENDING_ROLES, make_reoffending

__all__ = ["make_reoffending", "make_staggered_panel", "make_area_panel", "load_lalonde", "REOFFENDING_ROLES"]
