"""Adaptive mesh refinement: mark cells from indicators, refine, transfer fields.

The layer a stepping driver calls between load steps so that a crack finds its
own fine mesh. It knows nothing of any model: indicators are fem Functions or
UFL expressions with a threshold, and the state is a mapping of named
Functions.

1. **Marking** (:func:`mark_cells`). A cell is marked where any
   :class:`Indicator` reaches its threshold at one of the cell's vertices or
   its midpoint (for a P1 damage field: the largest nodal value of the cell),
   and then every cell whose midpoint lies within ``zone`` of a marked cell's
   midpoint (the zone ahead of a tip).
2. **Refinement** (:func:`refine_tagged`). Marked cells whose size
   ``h`` (:func:`cell_sizes`) is above the target are split by DOLFINx's
   Plaza refinement, which closes the mesh conformingly (:func:`split_edges`:
   all edges of a cell above ``2^(1-1/d)`` times the target, which halves it,
   the longest edge of one closer to it, which bisects it); facet and cell tags
   follow the parent cells. Refined cells stay on the rank of their parent
   (the ghost layer is rebuilt): the parent-cell map that carries the marks and
   tags from pass to pass is rank-local, so repartitioning is left to a
   restart from a checkpoint, which reads on any number of ranks.
   :func:`adapt` repeats marking-by-parent and refinement until ``h <= target``
   in the marked region, ``max_passes`` is reached (logged at info level if a
   marked cell is still above the target: a run's next round refines on), or
   the next pass would exceed ``max_cells`` (estimated from the marked edges
   before refining; a warning names the cap).
3. **Transfer** (:func:`transfer_state`). Every Function is interpolated onto
   the same element on the new mesh (``interpolate_nonmatching``: a point
   evaluation at the new element's interpolation points, which works across
   ranks). A field with a lower bound (the damage and its irreversibility
   bound ``alpha_prev``) is then raised to the interpolated bound and clipped
   to ``[0, 1]``, so the transfer never lets the damage fall below its bound.

Why interpolation cannot lower a P1 bound on nested meshes, and where it could:
refinement by edge splitting gives *nested* meshes, every new cell inside one
old cell. A continuous Lagrange function of degree p on the old mesh is a
polynomial of degree p on each new cell, so it belongs to the new Lagrange
space of the same degree and interpolation reproduces it exactly: at the old
nodes, at the new nodes and at every point in between (up to round-off in
locating points, ~1e-16). This holds for P1 and P2 alike, and for DG0, whose
one point per cell (the midpoint) lies strictly inside the parent. It fails

- for discontinuous fields with degrees of freedom on cell boundaries (DG1 and
  higher, e.g. an AT2 history field of a P2 displacement, ``DG1``): a new
  vertex on an old facet may be evaluated in the neighbouring old cell, whose
  value there can be lower;
- when the degree is lowered (P2 to P1, e.g. for output): the P1 interpolant
  lies below a P2 field between nodes where the P2 field bulges up;
- on non-nested meshes (a remesh, or a boundary snapped to curved geometry):
  the new interpolant agrees with the old field only at the new nodes.

Hence the max with the interpolated bound: exact P1/P2 transfers are left
unchanged by it, and round-off or a DG transfer can no longer put the damage
below its (transferred) bound.

DOLFINx 0.10 and 0.11 differ in how ``refine`` is told not to repartition;
:func:`_refine` is the one place that knows.
"""

from __future__ import annotations

import gc
import logging
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from femgp.errors import InputError
from femgp.fem import _backend

_backend.import_dolfinx()

from dolfinx import fem  # noqa: E402
from dolfinx import mesh as dmesh  # noqa: E402
from mpi4py import MPI  # noqa: E402
from petsc4py import PETSc  # noqa: E402

from femgp.fem.logs import get_logger  # noqa: E402
from femgp.fem.meshes.core import TaggedMesh  # noqa: E402

__all__ = [
    "AdaptResult",
    "Indicator",
    "MarkingCache",
    "Refinement",
    "adapt",
    "cell_sizes",
    "collect_garbage",
    "compile_indicator",
    "edge_lengths",
    "estimate_cells",
    "interpolate_into",
    "interpolation_data",
    "mark_cells",
    "mesh_sizes",
    "num_cells",
    "refine_tagged",
    "split_edges",
    "transfer_function",
    "transfer_functions",
    "transfer_state",
]

log = get_logger("femgp.adapt")

#: The estimated number of cells a refinement pass adds is this many times the
#: number of (cell, split edge) pairs: Plaza's conforming closure splits a few
#: more edges than those marked.
CLOSURE_FACTOR = 1.5

#: A refinement pass splits every edge of a marked cell larger than this
#: factor ``2^(1 - 1/d)`` times the target size (regular refinement: its children
#: are half its size, at least ``2^(-1/d)`` of the target) and only the longest
#: edge of a smaller one (bisection: ``2^(-1/d)`` of its size), see
#: :func:`split_edges`. So no marked cell ends below ``2^(-1/d)`` of the target
#: (0.71 in 2D, 0.79 in 3D), where halving every cell did: the cells that the
#: conforming closure bisected at the border of the refined region (1 to 2
#: times the target) were halved at the next refinement, and the refined
#: cells of the 3D SENT slab had a median size of 0.58 of the target after
#: its second refinement.
REGULAR_ABOVE = {1: 1.0, 2: 2**0.5, 3: 2 ** (2 / 3)}


