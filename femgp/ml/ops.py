"""The torch ops namespace, and the per-sample convention for learning.

:class:`TorchOps` implements every name in :data:`femgp.energy.ops.OPS_NAMES`
with exactly the conventions of :class:`femgp.energy.ops.NumpyOps`: with
``points=True`` the *point* axis is the last one (scalars ``(n,)``, vectors
``(d, n)``, tensors ``(d, d, n)``); with ``points=False`` values are single
points. In float64 it reproduces the numpy densities to rounding.

Machine learning puts the *batch* axis first and treats everything else
(channels, pixels) as one vector per sample. :func:`per_sample_density` bridges
the two: it reshapes a per-sample gradient of shape ``(B, ...)`` to ``(D, B)``
(one ``D``-vector per point, the batch being the points) and evaluates an
energy term on it, so that a :class:`~femgp.energy.GradientPenalty` becomes a
per-sample penalty whose norm runs over *all* non-batch dimensions, never per
pixel.

One deliberate difference from numpy: :meth:`TorchOps.norm` has a zero
(sub)gradient at zero, where ``sqrt`` alone would give ``0 * inf = NaN``.
"""

from __future__ import annotations

from typing import Any

import torch

from femgp.energy.ops import OPS_NAMES
from femgp.energy.terms import FieldValue, Term
from femgp.errors import InputError

__all__ = [
    "TORCH_OPS",
    "TORCH_POINTS_OPS",
    "TorchOps",
    "per_sample_density",
    "per_sample_norm",
    "safe_norm",
    "safe_sqrt",
]


def safe_sqrt(s: torch.Tensor) -> torch.Tensor:
    """``sqrt(s)`` for ``s >= 0`` whose derivative at ``s = 0`` is 0, not ``inf``.

    Values are exactly ``torch.sqrt(s)``; a NaN in ``s`` stays NaN (it is never
    masked). First and second derivatives are finite everywhere, so the
    function is safe inside double backpropagation.
    """
    zero = s == 0
    inner = torch.where(zero, torch.ones_like(s), s)
    return torch.where(zero, torch.zeros_like(s), torch.sqrt(inner))


def safe_norm(x: torch.Tensor, *, dim: int | tuple[int, ...] | None = None) -> torch.Tensor:
    """Euclidean norm over ``dim`` (all dimensions if ``None``) with a zero gradient at zero."""
    sq = (x * x).sum() if dim is None else (x * x).sum(dim=dim)
    return safe_sqrt(sq)


