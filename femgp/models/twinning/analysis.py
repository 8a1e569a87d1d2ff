"""Initial conditions and measurements of twin microstructures.

- :func:`random_field`: a reproducible "random" field that is a *function of
  x* (a sum of plane waves with pseudo-random wave vectors and phases drawn
  from a seeded generator), so every rank and every partition sees the same
  initial state. At most :data:`MAX_MODES` plane waves.
- :func:`orientation`: the dominant orientation of the walls of a field
  ``psi`` (e.g. ``eta1 - eta2``) from its gradient: the structure tensor
  ``S = ∫ grad psi ⊗ grad psi`` (principal direction, two-fold) and the
  four-fold moment ``∫ (psi_x + i psi_y)^4`` (insensitive to which of two
  perpendicular wall families dominates). All integrals are allreduced.
- :func:`tanh_wall`: the analytic Ginzburg-Landau wall.
"""

from __future__ import annotations

import cmath
import math
from collections.abc import Callable
from dataclasses import dataclass

import femgp.fem._backend  # noqa: F401  (dolfinx_solver before dolfinx)

import numpy as np
import ufl
from dolfinx import fem
from mpi4py import MPI

from femgp.errors import InputError
from femgp.fem.forms import scalar
from femgp.fem.io import described
from femgp.validation import check_positive

__all__ = ["MAX_MODES", "Orientation", "orientation", "random_field", "tanh_wall", "wall_energy"]

#: The most plane waves :func:`random_field` takes (``[initial] modes``). The
#: default 48 already gives a well-mixed noise; thousands add nothing but cost
#: (every evaluation sums all of them at every point).
MAX_MODES = 4096

#: Plane waves summed at once when the field is evaluated: the temporary array
#: holds this many values per point, however many modes there are.
_MODES_PER_CHUNK = 64


def random_field(
    seed: int,
    *,
    amplitude: float,
    wavelength: tuple[float, float],
    modes: int = 48,
    mean: float = 0.0,
    dim: int = 2,
) -> Callable[[np.ndarray], np.ndarray]:
    """A smooth pseudo-random field of x: ``mean + amplitude * sqrt(2/K) Σ_k cos(k·x + phase_k)``.

    Wave vectors have uniformly random directions (in ``dim`` dimensions) and
    lengths ``2 pi / lambda`` with ``lambda`` uniform in ``wavelength``; the
    RMS of the fluctuation is about ``amplitude``. Same seed, same field, on
    any number of ranks. ``modes`` is an integer in ``[1, MAX_MODES]``.
    """
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise InputError(f"seed must be a non-negative integer, got {seed!r}")
    if (
        isinstance(modes, bool)
        or not isinstance(modes, int | np.integer)
        or not 1 <= modes <= MAX_MODES
    ):
        raise InputError(f"modes must be an integer in [1, {MAX_MODES}], got {modes!r}")
    modes = int(modes)
    check_positive("amplitude", amplitude)
    lo, hi = wavelength
    check_positive("shortest wavelength", lo)
    check_positive("longest wavelength", hi)
    if not hi >= lo:
        raise InputError(f"wavelength range must be (shortest, longest), got {wavelength!r}")
    if dim not in (1, 2, 3):
        raise InputError(f"dim must be 1, 2 or 3, got {dim!r}")
    rng = np.random.default_rng(int(seed))
    dirs = rng.normal(size=(modes, dim))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    lengths = rng.uniform(lo, hi, size=modes)
    k = dirs * (2 * np.pi / lengths)[:, None]
    phases = rng.uniform(0.0, 2 * np.pi, size=modes)
    scale = amplitude * math.sqrt(2.0 / modes)

    def field(x: np.ndarray) -> np.ndarray:
        total = 0.0
        for i in range(0, modes, _MODES_PER_CHUNK):
            chunk = slice(i, i + _MODES_PER_CHUNK)
            arg = k[chunk] @ x[:dim] + phases[chunk, None]
            total = total + np.cos(arg).sum(axis=0)
        return mean + scale * total

    return described(
        field,
        "random_field",
        seed=int(seed),
        amplitude=float(amplitude),
        wavelength=[float(lo), float(hi)],
        modes=modes,
        mean=float(mean),
        dim=dim,
    )


