"""Former home of the audit trail; kept for one release. Import from :mod:`sop_eval.evaluation.audit` (the
provenance record) and :mod:`sop_eval.evaluation.verify` (re-run and compare)."""

from sop_eval.evaluation.audit import (
    AUDIT_FORMAT,
    DEPENDENCIES,
    environment,
    read_audit,
    sha256_bytes,
    sha256_file,
    utc_now,
    write_audit,
)
from sop_eval.evaluation.verify import (
    FLOAT_ATOL,
    FLOAT_RTOL,
    MONEY_LEAVES,
    MONEY_PARENTS,
    Difference,
    Verification,
    compare_results,
    flatten,
    verify,
)

__all__ = ["AUDIT_FORMAT", "DEPENDENCIES", "FLOAT_ATOL", "FLOAT_RTOL", "MONEY_LEAVES", "MONEY_PARENTS", "Difference",
           "Verification", "compare_results", "environment", "flatten", "read_audit", "sha256_bytes", "sha256_file",
           "utc_now", "verify", "write_audit"]
