"""``IRTResult``: the frozen result of :func:`psyscreen.irt.fit` (parameters, SEs, fit, latent distribution)."""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from psyscreen._results import ResultMixin
from psyscreen.irt._em import State, group_items
from psyscreen.irt._model import ItemParams
from psyscreen.irt._structure import Structure

__all__ = ["IRTResult", "build_result"]


@dataclass(frozen=True, eq=False)
class IRTResult(ResultMixin):
    """The result of :func:`psyscreen.irt.fit`.

    Attributes
    ----------
    params : ItemParams
        Item parameters (of the reference group in a multiple-group fit).
    group_params : tuple of ItemParams
        One per group (``groups``); a single-group fit has one, equal to ``params``.
    groups : tuple of str
        Group labels, the reference first (``("all",)`` without groups).
    se : pandas.DataFrame
        Standard errors (observed information, Oakes) per group and item of ``a1, d1 .. dk`` and
        (delta method) ``a, b1 .. bk``; NaN for fixed parameters and when SEs were not requested.
    vcov : pandas.DataFrame or None
        Covariance matrix of the free parameters (named ``item.a1``, ``item.d1[group]``, ``var[group]`` ...).
    loglik, aic, bic : float
        Marginal log-likelihood; ``AIC = -2 loglik + 2 n_params``; ``BIC = -2 loglik + n_params log(n_used)``.
    n_params, n_used, n_dropped : int
        Free parameters; persons used; rows left out (no answer at all, or no group).
    converged : bool
    iterations : int
        EM cycles.
    latent : pandas.DataFrame
        Mean and variance of the latent trait per group, with SEs where estimated.
    warnings : tuple of str
    categories : tuple of tuples
        Each item's answer labels in the order coded 0 .. K-1.
    """

    params: ItemParams
    group_params: tuple
    groups: tuple
    se: pd.DataFrame
    vcov: pd.DataFrame | None
    loglik: float
    aic: float
    bic: float
    n_params: int
    n_used: int
    n_dropped: int
    converged: bool
    iterations: int
    latent: pd.DataFrame
    warnings: tuple
    categories: tuple
    quadpts: int = 61
    theta_lim: tuple = (-6.0, 6.0)
    tol: float = 1e-4
    structure: Structure | None = field(default=None, repr=False)
    state: State | None = field(default=None, repr=False)

    @property
    def model(self) -> str:
        return self.params.model

    @property
    def items(self) -> tuple:
        return self.params.items

    def with_warning(self, message: str) -> IRTResult:
        return dataclasses.replace(self, warnings=self.warnings + (message,))

    def to_frame(self) -> pd.DataFrame:
        """One row per (group and) item: ``a1, d1 .. dk, a, b1 .. bk`` and their SEs (``se_*``)."""
        frames = []
        for label, p in zip(self.groups, self.group_params):
            f = p.to_frame()
            if len(self.groups) > 1:
                f.insert(0, "group", label)
            frames.append(f)
        out = pd.concat(frames, ignore_index=True)
        se = self.se.drop(columns=[c for c in ("group", "item") if c in self.se.columns])
        se.columns = [f"se_{c}" for c in se.columns]
        return pd.concat([out, se.reset_index(drop=True)], axis=1)

    def summary(self) -> pd.DataFrame:
        """Model-level figures in one row."""
        return pd.DataFrame([{
            "model": self.model, "loglik": self.loglik, "aic": self.aic, "bic": self.bic,
            "n_params": self.n_params, "n_used": self.n_used, "n_dropped": self.n_dropped,
            "converged": self.converged, "iterations": self.iterations,
        }])

    # person scores and information live in their own modules
    def scores(self, items, method: str = "EAP", **kwargs) -> pd.DataFrame:
        """Person scores with SEs; see :func:`psyscreen.irt.scores.scores`."""
        from psyscreen.irt._scores import scores

        return scores(self, items, method=method, **kwargs)

    def eap_sum(self, **kwargs) -> pd.DataFrame:
        """The summed-score EAP table; see :func:`psyscreen.irt.scores.eap_sum`."""
        from psyscreen.irt._scores import eap_sum

        return eap_sum(self, **kwargs)

    def item_information(self, theta, group: int = 0) -> pd.DataFrame:
        from psyscreen.irt._info import item_information

        return item_information(self.group_params[group], theta)

    def test_information(self, theta, group: int = 0) -> np.ndarray:
        from psyscreen.irt._info import test_information

        return test_information(self.group_params[group], theta)

    def se_curve(self, theta, group: int = 0) -> np.ndarray:
        from psyscreen.irt._info import se_curve

        return se_curve(self.group_params[group], theta)

    def information_at(self, cutoffs, scale: str = "theta", **kwargs) -> pd.DataFrame:
        from psyscreen.irt._info import information_at

        return information_at(self, cutoffs, scale=scale, **kwargs)


