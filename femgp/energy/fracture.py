"""Phase-field fracture vocabulary: the degradation ``a(alpha)`` and the crack density.

The regularised fracture energy of Bourdin, Francfort and Marigo, in the
conventions of Pham, Amor, Marigo and Maurini, is

    E(u, alpha) = ∫ a(alpha) psi(eps(u)) + Gc / c_w (w(alpha) / ell + ell |grad alpha|^2)

with ``a(alpha) = (1 - alpha)^2 + k_res`` and the normalisation
``c_w = 4 ∫_0^1 sqrt(w)``:

- AT1: ``w = alpha``, ``c_w = 8/3``: an elastic phase until
  ``sigma_c = sqrt(3 Gc E / (8 ell))``, localised profile
  ``(1 - |x| / (2 ell))^2`` on ``|x| <= 2 ell``.
- AT2: ``w = alpha^2``, ``c_w = 2``: no elastic phase; the homogeneous response
  peaks at ``sigma_max = (3 sqrt(3) / 16) sqrt(E Gc / ell)``; profile
  ``exp(-|x| / ell)``.

:class:`CrackDensity` is built on :class:`~femgp.energy.GradientPenalty`: its
gradient part *is* a gradient penalty with ``kappa = 2 Gc ell / c_w``. Its
density needs only arithmetic, so it renders into numpy, UFL and torch alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

from femgp.energy.terms import Fields, GradientPenalty, Term, _get
from femgp.errors import InputError
from femgp.validation import check_choice, check_nonnegative, check_positive

__all__ = ["CRACK_MODELS", "CrackDensity", "Degradation", "c_w"]

#: The crack-density models and their normalisation constants ``c_w``.
CRACK_MODELS: dict[str, float] = {"AT1": 8.0 / 3.0, "AT2": 2.0}


def c_w(model: str) -> float:
    """The normalisation ``c_w = 4 ∫_0^1 sqrt(w(s)) ds`` of ``model`` ("AT1" or "AT2")."""
    check_choice("crack model", model, tuple(CRACK_MODELS))
    return CRACK_MODELS[model]


@dataclass(frozen=True)
class Degradation:
    """The stiffness degradation ``a(alpha) = (1 - alpha)^2 + k_res``.

    Calling it on a value of any backend (float, numpy array, UFL expression,
    torch tensor) returns ``a(alpha)`` in that backend.

    Args:
        k_res: residual stiffness (>= 0, small), keeps the damaged material
            from losing all stiffness so that the displacement problem stays
            well posed.
    """

    k_res: float = 1e-6

    def __post_init__(self) -> None:
        check_nonnegative("Degradation.k_res", self.k_res)
        if self.k_res >= 1.0:
            raise InputError(f"Degradation.k_res must be < 1, got {self.k_res!r}")

    def __call__(self, alpha: Any) -> Any:
        return (1 - alpha) ** 2 + self.k_res

    def derivative(self, alpha: Any) -> Any:
        """``a'(alpha) = -2 (1 - alpha)``."""
        return -2 * (1 - alpha)


