"""The classic fracture set-ups: the bar, SENT, SENS, the surfing test and the L-panel.

Each function builds the mesh, the parameters and the loading, and returns a
:class:`Setup` that :func:`femgp.models.fracture.run` takes apart. Demos, tests
and the benchmark share them, so the geometry and the boundary conditions are
written once.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
from mpi4py import MPI

from femgp.energy.elasticity import lame_from_young
from femgp.errors import InputError
from femgp.fem.meshes import fracture as fmeshes
from femgp.fem.meshes.core import TaggedMesh
from femgp.models.fracture.model import require_plane_mesh
from femgp.models.fracture.params import DisplacementBC, Loading, Params
from femgp.validation import check_finite, check_positive

__all__ = [
    "MAX_LOAD_STEPS",
    "MIEHE_MATERIAL",
    "WINKLER_MATERIAL",
    "Setup",
    "bar",
    "error_table",
    "g_theta_observer",
    "k_field",
    "lpanel",
    "lpanel_loads",
    "notched_shear",
    "notched_tension",
    "notched_tension_3d",
    "ranges_loads",
    "sent_loads",
    "surfing",
]

#: The cell size in the crack band of the notched plates' crack-run meshes, in
#: units of the fine mesh's (:mod:`femgp.models.fracture.crack_run`). On SENT at
#: the literature resolution, 2 (a quarter of the unknowns) took the breaking step
#: from 184 AM iterations to 12 + 96 on the coarse mesh + 20; 4 (1/13 of the
#: unknowns) left 44 fine iterations and a dissipated energy 0.9 % higher.
CRACK_RUN_COARSENING = 2.0

#: The most load steps a load path may have. A generated path (``steps``, a step
#: ``du``, ``[start, stop, step]`` ranges) or a list of loads above it is refused
#: (InputError naming the key) before anything is allocated: a typo in a step
#: size (``du = 1e-13``) would otherwise ask numpy for hundreds of GiB. A million
#: load steps, each a nonlinear solve, is far beyond any run of these set-ups.
MAX_LOAD_STEPS = 1_000_000

#: Miehe, Hofacker, Welschinger (2010): E = 210 kN/mm^2, nu = 0.3, Gc = 2.7e-3 kN/mm.
MIEHE_MATERIAL: dict[str, float] = {"E": 210.0, "nu": 0.3, "Gc": 2.7e-3}

#: Winkler's L-panel concrete as modelled by Ambati, Gerasimov, De Lorenzis (2015):
#: lambda = 6.16, mu = 10.95 kN/mm^2 (E = 25.85 kN/mm^2, nu = 0.18), Gc = 8.9e-5 kN/mm.
WINKLER_MATERIAL: dict[str, float] = {"E": 25.85, "nu": 0.18, "Gc": 8.9e-5}


@dataclass
class Setup:
    """A mesh, parameters, a loading and an optional initial damage.

    ``run_options`` are the keywords of :func:`femgp.models.fracture.run` that
    belong to the case (``title``, ``force_label``, ``initial_damage``, an
    ``observer`` and its ``extra_columns``): ``run(s.mesh, s.params,
    s.loading, **s.run_options, ...)``.
    """

    mesh: TaggedMesh
    params: Params
    loading: Loading
    initial_damage: Callable[[np.ndarray], np.ndarray] | None = None
    info: dict[str, Any] = field(default_factory=dict)
    title: str = "fracture"
    force_label: str = "reaction force"
    observer: Callable[[Any, Any], dict[str, float]] | None = None
    extra_columns: tuple[str, ...] = ()
    #: A coarser mesh of the same domain for unstable crack runs (``params.crack_run``).
    crack_run_mesh: TaggedMesh | None = None

    @property
    def run_options(self) -> dict[str, Any]:
        """The case's keywords for :func:`femgp.models.fracture.run`."""
        out: dict[str, Any] = {
            "title": self.title,
            "force_label": self.force_label,
            "initial_damage": self.initial_damage,
        }
        if self.observer is not None:
            out["observer"] = self.observer
            out["extra_columns"] = self.extra_columns
        if self.crack_run_mesh is not None:
            out["crack_run_mesh"] = self.crack_run_mesh
        return out


