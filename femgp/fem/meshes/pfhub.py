"""PFHub benchmark 1 geometries: the 200×200 square and the T-shape of 1c.

The T-shape (benchmark 1c): stem x in [0, 20], y in [0, 100]; top bar
x in [-40, 60], y in [100, 120]. Physical groups: ``domain`` (cells) and
``boundary`` (facets). ``meshes/pfhub_tshape.py`` writes it as a ``.msh``.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from mpi4py import MPI

from femgp.errors import InputError
from femgp.fem.meshes.core import TaggedMesh, check_cell_count, from_gmsh, rectangle, triangles
from femgp.validation import check_positive

__all__ = ["TSHAPE_GROUPS", "build_tshape", "cube", "square", "tshape"]

TSHAPE_GROUPS = ("domain", "boundary")


def square(
    comm: MPI.Comm = MPI.COMM_WORLD,
    *,
    n: int = 100,
    size: float = 200.0,
    max_cells: int | None = None,
) -> TaggedMesh:
    """The benchmark 1a/1b square ``[0, size]^2`` with ``n × n`` quadrilaterals.

    Refused (InputError) unless ``n`` is a positive integer and ``size`` a finite
    number > 0, and above ``max_cells`` cells, before meshing.
    """
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise InputError(f"n must be a positive integer (cells per side), got {n!r}")
    size = check_positive("size", size)
    n = int(n)
    return rectangle(comm, ((0.0, 0.0), (size, size)), (n, n), max_cells=max_cells)


def cube(
    comm: MPI.Comm = MPI.COMM_WORLD,
    *,
    n: int = 20,
    size: float = 100.0,
    cell: str = "hexahedron",
    max_cells: int | None = None,
) -> TaggedMesh:
    """The cube ``[0, size]^3`` with ``n^3`` hexahedra or ``6 n^3`` tetrahedra (3D spinodal).

    Refused (InputError) above ``max_cells`` cells, before meshing.
    """
    from dolfinx import mesh as dmesh

    check_positive("size", size)
    if cell not in ("hexahedron", "tetrahedron"):
        raise InputError(f"cell must be 'hexahedron' or 'tetrahedron', got {cell!r}")
    if not isinstance(n, int) or n < 1:
        raise InputError(f"n must be a positive integer, got {n!r}")
    cells = n**3 * (1 if cell == "hexahedron" else 6)
    check_cell_count(cells, f"n = {n} ({cell})", max_cells=max_cells)
    msh = dmesh.create_box(
        comm, [np.zeros(3), np.full(3, float(size))], [n, n, n], getattr(dmesh.CellType, cell)
    )
    return TaggedMesh(msh, None, None, {})


def build_tshape(gmsh: Any, h: float = 2.0) -> None:
    """Create the benchmark 1c T-shape in the current gmsh model (mesh size ``h``)."""
    h = check_positive("h", h)
    occ = gmsh.model.occ
    stem = occ.addRectangle(0.0, 0.0, 0.0, 20.0, 100.0)
    bar = occ.addRectangle(-40.0, 100.0, 0.0, 100.0, 20.0)
    occ.fuse([(2, stem)], [(2, bar)])
    occ.synchronize()
    surfaces = [s[1] for s in gmsh.model.getEntities(2)]
    curves = [c[1] for c in gmsh.model.getBoundary([(2, s) for s in surfaces], oriented=False)]
    gmsh.model.addPhysicalGroup(2, surfaces, 1, name="domain")
    gmsh.model.addPhysicalGroup(1, sorted(set(curves)), 2, name="boundary")
    gmsh.option.setNumber("Mesh.MeshSizeMin", h)
    gmsh.option.setNumber("Mesh.MeshSizeMax", h)
    gmsh.model.mesh.generate(2)


#: The area of the T-shape: the stem 20 x 100 and the bar 100 x 20.
TSHAPE_AREA = 4000.0


def tshape(
    comm: MPI.Comm = MPI.COMM_WORLD, *, h: float = 2.0, max_cells: int | None = None
) -> TaggedMesh:
    """The benchmark 1c T-shaped domain, meshed with triangles of size ``h``.

    Refused before gmsh runs when estimated above ``max_cells`` cells.
    """
    h = check_positive("h", h)
    check_cell_count(triangles(TSHAPE_AREA, h), f"h = {h:g}", max_cells=max_cells)
    return from_gmsh(lambda gmsh: build_tshape(gmsh, h), comm, gdim=2, name="pfhub_tshape")
