"""Periodic constraints (femgp.fem.periodic): values on paired faces, convergence, bad input.

The constraint-value checks are independent of the implementation: every DOF
on an upper face is paired by brute force with the DOF at the translated
coordinate (gathered from all ranks) and their values compared. The tests
marked ``mpi`` run the same checks under ``mpirun -n 2``.
"""

from __future__ import annotations

import femgp.fem._backend  # noqa: F401

import basix.ufl
import numpy as np
import pytest
import ufl
from dolfinx import fem, mesh
from mpi4py import MPI

from femgp.errors import InputError
from femgp.fem.forms import scalar
from femgp.fem.periodic import PeriodicConstraint, parse_periodic
from femgp.fem.problems import DIRECT_LU, NonlinearProblem

AXES = "xyz"


def _mesh(comm, dim, n):
    if dim == 2:
        return mesh.create_rectangle(comm, [[0.0, 0.0], [2.0, 1.0]], [2 * n, n])
    return mesh.create_box(comm, [[0.0, 0.0, 0.0], [1.0, 1.0, 2.0]], [n, n, 2 * n])


def _pair_mismatch(u: fem.Function, periodic: str) -> tuple[float, int]:
    """Max |u(x) - u(x - L e_d)| over DOFs x on the upper faces, and how many pairs were seen."""
    V = u.function_space
    comm = V.mesh.comm
    gdim = V.mesh.geometry.dim
    bs = V.dofmap.index_map_bs
    n = V.dofmap.index_map.size_local
    X = V.tabulate_dof_coordinates()[:n, :gdim]
    vals = u.x.array[: n * bs].reshape(n, bs)
    X = np.concatenate(comm.allgather(X))
    vals = np.concatenate(comm.allgather(vals))
    lo, hi = X.min(axis=0), X.max(axis=0)
    scale = float(np.max(np.abs(vals))) or 1.0
    table = {tuple(np.round(x, 9)): v for x, v in zip(X, vals, strict=True)}
    worst, pairs = 0.0, 0
    for axis in periodic:
        d = AXES.index(axis)
        for x, v in zip(X, vals, strict=True):
            if abs(x[d] - hi[d]) < 1e-10:
                y = x.copy()
                y[d] = lo[d]
                w = table[tuple(np.round(y, 9))]
                worst = max(worst, float(np.max(np.abs(v - w))) / scale)
                pairs += 1
    return worst, pairs


def _helmholtz(V, constraint, *, prefix):
    """-Δu + u = f with a non-periodic f (so that only the constraint makes u periodic)."""
    u = fem.Function(V)
    v = ufl.TestFunction(V)
    x = ufl.SpatialCoordinate(V.mesh)
    shape = V.value_shape if hasattr(V, "value_shape") else u.ufl_shape
    base = 1.0 + x[0] + 2.0 * x[1] ** 2 + ufl.sin(3.0 * x[0] * x[1])
    f = base if len(shape) == 0 else ufl.as_vector([base * (k + 1) for k in range(shape[0])])
    F = (ufl.inner(ufl.grad(u), ufl.grad(v)) + ufl.inner(u, v) - ufl.inner(f, v)) * ufl.dx
    NonlinearProblem(F, u, prefix=prefix, constraint=constraint, options=DIRECT_LU).solve()
    return u


CASES = [
    (2, 1, (), "x"),
    (2, 1, (), "xy"),
    (2, 2, (), "y"),
    (2, 2, (2,), "xy"),
    (3, 1, (), "xyz"),
    (3, 2, (3,), "xz"),
]


def _check_values(comm, dim, degree, shape, periodic):
    msh = _mesh(comm, dim, 4 if dim == 3 else 8)
    V = fem.functionspace(msh, ("Lagrange", degree, shape))
    c = PeriodicConstraint(V, periodic)
    u = _helmholtz(V, c, prefix=f"test_pv{dim}{degree}{len(shape)}{periodic}_")
    worst, pairs = _pair_mismatch(u, periodic)
    assert pairs > 0
    assert worst < 1e-13, worst
    assert c.mismatch(u) < 1e-13
    # the control: the same problem without the constraint is far from periodic
    free = _helmholtz(V, PeriodicConstraint(V, ""), prefix=f"test_pf{dim}{degree}{periodic}_")
    assert _pair_mismatch(free, periodic)[0] > 1e-2


