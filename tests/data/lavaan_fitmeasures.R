# Every fitMeasures() figure of lavaan 0.6.14 (ML, default options) for three fits, for tests/test_cfa.py.
# Run from the repository root: Rscript tests/data/lavaan_fitmeasures.R  (writes tests/data/lavaan_fitmeasures.json)
library(lavaan)
library(jsonlite)
hs <- HolzingerSwineford1939
three <- "visual =~ x1 + x2 + x3\n textual =~ x4 + x5 + x6\n speed =~ x7 + x8 + x9"
fits <- list(
  hs3 = cfa(three, data = hs),
  hs3_rescov = cfa(paste(three, "\n x7 ~~ x8"), data = hs),
  hs3_school_metric = cfa(three, data = hs, group = "school", group.equal = "loadings")
)
meta <- list(hs3 = list(model = three, group = NULL, group_equal = list()),
             hs3_rescov = list(model = paste(three, "\n x7 ~~ x8"), group = NULL, group_equal = list()),
             hs3_school_metric = list(model = three, group = "school", group_equal = list("loadings")))
out <- lapply(names(fits), function(k) {
  fm <- fitMeasures(fits[[k]])
  c(meta[[k]], list(fit = as.list(setNames(as.numeric(fm), names(fm)))))
})
names(out) <- names(fits)
write_json(out, "tests/data/lavaan_fitmeasures.json", digits = NA, auto_unbox = TRUE, pretty = TRUE)
