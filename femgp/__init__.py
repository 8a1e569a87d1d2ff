"""femgp: finite-element multiphysics for energies with a gradient penalty.

Subpackages (imports point down only):

- :mod:`femgp.energy`: the backend-free vocabulary of energy terms (numpy only).
- :mod:`femgp.fem`: DOLFINx/PETSc rendering of energies, problems, stepping, I/O.
- :mod:`femgp.models`: one module per physics (Cahn-Hilliard, fracture, twinning).
- :mod:`femgp.ml`: torch rendering of the same terms as learning penalties.

``import femgp`` needs neither dolfinx nor torch.
"""

from femgp.errors import InputError, SolverError

__version__ = "0.1.0"
__all__ = ["InputError", "SolverError", "__version__"]
