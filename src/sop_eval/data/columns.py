"""Columns an evaluation adds to the data it reads."""

# the contract cohort of each row (the cohort's name, or None for a row in no cohort)
COHORT_COLUMN = "_contract_cohort"
