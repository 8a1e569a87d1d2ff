"""Periodic boundaries as a multipoint constraint ``u = P ū + u_affine``.

DOLFINx has no periodic function spaces, and ``dolfinx_mpc`` (the usual route)
is neither on the wheel stack femgp installs from nor on every cluster. femgp
therefore writes the constraint itself, with nothing but the public DOLFINx and
petsc4py APIs of DOLFINx >= 0.10:

- **The constraint matrix** ``P`` (PETSc AIJ, assembled once): its rows are the
  owned DOFs of the full space (in the PETSc layout DOLFINx assembles into),
  its columns the DOFs of the *reduced* space, one column per independent
  value. A DOF whose coordinate lies on the "upper" face ``x_d = hi_d`` of a
  periodic direction ``d`` is a *copy*; the one DOF it maps to (translate every
  upper coordinate to the lower face, so corners and edges of the box all map
  to one master) is found by matching translated DOF coordinates against the
  masters gathered from every rank, so any partition works. Each row of ``P``
  has a single 1. Mixed spaces are matched sub-space by sub-space, vector
  spaces component by component.
- **The reduced Newton system**: the full residual ``r`` and Jacobian ``J``
  are assembled by DOLFINx as usual at ``u = P ū + u_affine``; SNES then works
  on ``ū`` with the residual ``Pᵀ r`` and the Jacobian ``Pᵀ J P`` (``MatPtAP``,
  whose symbolic product is computed once and reused every Newton step). The
  reduced Jacobian is an ordinary AIJ matrix, so LU (MUMPS), GAMG and Krylov
  methods apply unchanged.
- **Dirichlet conditions** are applied in the reduced space (the rows and
  columns of the constrained masters), so a point pin on a corner also pins
  its periodic copies consistently.
- **Output is on the full mesh**: the unknown Functions always hold the full
  values ``P ū + u_affine``, so writers, checkpoints and ParaView see equal
  values on paired boundaries.

The alternative, a topologically periodic mesh, is not offered by DOLFINx
0.10/0.11 (meshes are built from cell-vertex lists with geometry attached to
vertices; glueing vertices breaks the geometry), so the constraint is the route
that runs on both the pip wheels and a cluster's DOLFINx.

An affine part ``u_affine`` (for instance ``ε̄·x`` of a cell under a prescribed
mean strain) makes the *fluctuation* ``u - u_affine`` periodic.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import femgp.fem._backend  # noqa: F401  (dolfinx_solver before dolfinx)

import dolfinx.fem.petsc
import dolfinx.la.petsc
import numpy as np
from dolfinx import fem
from dolfinx import mesh as dmesh
from mpi4py import MPI
from petsc4py import PETSc

from femgp.errors import InputError

__all__ = [
    "AXES",
    "PeriodicConstraint",
    "PeriodicNonlinearProblem",
    "bounding_box",
    "check_periodic_mesh",
    "parse_periodic",
]

#: Names of the periodic directions.
AXES = "xyz"

#: Relative tolerance (of the bounding-box diagonal) for coordinate matching.
RTOL = 1e-8


def parse_periodic(periodic: str | Sequence[int | str] | None, gdim: int | None = None) -> str:
    """Normalise a periodic-direction spec (``"xy"``, ``["x", "y"]``, ``(0, 1)``) to ``"xy"``.

    An empty spec (``""``, ``None``, ``()``) means not periodic. Raises
    :class:`InputError` naming the bad value and the allowed ones.
    """
    if periodic is None:
        return ""
    items: list[Any] = list(periodic) if not isinstance(periodic, str) else list(periodic.lower())
    axes = []
    for it in items:
        if isinstance(it, int | np.integer) and not isinstance(it, bool) and 0 <= it < 3:
            axes.append(AXES[int(it)])
        elif isinstance(it, str) and it in AXES:
            axes.append(it)
        else:
            raise InputError(
                f"periodic must name directions among 'x', 'y', 'z' (e.g. 'xy'), got {periodic!r}"
            )
    if len(set(axes)) != len(axes):
        raise InputError(f"periodic names a direction twice: {periodic!r}")
    out = "".join(a for a in AXES if a in axes)
    if gdim is not None and any(AXES.index(a) >= gdim for a in out):
        raise InputError(
            f"periodic={out!r} on a {gdim}D mesh: allowed directions are "
            f"{', '.join(repr(a) for a in AXES[:gdim])}"
        )
    return out


def bounding_box(msh: dmesh.Mesh) -> tuple[np.ndarray, np.ndarray]:
    """The mesh's bounding box ``(lo, hi)`` over all ranks (length ``gdim`` each)."""
    gdim = msh.geometry.dim
    x = msh.geometry.x[:, :gdim]
    lo_loc = x.min(axis=0) if x.size else np.full(gdim, np.inf)
    hi_loc = x.max(axis=0) if x.size else np.full(gdim, -np.inf)
    lo, hi = np.empty(gdim), np.empty(gdim)
    msh.comm.Allreduce(lo_loc, lo, op=MPI.MIN)
    msh.comm.Allreduce(hi_loc, hi, op=MPI.MAX)
    return lo, hi


