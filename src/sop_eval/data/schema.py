"""Column roles: which column of person-level evaluation data plays which part (defined with the contract's plan)."""

from sop_eval.contract.plan import ColumnRoles

__all__ = ["ColumnRoles"]
