"""gmsh to DOLFINx with named physical groups, on any number of ranks."""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from dolfinx import mesh as dmesh
from mpi4py import MPI

from femgp.errors import InputError

__all__ = [
    "DEFAULT_MAX_CELLS",
    "TaggedMesh",
    "check_cell_count",
    "from_gmsh",
    "read_msh",
    "rectangle",
    "require_groups",
    "triangles",
]

#: The default limit on the cells of a generated mesh (``--max-cells``): about
#: what a workstation solves in memory. Every generator estimates its cell count
#: from the sizes *before* meshing and refuses a mesh above the limit, so a typo
#: in a mesh size fails at once instead of filling the memory.
DEFAULT_MAX_CELLS = 4_000_000


def triangles(area: float, h: float) -> float:
    """The number of triangles of size ``h`` (equilateral) that cover ``area``."""
    return area / (0.25 * 3**0.5 * h * h)


def check_cell_count(estimate: float, size: str, *, max_cells: int | None = None) -> None:
    """Refuse a mesh whose estimated cell count exceeds ``max_cells`` (before meshing).

    ``size`` names the size that sets the count (e.g. ``"h_band = 1e-07"``);
    the InputError names it, the estimate and the option that raises the limit.
    ``max_cells`` itself must be a positive integer (None: :data:`DEFAULT_MAX_CELLS`).
    """
    if max_cells is not None and (
        isinstance(max_cells, bool) or not isinstance(max_cells, numbers.Integral) or max_cells < 1
    ):
        raise InputError(
            f"max_cells must be a positive integer (--max-cells, [mesh] max_cells), "
            f"got {max_cells!r}"
        )
    limit = DEFAULT_MAX_CELLS if max_cells is None else int(max_cells)
    if not estimate <= limit:
        raise InputError(
            f"mesh size {size} would give about {estimate:.3g} cells, above the limit of "
            f"{limit} (--max-cells, [mesh] max_cells); check the size or raise the limit"
        )


@dataclass
class TaggedMesh:
    """A mesh with its cell and facet tags and the physical-group names.

    Attributes:
        mesh: the DOLFINx mesh.
        cell_tags, facet_tags: MeshTags (or None).
        groups: physical-group name -> (dim, tag).
    """

    mesh: dmesh.Mesh
    cell_tags: Any = None
    facet_tags: Any = None
    groups: dict[str, tuple[int, int]] = field(default_factory=dict)

    def facets(self, name: str) -> np.ndarray:
        """Local indices of the facets in physical group ``name``."""
        require_groups(self, [name])
        dim, tag = self.groups[name]
        tdim = self.mesh.topology.dim
        if dim != tdim - 1 or self.facet_tags is None:
            raise InputError(f"physical group {name!r} has dimension {dim}, not a facet group")
        return self.facet_tags.find(tag)

    def tag(self, name: str) -> int:
        """The integer tag of physical group ``name``."""
        require_groups(self, [name])
        return self.groups[name][1]


def require_groups(tm: TaggedMesh, names: Iterable[str], *, source: str = "mesh") -> None:
    """Raise InputError naming the expected groups and those found if any is missing."""
    names = list(names)
    missing = [n for n in names if n not in tm.groups]
    if missing:
        found = ", ".join(sorted(tm.groups)) or "none"
        raise InputError(
            f"{source} lacks physical group(s) {', '.join(map(repr, missing))}; "
            f"expected {', '.join(map(repr, names))}, found: {found}"
        )


def _gmsh_io() -> Any:
    try:
        from dolfinx.io import gmsh as gmsh_io
    except ImportError:  # dolfinx 0.9 naming
        from dolfinx.io import gmshio as gmsh_io  # type: ignore[no-redef]
    return gmsh_io


def _to_tagged(data: Any) -> TaggedMesh:
    if hasattr(data, "physical_groups"):
        groups = {k: (int(v.dim), int(v.tag)) for k, v in data.physical_groups.items()}
        return TaggedMesh(data.mesh, data.cell_tags, data.facet_tags, groups)
    msh, ct, ft = data[:3]  # older tuple API
    return TaggedMesh(msh, ct, ft, {})


