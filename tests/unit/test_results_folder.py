"""The results folder: what an overwriting run removes, and ``fields.xdmf`` across
restarts, which lists exactly the field segments on disk."""

from __future__ import annotations

import re
from pathlib import Path

import femgp.fem._backend  # noqa: F401

import pytest
from dolfinx import fem, mesh
from mpi4py import MPI

from femgp.errors import InputError
from femgp.fem.io import REPLACED_DIR, SEGMENTS_DIR, ResultsWriter


def _field(n: int) -> fem.Function:
    msh = mesh.create_unit_square(MPI.COMM_SELF, n, n)
    f = fem.Function(fem.functionspace(msh, ("Lagrange", 1)), name="damage")
    f.x.array[:] = n
    return f


def _listed(out: Path) -> list[str]:
    text = (out / "fields.xdmf").read_text()
    return sorted({p for p in ("part0000", "part0001", "part0002") if p in text})


def test_restart_drops_the_segments_after_the_checkpoint_from_fields_xdmf(tmp_path: Path) -> None:
    """A run closes segments after its checkpoint (refinements), then dies; the
    restart lists the checkpoint's segments only, then its own new ones."""
    out = tmp_path / "run"
    a, b, c = _field(2), _field(4), _field(8)
    writer = ResultsWriter(out, MPI.COMM_SELF, mesh=a.function_space.mesh, segmented=True)
    writer.write_fields([a], 0.0)
    writer.set_mesh(b.function_space.mesh)  # part0000 closed
    writer.write_fields([b], 1.0)
    writer.close_segment()  # a checkpoint closes the open segment (part0001)
    state = writer.resume_state()
    writer.set_mesh(c.function_space.mesh)
    writer.write_fields([c], 2.0)
    writer.close()  # part0002, then the run dies before its next checkpoint
    assert _listed(out) == ["part0000", "part0001", "part0002"]

    resumed = ResultsWriter(
        out, MPI.COMM_SELF, mesh=c.function_space.mesh, resume=state, segmented=True
    )
    assert _listed(out) == ["part0000", "part0001"]
    assert not (out / SEGMENTS_DIR / "part0002.xdmf").exists()
    resumed.write_fields([c], 2.0)
    resumed.close()  # the restart's own part0002
    assert _listed(out) == ["part0000", "part0001", "part0002"]
    times = re.findall(r'<Time Value="([^"]+)"', (out / "fields.xdmf").read_text())
    assert [float(t) for t in times] == [0.0, 1.0, 2.0]  # one step each, none twice


def test_restart_before_any_closed_segment_leaves_no_fields_xdmf(tmp_path: Path) -> None:
    out = tmp_path / "run"
    a = _field(2)
    writer = ResultsWriter(out, MPI.COMM_SELF, mesh=a.function_space.mesh, segmented=True)
    state = writer.resume_state()  # a checkpoint at step 0, nothing written yet
    writer.write_fields([a], 0.0)
    writer.close()
    assert _listed(out) == ["part0000"]
    ResultsWriter(out, MPI.COMM_SELF, mesh=a.function_space.mesh, resume=state, segmented=True)
    assert not (out / "fields.xdmf").exists()


def test_overwrite_removes_the_previous_runs_outputs_and_nothing_else(tmp_path: Path) -> None:
    out = tmp_path / "run"
    stale = [
        "history.csv", "run.json", "fields.xdmf", "fields.h5", "config.toml", "crack.png",
        "energies.png", "history_energies.png", "last_damage.png", "free_energy.csv",
    ]  # fmt: skip
    for name in stale:
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_text("old")
    for folder in ("damage.bp", "checkpoints/00000003", "fields.parts"):
        (out / folder).mkdir(parents=True)
        (out / folder / "data").write_text("old")
    kept = ["notes.txt", "reference.csv", "photo.png"]
    for name in kept:
        (out / name).write_text("mine")
    writer = ResultsWriter(out, MPI.COMM_SELF, overwrite=True)
    # moved aside until the run accepts its first step (then dropped)
    assert sorted(p.name for p in out.iterdir()) == sorted([*kept, REPLACED_DIR])
    assert len(list((out / REPLACED_DIR).iterdir())) == len(stale) + 3
    writer.drop_replaced()
    assert sorted(p.name for p in out.iterdir()) == sorted(kept)


