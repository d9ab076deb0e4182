# Times R glm(family = binomial) on a raw float64 file written by scale_benchmark.py (columns treat, x1..x10).
# Usage: Rscript bench_glm.R data.bin n_rows [repeats]; prints one JSON object (elapsed and CPU seconds, best run).
args <- commandArgs(trailingOnly = TRUE)
n <- as.integer(args[2])
reps <- if (length(args) > 2) as.integer(args[3]) else 1L
con <- file(args[1], "rb")
m <- matrix(readBin(con, "double", n = n * 11), nrow = n)
close(con)
d <- as.data.frame(m)
names(d) <- c("treat", paste0("x", 1:10))
rm(m)
f <- treat ~ x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8 + x9 + x10
runs <- lapply(seq_len(reps), function(i) {
  gc()
  t <- system.time(fit <- glm(f, data = d, family = binomial()))
  c(elapsed = t[["elapsed"]], cpu = t[["user.self"]] + t[["sys.self"]], iter = fit$iter)
})
best <- runs[[which.min(vapply(runs, function(r) r[["cpu"]], 0))]]
cat(sprintf('{"n": %d, "elapsed_s": %.3f, "cpu_s": %.3f, "iterations": %d, "max_rss_mb": %.0f}\n', n,
            best[["elapsed"]], best[["cpu"]], as.integer(best[["iter"]]), sum(gc()[, 6])))
