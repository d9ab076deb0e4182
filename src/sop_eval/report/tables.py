"""Plain-text tables for the terminal (:func:`format_table` lives in :mod:`sop_eval.outputs`)."""

from sop_eval.outputs import format_table

__all__ = ["format_table"]
