"""The one stepping driver: every model's time or load loop.

:func:`drive` owns everything a run does around the physics: the results
writer (``history.csv`` and other tables, ``fields.xdmf``, ``run.json``),
checkpoints and restart (:class:`~femgp.fem.checkpoint.RunCheckpointing`),
SIGTERM and SIGINT, the progress bar, cutbacks, the accept / commit / rollback
loop, landing on output times, the run status and finishing. A model's
``run`` builds its model and an :class:`~femgp.fem.stepping.AdaptiveStepper`
and hands both to :func:`drive`.

The protocol
------------
A model takes part through :class:`SteppedModel`, a small ``typing.Protocol``:

- ``name``: the model name written to ``run.json`` and to checkpoints;
- ``mesh``: the mesh the run lives on now (asked for when the writer and the
  checkpointer are made; nothing else holds on to it);
- ``step(t, dt, step) -> Attempt``: try to advance from the committed state to
  time (or load) ``t`` (``dt`` is the increment); raise
  :class:`femgp.SolverError` to have the driver roll back and cut back. The
  returned :class:`Attempt` carries the iteration count and error estimate the
  step controller judges, and the model's own statistics;
- ``commit(t, dt) -> str | None``: accept the attempt. Return a status (for
  example ``"steady"``) to end the run after this step, else ``None``;
- ``rollback()``: discard the attempt (back to the committed state);
- ``checkpoint() -> (functions, state)`` and ``restore(cp, state)``: what an
  exact continuation needs (``cp`` offers ``load_function`` / ``load_array``);
- ``output_functions()``: the functions to write, asked for at *every* write,
  so a model may hand out new function objects (for example on a refined mesh);
- ``history_row(info) -> dict``: one row of ``history.csv`` after the accepted
  step ``info`` (:class:`StepInfo`; ``info.attempt`` is ``None`` for step 0);
- ``summary() -> dict``: the model's totals for ``run.json`` (iterations ...);
- ``finish()``: called once when the run ended normally (for example to warn
  about PETSc options that were never used).

Optional (looked up with ``getattr``; a model without them runs on one mesh):

- ``adapt(t) -> bool``: mesh adaptivity. Called before the load path (``t``
  = the start, the committed state) and after every successful attempt at
  ``t`` (the trial state, not yet judged by the step controller). The model
  may refine its mesh where the current (trial) state asks for it; then it
  returns ``True`` and holds its committed state, transferred to the new
  mesh, as its rollback point (it may start the next solve from its trial
  state transferred too, as the fracture model does), and the driver starts
  a new field segment on the new mesh, hands
  it to the checkpointer and solves the step again (at most
  :data:`MAX_ADAPT_ROUNDS` times per step). ``False``: nothing changed
  (the trial state is kept);
- ``tagged_mesh``: the mesh with its tags and group names
  (:class:`~femgp.fem.meshes.core.TaggedMesh`), which a checkpoint stores
  once the mesh has changed, so that a restart rebuilds it;
- ``use_mesh(tm)``: on restart from a checkpoint that stored its mesh, build
  the model on ``tm`` (before ``restore``);
- ``num_dofs() -> int``: the global number of unknowns, the ``dofs`` column
  of ``history.csv`` (default: the global sizes of the output functions);
- ``ended() -> str | None``: asked after a restart, with the state restored:
  the status (such as ``"steady"``) that ended the run at that state under the
  present settings, so that a run that ended early takes no further step
  (default: ``None``, the run goes on to ``t_end``).

The adapter a model hands in must not hold a reference to the driver or to
itself through a bound method: a reference cycle through the model leaves its
PETSc solvers to Python's cyclic garbage collector, which runs at a different
moment on every rank. Destroying a solver (dolfinx's ``NonlinearProblem.__del__``
destroys its SNES, and a MUMPS factorisation's teardown is collective) on one
rank alone deadlocks the ranks: this is what hung the 2-rank Cahn-Hilliard
kill-and-restart test once (the collection ran inside rank 0's plotting while
rank 1 waited in a gather). :func:`drive` keeps no such cycle, so a model is
freed by reference counting at the same point on every rank.

Signals
-------
While :func:`drive` runs (in the main thread) SIGTERM and SIGINT only set a
flag; no exception is raised inside PETSc's callbacks (a ``KeyboardInterrupt``
there becomes PETSc error 101, leaves a vector locked and used to be reported
as a solver failure after 8 cutbacks). The flags are allreduced after every
attempt, so a signal to any one rank stops all ranks after the same step: the
driver writes a checkpoint when checkpointing is on, sets ``"status":
"interrupted"``, prints one line on how to continue and raises
:class:`~femgp.fem.checkpoint.RunInterrupted` (exit code 143 for SIGTERM, 130 for
SIGINT). The handlers stay until ``run.json`` and the final files are written
(and ``on_finish`` has run): a signal after the last step's check only logs a
line, as the run's work is complete. The previous handlers are restored then.

Status words (``run.json``): ``running``, ``finished`` (reached the end),
``stopped`` (``max_steps`` reached), a model's own end (``steady``),
``failed`` (an exception, e.g. a step that failed after all cutbacks) and
``interrupted``.

Every ``history.csv`` row gets the driver's columns :data:`DRIVER_COLUMNS`
(``dofs``: the global number of unknowns, which changes under adaptivity).
A run whose model adapts (``adapt`` defined) writes its fields in segments,
one mesh each, collected into one time series in ``fields.xdmf``.
"""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from mpi4py import MPI

