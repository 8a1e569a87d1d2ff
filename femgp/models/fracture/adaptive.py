"""Adaptive refinement of a fracture model: where to refine and the model on the new mesh.

The stepping driver asks the model to adapt after every successful attempt
(see :func:`femgp.fem.driver.drive`); :class:`Adaptivity` answers for the
fracture model: it marks the cells where the *trial* damage reaches
:func:`damage_threshold` (plus ``Refinement.zone`` around them), refines them
to ``h <= h_min`` (default ``ell / 4``) with :func:`femgp.fem.adapt.adapt`,
transfers the *committed* state (``u``, ``alpha``, the bound ``alpha_lb``
(never lowered), the AT2 history ``H`` and the predictor's previous state)
and builds a new :class:`FractureModel` on the refined mesh holding it. Its
solvers (the coupled Newton problem and its bounds, the accelerator) are new
objects on the new mesh, so nothing of the old mesh's solver state survives;
the driver then solves the step again from the committed state.

Before the first step (nothing committed yet) the model is rebuilt with its
``initial_damage`` function on the refined mesh instead of transferring the
coarse interpolant, so an initial crack is as sharp as the refined mesh allows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from femgp.fem.adapt import Indicator, Refinement, adapt, collect_garbage
from femgp.fem.meshes.core import TaggedMesh
from femgp.models.fracture.model import FractureModel

__all__ = ["DAMAGE_THRESHOLDS", "Adaptivity", "damage_threshold"]

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


class _Transferred:
    """The ``load_function`` / ``load_array`` of a checkpoint, from transferred functions."""

    def __init__(self, fields: Mapping[str, Any]) -> None:
        self.fields = fields

    def load_function(self, name: str, fn: Any) -> None:
        fn.interpolate(self.fields[name])  # same mesh and element: a copy
        fn.x.scatter_forward()

    def load_array(self, name: str, space: Any) -> np.ndarray:
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

    def refine(self, model: FractureModel) -> FractureModel | None:
        """A model on a refined mesh holding ``model``'s committed state, or None.

        Marks from ``model``'s current (trial) damage; collective. ``None``:
        nothing to refine (``model`` is untouched, its trial state kept).
        """
        ref = self.refinement
        comm = model.comm
        functions, state = model.committed()
        bounds = {"alpha": "alpha_lb"} if model.params.irreversibility == "bounds" else {}
        res = adapt(
            model.tm,
            functions,
            [Indicator(model.alpha, damage_threshold(ref, model.params.model), "damage")],
            ref,
            ell=model.params.ell,
            lower_bounds=bounds,
            warn_cap=not self.capped,
        )
        self.capped = self.capped or res.capped
        if not res.refined:
            del res, functions
            collect_garbage(comm)  # what adapt left behind, on all ranks together
            return None
        fresh = self.initial_damage is not None and not state["has_previous"]
        fresh = fresh and float(state["t_saved"]) == 0.0
        if fresh:  # nothing committed but the initial state: rebuild it sharp
            new = self.build(res.mesh, initial_damage=self.initial_damage)
            new.work = dict(model.work)
            new.set_load(float(state["load"]))
        else:
            new = self.build(res.mesh)
            new.restore(_Transferred(res.fields), state)
        del res, functions
        return new

    def model_on(self, tm: TaggedMesh) -> FractureModel:
        """A fresh model on ``tm`` (a restart's stored mesh; ``restore`` follows)."""
        return self.build(tm)
