"""psyscreen: school mental-health screening.

Instruments as data, vectorised scoring, norms, reliability and validity analysis, and rule-based
warning levels, with a click CLI (``psyscreen``) for batch work and this API for notebooks.

Examples
--------
>>> import psyscreen
>>> "phq9" in psyscreen.list_instruments()
True
"""

__version__ = "0.1.0"

from .classify import classify  # noqa: E402
from .exports import Exports, ExportsError, read_exports  # noqa: E402
from .instrument import Instrument, InstrumentError, list_instruments, load_instrument  # noqa: E402
from .protocol import Protocol, ProtocolError, list_protocols, load_protocol  # noqa: E402
from .screening import ScreenResult, screen  # noqa: E402
from .scoring import (  # noqa: E402
    MissingColumnsError,
    ResponseError,
    Scored,
    score,
    score_items,
    score_with_quarantine,
)

__all__ = [
    "Protocol",
    "ProtocolError",
    "classify",
    "Exports",
    "ExportsError",
    "read_exports",
    "list_protocols",
    "load_protocol",
    "Instrument",
    "InstrumentError",
    "MissingColumnsError",
    "ResponseError",
    "Scored",
    "ScreenResult",
    "screen",
    "list_instruments",
    "load_instrument",
    "score",
    "score_items",
    "score_with_quarantine",
]
