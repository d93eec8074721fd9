"""Robust ML for CFA: sandwich standard errors and the Yuan-Bentler scaled chi-square (lavaan "MLR").

Owned here because no Python SEM library reproduces lavaan's MLR figures. Equal to
``lavaan::cfa(..., estimator = "MLR")`` (lavaan 0.6.14, its defaults for MLR: ``se =
"robust.huber.white"``, ``test = "yuan.bentler.mplus"``, ``information = "observed"``,
``observed.information = "hessian"``, ``h1.information = "structured"``,
``information.meat = "first.order"``), with complete data and with FIML (``missing = "ml"``):

- the case-wise scores of the saturated (h1) normal model in the moments ``m = (mu, vech Sigma)``,
  pattern by pattern when answers are missing; their cross-product ``B1`` at the model-implied
  moments (``structured``) is the meat: ``B0 = Delta' B1 Delta`` with ``Delta = dm/dtheta``;
- standard errors ``A0^-1 B0 A0^-1`` with ``A0`` the observed information of the model (the
  Hessian of the log-likelihood in the free parameters);
- the scaling factor ``c = (tr(A1^-1 B1) - tr(A0^-1 B0)) / df`` (Yuan and Bentler, 2000, in
  Mplus's form) where ``A1`` (the observed information of the saturated model) and ``B1`` of
  the first trace are taken at the saturated moments (sample moments, or the EM estimates
  under FIML); ``chisq.scaled = chisq / c``. The baseline (independence) model the same way,
  with its own estimates and ``Delta`` a selection of means and variances;
- under FIML the ``.robust`` CFI/TLI/RMSEA use Zhang and Savalei's corrected statistic
  (:func:`fiml_corrected`), as lavaan 0.6.14 does;
- the scaled CFI/TLI/RMSEA from the scaled statistics, the robust ones by
  Brosseau-Liard and Savalei (2012, 2014) and Savalei (2018), as ``fitMeasures``;
- the scaled difference test of nested models by Satorra and Bentler (2001), as
  ``lavTestLRT(method = "satorra.bentler.2001")``.

Without a mean structure (complete data, a single group) the means are saturated and only the
covariance block of ``m`` enters, as in lavaan.
"""

from __future__ import annotations

import html
import warnings

import numpy as np
from scipy import stats

from psyscreen.validity import _fiml
from psyscreen.validity._fiml import Pattern

__all__ = ["fiml_corrected", "h1_information", "inference", "model_deltas", "observed_information",
           "robust_measures", "robust_vcov", "satorra_bentler_2001", "scaled_fit_measures", "yb_trace"]


def _vech_index(p: int) -> tuple[np.ndarray, np.ndarray]:
    r, c = np.tril_indices(p)
    return r, c


def _dkron(M: np.ndarray, N: np.ndarray, r: np.ndarray, c: np.ndarray) -> np.ndarray:
    """``D' (M kron N) D`` for symmetric M, N, with D the duplication matrix (vech order r, c)."""
    T = (M[np.ix_(r, r)] * N[np.ix_(c, c)] + M[np.ix_(r, c)] * N[np.ix_(c, r)]
         + M[np.ix_(c, r)] * N[np.ix_(r, c)] + M[np.ix_(c, c)] * N[np.ix_(r, r)])
    half = np.where(r == c, 0.5, 1.0)
    return T * half[:, None] * half[None, :]


def h1_information(pats: list[Pattern], sigma: np.ndarray, mu: np.ndarray,
                   meanstructure: bool) -> tuple[np.ndarray, np.ndarray]:
    """Observed information ``A1`` and score cross-product ``B1`` of the saturated model (totals).

    The observed information of pattern ``o`` with ``K = Sigma_oo^-1``, ``d = ybar_o - mu_o`` and
    ``W = S_o + d d'``: ``n K`` (means), ``n D'(K W K (x) K - K (x) K / 2) D`` (covariances) and
    ``n (d'K (x) K) D`` (cross); the scores of a row ``K d_i`` and ``vech`` of ``(K d_i d_i' K - K) / 2``
    (off-diagonal entries twice).

    Both in the moments ``(mu, vech Sigma)`` (or ``vech Sigma`` alone without a mean structure),
    at the given moments, summed over the rows of one group (pattern by pattern).
    """
    p = sigma.shape[0]
    r, c = _vech_index(p)
    ps = r.size
    k = ps + (p if meanstructure else 0)
    A = np.zeros((k, k))
    B = np.zeros((k, k))
    off = p if meanstructure else 0
    dup = np.where(r == c, 1.0, 2.0)
    for pt in pats:
        o = pt.idx
        K = np.zeros((p, p))
        K[np.ix_(o, o)] = np.linalg.inv(sigma[np.ix_(o, o)])
        d = np.zeros(p)
        d[o] = pt.ybar - mu[o]
        W = np.zeros((p, p))
        W[np.ix_(o, o)] = pt.S + np.outer(d[o], d[o])
        KWK = K @ W @ K
        A[off:, off:] += pt.n * (_dkron(KWK, K, r, c) - 0.5 * _dkron(K, K, r, c))
        # case-wise scores
        Z = np.zeros((pt.n, p))
        Z[:, o] = (pt.X - mu[o]) @ K[np.ix_(o, o)]
        s_sig = 0.5 * (Z[:, r] * Z[:, c] - K[r, c]) * dup
        if meanstructure:
            kd = K @ d
            A[:p, :p] += pt.n * K
            cross = pt.n * (kd[r][None, :] * K[:, c] + kd[c][None, :] * K[:, r]) * np.where(r == c, 0.5, 1.0)
            A[:p, off:] += cross
            A[off:, :p] += cross.T
            s = np.hstack([Z, s_sig])
        else:
            s = s_sig
        B += s.T @ s
    return (A + A.T) / 2, B


