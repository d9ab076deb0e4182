# Reference matches and balance tables from R MatchIt 4.5.1 on the Lalonde data.
#
# Run from the repository root:  Rscript tests/results/matchit/make_reference.R
# Writes, next to this script: ps.csv, pairs.csv, weights.csv, balance.csv, random_order.csv, configs.json,
# and matching_ties.csv (R package Matching: nearest neighbour with replacement keeping ties).
#
# MatchIt 4.5.1's default nearest-neighbour path (nn_matchC_vec, used when the propensity score is
# the only distance) ignores the caliper and does not always choose the nearest control (fixed
# upstream in 4.5.3). The references are therefore produced through its general path
# (nn_matchC): the logit propensity score is fitted with glm(), passed as `distance`, and also
# named in `mahvars = ~ps`. Mahalanobis distance on the single variable ps is |ps_i - ps_j| / sd,
# monotone in the score difference, so the nearest control is the nearest on the score; the
# caliper and the matching order still use `distance`. Every match is then checked by hand
# against a plain greedy implementation written below (check_greedy), which must agree.
# Ties between equally near controls follow 4.5.1's general path here (the first in the data);
# sop_eval follows MatchIt >= 4.5.4 instead, whose matches are in tie_rule_reference.R's outputs.

suppressPackageStartupMessages({library(MatchIt); library(Matching)})
stopifnot(as.character(packageVersion("MatchIt")) == "4.5.1")

args <- commandArgs(trailingOnly = FALSE)
file_arg <- sub("^--file=", "", args[grep("^--file=", args)])
out_dir <- if (length(file_arg)) dirname(normalizePath(file_arg)) else "."

data("lalonde", package = "MatchIt")
form <- treat ~ age + educ + race + married + nodegree + re74 + re75
fit <- glm(form, data = lalonde, family = binomial())
lalonde$ps <- fitted(fit)
lalonde$lp <- predict(fit, type = "link")

write.csv(data.frame(id = rownames(lalonde), ps = sprintf("%.17g", lalonde$ps),
                     lp = sprintf("%.17g", predict(fit, type = "link"))),
          file.path(out_dir, "ps.csv"), row.names = FALSE, quote = FALSE)

configs <- list(
  nn1          = list(ratio = 1, replace = FALSE, m.order = "largest"),
  nn2          = list(ratio = 2, replace = FALSE, m.order = "largest"),
  nn3          = list(ratio = 3, replace = FALSE, m.order = "largest"),
  smallest     = list(ratio = 1, replace = FALSE, m.order = "smallest"),
  data_order   = list(ratio = 1, replace = FALSE, m.order = "data"),
  random       = list(ratio = 1, replace = FALSE, m.order = "random", seed = 20240601),
  rep1         = list(ratio = 1, replace = TRUE),
  rep2         = list(ratio = 2, replace = TRUE),
  rep3         = list(ratio = 3, replace = TRUE),
  cal01        = list(ratio = 1, replace = FALSE, m.order = "largest", caliper = 0.1),
  cal02_r2     = list(ratio = 2, replace = FALSE, m.order = "largest", caliper = 0.2),
  cal01_rep    = list(ratio = 1, replace = TRUE, caliper = 0.1),
  cal_raw      = list(ratio = 1, replace = FALSE, m.order = "largest", caliper = 0.02, std.caliper = FALSE),
  exact_married = list(ratio = 1, replace = FALSE, m.order = "largest", exact = ~married),
  exact_race_r2 = list(ratio = 2, replace = FALSE, m.order = "largest", exact = ~race),
  discard_both = list(ratio = 1, replace = FALSE, m.order = "largest", discard = "both"),
  discard_ctrl_cal = list(ratio = 1, replace = FALSE, m.order = "largest", discard = "control",
                          caliper = 0.25),
  linear_cal   = list(ratio = 1, replace = FALSE, m.order = "largest", caliper = 0.2, linear = TRUE),
  linear_rep2  = list(ratio = 2, replace = TRUE, linear = TRUE)
)

