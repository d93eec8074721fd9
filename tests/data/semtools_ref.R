# Produces tests/data/semtools_ref.json (and the data CSVs beside it) for tests/test_semtools.py.
# R 4.2, lavaan 0.6.14, semTools 0.5.6, psychTools (Debian/CRAN packages); run as `Rscript semtools_ref.R`
# from tests/data. HolzingerSwineford1939 is read from /work/shared/reference (cfa.csv, invariance.csv), as
# lavaan_cfa_extra.R does; Demo.growth, PoliticalDemocracy and psychTools::bfi are written here as CSV.
suppressMessages({library(lavaan); library(semTools); library(psychTools)})
hs <- read.csv("/work/shared/reference/cfa.csv")
inv <- read.csv("/work/shared/reference/invariance.csv")
write.csv(Demo.growth[, c("t1", "t2", "t3", "t4")], "semtools_demo_growth.csv", row.names = FALSE)
write.csv(PoliticalDemocracy, "semtools_political_democracy.csv", row.names = FALSE)
bfi <- psychTools::bfi[, c(paste0("A", 1:5), paste0("C", 1:5), paste0("E", 1:5), "gender")]
write.csv(bfi, "semtools_bfi.csv", row.names = FALSE)
dg <- read.csv("semtools_demo_growth.csv"); pd <- read.csv("semtools_political_democracy.csv")
bfi <- read.csv("semtools_bfi.csv")

fm <- c("npar", "chisq", "df", "pvalue", "cfi", "tli", "rmsea", "srmr", "aic", "bic", "logl")
pe <- function(fit) { p <- parameterEstimates(fit); s <- standardizedSolution(fit)
  list(lhs = p$lhs, op = p$op, rhs = p$rhs, group = if (is.null(p$group)) rep(1L, nrow(p)) else p$group,
       est = p$est, se = p$se, std_all = s$est.std, std_se = s$se) }
fitinfo <- function(fit, call, model) list(call = call, model = model, fit = as.list(fitMeasures(fit, fm)), params = pe(fit))
mitab <- function(fit) { m <- modindices(fit)
  list(lhs = m$lhs, op = m$op, rhs = m$rhs, group = if (is.null(m$group)) rep(1L, nrow(m)) else m$group,
       mi = m$mi, epc = m$epc, sepc.lv = m$sepc.lv, sepc.all = m$sepc.all, sepc.nox = m$sepc.nox) }
named <- function(x) as.list(setNames(as.numeric(x), names(x)))
rel <- function(fit) {
  out <- list(cr_implied = compRelSEM(fit, obs.var = FALSE), cr_observed = compRelSEM(fit, obs.var = TRUE),
              ave_implied = AVE(fit, obs.var = FALSE), ave_observed = AVE(fit, obs.var = TRUE))
  lapply(out, function(x) if (is.data.frame(x)) lapply(split(x, seq_len(nrow(x))), function(r) as.list(r[sapply(r, is.numeric)])) else named(x))
}
out <- list(versions = list(lavaan = as.character(packageVersion("lavaan")), semTools = as.character(packageVersion("semTools"))))

# 1. latent means: the issue's model under cfa() (not identified in lavaan: a warning, df 1) and growth()
issue <- "i =~ 1*t1 + 1*t2 + 1*t3 + 1*t4; s =~ 0*t1 + 1*t2 + 2*t3 + 3*t4; i ~ 1; s ~ 1"
f <- suppressWarnings(cfa(issue, data = dg))
out$growth <- list()
out$growth$dg_cfa_issue <- list(call = "cfa(issue, data=Demo.growth)", model = issue,
  fit = as.list(fitMeasures(f, c("chisq", "df"))), warning = "lavaan: could not compute standard errors (not identified)")
out$growth$dg_growth <- fitinfo(growth(issue, data = dg), "growth(model, data=Demo.growth)", issue)
fixed <- paste(issue, "; t1 ~ 0*1; t2 ~ 0*1; t3 ~ 0*1; t4 ~ 0*1")
out$growth$dg_cfa_fixed <- fitinfo(cfa(fixed, data = dg), "cfa(model, data=Demo.growth)", fixed)
pdg <- "i =~ 1*y1 + 1*y2 + 1*y3 + 1*y4; s =~ 0*y1 + 1*y2 + 2*y3 + 3*y4"
out$growth$pd_growth <- fitinfo(growth(pdg, data = pd), "growth(model, data=PoliticalDemocracy)", pdg)
hsm <- "visual =~ x1 + x2 + x3; textual =~ x4 + x5 + x6; visual ~ 1; textual ~ 1; x1 ~ 0*1; x4 ~ 0*1"
out$growth$hs_latent_means <- fitinfo(cfa(hsm, data = hs), "cfa(model, data=hs)", hsm)

