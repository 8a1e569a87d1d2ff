"""Phase-field fracture (AT1/AT2, energy splits) by staggered, accelerated minimisation.

- :mod:`.params`: :class:`Params`, :class:`DisplacementBC`, :class:`Loading`.
- :mod:`.model`: :class:`FractureModel`, forms compiled once, the alternate
  minimisation of one load step with irreversibility.
- :mod:`.solvers`: PETSc defaults, rigid-body near-nullspace, AM accelerators.
- :mod:`.run`: :func:`run`, the load loop with cutbacks and output.
- :mod:`.setups`: the bar, SENT, SENS and surfing set-ups used by demos, tests
  and the benchmark.

See ``docs/fracture.md``.
"""

from femgp.models.fracture.model import FractureModel, StepStats
from femgp.models.fracture.params import (
    ACCELERATIONS,
    IRREVERSIBILITY,
    LINEAR_SOLVERS,
    DisplacementBC,
    Loading,
    Params,
)
from femgp.models.fracture.run import HISTORY_COLUMNS, FractureResult, run

__all__ = [
    "ACCELERATIONS",
    "HISTORY_COLUMNS",
    "IRREVERSIBILITY",
    "LINEAR_SOLVERS",
    "DisplacementBC",
    "FractureModel",
    "FractureResult",
    "Loading",
    "Params",
    "StepStats",
    "run",
]