class TorchOps:
    """torch implementation of the ops namespace (see :mod:`femgp.energy.ops`).

    Args:
        points: whether arrays carry a trailing point axis.
        dtype: dtype of tensors this namespace creates (``identity``, and python
            scalars turned into tensors); ``None``: float64 for scalars (they
            never promote a dimensioned tensor) and the default dtype for
            ``identity``.
        device: device of tensors this namespace creates.
    """

    name = "torch"

    def __init__(
        self,
        *,
        points: bool = False,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        self.points = bool(points)
        self.dtype = dtype
        self.device = device

    def __repr__(self) -> str:
        return f"TorchOps(points={self.points}, dtype={self.dtype}, device={self.device})"

    # -- helpers -------------------------------------------------------------
    def _t(self, x: Any) -> torch.Tensor:
        """``x`` as a floating tensor (tensors pass through, numbers become 0-d tensors)."""
        if isinstance(x, torch.Tensor):
            return x if x.is_floating_point() else x.to(torch.get_default_dtype())
        if isinstance(x, int | float):
            return torch.tensor(float(x), dtype=self.dtype or torch.float64, device=self.device)
        t = torch.as_tensor(x, device=self.device)
        return t if t.is_floating_point() else t.to(torch.get_default_dtype())

    def _rank(self, a: torch.Tensor) -> int:
        return a.ndim - 1 if self.points else a.ndim

    # -- elementwise ---------------------------------------------------------
    def sqrt(self, x: Any) -> torch.Tensor:
        """Elementwise square root (plain ``torch.sqrt``, like ``np.sqrt``)."""
        return torch.sqrt(self._t(x))

    def exp(self, x: Any) -> torch.Tensor:
        """Elementwise exponential."""
        return torch.exp(self._t(x))

    def log(self, x: Any) -> torch.Tensor:
        """Elementwise natural logarithm."""
        return torch.log(self._t(x))

    def abs(self, x: Any) -> torch.Tensor:
        """Elementwise absolute value."""
        return torch.abs(self._t(x))

    def pos(self, x: Any) -> torch.Tensor:
        """Positive part (Macaulay bracket) ``(x + |x|) / 2``, computed as ``max(x, 0)``."""
        return torch.clamp(self._t(x), min=0.0)

    def neg(self, x: Any) -> torch.Tensor:
        """Negative part ``(x - |x|) / 2`` (non-positive), computed as ``min(x, 0)``."""
        return torch.clamp(self._t(x), max=0.0)

    def max(self, a: Any, b: Any) -> torch.Tensor:
        """Elementwise maximum (``np.maximum``)."""
        a, b = self._t(a), self._t(b)
        return torch.maximum(a, b.to(a.device))

    def min(self, a: Any, b: Any) -> torch.Tensor:
        """Elementwise minimum (``np.minimum``)."""
        a, b = self._t(a), self._t(b)
        return torch.minimum(a, b.to(a.device))

    # -- contractions --------------------------------------------------------
    def inner(self, a: Any, b: Any) -> torch.Tensor:
        """Full contraction of two scalars, vectors or tensors at each point."""
        a, b = self._t(a), self._t(b)
        rank = self._rank(a)
        return torch.sum(a * b, dim=tuple(range(rank))) if rank > 0 else a * b

    def norm(self, a: Any) -> torch.Tensor:
        """Euclidean (Frobenius) norm at each point, with a zero gradient at zero."""
        return safe_sqrt(self.inner(a, a))

    def dot(self, a: Any, b: Any) -> torch.Tensor:
        """Matrix-matrix, matrix-vector or vector-vector product at each point."""
        a, b = self._t(a), self._t(b)
        ra, rb = self._rank(a), self._rank(b)
        try:
            sa = {1: "j", 2: "ij"}[ra]
            sb = {1: "j", 2: "jk"}[rb]
        except KeyError:
            raise InputError(f"dot needs vectors or matrices, got ranks {ra} and {rb}") from None
        out = {(2, 2): "ik", (2, 1): "i", (1, 2): "k", (1, 1): ""}[(ra, rb)]
        return torch.einsum(f"{sa}...,{sb}...->{out}...", a, b)

    def transpose(self, A: Any) -> torch.Tensor:
        """Swap the two tensor axes (the point axis stays last)."""
        return torch.swapaxes(self._t(A), 0, 1)

    def tr(self, A: Any) -> torch.Tensor:
        """Trace over the two tensor axes."""
        return torch.diagonal(self._t(A), dim1=0, dim2=1).sum(-1)

    def sym(self, A: Any) -> torch.Tensor:
        """Symmetric part ``(A + A^T) / 2``."""
        A = self._t(A)
        return 0.5 * (A + self.transpose(A))

    def dev(self, A: Any) -> torch.Tensor:
        """Deviatoric part ``A - tr(A)/d I``."""
        A = self._t(A)
        d = A.shape[0]
        eye = torch.eye(d, dtype=A.dtype, device=A.device)
        if self.points:
            eye = eye[:, :, None]
        return A - self.tr(A) / d * eye

    def det(self, A: Any) -> torch.Tensor:
        """Determinant at each point."""
        A = self._t(A)
        return torch.linalg.det(torch.movedim(A, (0, 1), (-2, -1)))

    def as_tensor(self, matrix: Any) -> torch.Tensor:
        """A constant (nested sequence of numbers) as a tensor, exact: ``self.dtype`` or float64.

        With ``points`` a matrix gets a trailing length-1 point axis, as
        :func:`femgp.energy.landau.constant_tensor` expects. Pass
        ``TorchOps(dtype=torch.float32)`` to keep float32 pipelines in float32.
        """
        t = torch.as_tensor(matrix, dtype=self.dtype or torch.float64, device=self.device)
        return t[..., None] if self.points and t.ndim >= 1 else t

    def identity(self, d: int) -> torch.Tensor:
        """The ``d x d`` identity (with a trailing length-1 point axis if ``points``)."""
        eye = torch.eye(d, dtype=self.dtype or torch.get_default_dtype(), device=self.device)
        return eye[:, :, None] if self.points else eye


# Keep the namespace complete: every name the vocabulary may use.
_missing = [n for n in OPS_NAMES if not hasattr(TorchOps, n)]
if _missing:  # pragma: no cover - guards future additions to OPS_NAMES
    raise ImportError(f"TorchOps lacks ops {_missing}; add them to femgp/ml/ops.py")

#: torch ops on single points.
TORCH_OPS = TorchOps(points=False)
#: torch ops on arrays with a trailing point axis.
TORCH_POINTS_OPS = TorchOps(points=True)


def _as_points(g: torch.Tensor) -> torch.Tensor:
    """Reshape a batch-first ``(B, ...)`` tensor to ``(D, B)`` (point axis last)."""
    if g.ndim < 1:
        raise InputError(f"a per-sample gradient needs a batch axis, got shape {tuple(g.shape)}")
    return g.reshape(g.shape[0], -1).transpose(0, 1)


def per_sample_norm(g: torch.Tensor) -> torch.Tensor:
    """The norm of each sample of ``g`` (shape ``(B, ...)``) over all non-batch dims, ``(B,)``.

    The gradient of the norm is zero (not NaN) where a sample's gradient is zero.
    """
    return TORCH_POINTS_OPS.norm(_as_points(g))


def per_sample_density(term: Term, grad: torch.Tensor) -> torch.Tensor:
    """Evaluate an energy term on a batch of per-sample gradients.

    The gradient ``grad`` of shape ``(B, ...)`` is reshaped to ``(D, B)`` so that
    each sample is one point carrying one ``D``-vector, and the term's density
    is evaluated with :data:`TORCH_POINTS_OPS`. For a
    :class:`~femgp.energy.GradientPenalty` with ``kappa = 2 lambda`` and
    ``target = 1`` this is ``lambda (||g_i|| - 1)^2`` per sample ``i``, the norm
    taken over every non-batch dimension.

    Args:
        term: a term of one field that depends only on that field's gradient.
        grad: per-sample gradients, batch first.

    Returns:
        The density per sample, shape ``(B,)``.
    """
    if not isinstance(term, Term):
        raise InputError(f"per_sample_density needs an energy Term, got {type(term).__name__}")
    names = term.fields
    if len(names) != 1:
        raise InputError(f"per_sample_density needs a term of one field, got fields {names}")
    if not isinstance(grad, torch.Tensor) or not grad.is_floating_point():
        what = grad.dtype if isinstance(grad, torch.Tensor) else type(grad).__name__
        raise InputError(f"grad must be a floating-point tensor, got {what}")
    out = term.density(TORCH_POINTS_OPS, {names[0]: FieldValue(value=None, grad=_as_points(grad))})
    if out.ndim != 1 or out.shape[0] != grad.shape[0]:  # pragma: no cover - defensive
        raise InputError(
            f"term {type(term).__name__} did not give one value per sample: {tuple(out.shape)}"
        )
    return out