from femgp.errors import InputError, SolverError
from femgp.exits import exit_status, settle_ranks
from femgp.fem.checkpoint import CHECKPOINT_DIR, RunCheckpointing, RunInterrupted
from femgp.fem.io import ResultsWriter
from femgp.fem.logs import get_logger, progress
from femgp.fem.stepping import AdaptiveStepper

__all__ = [
    "DRIVER_COLUMNS",
    "MAX_ADAPT_ROUNDS",
    "Attempt",
    "DriveResult",
    "RunOptions",
    "RunSummary",
    "StepInfo",
    "SteppedModel",
    "StopSignals",
    "drive",
]

log = get_logger("femgp.driver")

#: Relative tolerance of "the run reached t_end".
_END = 1e-12

#: Columns the driver appends to every model's ``history.csv``.
DRIVER_COLUMNS: tuple[str, ...] = ("dofs",)

#: Refine-and-re-solve rounds of one step (each may refine several levels). A
#: crack running into coarse cells stops at the edge of each refined region: the
#: fine SENT's breaking step takes six rounds, and with 4 the step was committed
#: with its crack held by the mesh (docs/adaptivity.md).
MAX_ADAPT_ROUNDS = 8


def num_dofs(model: Any) -> int:
    """The global number of unknowns of ``model`` (its ``num_dofs()``, else its outputs)."""
    count = getattr(model, "num_dofs", None)
    if count is not None:
        return int(count())
    total = 0
    for fn in model.output_functions():
        dm = fn.function_space.dofmap
        total += int(dm.index_map.size_global * dm.index_map_bs)
    return total


@dataclass
class Attempt:
    """What one step attempt returns.

    Attributes:
        iterations: the iteration count the step controller judges.
        error: the local error estimate (``None``: none).
        stats: the model's own statistics of the attempt (for its history row).
    """

    iterations: int = 0
    error: float | None = None
    stats: Any = None


@dataclass(frozen=True)
class RunOptions:
    """The run options every model's ``run`` takes under these names and passes on.

    Attributes:
        output: results folder (``None``: keep the history in memory only).
        overwrite: allow replacing results in ``output``.
        show_progress: a progress bar (rank 0, on a terminal only).
        checkpoint_every: write a checkpoint every this many steps (and on a stop
            signal); see ``docs/checkpointing.md``.
        restart: continue the run in ``output`` from its latest complete checkpoint
            (the same parameters; only those the model calls mutable may change).
        vtx: also write the fields as ADIOS2 VTX (``<name>.bp``).
    """

    output: str | Path | None = None
    overwrite: bool = False
    show_progress: bool = True
    checkpoint_every: int | None = None
    restart: bool = False
    vtx: bool = False


@dataclass(frozen=True)
class StepInfo:
    """The accepted step a history row describes."""

    step: int
    t: float
    dt: float
    attempt: Attempt | None  # None for step 0
    rejected: int  # steps rejected by the error control so far
    cutbacks: int  # failed attempts so far
    wall: float  # wall time of the run so far (s)


