"""Full-information maximum likelihood (FIML) for CFA with missing answers, as lavaan ``missing = "ml"``.

Owned here because no Python SEM library reproduces lavaan's FIML figures (its saturated model
by EM, its baseline model, its observed-information standard errors). Equal to
``lavaan::cfa(..., missing = "ml")`` (lavaan 0.6.14 defaults for it: ``meanstructure = TRUE``,
``information = "observed"``, ``observed.information = "hessian"``, ``h1.information =
"structured"``):

- the rows are grouped by their pattern of missingness, and every computation is done once per
  pattern with that pattern's sufficient statistics (count, mean, covariance of its observed
  variables) -- never once per person;
- the case-wise normal log-likelihood ``sum_i log phi(y_i,o; mu_o, Sigma_oo)`` is maximised;
- the saturated (h1) model is the unrestricted mean vector and covariance matrix, estimated by
  EM; ``chisq = 2 (logl_h1 - logl)``;
- the baseline model is the independence model (free means, diagonal covariance), whose FIML
  estimates are the available-case means and variances of each variable;
- standard errors from the observed information (the Hessian of the log-likelihood).

Rows with every model variable missing carry no information and are dropped, as lavaan does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["FIMLObjective", "Pattern", "em_saturated", "fiml_fit_measures", "group_patterns", "independence",
           "pattern_loglik"]


@dataclass(frozen=True)
class Pattern:
    """The rows of one group that share one pattern of observed variables."""

    obs: np.ndarray  # (p,) bool: observed variables
    X: np.ndarray  # (n, p_o) the rows, observed variables only
    ybar: np.ndarray  # (p_o,)
    S: np.ndarray  # (p_o, p_o) divisor n

    @property
    def n(self) -> int:
        return int(self.X.shape[0])

    @property
    def idx(self) -> np.ndarray:
        return np.flatnonzero(self.obs)


def group_patterns(X: np.ndarray) -> list[Pattern]:
    """Split the rows of one group (NaN = missing) by their pattern of missingness.

    Examples
    --------
    >>> X = np.array([[1.0, 2.0], [np.nan, 1.0], [3.0, 5.0], [np.nan, 2.0]])
    >>> [(p.idx.tolist(), p.n) for p in group_patterns(X)]
    [([0, 1], 2), ([1], 2)]
    """
    observed = ~np.isnan(X)
    keys, inverse = np.unique(observed, axis=0, return_inverse=True)
    inverse = np.asarray(inverse).ravel()
    order = np.argsort([-k.sum() for k in keys], kind="stable")  # complete pattern first
    out = []
    for k in order:
        if not keys[k].any():
            continue
        rows = X[inverse == k][:, keys[k]]
        ybar = rows.mean(0)
        Z = rows - ybar
        out.append(Pattern(keys[k].copy(), rows, ybar, Z.T @ Z / rows.shape[0]))
    return out


def pattern_loglik(pats: list[Pattern], sigma: np.ndarray, mu: np.ndarray) -> float:
    """Case-wise normal log-likelihood of one group's rows, summed by pattern."""
    total = 0.0
    for pt in pats:
        o = pt.idx
        so = sigma[np.ix_(o, o)]
        sign, logdet = np.linalg.slogdet(so)
        if sign <= 0:
            return -np.inf
        d = pt.ybar - mu[o]
        K = np.linalg.inv(so)
        total += -0.5 * pt.n * (o.size * np.log(2 * np.pi) + logdet + np.sum(K * (pt.S + np.outer(d, d))))
    return float(total)


