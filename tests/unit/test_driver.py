"""The stepping driver (femgp.fem.driver) with a toy model, and the runs' reference hygiene.

The toy model is y' = -y by backward Euler (y_{n+1} = y_n / (1 + dt)), held in a
P1 function on a small mesh so that it can be checkpointed. It can fail steps
longer than a limit (the driver cuts back), end early ("steady") and send
itself a signal in a given step.
"""

from __future__ import annotations

import gc
import json
import math
import os
import signal
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import femgp.fem._backend  # noqa: F401

import numpy as np
import pytest
from dolfinx import fem, mesh
from mpi4py import MPI

from femgp.errors import InputError, SolverError
from femgp.fem.checkpoint import Checkpointer, RunInterrupted
from femgp.fem.driver import MAX_ADAPT_ROUNDS, Attempt, RunOptions, StepInfo, drive
from femgp.fem.meshes.pfhub import square
from femgp.fem.stepping import AdaptiveStepper
from femgp.models import cahn_hilliard as ch

COLUMNS = ("step", "time", "dt", "y", "cutbacks")


class Toy:
    """y' = -y, backward Euler, in the driver's protocol."""

    name = "toy"

    def __init__(self, comm: Any, *, fail_above: float = math.inf, **kw: Any) -> None:
        self.mesh = mesh.create_unit_square(comm, 2, 2)
        self.y = fem.Function(fem.functionspace(self.mesh, ("Lagrange", 1)), name="y")
        self.y.x.array[:] = 1.0
        self.committed = 1.0
        self.fail_above = fail_above
        self.signal_at: tuple[int, int] | None = kw.get("signal_at")
        self.signal_on_attempt: tuple[int, int] | None = kw.get("signal_on_attempt")
        self.attempts = 0
        self.steady_below: float | None = kw.get("steady_below")
        self.finished = False
        self.refuse_at: int | None = kw.get("refuse_at")

    def step(self, t: float, dt: float, step: int) -> Attempt:
        self.attempts += 1
        if self.signal_at and step == self.signal_at[0]:
            os.kill(os.getpid(), self.signal_at[1])
        if self.signal_on_attempt and self.attempts == self.signal_on_attempt[0]:
            os.kill(os.getpid(), self.signal_on_attempt[1])
        if dt > self.fail_above:
            raise SolverError("too long a step", prefix="toy_", step=step)
        if step == self.refuse_at:  # bad input found only in a solve (a PETSc option)
            raise InputError("toy_: bad PETSc option (found in the solve)")
        self.y.x.array[:] = self.committed / (1.0 + dt)
        return Attempt(iterations=1)

    def commit(self, t: float, dt: float) -> str | None:
        self.committed = float(self.y.x.array[0])
        steady = self.steady_below is not None and self.committed < self.steady_below
        return "steady" if steady else None

    def ended(self) -> str | None:
        steady = self.steady_below is not None and self.committed < self.steady_below
        return "steady" if steady else None

    def rollback(self) -> None:
        self.y.x.array[:] = self.committed

    def checkpoint(self) -> tuple[dict[str, Any], dict[str, Any]]:
        return {"y": self.y}, {"committed": self.committed}

    def restore(self, cp: Any, state: Mapping[str, Any]) -> None:
        cp.load_function("y", self.y)
        self.committed = float(state["committed"])

    def output_functions(self) -> list[Any]:
        return [self.y]

    def history_row(self, info: StepInfo) -> dict[str, Any]:
        return {
            "step": info.step,
            "time": info.t,
            "dt": info.dt,
            "y": self.committed,
            "cutbacks": info.cutbacks,
        }

    def summary(self) -> dict[str, Any]:
        return {"y": self.committed}

    def finish(self) -> None:
        self.finished = True


def _drive(model: Toy, out: Path | None, t_end: float = 2.0, **kw: Any) -> Any:
    stepper = AdaptiveStepper(dt=0.1, dt_max=0.4, output_times=kw.pop("times", ()))
    opts = RunOptions(
        out,
        show_progress=False,
        checkpoint_every=kw.pop("checkpoint_every", None),
        restart=kw.pop("restart", False),
    )
    return drive(model, stepper, opts, t_end=t_end, params={"t_end": t_end}, columns=COLUMNS, **kw)


def _status(out: Path) -> str:
    return json.loads((out / "run.json").read_text())["status"]


def _out(tmp_path: Path) -> Path:
    return Path(MPI.COMM_WORLD.bcast(str(tmp_path), root=0)) / "out"


