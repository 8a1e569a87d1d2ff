"""3D fracture geometries: the bar as a prism, and the notched slab (SENT with thickness).

- :func:`bar3d`: ``[0, L] × [0, W] × [0, W]`` structured tetrahedra; ``left``,
  ``right`` (x), ``front``, ``back`` (y), ``bottom``, ``top`` (z).
- :func:`notched_slab`: the 1 mm × 1 mm SENT plate of Miehe, Hofacker and
  Welschinger (2010) extruded to a ``thickness`` in z, with the V-notch from the
  middle of the left face to the centre running through the thickness; meshed
  with tetrahedra of size ``h_band`` in a band ahead of the notch and ``h_far``
  elsewhere. Groups (named): ``bottom`` (y = 0), ``top`` (y = 1), ``left``
  (x = 0), ``right`` (x = 1), ``back`` (z = 0), ``front`` (z = thickness),
  ``notch`` (the two notch faces) and ``domain`` (cells). Built on rank 0 by
  gmsh and distributed.

:func:`estimate_cells` predicts the slab's tetrahedron count from the sizes
before anything is meshed, and :func:`notched_slab` refuses (``InputError``)
a mesh estimated above ``max_cells``: a 3D band at ``ell / 4`` grows as
``h^-3`` and would exhaust the memory long before gmsh finished.
"""

from __future__ import annotations

import math
from typing import Any

from mpi4py import MPI

from femgp.fem.meshes.core import TaggedMesh, check_cell_count, from_gmsh
from femgp.fem.meshes.fracture import check_notch_width
from femgp.fem.meshes.twinning import box
from femgp.validation import check_positive

__all__ = [
    "NOTCHED_SLAB_GROUPS",
    "bar3d",
    "build_notched_slab",
    "estimate_cells",
    "notched_slab",
]

NOTCHED_SLAB_GROUPS = ("bottom", "right", "top", "left", "back", "front", "notch", "domain")
#: Tetrahedra per h^3 that gmsh produces for a target size h on the slab
#: (calibrated: 4.1 to 4.7 measured for h_band from 0.04 to 0.01 mm; 5 keeps the
#: estimate on the safe side).
_TETS_PER_H3 = 5.0

_L, _A, _YC = 1.0, 0.5, 0.5  # plate side, notch length, notch height (mm)


def bar3d(
    comm: MPI.Comm = MPI.COMM_WORLD,
    *,
    length: float = 1.0,
    width: float = 0.05,
    h: float = 0.05,
) -> TaggedMesh:
    """A bar ``[0, length] × [0, width]^2`` of structured tetrahedra of size ``h`` along x.

    The cross-section gets ``max(1, round(width / h))`` cells each way. Facet
    groups ``left``/``right`` (x), ``front``/``back`` (y), ``bottom``/``top`` (z).
    Tetrahedra, not hexahedra: the spectral split's nonpolynomial density makes
    UFL estimate a quadrature degree near 100 on hexahedra (about 2 on P1 tetrahedra).
    """
    length = check_positive("length", length)
    width = check_positive("width", width)
    h = check_positive("h", h)
    nx, ny = max(1, round(length / h)), max(1, round(width / h))
    return box(comm, ((0.0, 0.0, 0.0), (length, width, width)), (nx, ny, ny))


def _band(band_halfwidth: float) -> tuple[float, float, float, float]:
    """The refined box ``(x0, x1, y0, y1)`` ahead of the notch (through the thickness)."""
    return (_A - band_halfwidth, _L, _YC - band_halfwidth, _YC + band_halfwidth)


def estimate_cells(
    *,
    h_band: float,
    h_far: float,
    thickness: float,
    band_halfwidth: float,
) -> int:
    """The tetrahedron count :func:`notched_slab` will produce, from the sizes alone.

    ``N ≈ c (V_band / h_band^3 + V_ramp / h_ramp^3 + V_rest / h_far^3)`` with the
    band volume ahead of the notch, a transition layer of width ``4 h_band``
    around it meshed at the geometric mean size, and ``c`` the tetrahedra per
    ``h^3`` of gmsh's mesher (calibrated on this geometry: the estimate was
    0.9 to 1.3 times the meshed count for 3.5e3 to 5.5e4 cells, and down to 0.75
    below 3e3 cells, where the layers at the faces count most; gmsh 4.15).
    """
    h_band = check_positive("h_band", h_band)
    h_far = check_positive("h_far", h_far)
    t = check_positive("thickness", thickness)
    bw = check_positive("band_halfwidth", band_halfwidth)
    x0, x1, y0, y1 = _band(bw)
    v_band = (x1 - x0) * (y1 - y0) * t
    ramp = min(4 * h_band, 0.25)
    v_ramp = ((x1 - x0 + ramp) * (y1 - y0 + 2 * ramp) - (x1 - x0) * (y1 - y0)) * t
    v_rest = max(_L * _L * t - v_band - v_ramp, 0.0)
    h_ramp = math.sqrt(h_band * max(h_far, h_band))
    # at least one layer of cells through the thickness
    per = [max(h, 0.0) for h in (h_band, h_ramp, h_far)]
    n = v_band / per[0] ** 3 + v_ramp / per[1] ** 3 + v_rest / min(per[2], t) ** 3
    return math.ceil(_TETS_PER_H3 * n)