class SteppedModel(Protocol):
    """What a model provides to :func:`drive` (see the module docstring)."""

    name: str

    @property
    def mesh(self) -> Any:
        """The mesh the run lives on now."""
        ...

    def step(self, t: float, dt: float, step: int) -> Attempt:
        """Try to advance from the committed state to ``t``; raise SolverError to cut back."""
        ...

    def commit(self, t: float, dt: float) -> str | None:
        """Accept the attempt; a status ends the run after this step."""
        ...

    def rollback(self) -> None:
        """Discard the attempt: back to the committed state."""
        ...

    def checkpoint(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The functions and the state an exact continuation needs."""
        ...

    def restore(self, cp: RunCheckpointing, state: Mapping[str, Any]) -> None:
        """Take back what :meth:`checkpoint` gave, read through ``cp``."""
        ...

    def output_functions(self) -> Sequence[Any]:
        """The functions to write now (asked for at every write)."""
        ...

    def history_row(self, info: StepInfo) -> dict[str, Any]:
        """One row of ``history.csv`` after the accepted step ``info``."""
        ...

    def summary(self) -> dict[str, Any]:
        """The model's totals for ``run.json``."""
        ...

    def finish(self) -> None:
        """Called once when the run ended normally."""
        ...


@dataclass
class RunSummary:
    """What every model's ``run`` result starts with: the history and the step count.

    The models' result classes extend it (their own totals follow these fields).
    """

    history: list[dict[str, Any]]
    folder: Path | None
    wall_time: float
    steps: int

    def column(self, name: str) -> np.ndarray:
        """One history column as an array."""
        return np.array([row[name] for row in self.history], dtype=float)


@dataclass
class DriveResult:
    """What :func:`drive` returns.

    ``wall_time``: seconds from the start of the run (its first start, for a
    restarted run) to the end of its last step, ``run.json``'s
    ``wall_time_total_s``; the plots of ``on_finish`` are not in it.
    """

    history: list[dict[str, Any]]
    folder: Path | None
    wall_time: float
    steps: int
    t: float
    status: str
    rejected: int
    cutbacks: int
    field_times: list[float] = field(default_factory=list)


class StopSignals:
    """SIGTERM and SIGINT set a flag while installed (main thread only).

    :meth:`received` allreduces the flags, so every rank sees a signal that
    reached any one of them. Holds nothing but the signal received.
    """

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self, comm: Any) -> None:
        self.comm = comm
        self.signum = 0
        self._old: dict[int, Any] = {}

    def _on_signal(self, signum: int, frame: Any) -> None:
        self.signum = self.signum or int(signum)

    def install(self) -> None:
        """Install the handlers (skipped outside the main thread)."""
        try:
            for s in self.SIGNALS:
                self._old[s] = signal.signal(s, self._on_signal)
        except ValueError:  # not the main thread: leave the handlers alone
            self.restore()

    def restore(self) -> None:
        """Put the previous handlers back."""
        for s, old in self._old.items():
            signal.signal(s, old)
        self._old.clear()

    def received(self) -> int:
        """The signal any rank received (0: none); collective."""
        return int(self.comm.allreduce(self.signum, op=MPI.MAX))


def _on_time(t: float, times: Sequence[float]) -> bool:
    return any(abs(t - tf) <= 1e-9 * max(1.0, tf) for tf in times)


