# Extra reference figures for tests/test_efa.py, produced with R 4.2.2, psych 2.2.9, GPArotation 2022.10-2:
#   cd tests/data && Rscript efa_bfi_psych.R   (writes efa_bfi_psych.json here)
library(psych); library(jsonlite)
d <- read.csv("../../../shared/reference/items.csv")   # psychTools::bfi as in shared/reference
x <- na.omit(d[, 1:25])                               # listwise complete cases, n = 2436
out <- list(n = nrow(x), items = colnames(x))
pack <- function(f) {
  r <- list(columns = colnames(f$loadings), loadings = unname(unclass(f$loadings)),
            communality = unname(f$communality), variance = unname(f$Vaccounted),
            variance_rows = rownames(f$Vaccounted))
  if (!is.null(f$Phi)) r$phi <- unname(f$Phi)
  r
}
out$minres_none     <- pack(fa(x, 5, rotate = "none",     fm = "minres"))
out$minres_varimax  <- pack(fa(x, 5, rotate = "varimax",  fm = "minres"))
out$minres_oblimin  <- pack(fa(x, 5, rotate = "oblimin",  fm = "minres"))
out$minres_promax   <- pack(fa(x, 5, rotate = "promax",   fm = "minres"))
out$ml_oblimin      <- pack(fa(x, 5, rotate = "oblimin",  fm = "ml"))
out$ml_varimax      <- pack(fa(x, 5, rotate = "varimax",  fm = "ml"))
out$minres_1        <- pack(fa(x, 1, fm = "minres"))
k <- KMO(x); out$kmo <- list(MSA = k$MSA, MSAi = unname(k$MSAi))
b <- cortest.bartlett(cor(x), n = nrow(x)); out$bartlett <- list(chisq = b$chisq, df = b$df, p = b$p.value)
# small data set (first 300 complete rows, 10 items): p-value of Bartlett not 0, ml with 2 factors
y <- x[1:300, c(1:5, 11:15)]
b2 <- cortest.bartlett(cor(y), n = nrow(y)); out$small_bartlett <- list(chisq = b2$chisq, df = b2$df, p = b2$p.value)
out$small_ml_promax <- pack(fa(y, 2, rotate = "promax", fm = "ml"))
out$small_kmo <- KMO(y)$MSA
# parallel analysis: observed eigenvalues (deterministic) and psych's simulated means (random, n.iter = 100)
set.seed(2024)
pa <- fa.parallel(cor(x), n.obs = nrow(x), fa = "both", n.iter = 100, plot = FALSE)
out$parallel <- list(fa_values = pa$fa.values, pc_values = pa$pc.values, fa_sim = pa$fa.sim, pc_sim = pa$pc.sim,
                     nfact = pa$nfact, ncomp = pa$ncomp)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE), "efa_bfi_psych.json")