def em_saturated(pats: list[Pattern], p: int, *, tol: float = 1e-11, max_iter: int = 20000) -> tuple[np.ndarray, np.ndarray, int]:
    """Unrestricted ML mean and covariance of one group with missing values, by EM.

    Each E-step uses the sufficient statistics of a pattern (the conditional expectation of the
    missing part is affine in the observed part), so the work per iteration is one small
    regression per pattern. Stops when no moment changes by more than ``tol`` (lavaan stops
    earlier, at 1e-5 or 500 iterations; running on changes its h1 log-likelihood by less than
    the 1e-3 the tests allow). Returns ``(mu, sigma, iterations)``; raises ConvergenceError
    when ``max_iter`` is reached.

    Examples
    --------
    >>> X = np.array([[1.0, 2.0], [2.0, np.nan], [3.0, 5.0], [4.0, 4.0], [np.nan, 3.0]])
    >>> mu, sigma, _ = em_saturated(group_patterns(X), 2)
    >>> np.round(mu, 3).tolist()  # not the available-case means 2.5 and 3.5: x2 informs x1
    [2.423, 3.423]
    """
    N = sum(pt.n for pt in pats)
    # start: available-case means and variances
    mu, var = _available_case(pats, p)
    sigma = np.diag(var)
    for it in range(1, max_iter + 1):
        T1 = np.zeros(p)
        T2 = np.zeros((p, p))
        for pt in pats:
            o, m = pt.idx, np.flatnonzero(~pt.obs)
            if m.size == 0:
                T1 += pt.n * pt.ybar
                T2 += pt.n * (pt.S + np.outer(pt.ybar, pt.ybar))
                continue
            B = np.linalg.solve(sigma[np.ix_(o, o)], sigma[np.ix_(o, m)]).T  # (m, o)
            A = np.zeros((p, o.size))
            A[o, np.arange(o.size)] = 1.0
            A[m] = B
            b = np.zeros(p)
            b[m] = mu[m] - B @ mu[o]
            yhat = A @ pt.ybar + b
            C = np.zeros((p, p))
            C[np.ix_(m, m)] = sigma[np.ix_(m, m)] - B @ sigma[np.ix_(o, m)]
            T1 += pt.n * yhat
            T2 += pt.n * (A @ pt.S @ A.T + np.outer(yhat, yhat) + C)
        mu_new = T1 / N
        sigma_new = T2 / N - np.outer(mu_new, mu_new)
        change = max(np.max(np.abs(mu_new - mu)), np.max(np.abs(sigma_new - sigma)))
        mu, sigma = mu_new, (sigma_new + sigma_new.T) / 2
        if change < tol:
            return mu, sigma, it
    from psyscreen.validity.cfa import ConvergenceError

    raise ConvergenceError(f"the EM estimate of the saturated model did not converge in {max_iter} iterations "
                           f"(last change {change:.3g}); too little information in the data: check the "
                           "variables with the most missing answers")


