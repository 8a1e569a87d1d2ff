"""The built-in geometries by name, for ``femgp mesh build`` and ``meshes/*.py``.

Each entry builds a :class:`~femgp.fem.meshes.core.TaggedMesh` from a fine size
``h`` (the refinement band or the uniform size) and an optional ``h_far``, and
lists the physical groups it carries.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from mpi4py import MPI

from femgp.errors import InputError
from femgp.fem.meshes import fracture, panels, pfhub
from femgp.fem.meshes.core import TaggedMesh
from femgp.validation import check_positive

__all__ = ["GEOMETRIES", "Geometry", "build"]


@dataclass(frozen=True)
class Geometry:
    """A named geometry: ``make(comm, h, h_far, max_cells)``, its groups, default h, a summary."""

    make: Callable[[MPI.Comm, float, float | None, int | None], TaggedMesh]
    groups: tuple[str, ...]
    h: float
    summary: str
    #: a band of size ``h`` in a coarser far field (``h_far``); else one size
    graded: bool = True


GEOMETRIES: dict[str, Geometry] = {
    "bar": Geometry(
        lambda c, h, hf, mc: fracture.bar(c, h=h, max_cells=mc),
        ("left", "right", "bottom", "top"),
        0.01,
        "1D-like bar [0, 1] x [0, 0.05], structured quadrilaterals",
        graded=False,
    ),
    "sent": Geometry(
        lambda c, h, hf, mc: fracture.notched_plate(
            c, h_band=h, h_far=hf, band="tension", max_cells=mc
        ),
        fracture.NOTCHED_PLATE_GROUPS,
        0.01,
        "single-edge notched plate (1 mm), band ahead of the notch (tension)",
    ),
    "sens": Geometry(
        lambda c, h, hf, mc: fracture.notched_plate(
            c, h_band=h, h_far=hf, band="shear", max_cells=mc
        ),
        fracture.NOTCHED_PLATE_GROUPS,
        0.01,
        "single-edge notched plate (1 mm), band in the lower right (shear)",
    ),
    "strip": Geometry(
        lambda c, h, hf, mc: fracture.strip(c, h_band=h, h_far=hf, max_cells=mc),
        fracture.STRIP_GROUPS,
        0.02,
        "surfing strip [0, 1] x [-0.25, 0.25], band along y = 0",
    ),
    "lpanel": Geometry(
        lambda c, h, hf, mc: panels.lpanel(c, h=h, h_far=hf, max_cells=mc),
        panels.LPANEL_GROUPS,
        5.0,
        "L-shaped panel (Winkler 2001), 500 mm, band from the re-entrant corner",
    ),
    "plate_with_holes": Geometry(
        lambda c, h, hf, mc: panels.plate_with_holes(c, h=h, h_far=hf, max_cells=mc),
        panels.PLATE_WITH_HOLES_GROUPS,
        2.0,
        "65 x 120 plate with two holes of radius 10",
    ),
    "pfhub_tshape": Geometry(
        lambda c, h, hf, mc: pfhub.tshape(c, h=h, max_cells=mc),
        pfhub.TSHAPE_GROUPS,
        2.0,
        "PFHub benchmark 1c T-shape",
        graded=False,
    ),
}


def build(
    name: str,
    comm: MPI.Comm = MPI.COMM_WORLD,
    *,
    h: float | None = None,
    h_far: float | None = None,
    max_cells: int | None = None,
) -> TaggedMesh:
    """Build geometry ``name`` (see :data:`GEOMETRIES`) with size ``h`` (default per geometry).

    A mesh estimated above ``max_cells`` cells is refused before meshing.
    """
    if name not in GEOMETRIES:
        raise InputError(f"unknown geometry {name!r}; choose from {', '.join(GEOMETRIES)}")
    geo = GEOMETRIES[name]
    h = geo.h if h is None else h
    if h_far is not None:
        if not geo.graded:
            graded = ", ".join(n for n, g in GEOMETRIES.items() if g.graded)
            raise InputError(
                f"geometry {name!r} has one mesh size, h; h_far = {h_far!r} is for {graded}"
            )
        h_far = check_positive("h_far", h_far)
        if isinstance(h, int | float) and math.isfinite(h) and h_far < h:
            raise InputError(
                f"h_far = {h_far!r} must be >= h = {h!r} (the far field is the coarse part)"
            )
    return geo.make(comm, h, h_far, max_cells)