def model_deltas(model, x: np.ndarray) -> list[np.ndarray]:
    """``Delta_g = d m_g / d theta'`` per group, as (q, k) arrays (moments as in :func:`h1_information`)."""
    from psyscreen.validity.cfa import _jacobian

    dsig, dmu = _jacobian(model, x)
    p = dsig.shape[-1]
    r, c = _vech_index(p)
    out = []
    for g in range(model.n_groups):
        ds = dsig[:, g][:, r, c]
        out.append(np.hstack([dmu[:, g], ds]) if model.meanstructure else ds)
    return out


def observed_information(obj, x: np.ndarray, N: int) -> np.ndarray:
    """Observed information of the model (total): ``N/2`` times the Hessian of the discrepancy ``f``.

    The Hessian is the central difference of the analytic gradient (lavaan's
    ``observed.information = "hessian"`` differentiates its gradient numerically too).
    """
    q = x.size
    h = 1e-5 * np.maximum(1.0, np.abs(x))
    H = np.empty((q, q))
    for k in range(q):
        e = np.zeros(q)
        e[k] = h[k]
        gp = obj.jac(x + e).copy()
        gm = obj.jac(x - e).copy()
        H[:, k] = (gp - gm) / (2 * h[k])
    obj._eval(x)
    return N / 2.0 * (H + H.T) / 2


def robust_vcov(A0: np.ndarray, deltas: list[np.ndarray], B1s: list[np.ndarray]) -> np.ndarray:
    """Huber-White sandwich ``A0^-1 (sum_g Delta_g B1_g Delta_g') A0^-1``."""
    B0 = sum(D @ B @ D.T for D, B in zip(deltas, B1s))
    Ainv = np.linalg.inv(A0)
    return Ainv @ B0 @ Ainv


def yb_trace(A0: np.ndarray, deltas: list[np.ndarray], B1s: list[np.ndarray],
             A1us: list[np.ndarray], B1us: list[np.ndarray]) -> tuple[float, float]:
    """The two traces of the Yuan-Bentler (Mplus) scaling factor.

    ``trace_h1 = sum_g tr(A1_g^-1 B1_g)`` with both at the saturated (h1) moments (the sample
    moments, or the EM estimates under FIML); ``trace_h0 = tr(A0^-1 B0)`` with ``A0`` the
    observed information of the model and ``B0`` its score cross-product.
    """
    trace_h1 = float(sum(np.trace(np.linalg.solve(A, B)) for A, B in zip(A1us, B1us)))
    B0 = sum(D @ B @ D.T for D, B in zip(deltas, B1s))
    trace_h0 = float(np.trace(np.linalg.solve(A0, B0)))
    return trace_h1, trace_h0


def baseline_trace_h0(A1s: list[np.ndarray], B1s: list[np.ndarray], p: int, meanstructure: bool) -> float:
    """``tr(A0^-1 B0)`` of the independence model (free means, free variances), from A1, B1 at its estimates."""
    r, c = _vech_index(p)
    diag = np.flatnonzero(r == c) + (p if meanstructure else 0)
    keep = np.concatenate([np.arange(p), diag]) if meanstructure else diag
    return float(sum(np.trace(np.linalg.solve(A[np.ix_(keep, keep)], B[np.ix_(keep, keep)]))
                     for A, B in zip(A1s, B1s)))


