# Reference matches under MatchIt's sorted-scan tie rule (MatchIt >= 4.5.4, nn_matchC_vec), on Lalonde.
#
# Run from the repository root:  Rscript tests/results/matchit/tie_rule_reference.R
# Needs R with MatchIt 4.5.1 (only for the cross-check) and jsonlite. Reads configs.json, ps.csv and
# random_order.csv (written by make_reference.R); writes, next to this script:
#   tie_rule_pairs.csv   config, treated, slot, control: the matched sets of every configuration
#   tie_rule.json        per configuration: settings, matched counts, control ESS, ATT on re78
#   tie_rule_balance.csv MatchIt 4.5.1's summary(un = TRUE) computed on these matches' weights
# The matcher itself is in sorted_scan.R (also used by tests/results/effects/lalonde_reference.R).
#
# The rule (MatchIt 4.5.4's src/nn_matchC_vec.cpp, find_left/find_right): all units are sorted by
# distance with a stable sort, so units with equal distances keep data order. From the treated unit's
# sorted position, the nearest eligible control below (lower or equal distance) and the nearest above
# are found; the closer one is taken, and the one below wins an exact tie. Among controls with the
# same score below the treated unit the last in data order is therefore taken, among those above the
# first. Ratio k runs in k rounds (every treated unit gets its r-th control before any gets its
# (r+1)-th; a unit left without a match in a round gets no later ones); with replacement each round
# takes the nearest control not yet in the unit's own set, so the k controls are the merge of the
# below and above sequences by distance, below first on ties. A caliper stops the scan on a side at
# the first eligible control beyond it. Exact matching restricts eligibility to the unit's stratum
# (MatchIt matches each stratum on its own, in the same within-stratum order).
#
# MatchIt 4.5.1, the version Debian ships, cannot produce these numbers: its fast path
# (nn_matchC_vec) is buggy (calipers, ratio > 1 with replacement; fixed in 4.5.3/4.5.4), and its
# general path (nn_matchC, taken when `mahvars` is given) scans controls in data order and keeps the
# first at the smallest distance. The matcher (sorted_scan.R) is written out in plain R instead, and is first
# cross-checked against MatchIt 4.5.1's general path on Lalonde restricted to units whose scores are
# all distinct (no tie can arise, so both must agree exactly, slot by slot).

suppressPackageStartupMessages({library(MatchIt); library(jsonlite)})
stopifnot(as.character(packageVersion("MatchIt")) == "4.5.1")

args <- commandArgs(trailingOnly = FALSE)
file_arg <- sub("^--file=", "", args[grep("^--file=", args)])
out_dir <- if (length(file_arg)) dirname(normalizePath(file_arg)) else "."

source(file.path(out_dir, "sorted_scan.R"))  # greedy_nn, treated_sequence, mm_weights, discard_flags

data("lalonde", package = "MatchIt")
form <- treat ~ age + educ + race + married + nodegree + re74 + re75
ps_ref <- read.csv(file.path(out_dir, "ps.csv"), colClasses = c("character", "numeric", "numeric"))
stopifnot(identical(ps_ref$id, rownames(lalonde)))
configs <- fromJSON(file.path(out_dir, "configs.json"), simplifyVector = FALSE)
perm <- read.csv(file.path(out_dir, "random_order.csv"))
perm <- perm$treated_index[order(perm$position)]

run_config <- function(cfg, data, score, perm = NULL) {
  names(score) <- rownames(data)
  disc <- discard_flags(score, data$treat, cfg$discard)
  cal <- if (is.null(cfg$caliper)) Inf else if (isFALSE(cfg$std.caliper)) cfg$caliper else
    cfg$caliper * sd(score[!disc])
  stratum <- if (is.null(cfg$exact)) rep(1L, nrow(data)) else
    as.integer(interaction(data[unlist(cfg$exact)], drop = TRUE))
  ord_name <- if (cfg$replace) "data" else if (is.null(cfg$m.order)) "largest" else cfg$m.order
  seq_t <- treated_sequence(score[data$treat == 1], ord_name, perm)
  list(mm = greedy_nn(score, data$treat, cfg$ratio, cfg$replace, seq_t, cal, stratum, disc),
       discarded = disc)
}

