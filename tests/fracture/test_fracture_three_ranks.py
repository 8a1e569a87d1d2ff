"""The coupled Newton solve on 3 ranks (``coupled_three_ranks.py`` under ``mpirun -n 3``).

The MPI suite runs on 2 ranks, where every rank's reduced numbering but the last
one's starts at a fixed place; a defect that needs a third rank to show (the
block preconditioner's kept submatrix: ranks 1 and 2 failed, rank 0 waited, the
run hung) is caught here. The ranks are oversubscribed on a 2-core machine; a
hang ends at the timeout and fails the test.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("coupled_three_ranks.py")


def test_coupled_newton_on_three_ranks(tmp_path, mpirun):
    cmd = [mpirun, "-n", "3", sys.executable, str(SCRIPT)]
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=120, cwd=tmp_path,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"3-rank run did not finish in {exc.timeout} s (a hang)")
    out = proc.stdout[-2000:] + proc.stderr[-2000:]
    assert proc.returncode == 0, out
    assert "ranks 3:" in proc.stdout, out
