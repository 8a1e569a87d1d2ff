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

from femgp.errors import InputError, SolverError
from femgp.fem.driver import Attempt, RunOptions, RunSummary, StepInfo, drive
from femgp.fem.io import initial_description
from femgp.fem.logs import get_logger
from femgp.fem.problems import SolveStats, warn_unused_options
from femgp.fem.stepping import AdaptiveStepper
from femgp.models.twinning.model import InitialValue, Twinning
from femgp.models.twinning.params import Params
from femgp.validation import check_nonnegative, check_positive

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
class RunResult(RunSummary):
    """What :func:`run` returns: the history, counts and the model (its final fields)."""

    rejected: int
    energy_rejected: int
    newton: int
    krylov: int
    model: Twinning
    status: str = "finished"
    field_times: list[float] = field(default_factory=list)


class _Stepping:
    """:class:`Twinning` in the protocol of :func:`femgp.fem.driver.drive`.

    With ``guard`` a step that raises the total energy is refused (the driver cuts
    it back); ``steady_rate`` ends the run (status ``"steady"``) once
    ``max |d eta/dt|`` falls below it.
    """

    name = "twinning"

    def __init__(self, model: Twinning, params: Params, prefix: str, **hooks: Any) -> None:
        self.model = model
        self.mesh = model.mesh
        self.guard = params.energy_guard and params.adaptive
        self.prefix = prefix
        self.steady_rate: float | None = hooks.get("steady_rate")
        self.on_step: Callable[[Twinning, dict[str, float]], None] | None = hooks.get("on_step")
        self.energies: dict[str, float] = {}  # of the committed state
        self._new: dict[str, float] = {}
        self.rate = float("nan")
        self.energy_rejected = 0

    def step(self, t: float, dt: float, step: int) -> Attempt:
        stats, err = self.model.step(dt, step=step)
        new, old = self.model.energies(), self.energies
        if self.guard and new["total"] > old["total"] + _energy_slack(old):
            self.energy_rejected += 1
            message = f"energy rose from {old['total']!r} to {new['total']!r}"
            raise SolverError(message, prefix=self.prefix, step=step)
        self._new = new
        return Attempt(self.model.control_iterations, err, stats)

    def commit(self, t: float, dt: float) -> str | None:
        self.rate = self.model.rate(dt)
        self.model.commit(dt)
        self.energies = self._new
        steady = self.steady_rate is not None and self.rate < self.steady_rate
        return "steady" if steady else None

    def rollback(self) -> None:
        self.model.rollback()

    def ended(self) -> str | None:
        """``"steady"`` if the committed state's rate is below ``steady_rate`` (asked
        on restart: a steady run stays ended, unless given a smaller ``steady_rate``)."""
        steady = self.steady_rate is not None and self.rate < self.steady_rate
        return "steady" if steady else None

    def checkpoint(self) -> tuple[dict[str, Any], dict[str, Any]]:
        functions, state = self.model.checkpoint()
        extra = {
            "energies": self.energies,
            "energy_rejected": self.energy_rejected,
            "rate": self.rate,
        }
        return functions, {**state, **extra}

    def restore(self, cp: Any, state: Mapping[str, Any]) -> None:
        self.model.restore(cp, state)
        self.energies = {k: float(v) for k, v in state["energies"].items()}
        self.energy_rejected = int(state["energy_rejected"])
        self.rate = float(state.get("rate", float("nan")))  # nan: not steady

    def output_functions(self) -> list[Any]:
        return self.model.output_functions()

    def history_row(self, info: StepInfo) -> dict[str, float]:
        m = self.model
        if info.attempt is None:  # the initial state
            self.energies, self.rate = m.energies(), float("nan")
        attempt = info.attempt or Attempt(stats=SolveStats())
        row: dict[str, float] = {"step": info.step, "time": info.t, "dt": info.dt}
        row.update({k: self.energies.get(k, 0.0) for k in ENERGY_COLUMNS})
        row.update({f"vf_{k}": v for k, v in m.mean_order_parameters().items()})
        row.update(
            rate=self.rate,
            newton=attempt.stats.newton,
            krylov=attempt.stats.krylov,
            staggered=m.staggered_iterations,
            fallbacks=m.fallbacks,
            rejected=info.rejected,
            energy_rejected=self.energy_rejected,
            error=float("nan") if attempt.error is None else attempt.error,
        )
        if self.on_step is not None:
            self.on_step(m, row)
        return row

    def summary(self) -> dict[str, int]:
        return {
            "newton": _total(self.model, "newton"),
            "krylov": _total(self.model, "krylov"),
            "energy_rejected": self.energy_rejected,
            "fallbacks": self.model.fallbacks,
        }

    def finish(self) -> None:
        m = self.model
        warn_unused_options(*(p for p in (m._monolithic, m._eta_problem, m._u_problem) if p))


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
    """Relax the variants from ``initial`` until ``t_end`` or a steady state (by the driver).

    Args:
        domain, params, t_end: the mesh, the model and step control, the final time (> 0).
        initial: one value per variant: a function of x or a constant.
        field_times: times at which fields are written (always 0 and the end), landed on;
            finite and >= 0 (InputError otherwise), those at or past ``t_end`` left out.
        steady_rate: stop early once ``max |d eta/dt| < steady_rate``; max_steps: a guard.
        prefix, options, options_u, options_eta: PETSc prefix and default options.
        plots: with ``output``, write ``energy.png`` and ``variants.png`` at the end.
        on_step: called after every accepted step with the model and the history row.
        output, overwrite, show_progress, checkpoint_every, restart, vtx: see
            :class:`femgp.fem.driver.RunOptions` (``t_end`` may grow on restart).

    Raises:
        RunInterrupted: SIGTERM (exit code 143) or SIGINT (130) stopped the run.
    """
    started = time.perf_counter()
    t_end = _check(params, t_end, initial, steady_rate)
    # nan or a negative time is a mistake; 0 (always written) and times past t_end are left out
    field_times = [check_nonnegative("field_times", t) for t in field_times]
    field_times = sorted({t for t in field_times if 0 < t < t_end})
    # The model (and its initial equilibrium) first: an error there leaves no output behind.
    solvers = {"options": options, "options_u": options_u, "options_eta": options_eta}
    model = Twinning(domain, params, prefix=prefix, **solvers)
    model.set_initial(initial)
    stepping = _Stepping(model, params, prefix, steady_rate=steady_rate, on_step=on_step)
    res = drive(
        stepping,
        _stepper(params, model.target_iterations, field_times),
        RunOptions(output, overwrite, show_progress, checkpoint_every, restart, vtx),
        t_end=t_end,
        params={**params.as_dict(), "initial": [initial_description(v) for v in initial]},
        columns=history_columns(params),
        run_info={"t_end": t_end, "ranks": domain.comm.size},
        field_times=field_times,
        max_steps=max_steps,
        started=started,
    )
    totals = (stepping.energy_rejected, _total(model, "newton"), _total(model, "krylov"))
    base = (res.history, res.folder, res.wall_time, res.steps, res.rejected)
    result = RunResult(*base, *totals, model, res.status, res.field_times)
    if output and plots:
        write_plots(result, Path(output))
    return result


def _check(
    params: Params, t_end: float, initial: Sequence[InitialValue], steady_rate: float | None
) -> float:
    """Validate the run's arguments (before any work); returns ``t_end`` as a float."""
    t_end = check_positive("t_end", t_end)
    if steady_rate is not None:
        check_positive("steady_rate", steady_rate)
    if len(initial) != len(params.variants):
        variants = ", ".join(params.variants)
        raise InputError(f"initial needs one value per variant ({variants}), got {len(initial)}")
    return t_end


def _stepper(params: Params, target_iterations: int, times: Sequence[float]) -> AdaptiveStepper:
    """The step controller: error estimate and iteration counts, landing on ``times``."""
    p = params
    return AdaptiveStepper(
        p.dt,
        p.dt_min,
        p.dt_max,
        p.adaptive,
        p.tol,
        target_iterations=target_iterations,
        output_times=times,
    )


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
