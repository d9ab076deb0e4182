# Reference numbers for time to event in a sample matched with replacement, horizon shorter than the
# longest time. Run from the repository root:  Rscript tests/results/effects/survival_replacement_reference.R
# Input survival_replacement.csv is written by make_survival_replacement.py. Needs the packages survival
# and jsonlite.
# Writes survival_replacement_reference.json and the printed R objects to survival_replacement_R_output.txt.
suppressPackageStartupMessages(library(survival))
out_dir <- "tests/results/effects"
d <- read.csv(file.path(out_dir, "survival_replacement.csv"))
tau <- 180
km_times <- c(30, 90, 150, 180)
# every time beyond the horizon is censored at it, events included
d$time_h <- pmin(d$time, tau)
d$event_h <- ifelse(d$time <= tau, d$event, 0L)
stopifnot(max(d$time) > tau, any(d$event == 1 & d$time > tau))

sink(file.path(out_dir, "survival_replacement_R_output.txt"))
print(R.version.string)
print(packageVersion("survival"))
cox <- list(
  person = coxph(Surv(time_h, event_h) ~ treat, data = d, weights = weight, cluster = person, ties = "breslow"),
  set = coxph(Surv(time_h, event_h) ~ treat, data = d, weights = weight, cluster = set, ties = "breslow")
)
for (k in names(cox)) {
  f <- cox[[k]]
  cat("\n== coxph clustered on", k, "==\n")
  print(f$call)
  print(summary(f))
  cat("robust variance present (naive.var kept):", !is.null(f$naive.var), "\n")
  cat("naive SE", sqrt(f$naive.var[1, 1]), " robust SE", sqrt(f$var[1, 1]), "\n")
}
km <- survfit(Surv(time_h, event_h) ~ treat, data = d, weights = weight)
cat("\n== survfit ==\n")
print(km$call)
print(km, rmean = tau)
km_at <- summary(km, times = km_times, extend = TRUE)
print(km_at)

# RMST up to tau by group and the infinitesimal-jackknife influence of each row on it
d$row <- seq_len(nrow(d))
d$rmst_if <- 0
rmst <- c()
for (g in c(1, 0)) {
  s <- d[d$treat == g, ]
  fi <- survfit(Surv(time_h, event_h) ~ 1, data = s, weights = weight, id = row, influence = TRUE)
  keep <- fi$time <= tau
  d$rmst_if[d$treat == g] <- fi$influence.surv[, keep, drop = FALSE] %*% diff(c(fi$time[keep], tau))
  rmst[as.character(g)] <- unname(summary(fi, rmean = tau)$table["rmean"])
}
diff_if <- ifelse(d$treat == 1, d$rmst_if, -d$rmst_if)
rmst_se <- function(cl) sqrt(sum(tapply(diff_if, cl, sum)^2))
cat("\nRMST treated", rmst["1"], " comparison", rmst["0"], "\n")
sink()

strata_surv <- function(g) km_at$surv[km_at$strata == paste0("treat=", g)]
out <- list(
  horizon = tau,
  n_rows = nrow(d), n_people = length(unique(d$person)), n_sets = length(unique(d$set)),
  n_events_treated = sum(d$event_h[d$treat == 1]),
  n_events_comparison = sum(d$event_h[d$treat == 0]),
  n_events_treated_uncensored = sum(d$event[d$treat == 1]),
  weighted_events = unname(tapply(km$n.event, rep(names(km$strata), km$strata), sum)[c("treat=1", "treat=0")]),
  coef = unname(coef(cox$person)),
  hazard_ratio = unname(exp(coef(cox$person))),
  robust_se_person = sqrt(cox$person$var[1, 1]),
  robust_se_set = sqrt(cox$set$var[1, 1]),
  naive_se = sqrt(cox$person$naive.var[1, 1]),
  km_times = km_times,
  km_treated = strata_surv(1), km_comparison = strata_surv(0),
  median_treated = unname(summary(km)$table["treat=1", "median"]),
  median_comparison = unname(summary(km)$table["treat=0", "median"]),
  rmst_treated = unname(rmst["1"]), rmst_comparison = unname(rmst["0"]),
  rmst_diff_se_person = rmst_se(d$person), rmst_diff_se_set = rmst_se(d$set),
  survival_version = as.character(packageVersion("survival")), r_version = R.version.string
)
writeLines(jsonlite::toJSON(out, auto_unbox = TRUE, digits = NA, na = "null", pretty = TRUE),
           file.path(out_dir, "survival_replacement_reference.json"))
