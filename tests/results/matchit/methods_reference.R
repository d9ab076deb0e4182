# Reference subclasses and weights for sop_eval's matching methods beyond greedy nearest neighbour on a score.
# Run from the repository root: Rscript tests/results/matchit/methods_reference.R
# R MatchIt 4.5.1 on its lalonde data. Only paths 4.5.1 computes correctly are used: cem, exact,
# subclass, and nearest on its general path (a Mahalanobis distance: nn_matchC, first control in data
# order among equally near ones, the rule sop_eval uses on that path). Writes methods_reference.csv
# (config, id, subclass, weight) and methods_configs.json.
suppressPackageStartupMessages({library(MatchIt); library(jsonlite)})
data("lalonde", package = "MatchIt")
out <- "tests/results/matchit"
f <- treat ~ age + educ + race + married + nodegree + re74 + re75
mah <- ~ age + educ + re74 + re75
configs <- list(
  cem_default = list(formula = f, method = "cem"),
  cem_cuts_ate = list(formula = f, method = "cem", estimand = "ATE",
                      cutpoints = list(age = 4, educ = "q3", re74 = c(0, 5000, 15000)),
                      grouping = list(race = list(c("black", "hispan")))),
  cem_k2k = list(formula = treat ~ age + educ + married + nodegree + re74, method = "cem", k2k = TRUE,
                 cutpoints = list(age = 3, educ = 3, re74 = 2)),
  exact_att = list(formula = treat ~ race + married + nodegree, method = "exact"),
  exact_atc = list(formula = treat ~ race + married + nodegree, method = "exact", estimand = "ATC"),
  subclass_att = list(formula = f, method = "subclass"),
  subclass_ate4 = list(formula = f, method = "subclass", subclass = 4, estimand = "ATE"),
  subclass_min_n = list(formula = f, method = "subclass", subclass = 12, min.n = 3),
  mahalanobis = list(formula = treat ~ age + educ + re74 + re75, method = "nearest", distance = "mahalanobis"),
  mahalanobis_atc = list(formula = treat ~ age + educ + re74 + re75, method = "nearest", distance = "mahalanobis",
                         estimand = "ATC"),
  mahalanobis_antiexact = list(formula = treat ~ age + educ + re74 + re75, method = "nearest",
                               distance = "mahalanobis", antiexact = ~married),
  mahvars_calipers = list(formula = f, method = "nearest", mahvars = mah, caliper = c(0.25, age = 0.5)),
  mahvars_raw_caliper = list(formula = f, method = "nearest", mahvars = mah, caliper = c(age = 4),
                             std.caliper = FALSE, ratio = 2),
  mahvars_variable_ratio = list(formula = f, method = "nearest", mahvars = mah, ratio = 2, min.controls = 1,
                                max.controls = 4)
)
rows <- list(); info <- list()
for (name in names(configs)) {
  args <- c(configs[[name]], list(data = lalonde))
  m <- do.call(matchit, args)
  sub <- if (is.null(m$subclass)) rep(NA, nrow(lalonde)) else as.integer(as.character(m$subclass))
  rows[[name]] <- data.frame(config = name, id = rownames(lalonde), subclass = sub, weight = m$weights)
  info[[name]] <- list(n_matched_treated = sum(m$weights[lalonde$treat == 1] > 0),
                       n_matched_control = sum(m$weights[lalonde$treat == 0] > 0))
}
write.csv(do.call(rbind, rows), file.path(out, "methods_reference.csv"), row.names = FALSE)
write_json(list(matchit = as.character(packageVersion("MatchIt")), configs = info),
           file.path(out, "methods_configs.json"), auto_unbox = TRUE, pretty = TRUE, digits = NA)