def _available_case(pats: list[Pattern], p: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance (divisor n_j) of each variable over the rows that observe it."""
    n = np.zeros(p)
    s1 = np.zeros(p)
    s2 = np.zeros(p)
    for pt in pats:
        o = pt.idx
        n[o] += pt.n
        s1[o] += pt.n * pt.ybar
        s2[o] += pt.n * (np.diag(pt.S) + pt.ybar**2)
    mean = s1 / n
    return mean, s2 / n - mean**2


def independence(pats: list[Pattern], p: int) -> tuple[np.ndarray, np.ndarray, float]:
    """The baseline (independence) model by FIML: available-case means and variances, its log-likelihood."""
    mean, var = _available_case(pats, p)
    sigma = np.diag(var)
    return mean, sigma, pattern_loglik(pats, sigma, mean)


@dataclass(frozen=True)
class _Stacked:
    """The patterns of one group stacked into arrays, missing entries embedded as zeros."""

    obs: np.ndarray  # (P, p) float 0/1
    n: np.ndarray  # (P,)
    p_obs: np.ndarray  # (P,) observed variables per pattern
    ybar: np.ndarray  # (P, p)
    S: np.ndarray  # (P, p, p)

    @classmethod
    def of(cls, pats: list[Pattern], p: int) -> "_Stacked":
        P = len(pats)
        obs = np.zeros((P, p))
        ybar = np.zeros((P, p))
        S = np.zeros((P, p, p))
        for k, pt in enumerate(pats):
            o = pt.idx
            obs[k, o] = 1.0
            ybar[k, o] = pt.ybar
            S[k][np.ix_(o, o)] = pt.S
        return cls(obs, np.array([pt.n for pt in pats], dtype=float), obs.sum(1), ybar, S)


class FIMLObjective:
    """``f = -2 (logl - logl_h1) / N`` of a (multi-group) model over the patterns of each group.

    The same interface as :class:`psyscreen.validity.cfa._Objective` (``f``, ``g``, ``H``,
    ``fg`` per group, ``sigma``, ``mu``, ``sinv``, ``logdet``): ``n @ fg`` is the chi-square.
    ``H`` is the pattern-wise expected information (positive definite, used for the steps).
    All patterns of a group are handled at once: ``Sigma_oo^-1`` of every pattern is the inverse
    of Sigma with the missing rows and columns replaced by the identity, minus that identity.
    """

    def __init__(self, model, sample) -> None:
        self.model, self.sample, self.patterns = model, sample, sample.patterns
        self.h1_logl = np.array([pattern_loglik(pats, S, m)
                                 for pats, S, m in zip(sample.patterns, sample.S, sample.ybar)])
        p = len(model.ov)
        self._stacked = [_Stacked.of(pats, p) for pats in sample.patterns]
        self._x: np.ndarray | None = None
        self._H_at: np.ndarray | None = None

    def _eval(self, x: np.ndarray) -> None:
        from psyscreen.validity.cfa import _implied, _jacobian

        if self._x is not None and np.array_equal(x, self._x):
            return
        self._x = x.copy()
        m, s = self.model, self.sample
        sigma, mu = _implied(m, x[None, :])
        sigma, mu = sigma[0], mu[0]
        q, G, p = x.size, m.n_groups, sigma.shape[-1]
        N = s.N
        fail = (np.inf, np.zeros(q), False)
        try:
            np.linalg.cholesky(sigma)
        except np.linalg.LinAlgError:
            self.f, self.g, self.ok = fail
            return
        dsig, dmu = _jacobian(m, x)
        self._dsig, self._dmu = dsig, dmu
        logl = np.zeros(G)
        grad = np.zeros(q)  # of logl
        self._K = []
        eye = np.eye(p)
        for g in range(G):
            st = self._stacked[g]
            mis = 1.0 - st.obs
            M = sigma[g][None] * st.obs[:, :, None] * st.obs[:, None, :] + mis[:, :, None] * eye
            sign, logdet = np.linalg.slogdet(M)
            if np.any(sign <= 0):
                self.f, self.g, self.ok = fail
                return
            K = np.linalg.inv(M) - mis[:, :, None] * eye  # (P, p, p), zero outside the observed block
            d = (st.ybar - mu[g]) * st.obs
            W = st.S + d[:, :, None] * d[:, None, :]
            logl[g] = -0.5 * st.n @ (st.p_obs * np.log(2 * np.pi) + logdet + np.einsum("aij,aji->a", K, W))
            Kd = np.einsum("aij,aj->ai", K, d)
            Mg = np.einsum("a,aij->ij", st.n, K @ W @ K - K)
            grad += 0.5 * dsig[:, g].reshape(q, -1) @ Mg.ravel() + dmu[:, g] @ (st.n @ Kd)
            self._K.append(K)
        self.ok = True
        self.logl_g = logl
        self.fg = -2.0 * (logl - self.h1_logl) / s.n
        self.f = float(-2.0 * (logl.sum() - self.h1_logl.sum()) / N)
        self.g = -2.0 * grad / N
        self.sigma, self.mu, self.sinv = sigma, mu, np.linalg.inv(sigma)
        self.logdet = np.linalg.slogdet(sigma)[1]

    @property
    def H(self) -> np.ndarray:
        """Pattern-wise expected information (times ``2 / N``), computed when asked for."""
        if self._H_at is not None and np.array_equal(self._H_at, self._x):
            return self._H
        if not self.ok:
            return np.eye(self._x.size)
        q = self._x.size
        info = np.zeros((q, q))
        for g in range(self.model.n_groups):
            st, K = self._stacked[g], self._K[g]
            A = np.einsum("aij,kjl->akil", K, self._dsig[:, g])  # (P, q, p, p)
            info += 0.5 * np.einsum("a,akij,alji->kl", st.n, A, A, optimize=True)
            dm = self._dmu[:, g]
            info += np.einsum("a,ki,aij,lj->kl", st.n, dm, K, dm, optimize=True)
        self._H = 2.0 * (info + info.T) / 2 / self.sample.N
        self._H_at = self._x.copy()
        return self._H

    def fun(self, x: np.ndarray) -> float:
        self._eval(x)
        return self.f

    def jac(self, x: np.ndarray) -> np.ndarray:
        self._eval(x)
        return self.g

    def hess(self, x: np.ndarray) -> np.ndarray:
        self._eval(x)
        return self.H


def fiml_fit_measures(model, sample, obj, fit: dict) -> dict:
    """The figures that differ under FIML: log-likelihoods from the cases, the FIML baseline model."""
    from psyscreen.validity.cfa import _incremental

    p, q, N = len(model.ov), model.q, sample.N
    logl = float(obj.logl_g.sum())
    h1 = float(obj.h1_logl.sum())
    base = sum(independence(pats, p)[2] for pats in sample.patterns)
    base_chisq = 2.0 * (h1 - base)
    return {
        **_incremental(fit["chisq"], fit["df"], base_chisq, fit["baseline.df"]),
        "logl": logl, "unrestricted.logl": h1,
        "aic": -2 * logl + 2 * q, "bic": -2 * logl + q * np.log(N), "bic2": -2 * logl + q * np.log((N + 2) / 24),
    }
