"""The registry of set-ups: each case's mesh, initial state and model set-up, written once.

The demos, the benchmarks and ``femgp run`` build their cases from here, so a
case (its mesh, boundary conditions, observers, plots) has one home:

- fracture: :data:`FRACTURE_SETUPS` names the set-ups of
  :mod:`femgp.models.fracture.setups` (which carry the boundary conditions, the
  G-theta observer of the surfing test, the plot titles);
- Cahn-Hilliard: :func:`cahn_hilliard_mesh` (the PFHub square or T-shape, or a
  mesh file) and :func:`femgp.cli.plot.cahn_hilliard_plots`;
- twinning: :data:`TWINNING_SETUPS` (the ``Params`` class methods),
  :func:`twinning_mesh` and :func:`twinning_initial`.

Every generated mesh takes ``max_cells`` (``--max-cells``): a mesh estimated
above it is refused before meshing. Importing this module imports DOLFINx.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import femgp.fem._backend  # noqa: F401  (dolfinx_solver before dolfinx)

import numpy as np

from femgp.cli.config import TWINNING_SETUPS
from femgp.errors import InputError
from femgp.fem.meshes import TaggedMesh, read_mesh, require_groups
from femgp.models.fracture import setups as fracture_setups
from femgp.validation import check_int, check_positive

__all__ = [
    "FRACTURE_SETUPS",
    "TWINNING_SETUPS",
    "adaptive_coarse_size",
    "cahn_hilliard_mesh",
    "fracture_setup",
    "fracture_start",
    "notched_resolution",
    "output_options",
    "run_notched_demo",
    "twinning_initial",
    "twinning_mesh",
    "wall_width",
]

#: Fracture case name -> set-up factory ``f(comm, **options) -> Setup``.
FRACTURE_SETUPS: dict[str, Callable[..., fracture_setups.Setup]] = {
    "sent": fracture_setups.notched_tension,
    "sens": fracture_setups.notched_shear,
    "sent3d": fracture_setups.notched_tension_3d,
    "bar": fracture_setups.bar,
    "surfing": fracture_setups.surfing,
    "lpanel": fracture_setups.lpanel,
}


def read_user_mesh(path: str | Path, comm: Any, *, gdim: int | None = None) -> TaggedMesh:
    """A user's mesh file (``.msh``, XDMF or a meshio format) with its tags."""
    return read_mesh(Path(path), comm, gdim=gdim)


def fracture_setup(case: str, comm: Any, **options: Any) -> fracture_setups.Setup:
    """The fracture set-up ``case`` (see :data:`FRACTURE_SETUPS`) built with ``options``."""
    if case not in FRACTURE_SETUPS:
        raise InputError(f"unknown fracture case {case!r} (allowed: {', '.join(FRACTURE_SETUPS)})")
    return FRACTURE_SETUPS[case](comm, **options)


#: The sizes each Cahn-Hilliard domain takes, and their defaults.
CH_MESH_SIZES: dict[str, dict[str, Any]] = {
    "square": {"n": 100, "size": 200.0},
    "tshape": {"h": 2.0},
    "cube": {"n": 100, "size": 200.0, "cell": "hexahedron"},
}


def cahn_hilliard_mesh(
    comm: Any,
    *,
    mesh: TaggedMesh | None = None,
    source: str = "mesh",
    domain: str = "square",
    max_cells: int | None = None,
    **sizes: Any,
) -> TaggedMesh:
    """The PFHub benchmark 1 mesh: the square (1b) of ``n x n`` cells, the T-shape (1c) of
    size ``h``, the cube ``[0, size]^3`` of ``n^3`` ``cell``s (3D), or a user's ``mesh``
    read from ``source`` (it needs the groups ``domain`` and ``boundary``).

    ``sizes`` are those of :data:`CH_MESH_SIZES` (the domain's missing ones take
    their defaults). Sizes of another domain are not used (a case file may hold
    those of several), but ``cell``, a choice only the cube has, is refused
    elsewhere rather than ignored.
    """
    from femgp.fem.meshes.pfhub import TSHAPE_GROUPS, cube, square, tshape

    if domain not in CH_MESH_SIZES:
        raise InputError(f"domain must be 'square', 'tshape' or 'cube', got {domain!r}")
    unknown = sorted(set(sizes) - {k for d in CH_MESH_SIZES.values() for k in d})
    if unknown:
        raise InputError(f"unknown mesh size(s) {', '.join(unknown)}")
    if "cell" in sizes and (mesh is not None or domain != "cube"):
        what = (
            "a mesh file's cells are its own"
            if mesh is not None
            else (
                f"the {domain} is meshed with "
                + ("quadrilaterals" if domain == "square" else "triangles")
            )
        )
        raise InputError(f"cell = {sizes['cell']!r} is for the cube only ({what}); leave it out")
    if mesh is not None:
        require_groups(mesh, TSHAPE_GROUPS, source=source)
        return mesh
    got = {**CH_MESH_SIZES[domain], **sizes}
    if domain == "tshape":
        return tshape(comm, h=got["h"], max_cells=max_cells)
    if domain == "cube":
        return cube(comm, n=got["n"], size=got["size"], cell=got["cell"], max_cells=max_cells)
    return square(comm, n=got["n"], size=got["size"], max_cells=max_cells)


