"""The backend-free vocabulary of energy terms (needs only numpy).

Terms are frozen, validated dataclasses with densities written once against an
ops namespace; they add into an :class:`Energy`. See ``DESIGN.md``.
"""

from femgp.energy.elasticity import IsotropicElasticEnergy, SmallStrain, Strain
from femgp.energy.fracture import CrackDensity, Degradation
from femgp.energy.landau import LandauPolynomial, TransformationStrain
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
    "CrackDensity",
    "Degradation",
    "DoubleWell",
    "Energy",
    "FieldValue",
    "GradientPenalty",
    "IsotropicElasticEnergy",
    "LandauPolynomial",
    "NumpyOps",
    "SmallStrain",
    "SplitPart",
    "Strain",
    "Term",
    "TransformationStrain",
]
