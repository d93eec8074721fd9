"""Validity evidence: EFA, CFA, measurement invariance and ROC cutoffs.

Each topic lives in its own module; the public functions are re-exported here, e.g.
``psyscreen.validity.efa(items, 5)`` (psych::fa), ``psyscreen.validity.cfa(data, model)`` (lavaan::cfa),
``psyscreen.validity.invariance(data, model, group)`` (lavaan group.equal steps),
``psyscreen.validity.polychoric(items)`` / ``tetrachoric(items)`` (psych::polychoric / tetrachoric, or
lavaan::lavCor) and ``psyscreen.validity.roc(score, criterion)`` (pROC).
"""

from .cfa import CFAResult, cfa
from .efa import EFAResult, FactorAnalysisError, bartlett, congruence, efa, kmo, match_factors, parallel_analysis
from .invariance import InvarianceResult, invariance
from .polychoric import PolychoricError, PolychoricResult, polychoric, tetrachoric
from .roc import ROCResult, roc

__all__ = [
    "CFAResult", "EFAResult", "FactorAnalysisError", "InvarianceResult", "ROCResult",
    "bartlett", "cfa", "congruence", "efa", "invariance", "kmo", "match_factors", "parallel_analysis", "roc",
    "PolychoricError", "PolychoricResult", "polychoric", "tetrachoric",
]
