"""Linear elasticity as an energy term, with tension-compression splits for fracture.

:class:`IsotropicElasticEnergy` is ``psi(eps) = lambda/2 tr(eps)^2 + mu eps:eps``
of an elastic strain ``eps`` given by a :class:`Strain` (small strain
``sym(grad u)`` by default; a twinning model subtracts a transformation strain).
With a :class:`~femgp.energy.fracture.Degradation` ``a(alpha)`` the density is

    a(alpha) psi_+(eps) + psi_-(eps)

where the split decides what a crack may not relieve:

- ``"none"``: ``psi_+ = psi``, ``psi_- = 0`` (Bourdin, Francfort, Marigo);
- ``"voldev"`` (Amor, Marigo, Maurini 2009): ``psi_+ = K/2 <tr eps>_+^2 + mu dev eps : dev eps``,
  ``psi_- = K/2 <tr eps>_-^2``;
- ``"spectral"`` (Miehe, Welschinger, Hofacker 2010):
  ``psi_± = lambda/2 <tr eps>_±^2 + mu sum_i <eps_i>_±^2`` over the principal strains.

Models:

- ``"plane_strain"``: 2×2 strain, ``eps_zz = 0``. The vol-dev split uses the 3D
  bulk modulus ``K = lambda + 2 mu / 3`` and the 3D deviator (the deviator of
  the plane-strain tensor, ``eps_zz = 0`` included); the spectral split's third
  principal strain is 0 and adds nothing.
- ``"plane_stress"``: 2×2 strain with ``lambda* = 2 lambda mu / (lambda + 2 mu)``
  in place of lambda; vol-dev uses ``K* = lambda* + mu`` and the 2D deviator.
- ``"3d"``: 3×3 strain, ``K = lambda + 2 mu / 3``.

The 2D principal strains are ``m ± r`` with ``m = tr(eps)/2`` and
``r = sqrt(dev eps : dev eps / 2 + delta^2)``; the tiny ``delta`` keeps ``r > 0``
so that derivatives at isotropic strain are finite (no NaN) in UFL and torch;
it changes the energy by at most ``2 mu delta^2``.

The 3D principal strains are the trigonometric (Cardano) roots of the
characteristic polynomial, from the invariants of the deviator ``s``:
``eps_k = m + rho cos(phi - 2 pi k / 3)``, ``k = 0, 1, 2`` (in decreasing
order), with ``m = tr(eps)/3``, ``J2 = s:s/2 + delta^2``, ``J3 = det s``,
``rho = 2 sqrt(J2/3)`` and ``3 phi = atan2(y, x)``, ``x = 3 sqrt(3) J3``,
``y = sqrt(4 (1 + kappa) J2^3 - 27 J3^2)``. Written with ``atan2`` instead of
``acos(x / (2 J2^(3/2)))``, nothing is divided by ``J2``; ``y^2`` is the
discriminant ``4 J2^3 - 27 J3^2 = prod_(i<j) (eps_i - eps_j)^2 >= 0`` plus a
relative floor ``kappa = 1e-12`` (a thousand times the rounding error of the
discriminant), so ``y > 0`` and ``sqrt`` is differentiated away from 0 where two
principal strains coincide; ``delta`` does the same for ``rho`` where all three
coincide. The energy is an even, smooth function of ``y`` (its derivative in
``y`` vanishes like ``y``), so the regularised first and second derivatives tend
to the exact ones of ``sum_i f(eps_i)`` instead of ``0 * inf``. The floors move
the principal strains by at most ``delta`` plus ``rho sqrt(kappa) / 3``
(3e-7 of the deviatoric strain, only within ~1e-6 rad of a coincidence; about
``kappa cot(3 phi)``, i.e. 1e-11 of it, in general). The deviator's last
diagonal entry is corrected so that its trace is rounding of the deviator's
size, not of the strain's (near isotropic strain a trace error would otherwise
make the discriminant negative); a ``max`` guards the square root all the same.

The density is written once against an ops namespace (numpy, UFL, torch).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

from femgp.energy.fracture import Degradation
from femgp.energy.terms import Fields, Term, _get
from femgp.errors import InputError
from femgp.validation import check_choice, check_finite, check_positive

__all__ = [
    "ELASTIC_MODELS",
    "SPLITS",
    "IsotropicElasticEnergy",
    "SmallStrain",
    "Strain",
    "lame_from_young",
]

#: Tension-compression splits.
SPLITS: tuple[str, ...] = ("none", "voldev", "spectral")
#: Kinematic models.
ELASTIC_MODELS: tuple[str, ...] = ("plane_strain", "plane_stress", "3d")

#: The regularisation ``delta`` of the principal-strain radius (strain units), 2D and 3D.
SPECTRAL_DELTA = 1e-10
#: The relative floor ``kappa`` of the 3D discriminant (see the module docstring).
SPECTRAL_KAPPA = 1e-12


class Strain:
    """An elastic-strain measure: ``elastic_strain(ops, fields)`` is the small-strain tensor.

    Subclasses are frozen dataclasses; :attr:`fields` names the fields they read.
    """

    @property
    def fields(self) -> tuple[str, ...]:
        """Names of the fields the strain depends on."""
        raise NotImplementedError

    def elastic_strain(self, ops: Any, fields: Fields) -> Any:
        """The (symmetric) elastic strain tensor at each point."""
        raise NotImplementedError


@dataclass(frozen=True)
class SmallStrain(Strain):
    """The small strain ``eps = sym(grad u)`` of a displacement field.

    Args:
        displacement: name of the displacement field.
    """

    displacement: str = "u"

    def __post_init__(self) -> None:
        if not isinstance(self.displacement, str) or not self.displacement:
            raise InputError(
                f"SmallStrain.displacement must be a non-empty name, got {self.displacement!r}"
            )

    @property
    def fields(self) -> tuple[str, ...]:
        return (self.displacement,)

    def elastic_strain(self, ops: Any, fields: Fields) -> Any:
        return ops.sym(_get(fields, self.displacement, "grad"))


def lame_from_young(E: float, nu: float) -> tuple[float, float]:
    """Lamé's ``(lambda, mu)`` from Young's modulus ``E > 0`` and Poisson's ratio -1 < nu < 1/2."""
    E = check_positive("E", E)
    nu = check_finite("nu", nu)
    if not -1.0 < nu < 0.5:
        raise InputError(f"Poisson's ratio nu must be in (-1, 0.5), got {nu!r}")
    return E * nu / ((1 + nu) * (1 - 2 * nu)), E / (2 * (1 + nu))


