# Extra reference figures for tests/test_omega.py, produced with R 4.2.2, psych 2.2.9, GPArotation 2022.10-2:
#   cd tests/data && Rscript omega_bfi_psych.R   (writes omega_bfi_psych.json here)
library(psych); library(jsonlite)
d <- read.csv("../../../shared/reference/items.csv")   # psychTools::bfi as in shared/reference
ace <- c(paste0("A", 1:5), paste0("C", 1:5), paste0("E", 1:5))
x <- na.omit(d[, ace])                                 # complete cases of the A, C, E items (n = 2563)
pack <- function(om) {
  list(omega_h = om$omega_h, omega_total = om$omega.tot, alpha = om$alpha, G6 = om$G6,
       omega_limit = om$omega.lim, ECV = unname(om$ECV), key = unname(om$key),
       sl_columns = colnames(om$schmid$sl), sl = unname(unclass(om$schmid$sl)),
       gloading = unname(c(om$schmid$gloading)), phi = unname(om$schmid$phi),
       group = unname(as.matrix(om$omega.group)), group_rows = rownames(om$omega.group))
}
out <- list(n = nrow(x), items = ace)
out$raw3 <- pack(omega(x, nfactors = 3, fm = "minres", plot = FALSE))
xr <- x
for (it in c("A1", "C4", "C5", "E1", "E2")) xr[[it]] <- 7 - xr[[it]]   # keys reversed as 1 + 6 - x
out$reversed3 <- pack(omega(xr, nfactors = 3, fm = "minres", plot = FALSE))
out$raw2 <- pack(omega(x, nfactors = 2, fm = "minres", plot = FALSE))
out$raw4 <- pack(omega(x, nfactors = 4, fm = "minres", plot = FALSE))
# one factor per scale, complete cases of the scale's items, keyed items reversed as 7 - x:
# omega_total of the one-factor minres model, (sum l)^2 / ((sum l)^2 + sum(1 - l^2))
keys <- list(agree = c("-A1", "A2", "A3", "A4", "A5"), conscientious = c("C1", "C2", "C3", "-C4", "-C5"),
             extraversion = c("-E1", "-E2", "E3", "E4", "E5"), neuroticism = paste0("N", 1:5),
             openness = c("O1", "-O2", "O3", "O4", "-O5"))
out$one <- lapply(keys, function(k) {
  it <- sub("-", "", k); y <- na.omit(d[, it])
  for (j in seq_along(k)) if (startsWith(k[j], "-")) y[[it[j]]] <- 7 - y[[it[j]]]
  f <- fa(y, 1, fm = "minres"); l <- c(f$loadings); u <- f$uniquenesses
  om <- suppressWarnings(suppressMessages(omega(y, nfactors = 1, fm = "minres", plot = FALSE)))
  list(n = nrow(y), loadings = l, omega_total = sum(l)^2 / (sum(l)^2 + sum(u)),
       psych_omega_tot = om$omega.tot, psych_alpha = om$alpha)
})
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE), "omega_bfi_psych.json")
