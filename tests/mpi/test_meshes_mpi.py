"""Mesh reports and checks on 2 ranks equal the serial ones (COMM_SELF in the same processes)."""

from __future__ import annotations

from pathlib import Path

import femgp.fem._backend  # noqa: F401

import meshio
import numpy as np
import pytest
from mpi4py import MPI

from femgp.errors import InputError
from femgp.fem.meshes import build, check_mesh, mesh_report, read_mesh

pytestmark = pytest.mark.mpi

MESHES = Path(__file__).resolve().parents[2] / "meshes"


def _same(parallel: dict, serial: dict) -> None:
    for key in ("cells", "vertices", "tdim", "gdim", "cell_type", "groups", "tags"):
        assert parallel[key] == serial[key], key
    for key in ("h_min", "h_max"):
        assert parallel[key] == serial[key], key
    assert parallel["volume"] == pytest.approx(serial["volume"], rel=1e-12)
    for key in ("min", "max"):
        assert parallel["quality"][key] == serial["quality"][key], key
    assert parallel["quality"]["mean"] == pytest.approx(serial["quality"]["mean"], rel=1e-12)


@pytest.mark.parametrize("name", ["lpanel.msh", "plate_with_holes.msh", "square_tagged.inp"])
def test_report_of_files_same_on_two_ranks(name):
    assert MPI.COMM_WORLD.size == 2, "run under mpirun -n 2"
    parallel = read_mesh(MESHES / name, MPI.COMM_WORLD)
    cells_here = parallel.mesh.topology.index_map(2).size_local
    assert MPI.COMM_WORLD.allreduce(int(cells_here > 0), op=MPI.SUM) == 2  # really distributed
    _same(mesh_report(parallel), mesh_report(read_mesh(MESHES / name, MPI.COMM_SELF)))


def test_report_of_built_geometry_same_on_two_ranks():
    parallel = mesh_report(build("sent", MPI.COMM_WORLD, h=0.05))
    _same(parallel, mesh_report(build("sent", MPI.COMM_SELF, h=0.05)))


def test_inverted_cell_rejected_on_every_rank(tmp_path_factory):
    path = None
    if MPI.COMM_WORLD.rank == 0:
        path = tmp_path_factory.mktemp("inv") / "inverted.vtu"
        pts = np.array([[0, 0], [1, 0], [1, 1], [0, 1], [0.5, -0.2]], float)
        cells = [("triangle", [[0, 1, 4], [1, 2, 4], [2, 3, 4], [3, 0, 4]])]
        meshio.write_points_cells(str(path), pts, cells)
    path = MPI.COMM_WORLD.bcast(path, root=0)
    with pytest.raises(InputError, match="inverted cells"):
        read_mesh(path, MPI.COMM_WORLD)
    tm = read_mesh(MESHES / "lpanel.msh", MPI.COMM_WORLD)
    check_mesh(tm, tdim=2, gdim=2)


def test_malformed_tags_refused_on_every_rank(tmp_path_factory):
    """A file rank 0 cannot read is every rank's InputError (rank 1 waited in a bcast)."""
    path = None
    if MPI.COMM_WORLD.rank == 0:
        path = tmp_path_factory.mktemp("tags") / "vector_tags.vtu"
        pts = np.array([[0, 0], [1, 0], [1, 1], [0, 1], [0.5, 0.5]], float)
        cells = [("triangle", np.array([[0, 1, 4], [1, 2, 4], [2, 3, 4], [3, 0, 4]]))]
        meshio.write(str(path), meshio.Mesh(pts, cells, cell_data={"tags": [np.ones((4, 2))]}))
    path = MPI.COMM_WORLD.bcast(path, root=0)
    with pytest.raises(InputError, match="values of its cell data 'tags'"):
        read_mesh(path, MPI.COMM_WORLD)


def _folded_grid(comm: MPI.Comm, n: int = 4):
    """An n x n triangle grid with a node pushed across x = 0.5, split at x = 0.5 on 2 ranks."""
    import basix.ufl
    from dolfinx import graph
    from dolfinx import mesh as dmesh

    g = np.linspace(0.0, 1.0, n + 1)
    x = np.stack([a.ravel() for a in np.meshgrid(g, g)], axis=1)

    def idx(i: int, j: int) -> int:
        return j * (n + 1) + i

    lower = [[idx(i, j), idx(i + 1, j), idx(i + 1, j + 1)] for j in range(n) for i in range(n)]
    upper = [[idx(i, j), idx(i + 1, j + 1), idx(i, j + 1)] for j in range(n) for i in range(n)]
    cells = np.array(lower + upper, dtype=np.int64)
    x[idx(n // 2 + 1, n // 2)] = [0.45, 0.5]  # a node right of x = 0.5 pushed left of it
    centre_x = np.array([(i + 0.5) / n for _ in range(n) for i in range(n)] * 2)

    def part(_comm, _nparts, dual, _ghosting):  # cells left of x = 0.5 on rank 0
        dest = (centre_x > 0.5).astype(np.int32)[: dual.num_nodes]
        return graph.adjacencylist(dest)._cpp_object

    partitioner = None
    if comm.size > 1:
        partitioner = dmesh.create_cell_partitioner(part, dmesh.GhostMode.none, 2)
    if comm.rank != 0:
        cells, x = np.zeros((0, 3), dtype=np.int64), np.zeros((0, 2))
    element = basix.ufl.element("Lagrange", "triangle", 1, shape=(2,))
    return dmesh.create_mesh(comm, cells, element, x, partitioner=partitioner)


def test_fold_across_the_rank_boundary_is_found():
    from femgp.fem.meshes.quality import _inverted, _owned_geometry

    def flagged(comm: MPI.Comm) -> list[int]:
        msh = _folded_grid(comm)
        geo, orig, _, _ = _owned_geometry(msh)
        return sorted(np.concatenate(comm.allgather(orig[_inverted(msh, geo)])).tolist())

    serial, parallel = flagged(MPI.COMM_SELF), flagged(MPI.COMM_WORLD)
    msh = _folded_grid(MPI.COMM_WORLD)
    assert msh.topology.index_map(2).size_local == 16  # the split at x = 0.5 holds
    assert serial == parallel and len(serial) >= 2
    with pytest.raises(InputError, match="inverted cells"):
        check_mesh(msh)


def test_xdmf_written_on_two_ranks_reads_back_serially(tmp_path_factory):
    from femgp.fem.meshes import write_mesh

    folder = MPI.COMM_WORLD.bcast(
        str(tmp_path_factory.mktemp("xdmf")) if MPI.COMM_WORLD.rank == 0 else None, root=0
    )
    parallel = read_mesh(MESHES / "plate_with_holes.msh", MPI.COMM_WORLD)
    path = write_mesh(parallel, Path(folder) / "plate.xdmf")
    MPI.COMM_WORLD.Barrier()
    back = mesh_report(read_mesh(path, MPI.COMM_SELF))
    _same(back, mesh_report(read_mesh(MESHES / "plate_with_holes.msh", MPI.COMM_SELF)))
    assert sorted(p.name for p in Path(folder).iterdir()) == ["plate.h5", "plate.xdmf"]
