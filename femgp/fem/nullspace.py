"""The rigid-body modes of linear elasticity, as a PETSc near-nullspace.

Smoothed-aggregation multigrid (GAMG) needs the near-nullspace of the
elasticity operator to build good coarse spaces: the translations (one per
component) and the infinitesimal rotations ``x -> W x`` with ``W``
antisymmetric (one in 2D, three in 3D). Every model that solves for a
displacement attaches them to its Jacobian with
``problem.A.setNearNullSpace(ns)``.
"""

from __future__ import annotations

import femgp.fem._backend  # noqa: F401  (dolfinx_solver before dolfinx)

from dolfinx import fem, la
from dolfinx.la.petsc import create_vector_wrap
from petsc4py import PETSc

__all__ = ["rigid_body_modes"]

#: Rotations as (component a, component b): the mode is ``u_a = -x_b, u_b = x_a``.
_ROTATIONS = {2: [(0, 1)], 3: [(0, 1), (2, 0), (1, 2)]}


def rigid_body_modes(V: fem.FunctionSpace) -> tuple[PETSc.NullSpace, list[la.Vector]]:
    """The orthonormalised rigid-body modes of a vector Lagrange space (3 in 2D, 6 in 3D).

    The space's block size (number of displacement components) must equal the
    mesh's geometric dimension, 2 or 3. Owned and ghost entries are set, and
    the modes are orthonormalised with MPI-reduced inner products.

    Args:
        V: a blocked Lagrange space ``("Lagrange", degree, (gdim,))``.

    Returns:
        The PETSc near-nullspace and the dolfinx vectors that own its storage
        (keep them alive as long as the nullspace is used).

    Raises:
        ValueError: if the block size is not the geometric dimension 2 or 3.
    """
    gdim = V.mesh.geometry.dim
    imap, bs = V.dofmap.index_map, V.dofmap.index_map_bs
    if bs != gdim or gdim not in _ROTATIONS:
        raise ValueError(
            f"rigid_body_modes needs a vector space with one component per geometric "
            f"dimension, 2 or 3; got block size {bs} on a mesh of dimension {gdim}"
        )
    x = V.tabulate_dof_coordinates()  # one row per node, owned then ghost
    n_nodes = imap.size_local + imap.num_ghosts
    rotations = _ROTATIONS[gdim]
    modes = [la.vector(imap, bs=bs, dtype=PETSc.ScalarType) for _ in range(gdim + len(rotations))]
    for i in range(gdim):  # translations
        modes[i].array[i::bs] = 1.0
    for k, (a, b) in enumerate(rotations):  # rotations in the (a, b) plane
        arr = modes[gdim + k].array
        arr[a::bs] = -x[:n_nodes, b]
        arr[b::bs] = x[:n_nodes, a]
    la.orthonormalize(modes)
    vectors = [create_vector_wrap(m) for m in modes]
    ns = PETSc.NullSpace().create(vectors=vectors, comm=V.mesh.comm)
    return ns, modes