@dataclass(frozen=True)
class Orientation:
    """Wall orientation measured from ``grad psi`` (angles in degrees, in [0, 180)).

    Attributes:
        normal_angle: principal direction of the structure tensor (the dominant
            wall normal).
        anisotropy: ``(s1 - s2) / (s1 + s2)`` of its eigenvalues (0: no preferred
            direction, 1: all walls parallel).
        fourfold_angle: ``arg(∫ (psi_x + i psi_y)^4) / 4`` in [0, 90): the dominant
            normal modulo 90 degrees.
        fourfold_coherence: ``|∫ (psi_x + i psi_y)^4| / ∫ |grad psi|^4`` in [0, 1].
        structure: the structure tensor ``∫ grad psi ⊗ grad psi`` (d x d).
    """

    normal_angle: float
    anisotropy: float
    fourfold_angle: float
    fourfold_coherence: float
    structure: np.ndarray

    def deviation_from(self, angle: float) -> float:
        """Smallest distance (degrees) of the principal normal from ``angle``, modulo 180."""
        d = (self.normal_angle - angle) % 180.0
        return min(d, 180.0 - d)

    def fourfold_deviation_from(self, angle: float) -> float:
        """Smallest distance (degrees) of the four-fold normal from ``angle``, modulo 90."""
        d = (self.fourfold_angle - angle) % 90.0
        return min(d, 90.0 - d)


def orientation(
    psi: ufl.core.expr.Expr, comm: MPI.Comm, *, dx: ufl.Measure | None = None
) -> Orientation:
    """Measure the dominant wall orientation of the 2D field ``psi`` (allreduced)."""
    g = ufl.grad(psi)
    if g.ufl_shape != (2,):
        raise InputError(f"orientation needs a 2D scalar field, got gradient shape {g.ufl_shape}")
    dx = dx or ufl.dx
    gx, gy = g[0], g[1]
    S = np.array(
        [
            [scalar(fem.form(gx * gx * dx), comm), scalar(fem.form(gx * gy * dx), comm)],
            [scalar(fem.form(gx * gy * dx), comm), scalar(fem.form(gy * gy * dx), comm)],
        ]
    )
    w, v = np.linalg.eigh(S)
    n = v[:, -1]
    normal = math.degrees(math.atan2(n[1], n[0])) % 180.0
    aniso = (w[-1] - w[0]) / (w[-1] + w[0]) if w[-1] + w[0] > 0 else 0.0
    # (gx + i gy)^4 = gx^4 - 6 gx^2 gy^2 + gy^4 + 4 i (gx^3 gy - gx gy^3)
    re = scalar(fem.form((gx**4 - 6 * gx**2 * gy**2 + gy**4) * dx), comm)
    im = scalar(fem.form(4 * (gx**3 * gy - gx * gy**3) * dx), comm)
    norm4 = scalar(fem.form((gx**2 + gy**2) ** 2 * dx), comm)
    z = complex(re, im)
    four = math.degrees(cmath.phase(z) / 4.0) % 90.0 if abs(z) > 0 else float("nan")
    coh = abs(z) / norm4 if norm4 > 0 else 0.0
    return Orientation(
        normal_angle=normal,
        anisotropy=float(aniso),
        fourfold_angle=four,
        fourfold_coherence=float(coh),
        structure=S,
    )


def tanh_wall(a: float, kappa: float) -> tuple[Callable[[np.ndarray], np.ndarray], float, float]:
    """The wall of ``f = a (eta^2 - 1)^2`` with ``kappa/2 |eta'|^2``.

    Returns ``(profile, delta, sigma)``: ``eta(x) = tanh(x / delta)``,
    ``delta = sqrt(kappa / (2 a))`` and the wall energy ``(4/3) sqrt(2 a kappa)``.
    """
    check_positive("a", a)
    check_positive("kappa", kappa)
    delta = math.sqrt(kappa / (2 * a))

    def profile(x: np.ndarray) -> np.ndarray:
        return np.tanh(np.asarray(x) / delta)

    return profile, delta, wall_energy(a, kappa)


def wall_energy(a: float, kappa: float) -> float:
    """``sigma = ∫ sqrt(2 kappa f) d eta = (4/3) sqrt(2 a kappa)`` for ``f = a (eta^2 - 1)^2``."""
    return 4.0 / 3.0 * math.sqrt(2.0 * a * kappa)
