"""The DOLFINx/PETSc layer: energies to UFL forms, problems, stepping, output.

Importing this package without DOLFINx raises an ImportError that names both
install paths (the ``wheels`` extra, or an existing DOLFINx on a cluster).
"""

from femgp.fem._backend import import_dolfinx

import_dolfinx()

from femgp.fem.forms import UFL_OPS, energy_form, field_values  # noqa: E402
from femgp.fem.problems import NonlinearProblem, SolveStats  # noqa: E402
from femgp.fem.stepping import AdaptiveStepper  # noqa: E402

__all__ = [
    "UFL_OPS",
    "AdaptiveStepper",
    "NonlinearProblem",
    "SolveStats",
    "energy_form",
    "field_values",
]
