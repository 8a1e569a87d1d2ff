"""Geometries of the twinning demos and tests: an interval, a square and a box.

All are structured DOLFINx meshes with named facet groups, returned as
:class:`~femgp.fem.meshes.core.TaggedMesh` like :func:`~femgp.fem.meshes.core.rectangle`.
The box corners are mesh vertices, which the traction-free twinning model
needs to pin its rigid-body modes.
"""

from __future__ import annotations

from collections.abc import Callable

import femgp.fem._backend  # noqa: F401  (dolfinx_solver before dolfinx)

import numpy as np
from dolfinx import mesh as dmesh
from mpi4py import MPI

from femgp.errors import InputError
from femgp.fem.meshes.core import TaggedMesh, check_cell_count, rectangle
from femgp.validation import check_finite

__all__ = ["box", "interval", "square"]


def _check_cells(n: tuple[int, ...]) -> None:
    for k in n:
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
            raise InputError(f"cell counts must be positive integers, got {n!r}")


def _check_corners(lo: tuple[float, ...], hi: tuple[float, ...]) -> None:
    for a, b in zip(lo, hi, strict=True):
        check_finite("corner coordinate", a)
        check_finite("corner coordinate", b)
        if not a < b:
            raise InputError(f"the lower corner {lo!r} must lie below the upper corner {hi!r}")


def _tag_facets(
    msh: dmesh.Mesh, sides: dict[str, Callable[[np.ndarray], np.ndarray]]
) -> TaggedMesh:
    tdim = msh.topology.dim
    msh.topology.create_connectivity(tdim - 1, tdim)
    facets, values = [], []
    for tag, marker in enumerate(sides.values(), start=1):
        f = dmesh.locate_entities_boundary(msh, tdim - 1, marker)
        facets.append(f)
        values.append(np.full(f.size, tag, dtype=np.int32))
    idx = np.concatenate(facets)
    vals = np.concatenate(values)
    idx, first = np.unique(idx, return_index=True)  # an edge facet keeps its first group
    ft = dmesh.meshtags(msh, tdim - 1, idx.astype(np.int32), vals[first])
    groups = {name: (tdim - 1, tag) for tag, name in enumerate(sides, start=1)}
    return TaggedMesh(msh, None, ft, groups)


def interval(comm: MPI.Comm, bounds: tuple[float, float], n: int) -> TaggedMesh:
    """The interval ``[x0, x1]`` with ``n`` cells and facet groups ``left``, ``right``."""
    _check_cells((n,))
    check_cell_count(float(n), f"n = {n}")
    x0, x1 = bounds
    _check_corners((x0,), (x1,))
    msh = dmesh.create_interval(comm, int(n), [float(x0), float(x1)])
    tol = 1e-10 * (x1 - x0)
    return _tag_facets(
        msh,
        {
            "left": lambda x: np.isclose(x[0], x0, atol=tol),
            "right": lambda x: np.isclose(x[0], x1, atol=tol),
        },
    )


def square(
    comm: MPI.Comm,
    length: float,
    n: int,
    *,
    quadrilateral: bool = False,
    max_cells: int | None = None,
) -> TaggedMesh:
    """The square ``[0, length]^2`` with ``n x n`` cells (triangles by default)."""
    _check_cells((n,))
    length = check_finite("length", length)
    _check_corners((0.0,), (length,))
    return rectangle(
        comm,
        ((0.0, 0.0), (length, length)),
        (int(n), int(n)),
        quadrilateral=quadrilateral,
        max_cells=max_cells,
    )


def box(
    comm: MPI.Comm,
    corners: tuple[tuple[float, float, float], tuple[float, float, float]],
    n: tuple[int, int, int],
    *,
    hexahedral: bool = False,
    max_cells: int | None = None,
) -> TaggedMesh:
    """A structured box with facet groups left/right (x), front/back (y), bottom/top (z).

    Tetrahedra by default, hexahedra with ``hexahedral=True``; refused above
    ``max_cells`` cells.
    """
    _check_cells(tuple(n))
    cells = float(n[0]) * float(n[1]) * float(n[2]) * (1 if hexahedral else 6)
    check_cell_count(cells, f"n = {n[0]} x {n[1]} x {n[2]}", max_cells=max_cells)
    lo, hi = (tuple(float(v) for v in c) for c in corners)
    _check_corners(lo, hi)
    cell = dmesh.CellType.hexahedron if hexahedral else dmesh.CellType.tetrahedron
    msh = dmesh.create_box(comm, [np.array(lo), np.array(hi)], [int(k) for k in n], cell)
    tol = 1e-10 * max(b - a for a, b in zip(lo, hi, strict=True))

    def side(axis: int, value: float) -> Callable[[np.ndarray], np.ndarray]:
        return lambda x: np.isclose(x[axis], value, atol=tol)

    return _tag_facets(
        msh,
        {
            "left": side(0, lo[0]),
            "right": side(0, hi[0]),
            "front": side(1, lo[1]),
            "back": side(1, hi[1]),
            "bottom": side(2, lo[2]),
            "top": side(2, hi[2]),
        },
    )
