"""Typed errors of the IRT engine: each says what is wrong and what to do."""

from __future__ import annotations

__all__ = ["IRTError", "IRTDataError", "IRTGroupError", "IRTConvergenceError"]


class IRTError(ValueError):
    """Base class: an IRT model cannot be fitted or used as asked."""


class IRTDataError(IRTError):
    """The item answers cannot be modelled (e.g. an item with a single observed category)."""


class IRTGroupError(IRTError):
    """The groups of a multiple-group fit cannot be used (too few students, categories unseen, ...)."""


class IRTConvergenceError(IRTError):
    """The EM algorithm did not converge; ``result`` holds the last (unconverged) estimates."""

    def __init__(self, message: str, result=None):
        super().__init__(message)
        self.result = result
