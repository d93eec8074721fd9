# Reference figures for tests/test_polychoric.py and the cor = "poly" tests in tests/test_efa.py.
# Produced with R 4.2, psych 2.2.9, psychTools, lavaan 0.6-14, GPArotation:
#   cd tests/data && Rscript poly_psych.R   (writes poly_psych.json and the CSV files poly_*.csv here)
suppressMessages({library(psych); library(psychTools); library(lavaan); library(jsonlite)})

fin <- function(m) { m <- unname(as.matrix(m)); m[!is.finite(m)] <- NA; m }   # Inf -> null in JSON
poly_pack <- function(p) list(rho = fin(p$rho), tau = fin(p$tau))
lav_pack <- function(x, ...) {
  r <- lavCor(x, ordered = names(x), ...)
  th <- lavCor(x, ordered = names(x), output = "th", ...)
  list(rho = unname(unclass(r)), th = unname(as.numeric(th)), th_names = names(th))
}
fa_pack <- function(f) list(columns = colnames(f$loadings), loadings = unname(unclass(f$loadings)),
                            communality = unname(f$communality), phi = unname(f$Phi))
warn_text <- function(expr) { w <- character(0)
  val <- withCallingHandlers(expr, warning = function(e) { w <<- c(w, conditionMessage(e)); invokeRestart("muffleWarning") })
  list(value = val, warnings = w) }
out <- list()

# 1. psychTools::bfi A1-A5, C1-C5 with their missing answers (shared/reference/items.csv holds bfi)
d <- read.csv("../../../shared/reference/items.csv")
bfi10 <- d[, c(paste0("A", 1:5), paste0("C", 1:5))]
p <- polychoric(bfi10)
out$bfi <- c(poly_pack(p), list(items = names(bfi10), n = nrow(bfi10)))
out$bfi$lavaan <- lav_pack(bfi10)                                # listwise (lavCor's default)
out$bfi$lavaan_pairwise <- lav_pack(bfi10, missing = "pairwise")
out$bfi$fa2 <- fa_pack(fa(bfi10, 2, fm = "minres", rotate = "oblimin", cor = "poly"))
set.seed(1)
pa <- fa.parallel(bfi10, cor = "poly", n.iter = 2, plot = FALSE)
out$bfi$parallel <- list(pc_observed = pa$pc.values, fa_observed = pa$fa.values)
out$bfi$kmo <- list(MSA = KMO(p$rho)$MSA, MSAi = unname(KMO(p$rho)$MSAi))
b <- cortest.bartlett(p$rho, n = nrow(bfi10)); out$bfi$bartlett <- list(chisq = b$chisq, df = b$df, p = b$p.value)

# 2. lavaan::HolzingerSwineford1939 x1-x9 cut into categories
hs <- HolzingerSwineford1939[, paste0("x", 1:9)]
cutq <- function(v, k) as.integer(cut(v, unique(quantile(v, seq(0, 1, length.out = k + 1))), include.lowest = TRUE))
hs4 <- as.data.frame(lapply(hs, cutq, k = 4))
# unequal numbers of categories (3, 4, 5): psych turns global off and applies the continuity correction
hsmix <- as.data.frame(mapply(cutq, hs, c(3, 3, 3, 4, 4, 4, 5, 5, 5), SIMPLIFY = FALSE))
write.csv(hs4, "poly_hs4.csv", row.names = FALSE)
write.csv(hsmix, "poly_hsmix.csv", row.names = FALSE)
out$hs4 <- poly_pack(polychoric(hs4)); out$hs4$lavaan <- lav_pack(hs4)
out$hs4$fa3 <- fa_pack(fa(hs4, 3, fm = "minres", rotate = "oblimin", cor = "poly"))
out$hs4$fa3_pearson <- fa_pack(fa(hs4, 3, fm = "minres", rotate = "oblimin"))
set.seed(2)
pa <- fa.parallel(hs4, cor = "poly", n.iter = 2, plot = FALSE)
out$hs4$parallel <- list(pc_observed = pa$pc.values, fa_observed = pa$fa.values)
w <- warn_text(polychoric(hsmix))
out$hsmix <- c(poly_pack(w$value), list(r_warnings = w$warnings))
out$hsmix$lavaan <- lav_pack(hsmix)

# 3. psych::ability: 16 binary items with missing answers -> tetrachoric
write.csv(ability, "poly_ability.csv", row.names = FALSE)
t <- suppressMessages(tetrachoric(ability))
out$ability <- list(rho = unname(t$rho), tau = unname(t$tau), items = colnames(ability))
out$ability$polychoric <- poly_pack(polychoric(ability))
out$ability$lavaan <- lav_pack(as.data.frame(ability))

