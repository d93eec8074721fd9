# Reference figures for psyscreen's ordinal CFA (validity/_ordinal_stats.py, validity/_wls.py):
# lavaan 0.6.14 cfa(model, data, ordered = items, estimator = "WLSMV") -- DWLS, delta parameterization,
# se = "robust.sem", test = "scaled.shifted" -- its sample statistics (thresholds, polychoric correlations,
# the NACOV "gamma" and the weight matrix "wls.v"), parameterEstimates(standardized = TRUE) and fitMeasures().
# Run from the repository root:  Rscript tests/data/wlsmv_lavaan.R
# Writes tests/data/wlsmv_lavaan.json and the data sets it made (wlsmv_*.csv).
suppressMessages({library(lavaan); library(psychTools); library(jsonlite)})
out_dir <- "tests/data"

# --- data sets -------------------------------------------------------------------------------
# 1. HolzingerSwineford1939 x1-x9 cut into 4 categories at fixed cut points (their quartiles, rounded)
hs <- HolzingerSwineford1939
cuts <- list(x1 = c(4, 5, 5.6), x2 = c(5.25, 6, 6.75), x3 = c(1.5, 2.1, 3), x4 = c(2.34, 3, 3.67),
             x5 = c(3.5, 4.5, 5.25), x6 = c(1.43, 2, 2.72), x7 = c(3.5, 4.1, 4.9),
             x8 = c(5, 5.5, 6.1), x9 = c(4.75, 5.4, 6))
hs4 <- data.frame(lapply(names(cuts), function(v) as.integer(cut(hs[[v]], c(-Inf, cuts[[v]], Inf)))))
names(hs4) <- names(cuts)
hs4$school <- as.character(hs$school)
write.csv(hs4, file.path(out_dir, "wlsmv_hs4.csv"), row.names = FALSE)

# 2. psychTools::bfi agreeableness and conscientiousness (6 categories, missing answers: listwise)
bfi10 <- psychTools::bfi[, c(paste0("A", 1:5), paste0("C", 1:5), "gender")]
write.csv(bfi10, file.path(out_dir, "wlsmv_bfi.csv"), row.names = FALSE, na = "")

# 3. synthetic 4-point items, two correlated factors, two groups; item y8 has a rare top category
set.seed(20240611)
n <- 700
grp <- rep(c("a", "b"), c(400, 300))
f <- matrix(rnorm(2 * n), n) %*% chol(matrix(c(1, .4, .4, 1), 2))
f[grp == "b", 1] <- f[grp == "b", 1] + 0.3
lam <- c(.8, .7, .6, .5, .75, .65, .55, .45)
ystar <- cbind(outer(f[, 1], lam[1:4]), outer(f[, 2], lam[5:8]))
ystar <- ystar + matrix(rnorm(8 * n), n) %*% diag(sqrt(1 - lam^2))
th <- list(c(-1, 0, 1), c(-.5, .3, 1.2), c(-1.2, -.2, .8), c(-.3, .5, 1.5),
           c(-.8, .1, .9), c(-1.5, -.5, .6), c(-.6, .4, 1.3), c(-.2, .9, 2.2))
syn <- data.frame(sapply(1:8, function(j) as.integer(cut(ystar[, j], c(-Inf, th[[j]], Inf)))))
names(syn) <- paste0("y", 1:8)
syn$group <- grp
write.csv(syn, file.path(out_dir, "wlsmv_synthetic.csv"), row.names = FALSE)

# 4. psychTools::tai, the 20 trait-anxiety items (positive and negative wording as two factors)
tai20 <- psychTools::tai[, 4:23]
write.csv(tai20, file.path(out_dir, "wlsmv_tai.csv"), row.names = FALSE, na = "")
pos <- c("pleasant", "rested", "calm", "happy", "secure", "decisive", "content", "steady", "satisfied")
pos <- intersect(pos, names(tai20))

