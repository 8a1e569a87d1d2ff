"""Fracture geometries: the 1D-like bar, notched plates (SENT/SENS) and the surfing strip.

All are built on rank 0 (gmsh) or in parallel (structured bar) and carry named
facet groups that :mod:`femgp.models.fracture` loads and fixes:

- :func:`bar`: ``[0, L] × [0, H]`` structured triangles; ``left``, ``right``,
  ``bottom``, ``top``.
- :func:`notched_plate`: the 1 mm × 1 mm plate of Miehe, Hofacker and
  Welschinger (2010) with a straight notch from the middle of the left edge to
  the centre, meshed with size ``h_band`` in a band along the expected crack
  path and ``h_far`` elsewhere; ``bottom``, ``top``, ``left``, ``right``,
  ``notch`` (the two notch faces) and ``domain`` (cells). The notch is a thin
  V-shaped slot of opening ``notch_width`` at the left edge and a sharp tip at
  the centre, so that its faces are traction free.
- :func:`strip`: ``[0, L] × [-H/2, H/2]`` refined along ``y = 0`` for the
  surfing test; ``left``, ``right``, ``bottom``, ``top``, ``domain``.
"""

from __future__ import annotations

from typing import Any

from mpi4py import MPI

from femgp.errors import InputError
from femgp.fem.meshes.core import TaggedMesh, check_cell_count, from_gmsh, rectangle, triangles
from femgp.validation import check_choice, check_positive

__all__ = [
    "NOTCHED_PLATE_GROUPS",
    "STRIP_GROUPS",
    "bar",
    "build_notched_plate",
    "build_strip",
    "notched_plate",
    "strip",
]

NOTCHED_PLATE_GROUPS = ("bottom", "right", "top", "left", "notch", "domain")
STRIP_GROUPS = ("bottom", "right", "top", "left", "domain")
BANDS = ("tension", "shear")


def _culprit(*sizes: tuple[str, float, float]) -> str:
    """``"name = value"`` of the mesh size whose region holds the most cells.

    ``sizes`` are ``(name, size, estimated cells)``: the cell-count check names
    the size that makes the mesh too large (``h_far``, not ``h_band``, for a
    plate with ``h_far = 1e-6``).
    """
    name, value, _ = max(sizes, key=lambda s: s[2])
    return f"{name} = {value:g}"


def bar(
    comm: MPI.Comm = MPI.COMM_WORLD,
    *,
    length: float = 1.0,
    height: float = 0.05,
    h: float = 0.01,
    quadrilateral: bool = True,
    max_cells: int | None = None,
) -> TaggedMesh:
    """A 1D-like bar ``[0, length] × [0, height]`` of structured cells of size ``h``.

    The cross-direction gets ``max(1, round(height / h))`` cells. Quadrilaterals
    (the default) keep a crack across the bar on one column of nodes, as in 1D;
    triangles run it along the diagonals. Facet groups: ``left``, ``right``,
    ``bottom``, ``top``.
    """
    length = check_positive("length", length)
    height = check_positive("height", height)
    h = check_positive("h", h)
    nx = max(1, round(length / h))
    ny = max(1, round(height / h))
    check_cell_count(nx * ny * (1 if quadrilateral else 2), f"h = {h:g}", max_cells=max_cells)
    return rectangle(
        comm,
        ((0.0, 0.0), (length, height)),
        (nx, ny),
        quadrilateral=quadrilateral,
        max_cells=max_cells,
    )


def _box_field(
    gmsh: Any, h_in: float, h_out: float, box: tuple[float, float, float, float], thickness: float
) -> None:
    x0, x1, y0, y1 = box
    field = gmsh.model.mesh.field
    fid = field.add("Box")
    field.setNumber(fid, "VIn", h_in)
    field.setNumber(fid, "VOut", h_out)
    field.setNumber(fid, "XMin", x0)
    field.setNumber(fid, "XMax", x1)
    field.setNumber(fid, "YMin", y0)
    field.setNumber(fid, "YMax", y1)
    field.setNumber(fid, "Thickness", thickness)
    field.setAsBackgroundMesh(fid)
    gmsh.option.setNumber("Mesh.MeshSizeExtendFromBoundary", 0)
    gmsh.option.setNumber("Mesh.MeshSizeFromPoints", 0)
    gmsh.option.setNumber("Mesh.MeshSizeFromCurvature", 0)


