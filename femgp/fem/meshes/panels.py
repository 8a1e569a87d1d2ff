"""Fracture panels: the L-shaped panel and a plate with circular holes.

- :func:`lpanel`: the L-shaped concrete panel of Winkler (2001), the phase-field
  benchmark of Ambati, Gerasimov and De Lorenzis (2015): the square
  ``[0, 500]^2`` mm without its lower-right quarter ``[250, 500] × [0, 250]``.
  The leg's bottom edge is clamped, the arm is pushed up at ``(470, 250)``, 30 mm
  from its free end, and the crack starts at the re-entrant corner
  ``(250, 250)`` and runs to the left, slightly upward. Groups: ``bottom`` (the
  clamped edge), ``load`` (a segment of the arm's lower face centred on
  x = 470), ``boundary`` (every other edge) and ``domain`` (cells). The mesh
  has size ``h`` in a band ``x <= 250 + band_below``, ``250 - band_below <= y
  <= 250 + band_above`` (and around the load segment) and ``h_far`` elsewhere.
- :func:`plate_with_holes`: the plate ``[0, width] × [0, height]`` with
  circular holes ``(xc, yc, r)``; groups ``bottom``, ``top``, ``left``,
  ``right``, ``holes`` and ``domain``, size ``h`` near the holes and in the
  band between them, ``h_far`` elsewhere.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from mpi4py import MPI

from femgp.errors import InputError
from femgp.fem.meshes.core import TaggedMesh, check_cell_count, from_gmsh, triangles
from femgp.validation import check_positive

__all__ = [
    "LPANEL_GROUPS",
    "PLATE_WITH_HOLES_GROUPS",
    "build_lpanel",
    "build_plate_with_holes",
    "lpanel",
    "plate_with_holes",
]

LPANEL_GROUPS = ("bottom", "load", "boundary", "domain")
PLATE_WITH_HOLES_GROUPS = ("bottom", "top", "left", "right", "holes", "domain")
DEFAULT_HOLES = ((20.0, 51.0, 10.0), (45.0, 69.0, 10.0))


def _size_fields(gmsh: Any, fields: list[int]) -> None:
    field = gmsh.model.mesh.field
    fmin = field.add("Min")
    field.setNumbers(fmin, "FieldsList", fields)
    field.setAsBackgroundMesh(fmin)
    gmsh.option.setNumber("Mesh.MeshSizeExtendFromBoundary", 0)
    gmsh.option.setNumber("Mesh.MeshSizeFromPoints", 0)
    gmsh.option.setNumber("Mesh.MeshSizeFromCurvature", 0)


def _box(gmsh: Any, h_in: float, h_out: float, box: tuple[float, ...], thickness: float) -> int:
    field = gmsh.model.mesh.field
    fid = field.add("Box")
    for key, value in zip(
        ("VIn", "VOut", "XMin", "XMax", "YMin", "YMax", "Thickness"),
        (h_in, h_out, *box, thickness),
        strict=True,
    ):
        field.setNumber(fid, key, value)
    return fid


def build_lpanel(
    gmsh: Any,
    *,
    h: float,
    h_far: float,
    load_width: float = 10.0,
    band_below: float = 30.0,
    band_above: float = 70.0,
) -> None:
    """Create the L-shaped panel (mm) in the current gmsh model and mesh it."""
    geo = gmsh.model.geo
    a, b, xl = 250.0, 500.0, 470.0
    pts = [
        (0.0, 0.0), (a, 0.0), (a, a), (xl - load_width / 2, a), (xl + load_width / 2, a),
        (b, a), (b, b), (0.0, b),
    ]  # fmt: skip
    p = [geo.addPoint(x, y, 0.0, h_far) for x, y in pts]
    lines = [geo.addLine(p[i], p[(i + 1) % len(p)]) for i in range(len(p))]
    surface = geo.addPlaneSurface([geo.addCurveLoop(lines)])
    geo.synchronize()
    model = gmsh.model
    model.addPhysicalGroup(1, [lines[0]], 1, name="bottom")
    model.addPhysicalGroup(1, [lines[3]], 2, name="load")
    rest = [c for i, c in enumerate(lines) if i not in (0, 3)]
    model.addPhysicalGroup(1, rest, 3, name="boundary")
    model.addPhysicalGroup(2, [surface], 4, name="domain")
    band = _box(gmsh, h, h_far, (-1.0, a + band_below, a - band_below, a + band_above), 4 * h_far)
    load = _box(gmsh, h, h_far, (xl - 2 * load_width, xl + 2 * load_width, a - 20, a + 20), 40)
    _size_fields(gmsh, [band, load])
    model.mesh.generate(2)


def lpanel(
    comm: MPI.Comm = MPI.COMM_WORLD,
    *,
    h: float = 5.0,
    h_far: float | None = None,
    load_width: float = 10.0,
    max_cells: int | None = None,
) -> TaggedMesh:
    """The L-shaped panel in mm (groups in :data:`LPANEL_GROUPS`); ``h_far`` defaults to 5 h.

    The default ``h_far`` is capped at 25 mm (``min(5 h, 25)``).
    """
    h = check_positive("h", h)
    h_far = min(5 * h, 25.0) if h_far is None else check_positive("h_far", h_far)
    load_width = check_positive("load_width", load_width)
    if load_width >= 60.0:
        raise InputError(f"load_width must be below 60 mm, got {load_width!r}")
    far = max(h, h_far)
    fine = 281.0 * 100.0 + 4 * load_width * 40.0  # the band and the load boxes
    # the band's transition ring, 4 h_far wide: a size ramping linearly from h to
    # h_far holds as many cells as its area at the size sqrt(h h_far)
    ring = (281.0 + 4 * far) * (100.0 + 8 * far) - 281.0 * 100.0
    estimate = triangles(fine, h) + triangles(ring, math.sqrt(h * far)) + triangles(187_500.0, far)
    check_cell_count(estimate, f"h = {h:g}", max_cells=max_cells)
    return from_gmsh(
        lambda gmsh: build_lpanel(gmsh, h=h, h_far=max(h, h_far), load_width=load_width),
        comm,
        gdim=2,
        name="lpanel",
    )


def _check_holes(
    width: float, height: float, holes: Sequence[tuple[float, float, float]]
) -> list[tuple[float, float, float]]:
    out = []
    for hole in holes:
        if len(hole) != 3:
            raise InputError(f"a hole is (xc, yc, r), got {hole!r}")
        xc, yc, r = (float(v) for v in hole)
        if not (r > 0 and r < xc < width - r and r < yc < height - r):
            raise InputError(
                f"hole {hole!r} must have r > 0 and lie inside the plate [0, {width}] x "
                f"[0, {height}]"
            )
        out.append((xc, yc, r))
    for i, (x1, y1, r1) in enumerate(out):
        for x2, y2, r2 in out[i + 1 :]:
            if (x1 - x2) ** 2 + (y1 - y2) ** 2 <= (r1 + r2) ** 2:
                raise InputError(f"holes {(x1, y1, r1)!r} and {(x2, y2, r2)!r} overlap")
    if not out:
        raise InputError("plate_with_holes needs at least one hole")
    return out


def build_plate_with_holes(
    gmsh: Any,
    *,
    width: float,
    height: float,
    holes: Sequence[tuple[float, float, float]],
    h: float,
    h_far: float,
) -> None:
    """Create the plate with holes in the current gmsh model and mesh it."""
    occ = gmsh.model.occ
    plate = occ.addRectangle(0.0, 0.0, 0.0, width, height)
    disks = [(2, occ.addDisk(xc, yc, 0.0, r, r)) for xc, yc, r in holes]
    out, _ = occ.cut([(2, plate)], disks)
    occ.synchronize()
    model = gmsh.model
    surfaces = [t for d, t in out if d == 2]
    named: dict[str, list[int]] = {n: [] for n in ("bottom", "top", "left", "right", "holes")}
    tol = 1e-8 * max(width, height)
    for _, c in model.getBoundary([(2, s) for s in surfaces], oriented=False):
        xmin, ymin, _, xmax, ymax, _ = model.getBoundingBox(1, c)
        if abs(ymax) < tol:
            named["bottom"].append(c)
        elif abs(ymin - height) < tol:
            named["top"].append(c)
        elif abs(xmax) < tol:
            named["left"].append(c)
        elif abs(xmin - width) < tol:
            named["right"].append(c)
        else:
            named["holes"].append(c)
    for tag, (name, cs) in enumerate(named.items(), start=1):
        model.addPhysicalGroup(1, cs, tag, name=name)
    model.addPhysicalGroup(2, surfaces, 6, name="domain")
    field = model.mesh.field
    dist = field.add("Distance")
    field.setNumbers(dist, "CurvesList", named["holes"])
    field.setNumber(dist, "Sampling", 100)
    thr = field.add("Threshold")
    rmax = max(r for _, _, r in holes)
    for key, value in (
        ("InField", dist), ("SizeMin", h), ("SizeMax", h_far), ("DistMin", 0.5 * rmax),
        ("DistMax", 1.5 * rmax),
    ):  # fmt: skip
        field.setNumber(thr, key, value)
    xs = [xc for xc, _, _ in holes]
    ys = [yc for _, yc, _ in holes]
    band = _box(gmsh, h, h_far, (min(xs), max(xs), min(ys), max(ys)), rmax)
    _size_fields(gmsh, [thr, band])
    model.mesh.generate(2)


def plate_with_holes(
    comm: MPI.Comm = MPI.COMM_WORLD,
    *,
    width: float = 65.0,
    height: float = 120.0,
    holes: Sequence[tuple[float, float, float]] = DEFAULT_HOLES,
    h: float = 2.0,
    h_far: float | None = None,
    max_cells: int | None = None,
) -> TaggedMesh:
    """A plate with circular holes (groups in :data:`PLATE_WITH_HOLES_GROUPS`).

    The default is a 65 × 120 plate with two holes of radius 10 offset
    diagonally, so that a crack in tension links them; ``h_far`` defaults to 4 h.
    """
    width = check_positive("width", width)
    height = check_positive("height", height)
    h = check_positive("h", h)
    h_far = 4 * h if h_far is None else check_positive("h_far", h_far)
    checked = _check_holes(width, height, holes)
    check_cell_count(triangles(width * height, h), f"h = {h:g}", max_cells=max_cells)
    return from_gmsh(
        lambda gmsh: build_plate_with_holes(
            gmsh, width=width, height=height, holes=checked, h=h, h_far=max(h, h_far)
        ),
        comm,
        gdim=2,
        name="plate_with_holes",
    )