def g_theta_observer(
    ell: float, *, r1: float = 2.5, r2: float = 4.5
) -> Callable[[Any, Any], dict[str, float]]:
    """An observer recording the damage ``tip`` and the G-theta energy release rate ``G``.

    The virtual crack advance is ``theta = e_x`` within ``r1 * ell`` of the
    damage tip, falling linearly to 0 at ``r2 * ell`` (a function of x, so the
    same on any number of ranks).
    """
    check_positive("r1", r1)
    if not r2 > r1:
        raise InputError(f"r2 must be larger than r1, got r1 = {r1!r}, r2 = {r2!r}")
    inner, outer = r1 * ell, r2 * ell

    def observer(model: Any, row: Any) -> dict[str, float]:
        tip = model.tip_position()

        def theta(x: np.ndarray) -> np.ndarray:
            v = np.clip((outer - np.hypot(x[0] - tip, x[1])) / (outer - inner), 0.0, 1.0)
            return np.vstack([v, np.zeros_like(v)])

        return {"tip": tip, "G": model.energy_release_rate(theta)}

    return observer


@contextmanager
def _table(name: str) -> Iterator[None]:
    """Tag an InputError raised inside with ``table = name``: the case-file table
    (``mesh``, ``loading``, ``analysis``) of the value it names.

    ``femgp run`` prefixes the message with that table; an error without the tag
    is about a model parameter (``[params]``). The innermost tag wins.
    """
    try:
        yield
    except InputError as exc:
        if getattr(exc, "table", None) is None:
            exc.table = name  # type: ignore[attr-defined]
        raise


def error_table(exc: BaseException, default: str = "params") -> str:
    """The case-file table an InputError of a set-up is about (see :func:`_table`)."""
    return getattr(exc, "table", None) or default