@pytest.mark.parametrize("dim, degree, shape, periodic", CASES)
def test_constraint_values_agree_on_paired_faces(dim, degree, shape, periodic):
    _check_values(MPI.COMM_WORLD, dim, degree, shape, periodic)


@pytest.mark.mpi
@pytest.mark.parametrize("dim, degree, shape, periodic", CASES)
def test_constraint_values_agree_on_paired_faces_mpi(dim, degree, shape, periodic):
    _check_values(MPI.COMM_WORLD, dim, degree, shape, periodic)


def _check_mixed(comm):
    """A mixed (P2 vector, P1) space: the sub-spaces' DOFs are paired among themselves."""
    msh = _mesh(comm, 2, 6)
    el = basix.ufl.mixed_element(
        [
            basix.ufl.element("Lagrange", msh.basix_cell(), 2, shape=(2,)),
            basix.ufl.element("Lagrange", msh.basix_cell(), 1),
        ]
    )
    W = fem.functionspace(msh, el)
    c = PeriodicConstraint(W, "xy")
    w = fem.Function(W)
    (a, b), (va, vb) = ufl.split(w), ufl.TestFunctions(W)
    x = ufl.SpatialCoordinate(msh)
    f = 1.0 + x[0] + x[1] ** 2
    F = (
        ufl.inner(ufl.grad(a), ufl.grad(va))
        + ufl.inner(a, va)
        - f * va[0]
        + ufl.inner(ufl.grad(b), ufl.grad(vb))
        + (b - a[1] - x[0] * x[1]) * vb
    ) * ufl.dx
    NonlinearProblem(F, w, prefix="test_pmixed_", constraint=c, options=DIRECT_LU).solve()
    for i in range(2):
        sub = w.sub(i).collapse()
        worst, pairs = _pair_mismatch(sub, "xy")
        assert pairs > 0 and worst < 1e-13, (i, worst)


def test_mixed_space():
    _check_mixed(MPI.COMM_WORLD)


@pytest.mark.mpi
def test_mixed_space_mpi():
    _check_mixed(MPI.COMM_WORLD)


def test_reduced_size_and_corners():
    """xy-periodic P1 on an n×m grid has n·m independent values: all 4 corners are one."""
    msh = mesh.create_rectangle(MPI.COMM_WORLD, [[0.0, 0.0], [2.0, 1.0]], [6, 4])
    V = fem.functionspace(msh, ("Lagrange", 1))
    assert PeriodicConstraint(V, "xy").reduced_size == 24
    assert PeriodicConstraint(V, "x").reduced_size == 6 * 5
    assert PeriodicConstraint(V, "").reduced_size == 7 * 5


@pytest.mark.parametrize("degree, order", [(1, 2.0), (2, 3.0)])
def test_convergence_with_periodic_solution(degree, order):
    """-Δu + u = f, periodic exact solution: L2 error at order p + 1; unconstrained: no order."""
    errors, free_errors, hs = [], [], []
    for n in (4, 8, 16):
        msh = _mesh(MPI.COMM_WORLD, 2, n)
        V = fem.functionspace(msh, ("Lagrange", degree))
        x = ufl.SpatialCoordinate(msh)
        ue = ufl.sin(np.pi * x[0] + 0.3) * ufl.cos(2 * np.pi * x[1]) + ufl.cos(2 * np.pi * x[1])
        f = -ufl.div(ufl.grad(ue)) + ue
        for cons, out in ((PeriodicConstraint(V, "xy"), errors), (None, free_errors)):
            u = fem.Function(V)
            v = ufl.TestFunction(V)
            F = (ufl.inner(ufl.grad(u), ufl.grad(v)) + (u - f) * v) * ufl.dx
            NonlinearProblem(
                F, u, prefix=f"test_conv{degree}_", constraint=cons, options=DIRECT_LU
            ).solve()
            out.append(np.sqrt(scalar(fem.form((u - ue) ** 2 * ufl.dx), msh.comm)))
        hs.append(1.0 / n)
    rate = np.polyfit(np.log(hs), np.log(errors), 1)[0]
    assert rate == pytest.approx(order, abs=0.25), (rate, errors)
    free_rate = np.polyfit(np.log(hs), np.log(free_errors), 1)[0]
    assert free_rate < 1.0, free_errors  # the control: natural (Neumann) boundaries are wrong


