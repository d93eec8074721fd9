"""Which parameters are estimated: items' free vectors across groups (invariance) and the latent means/variances.

Each item has one free vector; ``idx[g]`` picks group ``g``'s item vector (slope first for graded/2PL, then
the intercepts) out of it, so shared (invariant) parameters occupy one slot used by every group.
The reference group (the first) has a N(0, 1) latent distribution, except that the Rasch model estimates
its variance (slopes fixed at 1, as mirt's ``itemtype = "Rasch"``). Other groups are N(0, 1) too unless
``invariance`` has ``"free_means"`` / ``"free_var"`` (and always free variance under Rasch).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from psyscreen.irt._errors import IRTError

__all__ = ["Structure", "build_structure", "INVARIANCE_KEYWORDS"]

INVARIANCE_KEYWORDS = ("slopes", "intercepts", "free_means", "free_var")


@dataclass(frozen=True, eq=False)
class Structure:
    model: str
    n_groups: int
    n_cat: np.ndarray
    idx: tuple  # idx[j][g] -> int array into item j's free vector
    n_free_item: tuple  # length of each item's free vector
    mean_free: np.ndarray  # (G,) bool
    var_free: np.ndarray  # (G,) bool
    shared_a: np.ndarray  # (J,) bool
    shared_d: np.ndarray  # (J,) bool

    @property
    def n_params(self) -> int:
        return int(sum(self.n_free_item) + self.mean_free.sum() + self.var_free.sum())


def build_structure(model: str, n_cat: np.ndarray, items: tuple[str, ...], n_groups: int, invariance) -> Structure:
    invariance = tuple(invariance or ())
    unknown = [v for v in invariance if v not in INVARIANCE_KEYWORDS and v not in items]
    if unknown:
        raise IRTError(
            f"unknown invariance option(s) {unknown}: use any of {list(INVARIANCE_KEYWORDS)} "
            "or item names (an item name constrains all of that item's parameters across groups)"
        )
    if invariance and n_groups == 1:
        raise IRTError("invariance= needs groups=: with one group every parameter is already common")
    n_items = len(items)
    shared_a = np.array([n_groups == 1 or "slopes" in invariance or it in invariance for it in items])
    shared_d = np.array([n_groups == 1 or "intercepts" in invariance or it in invariance for it in items])
    has_slope = model != "Rasch"
    idx, sizes = [], []
    for j in range(n_items):
        n_d = int(n_cat[j]) - 1
        pos = 0
        groups_idx = [[] for _ in range(n_groups)]
        if has_slope:
            for g in range(n_groups):
                groups_idx[g].append(pos if shared_a[j] else pos + g)
            pos += 1 if shared_a[j] else n_groups
        for g in range(n_groups):
            base = pos if shared_d[j] else pos + g * n_d
            groups_idx[g].extend(range(base, base + n_d))
        pos += n_d if shared_d[j] else n_groups * n_d
        idx.append(tuple(np.array(gi, dtype=int) for gi in groups_idx))
        sizes.append(pos)
    mean_free = np.zeros(n_groups, dtype=bool)
    var_free = np.zeros(n_groups, dtype=bool)
    if n_groups > 1:
        mean_free[1:] = "free_means" in invariance
        var_free[1:] = "free_var" in invariance
    if model == "Rasch":
        var_free[:] = True
    if mean_free.any() and not shared_d.any():
        raise IRTError(
            "free_means needs anchor items: add 'intercepts' (or item names) to invariance, otherwise the "
            "group means are not identified"
        )
    if has_slope and var_free[1:].any() and not shared_a.any():
        raise IRTError(
            "free_var needs anchor items: add 'slopes' (or item names) to invariance, otherwise the "
            "group variances are not identified"
        )
    return Structure(model, n_groups, np.asarray(n_cat), tuple(idx), tuple(sizes), mean_free, var_free,
                     shared_a, shared_d)
