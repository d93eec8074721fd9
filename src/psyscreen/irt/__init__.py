"""Item response theory (issue 12): unidimensional graded, 2PL and Rasch models by marginal ML, as R mirt.

``fit`` estimates item parameters by EM (``mirt::mirt`` / ``multipleGroup``), ``IRTResult.scores`` gives
EAP / MAP / ML person scores (``mirt::fscores``), ``IRTResult.eap_sum`` the summed-score EAP table, and the
information functions say where on the trait a scale measures precisely.
"""

from psyscreen.irt._errors import IRTConvergenceError, IRTDataError, IRTError, IRTGroupError
from psyscreen.irt._fit import fit
from psyscreen.irt._model import ItemParams, encode, quadrature, trace
from psyscreen.irt._result import IRTResult

__all__ = [
    "fit",
    "IRTResult",
    "ItemParams",
    "trace",
    "quadrature",
    "encode",
    "IRTError",
    "IRTDataError",
    "IRTGroupError",
    "IRTConvergenceError",
]

# item fit, model fit and DIF (their own modules; the function names shadow the module names on purpose)
from psyscreen.irt.dif import DIFResult, dif  # noqa: E402
from psyscreen.irt.itemfit import ItemFitResult, itemfit  # noqa: E402
from psyscreen.irt.m2 import M2Result, m2  # noqa: E402

__all__ += ["itemfit", "ItemFitResult", "m2", "M2Result", "dif", "DIFResult"]