def test_affine_part_and_pin():
    """u = g·x + periodic fluctuation, a pinned corner: the mean gradient is g exactly."""
    msh = _mesh(MPI.COMM_WORLD, 2, 6)
    V = fem.functionspace(msh, ("Lagrange", 1, (2,)))
    g = np.array([[0.1, 0.02], [-0.03, 0.05]])
    c = PeriodicConstraint(V, "xy", affine=lambda x: g @ x[:2])
    u = fem.Function(V)
    v = ufl.TestFunction(V)
    x = ufl.SpatialCoordinate(msh)
    body = ufl.as_vector([ufl.sin(x[0] * x[1]), x[0] ** 2])
    F = (ufl.inner(ufl.grad(u), ufl.grad(v)) - ufl.inner(body, v)) * ufl.dx
    msh.topology.create_connectivity(0, 2)
    corner = mesh.locate_entities(msh, 0, lambda y: np.isclose(y[0], 0) & np.isclose(y[1], 0))
    bc = fem.dirichletbc(np.zeros(2), fem.locate_dofs_topological(V, 0, corner), V)
    NonlinearProblem(F, u, prefix="test_affine_", constraint=c, bcs=[bc], options=DIRECT_LU).solve()
    area = 2.0
    mean = np.array(
        [
            [scalar(fem.form(u[i].dx(j) * ufl.dx), msh.comm) / area for j in range(2)]
            for i in range(2)
        ]
    )
    np.testing.assert_allclose(mean, g, atol=1e-12)
    fluct = fem.Function(V)
    fluct.x.array[:] = u.x.array - c.affine.x.array
    assert _pair_mismatch(fluct, "xy")[0] < 1e-12
    assert c.mismatch(u) < 1e-12


@pytest.mark.parametrize(
    "periodic, message", [("q", "directions among"), ("z", "on a 2D mesh"), ("xx", "twice")]
)
def test_bad_direction(periodic, message):
    with pytest.raises(InputError, match=message):
        parse_periodic(periodic, 2)


def test_non_box_mesh_refused():
    msh = mesh.create_unit_square(MPI.COMM_WORLD, 4, 4)
    msh.geometry.x[:, 0] += 0.3 * msh.geometry.x[:, 1]  # a parallelogram
    V = fem.functionspace(msh, ("Lagrange", 1))
    with pytest.raises(InputError, match=r"periodic in x: the mesh is not a box in x") as err:
        PeriodicConstraint(V, "x")
    assert "\n" not in str(err.value)
    with pytest.raises(InputError, match=r"covers 76\.9% of the face y = 0"):
        PeriodicConstraint(V, "y")  # its y faces are shifted against each other


def test_unmatched_faces_refused():
    msh = mesh.create_unit_square(MPI.COMM_WORLD, 4, 4)
    x = msh.geometry.x
    right = np.isclose(x[:, 0], 1.0) & (x[:, 1] > 1e-9) & (x[:, 1] < 1 - 1e-9)
    x[right, 1] += 0.05  # the right face's vertices no longer face the left one's
    V = fem.functionspace(msh, ("Lagrange", 1))
    with pytest.raises(
        InputError, match=r"periodic in x: 8 boundary facet\(s\) .*\(e\.g\. the facet at"
    ):
        PeriodicConstraint(V, "x")
