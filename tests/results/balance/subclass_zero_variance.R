# Reference for sop_eval.balance(..., subclass=) when one group of a subclass has zero variance on a term,
# from R MatchIt 4.5.1's summary(m, subclass = TRUE) on a small constructed data set.
#
# Run from the repository root:  Rscript tests/results/balance/subclass_zero_variance.R
# Writes, next to this script:
#   subclass_zero_variance_units.csv    the data: treat, x (continuous), b (binary), c (binary), subclass per
#                                       estimand
#   subclass_zero_variance_summary.csv  per estimand and subclass: term, statistic, value (17 digits)
# For the ATT and ATE, in subclass 3 every treated unit has b = 1 (treated SD 0: MatchIt falls back to the full-sample pooled SD) and
# c is 1 for all treated and 0 for all controls (both groups constant); in subclass 2 the controls share one x.

suppressPackageStartupMessages(library(MatchIt))
stopifnot(as.character(packageVersion("MatchIt")) == "4.5.1")
args <- commandArgs(trailingOnly = FALSE)
file_arg <- sub("^--file=", "", args[grep("^--file=", args)])
out_dir <- if (length(file_arg)) dirname(normalizePath(file_arg)) else "."

d <- data.frame(
  treat = c(1, 1, 1, 0, 0, 0, 0, 0,   1, 1, 1, 0, 0, 0,   1, 1, 1, 1, 0, 0, 0),
  x     = c(1.0, 2.5, 3.1, 0.4, 2.2, 1.7, 0.9, 1.2,   4.0, 5.5, 4.8, 3.0, 3.0, 3.0,   7.2, 6.1, 8.4, 6.6, 5.0, 7.7, 6.3),
  b     = c(1, 0, 1, 0, 0, 1, 0, 0,   0, 1, 1, 0, 1, 0,   1, 1, 1, 1, 0, 1, 0),
  c     = c(0, 1, 0, 1, 0, 0, 1, 1,   1, 0, 1, 0, 0, 1,   1, 1, 1, 1, 0, 0, 0)
)
# the score orders the three blocks of rows: for the ATT and the ATE, subclassification into 3 reproduces them
# (the ATC cuts at the controls' quantiles: subclass 3 then takes the last unit of block 2)
d$ps <- c(0.10, 0.11, 0.12, 0.13, 0.14, 0.15, 0.16, 0.165,   0.40, 0.41, 0.42, 0.43, 0.44, 0.45,
          0.80, 0.81, 0.82, 0.83, 0.84, 0.85, 0.86)
long <- list()
units <- d
for (estimand in c("ATT", "ATC", "ATE")) {
  m <- matchit(treat ~ x + b + c, data = d, method = "subclass", distance = d$ps, subclass = 3,
               estimand = estimand)
  sub <- as.integer(as.character(m$subclass))
  units[[paste0("subclass_", estimand)]] <- sub
  s <- summary(m, subclass = TRUE, un = FALSE)
  for (k in seq_along(s$sum.subclass)) {
    tab <- s$sum.subclass[[k]]
    for (stat in colnames(tab)) {
      long[[length(long) + 1]] <- data.frame(estimand = estimand, subclass = k, term = rownames(tab),
                                             statistic = stat, value = sprintf("%.17g", tab[, stat]))
    }
  }
}
write.csv(units, file.path(out_dir, "subclass_zero_variance_units.csv"), row.names = FALSE, quote = FALSE)
write.csv(do.call(rbind, long), file.path(out_dir, "subclass_zero_variance_summary.csv"), row.names = FALSE)
