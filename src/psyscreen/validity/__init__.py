"""Validity evidence: EFA, CFA, measurement invariance and ROC cutoffs.

Each topic lives in its own module; the public functions are re-exported here, e.g.
``psyscreen.validity.efa(items, 5)`` (psych::fa), ``psyscreen.validity.cfa(data, model)`` (lavaan::cfa),
``psyscreen.validity.invariance(data, model, group)`` (lavaan group.equal steps),
``psyscreen.validity.polychoric(items)`` / ``tetrachoric(items)`` (psych::polychoric / tetrachoric, or
lavaan::lavCor), ``psyscreen.validity.roc(score, criterion)`` (pROC), ``psyscreen.validity.growth(data, model)``
(lavaan::growth), ``psyscreen.validity.modindices(fit)`` (lavaan::modindices), ``psyscreen.validity.htmt(data,
model)`` and ``discriminant_validity(fit)`` (semTools::htmt, Fornell-Larcker), ``bootstrap_cfa`` (percentile CIs).
"""

from .bootstrap import BootstrapResult, bootstrap_cfa, bootstrap_omega
from .cfa import CFAResult, cfa
from .discriminant import DiscriminantValidity, discriminant_validity, htmt
from .efa import EFAResult, FactorAnalysisError, bartlett, congruence, efa, kmo, match_factors, parallel_analysis
from .growth import growth
from .invariance import InvarianceResult, invariance
from .modindices import modindices
from .polychoric import PolychoricError, PolychoricResult, polychoric, tetrachoric
from .roc import ROCResult, roc

__all__ = [
    "BootstrapResult", "CFAResult", "DiscriminantValidity", "EFAResult", "FactorAnalysisError", "InvarianceResult",
    "PolychoricError", "PolychoricResult", "ROCResult",
    "bartlett", "bootstrap_cfa", "bootstrap_omega", "cfa", "congruence", "discriminant_validity", "efa", "growth",
    "htmt", "invariance", "kmo", "match_factors", "modindices", "parallel_analysis", "polychoric", "roc",
    "tetrachoric",
]
