# Reference internal rates of return computed independently with base R's uniroot.
# Run: Rscript irr_reference.R > irr_reference.csv
flows <- list(
  list(name = "worked_example", a = c(-1000000, 600000, 600000), t = c(0, 3, 4)),
  list(name = "annual_bond", a = c(-5000000, 0, 0, 0, 1500000, 2500000, 2200000), t = 0:6),
  list(name = "staged_drawdowns", a = c(-3200000, -3200000, -3200000, 10020000), t = c(0, 1, 2, 3.9918)),
  list(name = "loss", a = c(-100, 40, 40), t = c(0, 1, 2)),
  list(name = "fractional_times", a = c(-250000, 50000, 100000, 150000), t = c(0, 0.5, 1.75, 2.25))
)
cat("name,amounts,times,irr\n")
for (f in flows) {
  npv <- function(r) sum(f$a / (1 + r)^f$t)
  root <- uniroot(npv, c(-0.99, 10), tol = 1e-15)$root
  cat(sprintf("%s,%s,%s,%.12f\n", f$name, paste(f$a, collapse = ";"), paste(f$t, collapse = ";"), root))
}
