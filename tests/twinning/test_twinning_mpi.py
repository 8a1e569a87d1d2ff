"""The twinning model on 2 ranks: the same results as on 1, and output written once.

Run by ``make test`` under ``mpirun -n 2``. The serial reference is computed
in the same process on ``COMM_SELF``; initial conditions are functions of x,
so the two runs must agree to solver round-off (relative 1e-8 on every
history entry, identical step sequences).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from mpi4py import MPI

from femgp.errors import InputError
from femgp.fem.meshes.core import rectangle
from femgp.fem.meshes.twinning import interval, square
from femgp.models.twinning import Params, random_field, run, tanh_wall

pytestmark = pytest.mark.mpi

NOISE = {"amplitude": 0.05, "wavelength": (4.0, 16.0)}
COLUMNS = ("time", "dt", "total", "chemical", "gradient", "elastic", "vf_eta1", "vf_eta2")


def _laminate(comm: MPI.Comm, **kw):
    mesh = square(comm, 24.0, 24).mesh
    params = Params.square_to_rectangle(kappa=3.0, dt=0.1, tol=2e-2)
    init = [random_field(11, **NOISE), random_field(12, **NOISE)]
    return run(mesh, params, t_end=20.0, initial=init, show_progress=False, **kw)


def test_same_history_on_one_and_two_ranks():
    world = MPI.COMM_WORLD
    serial = _laminate(MPI.COMM_SELF)
    parallel = _laminate(world)
    assert parallel.model.mesh.comm.size == world.size
    assert serial.steps == parallel.steps, (serial.steps, parallel.steps)
    assert serial.newton == parallel.newton
    for c in COLUMNS:
        a, b = serial.column(c), parallel.column(c)
        scale = max(np.abs(a).max(), 1e-30)
        assert np.max(np.abs(a - b)) <= 1e-8 * scale, f"column {c} differs: {a} vs {b}"
    assert serial.history[-1]["total"] < -100.0  # the laminate did form


def test_output_written_once_and_kept(tmp_path):
    world = MPI.COMM_WORLD
    folder = Path(world.bcast(str(tmp_path), root=0)) / "laminate"
    result = _laminate(world, output=folder)
    if world.rank == 0:
        rows = (folder / "history.csv").read_text().splitlines()
        assert len(rows) == result.steps + 2  # header + step 0 + steps
        info = json.loads((folder / "run.json").read_text())
        assert info["ranks"] == world.size and info["status"] == "finished"
        for name in ("fields.xdmf", "fields.h5", "energy.png", "variants.png"):
            assert (folder / name).is_file(), name
    world.Barrier()
    before = (folder / "history.csv").read_bytes() if world.rank == 0 else None
    with pytest.raises(InputError, match="already holds results"):
        _laminate(world, output=folder)
    if world.rank == 0:
        assert (folder / "history.csv").read_bytes() == before


def test_wall_on_two_ranks():
    """The 1D wall (h = delta/4) within 1% of tanh and of (4/3) sqrt(2 a kappa)."""
    comm = MPI.COMM_WORLD
    profile, delta, sigma = tanh_wall(1.0, 2.0)
    mesh = interval(comm, (-12 * delta, 12 * delta), 96).mesh
    params = Params.domain_wall(a=1.0, kappa=2.0, dt=0.05, dt_max=1e6)
    r = run(
        mesh,
        params,
        t_end=1e6,
        initial=[lambda x: np.tanh(x[0] / (2 * delta))],
        steady_rate=1e-10,
        show_progress=False,
    )
    eta = r.model.etas[0]
    n = eta.function_space.dofmap.index_map.size_local
    x = eta.function_space.tabulate_dof_coordinates()[:n, 0]
    err = comm.allreduce(float(np.max(np.abs(eta.x.array[:n] - profile(x)), initial=0)), MPI.MAX)
    assert err < 0.01
    assert abs(r.history[-1]["total"] - sigma) / sigma < 0.01


def test_traction_free_pins_on_two_ranks():
    """Pinned corners may live on either rank; the compatible wall still relaxes stress-free."""
    comm = MPI.COMM_WORLD
    _, delta, sigma = tanh_wall(1.0, 2.0)
    mesh = rectangle(comm, ((-12.0, 0.0), (12.0, 2.0)), (48, 4), quadrilateral=False).mesh
    params = Params.domain_wall(a=1.0, kappa=2.0, e=0.05, degree_u=2, dt=0.05, dt_max=1e6)
    r = run(
        mesh,
        params,
        t_end=1e6,
        initial=[lambda x: np.tanh(x[0] / (2 * delta))],
        steady_rate=1e-9,
        show_progress=False,
    )
    assert r.history[-1]["elastic"] / (2.0 * sigma) < 1e-5
    assert abs(r.history[-1]["total"] / 2.0 - sigma) / sigma < 0.02  # h = delta/2 here