def build_notched_slab(
    gmsh: Any,
    *,
    h_band: float,
    h_far: float,
    thickness: float,
    band_halfwidth: float,
    notch_width: float | None = None,
) -> None:
    """Create the notched slab in the current gmsh model (OpenCASCADE) and mesh it.

    The 2D notched plate (a V-notch of opening ``notch_width``, default
    ``2 h_band``, at the left edge and a sharp tip at the centre) is extruded by
    ``thickness`` in z; faces are named by where their centres lie.
    """
    w = 2.0 * h_band if notch_width is None else notch_width
    occ = gmsh.model.occ
    xy = [
        (0.0, 0.0),
        (_L, 0.0),
        (_L, _L),
        (0.0, _L),
        (0.0, _YC + w / 2),
        (_A, _YC),
        (0.0, _YC - w / 2),
    ]
    pts = [occ.addPoint(x, y, 0.0) for x, y in xy]
    lines = [occ.addLine(pts[i], pts[(i + 1) % len(pts)]) for i in range(len(pts))]
    surface = occ.addPlaneSurface([occ.addCurveLoop(lines)])
    out = occ.extrude([(2, surface)], 0.0, 0.0, thickness)
    volume = next(tag for dim, tag in out if dim == 3)
    occ.synchronize()
    model = gmsh.model
    tol = 1e-7
    named: dict[str, list[int]] = {n: [] for n in NOTCHED_SLAB_GROUPS[:-1]}
    for _, face in model.getBoundary([(3, volume)], oriented=False):
        x, y, z = occ.getCenterOfMass(2, face)
        if abs(z) < tol:
            named["back"].append(face)
        elif abs(z - thickness) < tol:
            named["front"].append(face)
        elif abs(y) < tol:
            named["bottom"].append(face)
        elif abs(y - _L) < tol:
            named["top"].append(face)
        elif abs(x - _L) < tol:
            named["right"].append(face)
        elif abs(x) < tol:
            named["left"].append(face)
        else:
            named["notch"].append(face)
    for tag, (name, faces) in enumerate(named.items(), start=1):
        model.addPhysicalGroup(2, faces, tag, name=name)
    model.addPhysicalGroup(3, [volume], len(named) + 1, name="domain")
    x0, x1, y0, y1 = _band(band_halfwidth)
    field = model.mesh.field
    fid = field.add("Box")
    field.setNumber(fid, "VIn", h_band)
    field.setNumber(fid, "VOut", h_far)
    for key, value in (("XMin", x0), ("XMax", x1 + 1.0), ("YMin", y0), ("YMax", y1)):
        field.setNumber(fid, key, value)
    field.setNumber(fid, "ZMin", -1.0)
    field.setNumber(fid, "ZMax", thickness + 1.0)
    field.setNumber(fid, "Thickness", min(4 * h_band, 0.25))
    field.setAsBackgroundMesh(fid)
    gmsh.option.setNumber("Mesh.MeshSizeExtendFromBoundary", 0)
    gmsh.option.setNumber("Mesh.MeshSizeFromPoints", 0)
    gmsh.option.setNumber("Mesh.MeshSizeFromCurvature", 0)
    gmsh.option.setNumber("Mesh.Algorithm3D", 10)  # HXT: parallel Delaunay
    model.mesh.generate(3)


def notched_slab(
    comm: MPI.Comm = MPI.COMM_WORLD,
    *,
    h_band: float,
    h_far: float | None = None,
    thickness: float = 0.1,
    band_halfwidth: float = 0.1,
    notch_width: float | None = None,
    max_cells: int | None = None,
) -> TaggedMesh:
    """The SENT slab (groups in :data:`NOTCHED_SLAB_GROUPS`), refused above ``max_cells``.

    Args:
        h_band: tetrahedron size in the band ahead of the notch (mm).
        h_far: size elsewhere (default ``max(thickness / 2, 5 h_band)`` capped at 0.1).
        thickness: the slab's extent in z (mm).
        band_halfwidth: half height of the refined band around ``y = 0.5`` (mm).
        notch_width: V-notch opening at the left face (default ``2 h_band``),
            below 0.2 mm.
        max_cells: refuse (``InputError``) when :func:`estimate_cells` exceeds it
            (any positive integer, NumPy's too, as for the 2D geometries).
    """
    h_band = check_positive("h_band", h_band)
    thickness = check_positive("thickness", thickness)
    band_halfwidth = check_positive("band_halfwidth", band_halfwidth)
    if h_far is None:
        h_far = max(h_band, min(0.1, max(thickness / 2, 5 * h_band)))
    h_far = check_positive("h_far", h_far)
    check_notch_width(notch_width, h_band, what="slab")
    n = estimate_cells(
        h_band=h_band, h_far=h_far, thickness=thickness, band_halfwidth=band_halfwidth
    )
    check_cell_count(
        n,
        f"h_band = {h_band:g} (h_far = {h_far:g}, thickness = {thickness:g})",
        max_cells=max_cells,
    )
    return from_gmsh(
        lambda gmsh: build_notched_slab(
            gmsh,
            h_band=h_band,
            h_far=h_far,
            thickness=thickness,
            band_halfwidth=band_halfwidth,
            notch_width=notch_width,
        ),
        comm,
        gdim=3,
        name="notched_slab",
    )
