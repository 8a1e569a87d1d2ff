"""VTX (ADIOS2 ``.bp``) output beside ``fields.xdmf``: ``--vtx`` on the demos, ``vtx=`` in run."""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from pathlib import Path

import femgp.fem._backend  # noqa: F401

import dolfinx
import pytest
from mpi4py import MPI

from femgp.errors import InputError
from femgp.fem.io import ResultsWriter

DEMOS = Path(__file__).resolve().parents[2] / "demos"

pytestmark = pytest.mark.skipif(not dolfinx.has_adios2, reason="DOLFINx without ADIOS2")


def _bar(out: Path, *extra: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(DEMOS / "fracture_bar.py"), "--output", str(out), "--quiet", *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=out.parent)


def test_bar_writes_one_bp_per_field_with_every_step(tmp_path: Path) -> None:
    out = tmp_path / "bar"
    proc = _bar(out, "--vtx")
    assert proc.returncode == 0, proc.stderr
    with open(out / "history.csv") as fh:
        steps = len(list(csv.DictReader(fh)))
    xdmf = (out / "fields.xdmf").read_text()
    # the damage dofs: the ``Dimensions="n 1"`` of the scalar attribute in fields.xdmf
    n_dofs = int(re.search(r'Dimensions="(\d+) 1"', xdmf).group(1))
    for name in ("damage", "displacement"):
        bp = out / f"{name}.bp"
        assert (bp / "md.idx").is_file() and (bp / "md.0").is_file(), sorted(bp.iterdir())
        assert name.encode() in (bp / "md.0").read_bytes()
        # every step's values (8-byte floats) are in the data file
        assert (bp / "data.0").stat().st_size >= steps * n_dofs * 8
    assert steps > 10


def test_vtx_refuses_a_restart_before_touching_anything(tmp_path: Path) -> None:
    out = tmp_path / "bar"
    assert _bar(out, "--checkpoint-every", "20").returncode == 0
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    proc = _bar(out, "--restart", "--vtx")
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "vtx" in lines[0], proc.stderr
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == before


def test_results_writer_vtx_needs_fields(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="vtx output needs fields"):
        ResultsWriter(tmp_path / "out", MPI.COMM_WORLD, vtx=True)
    assert not (tmp_path / "out").exists()