def _fmt(x: np.ndarray) -> str:
    return "(" + ", ".join(f"{v:.6g}" for v in x) + ")"


def _facet_measures(msh: dmesh.Mesh, facets: np.ndarray) -> np.ndarray:
    """Length/area of straight facets from their vertex coordinates (1 for points)."""
    tdim = msh.topology.dim
    if tdim == 1 or facets.size == 0:
        return np.ones(facets.size)
    nodes = dmesh.entities_to_geometry(msh, tdim - 1, facets)
    x = msh.geometry.x[nodes]  # (n, nodes, 3)
    if tdim == 2:
        return np.linalg.norm(x[:, 1] - x[:, 0], axis=1)
    tri = 0.5 * np.linalg.norm(np.cross(x[:, 1] - x[:, 0], x[:, 2] - x[:, 0]), axis=1)
    if nodes.shape[1] >= 4 and msh.topology.cell_type == dmesh.CellType.hexahedron:
        tri += 0.5 * np.linalg.norm(np.cross(x[:, 1] - x[:, 3], x[:, 2] - x[:, 3]), axis=1)
    return tri


def _gather(comm: MPI.Comm, a: np.ndarray) -> np.ndarray:
    parts = comm.allgather(a)
    return np.concatenate(parts) if parts else a


class _PointIndex:
    """Look up points (with an integer key) by coordinates up to ``tol``."""

    def __init__(self, points: np.ndarray, keys: np.ndarray, values: np.ndarray, tol: float):
        self.tol = tol
        self.table: dict[tuple[int, ...], list[tuple[np.ndarray, int]]] = {}
        bins = np.rint(points / tol).astype(np.int64)
        for p, k, b, v in zip(points, keys, bins, values, strict=True):
            self.table.setdefault((int(k), *b.tolist()), []).append((p, int(v)))

    def find(self, point: np.ndarray, key: int) -> int | None:
        b = np.rint(point / self.tol).astype(np.int64)
        hits = self.table.get((key, *b.tolist()))
        if hits is None:
            for off in np.ndindex(*(3,) * point.size):
                hits = self.table.get((key, *(b + np.array(off) - 1).tolist()))
                if hits is not None:
                    break
        if hits is None:
            return None
        for p, v in hits:
            if np.max(np.abs(p - point)) <= self.tol:
                return v
        return None


