# Greedy nearest-neighbour matching under MatchIt's sorted-scan tie rule (MatchIt >= 4.5.4), in plain R.
# Sourced by tie_rule_reference.R (this folder) and tests/results/effects/lalonde_reference.R; the rule
# is described at the top of tie_rule_reference.R.

# Greedy nearest-neighbour matching under the sorted-scan rule. `seq_t` orders the treated units
# (indices among the treated). Returns the match matrix (row indices of controls, NA when none).
greedy_nn <- function(score, treat, ratio, replace, seq_t, caliper = Inf,
                      stratum = rep(1L, length(score)), discarded = rep(FALSE, length(score))) {
  n <- length(score)
  sorted <- order(score, method = "radix")  # radix sort is stable: ties keep data order
  pos <- integer(n)
  pos[sorted] <- seq_len(n)
  t_idx <- which(treat == 1)
  used <- rep(FALSE, n)
  mm <- matrix(NA_integer_, length(t_idx), ratio)
  active <- !discarded[t_idx]
  nearest_on <- function(i, ti, step) {
    p <- pos[ti] + step
    while (p >= 1 && p <= n) {
      j <- sorted[p]
      if (treat[j] == 0 && !discarded[j] && stratum[j] == stratum[ti] && !(j %in% mm[i, ]) &&
          (replace || !used[j])) return(j)
      p <- p + step
    }
    NA_integer_
  }
  for (r in seq_len(ratio)) {
    for (i in seq_t) {
      if (!active[i]) next
      ti <- t_idx[i]
      below <- nearest_on(i, ti, -1L)
      above <- nearest_on(i, ti, +1L)
      d_below <- if (is.na(below)) Inf else abs(score[ti] - score[below])
      d_above <- if (is.na(above)) Inf else abs(score[ti] - score[above])
      pick <- if (d_below <= d_above) below else above  # the one below wins an exact tie
      if (is.na(pick) || min(d_below, d_above) > caliper) {
        active[i] <- FALSE
        next
      }
      mm[i, r] <- pick
      used[pick] <- TRUE
    }
  }
  rownames(mm) <- names(score)[t_idx]
  mm
}

treated_sequence <- function(score_t, order_name, perm = NULL) {
  switch(order_name,
         largest = order(score_t, decreasing = TRUE, method = "radix"),
         smallest = order(score_t, method = "radix"),
         data = seq_along(score_t),
         random = perm)
}

# MatchIt's weights: matched treated 1; a control gets the sum over its sets of 1/(controls in the
# set), rescaled so that the matched controls' weights sum to their number.
mm_weights <- function(mm, treat) {
  w <- rep(0, length(treat))
  t_idx <- which(treat == 1)
  for (i in seq_len(nrow(mm))) {
    cs <- mm[i, !is.na(mm[i, ])]
    if (!length(cs)) next
    w[t_idx[i]] <- 1
    w[cs] <- w[cs] + 1 / length(cs)
  }
  c0 <- treat == 0 & w > 0
  w[c0] <- w[c0] * sum(c0) / sum(w[c0])
  w
}

discard_flags <- function(score, treat, discard) {
  if (is.null(discard) || discard == "none") return(rep(FALSE, length(score)))
  t <- score[treat == 1]
  c <- score[treat == 0]
  rng <- switch(discard, both = c(max(min(t), min(c)), min(max(t), max(c))),
                control = range(t), treated = range(c))
  score < rng[1] | score > rng[2]
}
