"""Checkpoints of a refined mesh: the mesh is stored with the functions and read back anywhere.

A mesh refined in a run (``refine_tagged``) is written with the checkpoint
(``mesh.xdmf``, its facet tags and groups), keyed by the cells' rows in that
file; reading it back (on the same or another communicator) and loading a
saved P1 and a vector P2 function must give them exactly (their values are
polynomials of x, checked at the dof coordinates), with the facet groups'
lengths kept. Control: loading onto the *coarse* mesh is refused.
"""

from __future__ import annotations

import json
from pathlib import Path

import femgp.fem._backend  # noqa: F401  (dolfinx_solver before dolfinx)

import numpy as np
import pytest
import ufl
from dolfinx import fem
from mpi4py import MPI

from femgp.errors import InputError
from femgp.fem.adapt import refine_tagged
from femgp.fem.checkpoint import Checkpointer, read_mesh
from femgp.fem.meshes.core import rectangle


def _f(x):
    return x[0] + 2 * x[1] + 0.5


def _g(x):
    return np.vstack([x[0] ** 2, x[0] * x[1]])


def _save(comm, folder):
    tm = rectangle(comm, ((0.0, 0.0), (1.0, 1.0)), (4, 4), quadrilateral=False)
    msh = tm.mesh
    owned = np.arange(msh.topology.index_map(2).size_local, dtype=np.int32)
    from dolfinx.mesh import compute_midpoints

    x = compute_midpoints(msh, 2, owned)
    refined, _ = refine_tagged(tm, owned[x[:, 0] < 0.5])
    ck = Checkpointer(folder, refined.mesh, model="test", tagged=refined)
    f = fem.Function(fem.functionspace(refined.mesh, ("Lagrange", 1)))
    f.interpolate(_f)
    g = fem.Function(fem.functionspace(refined.mesh, ("Lagrange", 2, (2,))))
    g.interpolate(_g)
    ck.save(3, {"f": f, "g": g}, {})
    return tm, refined


def _length(tm, name):
    ds = ufl.Measure("ds", domain=tm.mesh, subdomain_data=tm.facet_tags)
    form = fem.form(fem.Constant(tm.mesh, 1.0) * ds(tm.tag(name)))
    return tm.mesh.comm.allreduce(fem.assemble_scalar(form), op=MPI.SUM)


def _load_and_check(comm, folder, refined_cells):
    path = folder / "checkpoints" / "00000003"
    body = json.loads((path / "state.json").read_text())
    tm = read_mesh(path / "mesh.xdmf", body["mesh_file"], comm)
    assert tm.mesh.topology.index_map(2).size_global == refined_cells
    ck = Checkpointer(folder, tm.mesh, model="test", tagged=tm)
    state = ck.read_state(path)
    for name, fn, space in (
        ("f", _f, ("Lagrange", 1)),
        ("g", _g, ("Lagrange", 2, (2,))),
    ):
        u = fem.Function(fem.functionspace(tm.mesh, space))
        ck.load_function(path, state, name, u)
        exact = fem.Function(u.function_space)
        exact.interpolate(fn)
        err = float(np.max(np.abs(u.x.array - exact.x.array))) if u.x.array.size else 0.0
        assert comm.allreduce(err, op=MPI.MAX) < 1e-13, name
    for name in ("left", "right", "bottom", "top"):
        assert abs(_length(tm, name) - 1.0) < 1e-12, name
    return tm


def test_refined_mesh_checkpoint_round_trip(tmp_path):
    comm = MPI.COMM_SELF
    coarse, refined = _save(comm, tmp_path)
    n = refined.mesh.topology.index_map(2).size_global
    assert n > coarse.mesh.topology.index_map(2).size_global
    _load_and_check(comm, tmp_path, n)
    # control: the coarse mesh does not match the checkpoint
    with pytest.raises(InputError, match="mesh differs"):
        Checkpointer(tmp_path, coarse.mesh, model="test").read_state(
            tmp_path / "checkpoints" / "00000003"
        )


@pytest.mark.mpi
def test_refined_mesh_checkpoint_written_on_2_ranks_read_on_1_and_2(tmp_path_factory):
    comm = MPI.COMM_WORLD
    name = str(tmp_path_factory.mktemp("ck")) if comm.rank == 0 else None
    folder = Path(comm.bcast(name, root=0))
    _, refined = _save(comm, folder)
    n = refined.mesh.topology.index_map(2).size_global
    _load_and_check(comm, folder, n)  # 2 ranks, repartitioned
    _load_and_check(MPI.COMM_SELF, folder, n)  # each rank alone
