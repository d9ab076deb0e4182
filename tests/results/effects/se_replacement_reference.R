# Reference standard errors for matched cohorts, with and without replacement, on sop_eval's own matches.
# Run from the repository root, after tests/results/effects/make_se_replacement_data.py:
#   Rscript tests/results/effects/se_replacement_reference.R
# No matching is done in R for Lalonde (the matched sets are read from the exported CSVs), so these
# numbers check the standard errors only. Needs sandwich and Matching. Writes, next to this script:
#   se_replacement_lm.csv  design, form (get_matches/match.data), adjustment, se_type, estimate, se
#   ai_sim_se.csv          Matching::Match on ai_sim_data.csv: M, Var.calc, estimate, se, matched rows
#   ai_sim_pairs_M<k>.csv  Match's pairs (1-based index.treated, index.control, weights)
suppressPackageStartupMessages({library(sandwich); library(Matching)})
dir <- "tests/results/effects"
d <- read.csv("src/sop_eval/fixtures/lalonde.csv", stringsAsFactors = FALSE)
d$race <- factor(d$race, levels = c("black", "hispan", "white"))
d$row <- seq_len(nrow(d))
covs <- c("age", "educ", "race", "married", "nodegree", "re74", "re75")
f_none <- re78 ~ treat
f_cov <- reformulate(c("treat", covs), response = "re78")
with_d <- function(x) merge(x, d[, c("row", covs, "re78")], by = "row", sort = FALSE)
se_of <- function(v) sqrt(v["treat", "treat"])
rows <- list()
add <- function(design, form, adj, type, fit, v) {
  rows[[length(rows) + 1]] <<- data.frame(design = design, form = form, adjustment = adj, se_type = type,
                                          estimate = unname(coef(fit)["treat"]), se = se_of(v))
}
for (design in c("nn1r", "nn3r", "nn1")) {
  units <- with_d(read.csv(file.path(dir, paste0("lalonde_units_", design, ".csv"))))
  replace <- design != "nn1"
  for (adj in c("none", "covariates")) {
    f <- if (adj == "none") f_none else f_cov
    # match.data form: MatchIt's weights without covariates; with covariates sop_eval keeps the summed
    # get_matches weights (before rescaling) so that every SE shares the get_matches point estimate
    units$w <- if (adj == "none") units$weights else units$weights_sum
    fit <- lm(f, data = units, weights = w)
    for (hc in c("HC0", "HC1", "HC2", "HC3")) add(design, "match.data", adj, hc, fit, vcovHC(fit, type = hc))
    if (replace) {
      sets <- with_d(read.csv(file.path(dir, paste0("lalonde_sets_", design, ".csv"))))
      gfit <- lm(f, data = sets, weights = weights)
      add(design, "get_matches", adj, "cluster", gfit, vcovCL(gfit, cluster = ~subclass + row))
      add(design, "get_matches", adj, "cluster_set_only", gfit, vcovCL(gfit, cluster = ~subclass))
    } else {
      add(design, "match.data", adj, "cluster", fit, vcovCL(fit, cluster = ~subclass))
    }
  }
}
write.csv(do.call(rbind, rows), file.path(dir, "se_replacement_lm.csv"), row.names = FALSE)

s <- read.csv(file.path(dir, "ai_sim_data.csv"))
ai <- list()
for (k in c(1, 3)) {
  for (vc in c(0, k)) {
    r <- Match(Y = s$y, Tr = s$treat, X = s$score, estimand = "ATT", M = k, ties = TRUE, replace = TRUE, Var.calc = vc)
    ai[[length(ai) + 1]] <- data.frame(M = k, var_calc = vc, estimate = r$est[1, 1], se = r$se,
                                       n_matched_rows = length(r$index.treated))
  }
  write.csv(data.frame(index_treated = r$index.treated, index_control = r$index.control, weights = r$weights),
            file.path(dir, paste0("ai_sim_pairs_M", k, ".csv")), row.names = FALSE)
}
write.csv(do.call(rbind, ai), file.path(dir, "ai_sim_se.csv"), row.names = FALSE)
writeLines(c(R.version.string, paste("Matching", packageVersion("Matching")),
             paste("sandwich", packageVersion("sandwich"))), file.path(dir, "se_replacement_versions.txt"))
