"""An unstable crack run solved on a coarser mesh: the start of the fine mesh's last iterations.

In a load step in which a crack runs unstably (SENT's breaking step), alternate
minimisation moves the crack tip about one cell per iteration, so the step's
iteration count grows like the crack's length over ``h`` (docs/fracture.md),
and the coupled Newton method does not converge there (the Hessian is
indefinite all along the run). :class:`CrackRun` solves such a step on a
coarser mesh of the same domain, given by the user or the set-up (SENT and SENS
build one with twice the band's cell size: about a quarter of the unknowns and
half the cells across the ligament), and hands the state it reaches back to the
fine model as the iterate from which the fine mesh's alternate minimisation
goes on. It is only a start: the step's solution is the fine model's, with its
own bounds and tolerance. The fine model keeps its own iterate if the coarse
solve fails, or if the coarse state, interpolated, has a higher energy on the
fine mesh than that iterate (a coarse crack that arrested where the fine one
would not), and goes back to it if the step it finishes from the coarse state
ends higher (:meth:`~femgp.models.fracture.model.FractureModel.solve_step`).

The coarse mesh's cells make its crack tougher: the effective toughness of a
mesh of size ``h`` is ``Gc (1 + h / (c_w ell))`` (Bourdin, Francfort and Marigo
2008; :meth:`femgp.energy.fracture.CrackDensity.gc_eff`), so at the load at which
the fine plate breaks the coarse one is still stable. The coarse model's ``Gc``
is scaled by ``gc_eff(h_fine) / gc_eff(h_coarse)`` (``h``: the meshes' smallest
cells, where the crack runs) so that both break at about the same load.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
from dolfinx import fem

from femgp.errors import SolverError
from femgp.fem.adapt import interpolate_into, interpolation_data
from femgp.fem.logs import get_logger
from femgp.fem.meshes.core import TaggedMesh

if TYPE_CHECKING:
    from femgp.models.fracture.model import FractureModel, StepStats
    from femgp.models.fracture.params import Params

__all__ = ["CrackRun", "coarse_toughness"]

log = get_logger("femgp.fracture")


def coarse_toughness(params: Params, h_fine: float, h_coarse: float) -> float:
    """The ``Gc`` with which a mesh of size ``h_coarse`` is as tough as ``h_fine``'s with ``Gc``."""
    crack = params.crack
    return params.Gc * crack.gc_eff(h_fine) / crack.gc_eff(h_coarse)


class CrackRun:
    """Solves a fine model's unstable load step on a coarser mesh (see the module docstring).

    Args:
        tm: the coarser mesh of the same domain, with the loading's groups.
        build: makes the coarse model: ``build(tm, params)`` with the fine
            model's loading, solver options and a PETSc prefix of its own.
    """

    def __init__(self, tm: TaggedMesh, build: Callable[[TaggedMesh, Params], FractureModel]):
        self.tm = tm
        self._build = build
        #: The coarse model, built at the first run and kept for later ones.
        self.model: FractureModel | None = None
        self._data: dict[tuple[int, int], tuple[Any, ...]] = {}
        self._fields: dict[str, fem.Function] | None = None  # the coarse model's start
        self._back: tuple[fem.Function, fem.Function] | None = None  # fine u, alpha

    def coarse_model(self, fine: FractureModel) -> FractureModel:
        """The coarse model of ``fine`` (built at the first call, then kept); collective."""
        if self.model is None:
            from femgp.models.fracture.model import cell_diameter_range

            h_coarse = cell_diameter_range(self.tm.mesh)[0]
            gc = coarse_toughness(fine.params, fine.h_min, h_coarse)
            # Alternate minimisation only: the coupled Newton method does not converge
            # in an unstable run (its attempts cost 1.5 s of the 3.6 s coarse run of
            # SENT's breaking step, the same state at the end).
            params = replace(fine.params, Gc=gc, solver="am")
            self.model = self._build(self.tm, params)
            log.info(
                "crack runs on the coarse mesh: %d dofs, h_min %.3g (fine %.3g), Gc %.4g",
                self.model.num_dofs(),
                self.model.h_min,
                fine.h_min,
                gc,
            )
        return self.model

    def forget(self) -> None:
        """Drop the coarse model (rebuilt at the next run, as after a restart); collective."""
        self.model = None
        self._fields = None
        self._back = None
        self._data.clear()

    def _interpolate(self, target: fem.Function, source: fem.Function) -> None:
        """``source`` (the other mesh) interpolated into ``target``; collective.

        The interpolation data of each pair of spaces is computed once (point
        location on the other mesh: 0.15 s for SENT's fine mesh, about what the
        interpolation of a field costs) and kept with the spaces it belongs to.
        """
        V_to, V_from = target.function_space, source.function_space
        key = (id(V_to), id(V_from))
        if key not in self._data:  # the spaces are kept with it, so their ids stay theirs
            self._data[key] = (V_to, V_from, interpolation_data(V_to, V_from))
        interpolate_into(target, source, self._data[key][2])

    def run(self, fine: FractureModel, t: float, step: int | None) -> StepStats | None:
        """Solve load ``t`` on the coarse mesh from ``fine``'s iterate; hand the result back.

        The coarse model starts from ``fine``'s current iterate, interpolated,
        and its damage is bounded below by that iterate's; the displacement and
        damage it reaches are interpolated back into ``fine``'s iterate (the
        damage clipped to ``fine``'s bounds).
        Collective. Returns the coarse step's iterations, or None (``fine``
        untouched) if the coarse solve failed.
        """
        from femgp.models.fracture.adaptive import TransferredState  # (it imports the model)

        assert fine.params.irreversibility == "bounds"  # the coupled solver's condition
        coarse = self.coarse_model(fine)
        if self._fields is None:
            self._fields = {
                "u": fem.Function(coarse.V),
                "alpha": fem.Function(coarse.Q),
                "alpha_lb": fem.Function(coarse.Q),
            }
            self._back = (fem.Function(fine.V), fem.Function(fine.Q))
        fields = self._fields
        self._interpolate(fields["u"], fine.u)
        self._interpolate(fields["alpha"], fine.alpha)
        alpha = fields["alpha"].x.array
        np.clip(alpha, 0.0, 1.0, out=alpha)
        # The coarse run only adds damage to the iterate: a crack that has begun to
        # run on the fine mesh is not healed on the coarse one (the fine bound is the
        # committed damage, lower still, so the fine mesh may heal it afterwards).
        fields["alpha_lb"].x.array[:] = alpha
        _, state = fine.checkpoint()
        state = {**state, "load": fine.load, "has_previous": False, "has_older": False}
        coarse.restore(TransferredState(fields), state)
        coarse.start_next_step_from(fields["u"], fields["alpha"])
        try:
            stats = coarse.solve_step(t, step=step)
        except SolverError as exc:
            log.info("step %s: the crack run on the coarse mesh failed (%s)", step, exc)
            return None
        assert self._back is not None
        u, alpha_f = self._back
        self._interpolate(u, coarse.u)
        self._interpolate(alpha_f, coarse.alpha)
        fine.u.x.array[:] = u.x.array
        fine.alpha.x.array[:] = np.clip(alpha_f.x.array, fine.alpha_lb.x.array, 1.0)
        return stats