def from_gmsh(
    build: Callable[[Any], None],
    comm: MPI.Comm = MPI.COMM_WORLD,
    *,
    gdim: int = 2,
    name: str = "femgp",
) -> TaggedMesh:
    """Build a gmsh model with ``build(gmsh)`` on rank 0 and distribute it.

    ``build`` receives the initialised ``gmsh`` module, must create the geometry,
    the physical groups (with names) and generate the mesh.
    """
    import gmsh

    gmsh_io = _gmsh_io()
    error = None
    if comm.rank == 0:
        initialised = gmsh.isInitialized()
        if not initialised:
            gmsh.initialize(interruptible=False)
        gmsh.option.setNumber("General.Terminal", 0)
        gmsh.model.add(name)
        try:
            build(gmsh)
        except Exception as exc:  # reported on every rank below
            error = f"{type(exc).__name__}: {exc}"
    error = comm.bcast(error, root=0)
    if error:
        if comm.rank == 0:
            gmsh.finalize()
        raise InputError(f"building gmsh model {name!r} failed: {error}")
    try:
        data = gmsh_io.model_to_mesh(gmsh.model if comm.rank == 0 else None, comm, 0, gdim=gdim)
    finally:
        if comm.rank == 0:
            gmsh.finalize()
    return _to_tagged(data)


def read_msh(path: str | Path, comm: MPI.Comm = MPI.COMM_WORLD, *, gdim: int = 2) -> TaggedMesh:
    """Read a gmsh ``.msh`` file; missing or malformed files raise InputError.

    A mesh of a higher dimension than ``gdim`` (a 3D mesh where a 2D one is
    read) raises InputError naming its dimension and the one needed.
    """
    path = Path(path)
    ok = path.is_file() if comm.rank == 0 else None
    if not comm.bcast(ok, root=0):
        raise InputError(f"mesh file {str(path)!r} does not exist")
    import gmsh

    error = None
    if comm.rank == 0:
        gmsh.initialize(interruptible=False)
        gmsh.option.setNumber("General.Terminal", 0)
        try:
            gmsh.merge(str(path))
            tdim = gmsh.model.getDimension()
            if tdim < 1:
                error = "it holds no mesh"
            elif tdim > gdim:
                error = f"it holds a {tdim}D mesh, but a {gdim}D mesh is needed here"
        except Exception as exc:
            error = str(exc) or "gmsh could not parse it"
    error = comm.bcast(error, root=0)
    if error:
        if comm.rank == 0:
            gmsh.finalize()
        raise InputError(f"cannot read mesh file {str(path)!r}: {error}")
    try:
        data = _gmsh_io().model_to_mesh(gmsh.model if comm.rank == 0 else None, comm, 0, gdim=gdim)
    except Exception as exc:
        raise InputError(f"cannot convert mesh file {str(path)!r}: {exc}") from exc
    finally:
        if comm.rank == 0:
            gmsh.finalize()
    return _to_tagged(data)


def rectangle(
    comm: MPI.Comm,
    corners: tuple[tuple[float, float], tuple[float, float]],
    n: tuple[int, int],
    *,
    quadrilateral: bool = True,
    max_cells: int | None = None,
) -> TaggedMesh:
    """A structured rectangle with facet groups ``left``, ``right``, ``bottom``, ``top``.

    Refused (InputError) above ``max_cells`` cells (default :data:`DEFAULT_MAX_CELLS`).
    """
    (x0, y0), (x1, y1) = corners
    cells = float(n[0]) * float(n[1]) * (1 if quadrilateral else 2)
    check_cell_count(cells, f"n = {n[0]} x {n[1]}", max_cells=max_cells)
    cell = dmesh.CellType.quadrilateral if quadrilateral else dmesh.CellType.triangle
    msh = dmesh.create_rectangle(comm, [np.array([x0, y0]), np.array([x1, y1])], list(n), cell)
    tdim = msh.topology.dim
    msh.topology.create_connectivity(tdim - 1, tdim)
    # one tolerance, far below a cell: isclose's default rtol (1e-5 |x0|) would take
    # the corner facets of a fine or offset rectangle into the side groups too
    tol = 1e-10 * max(x1 - x0, y1 - y0, abs(x0), abs(x1), abs(y0), abs(y1))
    sides = {
        "left": lambda x: np.isclose(x[0], x0, rtol=0.0, atol=tol),
        "right": lambda x: np.isclose(x[0], x1, rtol=0.0, atol=tol),
        "bottom": lambda x: np.isclose(x[1], y0, rtol=0.0, atol=tol),
        "top": lambda x: np.isclose(x[1], y1, rtol=0.0, atol=tol),
    }
    facets, values = [], []
    for tag, marker in enumerate(sides.values(), start=1):
        f = dmesh.locate_entities_boundary(msh, tdim - 1, marker)
        facets.append(f)
        values.append(np.full(f.size, tag, dtype=np.int32))
    idx = np.concatenate(facets)
    order = np.argsort(idx)
    ft = dmesh.meshtags(msh, tdim - 1, idx[order].astype(np.int32), np.concatenate(values)[order])
    groups = {name: (tdim - 1, tag) for tag, name in enumerate(sides, start=1)}
    return TaggedMesh(msh, None, ft, groups)
