"""The checkpoint format does not depend on the partition: write on n ranks, read on m."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HELPER = Path(__file__).with_name("_layout.py")
MPIRUN = Path(sys.executable).parent / "mpirun"


def _run(ranks: int, mode: str, folder: Path) -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(HELPER), mode, str(folder)]
    if ranks > 1:
        cmd = [str(MPIRUN), "-n", str(ranks), *cmd]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, f"{' '.join(cmd)}:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    return proc


@pytest.mark.parametrize(("write", "read"), [(1, 2), (2, 1)])
def test_write_on_n_read_on_m_ranks(tmp_path, write, read):
    """P1, vector P2, mixed P1xP1 and DG0 on triangles and quads come back to 1e-14."""
    if not MPIRUN.exists():
        pytest.skip("mpirun not found")
    _run(write, "write", tmp_path)
    out = _run(read, "read", tmp_path).stdout
    assert "ERRORS" in out and "MISMATCH" not in out, out