# 2. reliability and AVE (semTools::compRelSEM / AVE, both obs.var), on simple, bifactor and residual-covariance models
m3 <- "visual =~ x1 + x2 + x3\n textual =~ x4 + x5 + x6\n speed =~ x7 + x8 + x9"
bif <- "g =~ x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8 + x9\n visual =~ x1 + x2 + x3\n textual =~ x4 + x5 + x6\n speed =~ x7 + x8 + x9"
pdm <- "ind60 =~ x1 + x2 + x3\n dem60 =~ y1 + y2 + y3 + y4\n dem65 =~ y5 + y6 + y7 + y8\n y1 ~~ y5\n y2 ~~ y4 + y6\n y3 ~~ y7\n y4 ~~ y8\n y6 ~~ y8"
b3 <- "A =~ A1 + A2 + A3 + A4 + A5\n C =~ C1 + C2 + C3 + C4 + C5\n E =~ E1 + E2 + E3 + E4 + E5"
bbif <- "g =~ A1 + A2 + A3 + A4 + A5 + E1 + E2 + E3 + E4 + E5\n A =~ A1 + A2 + A3 + A4 + A5\n E =~ E1 + E2 + E3 + E4 + E5"
fits <- list(
  hs3 = list(cfa(m3, data = hs), "cfa(m3, data=hs)", m3, list(std_lv = FALSE, orthogonal = FALSE)),
  hs_bifactor = list(cfa(bif, data = hs, std.lv = TRUE, orthogonal = TRUE), "cfa(bif, data=hs, std.lv=TRUE, orthogonal=TRUE)", bif, list(std_lv = TRUE, orthogonal = TRUE)),
  pd_rescov = list(cfa(pdm, data = pd), "cfa(pdm, data=PoliticalDemocracy)", pdm, list(std_lv = FALSE, orthogonal = FALSE)),
  bfi3 = list(cfa(b3, data = bfi), "cfa(b3, data=bfi)", b3, list(std_lv = FALSE, orthogonal = FALSE)),
  bfi_bifactor = list(cfa(bbif, data = bfi, std.lv = TRUE, orthogonal = TRUE), "cfa(bbif, data=bfi, std.lv=TRUE, orthogonal=TRUE)", bbif, list(std_lv = TRUE, orthogonal = TRUE)))
out$reliability <- lapply(fits, function(x) c(fitinfo(x[[1]], x[[2]], x[[3]]), list(options = x[[4]], reliability = rel(x[[1]]),
  cor_lv = lapply(seq_len(ncol(lavInspect(x[[1]], "cor.lv"))), function(k) as.numeric(lavInspect(x[[1]], "cor.lv")[, k])),
  lv_names = colnames(lavInspect(x[[1]], "cor.lv")))))
fmg <- cfa(m3, data = inv, group = "group")
out$reliability_groups <- list(call = "cfa(m3, data=inv, group='group')", model = m3, reliability = rel(fmg))

# 3. HTMT (semTools::htmt, defaults: missing listwise, absolute, htmt2 = TRUE; and htmt2 = FALSE)
hmat <- function(m) lapply(seq_len(ncol(m)), function(k) as.numeric(m[, k]))
out$htmt <- list()
for (nm in c("hs3", "pd", "bfi3")) {
  mod <- switch(nm, hs3 = m3, pd = "ind60 =~ x1 + x2 + x3\n dem60 =~ y1 + y2 + y3 + y4\n dem65 =~ y5 + y6 + y7 + y8", bfi3 = b3)
  dat <- switch(nm, hs3 = hs, pd = pd, bfi3 = bfi)
  h2 <- htmt(mod, dat); h1 <- htmt(mod, dat, htmt2 = FALSE)
  out$htmt[[nm]] <- list(model = mod, factors = colnames(h2), htmt2 = hmat(h2), htmt = hmat(h1))
}

# 4. modification indices (lavaan::modindices defaults: sorted by nothing here, free and NA rows removed)
fmgl <- cfa(m3, data = inv, group = "group", group.equal = "loadings")
fbg <- cfa(b3, data = bfi, group = "gender", group.equal = c("loadings", "intercepts"))
mfits <- list(hs3 = list(fits$hs3[[1]], m3, list()), hs_bifactor = list(fits$hs_bifactor[[1]], bif, list(std_lv = TRUE, orthogonal = TRUE)),
  pd_rescov = list(fits$pd_rescov[[1]], pdm, list()), bfi3 = list(fits$bfi3[[1]], b3, list()),
  hs_groups_loadings = list(fmgl, m3, list(group = "group", group_equal = list("loadings"))),
  bfi_gender_scalar = list(fbg, b3, list(group = "gender", group_equal = list("loadings", "intercepts"))),
  dg_growth_fixed = list(cfa(fixed, data = dg), fixed, list()))
out$modindices <- lapply(mfits, function(x) list(model = x[[2]], options = x[[3]], fit = as.list(fitMeasures(x[[1]], fm)), mi = mitab(x[[1]])))

# 5. partial invariance (group.partial)
p1 <- cfa(m3, data = inv, group = "group", group.equal = c("loadings", "intercepts"), group.partial = c("visual =~ x3", "x7 ~ 1"))
p2 <- cfa(b3, data = bfi, group = "gender", group.equal = c("loadings", "intercepts", "residuals"), group.partial = c("A1 ~ 1", "C5 ~~ C5", "E =~ E4"))
p3 <- cfa(m3, data = inv, group = "group", group.equal = c("loadings"), group.partial = c("speed =~ x9"))
out$partial <- list(
  hs_scalar = c(fitinfo(p1, "cfa(m3, data=inv, group='group', group.equal=c('loadings','intercepts'), group.partial=c('visual =~ x3','x7 ~ 1'))", m3),
                list(data = "inv", group = "group", group_equal = list("loadings", "intercepts"), group_partial = list("visual =~ x3", "x7 ~ 1"))),
  bfi_strict = c(fitinfo(p2, "cfa(b3, data=bfi, group='gender', group.equal=c('loadings','intercepts','residuals'), group.partial=c('A1 ~ 1','C5 ~~ C5','E =~ E4'))", b3),
                 list(data = "bfi", group = "gender", group_equal = list("loadings", "intercepts", "residuals"), group_partial = list("A1 ~ 1", "C5 ~~ C5", "E =~ E4"))),
  hs_metric = c(fitinfo(p3, "cfa(m3, data=inv, group='group', group.equal='loadings', group.partial='speed =~ x9')", m3),
                list(data = "inv", group = "group", group_equal = list("loadings"), group_partial = list("speed =~ x9"))))
cat(jsonlite::toJSON(out, auto_unbox = TRUE, digits = NA, na = "null", pretty = TRUE), file = "semtools_ref.json")
