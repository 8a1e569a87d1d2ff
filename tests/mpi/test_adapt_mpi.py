"""Adaptive refinement on N ranks (run under ``mpirun -n 2``): the same mesh and fields as on 1.

Each case refines the unit square on ``COMM_WORLD`` and on ``COMM_SELF`` in
the same process and compares the cell counts of every pass and the global
integrals of the transferred fields; the transfers are checked for exactness
at the coarse nodes and for the damage bound across rank boundaries.
"""

from __future__ import annotations

import femgp.fem._backend  # noqa: F401  (dolfinx_solver before dolfinx)

import numpy as np
import pytest
import ufl
from dolfinx import fem
from dolfinx import mesh as dmesh
from mpi4py import MPI

from femgp.fem.adapt import Indicator, Refinement, adapt, transfer_function
from femgp.fem.meshes.core import rectangle

pytestmark = pytest.mark.mpi

H0 = 1 / 8  # cell size (d! area)^(1/d) of the unit-square triangles


def _band(x):
    return np.exp(-((x[0] - 0.5) ** 2) / 0.01)


def _wavy(x):
    return np.sin(3 * x[0]) * np.cos(2 * x[1]) + x[0] ** 2


def _case(comm, **kw):
    tm = rectangle(comm, ((0.0, 0.0), (1.0, 1.0)), (8, 8), quadrilateral=False)
    msh = tm.mesh
    Q = fem.functionspace(msh, ("Lagrange", 1))
    lb = fem.Function(Q)
    lb.interpolate(lambda x: 0.8 * _band(x))
    alpha = fem.Function(Q)
    alpha.interpolate(lambda x: np.minimum(1.0, 0.8 * _band(x) + 0.1 * np.sin(9 * x[1]) ** 2))
    f = fem.Function(Q)
    f.interpolate(_wavy)
    dg = fem.Function(fem.functionspace(msh, ("DG", 0)))
    dg.interpolate(_wavy)
    v = fem.Function(fem.functionspace(msh, ("Lagrange", 2, (2,))))
    v.interpolate(lambda x: np.vstack([_wavy(x), x[0] * x[1] ** 2]))
    fields = {"alpha": alpha, "alpha_lb": lb, "f": f, "dg": dg, "v": v, "H": _jumps(msh)}
    ref = Refinement(adapt=True, h_min=H0 / 4, zone=0.05, **kw)
    res = adapt(tm, fields, [Indicator(alpha, 0.5)], ref, lower_bounds={"alpha": "alpha_lb"})
    return tm, fields, res


def _jumps(msh):
    """DG1, discontinuous at every facet (a history field's kind); a function of x."""
    H = fem.Function(fem.functionspace(msh, ("DG", 1)), name="H")
    imap = msh.topology.index_map(2)
    cells = np.arange(imap.size_local + imap.num_ghosts, dtype=np.int32)
    mids = dmesh.compute_midpoints(msh, 2, cells)
    dofs = np.asarray(H.function_space.dofmap.list)[cells]
    x = H.function_space.tabulate_dof_coordinates()[dofs]
    H.x.array[dofs] = np.cos(11 * mids[:, :1] - 4 * mids[:, 1:2]) * (1 + x[:, :, 0] - x[:, :, 1])
    return H


def _integrals(fields, comm):
    exprs = {
        "alpha": fields["alpha"],
        "alpha_lb": fields["alpha_lb"],
        "f": fields["f"],
        "f^2": fields["f"] ** 2,
        "dg": fields["dg"],
        "|v|^2": ufl.inner(fields["v"], fields["v"]),
        "H": fields["H"],
        "H^2": fields["H"] ** 2,  # exact only where each new cell takes its parent's values
    }
    return {
        k: comm.allreduce(fem.assemble_scalar(fem.form(e * ufl.dx)), op=MPI.SUM)
        for k, e in exprs.items()
    }


def test_same_mesh_and_integrals_on_all_ranks():
    world, serial = _case(MPI.COMM_WORLD), _case(MPI.COMM_SELF)
    (_, f0_w, r_w), (_, _, r_s) = world, serial
    assert r_w.passes == r_s.passes == 2
    assert r_w.history == r_s.history
    assert r_w.marked == r_s.marked and r_w.h_marked == pytest.approx(r_s.h_marked)
    i_w = _integrals(r_w.fields, MPI.COMM_WORLD)
    i_s = _integrals(r_s.fields, MPI.COMM_SELF)
    coarse = _integrals(f0_w, MPI.COMM_WORLD)
    for k in i_s:
        assert i_w[k] == pytest.approx(i_s[k], rel=1e-12, abs=1e-14), k
        assert i_w[k] == pytest.approx(coarse[k], rel=1e-12, abs=1e-14), k  # nested: exact
    # the boundary groups cover the same lengths after refinement
    msh = r_w.mesh.mesh
    ds = ufl.Measure("ds", domain=msh, subdomain_data=r_w.mesh.facet_tags)
    one = fem.Constant(msh, 1.0)
    for name in ("left", "right", "bottom", "top"):
        form = fem.form(one * ds(r_w.mesh.tag(name)))
        length = MPI.COMM_WORLD.allreduce(fem.assemble_scalar(form), op=MPI.SUM)
        assert length == pytest.approx(1.0, abs=1e-12), name


