"""The rigid-body modes span the kernel of the elasticity stiffness (2D and 3D).

Checks: ``K m ≈ 0`` for every mode (relative to ``||K||``), the modes are
orthonormal (so linearly independent), and on small meshes without boundary
conditions the kernel of ``K`` (from a dense eigen-decomposition) has exactly
the dimension 3 (2D) or 6 (3D) and lies in the span of the modes. Controls: a
symmetric "rotation" ``(y, x)`` is a pure shear and is not in the kernel.
"""

from __future__ import annotations

import femgp.fem._backend  # noqa: F401  (dolfinx_solver before dolfinx)

import dolfinx.fem.petsc
import numpy as np
import pytest
import ufl
from dolfinx import fem, mesh
from mpi4py import MPI
from petsc4py import PETSc

from femgp.fem.nullspace import rigid_body_modes


def _stiffness(V: fem.FunctionSpace) -> PETSc.Mat:
    """The isotropic elasticity stiffness matrix (E = 1, nu = 0.3), no boundary conditions."""
    gdim = V.mesh.geometry.dim
    lmbda, mu = 0.3 / (1.3 * 0.4), 1.0 / 2.6
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)

    def eps(w):
        return ufl.sym(ufl.grad(w))

    def sigma(w):
        return 2 * mu * eps(w) + lmbda * ufl.tr(eps(w)) * ufl.Identity(gdim)

    K = dolfinx.fem.petsc.assemble_matrix(fem.form(ufl.inner(sigma(u), eps(v)) * ufl.dx))
    K.assemble()
    return K


def _space(dim: int, degree: int, n: int) -> fem.FunctionSpace:
    comm = MPI.COMM_WORLD
    if dim == 2:
        msh = mesh.create_rectangle(comm, [[-1.0, 0.5], [2.0, 2.0]], [n, n])
    else:
        msh = mesh.create_box(comm, [[-1.0, 0.5, 0.0], [1.0, 1.5, 3.0]], [n, n, n])
    return fem.functionspace(msh, ("Lagrange", degree, (dim,)))


def _check_kernel_and_orthonormal(dim: int, degree: int, n: int) -> None:
    V = _space(dim, degree, n)
    K = _stiffness(V)
    ns, modes = rigid_body_modes(V)
    vecs = ns.getVecs()
    assert len(vecs) == len(modes) == (3 if dim == 2 else 6)
    k_norm = K.norm(PETSc.NormType.FROBENIUS)
    y = K.createVecLeft()
    for v in vecs:
        K.mult(v, y)
        assert y.norm() / k_norm < 1e-15  # measured <= 1.1e-16 (unit-norm modes)
    gram = np.array([[a.dot(b) for b in vecs] for a in vecs])
    assert np.allclose(gram, np.eye(len(vecs)), rtol=0, atol=1e-14)  # measured <= 1.4e-15
    assert ns.test(K)  # PETSc's own check that K v = 0 for the null space

    # Control: a symmetric, non-rigid field (y, x, ...) is strained, so K m is far from 0
    # (measured >= 4e-4 relative on these meshes).
    wrong = fem.Function(V)
    wrong.interpolate(lambda x: np.vstack([x[1], x[0], *([x[0]] if dim == 3 else [])]))
    K.mult(wrong.x.petsc_vec, y)
    assert y.norm() / (k_norm * wrong.x.petsc_vec.norm()) > 1e-5


@pytest.mark.parametrize(("dim", "degree", "n"), [(2, 1, 6), (2, 2, 4), (3, 1, 3), (3, 2, 2)])
def test_modes_are_in_the_kernel_and_orthonormal(dim, degree, n):
    _check_kernel_and_orthonormal(dim, degree, n)


@pytest.mark.mpi
@pytest.mark.parametrize(("dim", "degree", "n"), [(2, 2, 6), (3, 1, 4)])
def test_modes_are_in_the_kernel_on_two_ranks(dim, degree, n):
    assert MPI.COMM_WORLD.size == 2, "run under mpirun -n 2"
    _check_kernel_and_orthonormal(dim, degree, n)


@pytest.mark.skipif(MPI.COMM_WORLD.size > 1, reason="serial-only test (dense eigenproblem)")
@pytest.mark.parametrize(("dim", "n"), [(2, 3), (3, 1)])
def test_modes_span_the_whole_kernel(dim, n):
    V = _space(dim, 1, n)
    K = _stiffness(V)
    dense = K.convert("dense").getDenseArray()
    w, q = np.linalg.eigh(dense)
    kernel = q[:, np.abs(w) < 1e-10 * np.abs(w).max()]
    _, modes = rigid_body_modes(V)
    basis = np.column_stack([m.array for m in modes])
    assert kernel.shape[1] == basis.shape[1] == (3 if dim == 2 else 6)
    # Every kernel vector lies in span(modes): its projection residual vanishes.
    residual = kernel - basis @ (basis.T @ kernel)
    assert np.linalg.norm(residual) < 1e-10
    assert np.linalg.matrix_rank(basis) == basis.shape[1]


def test_a_scalar_space_is_refused():
    msh = mesh.create_unit_square(MPI.COMM_WORLD, 2, 2)
    with pytest.raises(ValueError, match="block size 1 on a mesh of dimension 2"):
        rigid_body_modes(fem.functionspace(msh, ("Lagrange", 1)))
