"""Parametric continuous norms for bounded counts: the beta-binomial distribution over grade (or age).

A screening total such as the PHQ-9 (0-27) is a count of ``n`` item points. The beta-binomial model
(cNORM's ``cnorm.betabinomial``, Lenhard & Lenhard 2021) takes the raw score at age ``A`` to be
beta-binomial with ``n`` trials and shapes ``alpha(A)``, ``beta(A)``, where

    log alpha(A) = a_0 + a_1 z + ... + a_p z^p,    log beta(A) = b_0 + b_1 z + ... + b_q z^q,

``z = (A - mean(A)) / sd(A)`` (sd with ``n - 1``) and ``p``, ``q`` the alpha and beta degrees (3 and 3, as
cNORM). The ``p + q + 2`` coefficients are estimated by maximum likelihood (L-BFGS-B in ``[-20, 20]``, as
cNORM's ``optim`` call; analytic gradient), their standard errors from the inverse Hessian. A raw score ``x``
at age ``A`` has the percentile ``P(X < x) + P(X = x) / 2`` (the mid-point of its probability mass), its
T score ``50 + 10 Phi^-1(P)``, clipped to ``z`` in ``[-3, 3]`` as cNORM's tables are.

Unlike the Taylor polynomial of :mod:`psyscreen.norms_continuous`, the percentile curves can never cross
(each is a quantile of one distribution per age), and the model has few parameters; but the beta-binomial
shape must fit the scores (check the observed percentiles against the curves, see :mod:`psyscreen.plots`).

Why this module exists: no Python library fits the beta-binomial with age-polynomial shapes; it equals
R cNORM 3.6.0 ``cnorm.betabinomial(age, score, n)`` (defaults ``alpha = 3, beta = 3``, mode 2): the
log-likelihood to 1e-6 relative, the coefficients to the precision at which cNORM's optimiser stops
(about 1e-4), ``predict`` T scores to 0.01 and ``normTable.betabinomial`` with confidence intervals.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from .norms import NormFileError, NormWarning, _label, _py, _version
from .norms_continuous import Consistency, ContinuousNormError, ContinuousNorms, check_format, norm_ci

__all__ = ["BetaBinomialNorms", "BetaBinomialModel", "fit_beta_binomial"]

FORMAT = "psyscreen.norms.betabinomial"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class BetaBinomialModel:
    """A fitted beta-binomial norm model of one scale (in one stratum).

    Attributes
    ----------
    alpha, beta : tuple of float
        Polynomial coefficients (intercept first) of ``log alpha`` and ``log beta`` in standardised age.
    n_items : int
        Number of trials: the highest possible raw score (the lowest is 0).
    age_mean, age_sd : float
        Standardisation of age.
    min_age, max_age : float
        The modelled ages; older or younger pupils get the curve at the nearest modelled age (marked).
    loglik : float
    se : tuple of float
        Standard errors of ``alpha`` then ``beta`` (inverse Hessian of the log-likelihood).
    n : int
        Number of cases (sum of weights when weighted is in ``n_weighted``).
    converged : bool
    """

    alpha: tuple
    beta: tuple
    n_items: int
    age_mean: float
    age_sd: float
    min_age: float
    max_age: float
    loglik: float
    se: tuple
    n: int
    converged: bool = True
    scale_mean: float = 50.0
    scale_sd: float = 10.0
    min_norm: float = 20.0   # z = -3, as cNORM's tables
    max_norm: float = 80.0

    @property
    def min_raw(self) -> float:
        return 0.0

    @property
    def max_raw(self) -> float:
        return float(self.n_items)

    @property
    def n_params(self) -> int:
        return len(self.alpha) + len(self.beta)

    @property
    def aic(self) -> float:
        return -2 * self.loglik + 2 * self.n_params

    @property
    def bic(self) -> float:
        return -2 * self.loglik + math.log(self.n) * self.n_params

    def shapes(self, age) -> tuple[np.ndarray, np.ndarray]:
        """``alpha`` and ``beta`` at each age (ages outside the modelled range taken at its edge)."""
        a = np.clip(np.asarray(age, dtype=float), self.min_age, self.max_age)
        z = (a - self.age_mean) / self.age_sd
        return (np.exp(np.polynomial.polynomial.polyval(z, self.alpha)),
                np.exp(np.polynomial.polynomial.polyval(z, self.beta)))

    def moments(self, age) -> pd.DataFrame:
        """Shapes, mean and SD of the raw score at each age (cNORM ``predictCoefficients``: a, b, mu, sigma)."""
        a, b = self.shapes(age)
        n = self.n_items
        mu = n * a / (a + b)
        sigma = np.sqrt(n * a * b * (a + b + n) / ((a + b) ** 2 * (a + b + 1)))
        return pd.DataFrame({"age": np.asarray(age, dtype=float), "a": a, "b": b, "mu": mu, "sigma": sigma})

    def percentile(self, raw, age) -> np.ndarray:
        """Mid-point percentile ``P(X < x) + P(X = x) / 2`` (0..1) of raw scores at ages (no clipping)."""
        x, age = np.broadcast_arrays(np.asarray(raw, dtype=float), np.asarray(age, dtype=float))
        a, b = self.shapes(age)
        return np.clip(stats.betabinom.cdf(x, self.n_items, a, b) - stats.betabinom.pmf(x, self.n_items, a, b) / 2, 0, 1)

    def predict_norm(self, raw, age) -> tuple[np.ndarray, np.ndarray]:
        """T score of each raw score at its age and whether it was clipped (raw outside 0..n_items, age outside
        the modelled ages, or ``|z| > 3``). NaN raw or age gives NaN, unmarked."""
        raw, age = np.broadcast_arrays(np.asarray(raw, dtype=float), np.asarray(age, dtype=float))
        ok = ~(np.isnan(raw) | np.isnan(age))
        x = np.clip(np.where(ok, np.round(raw), 0.0), 0, self.n_items)
        a = np.where(ok, age, self.min_age)
        z = stats.norm.ppf(self.percentile(x, a))
        lo, hi = [(v - self.scale_mean) / self.scale_sd for v in (self.min_norm, self.max_norm)]
        outside = ok & ((raw < 0) | (raw > self.n_items) | (a < self.min_age - 1e-9) | (a > self.max_age + 1e-9)
                        | (z < lo) | (z > hi))
        T = self.scale_mean + self.scale_sd * np.clip(z, lo, hi)
        return np.where(ok, T, np.nan), outside

    def predict_raw(self, norm, age, *, clip: bool = True) -> np.ndarray:
        """The smallest raw score whose mid-point percentile reaches the T score ``norm`` at ``age``."""
        norm, age = np.broadcast_arrays(np.asarray(norm, dtype=float), np.asarray(age, dtype=float))
        p = stats.norm.cdf((norm.ravel() - self.scale_mean) / self.scale_sd)
        xs = np.arange(self.n_items + 1.0)
        P = self.percentile(xs[None, :], age.ravel()[:, None])
        idx = np.minimum((P < p[:, None]).sum(1), self.n_items)
        return xs[idx].reshape(norm.shape)


def fit_beta_binomial(age, raw, n_items: int, *, alpha_degree: int = 3, beta_degree: int = 3,
                      weights=None) -> BetaBinomialModel:
    """Maximum-likelihood beta-binomial model with ``log alpha`` and ``log beta`` polynomial in standardised age.

    Equals R cNORM ``cnorm.betabinomial(age, raw, n = n_items)`` (mode 2, ``alpha = 3``, ``beta = 3``).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> age = np.repeat(np.arange(1.0, 7.0), 200)
    >>> raw = rng.binomial(20, rng.beta(2 + (age - 1) / 2, 6))   # overdispersed counts, rising with age
    >>> m = fit_beta_binomial(age, raw, 20, alpha_degree=1, beta_degree=1)
    >>> bool(m.moments([1.0, 6.0])["mu"].diff().iloc[1] > 1)
    True
    """
    age = np.asarray(age, dtype=float)
    raw = np.asarray(raw, dtype=float)
    w = np.ones(raw.size) if weights is None else np.asarray(weights, dtype=float)
    if np.any(raw < 0) or np.any(raw > n_items) or np.any(raw != np.round(raw)):
        bad = raw[(raw < 0) | (raw > n_items) | (raw != np.round(raw))][:5]
        raise ContinuousNormError(f"the beta-binomial model needs whole raw scores 0..{n_items}; found {bad.tolist()}. "
                                  "State the scale's maximum (n_items) or use ContinuousNorms.")
    need = max(alpha_degree, beta_degree) + 1
    if np.unique(age).size < need:
        raise ContinuousNormError(f"{np.unique(age).size} distinct ages cannot carry polynomials of degree "
                                  f"{need - 1}; lower alpha_degree/beta_degree or add ages.")
    if np.unique(raw).size < 2:
        raise ContinuousNormError("the score has no variance (every student has the same score): no distribution "
                                  "can be fitted.")
    mean, sd = float(age.mean()), float(age.std(ddof=1))
    z = (age - mean) / sd
    Xa = np.vander(z, alpha_degree + 1, increasing=True)
    Xb = np.vander(z, beta_degree + 1, increasing=True)
    ka = alpha_degree + 1
    const = w * (special.gammaln(n_items + 1) - special.gammaln(raw + 1) - special.gammaln(n_items - raw + 1))

    def nll(p):
        a, b = np.exp(Xa @ p[:ka]), np.exp(Xb @ p[ka:])
        ll = const + w * (special.betaln(raw + a, n_items - raw + b) - special.betaln(a, b))
        common = special.digamma(a + b) - special.digamma(n_items + a + b)
        ga = w * a * (special.digamma(raw + a) - special.digamma(a) + common)
        gb = w * b * (special.digamma(n_items - raw + b) - special.digamma(b) + common)
        return -ll.sum(), -np.concatenate([Xa.T @ ga, Xb.T @ gb])

    # start: method-of-moments shapes of the whole sample, flat in age
    m1 = np.average(raw, weights=w) / n_items
    v = np.average((raw - m1 * n_items) ** 2, weights=w)
    rho = np.clip((v / (n_items * m1 * (1 - m1)) - 1) / max(n_items - 1, 1), 1e-3, 0.999)
    s = 1 / rho - 1
    p0 = np.zeros(ka + beta_degree + 1)
    p0[0], p0[ka] = math.log(max(m1, 1e-3) * s), math.log(max(1 - m1, 1e-3) * s)
    res = optimize.minimize(nll, p0, jac=True, method="L-BFGS-B", bounds=[(-20.0, 20.0)] * p0.size,
                            options={"ftol": 1e-15, "gtol": 1e-9, "maxiter": 5000, "maxcor": 20})
    if not np.isfinite(res.fun):
        raise ContinuousNormError("the beta-binomial likelihood could not be evaluated; check the scores and "
                                  "n_items, or lower the degrees.")
    H = optimize.approx_fprime(res.x, lambda p: nll(p)[1], 1e-6)
    with np.errstate(invalid="ignore"):
        try:
            se = np.sqrt(np.diag(np.linalg.inv((H + H.T) / 2)))
        except np.linalg.LinAlgError:
            se = np.full(res.x.size, np.nan)
    # the very tight ftol often ends in a line-search stop at the optimum: judge by the gradient per case
    converged = (bool(res.success) or float(np.abs(res.jac).max()) < 1e-5 * w.sum()) and bool(
        np.all(np.abs(res.x) < 20 - 1e-6))
    return BetaBinomialModel(tuple(float(c) for c in res.x[:ka]), tuple(float(c) for c in res.x[ka:]), int(n_items),
                             mean, sd, float(age.min()), float(age.max()), -float(res.fun),
                             tuple(float(c) for c in se), int(raw.size), converged)


def _model_to_dict(m: BetaBinomialModel) -> dict:
    return {"alpha": list(m.alpha), "beta": list(m.beta), "n_items": m.n_items, "age_mean": m.age_mean,
            "age_sd": m.age_sd, "min_age": m.min_age, "max_age": m.max_age, "loglik": m.loglik, "se": list(m.se),
            "n": m.n, "converged": m.converged}


def _model_from_dict(d: dict) -> BetaBinomialModel:
    return BetaBinomialModel(tuple(map(float, d["alpha"])), tuple(map(float, d["beta"])), int(d["n_items"]),
                             float(d["age_mean"]), float(d["age_sd"]), float(d["min_age"]), float(d["max_age"]),
                             float(d["loglik"]), tuple(float("nan") if v is None else float(v) for v in d["se"]),
                             int(d["n"]), bool(d["converged"]))


class BetaBinomialNorms(ContinuousNorms):
    """Continuous norms of bounded counts: one beta-binomial model over grade (age) per scale and stratum.

    The same interface as :class:`ContinuousNorms` (fit / transform / predict_norm / predict_raw / raw_table /
    print_tables / to_json / to_excel, read back by :func:`psyscreen.norms.read_norms` and used by
    ``screen --norms``), with cNORM's ``normTable.betabinomial`` as :meth:`norm_table`.

    Parameters
    ----------
    age : str, default "grade"
    by : sequence of str, default ()
        Columns with a separate model each.
    n_items : int or mapping, optional
        Highest possible raw score, per scale as ``{scale: n}`` or one for all; default: the highest
        observed score (as cNORM), with a warning, since the observed maximum understates a scale's range.
    alpha_degree, beta_degree : int, default 3, 3
        Degrees of the age polynomials of ``log alpha`` and ``log beta``.
    weights : str, optional
        Column of case weights (a weighted likelihood).

    Examples
    --------
    >>> rng = np.random.default_rng(2)
    >>> g = np.repeat(np.arange(4, 10), 150)
    >>> ref = pd.DataFrame({"grade": g, "phq": rng.binomial(27, rng.beta(1.5, 9 - 0.5 * (g - 4)))})
    >>> bb = BetaBinomialNorms(n_items=27, alpha_degree=1, beta_degree=1).fit(ref, "phq")
    >>> out = bb.transform(pd.DataFrame({"grade": [5, 9], "phq": [6, 6]}))
    >>> bool(out["phq.t"].iloc[0] > out["phq.t"].iloc[1])
    True
    """

    _FORMAT = FORMAT
    _METHOD = ("beta-binomial continuous norming (as R cNORM cnorm.betabinomial): log alpha and log beta polynomial "
               "in standardised grade, maximum likelihood")

    def __init__(self, age: str = "grade", by=(), *, n_items: int | Mapping[str, int] | None = None,
                 alpha_degree: int = 3, beta_degree: int = 3, weights: str | None = None):
        self.age = age
        self.by = by
        self.n_items = n_items
        self.alpha_degree = alpha_degree
        self.beta_degree = beta_degree
        self.weights = weights

    def _n_items(self, scale: str, raw: np.ndarray, warns: list) -> int:
        n = self.n_items.get(scale) if isinstance(self.n_items, Mapping) else self.n_items
        if n is None:
            n = int(np.nanmax(raw))
            warns.append(f"{scale!r}: n_items not given, taken as the highest observed score {n}; state the "
                         "scale's maximum (e.g. 27 for the PHQ-9).")
        return int(n)

    def fit(self, frame: pd.DataFrame, scales: Iterable[str] | str, *, description: str = "") -> BetaBinomialNorms:
        """Fit a beta-binomial model for each scale in each ``by`` stratum.

        Raises
        ------
        ContinuousNormError
            Raw scores that are not whole numbers in 0..n_items, too few distinct ages for the degrees, a
            score without variance.
        """
        scales = [scales] if isinstance(scales, str) else list(scales)
        if not scales:
            raise ContinuousNormError("no scales given to fit.")
        absent = [s for s in scales + ([self.weights] if self.weights else []) if s not in frame.columns]
        if absent:
            raise ContinuousNormError(f"column(s) {absent} not in the data.")
        models, table, warns = {}, [], []
        n_items = {}
        for s in scales:
            n_items[s] = self._n_items(s, pd.to_numeric(frame[s], errors="coerce").to_numpy(float, na_value=np.nan),
                                       warns)
        for key, pos in self._groups(frame).items():
            sub = frame.iloc[pos]
            for s in scales:
                raw = pd.to_numeric(sub[s], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
                age = pd.to_numeric(sub[self.age], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
                w = (pd.to_numeric(sub[self.weights], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
                     if self.weights else np.ones(raw.size))
                ok = ~(np.isnan(raw) | np.isnan(age) | np.isnan(w))
                where = f"{s!r} in {_label(self._by, key)}"
                try:
                    m = fit_beta_binomial(age[ok], raw[ok], n_items[s], alpha_degree=self.alpha_degree,
                                          beta_degree=self.beta_degree, weights=w[ok])
                except ContinuousNormError as exc:
                    raise ContinuousNormError(f"{where}: {exc}") from None
                if not m.converged:
                    warns.append(f"{where}: the maximum-likelihood fit did not converge (or a coefficient reached "
                                 "the bound 20): lower the degrees.")
                a_, b_ = m.shapes(np.linspace(m.min_age, m.max_age, 50))
                if np.max(a_ + b_) > 1e4:
                    warns.append(f"{where}: the scores show almost no overdispersion (alpha + beta reaches "
                                 f"{np.max(a_ + b_):.3g}): the beta-binomial degenerates to a binomial and its "
                                 "coefficients are arbitrary; prefer ContinuousNorms.")
                models[(key, s)] = m
                table.append({**dict(zip(self._by, key)), "scale": s, "n": m.n, "n_items": m.n_items,
                              "alpha_degree": self.alpha_degree, "beta_degree": self.beta_degree,
                              "loglik": m.loglik, "aic": m.aic, "bic": m.bic, "min_age": m.min_age,
                              "max_age": m.max_age, "converged": m.converged})
        for msg in warns:
            warnings.warn(msg, NormWarning, stacklevel=2)
        self._set_fitted(models, scales, pd.DataFrame(table), tuple(warns), {
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "description": description,
            "n_rows": int(len(frame)), "psyscreen_version": _version()})
        return self

    def predict_norm(self, raw, age, *, scale: str | None = None, stratum=None, kind: str = "T") -> pd.DataFrame:
        """Norm scores (``kind``: "T", "z", "IQ" or "percentile") of raw scores at ages, and ``outside``."""
        from .norms_continuous import _convert

        m = self._model(scale, stratum)
        L, out = m.predict_norm(raw, age)
        return pd.DataFrame({"norm": _convert(L, m, kind), "outside": out})

    def check_consistency(self, **kw) -> Consistency:
        """Beta-binomial percentile curves never cross (each is a quantile of one distribution per age)."""
        m = self._model(kw.get("scale"), kw.get("stratum"))
        return Consistency(True, pd.DataFrame(columns=["age", "norm_from", "norm_to", "largest_dip"]),
                           (m.min_age, m.max_age), (m.min_norm, m.max_norm))

    def norm_table(self, ages, *, scale: str | None = None, stratum=None, reliability: float | None = None,
                   ci: float = 0.9) -> dict[float, pd.DataFrame]:
        """Every raw score 0..n_items per age (cNORM ``normTable.betabinomial``): ``x``, ``Px`` (probability),
        ``Pcum``, ``Percentile`` (mid-point, 0..100), ``z`` and ``norm`` (clipped at |z| = 3) and, with a
        ``reliability``, ``lowerCI``, ``upperCI``, ``lowerCI_PR``, ``upperCI_PR``."""
        m = self._model(scale, stratum)
        xs = np.arange(m.n_items + 1.0)
        out = {}
        for a in np.atleast_1d(ages):
            al, be = m.shapes(float(a))
            px = stats.betabinom.pmf(xs, m.n_items, al, be)
            pc = np.minimum(np.cumsum(px), 1.0)
            z = np.clip(stats.norm.ppf(pc - px / 2), -3, 3)
            f = pd.DataFrame({"x": xs, "Px": px, "Pcum": pc, "Percentile": 100 * (pc - px / 2), "z": z,
                              "norm": 50 + 10 * z})
            if reliability is not None:
                lo, hi = norm_ci(f["norm"].to_numpy(), reliability, ci)
                f["lowerCI"], f["upperCI"] = lo, hi
                f["lowerCI_PR"] = 100 * stats.norm.cdf((lo - 50) / 10)
                f["upperCI_PR"] = 100 * stats.norm.cdf((hi - 50) / 10)
            out[float(a)] = f
        return out

    def __repr__(self) -> str:
        state = f", {len(self.strata_)} strata x {len(self.scales_)} scales" if hasattr(self, "models_") else ""
        return (f"BetaBinomialNorms(age={self.age!r}, by={self._by!r}, alpha_degree={self.alpha_degree}, "
                f"beta_degree={self.beta_degree}{state})")

    def _to_dict(self) -> dict:
        self._check_fitted()
        return {
            "format": FORMAT, "version": FORMAT_VERSION, "age": self.age, "by": list(self._by),
            "settings": {"n_items": dict(self.n_items) if isinstance(self.n_items, Mapping) else self.n_items,
                         "alpha_degree": self.alpha_degree, "beta_degree": self.beta_degree,
                         "weights": self.weights},
            "scales": self.scales_, "fitted_on": self.fitted_on_, "warnings": list(self.warnings_),
            "definitions": {"t": "50 + 10 Phi^-1(P(X < x) + P(X = x)/2), X ~ beta-binomial(n_items, alpha(A), "
                                 "beta(A)), log alpha and log beta polynomials in (A - age_mean)/age_sd; |z| <= 3",
                            "pr": "100 * Phi((T - 50) / 10)", "outside": "raw, age or |z| > 3 beyond the modelled "
                            "range: the value is that of the range's edge"},
            "models": [{"stratum": dict(zip(self._by, key)), "scale": s, **_model_to_dict(m)}
                       for (key, s), m in self.models_.items()],
            "table": json.loads(self.table_.to_json(orient="records")),
        }

    @classmethod
    def _from_dict(cls, d: dict, source: str) -> BetaBinomialNorms:
        check_format(d, source, FORMAT, FORMAT_VERSION, "beta-binomial norm table")
        try:
            st = d["settings"]
            bb = cls(age=d["age"], by=tuple(d["by"]), n_items=st["n_items"], alpha_degree=st["alpha_degree"],
                     beta_degree=st["beta_degree"], weights=st["weights"])
            models = {(tuple(_py(e["stratum"][b]) for b in d["by"]), e["scale"]): _model_from_dict(e)
                      for e in d["models"]}
            meta = {k: v for k, v in d["fitted_on"].items() if k not in ("by", "age", "scales")}
            bb._set_fitted(models, d["scales"], pd.DataFrame(d["table"]), tuple(d.get("warnings", ())), meta)
        except (KeyError, TypeError, ValueError) as exc:
            raise NormFileError(f"{source} is damaged or incomplete: {type(exc).__name__}: {exc}.") from None
        return bb