class _Run:
    """The state of one :func:`drive` call (no reference back to itself or its caller)."""

    def __init__(self, model: SteppedModel, stepper: AdaptiveStepper, **kw: Any) -> None:
        self.model = model
        self.stepper = stepper
        self.comm = model.mesh.comm
        self.t_end: float = kw["t_end"]
        self.field_times: Sequence[float] | None = kw["field_times"]
        self.write_fields: bool = kw["write_fields"]
        self.params: Mapping[str, Any] = kw["params"]
        self.run_info: Mapping[str, Any] = kw["run_info"]
        self.t0: float = kw["started"]
        opts: RunOptions = kw["options"]
        output = opts.output
        self.folder = Path(output) if output else None
        self.cp = RunCheckpointing(
            output,
            model.mesh,
            model=model.name,
            params=self.params,
            every=opts.checkpoint_every,
            restart=opts.restart,
            overwrite=opts.overwrite,
            mutable=kw["mutable"],
        )
        self.adaptive = getattr(model, "adapt", None) is not None
        if self.adaptive and opts.vtx:
            raise InputError(
                "VTX output (--vtx) is not available with adaptive refinement (the mesh "
                "changes); use fields.xdmf"
            )
        stored = self.cp.stored_mesh
        if stored is not None:  # the checkpoint's (refined) mesh
            model.use_mesh(stored)
        self.writer = (
            ResultsWriter(
                output,
                self.comm,
                overwrite=opts.overwrite,
                mesh=model.mesh if self.write_fields else None,
                segmented=self.cp.enabled or self.adaptive,
                resume=self.cp.writer_resume,
                vtx=opts.vtx,
            )
            if output
            else None
        )
        try:
            self._begin(model, stepper, kw["columns"], kw["extra_tables"])
        except BaseException as exc:
            if self.writer is not None and self.cp.state is None:
                # a new run that cannot even begin (a full disk): nothing of it stays,
                # and what it was replacing comes back
                _settle_before_cleanup(self.comm, exc)
                self.writer.close()
                self.writer.undo()
            raise

    def _begin(
        self,
        model: SteppedModel,
        stepper: AdaptiveStepper,
        columns: Sequence[str],
        extra_tables: Mapping[str, Sequence[str]] | None,
    ) -> None:
        """The tables, the state resumed from a checkpoint, and the first run.json."""
        self.history: list[dict[str, Any]] = []
        columns = (*columns, *DRIVER_COLUMNS)
        tables = {"history.csv": columns, **(extra_tables or {})}
        if self.writer:
            for name, columns in tables.items():
                self.writer.table(name, columns)
            self.history = self.writer.rows("history.csv")
        self.tables = list(tables)
        self.t, self.n, self.cutbacks, self.saved = 0.0, 0, 0, -1
        #: the model's reason to end before ``t_end`` (``model.commit``'s), once given
        self.end: str | None = None
        #: a step of this run has been accepted and recorded (what it replaced is gone)
        self.under_way = False
        self.written: list[float] = []
        self.status = "running"
        resumed = self.cp.state
        if resumed is not None:
            model.restore(self.cp, resumed["model"])
            stepper.restore(resumed["stepper"])
            self.t, self.n = float(resumed["t"]), int(resumed["step"])
            self.saved = self.n  # the checkpoint resumed from
            self.written = [float(x) for x in resumed["written"]]
            self.cutbacks = int(resumed["cutbacks"])
            # a run that ended early ("steady") stays ended, if the model says so now
            ended = getattr(model, "ended", None)
            self.end = ended() if ended is not None else None
            self.t0 -= float(resumed["wall"])
        #: ``run.json``'s ``restarted_from_step`` (a resumed run), kept to the end
        self.restart_info = {"restarted_from_step": self.n} if resumed is not None else {}
        if self.writer:
            self.writer.write_run_info(
                self.params,
                model=model.name,
                **self.run_info,
                status="running",
                **self.restart_info,
            )

    # -- pieces of a step ----------------------------------------------------------------
    def record(self, dt: float, attempt: Attempt | None) -> None:
        info = StepInfo(
            self.n,
            self.t,
            dt,
            attempt,
            self.stepper.rejected,
            self.cutbacks,
            time.perf_counter() - self.t0,
        )
        row = self.model.history_row(info)
        row["dofs"] = num_dofs(self.model)
        self.history.append(row)
        if self.writer:
            for name in self.tables:
                self.writer.append(name, row)
        if (
            self.field_times is None
            or self.n == 0
            or self.t >= self.t_end * (1 - _END)
            or _on_time(self.t, self.field_times)
        ):
            self.fields()

    def adapt(self, t: float) -> bool:
        """Let the model refine at ``t``; on a new mesh: new field segment and checkpoint mesh."""
        if not self.adaptive or not self.model.adapt(t):
            return False
        if self.writer:
            self.writer.set_mesh(self.model.mesh if self.write_fields else None)
        self.cp.set_mesh(self.model.tagged_mesh)
        return True

    def solve(self, t: float, dt: float) -> Attempt:
        """One attempt at ``t``, refined and solved again until the mesh stays (adaptive)."""
        attempt = self.model.step(t, dt, self.n + 1)
        for _ in range(MAX_ADAPT_ROUNDS):
            if not self.adapt(t):
                break
            attempt = self.model.step(t, dt, self.n + 1)
        return attempt

    def fields(self) -> None:
        if self.writer and self.write_fields:
            self.writer.write_fields(self.model.output_functions(), self.t)
        self.written.append(self.t)

    def checkpoint(self) -> None:
        functions, state = self.model.checkpoint()
        body = {
            "step": self.n,
            "t": self.t,
            "model": state,
            "stepper": self.stepper.state(),
            "written": self.written,
            "cutbacks": self.cutbacks,
            "wall": time.perf_counter() - self.t0,
        }
        self.cp.save(self.n, functions, body, self.writer)
        self.saved = self.n

    def stop(self, signals: StopSignals) -> None:
        """After a signal: checkpoint (when on), say how to continue, raise RunInterrupted."""
        signum = signals.received()
        if not signum:
            return
        if self.cp.enabled and self.saved != self.n:
            self.checkpoint()
        self.status = "interrupted"
        name = signal.Signals(signum).name
        if self.cp.enabled:
            assert self.folder is not None
            what = (
                f"checkpoint of step {self.n} written in {self.folder / CHECKPOINT_DIR}; "
                "continue with --restart"
            )
        else:
            what = (
                f"stopped after step {self.n} without a checkpoint (checkpointing is off); "
                "run with --checkpoint-every N to be able to continue with --restart"
            )
        if self.comm.rank == 0:
            print(f"interrupted by {name}: {what}", file=sys.stderr, flush=True)
        raise RunInterrupted(self.folder, self.n, signum)

    # -- the loop ------------------------------------------------------------------------
    def loop(self, signals: StopSignals, bar: Any, max_steps: int | None) -> None:
        model, stepper, t_end = self.model, self.stepper, self.t_end
        if self.cp.state is None:
            for _ in range(MAX_ADAPT_ROUNDS):  # refine where the initial state asks for it
                if not self.adapt(self.t):
                    break
            self.record(0.0, None)
            if self.cp.enabled:
                self.checkpoint()
        else:
            bar.update(self.t)
        end = self.end
        while self.t < t_end * (1 - _END) and end is None:
            if max_steps is not None and self.n >= max_steps:
                break
            dt = stepper.next_dt(self.t, t_end)
            t_new = t_end if abs(self.t + dt - t_end) < _END * t_end else self.t + dt
            try:
                attempt = self.solve(t_new, dt)
            except SolverError as exc:
                model.rollback()
                self.cutbacks += 1
                # A signal during a failed attempt stops the run as an interruption,
                # also when that attempt was the last cutback allowed.
                self.stop(signals)
                stepper.cutback(dt, step=self.n + 1, cause=exc)
                log.info("step %d: %s; cutting the step to %.3g", self.n + 1, exc, stepper.dt)
                continue
            if not stepper.accept(dt, iterations=attempt.iterations, error=attempt.error):
                model.rollback()
                self.stop(signals)
                continue
            end = self.end = model.commit(t_new, dt)
            self.t, self.n = t_new, self.n + 1
            self.record(dt, attempt)
            if not self.under_way:
                self.under_way = True
                if self.writer:
                    self.writer.drop_replaced()  # what the run replaced goes
            bar.update(dt)
            every = self.cp.every
            if self.cp.enabled and every is not None and self.n % every == 0:
                self.checkpoint()
            self.stop(signals)
        if not self.written or self.written[-1] != self.t:
            self.fields()
        if self.cp.enabled and self.saved != self.n:
            self.checkpoint()  # the final state, so that a later restart may extend t_end
        model.finish()
        if self.t >= t_end * (1 - _END):
            self.status = "finished"
        else:
            self.status = end or "stopped"

    def close(self, ok: bool) -> None:
        #: the run's wall time, as ``run.json`` records it (and the result returns)
        self.wall = time.perf_counter() - self.t0
        if self.writer:
            self.writer.finish(
                self.params,
                model=self.model.name,
                **self.run_info,
                status=self.status,
                steps=self.n,
                time=self.t,
                wall_time_total_s=self.wall,
                rejected=self.stepper.rejected,
                cutbacks=self.cutbacks,
                **self.restart_info,
                **self.model.summary(),
                failing=not ok,
            )


