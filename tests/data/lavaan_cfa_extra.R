# Produced tests/data/lavaan_cfa_extra.json: R 4.x, lavaan 0.6.14 (Debian r-cran-lavaan), run as `Rscript lavaan_cfa_extra.R`
# from the directory it should write to; data from /work/shared/reference (cfa.csv, invariance.csv).
library(lavaan)
hs <- read.csv("/work/shared/reference/cfa.csv")
inv <- read.csv("/work/shared/reference/invariance.csv")
model <- "visual =~ x1 + x2 + x3\n textual =~ x4 + x5 + x6\n speed =~ x7 + x8 + x9"
fm <- c("chisq","df","pvalue","cfi","tli","rmsea","rmsea.ci.lower","rmsea.ci.upper","srmr","aic","bic","logl","npar")
pe <- function(fit) { p <- parameterEstimates(fit); s <- standardizedSolution(fit)
  list(lhs=p$lhs, op=p$op, rhs=p$rhs, group=if (is.null(p$group)) rep(1L, nrow(p)) else p$group,
       est=p$est, se=p$se, std_all=s$est.std, std_se=s$se) }
out <- list()
fit <- cfa(model, data=hs)
out$hs <- list(call="cfa(model, data=hs)", fit=as.list(fitMeasures(fit, fm)), params=pe(fit))
m2 <- paste(model, "\n x7 ~~ x8\n textual =~ a*x5 + a*x6", sep="")
m2 <- "visual =~ x1 + x2 + x3\n textual =~ x4 + a*x5 + a*x6\n speed =~ x7 + x8 + x9\n x7 ~~ x8"
fit2 <- cfa(m2, data=hs, std.lv=TRUE)
out$hs_rescov_label_stdlv <- list(model=m2, call="cfa(model, data=hs, std.lv=TRUE)", fit=as.list(fitMeasures(fit2, fm)), params=pe(fit2))
steps <- list(configural="", metric="loadings", scalar=c("loadings","intercepts"), strict=c("loadings","intercepts","residuals"))
fits <- lapply(steps, function(ge) cfa(model, data=inv, group="group", group.equal=ge))
out$invariance <- lapply(names(steps), function(n) list(call=sprintf("cfa(model, data=inv, group='group', group.equal=%s)", deparse(steps[[n]])), fit=as.list(fitMeasures(fits[[n]], fm)), params=pe(fits[[n]])))
names(out$invariance) <- names(steps)
lrt <- lavTestLRT(fits$configural, fits$metric, fits$scalar, fits$strict)
out$lrt <- list(call="lavTestLRT(configural, metric, scalar, strict)", chisq_diff=lrt[["Chisq diff"]], df_diff=lrt[["Df diff"]], p=lrt[["Pr(>Chisq)"]])
out$lavaan_version <- as.character(packageVersion("lavaan"))
cat(jsonlite::toJSON(out, auto_unbox=TRUE, digits=NA, na="null", pretty=TRUE), file="lavaan_cfa_extra.json")
