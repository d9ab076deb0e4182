# Reference numbers for the weighted Kaplan-Meier, RMST and weighted Cox estimators.
# Run from the repository root:  Rscript tests/results/effects/survival_reference.R
# Input survival_data.csv is written by make_survival_data.py. Needs the recommended package survival.
suppressPackageStartupMessages(library(survival))
out_dir <- "tests/results/effects"
d <- read.csv(file.path(out_dir, "survival_data.csv"))
tau <- 365
rows <- list()
for (g in c(1, 0)) {
  s <- d[d$treat == g, ]
  fit <- survfit(Surv(time, event) ~ 1, data = s, weights = weight)
  tab <- summary(fit, rmean = tau)$table
  # infinitesimal-jackknife influence of each row on the RMST: influence on S(t) times interval widths
  s$id <- seq_len(nrow(s))
  fi <- survfit(Surv(time, event) ~ 1, data = s, weights = weight, id = id, influence = TRUE)
  keep <- fi$time <= tau
  rmst_if <- fi$influence.surv[, keep, drop = FALSE] %*% diff(c(fi$time[keep], tau))
  rows[[length(rows) + 1]] <- data.frame(treat = g, median = unname(tab["median"]),
                                         rmean = unname(tab["rmean"]), se_rmean = unname(tab["se(rmean)"]),
                                         surv_at_200 = summary(fit, times = 200)$surv,
                                         se_rmean_ij = sqrt(sum(rmst_if^2)),
                                         se_rmean_ij_cluster = sqrt(sum(tapply(rmst_if, s$set, sum)^2)))
}
write.csv(do.call(rbind, rows), file.path(out_dir, "survival_km.csv"), row.names = FALSE)
cox <- coxph(Surv(time, event) ~ treat, data = d, weights = weight, cluster = set, ties = "breslow")
cox_unw <- coxph(Surv(time, event) ~ treat, data = d, cluster = set, ties = "breslow")
write.csv(data.frame(model = c("weighted", "unweighted"), coef = c(coef(cox), coef(cox_unw)),
                     robust_se = c(sqrt(vcov(cox)[1, 1]), sqrt(vcov(cox_unw)[1, 1]))),
          file.path(out_dir, "survival_cox.csv"), row.names = FALSE)