def _int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise InputError(f"refinement {name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise InputError(f"refinement {name} must be a number, got {value!r}")
    v = float(value)
    if not np.isfinite(v):
        raise InputError(f"refinement {name} must be finite, got {value!r}")
    return v


@dataclass(frozen=True)
class Refinement:
    """Options of adaptive refinement (validated; bad values raise InputError).

    Attributes:
        adapt: refine at all.
        h_min: the cell size to reach where refinement is needed (> 0);
            ``None``: a quarter of the model's length scale (``ell / 4``).
        threshold: damage above which a cell is refined, in (0, 1); ``None``:
            the model's default (fracture: 0.01 for AT1, whose damage is zero
            until the critical stress, and 0.25 for AT2, which damages at any
            strain).
        driving_ratio: refine where the elastic driving force reaches this
            fraction of its critical value, in [0, 1]; 0 turns this indicator
            off (a homogeneous bar, for example, reaches it everywhere at once).
        zone: width of the zone refined around the marked cells (a length, >= 0),
            measured between cell midpoints: a cell that reaches into the zone
            but whose midpoint lies beyond it is not added, so next to cells
            coarser than the target the refined strip can end short of ``zone``
            (by up to about the distance from a coarse cell's midpoint to its
            side; docs/adaptivity.md).
        lookahead: when a refinement is needed (a cell of the zone is above
            the target), refine this much farther around the cells that need
            it (a length, >= 0), so that the next steps of a growing crack
            find their mesh ready instead of refining and solving again at
            every step; the flanks of a crack refined earlier are not widened.
        max_cells: the cap on the global number of cells; a pass that would
            exceed it is not made (a warning names the cap).
        max_passes: refinement passes per call (each halves or bisects the marked
            cells above the target, :func:`split_edges`); a call that stops at it
            with a marked cell above the target says so at info level (in a run
            the driver's next round refines on from there).
    """

    adapt: bool = False
    h_min: float | None = None
    threshold: float | None = None
    driving_ratio: float = 0.9
    zone: float = 0.0
    lookahead: float = 0.0
    max_cells: int = 2_000_000
    max_passes: int = 8

    def __post_init__(self) -> None:
        if not isinstance(self.adapt, bool):
            raise InputError(f"refinement adapt must be true or false, got {self.adapt!r}")
        if self.h_min is not None:
            h = _number("h_min", self.h_min)
            if h <= 0:
                raise InputError(f"refinement h_min must be > 0, got {self.h_min!r}")
            object.__setattr__(self, "h_min", h)
        t = None if self.threshold is None else _number("threshold", self.threshold)
        if t is not None and not 0 < t < 1:
            raise InputError(f"refinement threshold must be in (0, 1), got {self.threshold!r}")
        r = _number("driving_ratio", self.driving_ratio)
        if not 0 <= r <= 1:
            raise InputError(
                f"refinement driving_ratio must be in [0, 1] (0: off), got {self.driving_ratio!r}"
            )
        z = _number("zone", self.zone)
        if z < 0:
            raise InputError(f"refinement zone must be >= 0, got {self.zone!r}")
        object.__setattr__(self, "threshold", t)
        object.__setattr__(self, "driving_ratio", r)
        object.__setattr__(self, "zone", z)
        a = _number("lookahead", self.lookahead)
        if a < 0:
            raise InputError(f"refinement lookahead must be >= 0, got {self.lookahead!r}")
        object.__setattr__(self, "lookahead", a)
        object.__setattr__(self, "max_cells", _int("max_cells", self.max_cells, 1))
        object.__setattr__(self, "max_passes", _int("max_passes", self.max_passes, 1))

    def target(self, ell: float | None = None) -> float:
        """The cell size to reach: ``h_min``, else ``ell / 4``."""
        if self.h_min is not None:
            return self.h_min
        if ell is None or not ell > 0:
            raise InputError(f"refinement needs h_min or a length scale ell > 0, got ell={ell!r}")
        return float(ell) / 4

    def check_mesh(self, msh: dmesh.Mesh, ell: float | None = None) -> float:
        """The target size for the starting (coarse) mesh ``msh``.

        Call once before the load path: a target above the largest cell size
        of the coarse mesh would never refine anything and is refused
        (InputError), as is a non-simplex mesh.
        """
        _check_simplices(msh)
        target = self.target(ell)
        _, h_max = mesh_sizes(msh)
        if target > h_max:
            what = "h_min" if self.h_min is not None else "ell/4"
            raise InputError(
                f"refinement {what} = {target:g} is above the coarse mesh size (largest cell "
                f"{h_max:g}): nothing would be refined; start from a coarser mesh (cells "
                f"2 to 16 times {target:g}) or use 0 < h_min <= {h_max:g}"
            )
        return target


@dataclass(frozen=True)
class Indicator:
    """Refine where ``value >= threshold`` at a vertex or the midpoint of a cell.

    ``value`` is a scalar fem Function or UFL expression on the mesh being
    marked (damage; the ratio of the driving force to its critical value, ...),
    or such an expression compiled by :func:`compile_indicator`.
    """

    value: Any
    threshold: float
    name: str = "indicator"


def cell_sizes(msh: dmesh.Mesh, cells: np.ndarray | None = None) -> np.ndarray:
    """Sizes ``h_K = (d! |K|)^(1/d)`` of simplex ``cells`` (default: the owned cells).

    The size of a cell is the leg of the right-angled simplex of the same
    volume: ``1/n`` on DOLFINx's ``create_unit_square(n, n)`` triangles (whose
    diameter is ``sqrt(2)/n``), 0.75-0.95 of the nominal size of a gmsh
    triangle mesh (0.93 at the median; the diameter is 1.0-1.25 of it) and
    0.75-1.19 of a gmsh tetrahedral one (0.99 at the median). A pass of
    regular refinement halves it exactly, so a mesh made at ``2^k h`` reaches
    ``h`` in ``k`` passes, where the diameter of some of its cells would take
    one pass more (four times the cells there, in 2D).
    """
    tdim = msh.topology.dim
    if cells is None:
        cells = np.arange(msh.topology.index_map(tdim).size_local, dtype=np.int32)
    cells = np.asarray(cells, dtype=np.int32)
    if len(cells) == 0:
        return np.zeros(0)
    nodes = dmesh.entities_to_geometry(msh, tdim, cells)[:, : tdim + 1]
    x = msh.geometry.x[nodes]
    jac = x[:, 1:, :] - x[:, :1, :]  # (cells, tdim, 3): the edges from vertex 0
    gram = np.einsum("cik,cjk->cij", jac, jac)
    det = np.sqrt(np.abs(np.linalg.det(gram)))  # d! |K|, also for a manifold mesh
    return det ** (1.0 / tdim)


def mesh_sizes(msh: dmesh.Mesh) -> tuple[float, float]:
    """The smallest and largest cell size (:func:`cell_sizes`) over all ranks."""
    h = cell_sizes(msh)
    lo = msh.comm.allreduce(float(h.min()) if h.size else np.inf, op=MPI.MIN)
    hi = msh.comm.allreduce(float(h.max()) if h.size else 0.0, op=MPI.MAX)
    return lo, hi


def num_cells(msh: dmesh.Mesh) -> int:
    """The global number of cells."""
    return int(msh.topology.index_map(msh.topology.dim).size_global)


def _check_simplices(msh: dmesh.Mesh) -> None:
    name = msh.topology.cell_name()
    if name not in ("interval", "triangle", "tetrahedron"):
        raise InputError(
            f"adaptive refinement needs a simplex mesh (triangles or tetrahedra), got {name} "
            "cells; mesh with triangles/tetrahedra (for example quadrilateral=False)"
        )


def compile_indicator(msh: dmesh.Mesh, ind: Indicator) -> Indicator:
    """``ind`` with its value compiled for marking on ``msh`` (reuse it while the mesh stays).

    Collective: the expression is compiled on every rank of the mesh (JIT on
    rank 0, the others wait). A compiled indicator skips the JIT cache lookup
    (hashing the UFL expression) that marking an uncompiled one repeats per call.
    """
    if isinstance(ind.value, fem.Expression):
        return ind
    ref = np.asarray(_reference_vertices(msh), dtype=np.float64)
    points = np.vstack([ref, ref.mean(axis=0, keepdims=True)])
    return Indicator(fem.Expression(ind.value, points, comm=msh.comm), ind.threshold, ind.name)


def _indicator_values(msh: dmesh.Mesh, ind: Indicator, cells: np.ndarray) -> np.ndarray:
    """The largest value of ``ind`` over the vertices and midpoint of each cell.

    Collective unless ``ind`` is compiled (:func:`compile_indicator`), even on a
    rank without owned cells.
    """
    expr = compile_indicator(msh, ind).value
    if len(cells) == 0:
        return np.zeros(0)
    values = expr.eval(msh, cells)
    return np.asarray(values).reshape(len(cells), -1).max(axis=1)


def _reference_vertices(msh: dmesh.Mesh) -> np.ndarray:
    import basix

    name = msh.topology.cell_name()
    return basix.geometry(getattr(basix.CellType, name))


def _midpoints(msh: dmesh.Mesh, cells: np.ndarray) -> np.ndarray:
    tdim = msh.topology.dim
    return dmesh.compute_midpoints(msh, tdim, np.asarray(cells, dtype=np.int32))


#: The most bins of :func:`_within` along an axis (``(_MAX_BINS + 3)^3 < 2^63``).
_MAX_BINS = 100_000


def _within(points: np.ndarray, centres: np.ndarray, radius: float) -> np.ndarray:
    """Which ``points`` lie within ``radius`` of any of ``centres``.

    A cell list: the centres are binned on a grid of spacing ``radius``, and each
    point is compared with the centres of its own and the neighbouring bins
    only, so the work is about (points + centres) times the centres per bin,
    not points times centres. The bins are at least ``1 / _MAX_BINS`` of the
    centres' extent wide, so that a radius far below the mesh size still numbers
    them within 64 bits.
    """
    inside = np.zeros(len(points), dtype=bool)
    if len(points) == 0 or len(centres) == 0:
        return inside
    gdim = points.shape[1]
    span = float((centres.max(axis=0) - centres.min(axis=0)).max())
    width = max(radius, span / _MAX_BINS)  # a bin no narrower than the radius
    origin = centres.min(axis=0) - width
    shape = np.floor((centres.max(axis=0) - origin) / width).astype(np.int64) + 2
    bins = np.floor((centres - origin) / width).astype(np.int64)
    keys = np.ravel_multi_index(tuple(bins.T), tuple(shape))
    order = np.argsort(keys, kind="stable")
    keys = keys[order]
    cands = np.floor((points - origin) / width).astype(np.int64)
    near = np.flatnonzero(np.all((cands >= -1) & (cands <= shape), axis=1))
    r2 = radius * radius * (1 + 1e-12)
    for offset in np.ndindex(*(3,) * gdim):
        nb = cands[near] + np.asarray(offset) - 1
        ok = np.all((nb >= 0) & (nb < shape), axis=1)
        idx = near[ok]
        key = np.ravel_multi_index(tuple(nb[ok].T), tuple(shape))
        first = np.searchsorted(keys, key, side="left")
        count = np.searchsorted(keys, key, side="right") - first
        for j in range(int(count.max()) if count.size else 0):
            sel = (count > j) & ~inside[idx]
            pts = idx[sel]
            d2 = ((points[pts] - centres[order[first[sel] + j]]) ** 2).sum(axis=1)
            inside[pts[d2 <= r2]] = True
    return inside


def _indicated(msh: dmesh.Mesh, indicators: Sequence[Indicator]) -> np.ndarray:
    """Mask of the owned cells where an indicator reaches its threshold."""
    tdim = msh.topology.dim
    owned = np.arange(msh.topology.index_map(tdim).size_local, dtype=np.int32)
    marked = np.zeros(len(owned), dtype=bool)
    for ind in indicators:
        if not isinstance(ind, Indicator):
            raise InputError(f"mark_cells needs Indicator objects, got {type(ind).__name__}")
        marked |= _indicator_values(msh, ind, owned) >= ind.threshold
    return marked


def _with_zone(
    msh: dmesh.Mesh,
    marked: np.ndarray,
    zone: float,
    candidates: np.ndarray | None = None,
    *,
    mids: np.ndarray | None = None,
    centred: np.ndarray | None = None,
) -> np.ndarray:
    """The owned cells of the mask ``marked`` plus those within ``zone`` of one (any rank).

    ``candidates`` (a mask of the owned cells): only these cells are returned.
    ``mids``: the midpoints of the owned cells, when the caller has them.
    ``centred`` (a mask of the owned cells): measure the zone from these cells
    only (default ``marked``); a caller that knows that the zones of the other
    marked cells hold no candidate may pass a subset.
    """
    owned = np.arange(len(marked), dtype=np.int32)
    out = marked.copy() if candidates is None else marked & candidates
    if zone > 0:
        test = owned if candidates is None else owned[candidates]
        if mids is None:
            mids = _midpoints(msh, owned)
        centres = np.vstack(msh.comm.allgather(mids[marked if centred is None else centred]))
        out[test] |= _within(mids[test], centres, zone)
    return owned[out]


def mark_cells(
    msh: dmesh.Mesh, indicators: Sequence[Indicator], *, zone: float = 0.0
) -> np.ndarray:
    """Owned cells (local indices) where an indicator reaches its threshold, plus a zone.

    A cell is marked where any indicator's value at one of its vertices or its
    midpoint is ``>= threshold``; then every owned cell whose midpoint lies
    within ``zone`` of the midpoint of a marked cell (on any rank) is added.
    """
    return _with_zone(msh, _indicated(msh, indicators), zone)


def _edges_to_split(msh: dmesh.Mesh, cells: np.ndarray, edges: np.ndarray | None) -> np.ndarray:
    """``edges`` as local int32 indices, or, when ``None``, every edge of ``cells``."""
    if edges is None:
        tdim = msh.topology.dim
        msh.topology.create_entities(1)
        msh.topology.create_connectivity(tdim, 1)
        edges = dmesh.compute_incident_entities(msh.topology, np.asarray(cells, np.int32), tdim, 1)
    return np.asarray(edges, dtype=np.int32)


def estimate_cells(msh: dmesh.Mesh, cells: np.ndarray, *, edges: np.ndarray | None = None) -> int:
    """An estimate (from above, in practice) of the global cell count after refining ``cells``.

    Splitting an edge adds one cell to each cell around it (in 2D; about that
    in 3D), so the count grows by the number of (cell, split edge) pairs,
    times :data:`CLOSURE_FACTOR` for the edges the conforming closure adds.
    ``edges`` (local) are the edges to split; default: every edge of ``cells``.
    An edge that one rank splits is split on every rank that has it, so the
    pairs are counted over the owned cells with the ranks' marks combined: the
    estimate does not depend on the number of ranks. It can fall short where
    the closure reaches far from few marks: 5 % of the cells of a 16 x 16
    triangle mesh, chosen at random and all refined regularly, added 224 cells
    against the 216 estimated (498 against 443 on a perturbed crossed mesh);
    a crack's contiguous marks are estimated from above (1.09-1.26 times the
    count, ``tests/unit/test_adapt.py``).
    """
    from dolfinx import la

    tdim = msh.topology.dim
    edges = _edges_to_split(msh, cells, edges)
    msh.topology.create_entities(1)
    msh.topology.create_connectivity(tdim, 1)
    marks = la.vector(msh.topology.index_map(1), 1, dtype=np.float64)
    marks.array[:] = 0.0
    marks.array[edges] = 1.0
    marks.scatter_reverse(la.InsertMode.add)  # the owner hears of every rank's marks
    marks.scatter_forward()
    c2e = msh.topology.connectivity(tdim, 1)
    n_owned_cells = msh.topology.index_map(tdim).size_local
    per_cell = c2e.array[: c2e.offsets[n_owned_cells]]
    local = int(np.count_nonzero(marks.array[per_cell] > 0))
    added = msh.comm.allreduce(local, op=MPI.SUM)
    if tdim == 3:
        added = 2 * added  # a split edge of a tetrahedron adds up to two children
    return num_cells(msh) + int(np.ceil(CLOSURE_FACTOR * added))


def edge_lengths(msh: dmesh.Mesh, edges: np.ndarray) -> np.ndarray:
    """The lengths of the (local) ``edges`` of ``msh`` (straight, vertex to vertex)."""
    edges = np.asarray(edges, dtype=np.int32)
    if len(edges) == 0:
        return np.zeros(0)
    msh.topology.create_connectivity(1, msh.topology.dim)
    x = msh.geometry.x[dmesh.entities_to_geometry(msh, 1, edges)[:, :2]]
    return np.linalg.norm(x[:, 1] - x[:, 0], axis=1)


def split_edges(msh: dmesh.Mesh, cells: np.ndarray, target: float) -> np.ndarray:
    """The edges of ``cells`` (owned, local) to split to bring them towards size ``target``.

    Every edge of a cell larger than :data:`REGULAR_ABOVE` ``[d] * target``
    (Plaza's regular refinement halves its size), the longest edge of the
    others (a bisection: ``2^(-1/d)`` of its size; Plaza splits the longest
    edge of every face with a split edge anyway, and picks among equally long
    ones by its own numbering). A cell just above the
    target, typically one that an earlier conforming closure bisected at the
    border of the refined region, is bisected towards the target instead of
    halved to half of it (an eighth of the volume in 3D), and the closure
    reaches fewer of its neighbours already at the target.
    """
    tdim = msh.topology.dim
    cells = np.asarray(cells, dtype=np.int32)
    if len(cells) == 0:
        return np.zeros(0, dtype=np.int32)
    msh.topology.create_entities(1)
    msh.topology.create_connectivity(tdim, 1)
    c2e = msh.topology.connectivity(tdim, 1)
    per_cell = tdim * (tdim + 1) // 2
    local = c2e.array[c2e.offsets[cells][:, None] + np.arange(per_cell)]
    edges, inverse = np.unique(local, return_inverse=True)
    length = edge_lengths(msh, edges)[inverse.reshape(local.shape)]
    keep = np.zeros(local.shape, dtype=bool)
    keep[cell_sizes(msh, cells) > REGULAR_ABOVE[tdim] * target] = True
    keep[np.arange(len(cells)), np.argmax(length, axis=1)] = True
    return np.unique(local[keep]).astype(np.int32)


def _refine(msh: dmesh.Mesh, edges: np.ndarray) -> tuple[dmesh.Mesh, np.ndarray, np.ndarray]:
    """``dolfinx.mesh.refine`` without repartitioning; parent maps in the new cell order.

    DOLFINx 0.11 keeps refined cells on their parent's rank (and rebuilds the
    ghost layer) with an ``IdentityPartitionerPlaceholder``; 0.10 does so with
    ``partitioner=None``. DOLFINx returns the parent maps in the order the new
    cells were created, which the new mesh reorders: the owned new cell ``i``
    was created as number ``original_cell_index[i]`` (global, numbered rank by
    rank), so both maps are permuted here.

    Returns:
        The new mesh; for each owned new cell its parent (old local cell); and
        for each of its facets the parent cell's local facet it lies on (or -1),
        shape ``(n_owned_new, facets per cell)``.
    """
    option = dmesh.RefinementOption.parent_cell_and_facet
    identity = getattr(dmesh, "IdentityPartitionerPlaceholder", None)
    partitioner = identity() if identity is not None else None
    new, parent_cell, parent_facet = dmesh.refine(
        msh, edges, partitioner=partitioner, option=option
    )
    parent_cell = np.asarray(parent_cell, dtype=np.int32)
    tdim = new.topology.dim
    n_owned = new.topology.index_map(tdim).size_local
    offset = msh.comm.exscan(len(parent_cell)) or 0
    created = np.asarray(new.topology.original_cell_index[:n_owned], dtype=np.int64) - offset
    if created.size and (created.min() < 0 or created.max() >= len(parent_cell)):
        raise RuntimeError("refine: the parent-cell map does not match the refined mesh")
    nf = tdim + 1  # a simplex has tdim + 1 facets
    facets = np.asarray(parent_facet, dtype=np.int64).reshape(-1, nf)
    facets[(facets < 0) | (facets >= nf)] = -1
    return new, parent_cell[created], facets[created]


def interpolation_data(V_to: fem.FunctionSpace, V_from: fem.FunctionSpace) -> tuple[Any, Any]:
    """``(cells, data)`` to interpolate from ``V_from`` (any mesh) into ``V_to``; collective.

    ``cells``: all local cells of ``V_to``'s mesh (owned and ghost); ``data``: DOLFINx's
    point location of their interpolation points on the other mesh. Keep it to
    interpolate between the same two spaces again (:func:`interpolate_into`).
    """
    msh = V_to.mesh
    imap = msh.topology.index_map(msh.topology.dim)
    cells = np.arange(imap.size_local + imap.num_ghosts, dtype=np.int32)
    return cells, fem.create_interpolation_data(V_to, V_from, cells)


def interpolate_into(
    target: fem.Function, source: fem.Function, data: tuple[Any, Any] | None = None
) -> None:
    """Interpolate ``source`` (any mesh) into ``target`` at all its local cells; collective.

    ``data``: :func:`interpolation_data` of the two spaces, if kept (else computed).
    """
    cells, idata = data or interpolation_data(target.function_space, source.function_space)
    target.interpolate_nonmatching(source, cells, idata)
    target.x.scatter_forward()


def _transfer_tags(
    tags: Any, old: dmesh.Mesh, new: dmesh.Mesh, parent_cell: np.ndarray, parent_facet: np.ndarray
) -> Any:
    """Cell or facet tags of ``old`` carried to ``new`` through the parent maps of :func:`_refine`.

    A new cell takes its parent's tag; a new facet lying on a tagged old facet
    takes its tag. Works on ghosted meshes (DOLFINx's ``transfer_meshtag``
    does not); the owned new cells carry the tags.
    """
    tdim = old.topology.dim
    n_owned = len(parent_cell)
    missing = np.iinfo(np.int64).min
    if tags.dim == tdim:
        imap = old.topology.index_map(tdim)
        lookup = np.full(imap.size_local + imap.num_ghosts, missing, dtype=np.int64)
        lookup[tags.indices] = tags.values
        vals = lookup[parent_cell]
        keep = vals != missing
        idx = np.arange(n_owned, dtype=np.int32)[keep]
        return dmesh.meshtags(new, tdim, idx, vals[keep].astype(tags.values.dtype))
    fdim = tdim - 1
    old.topology.create_connectivity(tdim, fdim)
    new.topology.create_entities(fdim)
    new.topology.create_connectivity(tdim, fdim)
    new.topology.create_connectivity(fdim, tdim)
    nf = tdim + 1
    old_c2f = old.topology.connectivity(tdim, fdim)
    new_c2f = new.topology.connectivity(tdim, fdim)
    fmap = old.topology.index_map(fdim)
    lookup = np.full(fmap.size_local + fmap.num_ghosts, missing, dtype=np.int64)
    lookup[tags.indices] = tags.values
    child_facets = new_c2f.array[: n_owned * nf].reshape(n_owned, nf)
    on_parent = parent_facet >= 0
    where = old_c2f.offsets[parent_cell][:, None] + np.where(on_parent, parent_facet, 0)
    vals = np.where(on_parent, lookup[old_c2f.array[where]], missing)
    hit = vals != missing
    f_idx, first = np.unique(child_facets[hit], return_index=True)
    f_val = vals[hit][first]
    return dmesh.meshtags(new, fdim, f_idx.astype(np.int32), f_val.astype(tags.values.dtype))


def refine_tagged(
    tm: TaggedMesh, cells: np.ndarray, *, edges: np.ndarray | None = None
) -> tuple[TaggedMesh, np.ndarray]:
    """Split every edge of ``cells`` (owned, local), or only ``edges``; tags follow the parents.

    Returns:
        The refined mesh with its tags and groups, and the parent (old, local)
        cell of each owned new cell.
    """
    msh = tm.mesh
    _check_simplices(msh)
    tdim = msh.topology.dim
    msh.topology.create_entities(1)
    new, parent_cell, parent_facet = _refine(msh, _edges_to_split(msh, cells, edges))
    new.topology.create_connectivity(tdim - 1, tdim)
    ct, ft = (
        None if tags is None else _transfer_tags(tags, msh, new, parent_cell, parent_facet)
        for tags in (tm.cell_tags, tm.facet_tags)
    )
    return TaggedMesh(new, ct, ft, dict(tm.groups)), parent_cell


def transfer_function(f: fem.Function, msh: dmesh.Mesh) -> fem.Function:
    """``f`` interpolated onto the same element on ``msh`` (a new Function, same name)."""
    return transfer_functions({"f": f}, msh)["f"]


def transfer_functions(
    fields: Mapping[str, fem.Function],
    msh: dmesh.Mesh,
    *,
    ancestors: np.ndarray | None = None,
) -> dict[str, fem.Function]:
    """Each field interpolated onto the same element on ``msh`` (new Functions, same names).

    Fields of the same element share one space on ``msh``, and fields whose
    elements have the same interpolation points (scalar and vector P1, say) on
    the same mesh share one point location (:func:`interpolation_data`, which
    depends on the points only): the costly part, about 0.3 s a field on the
    3D SENT slab, whose nine P1 fields (one of them a vector) now need one.

    ``ancestors``: for a ``msh`` refined from the fields' mesh, the old (local)
    cell holding each owned new cell. A discontinuous field is then evaluated in
    that cell (:func:`_from_ancestors`): point location would take a new node on
    an old facet from either side of the jump, and could lower a history field.
    Collective.
    """
    spaces: dict[Any, fem.FunctionSpace] = {}
    located: dict[tuple[int, tuple[int, ...], bytes], tuple[Any, Any]] = {}
    out = {}
    for name, f in fields.items():
        element = f.function_space.ufl_element()
        if element not in spaces:
            spaces[element] = fem.functionspace(msh, element)
        V = spaces[element]
        if ancestors is not None and _discontinuous_lagrange(V):
            out[name] = _from_ancestors(f, V, ancestors)
            continue
        points = V.element.interpolation_points
        points = np.asarray(points() if callable(points) else points)  # a method before 0.10
        key = (id(f.function_space.mesh), points.shape, points.tobytes())
        if key not in located:
            located[key] = interpolation_data(V, f.function_space)
        g = fem.Function(V, name=f.name)
        interpolate_into(g, f, located[key])
        out[name] = g
    return out


def _discontinuous_lagrange(V: fem.FunctionSpace) -> bool:
    """Whether ``V`` is a discontinuous Lagrange (DG) space, whose dofs are point values."""
    import basix

    e = V.ufl_element()  # a basix.ufl element, the same API from DOLFINx 0.10 on
    return bool(e.discontinuous) and e.element_family == basix.ElementFamily.P


def _from_ancestors(f: fem.Function, V: fem.FunctionSpace, ancestors: np.ndarray) -> fem.Function:
    """``f`` (discontinuous Lagrange) on ``V``'s refined mesh: each new cell's dofs are
    ``f``'s values at their points in the old cell ``ancestors[cell]`` (exact: the
    new cell lies in it); no communication but the ghosts' update."""
    msh = V.mesh
    tdim = msh.topology.dim
    n_owned = msh.topology.index_map(tdim).size_local
    g = fem.Function(V, name=f.name)
    dofs = np.asarray(V.dofmap.list)[:n_owned]  # (cells, dofs per cell), blocked
    per_cell = dofs.shape[1]
    points = V.tabulate_dof_coordinates()[dofs.ravel()]
    cells = np.repeat(np.asarray(ancestors, dtype=np.int32), per_cell)
    bs = V.dofmap.bs
    values = f.eval(points, cells).reshape(-1, bs) if len(cells) else np.zeros((0, bs))
    g.x.array[(dofs.ravel()[:, None] * bs + np.arange(bs)).ravel()] = values.ravel()
    g.x.scatter_forward()
    return g


def transfer_state(
    fields: Mapping[str, fem.Function],
    msh: dmesh.Mesh,
    *,
    lower_bounds: Mapping[str, str] | None = None,
    clip: tuple[float, float] = (0.0, 1.0),
    ancestors: np.ndarray | None = None,
) -> dict[str, fem.Function]:
    """Interpolate every field onto ``msh``, never letting a bounded field fall below its bound.

    Args:
        fields: name -> Function on the old mesh.
        msh: the new (refined) mesh.
        lower_bounds: field name -> the name (in ``fields``) of its lower bound,
            e.g. ``{"alpha": "alpha_lb"}``. The bound is clipped to ``clip``
            after interpolation; the field becomes ``max(field, bound)``, clipped.
        clip: the interval bounded fields and their bounds are clipped to.
        ancestors: the old cell of each owned new cell, for the discontinuous
            fields (:func:`transfer_functions`).

    Returns:
        name -> the new Function on ``msh``.
    """
    lower_bounds = dict(lower_bounds or {})
    for name, bound in lower_bounds.items():
        if name not in fields or bound not in fields:
            raise InputError(
                f"transfer: lower bound {bound!r} of {name!r} needs both in the fields "
                f"({', '.join(sorted(fields))})"
            )
        if fields[name].function_space.ufl_element() != fields[bound].function_space.ufl_element():
            # decided by the elements, the same on every rank (not by local array sizes)
            raise InputError(f"transfer: {name!r} and its bound {bound!r} live in different spaces")
    out = transfer_functions(fields, msh, ancestors=ancestors)
    lo, hi = clip
    for bound in set(lower_bounds.values()):
        arr = out[bound].x.array
        np.clip(arr, lo, hi, out=arr)
    for name, bound in lower_bounds.items():
        arr = out[name].x.array
        np.maximum(arr, out[bound].x.array, out=arr)
        np.clip(arr, lo, hi, out=arr)
    return out


def collect_garbage(comm: MPI.Comm) -> None:
    """Free what is no longer referenced, on every rank at the same point (collective).

    After a refinement the driver drops the model built on the old mesh. Python
    frees reference cycles whenever its collector runs, which differs from rank
    to rank, and PETSc objects freed in parallel go to PETSc's garbage, whose
    cleanup is collective: left to chance, the ranks can fall out of step and
    hang in the next solve. Call this on every rank right after dropping the
    old model.
    """
    gc.collect()
    PETSc.garbage_cleanup(comm)


class MarkingCache:
    """What :func:`adapt` keeps between calls on the same mesh.

    A stepping driver marks after every load step, and most steps refine
    nothing. Between refinements the mesh stays, so its cell sizes and
    midpoints are computed once; and the cells whose zone was searched and
    found refined to the target stay so: a later call measures the zone only
    from the cells newly indicated since (none, on most steps). Pass the same
    object to every :func:`adapt` call of a run; it starts afresh when the mesh,
    the zone or the target differ from its last call. The mesh's coordinates
    must not move in between (refinement makes a new mesh, which is fine).

    Attributes:
        sizes: :func:`cell_sizes` of the owned cells of the current mesh.
        midpoints: the midpoints of those cells.
        settled: mask of those cells whose zone holds no cell above the target.
    """

    def __init__(self) -> None:
        self._mesh: weakref.ref | None = None
        self._key: tuple[float, float] = (0.0, 0.0)
        self.sizes = np.zeros(0)
        self.midpoints = np.zeros((0, 3))
        self.settled = np.zeros(0, dtype=bool)

    def on(self, msh: dmesh.Mesh, zone: float, target: float) -> MarkingCache:
        """This cache, made current for ``msh``, ``zone`` and ``target``."""
        if self._mesh is None or self._mesh() is not msh or self._key != (zone, target):
            owned = np.arange(msh.topology.index_map(msh.topology.dim).size_local, dtype=np.int32)
            self._mesh = weakref.ref(msh)
            self._key = (zone, target)
            self.sizes = cell_sizes(msh, owned)
            self.midpoints = _midpoints(msh, owned)
            self.settled = np.zeros(len(owned), dtype=bool)
        return self


@dataclass
class AdaptResult:
    """What :func:`adapt` did.

    Attributes:
        mesh: the (possibly) refined tagged mesh.
        fields: the transferred fields (the input ones when nothing was refined).
        passes: refinement passes made.
        cells_before, cells_after: global cell counts.
        marked: global number of cells the indicators and the zone marked on the
            input mesh (the indicators alone when no cell there needed refining:
            the zone is then not searched).
        capped: a pass was skipped because it would have exceeded ``max_cells``.
        h_marked: the largest cell size left in the marked region (global).
        history: the global cell count before the first pass and after each.
    """

    mesh: TaggedMesh
    fields: dict[str, fem.Function]
    passes: int = 0
    cells_before: int = 0
    cells_after: int = 0
    marked: int = 0
    capped: bool = False
    h_marked: float = 0.0
    history: list[int] = field(default_factory=list)

    @property
    def refined(self) -> bool:
        """Whether the mesh changed."""
        return self.passes > 0


def adapt(
    tm: TaggedMesh,
    fields: Mapping[str, fem.Function],
    indicators: Sequence[Indicator],
    refinement: Refinement,
    *,
    ell: float | None = None,
    lower_bounds: Mapping[str, str] | None = None,
    warn_cap: bool = True,
    cache: MarkingCache | None = None,
) -> AdaptResult:
    """Refine where the indicators say until ``h <= target`` there; transfer the fields.

    The indicators are evaluated once, on the input mesh, and the zone added;
    when a cell of the zone is above the target, ``refinement.lookahead`` adds
    the cells within that distance of the zone's cells above the target. Each
    pass halves or bisects (:func:`split_edges`) the marked cells still
    larger than the target; the children of marked cells stay marked. A pass whose estimated cell
    count (:func:`estimate_cells`) exceeds ``refinement.max_cells`` is not
    made: a warning names the cap (``warn_cap = False``: logged at info level
    instead, for a caller that has warned already) and the result has
    ``capped = True``. The
    fields are interpolated once, from the input mesh to the final one (exact
    for nested meshes, see the module notes), with ``lower_bounds`` enforced.
    ``cache``: a :class:`MarkingCache` kept by the caller across calls, so that
    the steps that refine nothing do not recompute what the mesh has not changed.

    The target size is ``refinement.target(ell)``; call
    :meth:`Refinement.check_mesh` once on the starting mesh to refuse a target
    above the coarse mesh size (on a mesh already refined to the target, there
    is simply nothing left to do).

    Raises:
        InputError: a non-simplex mesh, or neither ``h_min`` nor ``ell``.
    """
    msh0 = tm.mesh
    comm = msh0.comm
    n0 = num_cells(msh0)
    result = AdaptResult(tm, dict(fields), cells_before=n0, cells_after=n0, history=[n0])
    if not refinement.adapt:
        return result
    _check_simplices(msh0)
    target = refinement.target(ell)
    memo = (MarkingCache() if cache is None else cache).on(msh0, refinement.zone, target)
    indicated = _indicated(msh0, indicators)
    tol = 1 + 1e-9
    # Is a cell above the target within the zone? Only those cells need the
    # distance test, and on a mesh already refined around the marks there are
    # few; the zone of a cell settled by an earlier call holds none of them.
    fresh = indicated & ~memo.settled
    settled = comm.allreduce(int(fresh.sum()), op=MPI.SUM) == 0
    if not settled:
        above = memo.sizes > target * tol
        front = _with_zone(
            msh0, indicated, refinement.zone, above, mids=memo.midpoints, centred=fresh
        )  # the cells to refine
        settled = comm.allreduce(len(front), op=MPI.SUM) == 0
    if settled:
        memo.settled |= indicated
        result.marked = comm.allreduce(int(indicated.sum()), op=MPI.SUM)
        return result
    marked = _with_zone(msh0, indicated, refinement.zone, mids=memo.midpoints)
    if refinement.lookahead > 0:  # refining anyway: go farther around the cells to refine
        ahead = np.zeros(len(indicated), dtype=bool)
        ahead[front] = True
        near = _with_zone(msh0, ahead, refinement.lookahead, mids=memo.midpoints)
        marked = np.union1d(marked, near).astype(np.int32)
    result.marked = comm.allreduce(len(marked), op=MPI.SUM)
    current = tm
    n_owned = msh0.topology.index_map(msh0.topology.dim).size_local
    ancestors: np.ndarray | None = np.arange(n_owned, dtype=np.int32)  # in msh0, per owned cell
    for _ in range(refinement.max_passes):
        msh = current.mesh
        todo = marked[cell_sizes(msh, marked) > target * tol]
        if comm.allreduce(len(todo), op=MPI.SUM) == 0:
            break
        edges = split_edges(msh, todo, target)
        estimate = estimate_cells(msh, todo, edges=edges)
        if estimate > refinement.max_cells:
            result.capped = True
            log.log(
                logging.WARNING if warn_cap else logging.INFO,
                "refinement stopped: the next pass would make about %d cells, above the cap "
                "max_cells = %d (%d cells now, h = %g not reached)",
                estimate,
                refinement.max_cells,
                num_cells(msh),
                target,
            )
            break
        new, parent = refine_tagged(current, todo, edges=edges)
        if ancestors is not None:  # every parent owned (refinement keeps them so): compose
            owned = len(parent) == 0 or int(parent.max()) < len(ancestors)
            ancestors = ancestors[parent] if comm.allreduce(owned, op=MPI.LAND) else None
        tdim = msh.topology.dim
        imap = msh.topology.index_map(tdim)
        was_marked = np.zeros(imap.size_local + imap.num_ghosts, dtype=bool)
        was_marked[marked] = True
        marked = np.flatnonzero(was_marked[parent]).astype(np.int32)
        current = new
        result.passes += 1
        result.history.append(num_cells(new.mesh))
    h = cell_sizes(current.mesh, marked)
    result.h_marked = comm.allreduce(float(h.max()) if h.size else 0.0, op=MPI.MAX)
    if result.passes == refinement.max_passes and result.h_marked > target * tol:
        log.info(
            "refinement stopped after max_passes = %d passes: h = %g left in the marked "
            "region, above the target %g",
            refinement.max_passes,
            result.h_marked,
            target,
        )
    result.mesh = current
    result.cells_after = num_cells(current.mesh)
    if result.refined:
        result.fields = transfer_state(
            fields, current.mesh, lower_bounds=lower_bounds, ancestors=ancestors
        )
    return result