def test_restart_refusal_names_a_changed_load_path_in_a_short_line() -> None:
    """A changed list (a load path of thousands of steps) is told by its first
    differing entry, not printed whole."""
    from femgp.fem.checkpoint import _changed

    old = [1e-4 * i for i in range(5000)]
    new = old[:4500] + [0.5 + 1e-5 * i for i in range(600)]
    line = _changed("loads", old, new)
    assert line == "loads (5000 -> 5100 entries): entry 4500 0.45 -> 0.5", line
    assert _changed("loads", old, old[:10]) == "loads: 5000 -> 10 entries"
    assert _changed("ell", 0.015, 0.03) == "ell: 0.015 -> 0.03"
    assert len(_changed("name", "x" * 500, "y")) < 100


def test_a_segment_folder_that_cannot_be_made_is_an_output_error(tmp_path: Path) -> None:
    """Made on rank 0 and its failure told to every rank (no rank left at a barrier)."""
    from femgp.fem.io import OutputError

    out = tmp_path / "run"
    a = _field(2)
    writer = ResultsWriter(out, MPI.COMM_SELF, mesh=a.function_space.mesh, segmented=True)
    (out / SEGMENTS_DIR).write_text("a file where the folder goes")
    with pytest.raises(OutputError, match=r"cannot write .*fields\.parts"):
        writer.write_fields([a], 0.0)


def _old_results(out: Path) -> dict[str, str]:
    files = {
        "history.csv": "old h",
        "run.json": "{}",
        "config.toml": "old c",
        "free_energy.csv": "f",
    }
    out.mkdir(parents=True)
    for name, text in files.items():
        (out / name).write_text(text)
    return files


def _contents(out: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in out.iterdir() if p.is_file()}


def test_a_move_aside_that_fails_halfway_puts_back_what_it_moved(tmp_path, monkeypatch):
    """A rename that fails (a mount point, a read-only entry) refuses the overwrite with
    one line, and the files moved before it are back where they were (they stayed
    hidden in the replaced folder, which the next run then removed)."""
    out = tmp_path / "run"
    files = _old_results(out)
    real = Path.rename
    calls = []

    def flaky(self: Path, target: Path) -> Path:
        calls.append(self.name)
        if len(calls) == 3:
            raise PermissionError(1, "Operation not permitted")
        return real(self, target)

    monkeypatch.setattr(Path, "rename", flaky)
    with pytest.raises(InputError, match=r"cannot write to output folder .*not permitted"):
        ResultsWriter(out, MPI.COMM_SELF, overwrite=True)
    monkeypatch.undo()
    assert _contents(out) == files and not (out / REPLACED_DIR).exists()


def test_a_left_replaced_folder_is_refused_without_overwrite(tmp_path):
    """Results moved aside by an overwriting run that died before its first step are
    results: a run without --overwrite refuses the folder (it removed them)."""
    from femgp.fem.io import refuse_existing_results

    out = tmp_path / "run"
    (out / REPLACED_DIR).mkdir(parents=True)
    (out / REPLACED_DIR / "history.csv").write_text("old")
    for check in (
        lambda: refuse_existing_results(out, MPI.COMM_SELF),
        lambda: ResultsWriter(out, MPI.COMM_SELF),
    ):
        with pytest.raises(InputError, match=rf"already holds results \({REPLACED_DIR}\)"):
            check()
    assert (out / REPLACED_DIR / "history.csv").read_text() == "old"


def test_replaced_results_that_cannot_be_removed_leave_the_run_going(tmp_path, monkeypatch):
    """Dropping the replaced results is best effort: a file held open (NFS) gives a
    warning; the run's first step failed with the error instead."""
    import femgp.fem.io as io

    out = tmp_path / "run"
    _old_results(out)
    writer = ResultsWriter(out, MPI.COMM_SELF, overwrite=True)

    def held(path: Path) -> None:
        raise OSError(16, "Device or resource busy")

    monkeypatch.setattr(io, "_remove", held)
    writer.drop_replaced()  # no exception
    assert (out / REPLACED_DIR / "history.csv").exists()
