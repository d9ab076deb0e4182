# Reference balance from R MatchIt 4.5.1's summary() on MatchIt's lalonde data, for sop_eval.balance().
#
# Run from the repository root:  Rscript tests/results/balance/balance_reference.R
# Writes, next to this script:
#   units.csv    per row: distance, weights and subclass of each configuration
#   summary.csv  summary(m, un = TRUE) (and, for subclassification, summary(m, subclass = TRUE)) in long form:
#                config, sample (all / matched / subclass k), term, statistic, value
#   improvement.csv  summary()'s percent balance improvement
#   sizes.csv    summary()'s sample sizes
# Configurations: nn2r = 1:2 nearest with replacement on the glm score (general path, mahvars = ~ps, as in
# tests/results/matchit); sub6 = subclassification into 6 subclasses (ATT).

suppressPackageStartupMessages(library(MatchIt))
stopifnot(as.character(packageVersion("MatchIt")) == "4.5.1")
args <- commandArgs(trailingOnly = FALSE)
file_arg <- sub("^--file=", "", args[grep("^--file=", args)])
out_dir <- if (length(file_arg)) dirname(normalizePath(file_arg)) else "."

data("lalonde", package = "MatchIt")
form <- treat ~ age + educ + race + married + nodegree + re74 + re75
lalonde$ps <- fitted(glm(form, data = lalonde, family = binomial()))

fits <- list(
  nn2r = matchit(form, data = lalonde, method = "nearest", distance = lalonde$ps, mahvars = ~ps, ratio = 2,
                 replace = TRUE),
  sub6 = matchit(form, data = lalonde, method = "subclass", distance = lalonde$ps, subclass = 6, estimand = "ATT")
)
units <- data.frame(id = rownames(lalonde))
long <- list(); improve <- list(); sizes <- list()
stats <- c("Means Treated", "Means Control", "Std. Mean Diff.", "Var. Ratio", "eCDF Mean", "eCDF Max")
put <- function(config, sample, tab) {
  out <- list()
  for (s in intersect(stats, colnames(tab))) {
    out[[s]] <- data.frame(config = config, sample = sample, term = rownames(tab), statistic = s,
                           value = sprintf("%.17g", tab[, s]))
  }
  do.call(rbind, out)
}
for (name in names(fits)) {
  m <- fits[[name]]
  units[[paste0(name, "_weights")]] <- sprintf("%.17g", m$weights)
  units[[paste0(name, "_distance")]] <- sprintf("%.17g", m$distance)
  units[[paste0(name, "_subclass")]] <- if (is.null(m$subclass)) NA else as.integer(as.character(m$subclass))
  s <- summary(m, un = TRUE, improvement = TRUE)
  long[[paste(name, "all")]] <- put(name, "all", s$sum.all)
  after <- if (!is.null(s$sum.matched)) s$sum.matched else s$sum.across
  long[[paste(name, "matched")]] <- put(name, "matched", after)
  imp <- s$reduction
  improve[[name]] <- data.frame(config = name, term = rownames(imp), smd = imp[, "Std. Mean Diff."],
                                var_ratio = imp[, "Var. Ratio"], ecdf_mean = imp[, "eCDF Mean"],
                                ecdf_max = imp[, "eCDF Max"])
  nn <- s$nn
  sizes[[name]] <- data.frame(config = name, row = rownames(nn), control = nn[, "Control"], treated = nn[, "Treated"])
  if (name == "sub6") {
    ss <- summary(m, subclass = TRUE, un = FALSE)
    for (k in seq_along(ss$sum.subclass)) {
      long[[paste(name, k)]] <- put(name, paste("subclass", k), ss$sum.subclass[[k]])
    }
  }
}
write.csv(units, file.path(out_dir, "units.csv"), row.names = FALSE, quote = FALSE)
write.csv(do.call(rbind, long), file.path(out_dir, "summary.csv"), row.names = FALSE)
write.csv(do.call(rbind, improve), file.path(out_dir, "improvement.csv"), row.names = FALSE)
write.csv(do.call(rbind, sizes), file.path(out_dir, "sizes.csv"), row.names = FALSE)
writeLines(c(R.version.string, paste("MatchIt", packageVersion("MatchIt"))), file.path(out_dir, "versions.txt"))
