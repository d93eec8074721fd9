"""Exploratory factor analysis, KMO, Bartlett's test and parallel analysis, matching R's psych.

The algorithms are our own (no factor_analyzer, whose last release does not run with current
scikit-learn) and follow psych 2.2.9 step by step, so that the numbers agree with::

    psych::fa(x, nfactors, fm = "minres", rotate = "oblimin")   # also fm = "ml"; rotate = "varimax", ...
    psych::KMO(x)
    psych::cortest.bartlett(cor(x), n = nrow(x))
    psych::fa.parallel(x, fa = "both")

How psych fits (and so how we fit)
----------------------------------
* **minres** minimises the sum of squared off-diagonal residuals ``R - LL'`` over the uniquenesses
  ``psi`` (L = the first k eigenvectors of ``R`` with ``1 - psi`` on the diagonal, scaled by the square root
  of their eigenvalues). psych starts from ``1 - SMC`` and runs ``optim(method = "L-BFGS-B")`` with bounds
  ``[0.005, 1]``, ``parscale = 0.01`` and, as gradient, ``diag(LL' + Psi - R)`` (zero exactly where the
  communalities reproduce themselves, the principal-axis fixed point). We run the same L-BFGS-B (scipy's
  is the same Nocedal-Zhu code) with the same settings, which reproduces psych to ~1e-14; the exact minimum
  of the criterion lies within ~1e-5 of it.
* **ml** is the maximum-likelihood fit of ``factanal``/psych: the concentrated likelihood over ``psi``
  with its analytic gradient, the same optimiser and settings.
* After extraction, each factor is reflected so that its loadings sum to a positive number.
* **Rotations**: ``"varimax"`` is ``stats::varimax`` (Kaiser normalisation, ``eps = 1e-5``); ``"oblimin"``
  (and its synonym ``"quartimin"``) is ``GPArotation::oblimin`` (gamma 0, *no* Kaiser normalisation,
  ``eps = 1e-5``, gradient projection from the identity); ``"promax"`` is ``psych::kaiser(rotate =
  "Promax")``: row-normalised loadings, varimax, target ``L * |L|^3`` (power 4) fitted by least squares,
  then the rows rescaled.
* After rotation, each factor is again reflected to a positive loading sum, the factors are named after
  their position before sorting (``MR1``.. for minres, ``ML1``.. for ml) and sorted by the variance they
  account for (``diag(Phi L'L)``), so ``MR2`` may come first, exactly as psych prints.

Missing data: the analysis uses **listwise complete cases** (rows with any missing item are dropped);
``n_used`` (alias ``n``) and ``n_dropped`` say how many rows were used and left out, and dropping rows gives
one warning. (psych's default is pairwise correlations; on complete data the two are the same.)

Input: answers (one column per item; name the items with ``items=`` when the frame carries other columns,
see :func:`psyscreen._items.select_items`), or a correlation or covariance matrix with ``n_obs=`` as
``psych::fa(R, n.obs = )``. Warnings (rows dropped, Heywood cases) go through :func:`warnings.warn` and into
the result's ``warnings``.
Ordinal items: ``cor="poly"`` analyses the polychoric correlation matrix of
:func:`psyscreen.validity.polychoric` (psych's defaults, smoothed if not positive definite), as
``psych::fa(x, nfactors, cor = "poly")`` and ``psych::fa.parallel(x, cor = "poly")`` do; its rows are pairwise
available (every answer is used), and ``n_used`` counts the rows with at least two answers.
"""

from __future__ import annotations

import warnings

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from scipy import optimize, stats

from psyscreen._blas import small_blas
from psyscreen._items import correlation_input, dropped_message, emit, select_items
from psyscreen._results import ResultMixin, one_row

__all__ = [
    "efa",
    "kmo",
    "bartlett",
    "parallel_analysis",
    "congruence",
    "match_factors",
    "EFAResult",
    "KMOResult",
    "BartlettResult",
    "ParallelAnalysisResult",
    "FactorMatch",
    "FactorAnalysisError",
]

Method = Literal["minres", "ml"]
Correlation = Literal["pearson", "poly"]
Rotation = Literal["none", "varimax", "oblimin", "quartimin", "promax"]

_METHOD_PREFIX = {"minres": "MR", "ml": "ML"}
_ROTATIONS = ("none", "varimax", "oblimin", "quartimin", "promax")
_ORTHOGONAL = ("none", "varimax")


class FactorAnalysisError(ValueError):
    """Raised when the items given to a factor analysis cannot be analysed (and why)."""


# --------------------------------------------------------------------------------------------------
# input
# --------------------------------------------------------------------------------------------------


def _complete_items(items: pd.DataFrame, *, min_items: int = 2) -> tuple[np.ndarray, list]:
    """Listwise complete cases of ``items`` as a float array, with the item labels."""
    if not isinstance(items, pd.DataFrame):
        raise FactorAnalysisError(f"items must be a pandas DataFrame of item columns, got {type(items).__name__}")
    names = list(items.columns)
    if len(names) < min_items:
        raise FactorAnalysisError(f"at least {min_items} item columns are needed, got {len(names)}")
    bad = [str(c) for c in items.columns if not pd.api.types.is_numeric_dtype(items[c])]
    if bad:
        raise FactorAnalysisError(
            f"item columns must be numeric; not numeric: {', '.join(bad)} (convert the answers to numbers first)"
        )
    x = items.to_numpy(dtype=float, na_value=np.nan)
    x = x[~np.isnan(x).any(axis=1)]
    if x.shape[0] < len(names) + 1:
        raise FactorAnalysisError(
            f"only {x.shape[0]} rows have every item answered (listwise complete cases); "
            f"at least {len(names) + 1} are needed for {len(names)} items"
        )
    sd = x.std(axis=0)
    if np.any(sd == 0):
        const = [str(n) for n, s in zip(names, sd) if s == 0]
        raise FactorAnalysisError(f"items without variance in the complete cases: {', '.join(const)}; drop them")
    return x, names