def test_lands_on_output_times_and_finishes(tmp_path):
    out = _out(tmp_path)
    model = Toy(MPI.COMM_WORLD)
    res = _drive(model, out, times=(0.55, 1.3), field_times=(0.55, 1.3))
    times = [row["time"] for row in res.history]
    assert times[0] == 0.0 and times[-1] == 2.0
    assert 0.55 in times and 1.3 in times
    assert res.field_times == [0.0, 0.55, 1.3, 2.0]
    assert res.status == "finished" == _status(out) and model.finished
    # backward Euler: y(2) = prod 1 / (1 + dt), within the O(dt) error of exp(-2)
    ys = np.prod([1.0 / (1.0 + r["dt"]) for r in res.history[1:]])
    assert res.history[-1]["y"] == pytest.approx(ys, rel=1e-12)
    assert abs(ys - math.exp(-2.0)) < 0.05


def test_cutbacks_then_success_and_failure(tmp_path):
    """Steps longer than 0.05 fail: cut back (halved) and go on; none allowed: SolverError."""
    model = Toy(MPI.COMM_WORLD, fail_above=0.05)
    res = _drive(model, None, t_end=0.5)
    assert res.status == "finished" and res.cutbacks >= 1
    assert max(r["dt"] for r in res.history[1:]) <= 0.05
    # every failed attempt is one cutback (no error estimate: none rejected)
    assert res.rejected == 0 and res.cutbacks == model.attempts - res.steps
    assert res.history[-1]["cutbacks"] == res.cutbacks
    out = _out(tmp_path)
    model = Toy(MPI.COMM_WORLD, fail_above=1e-9)
    with pytest.raises(SolverError, match=r"toy_: step failed .* after 8 cutbacks"):
        _drive(model, out, t_end=0.5)
    info = json.loads((out / "run.json").read_text())
    # the first try and 8 cutbacks, all failed
    assert info["status"] == "failed" and info["cutbacks"] == model.attempts == 9


def test_status_words(tmp_path):
    res = _drive(Toy(MPI.COMM_WORLD), None, max_steps=3)
    assert res.status == "stopped" and res.steps == 3
    res = _drive(Toy(MPI.COMM_WORLD, steady_below=0.5), None)
    assert res.status == "steady" and res.history[-1]["y"] < 0.5 < res.history[-2]["y"]


def test_a_restart_of_a_run_that_ended_early_stays_ended(tmp_path):
    """A steady run restarted from its final checkpoint takes no step (it took one
    more, and changed its results), and keeps its status, as long as the model's
    ``ended`` says so: with a tighter criterion it goes on. A stopped one goes on."""
    out = _out(tmp_path)
    first = _drive(Toy(MPI.COMM_WORLD, steady_below=0.5), out, checkpoint_every=3)
    assert first.status == "steady"
    history = (out / "history.csv").read_text()
    again = _drive(Toy(MPI.COMM_WORLD, steady_below=0.5), out, restart=True)
    assert again.status == "steady" and again.steps == first.steps
    assert (out / "history.csv").read_text() == history
    tighter = _drive(Toy(MPI.COMM_WORLD, steady_below=0.3), out, restart=True)
    assert tighter.status == "steady" and tighter.steps > first.steps
    assert tighter.history[-1]["y"] < 0.3 < tighter.history[-2]["y"]
    # the control: a run stopped by max_steps continues
    other = _out(tmp_path / "x")
    _drive(Toy(MPI.COMM_WORLD), other, checkpoint_every=3, max_steps=2)
    assert _drive(Toy(MPI.COMM_WORLD), other, restart=True).status == "finished"


