"""Time stepping of the twinning model with adaptive steps, histories and output.

Every accepted step records the total, chemical, gradient and elastic energies
and the mean order parameter (volume fraction) of each variant, all
allreduced. Steps are controlled by :class:`femgp.fem.AdaptiveStepper` (error
estimate and Newton iterations); with ``energy_guard`` (and adaptive steps) a
step that raises the total energy is rejected and retried with a smaller step.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from femgp.energy.validation import check_positive
from femgp.errors import InputError, SolverError
from femgp.fem.checkpoint import RunCheckpointing
from femgp.fem.io import ResultsWriter
from femgp.fem.logs import get_logger, progress
from femgp.fem.problems import SolveStats, warn_unused_options
from femgp.fem.stepping import AdaptiveStepper
from femgp.models.twinning.model import InitialValue, Twinning
from femgp.models.twinning.params import Params

__all__ = ["ENERGY_COLUMNS", "RunResult", "history_columns", "run", "write_plots"]

ENERGY_COLUMNS: tuple[str, ...] = ("total", "chemical", "gradient", "elastic")
log = get_logger("femgp.twinning")


def history_columns(params: Params) -> tuple[str, ...]:
    """The columns of ``history.csv`` for ``params``."""
    return (
        "step",
        "time",
        "dt",
        *ENERGY_COLUMNS,
        *(f"vf_{n}" for n in params.variants),
        "rate",
        "newton",
        "krylov",
        "staggered",
        "fallbacks",
        "rejected",
        "energy_rejected",
        "error",
    )


@dataclass
class RunResult:
    """What :func:`run` returns: the history, counts and the model (its final fields)."""

    history: list[dict[str, float]]
    folder: Path | None
    wall_time: float
    steps: int
    rejected: int
    energy_rejected: int
    newton: int
    krylov: int
    model: Twinning
    status: str = "finished"
    field_times: list[float] = field(default_factory=list)

    def column(self, name: str) -> np.ndarray:
        """One history column as an array."""
        return np.array([row[name] for row in self.history], dtype=float)


def run(
    domain: Any,
    params: Params,
    *,
    t_end: float,
    initial: Sequence[InitialValue],
    output: str | Path | None = None,
    overwrite: bool = False,
    field_times: Sequence[float] = (),
    steady_rate: float | None = None,
    max_steps: int = 100_000,
    prefix: str = "femgp_twinning_",
    options: Mapping[str, Any] | None = None,
    options_u: Mapping[str, Any] | None = None,
    options_eta: Mapping[str, Any] | None = None,
    plots: bool = True,
    show_progress: bool = True,
    on_step: Callable[[Twinning, dict[str, float]], None] | None = None,
    checkpoint_every: int | None = None,
    restart: bool = False,
    vtx: bool = False,
) -> RunResult:
    """Relax the variants from ``initial`` until ``t_end`` (or a steady state).

    Args:
        domain: the mesh.
        params: the model and step control.
        t_end: final time (> 0).
        initial: one value per variant: a function of x or a constant.
        output: results folder (``None``: keep the history in memory only).
        overwrite: allow replacing results in ``output``.
        field_times: times at which fields are written (always 0 and the end);
            the stepper lands on them exactly.
        steady_rate: stop early once ``max |d eta/dt| < steady_rate``.
        max_steps: guard on accepted steps.
        prefix, options, options_u, options_eta: PETSc prefix and default options.
        plots: with ``output``, write ``energy.png`` and ``variants.png`` at the end.
        show_progress: a progress bar on a terminal (rank 0).
        on_step: called after every accepted step with the model and the history row.
        checkpoint_every: write a checkpoint every this many steps (and on SIGTERM);
            see ``docs/checkpointing.md``.
        restart: continue the run in ``output`` from its latest complete checkpoint
            (same parameters; ``t_end`` may be larger).
        vtx: also write the fields as ADIOS2 VTX (``<name>.bp``, with ``output``).

    Raises:
        RunInterrupted: SIGTERM was received; a checkpoint was written (exit code 143).
    """
    t_end = check_positive("t_end", t_end)
    if steady_rate is not None:
        check_positive("steady_rate", steady_rate)
    if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
        raise InputError(f"max_steps must be a positive integer, got {max_steps!r}")
    if len(initial) != len(params.variants):
        raise InputError(
            f"initial needs one value per variant ({', '.join(params.variants)}), "
            f"got {len(initial)}"
        )
    field_times = sorted({float(t) for t in field_times if 0 < t < t_end})
    t_wall = time.perf_counter()
    cp = RunCheckpointing(
        output,
        domain,
        model="twinning",
        params=params.as_dict(),
        every=checkpoint_every,
        restart=restart,
        overwrite=overwrite,
    )
    resumed = cp.state
    # The model (and its initial equilibrium) first: an error there leaves no output behind.
    model = Twinning(
        domain,
        params,
        prefix=prefix,
        options=options,
        options_u=options_u,
        options_eta=options_eta,
    )
    model.set_initial(initial)
    writer = (
        ResultsWriter(
            output,
            domain.comm,
            overwrite=overwrite,
            mesh=domain,
            segmented=cp.enabled,
            resume=cp.writer_resume,
            vtx=vtx,
        )
        if output
        else None
    )
    stepper = AdaptiveStepper(
        dt=params.dt,
        dt_min=params.dt_min,
        dt_max=params.dt_max,
        adaptive=params.adaptive,
        tol=params.tol,
        order=1,
        target_iterations=model.target_iterations,
        output_times=field_times,
    )
    columns = history_columns(params)
    history: list[dict[str, float]] = []
    written: list[float] = []
    counts = {"energy_rejected": 0}
    info = {"model": "twinning", "t_end": t_end, "ranks": domain.comm.size}
    if writer:
        writer.table("history.csv", columns)
        history = writer.rows("history.csv")
    t, n = 0.0, 0
    energies: dict[str, float] = {}
    if resumed is not None:
        model.restore(cp, resumed["model"])
        stepper.restore(resumed["stepper"])
        t, n = float(resumed["t"]), int(resumed["step"])
        written = [float(x) for x in resumed["written"]]
        counts = {k: int(v) for k, v in resumed["counts"].items()}
        energies = {k: float(v) for k, v in resumed["energies"].items()}
        t_wall -= float(resumed["wall"])
    if writer:
        writer.write_run_info(
            params.as_dict(),
            **info,
            status="running",
            **({"restarted_from_step": n} if resumed is not None else {}),
        )

    def record(
        step: int,
        t: float,
        dt: float,
        stats: SolveStats,
        err: float | None,
        energies: dict[str, float],
        rate: float,
    ) -> dict[str, float]:
        row: dict[str, float] = {"step": step, "time": t, "dt": dt}
        row.update({k: energies.get(k, 0.0) for k in ENERGY_COLUMNS})
        row.update({f"vf_{k}": v for k, v in model.mean_order_parameters().items()})
        row.update(
            rate=rate,
            newton=stats.newton,
            krylov=stats.krylov,
            staggered=model.staggered_iterations,
            fallbacks=model.fallbacks,
            rejected=stepper.rejected,
            energy_rejected=counts["energy_rejected"],
            error=float("nan") if err is None else err,
        )
        history.append(row)
        if writer:
            writer.append("history.csv", row)
        return row

    def write_fields(t: float) -> None:
        if writer:
            writer.write_fields(model.output_functions(), t)
        written.append(t)

    def checkpoint(step: int) -> None:
        functions, model_state = model.checkpoint()
        state = {
            "step": step,
            "t": t,
            "model": model_state,
            "stepper": stepper.state(),
            "written": written,
            "counts": counts,
            "energies": energies,
            "wall": time.perf_counter() - t_wall,
        }
        cp.save(step, functions, state, writer)

    status, saved, ok = "stopped", -1, False
    cp.begin()
    bar = progress(t_end, "twinning", domain.comm) if show_progress else None
    try:
        if resumed is None:
            energies = model.energies()
            record(0, 0.0, 0.0, SolveStats(), None, energies, float("nan"))
            write_fields(0.0)
            if cp.enabled:
                checkpoint(0)
                saved = 0
        else:
            saved = n  # the checkpoint resumed from
            if bar is not None:
                bar.update(t)
        while n < max_steps:
            if t >= t_end * (1 - 1e-12):
                status = "finished"
                break
            dt = stepper.next_dt(t, t_end)
            try:
                stats, err = model.step(dt, step=n + 1)
            except SolverError as exc:
                model.rollback()
                stepper.cutback(dt, step=n + 1, cause=exc)
                log.debug("step %d: cutback to dt=%.3e (%s)", n + 1, stepper.dt, exc)
                continue
            new = model.energies()
            rose = new["total"] > energies["total"] + _energy_slack(energies)
            if rose and params.energy_guard and params.adaptive:
                model.rollback()
                counts["energy_rejected"] += 1
                stepper.cutback(
                    dt,
                    step=n + 1,
                    cause=SolverError(
                        f"energy rose from {energies['total']!r} to {new['total']!r}",
                        prefix=prefix,
                        step=n + 1,
                    ),
                )
                continue
            if not stepper.accept(dt, iterations=model.control_iterations, error=err):
                model.rollback()
                continue
            rate = model.rate(dt)
            model.commit(dt)
            energies = new
            t += dt
            if abs(t - t_end) < 1e-12 * t_end:
                t = t_end
            n += 1
            row = record(n, t, dt, stats, err, energies, rate)
            if on_step is not None:
                on_step(model, row)
            if bar is not None:
                bar.update(dt)
            if any(abs(t - tf) <= 1e-9 * max(1.0, tf) for tf in field_times):
                write_fields(t)
            save, stop = cp.decide(n)
            if save:
                checkpoint(n)
                saved = n
            if stop:
                status = "interrupted"
                raise cp.interrupted(n)
            if steady_rate is not None and rate < steady_rate:
                status = "steady"
                break
        if t >= t_end * (1 - 1e-12):
            status = "finished"
        if not written or written[-1] != t:
            write_fields(t)
        if cp.enabled and saved != n:
            checkpoint(n)
        warn_unused_options(
            *(p for p in (model._monolithic, model._eta_problem, model._u_problem) if p)
        )
        ok = True
    finally:
        cp.end()
        if bar is not None:
            bar.close()
        wall = time.perf_counter() - t_wall
        if writer:
            writer.finish(
                params.as_dict(),
                **info,
                status=status,
                steps=n,
                time=t,
                wall_time_total_s=wall,
                newton=_total(model, "newton"),
                krylov=_total(model, "krylov"),
                rejected=stepper.rejected,
                energy_rejected=counts["energy_rejected"],
                fallbacks=model.fallbacks,
                failing=not ok,
            )
    result = RunResult(
        history=history,
        folder=Path(output) if output else None,
        wall_time=wall,
        steps=n,
        rejected=stepper.rejected,
        energy_rejected=counts["energy_rejected"],
        newton=_total(model, "newton"),
        krylov=_total(model, "krylov"),
        model=model,
        status=status,
        field_times=written,
    )
    if writer and plots:
        write_plots(result, Path(output))
    return result


def _energy_slack(energies: Mapping[str, float]) -> float:
    """Round-off allowance of the energy guard."""
    scale = sum(abs(v) for k, v in energies.items() if k != "total")
    return 1e-10 * max(scale, 1e-30)


def _total(model: Twinning, what: str) -> int:
    probs = [model._monolithic, model._eta_problem, model._u_problem]
    return sum(getattr(p.total, what) for p in probs if p is not None)


def write_plots(result: RunResult, folder: Path) -> list[Path]:
    """``energy.png`` (energies against time) and ``variants.png`` (PyVista picture)."""
    from femgp.fem.plots import plot_field, plot_history

    model = result.model
    out: list[Path] = []
    rows = result.history[1:] or result.history
    if model.comm.rank == 0:
        ys = [c for c in ENERGY_COLUMNS if any(abs(r[c]) > 0 for r in rows)]
        out.append(
            plot_history(
                rows,
                "time",
                ys,
                folder / "energy.png",
                logx=True,
                title="free energy",
                ylabel="energy",
            )
        )
    fn = model.variant_map() if len(model.etas) > 1 else model.etas[0]
    n = len(model.etas)
    clim = (0.0, float(n)) if n > 1 else (-1.0, 1.0)
    title = "variant map (0 austenite, i variant i)" if n > 1 else fn.name
    path = plot_field(fn, folder / "variants.png", title=title, cmap="viridis", clim=clim)
    if path is not None:
        out.append(path)
    return out
