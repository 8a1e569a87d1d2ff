"""The backend-free vocabulary of energy terms (needs only numpy).

Terms are frozen, validated dataclasses with densities written once against an
ops namespace; they add into an :class:`Energy`. See ``DESIGN.md``.
"""

from femgp.energy.ops import NUMPY_OPS, NUMPY_POINTS_OPS, OPS_NAMES, NumpyOps
from femgp.energy.terms import (
    DoubleWell,
    Energy,
    FieldValue,
    GradientPenalty,
    SplitPart,
    Term,
)

__all__ = [
    "NUMPY_OPS",
    "NUMPY_POINTS_OPS",
    "OPS_NAMES",
    "DoubleWell",
    "Energy",
    "FieldValue",
    "GradientPenalty",
    "NumpyOps",
    "SplitPart",
    "Term",
]
