"""The block preconditioner on 2 ranks gives the 1-rank answer (2D and 3D)."""

from __future__ import annotations

import femgp.fem._backend  # noqa: F401

import numpy as np
import pytest
from mpi4py import MPI

from femgp.fem.meshes.pfhub import cube, square
from femgp.fem.preconditioners import BLOCK_PC
from femgp.models import cahn_hilliard as ch

pytestmark = pytest.mark.mpi

TIGHT = {**BLOCK_PC, "ksp_rtol": 1e-11, "snes_rtol": 1e-10, "snes_atol": 1e-12}


@pytest.mark.parametrize("dim", [2, 3])
def test_block_pc_same_run_on_one_and_two_ranks(dim):
    assert MPI.COMM_WORLD.size == 2, "run under mpirun -n 2"
    params = ch.Params(scheme="eyre", dt=5.0, adaptive=False)
    runs = {}
    for name, comm in (("parallel", MPI.COMM_WORLD), ("serial", MPI.COMM_SELF)):
        if dim == 2:
            domain = square(comm, n=20, size=60.0).mesh
        else:
            domain = cube(comm, n=5, size=30.0, cell="tetrahedron").mesh
        runs[name] = ch.run(
            domain, params, t_end=25.0, initial=ch.pfhub_initial_for(domain), options=TIGHT,
            show_progress=False, prefix=f"mpipc{dim}_{name}_",
        )  # fmt: skip
    par, ser = runs["parallel"], runs["serial"]
    assert par.steps == ser.steps == 5
    assert par.krylov > par.newton  # the block preconditioner iterated
    for col in ("free_energy", "mass"):
        # measured: 3.6e-15 (2D) and 6.4e-15 (3D) in F, 2.4e-15 and 1.1e-14 in the mass;
        # 1e-10 leaves room for another build's round-off in the Krylov iterates
        np.testing.assert_allclose(par.column(col), ser.column(col), rtol=1e-10, err_msg=col)
    # Iterations per Newton step do not depend on the partition by more than a few.
    assert abs(par.krylov / par.newton - ser.krylov / ser.newton) <= 3