def _check_steps(name: str, value: Any) -> int:
    """``value`` as a number of load steps in ``[1, MAX_LOAD_STEPS]``, else InputError."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or not 1 <= value <= MAX_LOAD_STEPS
    ):
        raise InputError(
            f"{name} must be an integer in [1, {MAX_LOAD_STEPS}] (the limit on load steps, "
            f"MAX_LOAD_STEPS), got {value!r}"
        )
    return int(value)


def _check_count(count: float, name: str, value: float, how: str) -> None:
    """Refuse a load path of about ``count`` steps above :data:`MAX_LOAD_STEPS`."""
    if not count <= MAX_LOAD_STEPS:
        raise InputError(
            f"{name} = {value:g} gives about {count:.3g} load steps ({how}), above the limit "
            f"of {MAX_LOAD_STEPS} (MAX_LOAD_STEPS); choose a larger {name}"
        )


def _check_loads(loads: Sequence[float]) -> tuple[float, ...]:
    """Explicit loads as a tuple; more than :data:`MAX_LOAD_STEPS` are refused."""
    if isinstance(loads, Sequence) and len(loads) > MAX_LOAD_STEPS:
        raise InputError(
            f"loads has {len(loads)} values, above the limit of {MAX_LOAD_STEPS} load steps "
            "(MAX_LOAD_STEPS)"
        )
    return tuple(loads)


def _params(base: dict[str, Any], overrides: dict[str, Any]) -> Params:
    names = {f.name for f in dataclasses.fields(Params)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise InputError(f"unknown parameter(s) {unknown}; allowed: {sorted(names)}")
    return Params(**{**base, **overrides})


def bar(
    comm: MPI.Comm = MPI.COMM_WORLD,
    *,
    length: float = 1.0,
    height: float = 0.02,
    h: float = 0.01,
    load_max: float = 1.5,
    steps: int = 60,
    loads: Sequence[float] | None = None,
    clamp_damage: bool = False,
    max_cells: int | None = None,
    quadrilateral: bool = True,
    **overrides: Any,
) -> Setup:
    """A bar in traction: ``u_x = 0`` on the left, ``u_x = load`` on the right, ``u_y = 0``
    at both ends, ``nu = 0`` by default so that it behaves as the 1D bar.

    The load is the end displacement; by default ``steps`` equal steps up to
    ``load_max`` times the critical strain times the length. With
    ``clamp_damage`` the damage is held at 0 at both ends, which makes the
    crack localise in the middle (use an odd number of cells to centre it on
    one element). The reaction is the force on the right end (divide by
    ``height`` for the stress). ``quadrilateral=False``: triangles (adaptive
    refinement needs them). ``steps`` is at most :data:`MAX_LOAD_STEPS`.
    """
    params = _params({"E": 1.0, "nu": 0.0, "Gc": 1.0, "ell": 0.1, "model": "AT1"}, overrides)
    with _table("mesh"):
        length = check_positive("length", length)
    bcs = (
        DisplacementBC("left", 0, 0.0),
        DisplacementBC("right", 0, 1.0, loaded=True),
        DisplacementBC("left", 1, 0.0),
        DisplacementBC("right", 1, 0.0),
    )
    e_mod = params.elastic.E_eff
    with _table("loading"):  # before the mesh: nothing is built for a bad load path
        steps = _check_steps("steps", steps)
        load_max = check_positive("load_max", load_max)
        if loads is None:
            u_c = params.crack.critical_strain(e_mod) * length
            loads = [load_max * u_c * (i + 1) / steps for i in range(steps)]
        loading = Loading(
            bcs,
            _check_loads(loads),
            reaction=("right", 0),
            damage_zero=("left", "right") if clamp_damage else (),
        )
    with _table("mesh"):
        tm = fmeshes.bar(
            comm,
            length=length,
            height=height,
            h=h,
            max_cells=max_cells,
            quadrilateral=quadrilateral,
        )
    info = {"length": length, "height": height, "E_eff": e_mod}
    return Setup(tm, params, loading, info=info, title="bar")


def _notched(
    comm: MPI.Comm,
    *,
    band: str,
    ell: float,
    h_band: float | None,
    h_far: float | None,
    loads: Sequence[float],
    top: tuple[DisplacementBC, ...],
    extra: tuple[DisplacementBC, ...],
    reaction: tuple[str, int],
    mesh: TaggedMesh | None,
    max_cells: int | None,
    overrides: dict[str, Any],
    notch_width: float | None = None,
) -> Setup:
    ell = check_positive("ell", ell)
    base = {**MIEHE_MATERIAL, "ell": ell, "model": "AT2", "split": "spectral"}
    params = _params(base, overrides)
    bcs = (DisplacementBC("bottom", None, (0.0, 0.0)), *top, *extra)
    with _table("loading"):
        loading = Loading(bcs, _check_loads(loads), reaction=reaction)
    with _table("mesh"):
        h_band = ell / 4 if h_band is None else check_positive("h_band", h_band)
        if mesh is not None:
            require_plane_mesh(mesh, {"tension": "SENT", "shear": "SENS"}.get(band, band))
        plate = partial(
            fmeshes.notched_plate,
            comm,
            band=band,
            band_halfwidth=max(3 * ell, 0.03),
            max_cells=max_cells,
        )
        tm = mesh or plate(h_band=h_band, h_far=h_far, notch_width=notch_width)
        crack_run_mesh = None
        notch = 2 * h_band if notch_width is None else notch_width  # the plate's default
        if mesh is None and params.crack_run and params.solver == "newton" and notch < 0.2:
            # twice the cell size in the band and the same notch (crack_run.CrackRun);
            # none for a plate so coarse that its notch is at the generator's limit
            h_coarse = CRACK_RUN_COARSENING * h_band
            h_far_coarse = None if h_far is None else max(h_far, h_coarse)
            crack_run_mesh = plate(h_band=h_coarse, h_far=h_far_coarse, notch_width=notch)
    tension = band == "tension"
    return Setup(
        tm,
        params,
        loading,
        info={"h_band": h_band if mesh is None else None, "ell": ell},  # None: the user's mesh
        title="SENT" if tension else "SENS",
        force_label=f"{'' if tension else 'horizontal '}reaction force on the top edge [kN]",
        crack_run_mesh=crack_run_mesh,
    )


def sent_loads(
    *, u_max: float = 6.5e-3, du: float = 1e-4, du_fine: float = 1e-5, u_fine: float = 4.5e-3
) -> tuple[float, ...]:
    """SENT top displacements (mm): steps ``du`` up to ``u_fine``, then ``du_fine``.

    Every value must be finite and > 0, ``du <= u_fine <= u_max``, and the path
    at most :data:`MAX_LOAD_STEPS` steps long (checked before it is built).
    """
    u_max = check_positive("u_max", u_max)
    du = check_positive("du", du)
    du_fine = check_positive("du_fine", du_fine)
    u_fine = check_positive("u_fine", u_fine)
    if du > u_fine:
        raise InputError(
            f"du = {du:g} must be <= u_fine = {u_fine:g} (steps du run up to u_fine, then du_fine)"
        )
    if u_fine > u_max:
        raise InputError(f"u_fine = {u_fine:g} must be <= u_max = {u_max:g}")
    n_coarse, n_fine = u_fine / du, (u_max - u_fine) / du_fine
    name, value = ("du", du) if n_coarse >= n_fine else ("du_fine", du_fine)
    how = "u_fine / du + (u_max - u_fine) / du_fine"
    _check_count(n_coarse + n_fine, name, value, how)
    coarse = np.arange(du, u_fine + 0.5 * du, du)
    fine = np.arange(coarse[-1] + du_fine, u_max + 0.5 * du_fine, du_fine)
    return tuple(float(v) for v in np.concatenate([coarse, fine]))


def ranges_loads(ranges: Sequence[Sequence[float]]) -> tuple[float, ...]:
    """Load steps from ``[start, stop, step]`` ranges, joined in order.

    Each range is ``numpy.arange(start, stop + 1e-9, step)`` (``stop`` included).
    There must be at least one range; ``start`` and ``step`` finite and > 0,
    ``stop`` finite and >= ``start``; at most :data:`MAX_LOAD_STEPS` steps in all
    (checked before any array is built).
    """
    if isinstance(ranges, (str, bytes)) or not isinstance(ranges, Sequence) or not ranges:
        raise InputError(f"ranges must hold at least one [start, stop, step] range, got {ranges!r}")
    checked: list[tuple[float, float, float]] = []
    total = 0.0
    for i, r in enumerate(ranges):
        where = f"ranges[{i}]"
        if isinstance(r, (str, bytes)) or not isinstance(r, Sequence) or len(r) != 3:
            raise InputError(f"{where} must be [start, stop, step], got {r!r}")
        start = check_positive(f"{where} start", r[0])
        stop = check_finite(f"{where} stop", r[1])
        step = check_positive(f"{where} step", r[2])
        if stop < start:
            raise InputError(f"{where} stop = {stop:g} must be >= start = {start:g}")
        count = (stop + 1e-9 - start) / step
        _check_count(total + count, f"{where} step", step, "sum of (stop - start) / step")
        total += count
        checked.append((start, stop, step))
    pieces = [np.arange(a, b + 1e-9, s) for a, b, s in checked]
    return tuple(float(v) for v in np.concatenate(pieces))


def notched_tension(
    comm: MPI.Comm = MPI.COMM_WORLD,
    *,
    ell: float = 0.015,
    h_band: float | None = None,
    h_far: float | None = None,
    loads: Sequence[float] | None = None,
    mesh: TaggedMesh | None = None,
    max_cells: int | None = None,
    notch_width: float | None = None,
    **overrides: Any,
) -> Setup:
    """Single-edge notched tension (SENT) in mm and kN, after Miehe et al. (2010).

    Bottom edge fixed, top edge moved vertically by the load (mm) with
    ``u_x = 0``; the reaction is the vertical force on the top edge (kN for the
    unit thickness of 1 mm). AT2 with the spectral split, plane strain, by
    default; ``h_band`` defaults to ``ell / 4`` along the crack path. A ``mesh``
    given replaces the gmsh plate (it needs the groups ``bottom`` and ``top``).
    ``notch_width`` is the opening of the V-notch at the left edge (default
    ``2 h_band``; a run that refines from a coarse mesh gives the fine one's).
    """
    return _notched(
        comm,
        band="tension",
        ell=ell,
        h_band=h_band,
        h_far=h_far,
        loads=sent_loads() if loads is None else loads,
        top=(DisplacementBC("top", 1, 1.0, loaded=True), DisplacementBC("top", 0, 0.0)),
        extra=(),
        reaction=("top", 1),
        mesh=mesh,
        max_cells=max_cells,
        overrides=overrides,
        notch_width=notch_width,
    )


def notched_tension_3d(
    comm: MPI.Comm = MPI.COMM_WORLD,
    *,
    ell: float = 0.05,
    h_band: float | None = None,
    thickness: float = 0.1,
    loads: Sequence[float] | None = None,
    max_cells: int | None = None,
    notch_width: float | None = None,
    **overrides: Any,
) -> Setup:
    """SENT in 3D: the Miehe plate extruded to a slab of ``thickness`` (mm, kN).

    Bottom face fixed; top face ``u_y = load``, ``u_x = 0`` (``u_z`` free, like
    the free front and back faces); the reaction is the vertical force on the
    top face. AT2 with the 3D spectral split by default; ``h_band`` defaults to
    ``ell / 4`` in the band ahead of the notch. The V-notch opens
    ``notch_width`` at the left face (default ``2 h_band``; a run that refines
    from a coarse band gives the fine one's, so that both model one slab).
    """
    from femgp.fem.meshes.fracture3d import notched_slab

    ell = check_positive("ell", ell)
    elastic_model = overrides.get("elastic_model", "3d")
    if elastic_model != "3d":
        raise InputError(
            f"elastic_model must be '3d' for the 3D SENT slab, got {elastic_model!r} "
            "('plane_strain' and 'plane_stress' are 2D models)"
        )
    base = {**MIEHE_MATERIAL, "ell": ell, "model": "AT2", "split": "spectral"}
    params = _params(base, {**overrides, "elastic_model": "3d"})
    bcs = (
        DisplacementBC("bottom", None, (0.0, 0.0, 0.0)),
        DisplacementBC("top", 1, 1.0, loaded=True),
        DisplacementBC("top", 0, 0.0),
    )
    if loads is None:
        loads = sent_loads(u_max=8e-3, du=1e-3, u_fine=5e-3, du_fine=2.5e-4)
    with _table("loading"):
        loading = Loading(bcs, _check_loads(loads), reaction=("top", 1))
    with _table("mesh"):
        thickness = check_positive("thickness", thickness)
        h_band = ell / 4 if h_band is None else check_positive("h_band", h_band)
        tm = notched_slab(
            comm,
            h_band=h_band,
            thickness=thickness,
            band_halfwidth=max(2 * ell, 4 * h_band),
            notch_width=notch_width,
            max_cells=max_cells,
        )
    return Setup(
        tm,
        params,
        loading,
        info={"h_band": h_band, "ell": ell, "thickness": thickness},
        title="SENT 3D",
        force_label="reaction force on the top face [kN]",
    )


def notched_shear(
    comm: MPI.Comm = MPI.COMM_WORLD,
    *,
    ell: float = 0.015,
    h_band: float | None = None,
    h_far: float | None = None,
    loads: Sequence[float] | None = None,
    mesh: TaggedMesh | None = None,
    max_cells: int | None = None,
    notch_width: float | None = None,
    **overrides: Any,
) -> Setup:
    """Single-edge notched shear (SENS) in mm and kN, after Miehe et al. (2010).

    Bottom edge fixed, top edge moved horizontally by the load with ``u_y = 0``,
    ``u_y = 0`` on the left and right edges; the reaction is the horizontal
    force on the top edge. The crack curves down towards the bottom right.
    ``notch_width`` as in :func:`notched_tension`.
    """
    if loads is None:
        loads = tuple(float(v) for v in np.arange(1e-4, 1.6e-2 + 1e-9, 1e-4))
    return _notched(
        comm,
        band="shear",
        ell=ell,
        h_band=h_band,
        h_far=h_far,
        loads=loads,
        top=(DisplacementBC("top", 0, 1.0, loaded=True), DisplacementBC("top", 1, 0.0)),
        extra=(DisplacementBC("left", 1, 0.0), DisplacementBC("right", 1, 0.0)),
        reaction=("top", 0),
        mesh=mesh,
        max_cells=max_cells,
        overrides=overrides,
        notch_width=notch_width,
    )


def k_field(
    *, E: float, nu: float, K: float, elastic_model: str, x0: float, speed: float = 1.0
) -> Callable[[np.ndarray, float], np.ndarray]:
    """The mode-I crack-tip displacement with its tip at ``(x0 + speed * t, 0)``.

    ``U = K/(2 mu) sqrt(r/(2 pi)) (kappa - cos theta) (cos(theta/2), sin(theta/2))``
    with ``kappa = 3 - 4 nu`` (plane strain) or ``(3 - nu)/(1 + nu)`` (plane stress).
    """
    _, mu = lame_from_young(E, nu)
    kappa = (3 - nu) / (1 + nu) if elastic_model == "plane_stress" else 3 - 4 * nu

    def U(x: np.ndarray, t: float) -> np.ndarray:
        dx = x[0] - (x0 + speed * t)
        dy = x[1]
        r = np.hypot(dx, dy)
        theta = np.arctan2(dy, dx)
        amp = K / (2 * mu) * np.sqrt(r / (2 * math.pi)) * (kappa - np.cos(theta))
        return np.vstack([amp * np.cos(theta / 2), amp * np.sin(theta / 2)])

    return U


def surfing(
    comm: MPI.Comm = MPI.COMM_WORLD,
    *,
    length: float = 1.0,
    height: float = 0.4,
    ell: float = 0.02,
    h_band: float | None = None,
    crack0: float = 0.2,
    advance: float = 0.5,
    steps: int = 25,
    load_factor: float = 1.0,
    g_theta: tuple[float, float] | None = (2.5, 4.5),
    max_cells: int | None = None,
    **overrides: Any,
) -> Setup:
    """The surfing test: a crack driven along ``y = 0`` by a moving K_I field.

    Nondimensional: ``E = 1, nu = 0.3, Gc = 1`` by default, plane strain, AT1
    without split. The whole outer boundary follows the K-field whose tip moves
    from ``crack0`` by ``advance`` in ``steps`` steps (the load is the tip
    advance), with ``K_I = load_factor * sqrt(Gc_eff E')``, ``E' = E / (1 - nu^2)``
    in plane strain. The initial crack ``[0, crack0] × {0}`` is an initial
    damage with the model's optimal profile. With ``g_theta = (r1, r2)`` (radii
    in units of ell) every step records the damage tip and G-theta
    (:func:`g_theta_observer`); ``None`` records neither.

    The crack starts inside the strip (``0 < crack0 < length``) and its tip
    stays there (``crack0 + advance <= length``); ``steps`` is at most
    :data:`MAX_LOAD_STEPS`.
    """
    params = _params({"E": 1.0, "nu": 0.3, "Gc": 1.0, "ell": ell, "model": "AT1"}, overrides)
    with _table("mesh"):
        length = check_positive("length", length)
    with _table("loading"):  # before the mesh: nothing is built for a bad load path
        crack0 = check_finite("crack0", crack0)
        if not 0 < crack0 < length:
            raise InputError(
                f"crack0 must lie inside the strip, in (0, length = {length:g}), got {crack0!r}"
            )
        advance = check_positive("advance", advance)
        if crack0 + advance > length:
            raise InputError(
                f"crack0 + advance = {crack0 + advance:g} takes the crack tip past the end of "
                f"the strip (length = {length:g}); advance must be <= {length - crack0:g}"
            )
        steps = _check_steps("steps", steps)
        load_factor = check_positive("load_factor", load_factor)
    observer = None
    if g_theta is not None:
        with _table("analysis"):
            observer = g_theta_observer(params.ell, r1=g_theta[0], r2=g_theta[1])
    with _table("mesh"):
        h_band = params.ell / 5 if h_band is None else check_positive("h_band", h_band)
        tm = fmeshes.strip(
            comm,
            length=length,
            height=height,
            h_band=h_band,
            band_halfwidth=max(4 * params.ell, 2 * h_band),
            max_cells=max_cells,
        )
    el = params.elastic
    e_prime = el.E_eff if params.elastic_model == "plane_strain" else el.E
    gc_eff = params.crack.gc_eff(h_band)
    K = load_factor * math.sqrt(gc_eff * e_prime)
    U = k_field(E=params.E, nu=params.nu, K=K, elastic_model=params.elastic_model, x0=crack0)
    bcs = tuple(DisplacementBC(g, None, U) for g in ("left", "right", "bottom", "top"))
    loads = tuple(advance * (i + 1) / steps for i in range(steps))
    crack = params.crack

    def initial(x: np.ndarray) -> np.ndarray:
        d = np.where(x[0] <= crack0, np.abs(x[1]), np.hypot(x[0] - crack0, x[1]))
        return crack.profile(d)

    return Setup(
        tm,
        params,
        Loading(bcs, loads),
        initial_damage=initial,
        info={"K": K, "E_prime": e_prime, "gc_eff": gc_eff, "h_band": h_band, "crack0": crack0},
        title="surfing",
        observer=observer,
        extra_columns=() if g_theta is None else ("tip", "G"),
    )


def lpanel_loads(*, u_max: float = 1.0, du: float = 0.01) -> tuple[float, ...]:
    """L-panel load-point displacements (mm): ``du`` steps up to ``u_max``.

    Both finite and > 0; at most :data:`MAX_LOAD_STEPS` steps (checked first).
    """
    u_max = check_positive("u_max", u_max)
    du = check_positive("du", du)
    _check_count(u_max / du, "du", du, "u_max / du")
    n = max(1, round(u_max / du))
    return tuple(float(u_max * (k + 1) / n) for k in range(n))


def lpanel(
    comm: MPI.Comm = MPI.COMM_WORLD,
    *,
    ell: float = 10.0,
    h: float | None = None,
    h_far: float | None = None,
    loads: Sequence[float] | None = None,
    mesh: TaggedMesh | None = None,
    max_cells: int | None = None,
    **overrides: Any,
) -> Setup:
    """Winkler's L-shaped concrete panel (mm, kN), as in Ambati et al. (2015).

    The panel of :func:`femgp.fem.meshes.panels.lpanel` (``[0, 500]^2`` without
    its lower-right quarter): the bottom edge clamped, the ``load`` segment of
    the arm's lower face (centred 30 mm from the free end) pushed up by the load
    (mm), ``u_x`` free there. Material :data:`WINKLER_MATERIAL`, AT2 with the
    volumetric-deviatoric split, plane strain, by default. The reaction is the
    vertical force on the load segment per mm of thickness (kN/mm; the panel of
    the experiments is 100 mm thick). ``h`` (default ``ell / 2``) is the mesh
    size in the band left of the re-entrant corner, ``h_far`` elsewhere; a
    ``mesh`` given replaces the generated one (groups ``bottom`` and ``load``).
    """
    from femgp.fem.meshes.panels import lpanel as lpanel_mesh

    ell = check_positive("ell", ell)
    base = {**WINKLER_MATERIAL, "ell": ell, "model": "AT2", "split": "voldev"}
    params = _params(base, overrides)
    bcs = (DisplacementBC("bottom", None, (0.0, 0.0)), DisplacementBC("load", 1, 1.0, loaded=True))
    with _table("loading"):
        loads = _check_loads(lpanel_loads() if loads is None else loads)
        loading = Loading(bcs, loads, reaction=("load", 1))
    with _table("mesh"):
        h = ell / 2 if h is None else check_positive("h", h)
        if mesh is not None:
            require_plane_mesh(mesh, "L-panel")
        tm = mesh or lpanel_mesh(comm, h=h, h_far=h_far, max_cells=max_cells)
    return Setup(
        tm,
        params,
        loading,
        info={"h_band": h if mesh is None else None, "ell": ell, "thickness": 100.0},
        title="L-panel",
        force_label="vertical force on the load segment [kN/mm]",
    )
