# Produces tests/data/reliability_psych.json (R 4.x, psych 2.2.9, jsonlite), run from any folder with
#   Rscript tests/data/reliability_psych.R && mv reliability_psych.json tests/data/
# splitHalf(d, covar = FALSE|TRUE, check.keys = FALSE, raw = TRUE), guttman(na.omit(d)), alpha(d) Feldt bounds,
# on the keyed (7 - x for reversed items) bfi items of /work/shared/reference/items.csv;
# ICC(w, lmer = FALSE) on retest.csv (anx.1, anx.2) and on three bfi items of rows 1..80 (complete ones) taken as three raters.
suppressMessages(library(psych))
library(jsonlite)
x <- read.csv("/work/shared/reference/items.csv")
ex <- fromJSON("/work/shared/reference/expected.json")
keyed <- function(keys) {
  cols <- sub("^-", "", keys)
  d <- x[, cols]
  rev <- grepl("^-", keys)
  d[, rev] <- 7 - d[, rev]
  d
}
out <- list()
sets <- ex$keys
sets$agree_conscientious <- c(ex$keys$agree, ex$keys$conscientious)
sets$agree4 <- c("A2","A3","A4","A5")
for (nm in names(sets)) {
  d <- keyed(sets[[nm]])
  res <- list(items = sets[[nm]])
  for (mode in c("pairwise", "complete")) {
    dd <- if (mode == "complete") na.omit(d) else d
    for (cv in c(FALSE, TRUE)) {
      s <- splitHalf(dd, covar = cv, check.keys = FALSE, raw = TRUE)
      res[[paste0(mode, if (cv) "_covar" else "_cor")]] <- list(
        maxrb = s$maxrb, minrb = s$minrb, meanr = s$meanr, av_r = s$av.r,
        alpha = s$alpha, lambda2 = s$lambda2, lambda6 = s$lambda6, raw = s$raw,
        n_splits = length(s$raw))
    }
  }
  g <- suppressWarnings(guttman(na.omit(d)))
  res$guttman_complete <- list(lambda1 = g$lambda.1, lambda2 = g$lambda.2, lambda3 = g$lambda.3,
     lambda4 = g$lambda.4, lambda5 = g$lambda.5, lambda5p = g$lambda.5p, lambda6 = g$lambda.6)
  a <- alpha(d, warnings = FALSE)
  res$alpha_feldt_pairwise <- list(lower = a$feldt$lower.ci[[1]], upper = a$feldt$upper.ci[[1]], n = nrow(d))
  a2 <- alpha(na.omit(d), warnings = FALSE)
  res$alpha_feldt_complete <- list(lower = a2$feldt$lower.ci[[1]], upper = a2$feldt$upper.ci[[1]], n = nrow(na.omit(d)))
  res$item_means_pairwise <- as.list(setNames(a$item.stats$mean, sets[[nm]]))
  res$item_sd_pairwise <- as.list(setNames(a$item.stats$sd, sets[[nm]]))
  out[[nm]] <- res
}
icc_table <- function(w) {
  r <- ICC(w, lmer = FALSE)$results
  list(n = nrow(na.omit(w)), type = r$type, icc = r$ICC, f = r$F, df1 = r$df1, df2 = r$df2, p = r$p,
       lower = r[["lower bound"]], upper = r[["upper bound"]])
}
rt <- read.csv("/work/shared/reference/retest.csv")
icc_out <- list(retest = icc_table(rt[, c("anx.1", "anx.2")]),
                three_raters = icc_table(na.omit(x[1:80, c("A2", "A3", "A4")])))
writeLines(toJSON(list(psych = as.character(packageVersion("psych")), R = R.version.string, sets = out, icc = icc_out), digits = NA, auto_unbox = TRUE, pretty = TRUE), "reliability_psych.json")
