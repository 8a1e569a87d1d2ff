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
from pathlib import Path
from typing import Any

import numpy as np

from femgp.errors import InputError, SolverError
from femgp.fem.checkpoint import RunCheckpointing
from femgp.fem.io import RESULT_FILES, ResultsWriter
from femgp.fem.logs import get_logger, progress
from femgp.fem.meshes.core import TaggedMesh
from femgp.fem.problems import warn_unused_options
from femgp.fem.stepping import AdaptiveStepper
from femgp.models.fracture.model import FractureModel, StepStats
from femgp.models.fracture.params import Loading, Params

__all__ = ["HISTORY_COLUMNS", "FractureResult", "refuse_existing_results", "run"]

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
    "cutbacks",
    "max_damage",
    "wall_time",
)

#: Called after each accepted step with the model and the row; returns extra columns.
StepObserver = Callable[[FractureModel, Mapping[str, Any]], Mapping[str, float]]


@dataclass
class FractureResult:
    """What :func:`run` returns.

    ``am_iterations``, ``newton`` and ``krylov`` count all the work done, the
    failed (cut back) attempts included; the history rows hold the accepted steps.
    """

    history: list[dict[str, float]]
    folder: Path | None
    wall_time: float
    steps: int
    am_iterations: int
    newton: int
    krylov: int
    cutbacks: int
    status: str
    h_min: float
    model: FractureModel | None = field(default=None, repr=False)

    def column(self, name: str) -> np.ndarray:
        """A history column as an array."""
        return np.array([row[name] for row in self.history], dtype=float)

    @property
    def peak_reaction(self) -> float:
        """The largest reaction force over the load path."""
        r = self.column("reaction")
        return float(np.max(r[np.isfinite(r)])) if np.isfinite(r).any() else float("nan")


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
) -> FractureResult:
    """Run the quasi-static load path of ``loading``.

    Args:
        tm: the tagged mesh.
        params: parameters.
        loading: boundary conditions, reaction and load steps.
        output: results folder (``None``: keep the history in memory only).
        overwrite: allow replacing results in ``output``.
        initial_damage: damage at load 0 as a function of x.
        prefix: PETSc options prefix.
        u_options, alpha_options: default PETSc options for the two problems.
        observer: called after every accepted step; its returned mapping is
            added to the row (declare the names in ``extra_columns``).
        extra_columns: names of the observer's columns.
        write_fields: write ``fields.xdmf`` (with ``output``).
        plots: write the force-displacement, energy and crack PNGs (with ``output``).
        title: a title for the plots.
        force_label: the force axis label of ``force_displacement.png`` (with units).
        show_progress: a progress bar on a terminal.
        checkpoint_every: write a checkpoint every this many load steps (and on
            SIGTERM); see ``docs/checkpointing.md``.
        restart: continue the run in ``output`` from its latest complete checkpoint
            (same parameters and load path).
        vtx: also write the fields as ADIOS2 VTX (``<name>.bp``, with ``output``).

    Raises:
        RunInterrupted: SIGTERM was received; a checkpoint was written (exit code 143).
        SolverError: a load step failed after all allowed cutbacks.
        InputError: bad parameters, missing groups, or results already in ``output``.
    """
    t_wall = time.perf_counter()
    if output and not overwrite and not restart:
        refuse_existing_results(Path(output), tm.mesh.comm)
    model = FractureModel(
        tm,
        params,
        loading,
        prefix=prefix,
        u_options=u_options,
        alpha_options=alpha_options,
        initial_damage=initial_damage,
    )
    comm = model.comm
    columns = (*HISTORY_COLUMNS, *extra_columns)
    info = {
        **asdict(params),
        "loads": list(loading.loads),
        "reaction": loading.reaction,
        "h_min": model.h_min,
        "h_max": model.h_max,
        "gc_eff": params.crack.gc_eff(model.h_min),
        "prefix": prefix,
    }
    cp = RunCheckpointing(
        output,
        tm.mesh,
        model="fracture",
        params=info,
        every=checkpoint_every,
        restart=restart,
        overwrite=overwrite,
        mutable=(),
    )
    resumed = cp.state
    writer = (
        ResultsWriter(
            output,
            comm,
            overwrite=overwrite,
            mesh=tm.mesh if write_fields else None,
            segmented=cp.enabled,
            resume=cp.writer_resume,
            vtx=vtx,
        )
        if output
        else None
    )
    history: list[dict[str, float]] = []
    if writer:
        writer.table("history.csv", columns)
        history = writer.rows("history.csv")
    loads = loading.loads
    increments = np.diff((0.0, *loads))
    stepper = AdaptiveStepper(
        dt=float(increments[0]),
        dt_min=1e-12 * loads[-1],
        dt_max=float(increments.max()),
        adaptive=True,
        tol=None,
        shrink=0.5,
        max_retries=params.max_cutbacks,
        output_times=loads,
    )
    totals = {"am": 0, "newton": 0, "krylov": 0, "cutbacks": 0}
    t, n, status = 0.0, 0, "running"
    if resumed is not None:
        model.restore(cp, resumed["model"])
        stepper.restore(resumed["stepper"])
        t, n = float(resumed["t"]), int(resumed["step"])
        totals = {k: int(v) for k, v in resumed["totals"].items()}
        t_wall -= float(resumed["wall"])
    if writer:
        writer.write_run_info(
            info,
            model="fracture",
            status="running",
            **({"restarted_from_step": n} if resumed is not None else {}),
        )

    def record(step: int, t: float, stats: StepStats) -> None:
        row: dict[str, Any] = {
            "step": step,
            "load": t,
            "displacement": t * loading.displacement_scale,
            "reaction": model.reaction(),
            **model.energies(),
            "am_iterations": stats.am_iterations,
            "am_residual": stats.am_residual,
            "newton": stats.newton,
            "krylov": stats.krylov,
            "newton_u": stats.u.newton if stats.u else 0,
            "krylov_u": stats.u.krylov if stats.u else 0,
            "newton_alpha": stats.alpha.newton if stats.alpha else 0,
            "krylov_alpha": stats.alpha.krylov if stats.alpha else 0,
            "cutbacks": totals["cutbacks"],
            "max_damage": model.max_damage(),
            "wall_time": time.perf_counter() - t_wall,
        }
        if observer is not None:
            row.update(observer(model, row))
        history.append(row)
        if writer:
            writer.append("history.csv", row)
            if write_fields:
                writer.write_fields(model.output_functions(), t)

    def checkpoint(step: int) -> None:
        functions, model_state = model.checkpoint()
        state = {
            "step": step,
            "t": t,
            "model": model_state,
            "stepper": stepper.state(),
            "totals": totals,
            "wall": time.perf_counter() - t_wall,
        }
        cp.save(step, functions, state, writer)

    t_end = loads[-1]
    saved, ok = -1, False
    cp.begin()
    bar = progress(t_end, "fracture", comm) if show_progress else _NoProgress()
    try:
        if resumed is None:
            model.set_load(0.0)
            record(0, 0.0, StepStats())
            if cp.enabled:
                checkpoint(0)
                saved = 0
        else:
            bar.update(t)
            saved = n  # the checkpoint resumed from
        while t < t_end * (1 - 1e-12):
            dt = stepper.next_dt(t, t_end)
            t_new = t + dt
            if abs(t_new - t_end) < 1e-12 * t_end:
                t_new = t_end
            try:
                stats = model.solve_step(t_new, step=n + 1)
            except SolverError as exc:
                model.rollback()
                totals["cutbacks"] += 1
                stepper.cutback(dt, step=n + 1, cause=exc)
                log.info("load %.6g: %s; cutting the increment to %.3g", t_new, exc, stepper.dt)
                continue
            stepper.accept(dt, iterations=0)
            model.commit()
            t, n = t_new, n + 1
            totals["am"] += stats.am_iterations
            totals["newton"] += stats.newton
            totals["krylov"] += stats.krylov
            record(n, t, stats)
            bar.update(dt)
            log.debug(
                "step %d load %.6g: %d AM iterations, reaction %.6g",
                n,
                t,
                stats.am_iterations,
                history[-1]["reaction"],
            )
            save, stop = cp.decide(n)
            if save:
                checkpoint(n)
                saved = n
            if stop:
                status = "interrupted"
                raise cp.interrupted(n)
        if cp.enabled and saved != n:
            checkpoint(n)
        status = "finished"
        warn_unused_options(model.u_problem, model.alpha_problem)
        ok = True
    except SolverError:
        status = "failed"
        raise
    finally:
        cp.end()
        bar.close()
        wall = time.perf_counter() - t_wall
        if writer:
            writer.finish(
                info,
                model="fracture",
                status=status,
                steps=n,
                wall_time_total_s=wall,
                am_iterations=model.work["am"],
                newton=model.work["newton"],
                krylov=model.work["krylov"],
                am_iterations_accepted=totals["am"],
                cutbacks=totals["cutbacks"],
                failing=not ok,
            )
            if plots and status != "interrupted":
                _plots(model, history, Path(output), title, force_label)
    return FractureResult(
        history=history,
        folder=Path(output) if output else None,
        wall_time=wall,
        steps=n,
        am_iterations=model.work["am"],
        newton=model.work["newton"],
        krylov=model.work["krylov"],
        cutbacks=totals["cutbacks"],
        status=status,
        h_min=model.h_min,
        model=model,
    )


def refuse_existing_results(folder: Path, comm: Any) -> None:
    """Fail before any work if ``folder`` already holds results (ResultsWriter checks again)."""
    found = [n for n in RESULT_FILES if (folder / n).exists()] if comm.rank == 0 else None
    found = comm.bcast(found, root=0)
    if found:
        raise InputError(
            f"output folder {str(folder)!r} already holds results ({', '.join(found)}); "
            "choose another folder or pass overwrite (--overwrite)"
        )


class _NoProgress:
    def update(self, n: float = 1) -> None:
        pass

    def close(self) -> None:
        pass


def _plots(
    model: FractureModel,
    history: list[dict[str, Any]],
    folder: Path,
    title: str,
    force_label: str,
) -> None:
    """Force-displacement and energy curves (rank 0) and the crack picture (gathered)."""
    from femgp.fem.plots import plot_field, plot_history

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