@dataclass(frozen=True)
class IsotropicElasticEnergy(Term):
    """Isotropic linear elastic energy with an optional degradation and split.

    Args:
        lmbda: Lamé's first parameter; must exceed ``-2 mu / 3`` (positive bulk modulus).
        mu: shear modulus (> 0).
        split: ``"none"``, ``"voldev"`` (Amor) or ``"spectral"`` (Miehe).
        model: ``"plane_strain"``, ``"plane_stress"`` or ``"3d"``.
        strain: the elastic-strain measure (default ``sym(grad u)``).
        degradation: ``a(alpha)`` multiplying the tensile part (all of it for
            split ``"none"``); ``None``: no damage.
        damage: name of the damage field (used only with a degradation).
    """

    lmbda: float
    mu: float
    split: str = "none"
    model: str = "plane_strain"
    strain: Strain = SmallStrain()
    degradation: Degradation | None = None
    damage: str = "alpha"

    label: ClassVar[str] = "elastic"

    def __post_init__(self) -> None:
        mu = check_positive("IsotropicElasticEnergy.mu", self.mu)
        lmbda = check_finite("IsotropicElasticEnergy.lmbda", self.lmbda)
        if not lmbda > -2.0 * mu / 3.0:
            raise InputError(
                f"IsotropicElasticEnergy.lmbda must exceed -2 mu / 3 = {-2.0 * mu / 3.0!r} "
                f"(positive bulk modulus), got {self.lmbda!r}"
            )
        check_choice("split", self.split, SPLITS)
        check_choice("elastic model", self.model, ELASTIC_MODELS)
        if not isinstance(self.strain, Strain):
            raise InputError(f"strain must be a Strain, got {type(self.strain).__name__}")
        if self.degradation is not None and not isinstance(self.degradation, Degradation):
            raise InputError(
                f"degradation must be a Degradation or None, got {type(self.degradation).__name__}"
            )
        if not isinstance(self.damage, str) or not self.damage:
            raise InputError(f"damage must be a non-empty name, got {self.damage!r}")

    @classmethod
    def from_young(cls, E: float, nu: float, **kw: Any) -> IsotropicElasticEnergy:
        """Build from Young's modulus and Poisson's ratio (3D Lamé constants).

        For ``model="plane_stress"`` pass the 3D ``E, nu``; the plane-stress
        ``lambda*`` is applied internally.
        """
        lmbda, mu = lame_from_young(E, nu)
        return cls(lmbda=lmbda, mu=mu, **kw)

    # -- material constants ------------------------------------------------------
    @property
    def E(self) -> float:
        """Young's modulus."""
        return self.mu * (3 * self.lmbda + 2 * self.mu) / (self.lmbda + self.mu)

    @property
    def nu(self) -> float:
        """Poisson's ratio."""
        return self.lmbda / (2 * (self.lmbda + self.mu))

    @property
    def lmbda_eff(self) -> float:
        """The lambda entering the in-plane law (``lambda*`` in plane stress)."""
        if self.model == "plane_stress":
            return 2 * self.lmbda * self.mu / (self.lmbda + 2 * self.mu)
        return self.lmbda

    @property
    def dim_split(self) -> int:
        """The dimension of the vol-dev split (3 unless plane stress)."""
        return 2 if self.model == "plane_stress" else 3

    @property
    def bulk(self) -> float:
        """The bulk modulus of the vol-dev split: ``lambda_eff + 2 mu / dim_split``."""
        return self.lmbda_eff + 2 * self.mu / self.dim_split

    @property
    def E_eff(self) -> float:
        """The uniaxial-stress modulus of a bar in this model (E, or E/(1-nu^2) in plane strain).

        A 2D bar pulled along x with free lateral faces: plane stress gives ``E``,
        plane strain ``E / (1 - nu^2)`` (``eps_zz = 0``), 3D ``E``.
        """
        if self.model == "plane_strain":
            return self.E / (1 - self.nu**2)
        return self.E

    @property
    def fields(self) -> tuple[str, ...]:
        out = tuple(self.strain.fields)
        if self.degradation is not None and self.damage not in out:
            out = (*out, self.damage)
        return out

    # -- densities ------------------------------------------------------------
    def strain_energy(self, ops: Any, eps: Any) -> Any:
        """The undegraded ``psi(eps) = lambda/2 tr(eps)^2 + mu eps:eps``."""
        tr = ops.tr(eps)
        return 0.5 * self.lmbda_eff * tr * tr + self.mu * ops.inner(eps, eps)

    def _principal_2d(self, ops: Any, eps: Any) -> tuple[Any, Any, Any]:
        """``(m, r, D)``: principal strains ``m ± r`` and the 2D deviator ``D``."""
        m = 0.5 * ops.tr(eps)
        D = ops.dev(eps)
        r = ops.sqrt(0.5 * ops.inner(D, D) + SPECTRAL_DELTA**2)
        return m, r, D

    def _principal_3d(self, ops: Any, eps: Any) -> tuple[Any, Any, Any, Any, Any]:
        """``(m, rho, phi, s, aux)``: the principal strains ``m + rho cos(phi - 2 pi k/3)``.

        ``s`` is the (trace-corrected) deviator and ``aux = (J2, J3, x, y)`` the
        regularised invariants the closed-form stress needs.
        """
        m = ops.tr(eps) / 3.0
        s = ops.dev(eps)
        # Put the deviator's trace (rounding of the strain's size) into its last entry.
        s = s - ops.tr(s) * ops.as_tensor([[0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
        J2 = 0.5 * ops.inner(s, s) + SPECTRAL_DELTA**2
        J3 = _det3(s)
        J2_cubed = J2 * J2 * J2
        x = 3.0 * math.sqrt(3.0) * J3
        y = ops.sqrt(
            ops.max(
                4.0 * (1.0 + SPECTRAL_KAPPA) * J2_cubed - 27.0 * J3 * J3, SPECTRAL_KAPPA * J2_cubed
            )
        )
        phi = ops.atan2(y, x) / 3.0
        rho = 2.0 * ops.sqrt(J2 / 3.0)
        return m, rho, phi, s, (J2, J3, x, y)

    def principal_strains(self, ops: Any, eps: Any) -> tuple[Any, ...]:
        """The principal strains in decreasing order (2 in 2D, 3 in 3D), regularised.

        In 2D ``m ± r``; in 3D the closed-form roots of the module docstring. They
        agree with ``numpy.linalg.eigvalsh`` to ``delta`` plus ``rho sqrt(kappa)/3``
        at worst (to about 1e-11 relative away from coincident eigenvalues).
        """
        if _dim_of(eps) == 2:
            m, r, _ = self._principal_2d(ops, eps)
            return m + r, m - r
        m, rho, phi, _, _ = self._principal_3d(ops, eps)
        return tuple(m + rho * ops.cos(phi - 2.0 * math.pi * k / 3.0) for k in range(3))

    def split_energy(self, ops: Any, eps: Any) -> tuple[Any, Any]:
        """The undegraded ``(psi_+, psi_-)`` of the split (``psi_- = 0`` for "none")."""
        if self.split == "none":
            return self.strain_energy(ops, eps), 0.0 * ops.tr(eps)
        tr = ops.tr(eps)
        tp, tm = ops.pos(tr), ops.neg(tr)
        if self.split == "voldev":
            K = self.bulk
            dev_sq = ops.inner(eps, eps) - tr * tr / self.dim_split
            return 0.5 * K * tp * tp + self.mu * dev_sq, 0.5 * K * tm * tm
        lam = self.lmbda_eff
        if _dim_of(eps) == 3:
            e1, e2, e3 = self.principal_strains(ops, eps)
            p1, p2, p3 = ops.pos(e1), ops.pos(e2), ops.pos(e3)
            n1, n2, n3 = ops.neg(e1), ops.neg(e2), ops.neg(e3)
            psi_p = 0.5 * lam * tp * tp + self.mu * (p1 * p1 + p2 * p2 + p3 * p3)
            psi_m = 0.5 * lam * tm * tm + self.mu * (n1 * n1 + n2 * n2 + n3 * n3)
            return psi_p, psi_m
        m, r, _ = self._principal_2d(ops, eps)
        e1, e2 = m + r, m - r
        p1, p2, n1, n2 = ops.pos(e1), ops.pos(e2), ops.neg(e1), ops.neg(e2)
        psi_p = 0.5 * lam * tp * tp + self.mu * (p1 * p1 + p2 * p2)
        psi_m = 0.5 * lam * tm * tm + self.mu * (n1 * n1 + n2 * n2)
        return psi_p, psi_m

    def degradation_value(self, ops: Any, fields: Fields) -> Any:
        """``a(alpha)`` at each point (1.0 without a degradation)."""
        if self.degradation is None:
            return 1.0
        return self.degradation(_get(fields, self.damage))

    def density(self, ops: Any, fields: Fields) -> Any:
        eps = self.strain.elastic_strain(ops, fields)
        if self.degradation is None:
            return self.strain_energy(ops, eps)
        a = self.degradation_value(ops, fields)
        if self.split == "none":
            return a * self.strain_energy(ops, eps)
        psi_p, psi_m = self.split_energy(ops, eps)
        return a * psi_p + psi_m

    def stress(self, ops: Any, fields: Fields) -> Any:
        """The stress ``d(density)/d(eps)`` in closed form (in-plane components in 2D)."""
        eps = self.strain.elastic_strain(ops, fields)
        a = self.degradation_value(ops, fields)
        tr = ops.tr(eps)
        I = ops.identity(_dim_of(eps))
        lam, mu = self.lmbda_eff, self.mu
        if self.split == "none":
            return a * (lam * tr * I + 2 * mu * eps)
        tp, tm = ops.pos(tr), ops.neg(tr)
        if self.split == "voldev":
            K, n = self.bulk, self.dim_split
            dev = eps - tr / n * I
            return a * (K * tp * I + 2 * mu * dev) + K * tm * I
        if _dim_of(eps) == 3:
            return self._spectral_stress_3d(ops, eps, a)
        m, r, D = self._principal_2d(ops, eps)
        p1, p2 = ops.pos(m + r), ops.pos(m - r)
        n1, n2 = ops.neg(m + r), ops.neg(m - r)
        # sum_i f(e_i) n_i (x) n_i = (f1 + f2)/2 I + (f1 - f2)/(2 r) D
        sig_p = lam * tp * I + 2 * mu * (0.5 * (p1 + p2) * I + (p1 - p2) / (2 * r) * D)
        sig_m = lam * tm * I + 2 * mu * (0.5 * (n1 + n2) * I + (n1 - n2) / (2 * r) * D)
        return a * sig_p + sig_m

    def _spectral_stress_3d(self, ops: Any, eps: Any, a: Any) -> Any:
        """``a dpsi_+/deps + dpsi_-/deps`` of the 3D spectral split, by the chain rule.

        ``d eps_k/d eps = I/3 + cos(phi_k) d rho/d eps - rho sin(phi_k) d phi/d eps`` with
        ``d J2 = s``, ``d J3 = dev(s s)``, ``d rho = s / sqrt(3 J2)`` and
        ``d phi = (x dy - y dx) / (3 (x^2 + y^2))`` (exact wherever the ``max`` guard of
        the discriminant is inactive, i.e. everywhere but in states lost to rounding).
        """
        m, rho, phi, s, (J2, J3, x, y) = self._principal_3d(ops, eps)
        I = ops.identity(3)
        lam, mu = self.lmbda_eff, self.mu
        tr = ops.tr(eps)
        dJ3 = ops.dev(ops.dot(s, s))
        d_rho = s / ops.sqrt(3.0 * J2)
        d_x = 3.0 * math.sqrt(3.0) * dJ3
        d_y = (12.0 * (1.0 + SPECTRAL_KAPPA) * J2 * J2 * s - 54.0 * J3 * dJ3) / (2.0 * y)
        d_phi = (x * d_y - y * d_x) / (3.0 * (x * x + y * y))
        sig_p = lam * ops.pos(tr) * I
        sig_m = lam * ops.neg(tr) * I
        for k in range(3):
            phi_k = phi - 2.0 * math.pi * k / 3.0
            c_k = ops.cos(phi_k)
            # sin(phi_k) = cos(phi_k - pi/2): the namespace needs no sin
            s_k = ops.cos(phi_k - 0.5 * math.pi)
            e_k = m + rho * c_k
            d_e = I / 3.0 + c_k * d_rho - rho * s_k * d_phi
            sig_p = sig_p + 2.0 * mu * ops.pos(e_k) * d_e
            sig_m = sig_m + 2.0 * mu * ops.neg(e_k) * d_e
        return a * sig_p + sig_m


def _det3(A: Any) -> Any:
    """The determinant of a 3×3 tensor in any backend, as a polynomial of its entries.

    (Not ``ops.det``: torch's ``linalg.det`` has no finite second derivative at a
    singular matrix, such as the zero deviator of an isotropic strain.)
    """
    return (
        A[0, 0] * (A[1, 1] * A[2, 2] - A[1, 2] * A[2, 1])
        - A[0, 1] * (A[1, 0] * A[2, 2] - A[1, 2] * A[2, 0])
        + A[0, 2] * (A[1, 0] * A[2, 1] - A[1, 1] * A[2, 0])
    )


def _dim_of(eps: Any) -> int:
    """The tensor dimension of a strain in any backend (UFL shape or array shape)."""
    shape = getattr(eps, "ufl_shape", None)
    if shape is None:
        shape = eps.shape
    return int(shape[0])