# Plain greedy nearest-neighbour matching on the score, written independently of MatchIt.
check_greedy <- function(cfg, ps, treat, lab, discarded, ex) {
  ratio <- cfg$ratio
  n1 <- sum(treat == 1)
  t_idx <- which(treat == 1)
  c_idx <- which(treat == 0)
  cal <- if (is.null(cfg$caliper)) Inf else if (isFALSE(cfg$std.caliper)) cfg$caliper else
    cfg$caliper * sd(ps[!discarded])
  ord <- switch(if (cfg$replace) "data" else cfg$m.order,
                largest = order(ps[t_idx], decreasing = TRUE),
                smallest = order(ps[t_idx]),
                data = seq_len(n1),
                random = { set.seed(cfg$seed); sample.int(n1) })
  used <- rep(FALSE, length(treat))
  mm <- matrix(NA_integer_, n1, ratio)
  for (r in seq_len(ratio)) {
    for (i in ord) {
      ti <- t_idx[i]
      if (discarded[ti]) next
      if (r > 1 && is.na(mm[i, 1])) next
      ok <- c_idx[!discarded[c_idx] & ex[c_idx] == ex[ti]]
      if (!cfg$replace) ok <- ok[!used[ok]]
      ok <- setdiff(ok, mm[i, ])
      if (!length(ok)) next
      d <- abs(ps[ok] - ps[ti])
      j <- which.min(d)
      if (d[j] > cal) next
      mm[i, r] <- ok[j]
      used[ok[j]] <- TRUE
    }
  }
  rownames(mm) <- lab[t_idx]
  mm
}

pairs_out <- list(); weights_out <- list(); bal_out <- list(); orders_out <- list(); meta <- list()
for (name in names(configs)) {
  cfg <- configs[[name]]
  linear <- isTRUE(cfg$linear)
  score <- if (linear) lalonde$lp else lalonde$ps
  margs <- list(formula = form, data = lalonde, method = "nearest", distance = score,
                mahvars = if (linear) ~lp else ~ps, ratio = cfg$ratio, replace = cfg$replace)
  if (!is.null(cfg$m.order)) margs$m.order <- cfg$m.order
  if (!is.null(cfg$caliper)) margs$caliper <- cfg$caliper
  if (!is.null(cfg$std.caliper)) margs$std.caliper <- cfg$std.caliper
  if (!is.null(cfg$exact)) margs$exact <- cfg$exact
  if (!is.null(cfg$discard)) margs$discard <- cfg$discard
  if (!is.null(cfg$seed)) {
    set.seed(cfg$seed)
    orders_out[[name]] <- data.frame(config = name, position = seq_len(sum(lalonde$treat)),
                                     treated_index = sample.int(sum(lalonde$treat)))
    set.seed(cfg$seed)
  }
  m <- suppressWarnings(do.call(matchit, margs))
  mm <- m$match.matrix
  ex <- if (is.null(cfg$exact)) rep("all", nrow(lalonde)) else
    as.character(interaction(model.frame(cfg$exact, lalonde)))
  hand <- check_greedy(cfg, score, lalonde$treat, rownames(lalonde), m$discarded, ex)
  hand_lab <- matrix(rownames(lalonde)[hand], nrow(hand), ncol(hand))
  mm_chr <- matrix(as.character(mm), nrow(mm), ncol(mm))
  agree <- identical(is.na(hand_lab), is.na(mm_chr)) && all(hand_lab == mm_chr, na.rm = TRUE)
  if (!agree) {
    # tolerate only swaps between controls with identical scores
    names(score) <- rownames(lalonde)
    dps <- abs(score[hand_lab[!is.na(hand_lab)]] - score[mm_chr[!is.na(mm_chr)]])
    agree <- identical(is.na(hand_lab), is.na(mm_chr)) && max(dps) < 1e-12
  }
  if (!agree) stop("MatchIt's general path and the greedy check disagree for ", name)
  long <- do.call(rbind, lapply(seq_len(ncol(mm)), function(k)
    data.frame(config = name, treated = rownames(mm), slot = k, control = mm[, k])))
  pairs_out[[name]] <- long[!is.na(long$control), ]
  weights_out[[name]] <- data.frame(config = name, id = rownames(lalonde),
                                    weight = sprintf("%.17g", m$weights))
  s <- summary(m, un = TRUE, pair.dist = FALSE)
  for (part in c("sum.all", "sum.matched")) {
    tab <- s[[part]]
    bal_out[[paste(name, part)]] <- data.frame(
      config = name, sample = if (part == "sum.all") "before" else "after", term = rownames(tab),
      mean_treated = tab[, "Means Treated"], mean_control = tab[, "Means Control"],
      smd = tab[, "Std. Mean Diff."], var_ratio = tab[, "Var. Ratio"],
      ecdf_mean = tab[, "eCDF Mean"], ecdf_max = tab[, "eCDF Max"])
  }
  nn <- s$nn
  meta[[name]] <- c(cfg[setdiff(names(cfg), "exact")],
                    list(exact = if (is.null(cfg$exact)) NULL else all.vars(cfg$exact),
                         n_discarded = sum(m$discarded),
                         ess_control_after = unname(nn["Matched (ESS)", "Control"]),
                         ess_treated_after = unname(nn["Matched (ESS)", "Treated"]),
                         matched_control = unname(nn["Matched", "Control"]),
                         matched_treated = unname(nn["Matched", "Treated"])))
}

