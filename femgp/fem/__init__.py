"""The DOLFINx/PETSc layer: energies to UFL forms, problems, stepping, output.

Importing this package without DOLFINx raises an ImportError that names both
install paths (the ``wheels`` extra, or an existing DOLFINx on a cluster).
"""

import femgp.fem._backend  # noqa: F401  (dolfinx_solver before dolfinx)

from femgp.fem.forms import UFL_OPS, energy_form, field_values
from femgp.fem.periodic import PeriodicConstraint
from femgp.fem.problems import NonlinearProblem, SolveStats
from femgp.fem.stepping import AdaptiveStepper

__all__ = [
    "UFL_OPS",
    "AdaptiveStepper",
    "NonlinearProblem",
    "PeriodicConstraint",
    "SolveStats",
    "energy_form",
    "field_values",
]