def _settle_before_cleanup(comm: Any, exc: BaseException) -> None:
    """Wait for the other ranks to fail too before the collective clean-up; collective.

    A run that stops with an error closes its files and writes ``run.json``
    together on every rank. An error on one rank only would leave it waiting
    there while the others wait in their next step: this rank then aborts the
    job instead (:func:`femgp.exits.settle_ranks`, ``FEMGP_RANK_WAIT_S``).
    """
    code, message = exit_status(exc)
    settle_ranks(code or 1, message, comm=comm, said=False)


def drive(
    model: SteppedModel,
    stepper: AdaptiveStepper,
    options: RunOptions,
    *,
    t_end: float,
    params: Mapping[str, Any],
    columns: Sequence[str],
    field_times: Sequence[float] | None = (),
    write_fields: bool = True,
    extra_tables: Mapping[str, Sequence[str]] | None = None,
    run_info: Mapping[str, Any] | None = None,
    mutable: Sequence[str] = ("t_end",),
    max_steps: int | None = None,
    started: float | None = None,
    on_finish: Callable[[list[dict[str, Any]], str], None] | None = None,
) -> DriveResult:
    """Step ``model`` from 0 (or its checkpoint) to ``t_end`` with ``stepper``.

    Args:
        model: the model, in the :class:`SteppedModel` protocol.
        stepper: the step controller (its ``output_times`` are landed on).
        options: output folder, overwrite, progress bar, checkpoints, restart, VTX.
        t_end: the final time or load.
        params: the run's parameters (``run.json``; compared on restart).
        columns: the columns of ``history.csv`` (rows come from ``history_row``).
        field_times: times at which fields are written, besides the first and the
            last state; ``None``: after every step.
        write_fields: write fields at all (``fields.xdmf``, with ``output``).
        extra_tables: more CSV tables, each the history row's named columns.
        run_info: extra top-level entries of ``run.json``.
        mutable: parameter keys that may change on restart.
        max_steps: stop (status ``"stopped"``) after this many steps.
        started: ``time.perf_counter()`` when the run began (default: now).
        on_finish: called with the history and the status when the run ends
            (also after a failure; not when interrupted), after ``run.json``.

    Raises:
        RunInterrupted: SIGTERM (exit code 143) or SIGINT (130) was received.
        SolverError: a step failed after all allowed cutbacks.
    """
    if max_steps is not None and (
        isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1
    ):
        raise InputError(f"max_steps must be a positive integer, got {max_steps!r}")
    run = _Run(
        model,
        stepper,
        t_end=t_end,
        field_times=None if field_times is None else sorted(field_times),
        write_fields=write_fields,
        params=params,
        run_info=dict(run_info or {}),
        started=time.perf_counter() if started is None else started,
        options=options,
        mutable=mutable,
        columns=columns,
        extra_tables=extra_tables,
    )
    signals = StopSignals(run.comm)
    signals.install()
    bar = progress(t_end, model.name, run.comm, enabled=options.show_progress)
    ok = refused = False
    try:
        run.cp.begin()
        run.loop(signals, bar, max_steps)
        ok = True
    except BaseException as exc:
        if run.status == "running":
            run.status = "failed"
        _settle_before_cleanup(run.comm, exc)
        # Bad input found before a new run's first step was recorded (an option PETSc
        # reads only in a solve, a full disk): the folder goes back to what it held.
        # Every rank is here now; they decide together.
        refused = isinstance(exc, InputError) and not run.under_way and run.cp.state is None
        refused = run.comm.allreduce(refused, op=MPI.LAND)
        raise
    finally:
        # The handlers stay until the results are closed: a signal in this last
        # stretch waits for run.json and the final files instead of cutting them off.
        try:
            bar.close()
            run.close(ok)
            if run.writer and refused:
                run.writer.undo()
            elif run.writer:
                run.writer.drop_replaced()  # also for a run failed or stopped before step 1
                if on_finish is not None and run.status != "interrupted":
                    on_finish(run.history, run.status)
        finally:
            signals.restore()
    if signals.signum:  # after the last step's check: the run had finished its work
        log.warning(
            "%s arrived after the last step; the run was complete and is closed normally",
            signal.Signals(signals.signum).name,
        )
    return DriveResult(
        history=run.history,
        folder=run.folder,
        wall_time=run.wall,  # run.json's: without on_finish's plots
        steps=run.n,
        t=run.t,
        status=run.status,
        rejected=stepper.rejected,
        cutbacks=run.cutbacks,
        field_times=run.written,
    )