def test_signal_after_the_last_step_waits_for_the_results(tmp_path):
    """A SIGTERM while the results are closed (here from on_finish, the plots) is the
    run's to hold: the handlers stayed in place only during the steps, so such a
    signal went to the handler from before the run (by default it kills the process,
    leaving run.json at "running" and no final checkpoint)."""
    out = _out(tmp_path)
    seen: list[int] = []

    def mine(signum: int, frame: Any) -> None:
        seen.append(signum)

    before = signal.signal(signal.SIGTERM, mine)
    try:
        res = _drive(
            Toy(MPI.COMM_WORLD),
            out,
            t_end=0.5,
            checkpoint_every=100,
            on_finish=lambda history, status: os.kill(os.getpid(), signal.SIGTERM),
        )
        assert signal.getsignal(signal.SIGTERM) is mine  # put back after the run
    finally:
        signal.signal(signal.SIGTERM, before)
    assert not seen
    assert res.status == "finished" == _status(out)
    final = f"{res.steps:08d}"
    assert (out / "checkpoints" / final / "COMPLETE.json").exists()


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_checkpoints_stops_and_restarts(tmp_path, capfd, sig, code):
    """A signal in step 4: that step finishes, a checkpoint, 'interrupted', the exit code,
    one line on how to continue; the restart ends with the uninterrupted history."""
    out = _out(tmp_path)
    ref = _drive(Toy(MPI.COMM_WORLD), None)
    # the handlers in place before the run (pytest-xdist's workers ignore SIGINT)
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    with pytest.raises(RunInterrupted) as info:
        _drive(Toy(MPI.COMM_WORLD, signal_at=(4, sig)), out, checkpoint_every=3)
    assert info.value.code == code and info.value.step == 4
    assert _status(out) == "interrupted"
    assert (out / "checkpoints" / "00000004" / "COMPLETE.json").exists()
    # every 3 steps from step 0, and the signal's step
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == [
        "00000000",
        "00000003",
        "00000004",
    ]
    err = capfd.readouterr().err
    if MPI.COMM_WORLD.rank == 0:
        lines = [ln for ln in err.splitlines() if "interrupted" in ln]
        assert len(lines) == 1 and lines[0].startswith(f"interrupted by {sig.name}:"), err
        assert "--restart" in lines[0]
    assert {s: signal.getsignal(s) for s in before} == before  # restored
    model = Toy(MPI.COMM_WORLD)
    res = _drive(model, out, checkpoint_every=3, restart=True)
    assert res.status == "finished" == _status(out)
    assert model.attempts == ref.steps - 4  # continued from step 4, not started over
    # the finished run's run.json still says where it continued from
    assert json.loads((out / "run.json").read_text())["restarted_from_step"] == 4
    assert [r["time"] for r in res.history] == [r["time"] for r in ref.history]
    assert [r["y"] for r in res.history] == [r["y"] for r in ref.history]


def test_signal_in_the_last_failing_attempt_is_an_interruption(tmp_path):
    """The attempt after which no cutback is left fails while a SIGTERM arrives:
    the run is interrupted (exit 143, a checkpoint), not failed."""
    ref = Toy(MPI.COMM_WORLD, fail_above=1e-9)
    with pytest.raises(SolverError):
        _drive(ref, None, t_end=0.5)
    last = ref.attempts  # the attempt whose failure leaves no cutback
    out = _out(tmp_path)
    model = Toy(MPI.COMM_WORLD, fail_above=1e-9, signal_on_attempt=(last, signal.SIGTERM))
    with pytest.raises(RunInterrupted) as info:
        _drive(model, out, t_end=0.5, checkpoint_every=5)
    assert model.attempts == last
    assert info.value.code == 143 and _status(out) == "interrupted"
    assert (out / "checkpoints" / "00000000" / "COMPLETE.json").exists()


def test_sigint_without_checkpointing(tmp_path, capfd):
    out = _out(tmp_path)
    with pytest.raises(RunInterrupted) as info:
        _drive(Toy(MPI.COMM_WORLD, signal_at=(2, signal.SIGINT)), out)
    assert info.value.code == 130 and _status(out) == "interrupted"
    assert not (out / "checkpoints").exists()
    if MPI.COMM_WORLD.rank == 0:
        assert "without a checkpoint" in capfd.readouterr().err


def test_restart_keeps_the_checkpoint_interval(tmp_path):
    """A restart without ``checkpoint_every`` checkpoints as the run it continues did
    (it wrote only its final state before: a crash after it lost all its steps)."""
    out = _out(tmp_path)
    _drive(Toy(MPI.COMM_WORLD), out, t_end=5.0, checkpoint_every=3, max_steps=4)
    root = out / "checkpoints"
    assert sorted(p.name for p in root.iterdir()) == [f"{n:08d}" for n in (0, 3, 4)]
    _drive(Toy(MPI.COMM_WORLD), out, t_end=5.0, restart=True, max_steps=8)
    assert sorted(p.name for p in root.iterdir()) == [f"{n:08d}" for n in (4, 6, 8)]
    # a given interval wins
    _drive(Toy(MPI.COMM_WORLD), out, t_end=5.0, restart=True, checkpoint_every=5, max_steps=11)
    assert sorted(p.name for p in root.iterdir()) == [f"{n:08d}" for n in (8, 10, 11)]


