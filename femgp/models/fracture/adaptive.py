"""Adaptive refinement of a fracture model: where to refine and the model on the new mesh.

The stepping driver asks the model to adapt after every successful attempt
(see :func:`femgp.fem.driver.drive`); :class:`Adaptivity` answers for the
fracture model: it marks the cells where the *trial* damage reaches
:func:`damage_threshold` or the trial driving force ``psi_+`` reaches
``Refinement.driving_ratio`` of its critical value (:func:`indicators`; plus
``Refinement.zone`` around them), refines them
to ``h <= h_min`` (default ``ell / 4``) with :func:`femgp.fem.adapt.adapt`,
transfers the *committed* state (``u``, ``alpha``, the bound ``alpha_lb``
(never lowered), the AT2 history ``H`` and the predictor's previous state)
and the trial ``u`` and ``alpha``, and builds a new :class:`FractureModel` on
the refined mesh holding them. Its
solvers (the coupled Newton problem and its bounds, the accelerator) are new
objects on the new mesh, so nothing of the old mesh's solver state survives;
the driver then solves the step again, from the transferred trial state
(bounded below by the committed damage).

Before the first step (nothing committed yet) the model is rebuilt with its
``initial_damage`` function on the refined mesh instead of transferring the
coarse interpolant, so an initial crack is as sharp as the refined mesh allows.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from femgp.fem.adapt import Indicator, MarkingCache, Refinement, adapt, compile_indicator
from femgp.fem.meshes.core import TaggedMesh
from femgp.models.fracture.model import FractureModel

__all__ = ["DAMAGE_THRESHOLDS", "Adaptivity", "TransferredState", "damage_threshold", "indicators"]

#: The damage that marks a cell when ``Refinement.threshold`` is None, by model.
#: AT1 has an elastic phase (no damage below the critical stress), so any
#: damage means a crack is coming. AT2 damages at any strain: its homogeneous
#: damage is ``E eps^2 / (E eps^2 + Gc / ell)``, 1/4 at the peak stress, the
#: end of the stable homogeneous branch: damage above 1/4 is localising, a
#: crack forming. Lower thresholds mark diffuse damage: 0.01 (17 % of the peak
#: strain) refined most of the 2D SENT plate long before it cracked, and 0.1
#: (58 % of it) 44 % of the 3D SENT slab's volume before the peak, its whole
#: ligament top to bottom, where 0.25 marked 3 % around the notch tip.
DAMAGE_THRESHOLDS = {"AT1": 0.01, "AT2": 0.25}


def damage_threshold(refinement: Refinement, model: str) -> float:
    """The damage that marks a cell: ``refinement.threshold``, else the model's default."""
    if refinement.threshold is not None:
        return refinement.threshold
    return DAMAGE_THRESHOLDS[model]


def indicators(model: FractureModel, refinement: Refinement) -> list[Indicator]:
    """What marks a cell of ``model``: its damage and, unless off, its driving force.

    The damage reaches :func:`damage_threshold`, or ``psi_+ / psi_c``
    (:meth:`FractureModel.driving_force_ratio`) reaches
    ``refinement.driving_ratio``. The second marks ahead of a crack tip before
    its damage has grown: at SENT's literature resolution, marking by the AT2
    damage alone (0.25) refined the notch tip too late and the peak force came
    out 3 % high (0.07 % with the driving force; docs/adaptivity.md).
    """
    out = [Indicator(model.alpha, damage_threshold(refinement, model.params.model), "damage")]
    if refinement.driving_ratio > 0:
        ratio = model.driving_force_ratio()
        out.append(Indicator(ratio, refinement.driving_ratio, "driving force"))
    return out


class TransferredState:
    """The ``load_function`` / ``load_array`` of a checkpoint, from transferred functions."""

    def __init__(self, fields: Mapping[str, Any]) -> None:
        self.fields = fields

    def load_function(self, name: str, fn: Any) -> None:
        """Copy the transferred function ``name`` into ``fn`` (same space)."""
        fn.interpolate(self.fields[name])  # same mesh and element: a copy
        fn.x.scatter_forward()

    def load_array(self, name: str, space: Any) -> np.ndarray:
        """The values of the transferred function ``name`` in ``space``, a copy."""
        from dolfinx import fem

        tmp = fem.Function(space)
        self.load_function(name, tmp)
        return tmp.x.array.copy()


@dataclass
class Adaptivity:
    """How to refine a fracture model and rebuild it on the refined mesh.

    Attributes:
        refinement: the options (``refinement.adapt`` must be true).
        build: makes a model on a tagged mesh (the run's parameters, loading,
            PETSc prefix and options), with an optional initial damage.
        initial_damage: the damage at load 0 as a function of x, or None.
        capped: a refinement was stopped by the cell cap; its warning is given
            once per run (one ``Adaptivity``), later ones are logged at info level.
    """

    refinement: Refinement
    build: Callable[..., FractureModel]
    initial_damage: Callable[[np.ndarray], np.ndarray] | None = None
    capped: bool = field(default=False, init=False)
    #: The indicators of the model last marked, compiled (kept while its mesh stays).
    _compiled: tuple[weakref.ref, list[Indicator]] | None = field(
        default=None, init=False, repr=False
    )
    #: Cell sizes, midpoints and settled marks of the mesh last marked.
    _marking: MarkingCache = field(default_factory=MarkingCache, init=False, repr=False)

    def _indicators(self, model: FractureModel) -> list[Indicator]:
        if self._compiled is None or self._compiled[0]() is not model:
            marks = [compile_indicator(model.mesh, i) for i in indicators(model, self.refinement)]
            self._compiled = (weakref.ref(model), marks)
        return self._compiled[1]

    def refine(self, model: FractureModel) -> FractureModel | None:
        """A model on a refined mesh holding ``model``'s committed state, or None.

        Marks from ``model``'s current (trial) state; collective. ``None``:
        nothing to refine (``model`` is untouched, its trial state kept). The
        new model starts its next step from the trial state transferred
        (:meth:`FractureModel.start_next_step_from`).
        """
        ref = self.refinement
        functions, state = model.committed()
        functions = {**functions, "u_trial": model.u, "alpha_trial": model.alpha}
        bounds = {"alpha": "alpha_lb"} if model.params.irreversibility == "bounds" else {}
        res = adapt(
            model.tm,
            functions,
            self._indicators(model),
            ref,
            ell=model.params.ell,
            lower_bounds=bounds,
            warn_cap=not self.capped,
            cache=self._marking,
        )
        self.capped = self.capped or res.capped
        if not res.refined:
            # Nothing was built: no PETSc object to free together (marking makes
            # none), so no collective collection (which cost 33 ms per step).
            return None
        self._compiled = None  # it holds the old mesh's functions
        fresh = self.initial_damage is not None and not state["has_previous"]
        fresh = fresh and float(state["t_saved"]) == 0.0
        if fresh:  # nothing committed but the initial state: rebuild it sharp
            new = self.build(res.mesh, initial_damage=self.initial_damage)
            new.work = dict(model.work)
            new.set_load(float(state["load"]))
        else:
            new = self.build(res.mesh)
            new.restore(TransferredState(res.fields), state)
            new.start_next_step_from(
                res.fields["u_trial"], res.fields["alpha_trial"], am_only=model.newton_failed
            )
        del res, functions
        return new

    def model_on(self, tm: TaggedMesh) -> FractureModel:
        """A fresh model on ``tm`` (a restart's stored mesh; ``restore`` follows)."""
        return self.build(tm)
