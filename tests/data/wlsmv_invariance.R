# Reference figures for psyscreen's ordinal measurement invariance (validity/_wls_invariance.py):
# each step's model is the syntax semTools 0.5.6 generates with
#   measEq.syntax(configural.model, data, ordered = items, parameterization = "delta", ID.fac = "std.lv",
#                 ID.cat = "Wu.Estabrook.2016", group = , group.equal = <step>, group.partial = )
# fitted by lavaan 0.6.14 (cfa(..., estimator = "WLSMV", parameterization = "delta")); stored: fitMeasures,
# parameterEstimates(standardized = TRUE), and lavTestLRT(previous step, step) (its default for the
# scaled-shifted test: method = "satorra.2000", scaled.shifted = TRUE, A.method = "delta").
# Also lavaan's own group.equal + group.partial for ordered items (cfa(group_partial=)).
# Run from the repository root:  Rscript tests/data/wlsmv_invariance.R
# Writes tests/data/wlsmv_invariance.json and tests/data/wlsmv_invariance_synthetic.csv.
suppressMessages({library(lavaan); library(semTools); library(jsonlite)})
out_dir <- "tests/data"

# synthetic: two groups, two factors, 7 four-point items and one binary item (y8); in group "b" the second
# threshold of y2 is 0.6 higher (a non-invariant threshold), factor 1 has mean 0.3 and variance 1.3
set.seed(20261203)
n <- c(a = 450, b = 380)
grp <- rep(names(n), n)
N <- sum(n)
f <- matrix(rnorm(2 * N), N) %*% chol(matrix(c(1, .35, .35, 1), 2))
b <- grp == "b"
f[b, 1] <- 0.3 + sqrt(1.3) * f[b, 1]
lam <- c(.8, .7, .65, .55, .75, .7, .6, .65)
ystar <- cbind(outer(f[, 1], lam[1:4]), outer(f[, 2], lam[5:8]))
ystar <- ystar + matrix(rnorm(8 * N), N) %*% diag(sqrt(1 - lam^2))
th <- list(c(-1, 0, 1), c(-.6, .2, 1.1), c(-1.2, -.2, .8), c(-.3, .5, 1.4),
           c(-.8, .1, .9), c(-1.3, -.4, .6), c(-.6, .4, 1.3), c(0.2))
syn <- data.frame(sapply(1:8, function(j) {
  out <- integer(N)
  for (g in names(n)) {
    t <- th[[j]]
    if (j == 2 && g == "b") t[2] <- t[2] + 0.6
    s <- grp == g
    out[s] <- as.integer(cut(ystar[s, j], c(-Inf, t, Inf)))
  }
  out
}))
names(syn) <- paste0("y", 1:8)
syn$group <- grp
write.csv(syn, file.path(out_dir, "wlsmv_invariance_synthetic.csv"), row.names = FALSE)

bfi10 <- read.csv(file.path(out_dir, "wlsmv_bfi.csv"))  # psychTools::bfi A1-A5, C1-C5, gender (wlsmv_lavaan.R)
hs4 <- read.csv(file.path(out_dir, "wlsmv_hs4.csv"))    # HolzingerSwineford1939 x1-x9 in 4 categories, school

steps <- list(configural = "", thresholds = "thresholds", metric = c("thresholds", "loadings"),
              scalar = c("thresholds", "loadings", "intercepts"))
cases <- list(
  bfi_gender = list(data = bfi10, items = c(paste0("A", 1:5), paste0("C", 1:5)), group = "gender",
                    model = "agree =~ A1 + A2 + A3 + A4 + A5\nconsc =~ C1 + C2 + C3 + C4 + C5", partial = NULL),
  synthetic = list(data = syn, items = paste0("y", 1:8), group = "group",
                   model = "f1 =~ y1 + y2 + y3 + y4\nf2 =~ y5 + y6 + y7 + y8", partial = NULL),
  synthetic_partial = list(data = syn, items = paste0("y", 1:8), group = "group",
                   model = "f1 =~ y1 + y2 + y3 + y4\nf2 =~ y5 + y6 + y7 + y8", partial = c("y2 | t2", "y4 ~ 1")),
  hs4_school = list(data = hs4, items = paste0("x", 1:9), group = "school",
                    model = "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9", partial = NULL)
)

num <- function(x) { x <- unclass(x); x[!is.finite(x)] <- NA; x }
pe_frame <- function(fit) {
  pe <- parameterEstimates(fit, standardized = TRUE)
  data.frame(lhs = pe$lhs, op = pe$op, rhs = pe$rhs, group = pe$group, est = pe$est, se = pe$se,
             std_all = pe$std.all)
}
res <- list()
for (nm in names(cases)) {
  cs <- cases[[nm]]
  fits <- list(); entry <- list(model = cs$model, items = cs$items, group = cs$group,
                                partial = if (is.null(cs$partial)) list() else cs$partial, steps = list())
  for (st in names(steps)) {
    args <- list(configural.model = cs$model, data = cs$data, ordered = cs$items, parameterization = "delta",
                 ID.fac = "std.lv", ID.cat = "Wu.Estabrook.2016", group = cs$group, group.equal = steps[[st]])
    if (!is.null(cs$partial)) args$group.partial <- cs$partial
    syntax <- do.call(measEq.syntax, args)
    fit <- cfa(as.character(syntax), data = cs$data, ordered = cs$items, group = cs$group,
               estimator = "WLSMV", parameterization = "delta")
    fits[[st]] <- fit
    e <- list(group_equal = steps[[st]], syntax = as.character(syntax), fit = as.list(num(fitMeasures(fit))),
              params = pe_frame(fit), group_labels = lavInspect(fit, "group.label"))
    if (length(fits) > 1) {
      lrt <- lavTestLRT(fits[[length(fits) - 1]], fit)
      e$lrt <- list(chisq_diff = lrt[["Chisq diff"]][2], df_diff = lrt[["Df diff"]][2],
                    pvalue = lrt[["Pr(>Chisq)"]][2], heading = attr(lrt, "heading"))
    }
    entry$steps[[st]] <- e
  }
  res[[nm]] <- entry
}
# lavaan's own identification for ordered items with group.equal + group.partial (cfa(group_partial=))
fit <- cfa("f1 =~ y1 + y2 + y3 + y4\nf2 =~ y5 + y6 + y7 + y8", data = syn, ordered = paste0("y", 1:8),
           group = "group", estimator = "WLSMV", group.equal = c("thresholds", "loadings"),
           group.partial = c("y2 | t2", "f1 =~ y3"))
res$cfa_partial <- list(model = "f1 =~ y1 + y2 + y3 + y4\nf2 =~ y5 + y6 + y7 + y8", group = "group",
                        group_equal = c("thresholds", "loadings"), partial = c("y2 | t2", "f1 =~ y3"),
                        group_labels = lavInspect(fit, "group.label"),
                        fit = as.list(num(fitMeasures(fit))), params = pe_frame(fit))
writeLines(toJSON(res, digits = NA, na = "null", auto_unbox = TRUE, dataframe = "columns"),
           file.path(out_dir, "wlsmv_invariance.json"))
