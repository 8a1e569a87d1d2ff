"""Ginzburg-Landau twinning: multi-variant martensite with gradient energy and elasticity.

``N`` order parameters ``eta_i`` (P1), one per martensite variant, relax by
time-dependent Ginzburg-Landau (Allen-Cahn) dynamics ``d eta/dt = -L dF/d eta``
while the displacement ``u`` (vector P1 or P2) is in mechanical equilibrium at
every step. ``F`` is built from femgp terms (Landau polynomial, one gradient
penalty per variant, isotropic elasticity of ``eps(u) - Σ phi(eta_i) eps_i^0``)
and every residual is derived from it with ``ufl.derivative``.

- :class:`Params` (frozen, validated) with the set-ups
  :meth:`Params.square_to_rectangle`, :meth:`Params.cubic_to_tetragonal`,
  :meth:`Params.domain_wall`;
- :class:`Twinning`: fields, forms (compiled once), solvers, one time step;
- :func:`run`: adaptive time stepping, ``history.csv``, ``fields.xdmf``, plots;
- :mod:`.analysis`: random initial fields of x, wall orientation, the tanh wall.

PETSc options prefix ``femgp_twinning_`` (staggered sub-problems
``femgp_twinning_u_`` and ``femgp_twinning_eta_``).
"""

from femgp.models.twinning.analysis import (
    Orientation,
    orientation,
    random_field,
    tanh_wall,
    wall_energy,
)
from femgp.models.twinning.model import Twinning
from femgp.models.twinning.params import BOUNDARIES, SCHEMES, Params
from femgp.models.twinning.runner import (
    ENERGY_COLUMNS,
    RunResult,
    history_columns,
    run,
    write_plots,
)

__all__ = [
    "BOUNDARIES",
    "ENERGY_COLUMNS",
    "SCHEMES",
    "Orientation",
    "Params",
    "RunResult",
    "Twinning",
    "history_columns",
    "orientation",
    "random_field",
    "run",
    "tanh_wall",
    "wall_energy",
    "write_plots",
]
