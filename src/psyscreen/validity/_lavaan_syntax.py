"""A parser for the subset of the lavaan model syntax that a confirmatory factor analysis needs.

Supported (as in ``lavaan::lavaanify``):

- ``f =~ a + b + c``: factor ``f`` measured by ``a``, ``b``, ``c``;
- ``a ~~ b``: a (residual) covariance, or a variance when ``a ~~ a``;
- ``a ~ 1``: an intercept (observed) or a mean (latent);
- premultipliers on a right-hand term: a fixed value (``1*a``, ``0.5*a``), ``NA*a`` (free the
  parameter, e.g. the first loading), or a label (``l1*a``; the same label means the same
  parameter, also across groups); several premultipliers may be chained (``NA*l1*a``);
- comments from ``#`` or ``!`` to the end of the line; statements separated by newlines or ``;``;
  a statement may continue on the next line after a trailing ``+`` or operator.

Anything else (regressions ``~``, defined parameters ``:=``, constraints ``==``, ``c(...)``
modifiers, formative ``<~``) raises :class:`ModelSyntaxError` with the line and the token.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

__all__ = ["ModelSyntaxError", "ParTerm", "parse_model"]

_OPERATORS = ("=~", "~~", ":=", "<~", "==", "~", "<", ">")
_SUPPORTED = ("=~", "~~", "~")
_NAME = re.compile(r"^[A-Za-z_.][A-Za-z0-9_.]*$")
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


class ModelSyntaxError(ValueError):
    """The model text is not lavaan syntax that psyscreen understands.

    Attributes
    ----------
    line : int
        1-based line number in the model text.
    token : str
        The offending token (or the whole statement when no single token is at fault).
    """

    def __init__(self, message: str, *, line: int, token: str) -> None:
        self.line = line
        self.token = token
        super().__init__(f"model syntax, line {line}, at {token!r}: {message}")


@dataclass(frozen=True)
class ParTerm:
    """One parameter named in the model text.

    ``op`` is ``"=~"`` (loading of ``rhs`` on factor ``lhs``), ``"~~"`` ((co)variance) or
    ``"~1"`` (intercept or mean of ``lhs``; ``rhs`` is empty). ``fixed`` is the fixed value
    (``None`` when free), ``free`` is True when the user explicitly freed it with ``NA*``,
    ``label`` the user's label or ``None``.
    """

    lhs: str
    op: str
    rhs: str
    fixed: float | None
    free: bool
    label: str | None
    line: int


def _strip_comment(text: str) -> str:
    for mark in ("#", "!"):
        pos = text.find(mark)
        if pos >= 0:
            text = text[:pos]
    return text


def _statements(model: str) -> list[tuple[str, int]]:
    """Split the text into statements with the line each starts on (continuations joined)."""
    out: list[tuple[str, int]] = []
    pending = ""
    pending_line = 0
    for lineno, raw in enumerate(model.splitlines(), start=1):
        for part in _strip_comment(raw).split(";"):
            part = part.strip()
            if not part:
                continue
            if pending:
                pending = f"{pending} {part}"
            else:
                pending, pending_line = part, lineno
            # a statement ending with '+', '*' or an operator continues on the next line
            if pending.endswith(("+", "*")) or pending.endswith(_OPERATORS):
                continue
            out.append((pending, pending_line))
            pending = ""
    if pending:
        raise ModelSyntaxError("statement ends unfinished", line=pending_line, token=pending)
    return out


def _find_operator(stmt: str, line: int) -> tuple[str, int]:
    for op in _OPERATORS:  # longest first: '=~' and '~~' before '~'
        pos = stmt.find(op)
        if pos >= 0:
            if op not in _SUPPORTED:
                raise ModelSyntaxError(
                    f"operator {op!r} is not supported (only '=~', '~~' and '~ 1')", line=line, token=op
                )
            return op, pos
    raise ModelSyntaxError("no operator ('=~', '~~' or '~ 1') in this statement", line=line, token=stmt)


def _parse_term(term: str, line: int) -> tuple[str, float | None, bool, str | None]:
    """``'0.5*x1'`` -> (``'x1'``, 0.5, False, None); ``'NA*l1*x1'`` -> (``'x1'``, None, True, ``'l1'``)."""
    parts = [p.strip() for p in term.split("*")]
    if any(p == "" for p in parts):
        raise ModelSyntaxError("empty premultiplier or variable", line=line, token=term)
    name = parts[-1]
    if not _NAME.match(name):
        raise ModelSyntaxError("not a variable name", line=line, token=name)
    fixed: float | None = None
    free = False
    label: str | None = None
    for mod in parts[:-1]:
        if "(" in mod or ")" in mod:
            raise ModelSyntaxError("modifier functions such as c(), start(), equal() are not supported",
                                   line=line, token=mod)
        if mod == "NA":
            free = True
        elif _NUMBER.match(mod):
            fixed = float(mod)
            if not math.isfinite(fixed):
                raise ModelSyntaxError("fixed value must be finite", line=line, token=mod)
        elif _NAME.match(mod):
            label = mod
        else:
            raise ModelSyntaxError("premultiplier must be a number, NA or a label", line=line, token=mod)
    if free and fixed is not None:
        raise ModelSyntaxError("a parameter cannot be both NA (free) and fixed", line=line, token=term)
    return name, fixed, free, label


def parse_model(model: str) -> list[ParTerm]:
    """Parse lavaan model syntax into a flat list of :class:`ParTerm`.

    Parameters
    ----------
    model : str
        lavaan model syntax, e.g. ``"visual =~ x1 + x2 + x3\\ntextual =~ x4 + x5 + x6"``.

    Returns
    -------
    list of ParTerm
        In the order written. Defaults (first loading fixed, variances) are not added here.

    Raises
    ------
    ModelSyntaxError
        With the 1-based line and the offending token.

    Examples
    --------
    >>> [(t.lhs, t.op, t.rhs, t.fixed) for t in parse_model("f =~ 1*a + b  # comment; x")]
    [('f', '=~', 'a', 1.0), ('f', '=~', 'b', None)]
    """
    if not isinstance(model, str):
        raise TypeError(f"model must be a str of lavaan syntax, got {type(model).__name__}")
    terms: list[ParTerm] = []
    for stmt, line in _statements(model):
        op, pos = _find_operator(stmt, line)
        lhs = stmt[:pos].strip()
        rhs = stmt[pos + len(op):].strip()
        if not lhs:
            raise ModelSyntaxError("missing left-hand side", line=line, token=op)
        if not _NAME.match(lhs):
            raise ModelSyntaxError("left-hand side must be a single variable name", line=line, token=lhs)
        if not rhs:
            raise ModelSyntaxError("missing right-hand side", line=line, token=op)
        if op == "~":
            # only intercepts / means: 'x ~ 1' (optionally with a premultiplier: 'x ~ 0*1', 'x ~ a*1')
            fixed, free, label = None, False, None
            parts = [p.strip() for p in rhs.split("*")]
            if parts[-1] != "1" or "+" in rhs:
                raise ModelSyntaxError("regressions ('y ~ x') are not supported; only intercepts 'x ~ 1'",
                                       line=line, token=rhs)
            if len(parts) > 1:
                _, fixed, free, label = _parse_term("*".join(parts[:-1] + ["dummy"]), line)
            terms.append(ParTerm(lhs, "~1", "", fixed, free, label, line))
            continue
        pieces = [p.strip() for p in rhs.split("+")]
        for piece in pieces:
            if not piece:
                raise ModelSyntaxError("empty term between '+'", line=line, token=rhs)
            name, fixed, free, label = _parse_term(piece, line)
            terms.append(ParTerm(lhs, op, name, fixed, free, label, line))
    if not terms:
        raise ModelSyntaxError("the model is empty", line=1, token="")
    return terms
