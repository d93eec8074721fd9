# Data and lavaan's time for benchmarks/bench_wlsmv.py: 5,000 simulated students x 20 four-point items,
# a 4-factor model (5 items each, factor correlations 0.4), and lavaan 0.6.14's time for
# cfa(model, data, ordered = items, estimator = "WLSMV") on it (the median of 3 runs, elapsed seconds).
# Run from the repository root: Rscript benchmarks/data/bench_wlsmv_lavaan.R
suppressMessages({library(lavaan); library(jsonlite)})
set.seed(5000)
n <- 5000; k <- 4; per <- 5
phi <- matrix(0.4, k, k); diag(phi) <- 1
f <- matrix(rnorm(n * k), n) %*% chol(phi)
lam <- rep(c(0.8, 0.7, 0.65, 0.6, 0.5), k)
fac <- rep(seq_len(k), each = per)
ystar <- f[, fac] * rep(lam, each = n) + matrix(rnorm(n * k * per), n) %*% diag(sqrt(1 - lam^2))
cuts <- c(-0.8, 0.1, 1.0)
d <- data.frame(apply(ystar, 2, function(v) findInterval(v, cuts)))
names(d) <- paste0("i", seq_len(k * per))
write.csv(d, "benchmarks/data/wlsmv_5000x20.csv", row.names = FALSE)
model <- paste(sapply(seq_len(k), function(j) paste0("f", j, " =~ ", paste(names(d)[fac == j], collapse = " + "))),
               collapse = "\n")
times <- sapply(1:3, function(r) system.time(fit <<- cfa(model, d, ordered = names(d), estimator = "WLSMV"))[["elapsed"]])
writeLines(toJSON(list(model = model, lavaan_seconds = median(times), lavaan_runs = times,
                       lavaan_version = as.character(packageVersion("lavaan")),
                       chisq_scaled = unname(fitMeasures(fit, "chisq.scaled")),
                       cfi_scaled = unname(fitMeasures(fit, "cfi.scaled"))), auto_unbox = TRUE, digits = NA),
           "benchmarks/data/bench_wlsmv_lavaan.json")
