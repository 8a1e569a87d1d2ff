"""Shared test fixtures: tidy up after each test and keep ranks in step (as DOLFINx does)."""

from __future__ import annotations

import gc
import shutil
import sys
from pathlib import Path

import pytest

try:
    from mpi4py import MPI
except ImportError:  # pragma: no cover - femgp.energy/ml tests without MPI
    MPI = None


@pytest.fixture(autouse=True)
def _collect_and_barrier():
    yield
    gc.collect()
    if MPI is not None:
        MPI.COMM_WORLD.Barrier()


def in_parallel() -> bool:
    """Whether the tests run on more than one rank."""
    return MPI is not None and MPI.COMM_WORLD.size > 1


skip_in_parallel = pytest.mark.skipif(in_parallel(), reason="serial-only test")


@pytest.fixture
def mpirun() -> str:
    """The MPI launcher beside the interpreter (the venv's), else on ``PATH``;
    a test that asks for it is skipped where there is none."""
    cand = Path(sys.executable).parent / "mpirun"
    found = str(cand) if cand.exists() else shutil.which("mpirun")
    if found is None:
        pytest.skip("mpirun not found")
    return found