def check_periodic_mesh(msh: dmesh.Mesh, periodic: str, *, rtol: float = RTOL) -> None:
    """Refuse meshes that cannot be periodic in the given directions.

    For each direction the exterior facets on the two faces ``x_d = lo_d`` and
    ``x_d = hi_d`` of the bounding box must cover those faces (else: not a box
    in that direction) and match one-to-one under the translation by the box's
    extent. Raises :class:`InputError` in one line naming the count of
    unmatched facets and an example coordinate.
    """
    comm = msh.comm
    gdim, tdim = msh.geometry.dim, msh.topology.dim
    if gdim != tdim:
        raise InputError(f"periodic boundaries need a mesh with gdim == tdim, got {gdim}/{tdim}")
    lo, hi = bounding_box(msh)
    L = hi - lo
    tol = rtol * float(np.linalg.norm(L))
    fdim = tdim - 1
    msh.topology.create_connectivity(fdim, tdim)
    ext = dmesh.exterior_facet_indices(msh.topology)
    ext = ext[ext < msh.topology.index_map(fdim).size_local]
    mid = dmesh.compute_midpoints(msh, fdim, ext)[:, :gdim] if ext.size else np.zeros((0, gdim))
    meas = _facet_measures(msh, ext)
    for axis in parse_periodic(periodic, gdim):
        d = AXES.index(axis)
        on_lo = np.abs(mid[:, d] - lo[d]) < tol
        on_hi = np.abs(mid[:, d] - hi[d]) < tol
        cross = float(np.prod([L[e] for e in range(gdim) if e != d])) if gdim > 1 else 1.0
        cover = [comm.allreduce(float(meas[s].sum()), op=MPI.SUM) / cross for s in (on_lo, on_hi)]
        if any(abs(c - 1.0) > 1e-6 for c in cover):
            raise InputError(
                f"periodic in {axis}: the mesh is not a box in {axis}: its boundary covers "
                f"{cover[0]:.1%} of the face {axis} = {lo[d]:.6g} and {cover[1]:.1%} of the face "
                f"{axis} = {hi[d]:.6g} of its bounding box (both must be 100%)"
            )
        shift = np.zeros(gdim)
        shift[d] = L[d]
        lo_pts, hi_pts = _gather(comm, mid[on_lo]), _gather(comm, mid[on_hi])
        unmatched = []
        for src, dst, sign in ((hi_pts, lo_pts, -1.0), (lo_pts, hi_pts, 1.0)):
            index = _PointIndex(dst, np.zeros(len(dst), int), np.arange(len(dst)), tol)
            unmatched += [p for p in src if index.find(p + sign * shift, 0) is None]
        if unmatched:
            raise InputError(
                f"periodic in {axis}: {len(unmatched)} boundary facet(s) on {axis} = "
                f"{lo[d]:.6g} or {axis} = {hi[d]:.6g} have no partner under the translation by "
                f"{L[d]:.6g} along {axis} (e.g. the facet at {_fmt(unmatched[0])})"
            )


