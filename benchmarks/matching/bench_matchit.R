# Times R MatchIt 4.5.1 on a CSV written by run_benchmarks.py: logit fit + 1:1 nearest without replacement.
#   default path: matchit(treat ~ x1 + ... + x10, method = "nearest")  (glm + nn_matchC_vec)
#   general path: glm, then matchit(..., distance = ps, mahvars = ~ps)  (nn_matchC, the path used
#                 for the reference matches in tests/results/matchit/)
# Usage: Rscript bench_matchit.R data.csv [repeats]; prints one JSON object.
suppressPackageStartupMessages(library(MatchIt))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
reps <- if (length(args) > 1) as.integer(args[2]) else 1L
f <- treat ~ x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8 + x9 + x10
best <- function(expr_fun) min(vapply(seq_len(reps), function(i) system.time(expr_fun())[["elapsed"]], 0))
t_default <- best(function() matchit(f, data = d, method = "nearest"))
t_general <- best(function() {
  d$ps <- fitted(glm(f, data = d, family = binomial()))
  matchit(f, data = d, method = "nearest", distance = d$ps, mahvars = ~ps)
})
t_glm <- best(function() fitted(glm(f, data = d, family = binomial())))
cat(sprintf('{"n": %d, "default_s": %.4f, "general_s": %.4f, "glm_only_s": %.4f}\n',
            nrow(d), t_default, t_general, t_glm))
