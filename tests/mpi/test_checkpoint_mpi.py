"""Checkpoints on N ranks (run under ``mpirun -n 2``): a write failing on one rank
stops every rank at the same point, with one error, and the next save works."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import femgp.fem._backend  # noqa: F401  (dolfinx_solver before dolfinx)

import pytest
from dolfinx import fem, mesh
from mpi4py import MPI

import femgp.fem.checkpoint as fck
from femgp.fem.io import OutputError

pytestmark = pytest.mark.mpi


def test_a_write_failing_on_one_rank_fails_the_save_on_all(tmp_path, monkeypatch):
    comm = MPI.COMM_WORLD
    root = Path(comm.bcast(str(tmp_path), root=0))
    msh = mesh.create_unit_square(comm, 6, 6)
    V = fem.functionspace(msh, ("Lagrange", 1))
    a, b = fem.Function(V), fem.Function(V)
    a.x.array[:], b.x.array[:] = 1.0, 2.0
    ck = fck.Checkpointer(root, msh, model="toy")
    real = fck._write_cells

    def failing(comm_, path, cells, values):
        real(comm_, path, cells, values)
        if path.name == "a.bin" and comm_.rank == comm_.size - 1:  # its close, say
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(fck, "_write_cells", failing)
    with pytest.raises(OutputError, match="No space left on device"):
        ck.save(3, {"a": a, "b": b}, {"t": 0.3})
    comm.Barrier()
    assert not (root / "checkpoints" / "00000003").exists()
    monkeypatch.undo()
    ck.save(4, {"a": a, "b": b}, {"t": 0.4})
    assert ck.validate(root / "checkpoints" / "00000004") is None


def test_a_rank_without_cells_writes_empty_rows():
    """The per-cell value arrays of no cell keep their width (they did not reshape)."""
    msh = mesh.create_unit_square(MPI.COMM_WORLD, 2, 2)
    V = fem.functionspace(msh, ("Lagrange", 2, (2,)))
    assert fck._geometry_values(msh, 0).shape == (0, 3 * 2)
    assert fck._cell_dofs(V, 0).shape == (0, 6 * 2)
