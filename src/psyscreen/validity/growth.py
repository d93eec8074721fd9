"""Latent growth curve models, as ``lavaan::growth``.

A growth model is a CFA with a mean structure in which the observed intercepts are fixed at 0
and the means of the growth factors (intercept, slope) are free. :func:`growth` writes those
defaults into the model text (for the variables and factors the model does not already give an
intercept or mean) and fits it with :func:`psyscreen.validity.cfa.cfa`, so the model
``i =~ 1*t1 + 1*t2 + 1*t3 + 1*t4; s =~ 0*t1 + 1*t2 + 2*t3 + 3*t4`` gives the same estimates and
fit as ``lavaan::growth(model, data)`` (lavaan 0.6.14).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from psyscreen.validity._lavaan_syntax import parse_model
from psyscreen.validity.cfa import CFAResult, cfa

__all__ = ["growth"]


def growth(data: pd.DataFrame, model: str, **options: Any) -> CFAResult:
    """Fit a latent growth curve model, as ``lavaan::growth(model, data)``.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per person, one numeric column per measurement occasion.
    model : str
        lavaan syntax with fixed time scores, e.g.
        ``"i =~ 1*t1 + 1*t2 + 1*t3 + 1*t4; s =~ 0*t1 + 1*t2 + 2*t3 + 3*t4"``. Intercepts or means the
        model writes itself (``t1 ~ 1``, ``s ~ 0*1``) are kept as written.
    **options
        Passed to :func:`psyscreen.validity.cfa.cfa` (``group=``, ``group_equal=`` ...).

    Returns
    -------
    CFAResult
        With ``i ~ 1`` and ``s ~ 1`` rows holding the mean growth parameters.

    Notes
    -----
    lavaan's ``growth()`` is ``cfa()`` with ``int.ov.free = FALSE`` and ``int.lv.free = TRUE``:
    every observed intercept is fixed at 0 and every latent mean is free (with ``meanstructure``).
    ``cfa()`` on the same text, where only the latent means are freed, is not identified.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(3)
    >>> i, s = rng.normal(5, 1, size=(300, 1)), rng.normal(0.5, 0.3, size=(300, 1))
    >>> t = i + s * np.arange(4) + rng.normal(scale=0.5, size=(300, 4))
    >>> res = growth(pd.DataFrame(t, columns=["t1", "t2", "t3", "t4"]),
    ...              "i =~ 1*t1 + 1*t2 + 1*t3 + 1*t4; s =~ 0*t1 + 1*t2 + 2*t3 + 3*t4")
    >>> res.fit.df
    5
    >>> means = res.params.query("op == '~1'").set_index("lhs")["est"]
    >>> bool(abs(means["s"] - 0.5) < 0.1)
    True
    """
    terms = parse_model(model)
    lv = list(dict.fromkeys(t.lhs for t in terms if t.op == "=~"))
    ov = list(dict.fromkeys(n for t in terms for n in ([t.rhs] if t.op == "=~" else [t.lhs, t.rhs])
                            if n and n not in lv))
    given = {t.lhs for t in terms if t.op == "~1"}
    extra = [f"{v} ~ 0*1" for v in ov if v not in given] + [f"{f} ~ 1" for f in lv if f not in given]
    return cfa(data, "\n".join([model, *extra]), meanstructure=True, **options)