def build_notched_plate(
    gmsh: Any,
    *,
    h_band: float,
    h_far: float,
    band: str = "tension",
    band_halfwidth: float = 0.05,
    notch_width: float | None = None,
) -> None:
    """Create the notched unit plate in the current gmsh model and mesh it.

    Args:
        h_band: element size in the refined band along the crack path.
        h_far: element size elsewhere.
        band: ``"tension"`` (a horizontal band ahead of the notch, SENT) or
            ``"shear"`` (the lower-right region the SENS crack curves into).
        band_halfwidth: half width of the tension band (mm).
        notch_width: opening of the V-notch at the left edge (default ``2 h_band``).
    """
    w = 2.0 * h_band if notch_width is None else notch_width
    geo = gmsh.model.geo
    L, a, yc = 1.0, 0.5, 0.5
    p = [
        geo.addPoint(0.0, 0.0, 0.0, h_far),
        geo.addPoint(L, 0.0, 0.0, h_far),
        geo.addPoint(L, L, 0.0, h_far),
        geo.addPoint(0.0, L, 0.0, h_far),
        geo.addPoint(0.0, yc + w / 2, 0.0, h_far),
        geo.addPoint(a, yc, 0.0, h_band),
        geo.addPoint(0.0, yc - w / 2, 0.0, h_far),
    ]
    lines = [geo.addLine(p[i], p[(i + 1) % len(p)]) for i in range(len(p))]
    loop = geo.addCurveLoop(lines)
    surface = geo.addPlaneSurface([loop])
    geo.synchronize()
    bottom, right, top, left_up, notch_up, notch_low, left_low = lines
    model = gmsh.model
    model.addPhysicalGroup(1, [bottom], 1, name="bottom")
    model.addPhysicalGroup(1, [right], 2, name="right")
    model.addPhysicalGroup(1, [top], 3, name="top")
    model.addPhysicalGroup(1, [left_up, left_low], 4, name="left")
    model.addPhysicalGroup(1, [notch_up, notch_low], 5, name="notch")
    model.addPhysicalGroup(2, [surface], 6, name="domain")
    if band == "tension":
        box = (a - 2 * band_halfwidth, L, yc - band_halfwidth, yc + band_halfwidth)
    else:
        box = (a - 2 * band_halfwidth, L, 0.0, yc + band_halfwidth)
    _box_field(gmsh, h_band, h_far, box, thickness=max(4 * h_band, 0.1))
    model.mesh.generate(2)


def check_notch_width(notch_width: float | None, h_band: float, *, what: str) -> None:
    """Refuse a V-notch opening at the edge (``notch_width``, default ``2 h_band``) of
    0.2 mm or more: wider, the notch's outline leaves the 1 mm ``what`` (a
    self-crossing plate; gmsh hung on the slab)."""
    if notch_width is not None and not 0 < notch_width < 0.2:
        raise InputError(f"notch_width must be in (0, 0.2) mm, got {notch_width!r}")
    if notch_width is None and not 2 * h_band < 0.2:  # the default opening, same bound
        raise InputError(
            f"h_band = {h_band:g} would open the notch of the {what} by 2 h_band = "
            f"{2 * h_band:g} mm, not below 0.2 mm; use h_band < 0.1 or pass notch_width"
        )