@dataclass(frozen=True)
class CrackDensity(Term):
    """The crack surface density ``Gc / c_w (w(alpha) / ell + ell |grad alpha|^2)``.

    Args:
        Gc: fracture toughness (energy per unit crack area, > 0).
        ell: regularisation length (> 0).
        model: ``"AT1"`` (``w = alpha``) or ``"AT2"`` (``w = alpha^2``).
        damage: name of the damage field.
    """

    Gc: float
    ell: float
    model: str = "AT1"
    damage: str = "alpha"

    label: ClassVar[str] = "surface"

    def __post_init__(self) -> None:
        check_positive("CrackDensity.Gc", self.Gc)
        check_positive("CrackDensity.ell", self.ell)
        check_choice("crack model", self.model, tuple(CRACK_MODELS))
        if not isinstance(self.damage, str) or not self.damage:
            raise InputError(f"CrackDensity.damage must be a non-empty name, got {self.damage!r}")

    # -- the density -----------------------------------------------------------
    @property
    def c_w(self) -> float:
        """The normalisation constant ``c_w`` (8/3 for AT1, 2 for AT2)."""
        return CRACK_MODELS[self.model]

    @property
    def gradient(self) -> GradientPenalty:
        """The gradient part as a :class:`GradientPenalty` (``kappa = 2 Gc ell / c_w``)."""
        return GradientPenalty(kappa=2.0 * self.Gc * self.ell / self.c_w, field=self.damage)

    @property
    def fields(self) -> tuple[str, ...]:
        return (self.damage,)

    def w(self, alpha: Any) -> Any:
        """The local dissipation function ``w(alpha)``."""
        return alpha if self.model == "AT1" else alpha * alpha

    def local_density(self, ops: Any, fields: Fields) -> Any:
        """The local part ``Gc w(alpha) / (c_w ell)``."""
        alpha = _get(fields, self.damage)
        return self.Gc / (self.c_w * self.ell) * self.w(alpha)

    def density(self, ops: Any, fields: Fields) -> Any:
        return self.local_density(ops, fields) + self.gradient.density(ops, fields)

    # -- analytic results -------------------------------------------------------
    def critical_stress(self, E: float) -> float:
        """The homogeneous 1D bar's peak stress for Young's modulus ``E``.

        AT1: the elastic limit ``sigma_c = sqrt(3 Gc E / (8 ell))``; AT2: the
        maximum of the (never elastic) response ``(3 sqrt(3)/16) sqrt(E Gc / ell)``.
        """
        E = check_positive("E", E)
        if self.model == "AT1":
            return math.sqrt(3.0 * self.Gc * E / (8.0 * self.ell))
        return 3.0 * math.sqrt(3.0) / 16.0 * math.sqrt(E * self.Gc / self.ell)

    def critical_strain(self, E: float) -> float:
        """The strain at the peak stress of the homogeneous bar.

        AT1: ``sigma_c / E``; AT2: ``sqrt(Gc / (3 E ell))`` (where ``alpha = 1/4``).
        """
        E = check_positive("E", E)
        if self.model == "AT1":
            return self.critical_stress(E) / E
        return math.sqrt(self.Gc / (3.0 * E * self.ell))

    def critical_energy(self) -> float:
        """The elastic energy density ``psi_c`` that drives the homogeneous bar to its peak.

        The undamaged ``psi = E eps^2 / 2`` at :meth:`critical_strain`, which
        depends on ``Gc / ell`` only: AT1 ``3 Gc / (16 ell)`` (damage starts:
        ``-a'(0) psi = Gc w'(0) / (c_w ell)``), AT2 ``Gc / (6 ell)`` (the peak
        stress, where ``alpha = 1/4``). The critical value of the driving force
        ``psi_+`` that adaptive refinement compares with.
        """
        if self.model == "AT1":
            return 3.0 * self.Gc / (16.0 * self.ell)
        return self.Gc / (6.0 * self.ell)

    def gc_eff(self, h: float) -> float:
        """The effective toughness on a mesh of size ``h``: ``Gc (1 + h / (c_w ell))``."""
        h = check_positive("h", h)
        return self.Gc * (1.0 + h / (self.c_w * self.ell))

    def profile(self, x: Any) -> Any:
        """The localised 1D damage profile around a crack at ``x = 0`` (numpy).

        AT1: ``(1 - |x| / (2 ell))^2`` on ``|x| <= 2 ell`` (0 outside);
        AT2: ``exp(-|x| / ell)``.
        """
        import numpy as np

        r = np.abs(np.asarray(x, dtype=float))
        if self.model == "AT1":
            return np.where(r <= 2 * self.ell, (1 - r / (2 * self.ell)) ** 2, 0.0)
        return np.exp(-r / self.ell)

    def homogeneous_damage(self, strain: float, E: float) -> float:
        """The damage of the homogeneous 1D bar at ``strain`` (AT2, or AT1 past sigma_c).

        Stationarity of ``(1 - alpha)^2 E eps^2 / 2 + Gc w(alpha) / (c_w ell)`` in
        alpha, clipped to [0, 1]. For AT1 the bar stays undamaged below ``sigma_c``.
        """
        E = check_positive("E", E)
        drive = E * strain * strain  # -a'(alpha) psi = (1 - alpha) E eps^2
        k = self.Gc / (self.c_w * self.ell)
        if self.model == "AT1":
            alpha = 1.0 - k / drive if drive > 0 else 0.0
        else:
            alpha = drive / (drive + 2 * k)
        return min(max(alpha, 0.0), 1.0)