# --- cross-check against MatchIt 4.5.1's general path on tie-free data -----------------------
# Lalonde without the units whose logit score equals another unit's; glm is refitted on what is
# left, whose scores are checked to be distinct. MatchIt's general path is forced by naming the
# score in `mahvars` (Mahalanobis distance on one variable is monotone in the score difference; the
# caliper and the matching order still use `distance`).
dup <- duplicated(ps_ref$ps) | duplicated(ps_ref$ps, fromLast = TRUE)
tf <- lalonde[!dup, ]
tf$s <- fitted(glm(form, data = tf, family = binomial()))
stopifnot(!anyDuplicated(tf$s))
n_checked <- 0
for (name in setdiff(names(configs), "random")) {
  cfg <- configs[[name]]
  if (isTRUE(cfg$linear)) next  # the same matcher; the linear predictor only changes the score
  margs <- list(formula = form, data = tf, method = "nearest", distance = tf$s, mahvars = ~s,
                ratio = cfg$ratio, replace = cfg$replace)
  for (k in c("m.order", "caliper", "std.caliper", "discard")) if (!is.null(cfg[[k]])) margs[[k]] <- cfg[[k]]
  if (!is.null(cfg$exact)) margs$exact <- reformulate(unlist(cfg$exact))
  m <- suppressWarnings(do.call(matchit, margs))
  mine <- run_config(cfg, tf, tf$s)
  theirs <- m$match.matrix
  mine_lab <- matrix(rownames(tf)[mine$mm], nrow(mine$mm), ncol(mine$mm), dimnames = dimnames(theirs))
  if (!identical(mine_lab, matrix(as.character(theirs), nrow(theirs), dimnames = dimnames(theirs))))
    stop("the sorted-scan matcher and MatchIt 4.5.1's general path disagree on tie-free data: ", name)
  n_checked <- n_checked + 1
}
cat("cross-check: sorted-scan matcher equals MatchIt 4.5.1's general path on", n_checked,
    "configurations of tie-free Lalonde (", nrow(tf), "units )\n")

# --- references on Lalonde (tied scores present) ---------------------------------------------
pairs_out <- list()
meta <- list()
bal_out <- list()
for (name in names(configs)) {
  cfg <- configs[[name]]
  score <- if (isTRUE(cfg$linear)) ps_ref$lp else ps_ref$ps
  res <- run_config(cfg, lalonde, score, if (name == "random") perm)
  mm <- res$mm
  w <- mm_weights(mm, lalonde$treat)
  t1 <- lalonde$treat == 1 & w > 0
  c0 <- lalonde$treat == 0 & w > 0
  long <- do.call(rbind, lapply(seq_len(ncol(mm)), function(k)
    data.frame(config = name, treated = rownames(mm), slot = k, control = rownames(lalonde)[mm[, k]])))
  pairs_out[[name]] <- long[!is.na(long$control), ]
  # MatchIt's own balance statistics on these weights: a matchit object whose weights are replaced
  m0 <- suppressWarnings(matchit(form, data = lalonde, distance = score, replace = TRUE))
  m0$weights <- w
  s <- summary(m0, un = TRUE, pair.dist = FALSE)
  for (part in c("sum.all", "sum.matched")) {
    tab <- s[[part]]
    bal_out[[paste(name, part)]] <- data.frame(
      config = name, sample = if (part == "sum.all") "before" else "after", term = rownames(tab),
      mean_treated = tab[, "Means Treated"], mean_control = tab[, "Means Control"],
      smd = tab[, "Std. Mean Diff."], var_ratio = tab[, "Var. Ratio"],
      ecdf_mean = tab[, "eCDF Mean"], ecdf_max = tab[, "eCDF Max"])
  }
  stopifnot(abs(s$nn["Matched (ESS)", "Control"] - sum(w[c0])^2 / sum(w[c0]^2)) < 1e-9)
  meta[[name]] <- c(cfg[c("ratio", "replace")],
                    list(order = if (cfg$replace) "data" else if (is.null(cfg$m.order)) "largest" else cfg$m.order,
                         caliper = cfg$caliper, std_caliper = cfg$std.caliper,
                         exact = if (is.null(cfg$exact)) NULL else unlist(cfg$exact),
                         discard = cfg$discard, linear = isTRUE(cfg$linear),
                         n_discarded = sum(res$discarded),
                         matched_treated = sum(t1), matched_control = sum(c0),
                         ess_control = sum(w[c0])^2 / sum(w[c0]^2),
                         att_re78 = mean(lalonde$re78[t1]) - weighted.mean(lalonde$re78[c0], w[c0])))
}

# MatchIt's "Getting started" vignette, 1:1 nearest neighbour with replacement on the logit score:
# 82 matched controls, matched-control ESS 46.31. The sorted-scan rule must reproduce both.
stopifnot(meta$rep1$matched_control == 82, round(meta$rep1$ess_control, 2) == 46.31)

pairs <- do.call(rbind, pairs_out)
write.csv(pairs, file.path(out_dir, "tie_rule_pairs.csv"), row.names = FALSE, quote = FALSE)
bal <- do.call(rbind, bal_out)
num <- vapply(bal, is.numeric, logical(1))
bal[num] <- lapply(bal[num], function(v) ifelse(is.na(v), "", sprintf("%.12g", v)))
write.csv(bal, file.path(out_dir, "tie_rule_balance.csv"), row.names = FALSE, quote = FALSE)
writeLines(toJSON(list(command = "Rscript tests/results/matchit/tie_rule_reference.R",
                       r = R.version.string, matchit_for_cross_check = as.character(packageVersion("MatchIt")),
                       configs = meta),
                  auto_unbox = TRUE, digits = NA, pretty = TRUE, null = "null"),
           file.path(out_dir, "tie_rule.json"))
cat("wrote", nrow(pairs), "pairs for", length(meta), "configurations to", out_dir, "\n")