def test_checkpoints_kept_checked_and_the_mesh_compared(tmp_path):
    """The newest three complete checkpoints stay; a newest one altered at the same size
    fails its checksum and the restart takes the one before; a mesh with the same
    fingerprint (coordinate sum) but a moved node is refused."""
    out = _out(tmp_path)
    ref = _drive(Toy(MPI.COMM_WORLD, fail_above=0.15), out, checkpoint_every=1, max_steps=6)
    cutbacks = [r["cutbacks"] for r in ref.history]
    assert 0 < cutbacks[5]  # the count restored from checkpoint 5 is not 0
    root = out / "checkpoints"
    assert sorted(p.name for p in root.iterdir()) == [f"{n:08d}" for n in (4, 5, 6)]
    data = root / "00000006" / "y.bin"
    raw = bytearray(data.read_bytes())
    raw[-1] ^= 1  # the last value's last mantissa bit: the size is kept
    data.write_bytes(bytes(raw))
    ck = Checkpointer(out, Toy(MPI.COMM_SELF).mesh, model="toy")
    assert "checksum" in ck.validate(root / "00000006")
    model = Toy(MPI.COMM_WORLD, fail_above=0.15)
    res = _drive(model, out, checkpoint_every=1, restart=True, max_steps=6)
    assert model.attempts == 1 + cutbacks[6] - cutbacks[5]  # step 6 again, from checkpoint 5
    assert [r["y"] for r in res.history] == [r["y"] for r in ref.history]
    assert [r["cutbacks"] for r in res.history] == cutbacks
    moved = Toy(MPI.COMM_SELF).mesh
    x = moved.geometry.x
    (a,), (b,) = (np.flatnonzero(np.isclose(x[:, :2], [0.5, y]).all(axis=1)) for y in (0.5, 0))
    x[a, 0] += 0.01  # the coordinate sum is kept
    x[b, 0] -= 0.01
    ck = Checkpointer(out, moved, model="toy")
    with pytest.raises(InputError, match="mesh cells differ"):
        ck.read_state(root / "00000006")


def test_a_finished_run_continues_to_a_later_end(tmp_path):
    """The final state is checkpointed: a restart with a larger t_end goes on from it."""
    out = _out(tmp_path)
    first = _drive(Toy(MPI.COMM_WORLD), out, t_end=1.0, checkpoint_every=100)
    model = Toy(MPI.COMM_WORLD)
    res = _drive(model, out, t_end=2.0, checkpoint_every=100, restart=True)
    assert res.status == "finished" and res.t == 2.0
    assert model.attempts == res.steps - first.steps  # only the steps after t = 1
    assert res.history[: len(first.history)] == first.history


class Refining(Toy):
    """Asks for a new mesh ``wanted`` times at every time (the mesh itself stays)."""

    tagged_mesh = None

    def __init__(self, comm: Any, wanted: int, **kw: Any) -> None:
        super().__init__(comm, **kw)
        self.wanted = wanted
        self.asked: dict[float, int] = {}

    def adapt(self, t: float) -> bool:
        self.asked[t] = self.asked.get(t, 0) + 1
        return self.asked[t] <= self.wanted


@pytest.mark.parametrize("wanted", [3, 7, 100])
def test_adapt_solves_again_until_the_mesh_stays_at_most_max_rounds(wanted):
    """Each refinement re-solves the step; at most MAX_ADAPT_ROUNDS per step (and at t = 0)."""
    ref = _drive(Toy(MPI.COMM_WORLD), None)
    model = Refining(MPI.COMM_WORLD, wanted)
    res = _drive(model, None)
    assert MAX_ADAPT_ROUNDS == 8  # the fine SENT's breaking step takes six (docs/adaptivity.md)
    rounds = min(wanted, 8)
    asked = rounds + 1 if wanted < 8 else 8  # the last round's answer is not asked for
    times = [r["time"] for r in res.history]
    assert times == [r["time"] for r in ref.history]
    assert [r["y"] for r in res.history] == [r["y"] for r in ref.history]
    assert model.asked == dict.fromkeys(times, asked)
    assert model.attempts == res.steps * (1 + rounds)


def _alive(cls: type) -> int:
    return sum(isinstance(o, cls) for o in gc.get_objects())