def wall_width(a: float, kappa: float) -> float:
    """The width delta of the twinning domain wall ``tanh(x / delta)``."""
    from femgp.models.twinning import tanh_wall

    return tanh_wall(a, kappa)[1]


def twinning_mesh(
    case: str,
    comm: Any,
    *,
    cells: int | None = None,
    length: float | None = None,
    delta: float | None = None,
    cells_per_delta: int = 4,
    half_length: float = 12.0,
    height: float = 2.0,
    max_cells: int | None = None,
) -> Any:
    """The DOLFINx mesh of a twinning case.

    - ``laminate`` and ``periodic``: the square ``[0, length]^2`` of ``cells x cells``
      triangles;
    - ``cubic_tetragonal``: the cube ``[0, length]^3`` of ``cells^3 x 6`` tetrahedra;
    - ``domain_wall``: the strip ``[-half_length, half_length] x [0, height]``
      (in wall widths ``delta``) with ``cells_per_delta`` cells per delta.

    ``length`` defaults to ``cells`` (one cell per length unit). Sizes are
    checked (InputError naming the key) before anything is meshed: ``cells`` and
    ``cells_per_delta`` positive integers, ``length``, ``half_length`` and
    ``height`` finite and > 0, at least one cell across the strip.
    """
    from femgp.fem.meshes.core import check_cell_count, rectangle
    from femgp.fem.meshes.twinning import box, square

    if case == "domain_wall":
        if delta is None:
            raise InputError("the domain_wall mesh needs the wall width delta")
        delta = check_positive("the wall width delta", delta)
        cells_per_delta = check_int("cells_per_delta", cells_per_delta, minimum=1)
        half_length = check_positive("half_length", half_length)
        height = check_positive("height", height)
        nx, ny = 2 * half_length * cells_per_delta, height * cells_per_delta
        size = f"cells_per_delta = {cells_per_delta} (half_length = {half_length:g})"
        check_cell_count(2 * nx * ny, size, max_cells=max_cells)
        n = (round(nx), round(ny))
        if min(n) < 1:
            raise InputError(
                f"the domain_wall strip needs at least one cell across: height * cells_per_delta "
                f"= {ny:g} and 2 * half_length * cells_per_delta = {nx:g} must be >= 0.5 "
                f"(raise cells_per_delta, height or half_length)"
            )
        half, top = half_length * delta, height * delta
        corners = ((-half, 0.0), (half, top))
        return rectangle(comm, corners, n, quadrilateral=False, max_cells=max_cells).mesh
    if cells is None:
        raise InputError(f"the {case} mesh needs a number of cells")
    cells = check_int("cells", cells, minimum=1)
    side = float(cells) if length is None else check_positive("length", length)
    if case == "cubic_tetragonal":
        corners3 = ((0.0, 0.0, 0.0), (side, side, side))
        return box(comm, corners3, (cells,) * 3, max_cells=max_cells).mesh
    if case in ("laminate", "periodic"):
        return square(comm, side, cells, max_cells=max_cells).mesh
    raise InputError(f"unknown twinning case {case!r} (allowed: {', '.join(TWINNING_SETUPS)})")


def twinning_initial(
    case: str,
    variants: int,
    *,
    seed: int = 1,
    amplitude: float = 0.05,
    wavelength: Sequence[float] = (4.0, 16.0),
    modes: int | None = None,
    delta: float | None = None,
    width: float = 2.0,
) -> list[Callable[[np.ndarray], np.ndarray]]:
    """The initial order parameters of a twinning case, functions of x (rank-independent).

    ``domain_wall``: ``tanh(x / (width * delta))``; the others: small noise
    (:func:`femgp.models.twinning.random_field`) about the parent phase, one
    field per variant with seeds ``seed + 1000 i``, of ``modes`` plane waves
    (default 48, at most :data:`femgp.models.twinning.analysis.MAX_MODES`).
    """
    from femgp.models.twinning import random_field

    if case == "domain_wall":
        if delta is None:
            raise InputError("the domain_wall initial state needs the wall width delta")
        w = check_positive("width", width) * check_positive("the wall width delta", delta)
        from femgp.fem.io import described

        return [described(lambda x: np.tanh(x[0] / w), "tanh_wall", thickness=w)]
    if len(wavelength) != 2:
        raise InputError(f"wavelength must be [shortest, longest], got {list(wavelength)!r}")
    noise: dict[str, Any] = {"amplitude": amplitude, "wavelength": tuple(wavelength)}
    if modes is not None:
        noise["modes"] = modes
    if case == "cubic_tetragonal":
        noise["dim"] = 3
    return [random_field(seed + 1000 * i, **noise) for i in range(variants)]