def _dof_coordinates(V: fem.FunctionSpace) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates and a (sub-space, component) key of every local unrolled DOF of ``V``."""
    if V.num_sub_spaces > 0 and V.dofmap.index_map_bs == 1 and V.element.num_sub_elements > 0:
        im = V.dofmap.index_map
        n = (im.size_local + im.num_ghosts) * V.dofmap.index_map_bs
        coords, keys = np.zeros((n, 3)), np.full(n, -1, dtype=np.int64)
        for i in range(V.num_sub_spaces):
            Vi, parent = V.sub(i).collapse()
            parent = np.asarray(parent).reshape(-1)
            ci, ki = _dof_coordinates(Vi)
            coords[parent] = ci
            keys[parent] = (i + 1) * 1000 + ki
        return coords, keys
    bs = V.dofmap.index_map_bs
    nodes = V.tabulate_dof_coordinates()
    return np.repeat(nodes, bs, axis=0), np.tile(np.arange(bs, dtype=np.int64), nodes.shape[0])


class PeriodicConstraint:
    """Periodicity of one function space: the DOFs of ``V`` as ``P ū (+ affine)``.

    Args:
        V: a continuous Lagrange space (scalar, vector or mixed) on a box mesh.
        periodic: periodic directions, e.g. ``"x"``, ``"xy"``, ``"xyz"`` (``""``:
            none; ``P`` is then the identity).
        affine: a function of x (as for ``Function.interpolate``) whose
            interpolant is added to ``P ū``: the non-periodic part of the field.
        rtol: coordinate-matching tolerance relative to the box diagonal.

    Raises:
        InputError: a direction the mesh cannot be periodic in (not a box, or
            boundaries that do not match under the translation), or DOFs
            without a partner (a discontinuous space).
    """

    def __init__(
        self,
        V: fem.FunctionSpace,
        periodic: str | Sequence[int | str],
        *,
        affine: Callable[[np.ndarray], np.ndarray] | None = None,
        rtol: float = RTOL,
    ) -> None:
        msh = V.mesh
        self.V = V
        self.comm = comm = msh.comm
        gdim = msh.geometry.dim
        self.periodic = parse_periodic(periodic, gdim)
        check_periodic_mesh(msh, self.periodic, rtol=rtol)
        self.lo, self.hi = lo, hi = bounding_box(msh)
        tol = rtol * float(np.linalg.norm(hi - lo))
        im, bs = V.dofmap.index_map, V.dofmap.index_map_bs
        self.n_owned = n_owned = im.size_local * bs
        coords, keys = _dof_coordinates(V)
        X, K = coords[:n_owned, :gdim], keys[:n_owned]
        Xm = X.copy()
        copy = np.zeros(n_owned, dtype=bool)
        on_lo = np.zeros(n_owned, dtype=bool)
        for axis in self.periodic:
            d = AXES.index(axis)
            up = np.abs(X[:, d] - hi[d]) < tol
            Xm[up, d] = lo[d]
            copy |= up
            on_lo |= np.abs(X[:, d] - lo[d]) < tol
        master = ~copy
        self.n_reduced = n_red = int(master.sum())
        self.reduced_start = int(comm.exscan(n_red) or 0)
        self.reduced_size = int(comm.allreduce(n_red, op=MPI.SUM))
        cols = np.full(n_owned, -1, dtype=np.int64)
        cols[master] = self.reduced_start + np.arange(n_red)
        cand = master & on_lo
        index = _PointIndex(
            _gather(comm, X[cand] - lo), _gather(comm, K[cand]), _gather(comm, cols[cand]), tol
        )
        missing = []
        for i in np.flatnonzero(copy):
            j = index.find(Xm[i] - lo, int(K[i]))
            if j is None:
                missing.append(i)
            else:
                cols[i] = j
        n_missing = comm.allreduce(len(missing), op=MPI.SUM)
        if n_missing:
            example = comm.allgather(X[missing[0]] if missing else None)
            where = next(e for e in example if e is not None)
            raise InputError(
                f"periodic={self.periodic!r}: {n_missing} DOF(s) on the upper faces have no "
                f"partner on the lower faces (e.g. at {_fmt(where)}); periodic constraints need "
                "a continuous Lagrange space on a mesh whose opposite faces match"
            )
        #: Global reduced index (in this space's own numbering) of each owned full DOF.
        self.columns = cols
        #: Number of owned full DOFs that are copies of another DOF.
        self.n_copies = int(copy.sum())
        self.affine: fem.Function | None = None
        if affine is not None:
            self.affine = fem.Function(V, name="affine")
            self.affine.interpolate(affine)
            self.affine.x.scatter_forward()
        self.P = stacked_matrix([self])
        self._counts = _column_counts(self.P)

    # -- vectors ------------------------------------------------------------------------
    def restrict(self, f: fem.Function) -> PETSc.Vec:
        """The reduced vector of ``f``: ``ū = (PᵀP)⁻¹ Pᵀ (f - affine)`` (the mean of the copies)."""
        x = f.x.petsc_vec.copy()
        if self.affine is not None:
            x.axpy(-1.0, self.affine.x.petsc_vec)
        xr = self.P.createVecRight()
        self.P.multTranspose(x, xr)
        xr.pointwiseDivide(xr, self._counts)
        x.destroy()
        return xr

    def extend(self, xr: PETSc.Vec, f: fem.Function) -> None:
        """Set ``f = P ū + affine`` (owned and ghost values)."""
        self.P.mult(xr, f.x.petsc_vec)
        if self.affine is not None:
            f.x.petsc_vec.axpy(1.0, self.affine.x.petsc_vec)
        f.x.scatter_forward()

    def apply(self, f: fem.Function) -> None:
        """Make ``f`` satisfy the constraint (each set of copies takes its mean)."""
        xr = self.restrict(f)
        self.extend(xr, f)
        xr.destroy()

    def mismatch(self, f: fem.Function) -> float:
        """``max |f - (P ū + affine)|`` with ``ū`` restricted from ``f`` (0 if periodic)."""
        g = f.copy()
        self.apply(g)
        n = self.n_owned
        local = float(np.max(np.abs(g.x.array[:n] - f.x.array[:n]), initial=0.0))
        return self.comm.allreduce(local, op=MPI.MAX)


def _column_counts(P: PETSc.Mat) -> PETSc.Vec:
    ones = P.createVecLeft()
    ones.set(1.0)
    counts = P.createVecRight()
    P.multTranspose(ones, counts)
    ones.destroy()
    return counts


def stacked_columns(constraints: Sequence[PeriodicConstraint]) -> list[np.ndarray]:
    """Global reduced column of every owned DOF, per space, in the stacked block layout.

    DOLFINx's block layout (``kind="mpi"``) puts on each rank the owned DOFs of
    space 0 first, then those of space 1, and so on; the reduced columns follow
    the same rule.
    """
    comm = constraints[0].comm
    size = comm.size
    n_red = np.array([[c.n_reduced for c in constraints]], dtype=np.int64)
    table = np.concatenate(comm.allgather(n_red))  # (ranks, spaces)
    starts = np.vstack([np.zeros((1, table.shape[1]), np.int64), np.cumsum(table, axis=0)])
    rank_offset = starts[:size].sum(axis=1)  # stacked offset of each rank
    before = np.cumsum(np.hstack([np.zeros((size, 1), np.int64), table]), axis=1)
    cols = []
    for b, c in enumerate(constraints):
        owner = np.searchsorted(starts[:, b], c.columns, side="right") - 1
        within = c.columns - starts[owner, b]
        cols.append(rank_offset[owner] + before[owner, b] + within)
    return cols


def stacked_matrix(constraints: Sequence[PeriodicConstraint]) -> PETSc.Mat:
    """``P`` of one or several spaces in DOLFINx's stacked block layout (``kind="mpi"``)."""
    comm = constraints[0].comm
    col = np.concatenate(stacked_columns(constraints)).astype(PETSc.IntType)
    n_rows = col.size
    n_cols = sum(c.n_reduced for c in constraints)
    indptr = np.arange(n_rows + 1, dtype=PETSc.IntType)
    P = PETSc.Mat().createAIJ(
        ((n_rows, PETSc.DETERMINE), (n_cols, PETSc.DETERMINE)),
        csr=(indptr, col, np.ones(n_rows, dtype=PETSc.ScalarType)),
        comm=comm,
    )
    P.assemble()
    return P