def notched_plate(
    comm: MPI.Comm = MPI.COMM_WORLD,
    *,
    h_band: float,
    h_far: float | None = None,
    band: str = "tension",
    band_halfwidth: float = 0.05,
    notch_width: float | None = None,
    max_cells: int | None = None,
) -> TaggedMesh:
    """The SENT/SENS notched 1 mm × 1 mm plate (groups in :data:`NOTCHED_PLATE_GROUPS`).

    ``h_band`` should be at most ``ell / 4`` for literature resolution (see
    :func:`build_notched_plate` for the other arguments; ``h_far`` defaults to
    ``max(0.02, 5 h_band)``). A plate estimated above ``max_cells`` cells is
    refused before gmsh runs (:func:`~femgp.fem.meshes.core.check_cell_count`),
    and so is a notch opening (``notch_width`` or its default ``2 h_band``) of
    0.2 mm or more.
    """
    h_band = check_positive("h_band", h_band)
    h_far = max(0.02, 5 * h_band) if h_far is None else check_positive("h_far", h_far)
    check_choice("band", band, BANDS)
    check_positive("band_halfwidth", band_halfwidth)
    check_notch_width(notch_width, h_band, what="plate")
    # the refined box (band plus its transition) at h_band, the plate at h_far
    width = 0.5 + 2 * band_halfwidth + 2 * max(4 * h_band, 0.1)
    height = 2 * band_halfwidth if band == "tension" else 0.5 + band_halfwidth
    height += 2 * max(4 * h_band, 0.1)
    band_cells, far_cells = triangles(min(width * height, 1.0), h_band), triangles(1.0, h_far)
    size = _culprit(("h_band", h_band, band_cells), ("h_far", h_far, far_cells))
    check_cell_count(band_cells + far_cells, size, max_cells=max_cells)
    return from_gmsh(
        lambda gmsh: build_notched_plate(
            gmsh,
            h_band=h_band,
            h_far=h_far,
            band=band,
            band_halfwidth=band_halfwidth,
            notch_width=notch_width,
        ),
        comm,
        gdim=2,
        name=f"notched_plate_{band}",
    )


def build_strip(
    gmsh: Any,
    *,
    length: float,
    height: float,
    h_band: float,
    h_far: float,
    band_halfwidth: float,
) -> None:
    """Create the surfing strip ``[0, length] × [-height/2, height/2]`` and mesh it."""
    occ = gmsh.model.occ
    s = occ.addRectangle(0.0, -height / 2, 0.0, length, height)
    occ.synchronize()
    model = gmsh.model
    curves = model.getBoundary([(2, s)], oriented=False)
    named: dict[str, list[int]] = {"bottom": [], "right": [], "top": [], "left": []}
    for _, c in curves:
        x, y, _ = occ.getCenterOfMass(1, c)
        if abs(y + height / 2) < 1e-9 * height:
            named["bottom"].append(c)
        elif abs(y - height / 2) < 1e-9 * height:
            named["top"].append(c)
        elif abs(x) < 1e-9 * length:
            named["left"].append(c)
        else:
            named["right"].append(c)
    for tag, (name, cs) in enumerate(named.items(), start=1):
        model.addPhysicalGroup(1, cs, tag, name=name)
    model.addPhysicalGroup(2, [s], 5, name="domain")
    _box_field(
        gmsh,
        h_band,
        h_far,
        (-1.0, length + 1.0, -band_halfwidth, band_halfwidth),
        thickness=max(4 * h_band, 0.25 * height),
    )
    model.mesh.generate(2)


def strip(
    comm: MPI.Comm = MPI.COMM_WORLD,
    *,
    length: float = 1.0,
    height: float = 0.5,
    h_band: float,
    h_far: float | None = None,
    band_halfwidth: float = 0.05,
    max_cells: int | None = None,
) -> TaggedMesh:
    """The surfing strip (groups in :data:`STRIP_GROUPS`), refined to ``h_band`` along y = 0.

    A strip estimated above ``max_cells`` cells is refused before gmsh runs.
    """
    length = check_positive("length", length)
    height = check_positive("height", height)
    h_band = check_positive("h_band", h_band)
    h_far = max(h_band, min(height / 10, 8 * h_band)) if h_far is None else h_far
    check_positive("h_far", h_far)
    check_positive("band_halfwidth", band_halfwidth)
    band = min(2 * band_halfwidth + 2 * max(4 * h_band, 0.25 * height), height)
    band_cells, far_cells = triangles(length * band, h_band), triangles(length * height, h_far)
    size = _culprit(("h_band", h_band, band_cells), ("h_far", h_far, far_cells))
    check_cell_count(band_cells + far_cells, size, max_cells=max_cells)
    return from_gmsh(
        lambda gmsh: build_strip(
            gmsh,
            length=length,
            height=height,
            h_band=h_band,
            h_far=h_far,
            band_halfwidth=band_halfwidth,
        ),
        comm,
        gdim=2,
        name="surfing_strip",
    )