def output_options(args: Any) -> dict[str, Any]:
    """The run options of parsed demo arguments, after refusing (before any meshing) an
    ``--output`` folder that already holds results, unless ``--overwrite`` or ``--restart``.

    Returns ``run_options(args)`` and ``output``, ``overwrite``, ``show_progress``
    for the model's ``run``.
    """
    from mpi4py import MPI

    from femgp.cli.args import run_options
    from femgp.fem.io import refuse_existing_results

    opts = run_options(args)
    if not args.overwrite and not opts["restart"]:
        refuse_existing_results(Path(args.output), MPI.COMM_WORLD)
    return {
        **opts,
        "output": args.output,
        "overwrite": args.overwrite,
        "show_progress": not args.quiet,
    }


def fracture_start(args: Any) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """``(comm, run options, Params overrides)`` of a fracture demo's parsed arguments.

    Refuses an ``--output`` that already holds results (see :func:`output_options`).
    """
    from mpi4py import MPI

    from femgp.cli.fracture import overrides

    return MPI.COMM_WORLD, output_options(args), overrides(args)


#: The zone and the lookahead of a fracture run's refinement, in units of ``ell``
#: (``--adapt-zone``, ``--adapt-lookahead``; docs/adaptivity.md, "The width of the zone").
REFINEMENT_ZONE = 0.5
REFINEMENT_LOOKAHEAD = 2.0


def refinement_reach(ell: float) -> dict[str, float]:
    """The default ``zone`` and ``lookahead`` (lengths) of a fracture run with ``ell``."""
    return {"zone": REFINEMENT_ZONE * ell, "lookahead": REFINEMENT_LOOKAHEAD * ell}


def refinement_for(args: Any, ell: float, **defaults: Any) -> Any:
    """The :class:`femgp.fem.adapt.Refinement` of a fracture demo's ``--adapt`` options.

    ``None`` without ``--adapt``. The zone and the lookahead default to
    :func:`refinement_reach` (``ell / 2`` and ``2 ell``); ``defaults`` (for
    example ``h_min``) give way to the command line.
    """
    from femgp.cli.fracture import refinement_options
    from femgp.fem.adapt import Refinement

    opts = refinement_options(args)
    if opts is None:
        return None
    return Refinement(**{**refinement_reach(ell), **defaults, **opts})


#: The coarse mesh of an adaptive run: at most this many ``ell`` (:func:`adaptive_coarse_size`).
ADAPT_COARSE = 2.0

#: The size ``(6 |K|)^(1/3)`` of a gmsh tetrahedron relative to its nominal size
#: reaches this (median 0.99, 99th percentile 1.13, largest 1.19 on the SENT slab);
#: triangles stay below 1 (0.93 at the median).
TETRAHEDRON_SIZE_RATIO = 1.2


def adaptive_coarse_size(h_target: float, ell: float, *, tdim: int = 2) -> float:
    """The nominal (gmsh) coarse mesh size of an adaptive run that refines to ``h_target``.

    ``h_target`` times the largest power of two (at least 2) not above
    ``ADAPT_COARSE * ell / h_target``: a coarse mesh of at most ``2 ell``
    (``2 ell`` from ``h_target = ell / 4``, ``1.6 ell`` from ``ell / 2.5``),
    divided by :data:`TETRAHEDRON_SIZE_RATIO` for tetrahedra (``tdim = 3``).
    Each refinement pass halves the size of a cell
    (:func:`femgp.fem.adapt.cell_sizes`), so the refined region reaches
    ``h_target`` itself instead of overshooting to a cell up to twice smaller
    (four times the cells in 2D, eight in 3D) than the pre-refined mesh it is
    compared with. Coarser than ``2 ell`` the AT2 damage that spreads below the
    marking threshold is not resolved: SENS at ``3.2 ell`` dissipated 14 % more
    than its pre-refined mesh, at ``1.6 ell`` 0.5 % less.
    """
    passes = max(1, math.floor(math.log2(ADAPT_COARSE * ell / h_target) + 1e-9))
    if tdim == 3:
        return h_target * 2.0**passes / TETRAHEDRON_SIZE_RATIO
    return h_target * 2.0**passes


