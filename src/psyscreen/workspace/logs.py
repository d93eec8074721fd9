"""The server log: what went wrong and where in the code, never the data it went wrong on.

Django logs an unhandled error (``django.request``) with the request path and the exception. A path holds only
opaque case ids, but an exception's message can quote a value (a database error repeats the row it refused), so
the traceback is written with its frames (file, line, function) and the exception's type only, without its
message or the source lines.

Examples
--------
>>> import logging, sys
>>> try:
...     raise ValueError("student S0001 answered 3")
... except ValueError:
...     record = logging.LogRecord("django.request", logging.ERROR, __file__, 1, "Internal Server Error: %s",
...                                ("/case/x/",), sys.exc_info())
>>> text = DataFreeFormatter("%(message)s").format(record)
>>> "S0001" in text, text.splitlines()[-1]
(False, 'ValueError (message withheld: it may quote student data)')
"""

from __future__ import annotations

import logging
import sys
import traceback

__all__ = ["DataFreeFormatter"]


class DataFreeFormatter(logging.Formatter):
    """A formatter whose tracebacks keep the frames and the exception type, not the exception's message."""

    def formatException(self, ei) -> str:
        etype, _, tb = ei
        frames = "".join(f'  File "{f.filename}", line {f.lineno}, in {f.name}\n' for f in traceback.extract_tb(tb))
        return f"Traceback (most recent call last):\n{frames}{etype.__name__} (message withheld: it may quote student data)"