def _correlation(x: np.ndarray) -> np.ndarray:
    r = np.corrcoef(x, rowvar=False)
    np.fill_diagonal(r, 1.0)
    return r


def _pinv(m: np.ndarray) -> np.ndarray:
    """psych::Pinv: the SVD pseudo-inverse, singular values below sqrt(eps) times the largest dropped."""
    u, d, vt = np.linalg.svd(m)
    keep = d > max(np.sqrt(np.finfo(float).eps) * d[0], 0.0)
    return (vt[keep].T / d[keep]) @ u[:, keep].T


def _smc(m: np.ndarray, covar: bool = False) -> np.ndarray:
    """Squared multiple correlations, as psych::smc on a square matrix (the one smc of the package).

    ``m`` is turned into correlations, ``smc = 1 - 1 / diag(Pinv(R))`` and, as psych does, values above 1 are
    set to 1 and values below 0 to 0 (they arise when ``R`` is not positive definite, e.g. pairwise
    correlations). ``covar=True`` multiplies them by the variances (``psych::smc(covar = TRUE)``).
    """
    var = np.diag(m).astype(float)
    s = np.sqrt(var)
    r = m / np.outer(s, s)
    np.fill_diagonal(r, 1.0)
    smc = np.clip(1.0 - 1.0 / np.diag(_pinv(r)), 0.0, 1.0)
    return smc * var if covar else smc


def _heywood_messages(communality: np.ndarray, names: list) -> tuple[str, ...]:
    """psych's ultra-Heywood warning (a communality above 1) and a Heywood warning (a communality of 1).

    psych::fa warns "An ultra-Heywood case was detected" when a communality exceeds 1. A communality of
    0.995 or more (1.00 as psych prints it; the uniqueness at the 0.005 floor of the fit) is a Heywood case:
    the item is fitted without unique variance, which also makes the solution doubtful.
    """
    h2 = np.asarray(communality, dtype=float)
    out = []
    ultra = [f"{names[i]} ({h2[i]:.3f})" for i in np.flatnonzero(h2 > 1.0)]
    if ultra:
        out.append(f"ultra-Heywood case: communality above 1 for {', '.join(ultra)}; the solution is improper "
                   "(psych: 'An ultra-Heywood case was detected. Examine the results carefully'); try fewer factors "
                   "or another method")
    heywood = [f"{names[i]} ({h2[i]:.3f})" for i in np.flatnonzero((h2 >= 0.995) & (h2 <= 1.0))]
    if heywood:
        out.append(f"Heywood case: communality of 1 for {', '.join(heywood)} (no unique variance left); examine "
                   "the results carefully and consider fewer factors")
    return tuple(out)


@dataclass(frozen=True, eq=False)
class _Input:
    """The items as an analysis sees them (see :func:`_item_input`)."""

    x: np.ndarray | None  # listwise complete rows; None when a matrix was given
    r: np.ndarray  # Pearson correlations of x, or the matrix given
    names: list
    n_used: int
    n_dropped: int
    warnings: tuple[str, ...]  # about the input (rows dropped); not yet warned


def _item_input(data, items=None, n_obs=None, *, min_items: int = 2, cor: str = "pearson") -> _Input:
    """Answers (item columns by name) or a correlation/covariance matrix with n_obs.

    ``cor="pearson"``: Pearson correlations of the listwise complete rows; ``cor="poly"``: polychoric
    correlations (:func:`psyscreen.validity.polychoric`, psych's defaults, pairwise available answers).
    """
    if cor not in ("pearson", "poly"):
        raise FactorAnalysisError(f"cor must be 'pearson' or 'poly', got {cor!r}")
    matrix = correlation_input(data, n_obs, error=FactorAnalysisError)
    if matrix is not None and cor == "poly":
        raise FactorAnalysisError("cor='poly' computes polychoric correlations from the answers; a correlation "
                                  "matrix was given: pass the answers, or analyse the matrix with cor='pearson'")
    if matrix is not None:
        if items is not None:
            raise FactorAnalysisError("items= selects columns of answers; with a correlation matrix subset the matrix")
        r, names = matrix
        if len(names) < min_items:
            raise FactorAnalysisError(f"at least {min_items} items are needed, got {len(names)}")
        return _Input(None, r, names, int(n_obs), 0, ())
    frame = select_items(data, items, error=FactorAnalysisError)
    if cor == "poly":
        return _polychoric_input(frame, min_items)
    x, names = _complete_items(frame, min_items=min_items)
    dropped = len(frame) - x.shape[0]
    with small_blas(len(names)):
        r = _correlation(x)
    return _Input(x, r, names, int(x.shape[0]), dropped, dropped_message(dropped, len(frame)))


def _polychoric_input(frame: pd.DataFrame, min_items: int) -> _Input:
    from .polychoric import PolychoricError, polychoric

    if frame.shape[1] < min_items:
        raise FactorAnalysisError(f"at least {min_items} item columns are needed, got {frame.shape[1]}")
    try:
        with warnings.catch_warnings():  # its warnings (smoothing, corrections) are passed on with the result's
            warnings.simplefilter("ignore")
            res = polychoric(frame)  # psych's defaults
    except PolychoricError as err:
        raise FactorAnalysisError(str(err)) from err
    notes = dropped_message(res.n_dropped, len(frame), how="pairwise") + tuple(res.warnings)
    return _Input(None, res.rho.to_numpy(), list(res.rho.columns), int(res.n_used), int(res.n_dropped), notes)