def test_round_trip_exact_and_bound_kept_across_ranks():
    tm, fields, res = _case(MPI.COMM_WORLD)
    comm = MPI.COMM_WORLD
    for name in ("f", "alpha_lb"):
        back = transfer_function(res.fields[name], tm.mesh)
        local = np.abs(back.x.array - fields[name].x.array).max()
        assert comm.allreduce(local, op=MPI.MAX) < 1e-13, name
    a, lb = res.fields["alpha"].x.array, res.fields["alpha_lb"].x.array
    assert comm.allreduce(bool(np.all(a >= lb)), op=MPI.LAND)
    assert comm.allreduce(float(a.max()), op=MPI.MAX) <= 1.0


def test_cap_is_the_same_on_all_ranks():
    free = _case(MPI.COMM_SELF)[2]
    cap = free.history[1] + 50
    r_w = _case(MPI.COMM_WORLD, max_cells=cap)[2]
    r_s = _case(MPI.COMM_SELF, max_cells=cap)[2]
    assert r_w.capped and r_s.capped
    assert r_w.passes == r_s.passes == 1 and r_w.cells_after == r_s.cells_after <= cap


def test_marking_cache_gives_the_serial_refinements():
    """A kept :class:`MarkingCache` on N ranks: the refinements of the uncached serial run.

    A line of damage at x = 0.25 is refined around, marked again on the refined
    mesh (nothing to do: the cache settles it, on every rank), then moved to
    x = 0.34375, whose own cells are at the target but whose zone reaches
    coarse cells; then the zone widens on the same mesh, which must start the
    cache afresh (a cache that kept its settled cells would refine nothing).
    """
    from femgp.fem.adapt import MarkingCache

    def line(x0):
        return lambda x: np.exp(-((x[0] - x0) ** 2) / 1e-4)

    def run(tm, x0, cache, zone=0.05):
        alpha = fem.Function(fem.functionspace(tm.mesh, ("Lagrange", 1)))
        alpha.interpolate(line(x0))
        ref = Refinement(adapt=True, h_min=1 / 32 * (1 + 1e-9), zone=zone, lookahead=0.03)
        res = adapt(tm, {"alpha": alpha}, [Indicator(alpha, 0.5)], ref, cache=cache)
        return res, (res.refined, res.marked, res.cells_after)

    def sequence(comm, cache):
        tm = rectangle(comm, ((0.0, 0.0), (1.0, 1.0)), (16, 16), quadrilateral=False)
        first, out = run(tm, 0.25, cache)
        tm = first.mesh
        again = [run(tm, 0.25, cache)[1] for _ in range(2)]
        return [out, *again, run(tm, 0.34375, cache)[1], run(tm, 0.25, cache, zone=0.15)[1]]

    world = sequence(MPI.COMM_WORLD, MarkingCache())
    serial = sequence(MPI.COMM_SELF, None)
    assert world == serial
    assert [r[0] for r in world] == [True, False, False, True, True]


@pytest.mark.parametrize("tdim", [2, 3])
def test_cell_estimate_is_the_same_on_1_and_n_ranks(tdim):
    """The cap's estimate counts every rank's split edges once: an edge split for a
    cell on one rank and owned by another still counts (it did not, before)."""
    from dolfinx import mesh as dmesh

    from femgp.fem.adapt import cell_sizes, estimate_cells, split_edges

    def estimate(comm):
        if tdim == 2:
            msh = dmesh.create_unit_square(comm, 16, 16)
        else:
            msh = dmesh.create_unit_cube(comm, 6, 6, 6)
        n = msh.topology.index_map(tdim).size_local
        x = msh.geometry.x[dmesh.entities_to_geometry(msh, tdim, np.arange(n, dtype=np.int32))]
        cells = np.flatnonzero((x[:, :, 0] < 0.47).any(axis=1)).astype(np.int32)
        target = float(cell_sizes(msh, cells).max()) / 4 if len(cells) else 1.0
        target = comm.allreduce(target, op=MPI.MIN)
        return estimate_cells(msh, cells, edges=split_edges(msh, cells, target))

    serial = estimate(MPI.COMM_SELF)
    assert estimate(MPI.COMM_WORLD) == serial