def scaled_fit_measures(fit: dict, c: float, c_base: float, trace_h1: float, trace_h0: float,
                        n_moments: int, n_group_par: int) -> dict:
    """The ``.scaled`` fit measures lavaan's ``fitMeasures`` prints for MLR (and the two trace factors)."""
    from psyscreen.validity.cfa import _incremental, _rmsea_ci, _rmsea_tests

    chisq, df, N, G = fit["chisq"], fit["df"], fit["ntotal"], fit["ngroups"]
    bchisq, bdf = fit["baseline.chisq"], fit["baseline.df"]
    T = chisq / c if df > 0 else chisq
    Tb = bchisq / c_base
    out = {
        "chisq.scaled": T, "df.scaled": df,
        "pvalue.scaled": float(stats.chi2.sf(T, df)) if df > 0 else float("nan"),
        "chisq.scaling.factor": c,
        "baseline.chisq.scaled": Tb, "baseline.df.scaled": bdf,
        "baseline.pvalue.scaled": float(stats.chi2.sf(Tb, bdf)),
        "baseline.chisq.scaling.factor": c_base,
    }
    inc = _incremental(T, df, Tb, bdf)
    for name in ("cfi", "tli", "nnfi", "rfi", "nfi", "pnfi", "ifi", "rni"):
        out[f"{name}.scaled"] = inc[name]
    out["scaling.factor.h1"] = trace_h1 / n_moments
    out["scaling.factor.h0"] = trace_h0 / n_group_par  # per group-specific parameter, as lavaan
    if df > 0:
        rmsea_s = float(np.sqrt(max(T - df, 0.0) / (N * df)) * np.sqrt(G))
        # lavaan's scaled CI and tests: the unscaled statistic on tr(U Gamma) = c df degrees of freedom
        lo, hi = _rmsea_ci(chisq, c * df, N, G)
        tests = _rmsea_tests(chisq, c * df, N, G)
    else:
        rmsea_s, lo, hi = 0.0, float("nan"), float("nan")
        tests = {"rmsea.pvalue": float("nan"), "rmsea.notclose.pvalue": float("nan")}
    out.update({
        "rmsea.scaled": rmsea_s, "rmsea.ci.lower.scaled": lo, "rmsea.ci.upper.scaled": hi,
        "rmsea.pvalue.scaled": tests["rmsea.pvalue"], "rmsea.notclose.pvalue.scaled": tests["rmsea.notclose.pvalue"],
    })
    return out


def robust_measures(X2: float, df: int, c: float, X2_base: float, df_base: int, c_base: float,
                    N: int, G: int) -> dict:
    """The ``.robust`` CFI/TLI/RNI/RMSEA from a statistic, its scaling factor and the baseline's.

    Brosseau-Liard and Savalei (2014) for CFI/TLI/RNI, Brosseau-Liard, Savalei and Li (2012) and
    Savalei (2018) for the RMSEA and its CI, as lavaan: with complete data ``X2`` is the ML
    chi-square and ``c`` the Yuan-Bentler factor; under FIML they are Zhang and Savalei's (2023)
    corrected statistic and factor (:func:`fiml_corrected`).
    """
    from psyscreen.validity.cfa import _rmsea_ci, _rmsea_tests

    t1 = X2 - c * df if df > 0 else X2  # a saturated model (df 0) has no scaling factor
    t2 = X2_base - c_base * df_base
    out = {"cfi.robust": float(1.0 - max(t1, 0.0) / max(t1, t2, 0.0)) if max(t1, t2, 0.0) > 0 else 1.0}
    tli = float(1.0 - (t1 * df_base) / (t2 * df)) if df > 0 and t2 != 0 else 1.0
    out.update({"tli.robust": tli, "nnfi.robust": tli, "rni.robust": float(1.0 - t1 / t2) if t2 != 0 else 1.0})
    if df > 0:
        T = X2 / c
        rmsea = float(np.sqrt(max(T - df, 0.0) / (N * df)) * np.sqrt(G) * np.sqrt(c))
        lo, hi = _rmsea_ci(T, df, N, G)
        tests = _rmsea_tests(T, df, N / c, G)
    else:  # as lavaan: RMSEA and its CI 0, no test
        rmsea, lo, hi, c = 0.0, 0.0, 0.0, 1.0
        tests = {"rmsea.pvalue": float("nan"), "rmsea.notclose.pvalue": float("nan")}
    out.update({
        "rmsea.robust": rmsea, "rmsea.ci.lower.robust": lo * np.sqrt(c), "rmsea.ci.upper.robust": hi * np.sqrt(c),
        "rmsea.pvalue.robust": tests["rmsea.pvalue"], "rmsea.notclose.pvalue.robust": tests["rmsea.notclose.pvalue"],
    })
    return out


