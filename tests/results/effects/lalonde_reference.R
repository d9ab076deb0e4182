# Reference numbers for the matched-cohort effect estimators, computed on the Lalonde sample.
# Run from the repository root:  Rscript tests/results/effects/lalonde_reference.R
# Needs MatchIt (4.5.1), Matching, sandwich. Writes, next to this script:
#   lalonde_matches.csv   per row: logit propensity score and MatchIt weights/subclass for each design
#   lalonde_lm_se.csv     weighted lm(re78 ~ treat [+ covariates]) estimate with cluster and HC0-HC3 SEs
#   lalonde_ai_se.csv     Matching::Match(ATT, ties=TRUE) estimate with Abadie-Imbens SE, M = 1, 2, 3
suppressPackageStartupMessages({library(MatchIt); library(Matching); library(sandwich)})
out_dir <- "tests/results/effects"
d <- read.csv("src/sop_eval/fixtures/lalonde.csv", stringsAsFactors = FALSE)
d$race <- factor(d$race, levels = c("black", "hispan", "white"))
f_ps <- treat ~ age + educ + race + married + nodegree + re74 + re75
d$ps <- fitted(glm(f_ps, data = d, family = binomial()))

designs <- list(nn1 = list(ratio = 1), nn2 = list(ratio = 2))
matches <- data.frame(id = d$id, ps = d$ps)
lm_rows <- list()
for (nm in names(designs)) {
  # a numeric distance vector sends matchit() down its general nearest-neighbour path
  m <- matchit(f_ps, data = d, method = "nearest", distance = d$ps, ratio = designs[[nm]]$ratio)
  matches[[paste0("weights_", nm)]] <- m$weights
  sc <- as.character(m$subclass)
  sc[is.na(sc)] <- ""
  matches[[paste0("subclass_", nm)]] <- sc
  md <- match.data(m, data = d, distance = "ps_md")
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
writeLines(c(R.version.string, paste("MatchIt", packageVersion("MatchIt")),
             paste("Matching", packageVersion("Matching")), paste("sandwich", packageVersion("sandwich"))),
           file.path(out_dir, "versions.txt"))