@pytest.mark.mpi
def test_runs_leave_no_reference_cycle_through_the_model(tmp_path):
    """With the cyclic collector off, the model is freed when run returns, on every rank.

    A model kept alive by a reference cycle is freed by the cyclic collector, at a
    different moment on each rank; its solvers' teardown (MUMPS) is collective, so
    that deadlocks the ranks (the cause of the old 2-rank Cahn-Hilliard restart hang).
    """
    out = _out(tmp_path)
    domain = square(MPI.COMM_WORLD, n=8, size=30.0).mesh
    gc.collect()
    gc.disable()
    try:
        res = ch.run(
            domain, ch.Params(), t_end=2.0, output=out, checkpoint_every=2, show_progress=False
        )
        assert res.steps > 0
        del res
        assert _alive(ch.CahnHilliard) == 0
        assert _alive(Toy) == 0
        model = Toy(MPI.COMM_WORLD, signal_at=(2, signal.SIGINT))
        with pytest.raises(RunInterrupted):
            _drive(model, out.with_name("toy"), checkpoint_every=1)
        del model
        assert _alive(Toy) == 0
    finally:
        gc.enable()


def test_wall_time_is_run_json_s_without_the_plots(tmp_path):
    """The result's wall time is the run's, as run.json's: on_finish (the plots) is not in it."""
    out = _out(tmp_path)
    slept = 2.0

    def on_finish(history: list[dict[str, Any]], status: str) -> None:
        time.sleep(slept)  # the plots of a demo

    res = _drive(Toy(MPI.COMM_WORLD), out, t_end=0.5, on_finish=on_finish)
    info = json.loads((out / "run.json").read_text())
    assert res.wall_time < slept, res.wall_time
    assert res.wall_time == info["wall_time_total_s"]


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _drive_into(
    out: Path, toy: Toy, overwrite: bool, every: int | None = None, t_end: float = 1.0
) -> Any:
    """``toy`` driven to ``t_end`` into ``out``, with or without overwrite."""
    opts = RunOptions(out, overwrite, False, every)
    return drive(toy, AdaptiveStepper(dt=0.1), opts, t_end=t_end, params={}, columns=COLUMNS)


def test_bad_input_found_in_the_first_step_leaves_the_folder_as_it_was(tmp_path):
    """A new run refused in its first step takes back what it wrote (folder included);
    under overwrite the results it replaced come back, byte for byte.

    Without this the folder held a run.json "failed" beside the step-0 files (so the
    corrected command was refused), and --overwrite had deleted the results before.
    """
    out = _out(tmp_path)
    comm = MPI.COMM_WORLD

    with pytest.raises(InputError, match="found in the solve"):
        _drive_into(out, Toy(comm, refuse_at=1), overwrite=False, every=2)
    assert not out.exists()  # the run made the folder: it is gone
    _drive_into(out, Toy(comm), overwrite=False, every=2)  # the corrected command is not refused
    before = _files(out)
    assert any(name.startswith("checkpoints/") for name in before)
    (out / "notes.txt").write_text("mine")  # not a run output: never touched
    with pytest.raises(InputError, match="found in the solve"):
        _drive_into(out, Toy(comm, refuse_at=1), overwrite=True)
    comm.barrier()
    assert _files(out) == {**before, "notes.txt": b"mine"}
    # the control: refused after its first step, the run keeps its own (failed) results
    with pytest.raises(InputError, match="found in the solve"):
        _drive_into(out, Toy(comm, refuse_at=3), overwrite=True)
    comm.barrier()
    assert _status(out) == "failed" and not (out / "checkpoints").exists()
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == []
    assert (out / "notes.txt").read_text() == "mine"


def test_a_new_run_that_cannot_begin_puts_back_what_it_replaced(tmp_path, monkeypatch):
    """A full disk when the first run.json is written (before the first step): the
    overwritten results come back (they stayed hidden in the replaced folder)."""
    from femgp.fem.io import OutputError, ResultsWriter

    out = _out(tmp_path)
    comm = MPI.COMM_WORLD
    _drive_into(out, Toy(comm), overwrite=False, t_end=0.5)
    before = _files(out)

    def full(self, *args, **kw):
        raise OutputError("cannot write 'run.json': No space left on device")

    monkeypatch.setattr(ResultsWriter, "write_run_info", full)
    with pytest.raises(OutputError, match="No space left"):
        _drive_into(out, Toy(comm), overwrite=True, t_end=0.5)
    comm.barrier()
    assert _files(out) == before
