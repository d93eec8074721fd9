# Reference figures for tests/test_efafix.py (issue 11: silent errors in alpha, split_half, efa, omega),
# produced with R 4.2, psych 2.2.9, psychTools, GPArotation:
#   cd tests/data && Rscript efafix_psych.R   (writes efafix_psych.json and the efafix_*.csv data sets here)
suppressMessages({library(psych); library(psychTools); library(jsonlite)})
d <- read.csv("../../../shared/reference/items.csv")   # psychTools::bfi as in shared/reference
big5 <- colnames(d)[1:25]
neg_names <- function(x) { p <- principal(x, scores = FALSE); rownames(p$loadings)[p$loadings < 0] }
out <- list()

# 1. pairwise covariance matrices that are not positive definite --------------------------------------
set.seed(11)
x1 <- d[1:80, big5]
x1[matrix(runif(80 * 25) < 0.55, 80, 25)] <- NA             # 55 % of the answers missing at random
write.csv(x1, "efafix_nonpd_bfi.csv", row.names = FALSE, na = "")
set.seed(2029)                                               # synthetic 5-point items, block-wise missing
n <- 240; f <- rnorm(n)
lik <- function(z) pmin(5, pmax(1, round(3 + 1.1 * z)))
e <- function() rnorm(n, sd = 0.45)
x2 <- data.frame(s1 = lik(f + e()), s2 = lik(f + e()), s3 = lik(-f + e()), s4 = lik(f + e()),
                 s5 = lik(rnorm(n)), s6 = lik(0.5 * f + e()))
blk <- rep(1:3, each = n / 3)
x2$s3[blk == 1] <- NA; x2$s2[blk == 2] <- NA; x2$s1[blk == 3] <- NA
x2$s3[blk == 3] <- lik(f[blk == 3] + rnorm(sum(blk == 3), sd = .45))
write.csv(x2, "efafix_nonpd_synth.csv", row.names = FALSE, na = "")
nonpd <- function(x) {
  C <- cov(x, use = "pairwise"); R <- cov2cor(C)
  a <- suppressWarnings(alpha(x, warnings = FALSE))$total
  s <- suppressWarnings(splitHalf(x, check.keys = FALSE))
  sc <- suppressWarnings(splitHalf(x, check.keys = FALSE, covar = TRUE))
  list(min_eigen = min(eigen(R)$values), smc = unname(smc(R)), raw_alpha = a$raw_alpha, std_alpha = a$std.alpha,
       G6 = a[["G6(smc)"]], average_r = a$average_r, split_lambda6 = s$lambda6, split_lambda2 = s$lambda2,
       split_alpha = s$alpha, split_lambda6_covar = sc$lambda6, negative = neg_names(x))
}
out$nonpd_bfi <- nonpd(x1)
out$nonpd_synth <- nonpd(x2)

# 2. items negatively correlated with the total (alpha's "probably should be reversed"), complete data ---
out$negative <- lapply(list(A = paste0("A", 1:5), C = paste0("C", 1:5), E = paste0("E", 1:5)), function(it) {
  x <- d[, it]
  list(items = it, negative = neg_names(x), raw_alpha = alpha(x, warnings = FALSE)$total$raw_alpha)
})

# 3. Heywood and ultra-Heywood cases ------------------------------------------------------------------
cc <- na.omit(d[, big5])
out$n_complete <- nrow(cc); out$n_rows <- nrow(d)
ultra <- list()
for (s in c(4, 7)) {
  set.seed(s); rows <- sample(nrow(cc), 60); cols <- sample(25, 12)
  y <- cc[rows, cols]; name <- paste0("efafix_ultra_", s, ".csv")
  write.csv(y, name, row.names = FALSE)
  fa3 <- suppressWarnings(fa(y, 3, fm = "minres", rotate = "oblimin"))
  om <- suppressWarnings(suppressMessages(omega(y, 3, fm = "minres", plot = FALSE)))
  ultra[[as.character(s)]] <- list(file = name, communality = unname(fa3$communality),
                                    ultra = colnames(y)[fa3$communality > 1], omega_h = om$omega_h,
                                    omega_total = om$omega.tot)
}
out$ultra <- ultra
h10 <- suppressWarnings(fa(cc, 10, fm = "minres"))
out$heywood_bfi10 <- list(communality = unname(h10$communality), heywood = big5[h10$communality >= 0.995])
h4 <- suppressWarnings(fa(Thurstone, 4, n.obs = 213, fm = "minres"))
out$heywood_thurstone4 <- list(communality = unname(h4$communality), heywood = colnames(Thurstone)[h4$communality >= 0.995])

# 4. a correlation or covariance matrix with n.obs ----------------------------------------------------
mat <- function(R, k, n.obs) {
  f <- fa(R, k, n.obs = n.obs, fm = "minres", rotate = "oblimin")
  Rc <- cov2cor(R)  # cortest.bartlett, KMO, fa.parallel and omega read a covariance matrix as rows of data
  b <- cortest.bartlett(Rc, n = n.obs)
  set.seed(1); pa <- fa.parallel(Rc, n.obs = n.obs, fa = "both", plot = FALSE)
  om <- suppressMessages(omega(Rc, k, n.obs = n.obs, fm = "minres", plot = FALSE))
  list(names = colnames(R), n_obs = n.obs, matrix = unname(R), loadings_columns = colnames(f$loadings),
       loadings = unname(unclass(f$loadings)), communality = unname(f$communality), phi = unname(f$Phi),
       chisq = f$STATISTIC, dof = f$dof, pvalue = f$PVAL, rmsea = unname(f$RMSEA[1]), tli = f$TLI, bic = f$BIC,
       bartlett = list(chisq = b$chisq, df = b$df, p = b$p.value), kmo = KMO(Rc)$MSA, kmo_items = unname(KMO(Rc)$MSAi),
       pc_values = pa$pc.values, fa_values = pa$fa.values,
       omega_h = om$omega_h, omega_total = om$omega.tot)
}
out$harman74 <- mat(Harman74.cor$cov, 4, 145)
sds <- seq(1, 3, length.out = 9)
thurstone_cov <- Thurstone * outer(sds, sds)                # a covariance matrix: fa takes cov2cor of it
out$thurstone_cov <- mat(thurstone_cov, 3, 213)

# 5. omega with two group factors: psych sets the two general loadings equal (option = "equal") -------
two <- function(x) {
  om <- suppressMessages(omega(x, 2, fm = "minres", plot = FALSE))
  list(items = colnames(x), n = nrow(x), omega_h = om$omega_h, omega_total = om$omega.tot,
       gloading = unname(c(om$schmid$gloading)), phi12 = om$schmid$phi[1, 2])
}
out$two_ac <- two(na.omit(d[, c(paste0("A", 1:5), paste0("C", 1:5))]))
out$two_no <- two(na.omit(d[, c(paste0("N", 1:5), paste0("O", 1:5))]))

writeLines(toJSON(out, digits = NA, auto_unbox = TRUE), "efafix_psych.json")
