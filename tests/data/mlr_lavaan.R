# Reference figures of lavaan 0.6.14 for estimator = "MLR" and missing = "ml" (FIML), for
# tests/test_mlr.py and tests/test_fiml.py. Run from the repository root:
#   Rscript tests/data/mlr_lavaan.R
# writes tests/data/mlr_lavaan.json, tests/data/hs.csv, tests/data/political_democracy.csv,
# tests/data/hs_missing.csv (HolzingerSwineford1939 with missing
# answers injected, seeded) and tests/data/bfi_ac.csv (psychTools::bfi A1-A5, C1-C5, gender with
# their real missing answers).
library(lavaan)
library(jsonlite)
library(psychTools)

hs <- HolzingerSwineford1939[, c("id", "sex", "school", paste0("x", 1:9))]
# missing answers: each x cell missing with probability 0.078 (MCAR), the first seed whose listwise
# deletion keeps 145 of the 301 rows (the issue's example)
for (seed in 1:1000) {
  set.seed(seed)
  m <- matrix(runif(301 * 9) < 0.078, 301, 9)
  if (sum(rowSums(m) == 0) == 145) break
}
hs_mis <- hs
for (k in 1:9) hs_mis[m[, k], paste0("x", k)] <- NA
write.csv(hs_mis, "tests/data/hs_missing.csv", row.names = FALSE, na = "")
write.csv(hs, "tests/data/hs.csv", row.names = FALSE)
write.csv(PoliticalDemocracy, "tests/data/political_democracy.csv", row.names = FALSE)
bfi_ac <- psychTools::bfi[, c(paste0("A", 1:5), paste0("C", 1:5), "gender")]
write.csv(bfi_ac, "tests/data/bfi_ac.csv", row.names = FALSE, na = "")

three <- "visual =~ x1 + x2 + x3\n textual =~ x4 + x5 + x6\n speed =~ x7 + x8 + x9"
pd_model <- paste("ind60 =~ x1 + x2 + x3\n dem60 =~ y1 + y2 + y3 + y4\n dem65 =~ y5 + y6 + y7 + y8",
                  "y1 ~~ y5\n y2 ~~ y4 + y6\n y3 ~~ y7\n y4 ~~ y8\n y6 ~~ y8", sep = "\n ")
ac <- "agree =~ A1 + A2 + A3 + A4 + A5\n consc =~ C1 + C2 + C3 + C4 + C5"

specs <- list(
  hs3_mlr = list(data = "hs", model = three, estimator = "MLR", missing = "listwise"),
  pd_mlr = list(data = "PoliticalDemocracy", model = pd_model, estimator = "MLR", missing = "listwise"),
  hs3_school_mlr = list(data = "hs", model = three, estimator = "MLR", missing = "listwise", group = "school"),
  hs3_school_metric_mlr = list(data = "hs", model = three, estimator = "MLR", missing = "listwise",
                               group = "school", group_equal = list("loadings")),
  hsmis_ml_listwise = list(data = "hs_missing", model = three, estimator = "ML", missing = "listwise"),
  hsmis_mlr_listwise = list(data = "hs_missing", model = three, estimator = "MLR", missing = "listwise"),
  hsmis_fiml = list(data = "hs_missing", model = three, estimator = "ML", missing = "ml"),
  hsmis_fiml_mlr = list(data = "hs_missing", model = three, estimator = "MLR", missing = "ml"),
  hsmis_school_fiml_mlr = list(data = "hs_missing", model = three, estimator = "MLR", missing = "ml",
                               group = "school"),
  bfi_mlr_listwise = list(data = "bfi_ac", model = ac, estimator = "MLR", missing = "listwise"),
  bfi_fiml = list(data = "bfi_ac", model = ac, estimator = "ML", missing = "ml"),
  bfi_fiml_mlr = list(data = "bfi_ac", model = ac, estimator = "MLR", missing = "ml"),
  bfi_gender_fiml_mlr = list(data = "bfi_ac", model = ac, estimator = "MLR", missing = "ml", group = "gender")
)
datasets <- list(hs = hs, PoliticalDemocracy = PoliticalDemocracy, hs_missing = hs_mis, bfi_ac = bfi_ac)

fit_one <- function(s, group_equal = s$group_equal) {
  ge <- if (is.null(group_equal)) "" else unlist(group_equal)
  cfa(s$model, data = datasets[[s$data]], estimator = s$estimator, missing = s$missing,
      group = s$group, group.equal = ge)
}
describe <- function(fit) {
  pe <- parameterEstimates(fit)
  if (is.null(pe$group)) pe$group <- 1L
  fm <- fitMeasures(fit)
  list(params = pe[, c("lhs", "op", "rhs", "group", "est", "se")],
       fit = as.list(setNames(as.numeric(fm), names(fm))),
       nobs = lavInspect(fit, "nobs"), norig = lavInspect(fit, "norig"))
}
out <- lapply(specs, function(s) c(s, describe(fit_one(s))))

# measurement invariance with MLR (and MLR + FIML): lavTestLRT's scaled difference test
steps <- list(configural = character(0), metric = "loadings", scalar = c("loadings", "intercepts"),
              strict = c("loadings", "intercepts", "residuals"))
inv_specs <- list(
  inv_hs_school_mlr = list(data = "hs", model = three, estimator = "MLR", missing = "listwise", group = "school"),
  inv_hsmis_school_fiml_mlr = list(data = "hs_missing", model = three, estimator = "MLR", missing = "ml",
                                   group = "school"),
  inv_bfi_gender_fiml_ml = list(data = "bfi_ac", model = ac, estimator = "ML", missing = "ml", group = "gender")
)
inv <- lapply(inv_specs, function(s) {
  fits <- lapply(steps, function(ge) fit_one(s, if (length(ge)) as.list(ge) else NULL))
  lrt <- lapply(2:4, function(k) {
    t <- lavTestLRT(fits[[k - 1]], fits[[k]])
    list(step = names(steps)[k], chisq_diff = t[["Chisq diff"]][2], df_diff = t[["Df diff"]][2],
         pvalue = t[["Pr(>Chisq)"]][2], method = attr(t, "heading"))
  })
  fm <- lapply(fits, function(f) { x <- fitMeasures(f); as.list(setNames(as.numeric(x), names(x))) })
  c(s, list(fit = fm, lrt = lrt))
})
write_json(list(fits = out, invariance = inv), "tests/data/mlr_lavaan.json", digits = NA,
           auto_unbox = TRUE, pretty = TRUE)