cases <- list(
  hs4 = list(data = hs4, items = names(cuts),
             model = "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9", gamma = TRUE),
  hs4_stdlv = list(data = hs4, items = names(cuts), std.lv = TRUE,
             model = "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9\nx1 ~~ x4"),
  bfi = list(data = bfi10, items = c(paste0("A", 1:5), paste0("C", 1:5)),
             model = "agree =~ A1 + A2 + A3 + A4 + A5\nconsc =~ C1 + C2 + C3 + C4 + C5"),
  synthetic = list(data = syn, items = paste0("y", 1:8), gamma = TRUE,
             model = "f1 =~ y1 + y2 + y3 + y4\nf2 =~ y5 + y6 + y7 + y8"),
  tai = list(data = tai20, items = names(tai20),
             model = paste("pos =~", paste(pos, collapse = " + "), "\nneg =~",
                           paste(setdiff(names(tai20), pos), collapse = " + ")))
)

num <- function(x) { x <- unclass(x); x[!is.finite(x)] <- NA; x }
res <- list()
for (nm in names(cases)) {
  cs <- cases[[nm]]
  std.lv <- isTRUE(cs$std.lv)
  fit <- cfa(cs$model, data = cs$data, ordered = cs$items, estimator = "WLSMV", std.lv = std.lv)
  pe <- parameterEstimates(fit, standardized = TRUE)
  ss <- lavInspect(fit, "sampstat")
  entry <- list(
    model = cs$model, items = cs$items, std_lv = std.lv,
    ntotal = lavInspect(fit, "ntotal"), norig = nrow(cs$data),
    fit = as.list(num(fitMeasures(fit))),
    params = data.frame(lhs = pe$lhs, op = pe$op, rhs = pe$rhs, est = pe$est, se = pe$se,
                        z = pe$z, pvalue = pe$pvalue, std_all = pe$std.all),
    th = unname(num(ss$th)), th_names = names(ss$th),
    cor = unname(unclass(ss$cov)),
    wls_v_diag = unname(diag(lavInspect(fit, "wls.v"))),
    test_shift = fit@test$scaled.shifted$shift.parameter
  )
  if (isTRUE(cs$gamma)) entry$gamma <- unname(unclass(lavInspect(fit, "gamma")))
  # the ML fit of the same items (treated as continuous) for the issue's comparison
  mlfit <- cfa(cs$model, data = cs$data, std.lv = std.lv)
  entry$ml_cfi <- unname(fitMeasures(mlfit, "cfi"))
  res[[nm]] <- entry
}
# multi-group fits (lavaan's group.equal for ordered items: "thresholds" frees the scaling factors and the
# factor means in the later groups)
mg <- list(
  synthetic_configural = list(data = syn, items = paste0("y", 1:8), group = "group", equal = "none",
                              model = cases$synthetic$model),
  synthetic_thr_load = list(data = syn, items = paste0("y", 1:8), group = "group",
                            equal = c("thresholds", "loadings"), model = cases$synthetic$model),
  bfi_gender_thr_load = list(data = bfi10, items = cases$bfi$items, group = "gender",
                             equal = c("thresholds", "loadings"), model = cases$bfi$model)
)
for (nm in names(mg)) {
  cs <- mg[[nm]]
  fit <- cfa(cs$model, data = cs$data, ordered = cs$items, estimator = "WLSMV", group = cs$group,
             group.equal = cs$equal)
  pe <- parameterEstimates(fit, standardized = TRUE)
  res[[nm]] <- list(
    model = cs$model, items = cs$items, group = cs$group, group_equal = cs$equal,
    group_labels = lavInspect(fit, "group.label"), ntotal = lavInspect(fit, "ntotal"),
    fit = as.list(num(fitMeasures(fit))),
    params = data.frame(lhs = pe$lhs, op = pe$op, rhs = pe$rhs, group = pe$group, est = pe$est, se = pe$se,
                        std_all = pe$std.all))
}
writeLines(toJSON(res, digits = NA, na = "null", auto_unbox = TRUE, dataframe = "columns"),
           file.path(out_dir, "wlsmv_lavaan.json"))
