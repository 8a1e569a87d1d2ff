"""The CSR Jacobian assembly: the same matrix as DOLFINx's PETSc assembly, the same solves."""

from __future__ import annotations

import femgp.fem._backend  # noqa: F401

import dolfinx.fem.petsc
import numpy as np
import pytest
import ufl
from dolfinx import fem, mesh
from mpi4py import MPI
from petsc4py import PETSc

from femgp.errors import InputError
from femgp.fem.assembly import CSRAssembler, csr_assembly_applies
from femgp.fem.problems import NonlinearProblem


def _form_and_bc(shape: tuple[int, ...] | None, degree: int = 1):
    """A variable-coefficient bilinear form with a boundary term, and a Dirichlet condition."""
    domain = mesh.create_unit_square(MPI.COMM_WORLD, 11, 7)
    V = fem.functionspace(domain, ("Lagrange", degree, shape) if shape else ("Lagrange", degree))
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    x = ufl.SpatialCoordinate(domain)
    a = (1 + x[0] ** 2) * ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx
    a += x[1] * ufl.inner(u, v) * ufl.ds
    # x = 0 and y = 0: a boundary that crosses the partitions (ghost Dirichlet rows).
    dofs = fem.locate_dofs_geometrical(V, lambda p: np.isclose(p[0] * p[1], 0.0))
    bc = fem.dirichletbc(np.zeros(shape) if shape else 0.0, dofs, V)
    return fem.form(a), bc


def _run(shape: tuple[int, ...] | None, degree: int) -> None:
    a, bc = _form_and_bc(shape, degree)
    reference = dolfinx.fem.petsc.assemble_matrix(a, [bc], diag=1.0)
    reference.assemble()
    A = dolfinx.fem.petsc.create_matrix(a)
    assert csr_assembly_applies(a, A)
    assembler = CSRAssembler(a, A)
    for _ in range(2):  # values replaced, not added, by a second assembly
        assembler.assemble([bc])
    assert A.getBlockSizes() == reference.getBlockSizes()
    assert A.getInfo()["nz_used"] == reference.getInfo()["nz_used"]
    scale = reference.norm()
    A.axpy(-1.0, reference)
    assert A.norm() < 1e-13 * scale


@pytest.mark.parametrize(("shape", "degree"), [((2,), 1), (None, 2)])
def test_csr_assembly_equals_petsc_assembly(shape, degree):
    _run(shape, degree)


@pytest.mark.mpi
@pytest.mark.parametrize(("shape", "degree"), [((2,), 1), (None, 2)])
def test_csr_assembly_equals_petsc_assembly_in_parallel(shape, degree):
    """Ghost rows are summed by PETSc's COO assembly: the same matrix on any number of ranks."""
    _run(shape, degree)


def _problem(prefix: str, assembly: str | None):
    """A nonlinear (quartic) energy, so that the Jacobian is assembled every Newton iteration."""
    domain = mesh.create_unit_square(MPI.COMM_WORLD, 12, 12)
    V = fem.functionspace(domain, ("Lagrange", 1))
    u = fem.Function(V)
    x = ufl.SpatialCoordinate(domain)
    energy = (0.5 * ufl.inner(ufl.grad(u), ufl.grad(u)) + 0.25 * u**4 - x[0] * u) * ufl.dx
    F = ufl.derivative(energy, u, ufl.TestFunction(V))
    domain.topology.create_connectivity(1, 2)
    dofs = fem.locate_dofs_topological(V, 1, mesh.exterior_facet_indices(domain.topology))
    bc = fem.dirichletbc(0.0, dofs, V)
    options = {"ksp_type": "cg", "pc_type": "jacobi", "ksp_rtol": 1e-12, "snes_rtol": 1e-10}
    prob = NonlinearProblem(F, u, prefix=prefix, bcs=[bc], options=options, assembly=assembly)
    return prob, u


def test_problem_takes_the_csr_path_by_default_with_the_same_iterates():
    csr, u_csr = _problem("test_asm_csr_", None)
    petsc, u_petsc = _problem("test_asm_petsc_", "petsc")
    assert csr.csr_assembler is not None and petsc.csr_assembler is None
    s1, s2 = csr.solve(), petsc.solve()
    assert s1.newton == s2.newton >= 2 and s1.krylov == s2.krylov
    assert np.abs(u_csr.x.array).max() > 1e-3
    diff = MPI.COMM_WORLD.allreduce(np.abs(u_csr.x.array - u_petsc.x.array).max(), op=MPI.MAX)
    assert diff < 1e-12


def test_assembly_option_selects_the_petsc_path():
    opts = PETSc.Options()
    opts["test_asm_opt_femgp_assembly"] = "petsc"
    try:
        prob, _ = _problem("test_asm_opt_", None)
    finally:
        opts.delValue("test_asm_opt_femgp_assembly")
    assert prob.csr_assembler is None


def test_unknown_assembly_is_refused():
    with pytest.raises(InputError, match=r"test_asm_bad_: assembly must be one of csr, petsc"):
        _problem("test_asm_bad_", "fast")


def test_matrices_past_the_memory_cap_keep_dolfinx_assembly(monkeypatch):
    import femgp.fem.assembly

    monkeypatch.setattr(femgp.fem.assembly, "CSR_MAX_NONZEROS", 100)
    prob, _ = _problem("test_asm_cap_", None)
    assert prob.csr_assembler is None
    assert prob.solve().newton >= 2
