# Reference numbers for the matched-cohort effect estimators, computed on the Lalonde sample.
# Run from the repository root:  Rscript tests/results/effects/lalonde_reference.R
# Needs Matching and sandwich. Writes, next to this script:
#   lalonde_matches.csv   per row: logit propensity score and matching weights/subclass for each design
#   lalonde_lm_se.csv     weighted lm(re78 ~ treat [+ covariates]) estimate with cluster and HC0-HC3 SEs
#   lalonde_ai_se.csv     Matching::Match(ATT, ties=TRUE) estimate with Abadie-Imbens SE, M = 1, 2, 3
#
# The designs are 1:1 and 1:2 greedy nearest-neighbour matching without replacement on the glm logit
# score, largest score first, under MatchIt's sorted-scan tie rule (MatchIt >= 4.5.4). The matches
# come from the plain R matcher in tests/results/matchit/sorted_scan.R, cross-checked against
# MatchIt's general path by tests/results/matchit/tie_rule_reference.R. MatchIt 4.5.1 (Debian's) is
# not used for them: a numeric `distance` vector sends its matchit() down the fast path
# (nn_matchC_vec), which in 4.5.1 does not always take the nearest control, and its general path
# breaks ties between equally near controls another way. Weights are MatchIt's (treated 1; a control
# the sum of 1/(set size) over its sets, rescaled to the number of matched controls); subclass numbers
# the matched sets by the treated unit's row.
suppressPackageStartupMessages({library(Matching); library(sandwich)})
source("tests/results/matchit/sorted_scan.R")
out_dir <- "tests/results/effects"
d <- read.csv("src/sop_eval/fixtures/lalonde.csv", stringsAsFactors = FALSE)
d$race <- factor(d$race, levels = c("black", "hispan", "white"))
f_ps <- treat ~ age + educ + race + married + nodegree + re74 + re75
d$ps <- fitted(glm(f_ps, data = d, family = binomial()))

designs <- list(nn1 = list(ratio = 1), nn2 = list(ratio = 2))
matches <- data.frame(id = d$id, ps = d$ps)
lm_rows <- list()
for (nm in names(designs)) {
  score <- setNames(d$ps, d$id)
  mm <- greedy_nn(score, d$treat, designs[[nm]]$ratio, replace = FALSE,
                  seq_t = treated_sequence(score[d$treat == 1], "largest"))
  w <- mm_weights(mm, d$treat)
  sc <- rep("", nrow(d))
  t_idx <- which(d$treat == 1)
  set_no <- 0
  for (i in seq_len(nrow(mm))) {
    cs <- mm[i, !is.na(mm[i, ])]
    if (!length(cs)) next
    set_no <- set_no + 1
    sc[c(t_idx[i], cs)] <- as.character(set_no)
  }
  matches[[paste0("weights_", nm)]] <- w
  matches[[paste0("subclass_", nm)]] <- sc
  md <- d[w > 0, ]
  md$weights <- w[w > 0]
  md$subclass <- factor(sc[w > 0])
  for (adj in c("none", "covariates")) {
    f <- if (adj == "none") re78 ~ treat else re78 ~ treat + age + educ + race + married + nodegree + re74 + re75
    fit <- lm(f, data = md, weights = weights)
    ses <- c(cluster = sqrt(vcovCL(fit, cluster = ~subclass, type = "HC1")["treat", "treat"]))
    for (hc in c("HC0", "HC1", "HC2", "HC3")) ses[hc] <- sqrt(vcovHC(fit, type = hc)["treat", "treat"])
    lm_rows[[length(lm_rows) + 1]] <- data.frame(design = nm, adjustment = adj, se_type = names(ses),
                                                 estimate = unname(coef(fit)["treat"]), se = unname(ses))
  }
}
write.csv(matches, file.path(out_dir, "lalonde_matches.csv"), row.names = FALSE)
write.csv(do.call(rbind, lm_rows), file.path(out_dir, "lalonde_lm_se.csv"), row.names = FALSE)

ai_rows <- list()
for (k in 1:3) {
  r <- Match(Y = d$re78, Tr = d$treat, X = d$ps, estimand = "ATT", M = k, ties = TRUE)
  ai_rows[[k]] <- data.frame(M = k, estimate = r$est[1, 1], se = r$se, se_standard = r$se.standard,
                             n_treated = r$wnobs, n_matched_rows = length(r$index.treated))
}
write.csv(do.call(rbind, ai_rows), file.path(out_dir, "lalonde_ai_se.csv"), row.names = FALSE)
writeLines(c(R.version.string, "matches: tests/results/matchit/sorted_scan.R (MatchIt >= 4.5.4 tie rule)",
             paste("Matching", packageVersion("Matching")), paste("sandwich", packageVersion("sandwich"))),
           file.path(out_dir, "versions.txt"))