def _param_names(st: Structure, items, labels) -> list[str]:
    names = []
    multi = st.n_groups > 1
    for j, item in enumerate(items):
        n_d = int(st.n_cat[j]) - 1
        if st.model != "Rasch":
            names += [f"{item}.a1"] if st.shared_a[j] else [f"{item}.a1[{g}]" for g in labels]
        dn = [f"{item}.d{k + 1}" for k in range(n_d)]
        names += dn if st.shared_d[j] else [f"{n}[{g}]" for g in labels for n in dn]
    sfx = (lambda g: f"[{g}]") if multi else (lambda g: "")
    names += [f"mean{sfx(g)}" for g, f in zip(labels, st.mean_free) if f]
    names += [f"var{sfx(g)}" for g, f in zip(labels, st.var_free) if f]
    return names


def _b_jacobian(model: str, beta: np.ndarray) -> np.ndarray:
    """Jacobian of (a, b1..bk) with respect to the item vector (a, d1..dk), or (b) wrt (d) for Rasch."""
    if model == "Rasch":
        m = beta.size
        jac = -np.eye(m)
        jac[np.arange(1, m), np.arange(m - 1)] = 1.0
        return jac
    a, d = beta[0], beta[1:]
    m = d.size
    jac = np.zeros((m + 1, m + 1))
    jac[0, 0] = 1.0
    jac[1:, 0] = d / a**2
    jac[np.arange(1, m + 1), np.arange(1, m + 1)] = -1.0 / a
    return jac


def build_result(*, st, state, items, categories, group_labels, loglik, n_used, n_dropped, converged,
                 iterations, information, notes, quadpts, theta_lim, tol) -> IRTResult:
    notes = list(notes)
    names = _param_names(st, items, group_labels)
    vcov = None
    if information is not None:
        try:
            np.linalg.cholesky(information)
            vcov = np.linalg.inv(information)
        except np.linalg.LinAlgError:
            msg = ("the observed information matrix is not positive definite: standard errors are not "
                   "available (the model may be empirically unidentified; check near-zero slopes or sparse "
                   "categories)")
            warnings.warn(msg, stacklevel=3)
            notes.append(msg)
    offsets = np.concatenate([[0], np.cumsum(st.n_free_item)]).astype(int)
    k_max = int(st.n_cat.max())
    group_params, se_rows = [], []
    for g, label in enumerate(group_labels):
        a, d = group_items(st, state, g)
        group_params.append(ItemParams(tuple(items), st.model, a, d, st.n_cat))
        for j, item in enumerate(items):
            row = {"group": label, "item": item}
            n_d = int(st.n_cat[j]) - 1
            se_si = np.full(k_max, np.nan)  # a1, d1..
            se_irt = np.full(k_max, np.nan)
            if vcov is not None:
                pos = offsets[j] + st.idx[j][g]
                cov = vcov[np.ix_(pos, pos)]
                beta = state.free_items[j][st.idx[j][g]]
                jac = _b_jacobian(st.model, beta)
                cov_irt = jac @ cov @ jac.T
                sd, sd_irt = np.sqrt(np.diag(cov)), np.sqrt(np.diag(cov_irt))
                if st.model == "Rasch":
                    se_si[1 : 1 + n_d], se_irt[1 : 1 + n_d] = sd, sd_irt
                else:
                    se_si[: 1 + n_d], se_irt[: 1 + n_d] = sd, sd_irt
            row.update({"a1": se_si[0], **{f"d{k}": se_si[k] for k in range(1, k_max)}})
            row.update({"a": se_irt[0], **{f"b{k}": se_irt[k] for k in range(1, k_max)}})
            se_rows.append(row)
    se = pd.DataFrame(se_rows)
    if len(group_labels) == 1:
        se = se.drop(columns="group")
    n_item_free = int(offsets[-1])
    sd_all = np.sqrt(np.diag(vcov)) if vcov is not None else None
    lat_rows, pos = [], n_item_free
    mean_pos = {}
    for g in range(st.n_groups):
        if st.mean_free[g]:
            mean_pos[g] = pos
            pos += 1
    var_pos = {}
    for g in range(st.n_groups):
        if st.var_free[g]:
            var_pos[g] = pos
            pos += 1
    for g, label in enumerate(group_labels):
        lat_rows.append({
            "group": label, "mean": state.mean[g], "var": state.var[g],
            "se_mean": sd_all[mean_pos[g]] if (sd_all is not None and g in mean_pos) else np.nan,
            "se_var": sd_all[var_pos[g]] if (sd_all is not None and g in var_pos) else np.nan,
            "mean_free": bool(st.mean_free[g]), "var_free": bool(st.var_free[g]),
        })
    n_params = st.n_params
    return IRTResult(
        params=group_params[0], group_params=tuple(group_params), groups=tuple(group_labels), se=se,
        vcov=None if vcov is None else pd.DataFrame(vcov, index=names, columns=names),
        loglik=float(loglik), aic=float(-2 * loglik + 2 * n_params),
        bic=float(-2 * loglik + n_params * np.log(n_used)), n_params=n_params, n_used=n_used,
        n_dropped=n_dropped, converged=bool(converged), iterations=int(iterations),
        latent=pd.DataFrame(lat_rows), warnings=tuple(notes), categories=tuple(categories), quadpts=quadpts,
        theta_lim=theta_lim, tol=tol, structure=st, state=state,
    )
