"""Operator namespaces that energy densities are written against.

A density is written once, e.g. ``kappa / 2 * ops.inner(g, g)``, and evaluated
by whichever namespace is passed: :data:`NUMPY_OPS` here, the UFL namespace in
:mod:`femgp.fem.forms` and the torch namespace in :mod:`femgp.ml`.

Array convention for array backends: with ``points=True`` the *point* axis is
the last one, so that scalars have shape ``(n,)``, vectors ``(d, n)`` and
tensors ``(d, d, n)``, and a scalar times a tensor broadcasts exactly as it does
in UFL. With ``points=False`` values are single points: floats, ``(d,)`` and
``(d, d)`` arrays.

Every namespace provides the names listed in :data:`OPS_NAMES`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["NUMPY_OPS", "NUMPY_POINTS_OPS", "OPS_NAMES", "NumpyOps"]

#: The names every ops namespace must provide.
OPS_NAMES: tuple[str, ...] = (
    "sqrt",
    "exp",
    "log",
    "cos",
    "atan2",
    "abs",
    "inner",
    "norm",
    "dot",
    "transpose",
    "tr",
    "sym",
    "dev",
    "det",
    "identity",
    "pos",
    "neg",
    "max",
    "min",
    "as_tensor",
)


class NumpyOps:
    """numpy implementation of the ops namespace.

    Args:
        points: whether arrays carry a trailing point axis.
    """

    name = "numpy"

    def __init__(self, *, points: bool = False) -> None:
        self.points = points

    def _rank(self, a: np.ndarray) -> int:
        return a.ndim - 1 if self.points else a.ndim

    @staticmethod
    def sqrt(x: Any) -> Any:
        return np.sqrt(x)

    @staticmethod
    def exp(x: Any) -> Any:
        return np.exp(x)

    @staticmethod
    def log(x: Any) -> Any:
        return np.log(x)

    @staticmethod
    def cos(x: Any) -> Any:
        return np.cos(x)

    @staticmethod
    def atan2(y: Any, x: Any) -> Any:
        """The angle of ``(x, y)`` in ``(-pi, pi]`` (``numpy.arctan2(y, x)``)."""
        return np.arctan2(y, x)

    @staticmethod
    def abs(x: Any) -> Any:
        return np.abs(x)

    def inner(self, a: Any, b: Any) -> Any:
        """Full contraction of two scalars, vectors or tensors at each point."""
        a = np.asarray(a, dtype=float)
        b = np.asarray(b, dtype=float)
        rank = self._rank(a)
        return np.sum(a * b, axis=tuple(range(rank))) if rank > 0 else a * b

    def norm(self, a: Any) -> Any:
        """Euclidean (Frobenius) norm at each point."""
        return np.sqrt(self.inner(a, a))

    def dot(self, a: Any, b: Any) -> Any:
        """Matrix-matrix, matrix-vector or vector-vector product at each point."""
        a = np.asarray(a, dtype=float)
        b = np.asarray(b, dtype=float)
        ra, rb = self._rank(a), self._rank(b)
        sa = {1: "j", 2: "ij"}[ra]
        sb = {1: "j", 2: "jk"}[rb]
        out = {(2, 2): "ik", (2, 1): "i", (1, 2): "k", (1, 1): ""}[(ra, rb)]
        return np.einsum(f"{sa}...,{sb}...->{out}...", a, b)

    @staticmethod
    def transpose(A: Any) -> Any:
        return np.swapaxes(np.asarray(A, dtype=float), 0, 1)

    @staticmethod
    def tr(A: Any) -> Any:
        return np.trace(np.asarray(A, dtype=float), axis1=0, axis2=1)

    def sym(self, A: Any) -> Any:
        return 0.5 * (np.asarray(A, dtype=float) + self.transpose(A))

    def dev(self, A: Any) -> Any:
        A = np.asarray(A, dtype=float)
        d = A.shape[0]
        return A - self.tr(A) / d * self.identity(d)

    def det(self, A: Any) -> Any:
        A = np.asarray(A, dtype=float)
        return np.linalg.det(np.moveaxis(A, (0, 1), (-2, -1)))

    def as_tensor(self, values: Any) -> Any:
        """A constant vector or matrix (nested sequences), with the point axis if ``points``."""
        a = np.asarray(values, dtype=float)
        return a[..., None] if self.points and a.ndim >= 1 else a

    def identity(self, d: int) -> Any:
        eye = np.eye(d)
        return eye[:, :, None] if self.points else eye

    @staticmethod
    def pos(x: Any) -> Any:
        """Positive part (Macaulay bracket) ``(x + |x|) / 2``."""
        return 0.5 * (x + np.abs(x))

    @staticmethod
    def neg(x: Any) -> Any:
        """Negative part ``(x - |x|) / 2`` (non-positive)."""
        return 0.5 * (x - np.abs(x))

    @staticmethod
    def max(a: Any, b: Any) -> Any:
        return np.maximum(a, b)

    @staticmethod
    def min(a: Any, b: Any) -> Any:
        return np.minimum(a, b)


#: numpy ops on single points.
NUMPY_OPS = NumpyOps(points=False)
#: numpy ops on arrays with a trailing point axis.
NUMPY_POINTS_OPS = NumpyOps(points=True)