# R's Matching: 1 nearest control with replacement on the score, keeping controls tied at the nearest
# distance (ties = TRUE; tolerance tightened from 1e-5 so only equal distances count as ties)
mt <- Match(Tr = lalonde$treat, X = lalonde$ps, M = 1, replace = TRUE, ties = TRUE, estimand = "ATT",
            distance.tolerance = 1e-12)
write.csv(data.frame(treated = rownames(lalonde)[mt$index.treated],
                     control = rownames(lalonde)[mt$index.control], weight = mt$weights),
          file.path(out_dir, "matching_ties.csv"), row.names = FALSE, quote = FALSE)

write.csv(do.call(rbind, pairs_out), file.path(out_dir, "pairs.csv"), row.names = FALSE, quote = FALSE)
write.csv(do.call(rbind, weights_out), file.path(out_dir, "weights.csv"), row.names = FALSE, quote = FALSE)
bal <- do.call(rbind, bal_out)
num <- vapply(bal, is.numeric, logical(1))
bal[num] <- lapply(bal[num], function(v) ifelse(is.na(v), "", sprintf("%.12g", v)))
write.csv(bal, file.path(out_dir, "balance.csv"), row.names = FALSE, quote = FALSE)
write.csv(do.call(rbind, orders_out), file.path(out_dir, "random_order.csv"), row.names = FALSE, quote = FALSE)
writeLines(jsonlite_like <- paste0("{\n", paste(vapply(names(meta), function(n) {
  x <- meta[[n]]
  fields <- vapply(names(x), function(k) {
    v <- x[[k]]
    val <- if (is.null(v)) "null" else if (is.character(v)) paste0("[", paste0('"', v, '"', collapse = ", "), "]")
           else if (is.logical(v)) tolower(as.character(v)) else format(v, digits = 15)
    if (is.character(v) && k != "exact") val <- paste0('"', v, '"')
    sprintf('"%s": %s', k, val)
  }, character(1))
  sprintf('  "%s": {%s}', n, paste(fields, collapse = ", "))
}, character(1)), collapse = ",\n"), "\n}"), file.path(out_dir, "configs.json"))
cat("wrote references for", length(configs), "configurations to", out_dir, "\n")
