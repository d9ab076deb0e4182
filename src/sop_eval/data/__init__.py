"""The data layer: column roles, readers for CSV and Parquet, and validation."""

from sop_eval.data.columns import COHORT_COLUMN
from sop_eval.data.readers import load_contract_data, read_table
from sop_eval.data.schema import ColumnRoles
from sop_eval.data.validation import EvaluationData, load, outcome_windows, validate

__all__ = ["COHORT_COLUMN", "ColumnRoles", "EvaluationData", "load_contract_data", "read_table", "load", "validate",
           "outcome_windows"]