class PeriodicNonlinearProblem:
    """A nonlinear problem solved by SNES on the reduced (periodic) unknowns.

    The same interface as ``dolfinx.fem.petsc.NonlinearProblem`` where femgp
    uses it (``solver``, ``A``, ``u``, ``solve()``), so that
    :class:`femgp.fem.problems.NonlinearProblem` takes it through its
    ``constraint=`` argument: the residual is ``Pᵀ r(P ū + affine)``, the
    Jacobian ``Pᵀ J P`` (``MatPtAP``), Dirichlet conditions act on the reduced
    rows and columns of the DOFs they constrain.

    Args:
        F, u, J, kind: as for DOLFINx (``kind="mpi"`` for block problems).
        constraints: one :class:`PeriodicConstraint` per unknown Function.
        prefix: PETSc options prefix of the SNES.
        bcs: Dirichlet conditions on the full spaces; their values must be the
            same on a DOF and its periodic copies.
    """

    def __init__(
        self,
        F: Any,
        u: fem.Function | Sequence[fem.Function],
        constraints: PeriodicConstraint | Sequence[PeriodicConstraint],
        *,
        prefix: str,
        bcs: Sequence[fem.DirichletBC] = (),
        J: Any = None,
        kind: str | None = None,
    ) -> None:
        funcs = list(u) if isinstance(u, Sequence) else [u]
        cons = [constraints] if isinstance(constraints, PeriodicConstraint) else list(constraints)
        if len(cons) != len(funcs):
            raise InputError(f"{len(funcs)} unknown(s) need as many constraints, got {len(cons)}")
        for f, c in zip(funcs, cons, strict=True):
            if f.function_space != c.V:
                raise InputError(f"the constraint of {f.name!r} was built for another space")
        if kind == "nest":
            raise InputError("periodic constraints support kind=None or 'mpi', not 'nest'")
        self._u = u
        self._funcs = funcs
        self._cons = cons
        inner = dolfinx.fem.petsc.NonlinearProblem(
            F, u, petsc_options_prefix=prefix, bcs=[], J=J, kind=kind
        )
        self._inner = inner
        self.P = stacked_matrix(cons) if len(cons) > 1 else cons[0].P
        self._counts = _column_counts(self.P)
        self._x, self._b = inner.x, inner.b
        self._offset: PETSc.Vec | None = None
        if any(c.affine is not None for c in cons):
            self._offset = self._x.duplicate()
            parts = [
                c.affine.x.array[: c.n_owned] if c.affine is not None else np.zeros(c.n_owned)
                for c in cons
            ]
            self._offset.array[:] = np.concatenate(parts)
        self._fctx: dict[str, Any] = {
            "u": u,
            "residual": inner.F,
            "jacobian": inner.J,
            "bcs": [],
        }
        if (blocks := self._b.getAttr("_blocks")) is not None:
            self._fctx["_blocks"] = blocks
        self._xr = self.P.createVecRight()
        self._br = self.P.createVecRight()
        self._g = self.P.createVecRight()
        self._cols = stacked_columns(cons)
        self._bcs = list(bcs)
        self._bc_rows = self._bc_reduced_rows()
        self._any_bc = cons[0].comm.allreduce(int(self._bc_rows.size), op=MPI.SUM) > 0
        # The symbolic product once (on the assembled pattern); numeric reuse afterwards.
        self._restrict_from_functions()
        self._extend(self._xr)
        dolfinx.fem.petsc.assemble_jacobian(None, self._x, inner.A, None, u, inner.J, None, [])
        self._Jr = inner.A.PtAP(self.P)
        self._Jr.setOptionsPrefix(f"{prefix}Ar_")
        snes = PETSc.SNES().create(self.P.comm)
        snes.setOptionsPrefix(prefix)
        snes.setFunction(self._residual, self._br)
        snes.setJacobian(self._jacobian, self._Jr, self._Jr)
        self._snes = snes

    # -- the interface femgp's NonlinearProblem uses -----------------------------------
    @property
    def solver(self) -> PETSc.SNES:
        """The SNES on the reduced unknowns."""
        return self._snes

    @property
    def A(self) -> PETSc.Mat:
        """The reduced Jacobian ``Pᵀ J P``."""
        return self._Jr

    @property
    def u(self) -> fem.Function | Sequence[fem.Function]:
        """The unknown(s), full (not reduced) functions."""
        return self._u

    def solve(self) -> fem.Function | Sequence[fem.Function]:
        """Solve from the current values of the unknowns; they hold the full solution after."""
        self._restrict_from_functions()
        self._set_bc_values()
        self._snes.solve(None, self._xr)
        self._extend(self._xr)
        dolfinx.la.petsc._ghost_update(self._x, PETSc.InsertMode.INSERT, PETSc.ScatterMode.FORWARD)
        dolfinx.fem.petsc.assign(self._x, self._u)
        return self._u

    def restrict(self, x: PETSc.Vec) -> PETSc.Vec:
        """A new reduced vector from a full (stacked) vector: the mean of the copies."""
        xr = self.P.createVecRight()
        self.P.multTranspose(x, xr)
        xr.pointwiseDivide(xr, self._counts)
        return xr

    def set_bounds(self, lower: fem.Function, upper: fem.Function) -> None:
        """Variable bounds (SNES VI) from full-space Functions (single unknown only)."""
        lo_r = self.restrict(lower.x.petsc_vec)
        hi_r = self.restrict(upper.x.petsc_vec)
        self._bounds = (lo_r, hi_r)
        self._snes.setVariableBounds(lo_r, hi_r)

    # -- internals -----------------------------------------------------------------------
    def _restrict_from_functions(self) -> None:
        dolfinx.fem.petsc.assign(self._u, self._x)
        if self._offset is not None:
            self._x.axpy(-1.0, self._offset)
        self.P.multTranspose(self._x, self._xr)
        self._xr.pointwiseDivide(self._xr, self._counts)

    def _extend(self, xr: PETSc.Vec) -> None:
        self.P.mult(xr, self._x)
        if self._offset is not None:
            self._x.axpy(1.0, self._offset)

    def _bc_reduced_rows(self) -> np.ndarray:
        """Owned reduced rows (local indices) of the DOFs the Dirichlet conditions fix."""
        mask = self.P.createVecRight()
        mask.set(0.0)
        for bc in self._bcs:
            b, c = self._block_of(bc)
            dofs, n_owned = bc.dof_indices()
            dofs = dofs[:n_owned]
            dofs = dofs[dofs < c.n_owned]
            cols = self._cols[b][dofs]
            mask.setValues(cols.astype(PETSc.IntType), np.ones(cols.size), PETSc.InsertMode.INSERT)
        mask.assemble()
        rows = np.flatnonzero(mask.array > 0.5).astype(PETSc.IntType)
        mask.destroy()
        return rows

    def _block_of(self, bc: fem.DirichletBC) -> tuple[int, PeriodicConstraint]:
        for b, c in enumerate(self._cons):
            if c.V._cpp_object.contains(bc.function_space):
                return b, c
        raise InputError("a Dirichlet condition is not on any of the problem's spaces")

    def _set_bc_values(self) -> None:
        """Reduced boundary values ``g`` (at the constrained rows) into the iterate."""
        if not self._bcs:
            return
        self._g.set(0.0)
        for bc in self._bcs:
            b, c = self._block_of(bc)
            f = self._funcs[b]
            vals = f.x.array.copy()
            bc.set(vals)
            dofs, n_owned = bc.dof_indices()
            dofs = dofs[:n_owned]
            dofs = dofs[dofs < c.n_owned]
            off = c.affine.x.array[dofs] if c.affine is not None else 0.0
            cols = self._cols[b][dofs].astype(PETSc.IntType)
            self._g.setValues(cols, vals[dofs] - off, PETSc.InsertMode.INSERT)
        self._g.assemble()
        rows = self._bc_rows
        self._xr.array[rows] = self._g.array[rows]

    def _residual(self, snes: PETSc.SNES, xr: PETSc.Vec, br: PETSc.Vec) -> None:
        self._extend(xr)
        dolfinx.fem.petsc.assemble_residual(snes, self._x, self._b, **self._fctx)
        self.P.multTranspose(self._b, br)
        if self._bc_rows.size:
            rows = self._bc_rows
            br.array[rows] = xr.array_r[rows] - self._g.array_r[rows]

    def _jacobian(self, snes: PETSc.SNES, xr: PETSc.Vec, J: PETSc.Mat, Pm: PETSc.Mat) -> None:
        self._extend(xr)
        inner = self._inner
        dolfinx.fem.petsc.assemble_jacobian(
            snes, self._x, inner.A, None, self._u, inner.J, None, []
        )
        inner.A.PtAP(self.P, result=self._Jr)
        if self._any_bc:  # collective
            rstart = self._Jr.getOwnershipRange()[0]
            self._Jr.zeroRowsColumns((self._bc_rows + rstart).astype(PETSc.IntType), 1.0)

    def __del__(self) -> None:
        for name in ("_snes", "_Jr", "_xr", "_br", "_g", "_counts", "_offset"):
            obj = getattr(self, name, None)
            if obj is not None:
                obj.destroy()
