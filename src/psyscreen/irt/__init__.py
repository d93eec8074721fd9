"""Item response theory (issue 12): unidimensional graded, 2PL and Rasch models by marginal ML, as R mirt."""

from psyscreen.irt._model import ItemParams, encode, quadrature, trace

__all__ = ["ItemParams", "trace", "quadrature", "encode"]
