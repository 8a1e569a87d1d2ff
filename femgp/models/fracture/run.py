"""The quasi-static load loop of the fracture model: stepping, cutbacks, output.

Every accepted load step appends one row to ``history.csv`` (rewritten
atomically) and writes damage and displacement to ``fields.xdmf`` with
``time = load``. A step whose alternate minimisation or sub-solve fails is
retried with half the increment (up to ``params.max_cutbacks`` times in a
row); then the run stops with :class:`femgp.SolverError`, leaving every step
written so far intact, ``run.json`` saying ``"status": "failed"``, and the
plots of the steps done.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from femgp.fem.adapt import Refinement, collect_garbage
from femgp.fem.driver import Attempt, RunOptions, RunSummary, StepInfo, drive
from femgp.fem.io import refuse_existing_results
from femgp.fem.logs import get_logger
from femgp.fem.meshes.core import TaggedMesh
from femgp.fem.problems import warn_unused_options
from femgp.fem.stepping import AdaptiveStepper
from femgp.models.fracture.adaptive import Adaptivity
from femgp.models.fracture.model import FractureModel, StepStats
from femgp.models.fracture.params import Loading, Params

__all__ = ["HISTORY_COLUMNS", "FractureResult", "run"]

log = get_logger("femgp.fracture")

HISTORY_COLUMNS: tuple[str, ...] = (
    "step",
    "load",
    "displacement",
    "reaction",
    "elastic",
    "surface",
    "total",
    "am_iterations",
    "am_residual",
    "newton",
    "krylov",
    "newton_u",
    "krylov_u",
    "newton_alpha",
    "krylov_alpha",
    "am_coarse",
    "cutbacks",
    "max_damage",
    "wall_time",
)

#: Called after each accepted step with the model and the row; returns extra columns.
StepObserver = Callable[[FractureModel, Mapping[str, Any]], Mapping[str, float]]


@dataclass
class FractureResult(RunSummary):
    """What :func:`run` returns.

    ``am_iterations``, ``newton`` and ``krylov`` count all the work done, the
    failed (cut back) attempts included (``newton`` and ``krylov`` also that of
    crack runs on the coarse mesh, whose AM iterations are ``am_coarse``); the
    history rows hold the accepted steps.
    """

    am_iterations: int
    newton: int
    krylov: int
    cutbacks: int
    status: str
    h_min: float
    model: FractureModel | None = field(default=None, repr=False)
    am_coarse: int = 0

    @property
    def peak_reaction(self) -> float:
        """The largest reaction force over the load path."""
        r = self.column("reaction")
        return float(np.max(r[np.isfinite(r)])) if np.isfinite(r).any() else float("nan")


class _Stepping:
    """:class:`FractureModel` in the protocol of :func:`femgp.fem.driver.drive`.

    With ``adaptivity`` the model is replaced by one on a refined mesh when
    :meth:`adapt` refines (the driver's optional hook); nothing else holds the
    model, so the old one is freed here, on every rank at the same point.
    """

    name = "fracture"

    def __init__(
        self,
        model: FractureModel,
        observer: StepObserver | None,
        adaptivity: Adaptivity | None = None,
    ) -> None:
        self.model = model
        self.observer = observer
        self.adaptivity = adaptivity
        if adaptivity is None:
            self.adapt = None  # the driver's optional hook: no adaptivity
        self.accepted = {"am": 0, "newton": 0, "krylov": 0}  # work of the accepted steps
        self._last = StepStats()

    @property
    def mesh(self) -> Any:
        return self.model.mesh

    @property
    def tagged_mesh(self) -> TaggedMesh:
        return self.model.tm

    def adapt(self, t: float) -> bool:
        """Refine where the current (trial) damage asks for it; True if the mesh changed."""
        assert self.adaptivity is not None
        new = self.adaptivity.refine(self.model)
        if new is None:
            return False
        comm = self.model.comm
        self.model = new  # the old model is dropped here
        collect_garbage(comm)  # its PETSc objects, on all ranks together
        return True

    def use_mesh(self, tm: TaggedMesh) -> None:
        assert self.adaptivity is not None
        comm = self.model.comm
        self.model = self.adaptivity.model_on(tm)
        collect_garbage(comm)

    def num_dofs(self) -> int:
        return self.model.num_dofs()

    def step(self, t: float, dt: float, step: int) -> Attempt:
        self._last = self.model.solve_step(t, step=step)
        return Attempt(0, None, self._last)

    def commit(self, t: float, dt: float) -> None:
        self.model.commit()
        for key, value in (("am", self._last.am_iterations), ("newton", self._last.newton)):
            self.accepted[key] += value
        self.accepted["krylov"] += self._last.krylov

    def rollback(self) -> None:
        self.model.rollback()

    def checkpoint(self) -> tuple[dict[str, Any], dict[str, Any]]:
        functions, state = self.model.checkpoint()
        # A continuation starts with fresh preconditioners: so does this run.
        self.model.forget_kept_solvers()
        return functions, {**state, "accepted": dict(self.accepted)}

    def restore(self, cp: Any, state: Mapping[str, Any]) -> None:
        self.model.restore(cp, state)
        self.accepted = {k: int(v) for k, v in state["accepted"].items()}

    def output_functions(self) -> Sequence[Any]:
        return self.model.output_functions()

    def history_row(self, info: StepInfo) -> dict[str, Any]:
        m = self.model
        stats = info.attempt.stats if info.attempt else StepStats()
        row: dict[str, Any] = {
            "step": info.step,
            "load": info.t,
            "displacement": info.t * m.loading.displacement_scale,
            "reaction": m.reaction(),
            **m.energies(),
            "am_iterations": stats.am_iterations,
            "am_residual": stats.am_residual,
            "newton": stats.newton,
            "krylov": stats.krylov,
            "newton_u": stats.u.newton if stats.u else 0,
            "krylov_u": stats.u.krylov if stats.u else 0,
            "newton_alpha": stats.alpha.newton if stats.alpha else 0,
            "krylov_alpha": stats.alpha.krylov if stats.alpha else 0,
            "am_coarse": stats.am_coarse,
            "cutbacks": info.cutbacks,
            "max_damage": m.max_damage(),
            "wall_time": info.wall,
        }
        if self.observer is not None:
            row.update(self.observer(m, row))
        return row

    def summary(self) -> dict[str, int]:
        work = self.model.work
        return {
            "am_iterations": work["am"],
            "newton": work["newton"],
            "krylov": work["krylov"],
            "am_iterations_coarse": work["am_coarse"],
            "am_iterations_accepted": self.accepted["am"],
        }

    def finish(self) -> None:
        m = self.model
        problems = (m.u_problem, m.alpha_problem, m.coupled_problem)
        warn_unused_options(*(p for p in problems if p is not None))


def run(
    tm: TaggedMesh,
    params: Params,
    loading: Loading,
    *,
    output: str | Path | None = None,
    overwrite: bool = False,
    initial_damage: Callable[[np.ndarray], np.ndarray] | None = None,
    prefix: str = "femgp_fracture_",
    u_options: Mapping[str, Any] | None = None,
    alpha_options: Mapping[str, Any] | None = None,
    observer: StepObserver | None = None,
    extra_columns: Sequence[str] = (),
    write_fields: bool = True,
    plots: bool = True,
    title: str = "",
    force_label: str = "reaction force",
    show_progress: bool = True,
    checkpoint_every: int | None = None,
    restart: bool = False,
    vtx: bool = False,
    refinement: Refinement | None = None,
    crack_run_mesh: TaggedMesh | None = None,
) -> FractureResult:
    """Run the quasi-static load path of ``loading`` (stepped by :func:`femgp.fem.driver.drive`).

    Args:
        tm, params, loading: the tagged mesh, parameters, boundary conditions and load steps.
        initial_damage: damage at load 0 as a function of x.
        prefix, u_options, alpha_options: PETSc prefix and default options of the two problems.
        observer: called after every accepted step; its returned mapping is added to
            the row (declare the names in ``extra_columns``).
        write_fields: write ``fields.xdmf``; plots: the force-displacement, energy and
            crack PNGs, with ``title`` and the force axis label ``force_label``.
        output, overwrite, show_progress, checkpoint_every, restart, vtx: see
            :class:`femgp.fem.driver.RunOptions` (a restart keeps the load path).
        refinement: adaptive mesh refinement (:class:`femgp.fem.adapt.Refinement`
            with ``adapt=True``): ``tm`` is the coarse mesh, refined during the
            load path where the damage appears (see ``docs/adaptivity.md``);
            ``history.csv``'s ``dofs`` column follows the refinement.
        crack_run_mesh: a coarser mesh of the same domain on which unstable crack
            runs are solved before the fine mesh finishes them
            (:mod:`femgp.models.fracture.crack_run`, ``params.crack_run``); not
            used with adaptive refinement, whose coarse mesh is ``tm`` itself.

    Raises:
        RunInterrupted: SIGTERM (exit code 143) or SIGINT (130) stopped the run.
        SolverError: a load step failed after all allowed cutbacks.
        InputError: bad parameters, missing groups, or results already in ``output``.
    """
    started = time.perf_counter()
    if output and not overwrite and not restart:
        refuse_existing_results(Path(output), tm.mesh.comm)
    adaptivity = None
    if refinement is not None and refinement.adapt:
        refinement.check_mesh(tm.mesh, params.ell)  # a target above the coarse mesh: refused
        adaptivity = Adaptivity(
            refinement,
            partial(
                FractureModel,
                params=params,
                loading=loading,
                prefix=prefix,
                u_options=u_options,
                alpha_options=alpha_options,
                warn_resolution=False,
            ),
            initial_damage,
        )
    solvers = {"prefix": prefix, "u_options": u_options, "alpha_options": alpha_options}
    model = FractureModel(
        tm,
        params,
        loading,
        initial_damage=initial_damage,
        warn_resolution=adaptivity is None,
        crack_run_mesh=crack_run_mesh if adaptivity is None else None,
        **solvers,
    )
    model.set_load(0.0)
    info = _info(model, params, prefix, refinement)
    stepping = _Stepping(model, observer, adaptivity)
    del model  # the stepping holds the model (replaced when the mesh is refined)
    res = drive(
        stepping,
        _stepper(loading, params),
        RunOptions(output, overwrite, show_progress, checkpoint_every, restart, vtx),
        t_end=loading.loads[-1],
        params=info,
        columns=(*HISTORY_COLUMNS, *extra_columns),
        field_times=None,
        write_fields=write_fields,
        mutable=(),
        started=started,
        on_finish=partial(_plots, stepping, Path(output or "."), title, force_label)
        if plots
        else None,
    )
    model = stepping.model
    work = model.work
    base = (res.history, res.folder, res.wall_time, res.steps, work["am"], work["newton"])
    return FractureResult(
        *base,
        work["krylov"],
        res.cutbacks,
        res.status,
        model.h_min,
        model=model,
        am_coarse=work["am_coarse"],
    )


def _stepper(loading: Loading, params: Params) -> AdaptiveStepper:
    """Load steps: the increments of the load path, halved on failure, landing on every load."""
    loads = loading.loads
    steps = np.diff((0.0, *loads))
    return AdaptiveStepper(
        float(steps[0]),
        1e-12 * loads[-1],
        float(steps.max()),
        max_retries=params.max_cutbacks,
        output_times=loads,
    )


def _info(
    model: FractureModel, params: Params, prefix: str, refinement: Refinement | None = None
) -> dict[str, Any]:
    """The run's parameters as ``run.json`` holds them (the coarse mesh's sizes)."""
    loading = model.loading
    adaptive = {"refinement": asdict(refinement)} if refinement and refinement.adapt else {}
    return {
        **adaptive,
        **asdict(params),
        "loads": list(loading.loads),
        "reaction": loading.reaction,
        "h_min": model.h_min,
        "h_max": model.h_max,
        "gc_eff": params.crack.gc_eff(model.h_min),
        "prefix": prefix,
    }


def _plots(
    stepping: _Stepping,
    folder: Path,
    title: str,
    force_label: str,
    history: list[dict[str, Any]],
    status: str,
) -> None:
    """Force-displacement and energy curves (rank 0) and the crack picture (gathered)."""
    from femgp.fem.plots import plot_field, plot_history

    model = stepping.model
    if model.comm.rank == 0 and len(history) > 1:
        if model.loading.reaction is not None:
            plot_history(
                history,
                "displacement",
                ["reaction"],
                folder / "force_displacement.png",
                title=title or "force-displacement",
                ylabel=force_label,
            )
        plot_history(
            history,
            "load",
            ["elastic", "surface", "total"],
            folder / "energies.png",
            title=title or "energies",
            ylabel="energy",
        )
    plot_field(
        model.alpha, folder / "crack.png", title=title or "damage", clim=(0.0, 1.0), cmap="inferno"
    )
