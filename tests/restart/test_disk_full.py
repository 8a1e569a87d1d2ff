"""A full disk (writes raising ENOSPC) stops a run with a one-line user error, results intact."""

from __future__ import annotations

import csv
import errno
import os
from pathlib import Path

import numpy as np
import pytest
from mpi4py import MPI

import femgp.fem.checkpoint as fck
import femgp.fem.io as fio
from femgp.fem.io import OutputError
from femgp.fem.meshes.pfhub import square
from femgp.models import cahn_hilliard as ch

T_END = 20.0


@pytest.fixture(scope="module")
def mesh():
    return square(MPI.COMM_SELF, n=12, size=50.0).mesh


def _full_after(real, name: str, n_ok: int):
    calls = {"n": 0}

    def write(path: Path, text: str) -> None:
        if path.name == name:
            calls["n"] += 1
            if calls["n"] > n_ok:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        real(path, text)

    return write


def _steps(path: Path) -> list[int]:
    with open(path) as fh:
        return [int(r["step"]) for r in csv.DictReader(fh)]


def _run(mesh, out: Path, **kw):
    return ch.run(
        mesh, ch.Params(), t_end=T_END, output=out, show_progress=False, checkpoint_every=2, **kw
    )


def test_full_disk_on_history_then_restart(mesh, tmp_path, monkeypatch):
    out = tmp_path / "run"
    monkeypatch.setattr(
        fio, "atomic_write_text", _full_after(fio.atomic_write_text, "history.csv", 12)
    )
    with pytest.raises(OutputError) as info:
        _run(mesh, out)
    message = str(info.value)
    assert "No space left on device" in message and "history.csv" in message, message
    assert len(message.splitlines()) == 1 and isinstance(info.value, ValueError)
    assert _steps(out / "history.csv") == list(range(12))  # the last good table, intact
    assert not list(out.glob(".*tmp*")), list(out.iterdir())  # no temporary file left
    ck = fck.Checkpointer(out, mesh, model="cahn_hilliard")
    assert ck.latest_complete().name == "00000010"
    monkeypatch.undo()

    resumed = _run(mesh, out, restart=True)
    ref = ch.run(mesh, ch.Params(), t_end=T_END, show_progress=False)
    assert resumed.steps == ref.steps
    for col in ("time", "dt", "free_energy", "mass", "newton"):
        np.testing.assert_allclose(resumed.column(col), ref.column(col), rtol=1e-12, err_msg=col)


def test_full_disk_on_checkpoint_keeps_the_previous_one(mesh, tmp_path, monkeypatch):
    out = tmp_path / "run"
    # state.json of checkpoints 0, 2 and 4 are written; that of 6 fails.
    monkeypatch.setattr(
        fck, "atomic_write_text", _full_after(fck.atomic_write_text, "state.json", 3)
    )
    with pytest.raises(OutputError, match="No space left on device"):
        _run(mesh, out)
    monkeypatch.undo()
    dirs = sorted(p.name for p in (out / "checkpoints").iterdir())
    assert dirs == ["00000000", "00000002", "00000004"], dirs  # the torn one removed
    ck = fck.Checkpointer(out, mesh, model="cahn_hilliard")
    assert all(ck.validate(out / "checkpoints" / d) is None for d in dirs)
    assert _steps(out / "history.csv") == list(range(7))