def notched_resolution(
    case: str, *, fine: bool, ell: float | None = None, adapt: bool = False
) -> dict[str, Any]:
    """``ell``, ``h_band``, ``notch_width`` and ``loads`` of the SENT (``"sent"``) and SENS demos.

    ``fine`` is the literature resolution: ell = 0.015 mm, h = ell / 4 along the
    crack path, small load steps through the peak. The coarse default has
    ell / h = 2.5 and larger steps (ell = 0.03 mm for SENT, 0.05 mm for SENS).
    A given ``ell`` replaces the default one. With ``adapt`` the plate is meshed
    at :func:`adaptive_coarse_size` everywhere (at most ``ADAPT_COARSE * ell``),
    and the refinement brings the crack's path down to ``h_target`` (the fine
    band's size: ``ell / 4`` with ``fine``, else ``ell / 2.5``). The V-notch is
    ``2 h_target`` wide at the edge either way, so both meshes model one plate.
    """
    from femgp.models.fracture.setups import sent_loads

    default = 0.015 if fine else {"sent": 0.03, "sens": 0.05}[case]
    ell = default if ell is None else ell
    h_band = ell / 4 if fine else ell / 2.5
    out: dict[str, Any] = {"notch_width": 2 * h_band}
    if adapt:
        coarse = adaptive_coarse_size(h_band, ell)
        out.update(h_target=h_band, h_far=coarse)
        h_band = coarse
    if case == "sent" and fine:
        loads = sent_loads(u_max=6.5e-3, du=1e-4, u_fine=4.5e-3, du_fine=1e-5)
    elif case == "sent":
        loads = sent_loads(u_max=7e-3, du=5e-4, u_fine=4.5e-3, du_fine=1e-4)
    elif fine:
        loads = tuple(float(v) for v in np.arange(1e-4, 1.6e-2 + 1e-9, 1e-4))
    else:
        steps = (np.arange(5e-4, 8e-3 + 1e-9, 5e-4), np.arange(8.25e-3, 1.1e-2 + 1e-9, 2.5e-4))
        loads = tuple(float(v) for v in np.concatenate(steps))
    return {"ell": ell, "h_band": h_band, "loads": loads, **out}


def run_notched_demo(case: str, args: Any) -> tuple[Any, fracture_setups.Setup, Any]:
    """Run the SENT (``"sent"``) or SENS demo from its parsed arguments.

    Refuses existing results, picks the resolution (:func:`notched_resolution`),
    meshes the plate (or reads ``--mesh``), prints the set-up's headline and
    runs the load path. Returns ``(comm, setup, result)``.
    """
    comm, options, params = fracture_start(args)
    adapt = bool(getattr(args, "adapt", False))
    resolution = notched_resolution(case, fine=args.fine, ell=params.pop("ell", None), adapt=adapt)
    h_target = resolution.pop("h_target", None)
    refinement = refinement_for(args, resolution["ell"], h_min=h_target)
    if refinement is not None and refinement.h_min != h_target:  # --h-min: coarse mesh to match
        coarse = adaptive_coarse_size(refinement.target(resolution["ell"]), resolution["ell"])
        resolution.update(h_band=coarse, h_far=coarse)
    setup, result = run_fracture_case(
        case, comm, args, options, refinement=refinement, **resolution, **params
    )
    return comm, setup, result


def run_fracture_case(
    case: str,
    comm: Any,
    args: Any,
    options: dict[str, Any],
    *,
    refinement: Any = None,
    **setup_args: Any,
) -> tuple[fracture_setups.Setup, Any]:
    """Build the registry case ``case`` (on ``--mesh`` when given), print its headline
    (rank 0) and run its load path with the run ``options`` and ``refinement``.

    ``setup_args`` go to :func:`fracture_setup` (resolution, loads, Params overrides).
    Returns ``(setup, result)``.
    """
    from femgp.cli.fracture import headline
    from femgp.fem.meshes import read_msh
    from femgp.models.fracture import run

    mesh = read_msh(args.mesh, comm) if args.mesh else None
    setup = fracture_setup(case, comm, mesh=mesh, max_cells=args.max_cells, **setup_args)
    if comm.rank == 0:
        print(headline(setup, comm.size, unit="mm"), flush=True)
    result = run(
        setup.mesh,
        setup.params,
        setup.loading,
        **options,
        **setup.run_options,
        refinement=refinement,
    )
    return setup, result
