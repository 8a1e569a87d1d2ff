"""Jacobian assembly through DOLFINx's own CSR matrix, copied into PETSc by COO.

DOLFINx assembles a bilinear form into a PETSc matrix with one
``MatSetValuesLocal`` call per cell: every entry is located in its PETSc row
(a search along the row) once for each cell that touches it. DOLFINx's native
:class:`dolfinx.la.MatrixCSR` knows each entry's slot already.
:class:`CSRAssembler` assembles into such a matrix (the same kernels) and hands
all its values to PETSc in one ``MatSetValuesCOO`` call, the pattern (global
row and column of every stored entry, ghost rows included, which PETSc sums
into their owners) given once to ``MatSetPreallocationCOO``. The PETSc matrix
is the same, entry by entry, and assembly takes 1.2-1.5x less time
(``benchmarks/assembly.py``).

Memory: the CSR matrix (12 bytes per nonzero) and PETSc's COO maps (16 bytes
per nonzero) are kept between assemblies, about twice the PETSc matrix again.
So the path is taken only up to :data:`CSR_MAX_NONZEROS` stored entries per
rank (at most about 110 MB more per rank), and ``-<prefix>femgp_assembly
petsc`` turns it off. (Copying row by row with ``MatSetValuesLocal`` needs no
maps but measured no faster than DOLFINx's path on the Cahn-Hilliard Jacobian.)

Only a single bilinear form into a ``seqaij``/``mpiaij`` matrix takes this path
(:func:`csr_assembly_applies`); block (nest) matrices and separate
preconditioner forms keep DOLFINx's own assembly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import femgp.fem._backend  # noqa: F401  (dolfinx_solver before dolfinx)

import numpy as np
from dolfinx import fem, la
from mpi4py import MPI
from petsc4py import PETSc

__all__ = [
    "ASSEMBLY_MODES",
    "CSR_MAX_NONZEROS",
    "CSRAssembler",
    "csr_assembly_applies",
    "csr_fits",
    "csr_jacobian",
]

#: Values of a problem's ``assembly`` choice: ``"csr"`` (DOLFINx CSR, then COO
#: into PETSc) and ``"petsc"`` (DOLFINx's PETSc assembly, cell by cell).
ASSEMBLY_MODES = ("csr", "petsc")


#: The CSR path is taken up to this many stored matrix entries on every rank
#: (28 bytes each kept: at most about 110 MB more per rank).
CSR_MAX_NONZEROS = 4_000_000


def csr_assembly_applies(form: Any, mat: PETSc.Mat | None) -> bool:
    """Whether ``form`` into ``mat`` can take the CSR path.

    A single compiled bilinear form (not a block of forms) and an AIJ matrix
    (``seqaij``/``mpiaij``) of real scalars.
    """
    if mat is None or not isinstance(form, fem.Form) or form.rank != 2:
        return False
    if np.dtype(PETSc.ScalarType).kind == "c":
        return False
    return mat.getType() in (PETSc.Mat.Type.SEQAIJ, PETSc.Mat.Type.MPIAIJ)


def csr_fits(mat: PETSc.Mat) -> bool:
    """Whether ``mat`` has at most :data:`CSR_MAX_NONZEROS` preallocated entries on
    every rank (collective on its communicator: every rank gets the same answer)."""
    local = mat.getInfo(PETSc.Mat.InfoType.LOCAL)["nz_allocated"]
    return mat.getComm().tompi4py().allreduce(local, op=MPI.MAX) <= CSR_MAX_NONZEROS


class CSRAssembler:
    """Assembles one bilinear form into a PETSc AIJ matrix through a DOLFINx CSR matrix.

    The constructor gives ``mat`` the CSR matrix's pattern
    (``MatSetPreallocationCOO``, which re-creates its storage; the block sizes
    are kept): afterwards ``mat`` holds exactly the entries the form can reach,
    as DOLFINx's own preallocation does. Set options on ``mat`` (symmetry, a
    near-nullspace) after constructing the assembler.

    Args:
        form: the compiled bilinear form.
        mat: the PETSc matrix it is assembled into (made for ``form`` by DOLFINx).
    """

    def __init__(self, form: fem.Form, mat: PETSc.Mat) -> None:
        if not csr_assembly_applies(form, mat):
            raise ValueError("the CSR assembly needs one bilinear form and an AIJ matrix")
        self.form = form
        self.mat = mat
        self.csr = fem.create_matrix(form, block_mode=la.BlockMode.expanded)
        rows_map, cols_map = self.csr.index_map(0), self.csr.index_map(1)
        n_rows = rows_map.size_local + rows_map.num_ghosts
        n_cols = cols_map.size_local + cols_map.num_ghosts
        indptr = np.asarray(self.csr.indptr)
        self._n = int(indptr[n_rows])  # stored entries, ghost rows included
        rows = rows_map.local_to_global(np.arange(n_rows, dtype=np.int32))
        cols = cols_map.local_to_global(np.arange(n_cols, dtype=np.int32))
        coo_i = np.repeat(rows.astype(PETSc.IntType), np.diff(indptr[: n_rows + 1]))
        coo_j = cols.astype(PETSc.IntType)[np.asarray(self.csr.indices)[: self._n]]
        bs = mat.getBlockSizes()
        mat.setPreallocationCOO(coo_i, coo_j)
        if mat.getBlockSizes() != bs:  # PETSc keeps them; restored should a version not
            mat.setBlockSizes(*bs)

    def assemble(self, bcs: Sequence[fem.DirichletBC] = (), diagonal: float = 1.0) -> None:
        """Assemble the form into the PETSc matrix, replacing its values.

        Rows and columns of ``bcs`` are zeroed and ``diagonal`` put on their
        diagonal, as by DOLFINx; the matrix ends assembled.
        """
        self.csr.data[:] = 0.0
        fem.assemble_matrix(self.csr, self.form, list(bcs), diagonal)
        self.mat.setValuesCOO(self.csr.data[: self._n], PETSc.InsertMode.INSERT_VALUES)
        self.mat.assemble()


def csr_jacobian(assembler: CSRAssembler, u: fem.Function, bcs: Sequence[fem.DirichletBC]) -> Any:
    """An SNES Jacobian callback that assembles through ``assembler``.

    As DOLFINx's own callback: the iterate ``x`` is copied into ``u`` (ghosts
    updated) and the Jacobian is assembled with ``bcs`` (a unit diagonal on their
    rows). ``J`` and ``P`` are the same matrix, ``assembler.mat``.
    """
    bcs = list(bcs)

    def jacobian(snes: PETSc.SNES, x: PETSc.Vec, J: PETSc.Mat, P: PETSc.Mat) -> None:
        x.copy(u.x.petsc_vec)  # owned values; the ghosts from their owners
        u.x.scatter_forward()
        assembler.assemble(bcs)

    return jacobian
