"""The same Cahn-Hilliard run on 2 ranks and on 1 rank (COMM_SELF in the same processes)."""

from __future__ import annotations

import femgp.fem._backend  # noqa: F401

import numpy as np
import pytest
from mpi4py import MPI

from femgp.fem.meshes.pfhub import square
from femgp.models import cahn_hilliard as ch

pytestmark = pytest.mark.mpi


@pytest.mark.parametrize("scheme", ["theta", "eyre"])
def test_same_history_on_one_and_two_ranks(scheme, tmp_path_factory):
    assert MPI.COMM_WORLD.size == 2, "run under mpirun -n 2"
    params = ch.Params(scheme=scheme, dt=0.2)
    runs = {}
    for name, comm in (("parallel", MPI.COMM_WORLD), ("serial", MPI.COMM_SELF)):
        domain = square(comm, n=24, size=80.0).mesh
        runs[name] = ch.run(domain, params, t_end=20.0, show_progress=False, prefix=f"mpi_{name}_")
    par, ser = runs["parallel"], runs["serial"]
    assert par.steps == ser.steps
    np.testing.assert_allclose(par.column("time"), ser.column("time"), rtol=1e-10)
    for col in ("free_energy", "chemical", "gradient", "mass"):
        np.testing.assert_allclose(par.column(col), ser.column(col), rtol=1e-9, err_msg=col)


def test_outputs_in_parallel(tmp_path_factory):
    out = MPI.COMM_WORLD.bcast(
        str(tmp_path_factory.mktemp("ch")) if MPI.COMM_WORLD.rank == 0 else None
    )
    domain = square(MPI.COMM_WORLD, n=16, size=50.0).mesh
    res = ch.run(domain, ch.Params(), t_end=1.0, output=out, show_progress=False)
    MPI.COMM_WORLD.Barrier()
    import csv
    from pathlib import Path

    with open(Path(out) / "history.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == res.steps + 1
    assert float(rows[-1]["time"]) == pytest.approx(1.0)