# --------------------------------------------------------------------------------------------------
# extraction (psych:::fac, fm = "minres" / "ml")
# --------------------------------------------------------------------------------------------------


def _top_eigen(s: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    values, vectors = np.linalg.eigh(s)
    return values[::-1][:k], vectors[:, ::-1][:, :k]


def _minres_loadings(psi: np.ndarray, r: np.ndarray, k: int) -> np.ndarray:
    """psych's FAout.wls: eigen-decomposition of R with 1 - psi on the diagonal."""
    s = r.copy()
    np.fill_diagonal(s, np.diag(r) - psi)
    values, vectors = _top_eigen(s, k)
    return vectors * np.sqrt(np.maximum(values, 0.0))


def _ml_loadings(psi: np.ndarray, r: np.ndarray, k: int) -> np.ndarray:
    """psych's FAout: the ML loadings given the uniquenesses."""
    sc = 1.0 / np.sqrt(psi)
    values, vectors = _top_eigen(r * np.outer(sc, sc), k)
    return np.sqrt(psi)[:, None] * vectors * np.sqrt(np.maximum(values - 1.0, 0.0))


def _minres_objective(psi: np.ndarray, r: np.ndarray, k: int) -> float:
    s = r.copy()
    np.fill_diagonal(s, 1.0 - psi)
    values, vectors = _top_eigen(s, k)
    values = np.where(values < np.finfo(float).eps, 100 * np.finfo(float).eps, values)
    loadings = vectors * np.sqrt(values)
    residual = s - loadings @ loadings.T
    return float(np.sum(np.tril(residual, -1) ** 2))


def _minres_gradient(psi: np.ndarray, r: np.ndarray, k: int) -> np.ndarray:
    # psych's FAgr.minres: diag(LL' + Psi - R) with L from R - Psi.
    loadings = _minres_loadings(psi, r, k)
    return np.sum(loadings**2, axis=1) + psi - np.diag(r)


def _ml_objective(psi: np.ndarray, r: np.ndarray, k: int) -> float:
    sc = 1.0 / np.sqrt(psi)
    e = np.linalg.eigvalsh(r * np.outer(sc, sc))[::-1][k:]
    return float(-(np.sum(np.log(e) - e) - k + r.shape[0]))


def _ml_gradient(psi: np.ndarray, r: np.ndarray, k: int) -> np.ndarray:
    loadings = _ml_loadings(psi, r, k)
    g = np.sum(loadings**2, axis=1) + psi - np.diag(r)
    return g / psi**2


def _fit_uniquenesses(r: np.ndarray, k: int, method: str) -> np.ndarray:
    """Optimise the uniquenesses as psych does: optim(L-BFGS-B, parscale 0.01, bounds [0.005, max(smc, 1)])."""
    smc = _smc(r)
    start = np.diag(r) - smc
    upper = max(float(smc.max()), 1.0)
    scale = 0.01
    fun, jac = (_minres_objective, _minres_gradient) if method == "minres" else (_ml_objective, _ml_gradient)
    res = optimize.minimize(
        lambda z: fun(z * scale, r, k),
        start / scale,
        jac=lambda z: jac(z * scale, r, k) * scale,
        method="L-BFGS-B",
        bounds=[(0.005 / scale, upper / scale)] * r.shape[0],
        # R's optim defaults for L-BFGS-B: lmm = 5, factr = 1e7, pgtol = 0, maxit = 100
        options={"maxcor": 5, "ftol": 1e7 * np.finfo(float).eps, "gtol": 0.0, "maxiter": 100},
    )
    return res.x * scale


# --------------------------------------------------------------------------------------------------
# rotations
# --------------------------------------------------------------------------------------------------


def _varimax(loadings: np.ndarray, normalize: bool = True, eps: float = 1e-5) -> tuple[np.ndarray, np.ndarray]:
    """stats::varimax: returns (rotated loadings, rotation matrix)."""
    x = loadings
    k = x.shape[1]
    if k < 2:
        return loadings.copy(), np.eye(k)
    if normalize:
        sc = np.sqrt(np.sum(x**2, axis=1))
        x = x / sc[:, None]
    p = x.shape[0]
    tt = np.eye(k)
    d = 0.0
    for _ in range(1000):
        z = x @ tt
        b = x.T @ (z**3 - z * (np.sum(z**2, axis=0) / p))
        u, s, vt = np.linalg.svd(b)
        tt = u @ vt
        d_past, d = d, float(np.sum(s))
        if d < d_past * (1 + eps):
            break
    z = x @ tt
    if normalize:
        z = z * sc[:, None]
    return z, tt


def _oblimin_criterion(lam: np.ndarray, gamma: float) -> tuple[float, np.ndarray]:
    """GPArotation's vgQ.oblimin: criterion value and its gradient."""
    k = lam.shape[1]
    x = (lam**2) @ (1.0 - np.eye(k))
    if gamma != 0:
        p = lam.shape[0]
        x = (np.eye(p) - gamma / p) @ x
    return float(np.sum(lam**2 * x) / 4.0), lam * x


def _oblimin(
    a: np.ndarray, gamma: float = 0.0, eps: float = 1e-5, maxit: int = 1000
) -> tuple[np.ndarray, np.ndarray]:
    """GPArotation::oblimin (GPFoblq, normalize = FALSE, from the identity): (loadings, Phi)."""
    k = a.shape[1]
    tmat = np.eye(k)
    alpha = 1.0
    lam = a @ np.linalg.inv(tmat).T
    f, gq = _oblimin_criterion(lam, gamma)
    g = -(lam.T @ gq @ np.linalg.inv(tmat)).T
    for _ in range(maxit + 1):
        gp = g - tmat * np.sum(tmat * g, axis=0)
        s = np.sqrt(np.sum(gp**2))
        if s < eps:
            break
        alpha *= 2.0
        for _ in range(11):
            x = tmat - alpha * gp
            tmatt = x / np.sqrt(np.sum(x**2, axis=0))
            lam = a @ np.linalg.inv(tmatt).T
            ft, gqt = _oblimin_criterion(lam, gamma)
            if f - ft > 0.5 * s**2 * alpha:
                break
            alpha /= 2.0
        tmat = tmatt
        f, gq = ft, gqt
        g = -(lam.T @ gq @ np.linalg.inv(tmatt)).T
    return lam, tmat.T @ tmat


def _promax(loadings: np.ndarray, m: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """psych::kaiser(rotate = "Promax"): Promax of the row-normalised loadings, rows rescaled. (loadings, Phi)."""
    h = np.sqrt(np.sum(loadings**2, axis=1))
    x, rot = _varimax(loadings / h[:, None])
    target = x * np.abs(x) ** (m - 1)
    u = np.linalg.lstsq(x, target, rcond=None)[0]
    d = np.diag(np.linalg.inv(u.T @ u))
    u = u * np.sqrt(d)
    z = x @ u
    ui = np.linalg.inv(rot @ u)
    return z * h[:, None], ui @ ui.T


def _rotate(loadings: np.ndarray, rotation: str) -> tuple[np.ndarray, np.ndarray | None]:
    if loadings.shape[1] < 2 or rotation == "none":
        return loadings, None
    if rotation == "varimax":
        return _varimax(loadings)[0], None
    if rotation in ("oblimin", "quartimin"):
        return _oblimin(loadings)
    if rotation == "promax":
        return _promax(loadings)
    raise AssertionError(rotation)  # validated by the caller


# --------------------------------------------------------------------------------------------------
# the whole of psych:::fac on a correlation matrix
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Fit:
    loadings: np.ndarray  # rotated, reflected, sorted
    phi: np.ndarray
    names: list[str]
    communality: np.ndarray  # diag(LL') of the unrotated solution
    values: np.ndarray  # eigenvalues of R with the communalities on the diagonal
    unrotated: np.ndarray


def _fa_matrix(r: np.ndarray, k: int, method: str = "minres", rotation: str = "oblimin") -> _Fit:
    """psych:::fac on a correlation matrix: extraction, reflection, rotation, reflection, sorting."""
    psi = _fit_uniquenesses(r, k, method)
    loadings = _minres_loadings(psi, r, k) if method == "minres" else _ml_loadings(psi, r, k)
    signs = np.where(np.sum(loadings, axis=0) < 0, -1.0, 1.0)
    loadings = loadings * signs
    unrotated = loadings.copy()
    communality = np.sum(loadings**2, axis=1)
    s = r.copy()
    np.fill_diagonal(s, communality)
    values = np.linalg.eigvalsh(s)[::-1]

    loadings = np.where(loadings == 0, 1e-15, loadings)
    loadings, phi = _rotate(loadings, rotation)
    signs = np.where(np.sum(loadings, axis=0) < 0, -1.0, 1.0)
    loadings = loadings * signs
    if phi is None:
        phi = np.eye(k)
    else:
        phi = phi * np.outer(signs, signs)
    names = [f"{_METHOD_PREFIX[method]}{i + 1}" for i in range(k)]
    if k > 1:
        ev = np.diag(phi @ loadings.T @ loadings)
        order = np.argsort(-ev, kind="stable")
        loadings, phi, names = loadings[:, order], phi[np.ix_(order, order)], [names[i] for i in order]
    return _Fit(loadings, phi, names, communality, values, unrotated)


# --------------------------------------------------------------------------------------------------
# KMO and Bartlett
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class KMOResult(ResultMixin):
    """Kaiser-Meyer-Olkin measure of sampling adequacy (psych::KMO).

    ``overall`` is the overall MSA, ``items`` the MSA of each item. ``float(result)`` gives ``overall``.
    Kaiser's labels: >= .9 marvelous, .8 meritorious, .7 middling, .6 mediocre, .5 miserable, below unacceptable.
    ``n_used`` (alias ``n``) and ``n_dropped``: rows used and left out (listwise; ``n_obs`` for a matrix);
    ``warnings``: what the analysis warned about.
    """

    overall: float
    items: pd.Series
    n: int = 0
    n_dropped: int = 0
    warnings: tuple[str, ...] = ()

    @property
    def n_used(self) -> int:
        return self.n

    def __float__(self) -> float:
        return self.overall

    def to_frame(self) -> pd.DataFrame:
        msa = pd.concat([pd.Series({"overall": self.overall}), self.items])
        return msa.rename("MSA").to_frame()


@dataclass(frozen=True)
class BartlettResult(ResultMixin):
    """Bartlett's test that the correlation matrix is an identity matrix (psych::cortest.bartlett).

    ``n_used`` (alias ``n``): the n of the test (listwise complete rows, or ``n_obs``); ``n_dropped``: rows
    left out (listwise); ``warnings``: what the analysis warned about.
    """

    chisq: float
    df: int
    p: float
    n: int
    n_dropped: int = 0
    warnings: tuple[str, ...] = ()

    @property
    def n_used(self) -> int:
        return self.n

    def to_frame(self) -> pd.DataFrame:
        return one_row(chisq=self.chisq, df=self.df, p=self.p, n=self.n, n_used=self.n, n_dropped=self.n_dropped)


def _kmo_matrix(r: np.ndarray, names: list[str], n: int = 0, n_dropped: int = 0,
                warnings: tuple[str, ...] = ()) -> KMOResult:
    q = np.linalg.inv(r)
    d = 1.0 / np.sqrt(np.diag(q))
    partial = q * np.outer(d, d)
    np.fill_diagonal(partial, 0.0)
    r0 = r.copy()
    np.fill_diagonal(r0, 0.0)
    r2, q2 = np.sum(r0**2, axis=0), np.sum(partial**2, axis=0)
    overall = float(r2.sum() / (r2.sum() + q2.sum()))
    return KMOResult(overall=overall, items=pd.Series(r2 / (r2 + q2), index=names, name="MSA"), n=n,
                     n_dropped=n_dropped, warnings=warnings)


def _bartlett_matrix(r: np.ndarray, n: int, n_dropped: int = 0, warnings: tuple[str, ...] = ()) -> BartlettResult:
    p = r.shape[0]
    sign, logdet = np.linalg.slogdet(r)
    if sign <= 0:
        raise FactorAnalysisError("the correlation matrix is singular (an item is a combination of others)")
    chisq = float(-logdet * (n - 1 - (2 * p + 5) / 6))
    df = p * (p - 1) // 2
    return BartlettResult(chisq=chisq, df=df, p=float(stats.chi2.sf(chisq, df)), n=n, n_dropped=n_dropped,
                          warnings=warnings)


def kmo(data: pd.DataFrame, *, items=None, n_obs: int | None = None, cor: Correlation = "pearson") -> KMOResult:
    """Kaiser-Meyer-Olkin measure of sampling adequacy, overall and per item.

    MSA = sum r_ij^2 / (sum r_ij^2 + sum q_ij^2) over i != j, where q are the partial correlations
    (the anti-image, from the inverse of the correlation matrix). Uses listwise complete cases.

    Parameters
    ----------
    data : DataFrame
        One numeric column per item, or a correlation (covariance) matrix with ``n_obs``.
    items : list of column labels or str, optional
        The item columns of ``data`` (a string is an instrument id such as ``"phq9"``); needed when ``data``
        carries other columns (id, age, gender, ...), which are refused otherwise.
    n_obs : int, optional
        With a correlation or covariance matrix as ``data``: the number of respondents behind it.
    cor : {"pearson", "poly"}
        Pearson correlations of the complete cases, or polychoric correlations (pairwise).

    Returns
    -------
    KMOResult
        ``overall`` and ``items`` (a Series of per-item MSA).

    Notes
    -----
    Matches ``psych::KMO(x)`` (on complete cases).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(1)
    >>> f = rng.normal(size=(300, 1))
    >>> x = pd.DataFrame(f + rng.normal(size=(300, 4)), columns=list("abcd"))
    >>> round(kmo(x).overall, 2) > 0.5
    True
    """
    inp = _item_input(data, items, n_obs, cor=cor)
    return _kmo_matrix(inp.r, inp.names, inp.n_used, inp.n_dropped, emit(inp.warnings))


def bartlett(data: pd.DataFrame, *, items=None, n_obs: int | None = None, cor: Correlation = "pearson") -> BartlettResult:
    """Bartlett's test of sphericity on the correlation matrix of the items.

    chisq = -ln|R| (n - 1 - (2p + 5) / 6) with p (p - 1) / 2 degrees of freedom; n is the number of
    listwise complete cases (or ``n_obs``).

    Parameters
    ----------
    data : DataFrame
        One numeric column per item, or a correlation (covariance) matrix with ``n_obs``.
    items : list of column labels or str, optional
        The item columns of ``data`` (or an instrument id), as in :func:`kmo`.
    n_obs : int, optional
        With a matrix as ``data``: the number of respondents, as ``psych::cortest.bartlett(R, n = n_obs)``.
    cor : {"pearson", "poly"}
        Pearson correlations of the complete cases, or polychoric correlations (``n`` is then the number of
        rows with at least two answers, as ``psych::cortest.bartlett(polychoric(x)$rho, n = nrow(x))`` on data
        where every row has two answers).

    Returns
    -------
    BartlettResult
        ``chisq``, ``df``, ``p``, ``n``.

    Notes
    -----
    Matches ``psych::cortest.bartlett(cor(x), n = nrow(x))`` with ``x`` the complete cases.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(1)
    >>> f = rng.normal(size=(300, 1))
    >>> x = pd.DataFrame(f + rng.normal(size=(300, 4)), columns=list("abcd"))
    >>> bartlett(x).df
    6
    """
    inp = _item_input(data, items, n_obs, cor=cor)
    return _bartlett_matrix(inp.r, inp.n_used, inp.n_dropped, emit(inp.warnings))


# --------------------------------------------------------------------------------------------------
# EFA
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class EFAResult(ResultMixin):
    """The result of :func:`efa`.

    Attributes
    ----------
    loadings : DataFrame
        Items x factors pattern loadings (columns ``MR1``.. or ``ML1``.., in psych's order).
    communalities, uniquenesses : Series
        h2 (from the unrotated solution, the same for every rotation) and u2 = 1 - h2.
    phi : DataFrame
        Factor correlations (the identity for orthogonal rotations and ``"none"``).
    structure : DataFrame
        Structure matrix ``loadings @ phi`` (item-factor correlations).
    variance : DataFrame
        psych's variance table: rows ``SS loadings``, ``Proportion Var``, ``Cumulative Var``,
        ``Proportion Explained``, ``Cumulative Proportion``; one column per factor.
    eigenvalues : DataFrame
        ``observed`` eigenvalues of the correlation matrix and ``common`` eigenvalues of the reduced matrix
        (communalities on the diagonal), one row per position (what a scree plot needs).
    kmo : KMOResult
    bartlett : BartlettResult
    n : int
        Rows used: listwise complete cases (``cor="pearson"``), rows with at least two answers
        (``cor="poly"``, pairwise), or ``n_obs`` for a matrix; also ``n_used``.
    method, rotation : str
    n_dropped : int
        Rows left out (a missing answer under listwise deletion; fewer than two answers for ``cor="poly"``).
    warnings : tuple of str
        What the analysis warned about: rows dropped, Heywood and ultra-Heywood cases, smoothing.
    cor : str
        ``"pearson"`` or ``"poly"`` (polychoric).
    missing : str
        ``"listwise"`` (Pearson) or ``"pairwise"`` (polychoric).

    Notes
    -----
    Items with few ordered categories (all integers with 7 or fewer values, e.g. 4-point items) are better
    analysed with ``efa(items, k, cor="poly")``: Pearson correlations of such items understate the loadings.
    """

    loadings: pd.DataFrame
    communalities: pd.Series
    uniquenesses: pd.Series
    phi: pd.DataFrame
    structure: pd.DataFrame
    variance: pd.DataFrame
    eigenvalues: pd.DataFrame
    kmo: KMOResult
    bartlett: BartlettResult
    n: int
    method: str
    rotation: str
    unrotated: pd.DataFrame = field(repr=False)
    n_dropped: int = 0
    warnings: tuple[str, ...] = ()
    cor: str = "pearson"
    missing: str = "listwise"

    @property
    def n_used(self) -> int:
        return self.n

    @property
    def n_factors(self) -> int:
        return self.loadings.shape[1]

    def to_frame(self) -> pd.DataFrame:
        """Loadings with h2 and u2, one row per item (as psych prints them)."""
        out = self.loadings.copy()
        out["h2"] = self.communalities
        out["u2"] = self.uniquenesses
        return out


def efa(
    data: pd.DataFrame,
    n_factors: int,
    rotation: Rotation = "oblimin",
    method: Method = "minres",
    *,
    items=None,
    n_obs: int | None = None,
    cor: Correlation = "pearson",
) -> EFAResult:
    """Exploratory factor analysis of items, as psych::fa.

    Parameters
    ----------
    data : DataFrame
        One numeric column per item. Rows with any missing item are dropped (listwise complete cases; one
        warning says how many). Or a correlation or covariance matrix (item labels as index and columns)
        with ``n_obs``, as ``psych::fa(R, n.obs = n_obs)``.
    n_factors : int
        Number of factors, 1 <= n_factors < number of items.
    rotation : {"oblimin", "varimax", "promax", "quartimin", "none"}
        ``"oblimin"`` is GPArotation's (gamma 0, not Kaiser-normalised), ``"varimax"`` is stats::varimax
        (Kaiser-normalised), ``"promax"`` is psych's (Kaiser-normalised, power 4).
    method : {"minres", "ml"}
        Minimum residual (unweighted least squares) or maximum likelihood.
    items : list of column labels or str, optional
        The item columns of ``data``, or an instrument id (``"phq9"``: its scored item columns). Without it,
        a frame with columns that are plainly not items (text, id, age, gender, grade, class, school, ...) is
        refused rather than analysed.
    n_obs : int, optional
        The number of respondents behind a correlation matrix given as ``data`` (required with one).
    cor : {"pearson", "poly"}
        Analyse the Pearson correlations of the complete cases, or the polychoric correlations of ordinal items
        (:func:`psyscreen.validity.polychoric`, psych's defaults, every available answer used: pairwise).

    Returns
    -------
    EFAResult

    Notes
    -----
    Matches ``psych::fa(x, nfactors = n_factors, rotate = rotation, fm = method)`` with ``x`` the complete
    cases, factors in psych's order and with psych's names and signs; with ``cor="poly"``,
    ``psych::fa(x, nfactors = n_factors, rotate = rotation, fm = method, cor = "poly")``. See the module
    docstring for the details of the fit.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> f = rng.normal(size=(500, 2))
    >>> pattern = np.kron(np.eye(2), np.full((1, 3), 0.7))
    >>> x = pd.DataFrame(f @ pattern + rng.normal(scale=0.7, size=(500, 6)), columns=list("abcdef"))
    >>> res = efa(x, 2, rotation="varimax")
    >>> list(res.loadings.columns)
    ['MR1', 'MR2']
    >>> bool((res.loadings.abs().max(axis=1) > 0.5).all())
    True
    """
    if method not in _METHOD_PREFIX:
        raise FactorAnalysisError(f"method must be one of {sorted(_METHOD_PREFIX)}, got {method!r}")
    if rotation not in _ROTATIONS:
        raise FactorAnalysisError(f"rotation must be one of {list(_ROTATIONS)}, got {rotation!r}")
    inp = _item_input(data, items, n_obs, min_items=3, cor=cor)
    names, r = inp.names, inp.r
    p = len(names)
    if isinstance(n_factors, bool) or not isinstance(n_factors, (int, np.integer)) or not 1 <= n_factors < p:
        raise FactorAnalysisError(f"n_factors must be an integer from 1 to {p - 1} for {p} items, got {n_factors!r}")
    n_factors = int(n_factors)
    with small_blas(p):
        fit = _fa_matrix(r, n_factors, method, rotation)

    loadings = pd.DataFrame(fit.loadings, index=names, columns=fit.names)
    phi = pd.DataFrame(fit.phi, index=fit.names, columns=fit.names)
    h2 = pd.Series(fit.communality, index=names, name="h2")
    u2 = pd.Series(1.0 - fit.communality, index=names, name="u2")
    ss = np.diag(fit.phi @ fit.loadings.T @ fit.loadings)
    total = float(p)  # sum(h2 + u2) on a correlation matrix
    variance = pd.DataFrame(
        [ss, ss / total, np.cumsum(ss / total), ss / ss.sum(), np.cumsum(ss / ss.sum())],
        index=["SS loadings", "Proportion Var", "Cumulative Var", "Proportion Explained", "Cumulative Proportion"],
        columns=fit.names,
    )
    eigen = pd.DataFrame(
        {"observed": np.linalg.eigvalsh(r)[::-1], "common": fit.values},
        index=pd.RangeIndex(1, p + 1, name="position"),
    )
    unrotated_names = [f"{_METHOD_PREFIX[method]}{i + 1}" for i in range(n_factors)]
    return EFAResult(
        loadings=loadings,
        communalities=h2,
        uniquenesses=u2,
        phi=phi,
        structure=loadings @ phi,
        variance=variance,
        eigenvalues=eigen,
        kmo=_kmo_matrix(r, names, inp.n_used, inp.n_dropped),
        bartlett=_bartlett_matrix(r, inp.n_used, inp.n_dropped),
        n=inp.n_used,
        method=method,
        rotation=rotation,
        unrotated=pd.DataFrame(fit.unrotated, index=names, columns=unrotated_names),
        n_dropped=inp.n_dropped,
        warnings=emit(inp.warnings + _heywood_messages(fit.communality, names)),
        cor=cor,
        missing="pairwise" if cor == "poly" else "listwise",
    )


# --------------------------------------------------------------------------------------------------
# matching factors between two solutions
# --------------------------------------------------------------------------------------------------


def congruence(a: np.ndarray | pd.DataFrame, b: np.ndarray | pd.DataFrame) -> np.ndarray:
    """Tucker's congruence coefficients between the columns of ``a`` and of ``b`` (as psych::factor.congruence).

    phi(x, y) = sum x y / sqrt(sum x^2 sum y^2); the result is a (factors of a) x (factors of b) array.

    Examples
    --------
    >>> import numpy as np
    >>> congruence(np.array([[1.0], [1.0]]), np.array([[-2.0], [-2.0]]))
    array([[-1.]])
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.ndim != 2 or b.ndim != 2 or a.shape[0] != b.shape[0]:
        raise FactorAnalysisError(f"loadings must be 2-d with the same number of rows, got {a.shape} and {b.shape}")
    num = a.T @ b
    return num / np.sqrt(np.outer(np.sum(a**2, axis=0), np.sum(b**2, axis=0)))


@dataclass(frozen=True, eq=False)
class FactorMatch(ResultMixin):
    """How the factors of a solution line up with those of a reference solution.

    ``order[j]`` is the column of the solution that matches reference column ``j``, ``signs[j]`` is +1 or -1
    and ``congruence[j]`` the (absolute) Tucker congruence of that pair. ``aligned`` is the solution's
    loadings reordered and reflected to the reference's columns.
    """

    order: np.ndarray
    signs: np.ndarray
    congruence: np.ndarray
    aligned: np.ndarray

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"column": self.order, "sign": self.signs, "congruence": self.congruence})


def match_factors(loadings: np.ndarray | pd.DataFrame, reference: np.ndarray | pd.DataFrame) -> FactorMatch:
    """Match the factors of ``loadings`` to those of ``reference`` by Tucker congruence, allowing reflection.

    Chooses the one-to-one assignment that maximises the total absolute congruence (Hungarian
    algorithm), then reflects each matched factor so its congruence is positive.

    Examples
    --------
    >>> import numpy as np
    >>> ref = np.array([[0.8, 0.0], [0.7, 0.1], [0.0, 0.6], [0.1, 0.9]])
    >>> m = match_factors(-ref[:, ::-1], ref)
    >>> m.order.tolist(), m.signs.tolist()
    ([1, 0], [-1.0, -1.0])
    """
    a, b = np.asarray(loadings, dtype=float), np.asarray(reference, dtype=float)
    if a.shape != b.shape:
        raise FactorAnalysisError(f"the two solutions must have the same shape, got {a.shape} and {b.shape}")
    c = congruence(a, b)  # a-columns x b-columns
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(-np.abs(c))
    order = np.empty(b.shape[1], dtype=int)
    order[cols] = rows
    signs = np.sign(c[order, np.arange(b.shape[1])])
    signs[signs == 0] = 1.0
    aligned = a[:, order] * signs
    return FactorMatch(order=order, signs=signs, congruence=np.abs(c[order, np.arange(b.shape[1])]), aligned=aligned)


# --------------------------------------------------------------------------------------------------
# parallel analysis
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ParallelAnalysisResult(ResultMixin):
    """The result of :func:`parallel_analysis`.

    ``eigenvalues`` has one row per position (1..p) and the columns a scree plot needs:
    ``pc_observed``, ``pc_simulated`` (the mean over the simulations), ``pc_threshold`` (the
    simulated quantile used for the decision, or the mean), and the same three for ``fa_``
    (eigenvalues of the common-factor solution). ``n_factors`` and ``n_components`` count the
    leading observed eigenvalues above the threshold. ``n_used`` (alias ``n``) and ``n_dropped``: rows
    used and left out (listwise, or rows with fewer than two answers for ``cor="poly"``; ``n_obs`` for a
    matrix); ``warnings``: what the analysis warned about. ``cor`` says whose correlations were observed
    (``"pearson"`` or ``"poly"``).
    """

    eigenvalues: pd.DataFrame
    n_factors: int
    n_components: int
    n: int
    n_iter: int
    quantile: float | None
    method: str
    n_dropped: int = 0
    warnings: tuple[str, ...] = ()
    cor: str = "pearson"

    @property
    def n_used(self) -> int:
        return self.n

    def to_frame(self) -> pd.DataFrame:
        return self.eigenvalues


def _common_values(r: np.ndarray, method: str) -> np.ndarray:
    # psych: fa(r, nfactors = 1, rotate = "none", fm = fm)$values
    psi = _fit_uniquenesses(r, 1, method)
    loadings = _minres_loadings(psi, r, 1) if method == "minres" else _ml_loadings(psi, r, 1)
    s = r.copy()
    np.fill_diagonal(s, np.sum(loadings**2, axis=1))
    return np.linalg.eigvalsh(s)[::-1]


def _leading_above(observed: np.ndarray, threshold: np.ndarray) -> int:
    # psych: which(!(observed > threshold))[1] - 1
    below = np.flatnonzero(~(observed > threshold))
    return int(below[0]) if below.size else int(observed.size)


def parallel_analysis(
    data: pd.DataFrame,
    n_iter: int = 20,
    seed: int | np.random.Generator | None = None,
    quantile: float | None = 0.95,
    method: Method = "minres",
    *,
    items=None,
    n_obs: int | None = None,
    cor: Correlation = "pearson",
) -> ParallelAnalysisResult:
    """Horn's parallel analysis for the number of factors and components, as psych::fa.parallel.

    The eigenvalues of the observed correlation matrix (components) and of its one-factor reduced
    matrix (common factors, ``fa(r, 1)$values`` in psych) are compared with those of ``n_iter`` simulated
    data sets of independent normal variables of the same size. The suggested number is the count of
    leading observed eigenvalues that exceed the simulated ``quantile`` (psych's ``quant = .95``), or the
    simulated mean when ``quantile`` is None.

    Parameters
    ----------
    data : DataFrame
        One numeric column per item (listwise complete cases are used), or a correlation (covariance)
        matrix with ``n_obs`` (the simulated data sets then have ``n_obs`` rows, as psych's).
    n_iter : int
        Number of simulated data sets (psych's default is 20).
    seed : int, Generator or None
        Random seed for reproducible simulations.
    quantile : float in (0, 1) or None
        Quantile of the simulated eigenvalues to beat (R's type 7 quantile); None for the mean.
    method : {"minres", "ml"}
        Factoring method for the common-factor eigenvalues.
    items : list of column labels or str, optional
        The item columns of ``data`` (or an instrument id), as in :func:`efa`.
    n_obs : int, optional
        The number of respondents behind a correlation matrix given as ``data``.
    cor : {"pearson", "poly"}
        Observed eigenvalues of the Pearson correlations of the complete cases, or of the polychoric
        correlations (pairwise, :func:`psyscreen.validity.polychoric`).

    Returns
    -------
    ParallelAnalysisResult
        ``n_factors``, ``n_components`` and the ``eigenvalues`` table for a scree plot.

    Notes
    -----
    Matches ``psych::fa.parallel(x, fa = "both", n.iter = n_iter, quant = quantile)`` with simulated (not
    resampled) comparison data, i.e. what psych reports when given a correlation matrix and ``n.obs``. The
    simulations are random, so the suggested numbers can differ from psych's run in borderline cases.

    With ``cor="poly"`` the observed eigenvalues are those of ``psych::fa.parallel(x, cor = "poly")``
    (deterministic, equal to psych). The comparison stays psych's simulated part: Pearson correlations of
    independent normal data of ``n`` rows (the rows with at least two answers; psych takes ``nrow(x)``), which
    is what psych's suggested numbers compare against; psych's polychoric matrices of resampled data (each
    column resampled on its own, shown in its plot only) are not computed.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> f = rng.normal(size=(400, 2))
    >>> pattern = np.kron(np.eye(2), np.full((1, 4), 0.7))
    >>> x = pd.DataFrame(f @ pattern + rng.normal(scale=0.7, size=(400, 8)))
    >>> x.columns = [f"i{j}" for j in range(8)]
    >>> parallel_analysis(x, seed=1).n_factors
    2
    """
    if method not in _METHOD_PREFIX:
        raise FactorAnalysisError(f"method must be one of {sorted(_METHOD_PREFIX)}, got {method!r}")
    if quantile is not None and not 0 < quantile < 1:
        raise FactorAnalysisError(f"quantile must be between 0 and 1 (or None for the mean), got {quantile!r}")
    if int(n_iter) < 1:
        raise FactorAnalysisError(f"n_iter must be at least 1, got {n_iter!r}")
    inp = _item_input(data, items, n_obs, min_items=3, cor=cor)
    r, n, p = inp.r, inp.n_used, len(inp.names)
    rng = np.random.default_rng(seed)
    with small_blas(p):
        pc_obs = np.linalg.eigvalsh(r)[::-1]
        fa_obs = _common_values(r, method)

        # one simulated data set at a time (memory stays n x p whatever n_iter is)
        sim_r = np.stack([_correlation(rng.standard_normal((n, p))) for _ in range(int(n_iter))])
        pc_sim = np.linalg.eigvalsh(sim_r)[:, ::-1]
        fa_sim = np.stack([_common_values(s, method) for s in sim_r])

    def threshold(values: np.ndarray) -> np.ndarray:
        return values.mean(axis=0) if quantile is None else np.quantile(values, quantile, axis=0)

    pc_thr, fa_thr = threshold(pc_sim), threshold(fa_sim)
    eigen = pd.DataFrame(
        {
            "pc_observed": pc_obs,
            "pc_simulated": pc_sim.mean(axis=0),
            "pc_threshold": pc_thr,
            "fa_observed": fa_obs,
            "fa_simulated": fa_sim.mean(axis=0),
            "fa_threshold": fa_thr,
        },
        index=pd.RangeIndex(1, p + 1, name="position"),
    )
    return ParallelAnalysisResult(
        eigenvalues=eigen,
        n_factors=_leading_above(fa_obs, fa_thr),
        n_components=_leading_above(pc_obs, pc_thr),
        n=int(n),
        n_iter=int(n_iter),
        quantile=quantile,
        method=method,
        n_dropped=inp.n_dropped,
        warnings=emit(inp.warnings),
        cor=cor,
    )