# 4. synthetic ordinal items with empty cells and missing answers
set.seed(11)
n <- 250
S <- matrix(0.45, 6, 6); diag(S) <- 1
z <- matrix(rnorm(n * 6), n) %*% chol(S)
syn <- apply(z, 2, function(v) as.integer(cut(v, c(-Inf, -1.9, -0.3, 1.0, Inf))))
syn[cbind(sample(n, 40, replace = TRUE), sample(6, 40, replace = TRUE))] <- NA
syn <- as.data.frame(syn); names(syn) <- paste0("s", 1:6)
write.csv(syn, "poly_synthetic.csv", row.names = FALSE)
out$synthetic <- poly_pack(polychoric(syn))                      # global = TRUE: no correction
w <- warn_text(polychoric(syn, global = FALSE))                  # per-pair thresholds, zero cells corrected
out$synthetic$local <- c(poly_pack(w$value), list(r_warnings = w$warnings))
out$synthetic$local_nocorrect <- poly_pack(polychoric(syn, global = FALSE, correct = 0))
out$synthetic$lavaan <- lav_pack(syn)
out$synthetic$lavaan_pairwise <- lav_pack(syn, missing = "pairwise")

# 5. small sample whose polychoric and tetrachoric matrices are not positive definite (smoothed)
set.seed(8)
n <- 60; p <- 12
f <- rnorm(n)
z <- outer(f, rep(0.8, p)) + matrix(rnorm(n * p, sd = 0.6), n)
np <- as.data.frame(apply(z, 2, function(v) as.integer(cut(v, c(-Inf, -1, 0.3, 1.4, Inf)))))
nb <- as.data.frame((z > 0.9) * 1)
names(np) <- names(nb) <- paste0("v", 1:p)
write.csv(np, "poly_nonpd.csv", row.names = FALSE)
write.csv(nb, "poly_nonpd_binary.csv", row.names = FALSE)
raw <- polychoric(np, smooth = FALSE)$rho
w <- warn_text(polychoric(np))
out$nonpd <- list(raw = unname(raw), raw_min_eigen = min(eigen(raw)$values), rho = unname(w$value$rho),
                  smoothed_by_cor_smooth = unname(cor.smooth(raw)), r_warnings = w$warnings)
rawt <- suppressMessages(tetrachoric(nb, smooth = FALSE)$rho)
w <- warn_text(suppressMessages(tetrachoric(nb)))
out$nonpd_binary <- list(raw = unname(rawt), raw_min_eigen = min(eigen(rawt)$values), rho = unname(w$value$rho),
                         tau = unname(w$value$tau), r_warnings = w$warnings,
                         lavaan = lav_pack(nb))

# 6. sparse binary items: 2 x 2 tables with empty cells (psych's tetrachoric correction, lavaan's zero.add rule)
set.seed(21)
n <- 100
f <- rnorm(n)
z <- outer(f, rep(0.6, 6)) + matrix(rnorm(n * 6, sd = 0.8), n)
sb <- as.data.frame((z > 1.7) * 1); names(sb) <- paste0("b", 1:6)
write.csv(sb, "poly_sparse_binary.csv", row.names = FALSE)
tab0 <- sapply(combn(6, 2, simplify = FALSE), function(ij) sum(table(sb[, ij[1]], sb[, ij[2]]) == 0))
w <- warn_text(suppressMessages(tetrachoric(sb)))
out$sparse_binary <- list(empty_cells_per_pair = tab0, rho = unname(w$value$rho), tau = unname(w$value$tau),
                          r_warnings = w$warnings,
                          nocorrect = unname(suppressWarnings(suppressMessages(tetrachoric(sb, correct = 0, smooth = FALSE)))$rho),
                          polychoric = poly_pack(suppressWarnings(polychoric(sb, smooth = FALSE))),
                          lavaan = lav_pack(sb))

# 7. two empty cells in a 2 x 2 table (p1 and p2 agree on every row): lavaan sets rho to 1
set.seed(5)
p1 <- rbinom(40, 1, 0.4)
perfect <- data.frame(p1 = p1, p2 = p1, p3 = rbinom(40, 1, 0.5))
write.csv(perfect, "poly_perfect.csv", row.names = FALSE)
w <- warn_text(lav_pack(perfect))
out$perfect <- list(lavaan = w$value, r_warnings = w$warnings)

writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, na = "null", pretty = FALSE), "poly_psych.json")
