"""Run under ``mpirun -n 3`` by ``test_fracture_three_ranks.py``; exits 0 when all checks pass.

1. The block preconditioner of the coupled solve (:class:`BlockGaussSeidel`) set up
   twice, the second time with two damage dofs of rank 0 made active: its
   displacement block must equal a fresh extraction. Rank 0's inactive set moves
   the reduced numbering of every later rank, which the reused submatrix must
   follow (it did not: on 3 ranks the extraction failed on ranks 1 and 2 only and
   the run hung).
2. Coarse SENT with the coupled Newton solver tried after 3 AM iterations (it
   is tried, fails and is tried again in the growth steps): the same history on
   3 ranks as on one.
"""

from __future__ import annotations

import sys

import dolfinx_solver  # noqa: F401  (the PyPI wheel's DOLFINx comes first)
import numpy as np
from mpi4py import MPI
from petsc4py import PETSc

from femgp.models.fracture import run
from femgp.models.fracture.setups import notched_tension
from femgp.models.fracture.solvers import BlockGaussSeidel

N_U, N_ALPHA = 6, 4  # owned displacement and damage rows of each rank


def _reduced(full: PETSc.Mat, dropped: set[int]) -> PETSc.Mat:
    """``full`` without the rows and columns ``dropped`` (global numbers, this rank's)."""
    r0, r1 = full.getOwnershipRange()
    keep = PETSc.IS().createGeneral(
        [i for i in range(r0, r1) if i not in dropped], comm=full.getComm()
    )
    return full.createSubMatrix(keep, keep)


class _Operators:
    """What :meth:`BlockGaussSeidel.setUp` reads of its PC."""

    def __init__(self, P: PETSc.Mat) -> None:
        self.P = P

    def getOperators(self) -> tuple[PETSc.Mat, PETSc.Mat]:
        return self.P, self.P


def check_block_reuse(comm: MPI.Comm) -> float:
    """Relative difference of the kept displacement block from a fresh one."""
    n = N_U + N_ALPHA
    size = n * comm.size
    full = PETSc.Mat().createAIJ([(n, size), (n, size)], comm=comm)
    full.setPreallocationNNZ((n, size))
    r0, r1 = full.getOwnershipRange()
    for i in range(r0, r1):  # rows couple to every rank, u rows to u rows of all ranks
        for j in range(size):
            if i == j or (3 * i + 7 * j) % 5 == 0:
                full.setValue(i, j, 1.0 + i + 0.01 * j)
    full.assemble()
    pc = BlockGaussSeidel(comm, N_U, 1, PETSc.NullSpace().create(comm=comm), "three_ranks_")
    pc.setUp(_Operators(_reduced(full, set())))
    dropped = {r0 + N_U, r0 + N_U + 1} if comm.rank == 0 else set()
    P = _reduced(full, dropped)
    pc.setUp(_Operators(P))
    fresh = P.createSubMatrix(pc.is_u, pc.is_u)
    diff = pc._A_uu.copy()
    diff.axpy(-1.0, fresh, structure=PETSc.Mat.Structure.DIFFERENT_NONZERO_PATTERN)
    return diff.norm(PETSc.NormType.FROBENIUS) / fresh.norm(PETSc.NormType.FROBENIUS)


def check_sent(comm: MPI.Comm) -> float:
    """Largest difference of the reactions on ``comm`` and on one rank, relative to the peak."""
    loads = tuple(float(v) for v in np.arange(1e-3, 9.01e-3, 1e-3))
    reactions = []
    for c in (comm, MPI.COMM_SELF):
        s = notched_tension(c, ell=0.06, h_band=0.03, h_far=0.1, loads=loads, newton_after=3)
        res = run(s.mesh, s.params, s.loading, show_progress=False, plots=False)
        reactions.append(res.column("reaction"))
    world, serial = reactions
    if world.shape != serial.shape:
        return np.inf
    return float(np.max(np.abs(world - serial)) / np.max(np.abs(serial)))


def main() -> int:
    comm = MPI.COMM_WORLD
    block = check_block_reuse(comm)
    sent = check_sent(comm)
    ok = block <= 1e-14 and sent <= 1e-6
    if comm.rank == 0:
        print(f"ranks {comm.size}: block difference {block:.3e}, reactions {sent:.3e}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