def fiml_corrected(model, sample, x: np.ndarray, *, robust: bool) -> tuple[float, float, float, float]:
    """Zhang and Savalei's (2023) FIML-corrected statistic and scaling factor, model and baseline.

    The statistic is the complete-data ML chi-square of the FIML estimates against the EM
    (saturated) moments; its factor ``c = k / df`` with ``k = tr(W_c W_m^-1 U W_m^-1)`` (ML,
    lavaan's "V6") or ``tr(U W_m^-1 W_c W_m^-1 U Gamma)`` (MLR, "V3"), where ``W_m`` is the
    observed information of the saturated model with the missing data, ``W_c`` its complete-data
    information, ``Gamma = W_m^-1 J W_m^-1`` (``J`` the score cross-product) and
    ``U = W_m - W_m Delta (Delta' W_m Delta)^-1 Delta' W_m``; all at the EM moments, group
    blocks weighted by ``n_g / N``. These are lavaan's ``lav_fit_fiml_corrected`` figures, which
    fitMeasures turns into ``cfi.robust``, ``tli.robust``, ``rmsea.robust`` under ``missing = "ml"``.
    Returns ``(X2, c, X2_base, c_base)``.
    """
    from psyscreen.validity.cfa import _Objective

    G, p = model.n_groups, len(model.ov)
    N = sample.N
    w = sample.n / N
    r, cc = _vech_index(p)
    diag = np.flatnonzero(r == cc) + p
    Wm, Wmi, Wc, Gam, Dm, Db = [], [], [], [], [], []
    deltas = model_deltas(model, x)
    base_moments = []
    for g in range(G):
        A, B = h1_information(sample.patterns[g], sample.S[g], sample.ybar[g], True)
        ng = sample.n[g]
        wm, jm = A / ng, B / ng
        wmi = np.linalg.inv(wm)
        K = np.linalg.inv(sample.S[g])
        wc = np.zeros_like(wm)
        wc[:p, :p] = K
        wc[p:, p:] = 0.5 * _dkron(K, K, r, cc)
        Wm.append(w[g] * wm)
        Wmi.append(wmi / w[g])
        Wc.append(w[g] * wc)
        Gam.append(wmi @ jm @ wmi / w[g])
        Dm.append(deltas[g].T)
        sel = np.zeros((wm.shape[0], 2 * p))
        sel[np.arange(p), np.arange(p)] = 1.0
        sel[diag, p + np.arange(p)] = 1.0
        Db.append(sel)
        base_moments.append(_fiml.independence(sample.patterns[g], p)[:2])
    from scipy.linalg import block_diag

    Wm_all, Wmi_all, Wc_all, Gam_all = (block_diag(*m) for m in (Wm, Wmi, Wc, Gam))

    def k_factor(Delta: np.ndarray) -> float:
        E = Delta.T @ Wm_all @ Delta
        U = Wm_all - Wm_all @ Delta @ np.linalg.solve(E, Delta.T @ Wm_all)
        if robust:
            return float(np.trace(U @ Wmi_all @ Wc_all @ Wmi_all @ U @ Gam_all))
        return float(np.trace(Wc_all @ Wmi_all @ U @ Wmi_all))

    obj = _Objective(model, sample)
    obj._eval(x)
    X2 = float(sample.n @ obj.fg)
    df = G * (p * (p + 1) // 2 + p) - model.q
    c = k_factor(np.vstack(Dm)) / df if df > 0 else float("nan")
    # baseline: the FIML independence estimates against the EM moments
    X2b = 0.0
    for g, (bmu, bsig) in enumerate(base_moments):
        K = np.diag(1.0 / np.diag(bsig))
        d = sample.ybar[g] - bmu
        fb = (np.sum(np.log(np.diag(bsig))) + np.sum(K * sample.S[g]) - sample.logdet_S[g] - p + d @ K @ d)
        X2b += sample.n[g] * fb
    c_b = k_factor(block_diag(*Db)) / (G * p * (p - 1) // 2)
    return X2, c, X2b, c_b


def satorra_bentler_2001(chisq0: float, df0: int, c0: float, chisq1: float, df1: int, c1: float) -> tuple[float, int, float]:
    """Scaled chi-square difference of nested models (Satorra and Bentler, 2001).

    Model 0 is the restricted one (more df). ``T_d = (chisq0 - chisq1) / c_d`` with
    ``c_d = (df0 c0 - df1 c1) / (df0 - df1)``, on ``df0 - df1`` degrees of freedom; the unscaled
    statistics and scaling factors of both models, as ``lavTestLRT(method = "satorra.bentler.2001")``.

    Examples
    --------
    >>> td, ddf, p = satorra_bentler_2001(124.04, 54, 0.98, 115.85, 48, 0.95)
    >>> ddf, round(td, 3)
    (6, 6.713)
    """
    ddf = int(df0 - df1)
    cd = (df0 * c0 - df1 * c1) / ddf
    td = (chisq0 - chisq1) / cd
    return float(td), ddf, float(stats.chi2.sf(td, ddf)) if td >= 0 else float("nan")


def inference(model, sample, obj, x: np.ndarray, fit, *, estimator: str, fiml: bool):
    """Covariance of the estimates and fit measures for MLR and/or FIML (the hook of ``cfa``).

    FIML: observed information, case-wise log-likelihoods, FIML baseline. MLR: the sandwich,
    the Yuan-Bentler (Mplus) scaled test and the scaled/robust fit measures.
    """
    from psyscreen.validity.cfa import FitMeasures, IdentificationError

    values = dict(fit)
    if fiml:
        values.update(_fiml.fiml_fit_measures(model, sample, obj, values))
    A0 = observed_information(obj, x, sample.N)
    ev = np.linalg.eigvalsh(A0)
    if ev[0] <= 1e-10 * max(ev[-1], 1.0):
        raise IdentificationError("the observed information matrix is singular: the model is not identified "
                                  "(or the fit stopped at a saddle point)")
    vcov = np.linalg.inv(A0)
    if estimator == "MLR":
        G, p, ms = model.n_groups, len(model.ov), model.meanstructure
        mus = obj.mu if ms else sample.ybar
        h1 = [h1_information(sample.patterns[g], obj.sigma[g], mus[g], ms) for g in range(G)]
        B1s = [b for _, b in h1]
        deltas = model_deltas(model, x)
        vcov = robust_vcov(A0, deltas, B1s)
        sat = [h1_information(sample.patterns[g], sample.S[g], sample.ybar[g], ms) for g in range(G)]
        trace_h1, trace_h0 = yb_trace(A0, deltas, B1s, [a for a, _ in sat], [b for _, b in sat])
        df = values["df"]
        c = (trace_h1 - trace_h0) / df if df > 0 else float("nan")
        base = []
        for g in range(G):
            if fiml:
                bmu, bsig, _ = _fiml.independence(sample.patterns[g], p)
            else:
                bmu, bsig = sample.ybar[g], np.diag(np.diag(sample.S[g]))
            base.append(h1_information(sample.patterns[g], bsig, bmu, ms))
        base_h0 = baseline_trace_h0([a for a, _ in base], [b for _, b in base], p, ms)
        c_base = (trace_h1 - base_h0) / values["baseline.df"]
        n_moments = G * sat[0][0].shape[0]
        n_group_par = len({(e.g, k) for e, k in zip(model.entries, model.index) if k >= 0})
        values.update(scaled_fit_measures(values, c, c_base, trace_h1, trace_h0, n_moments, n_group_par))
        if not fiml:
            values.update(robust_measures(values["chisq"], df, c, values["baseline.chisq"], values["baseline.df"],
                                          c_base, sample.N, G))
    if fiml:
        X2, c3, X2b, c3b = fiml_corrected(model, sample, x, robust=estimator == "MLR")
        values.update(robust_measures(X2, values["df"], c3, X2b, values["baseline.df"], c3b, sample.N,
                                      model.n_groups))
    return vcov, FitMeasures(values)


def dropped_rows_warning(what: str, n_used: int, n_dropped: int, missing: str) -> tuple[str, ...]:
    """Warn once (``warnings.warn``) that an analysis dropped rows; the message, for the result's ``warnings``."""
    if n_dropped <= 0:
        return ()
    total = n_used + n_dropped
    if missing == "listwise":
        msg = (f"{what} dropped {n_dropped} of {total} rows with a missing answer (listwise); "
               "use missing='ml' to keep them")
    else:
        msg = (f"{what} dropped {n_dropped} of {total} rows with no answer on the model's variables "
               "(or no group); FIML (missing='ml') keeps every other row")
    warnings.warn(msg, UserWarning, stacklevel=3)
    return (msg,)


def html_with_header(result, what: str) -> str:
    """HTML repr of a result with a header line: the estimator, rows used and dropped, warnings."""
    title = html.escape(type(result).__name__)
    head = html.escape(f"{what}; n_used = {result.n_used}, n_dropped = {result.n_dropped}")
    warn = "".join(f"<br><em>warning: {html.escape(w)}</em>" for w in result.warnings)
    return f"<div><strong>{title}</strong> ({head}){warn}{result.to_frame().to_html()}</div>"
