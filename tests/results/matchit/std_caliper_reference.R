# Reference weights and subclasses for calipers whose widths mix SDs and raw units (std.caliper per caliper).
# Run from the repository root: Rscript tests/results/matchit/std_caliper_reference.R
# R MatchIt 4.5.1 on its lalonde data, nearest neighbour on a Mahalanobis distance (mahvars: MatchIt's general
# path, first control in data order among equally near ones, as sop_eval on that path), with a propensity caliper
# and covariate calipers. Writes std_caliper_reference.csv (config, id, subclass, weight) and the calipers MatchIt
# applied in raw units (std_caliper_configs.json).
suppressPackageStartupMessages({library(MatchIt); library(jsonlite)})
data("lalonde", package = "MatchIt")
out <- "tests/results/matchit"
f <- treat ~ age + educ + race + married + nodegree + re74 + re75
mah <- ~ age + educ + re74 + re75
configs <- list(
  sd_raw_sd = list(caliper = c(0.25, age = 5, educ = 0.5), std.caliper = c(TRUE, FALSE, TRUE)),
  raw_sd = list(caliper = c(0.02, age = 0.5), std.caliper = c(FALSE, TRUE), ratio = 2),
  all_raw = list(caliper = c(0.04, age = 2), std.caliper = FALSE),
  all_sd = list(caliper = c(0.1, age = 0.2), std.caliper = TRUE)
)
rows <- list(); info <- list()
for (name in names(configs)) {
  args <- c(list(formula = f, data = lalonde, method = "nearest", mahvars = mah), configs[[name]])
  m <- do.call(matchit, args)
  sub <- if (is.null(m$subclass)) rep(NA, nrow(lalonde)) else as.integer(as.character(m$subclass))
  rows[[name]] <- data.frame(config = name, id = rownames(lalonde), subclass = sub, weight = m$weights)
  info[[name]] <- list(caliper_raw = as.list(m$caliper),
                       n_matched_treated = sum(m$weights[lalonde$treat == 1] > 0),
                       n_matched_control = sum(m$weights[lalonde$treat == 0] > 0))
}
write.csv(do.call(rbind, rows), file.path(out, "std_caliper_reference.csv"), row.names = FALSE)
write_json(list(matchit = as.character(packageVersion("MatchIt")), configs = info),
           file.path(out, "std_caliper_configs.json"), auto_unbox = TRUE, pretty = TRUE, digits = NA)
