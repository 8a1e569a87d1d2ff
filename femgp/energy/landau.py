"""Ginzburg-Landau vocabulary for multi-variant martensite.

Three pieces, each written once against an ops namespace (numpy, UFL, torch):

- :class:`LandauPolynomial`: the chemical (Landau) free energy of ``N``
  order parameters ``eta_i``, one per martensite variant, in the

  * 2-3-4 form ``A2/2 Σ eta_i^2 + A3/3 Σ eta_i^3 + A4/4 (Σ eta_i^2)^2``
    (Wang & Khachaturyan, Acta Mater. 45 (1997) 759): austenite at
    ``eta = 0``, variant ``i`` at ``eta = e_i``;
  * 2-4-6 form ``A2/2 Σ eta_i^2 + A4/4 Σ eta_i^4 + A6/6 (Σ eta_i^2)^3``
    (Falk's polynomial for each variant): symmetric in ``eta -> -eta``,
    so a single order parameter with ``eta = ±1`` can stand for two variants.

  :meth:`LandauPolynomial.normalised` picks coefficients with the variant
  wells at ``eta_i = 1`` and depth ``-depth``, leaving one shape parameter.
- :func:`variant_gradient_energy`: ``kappa/2 Σ |grad eta_i|^2`` as one
  :class:`~femgp.energy.GradientPenalty` per variant.
- :class:`TransformationStrain`: the elastic strain
  ``eps(u) - Σ phi(eta_i) eps_i^0``, passed as ``strain=`` to
  :class:`~femgp.energy.elasticity.IsotropicElasticEnergy`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from femgp.energy.elasticity import Strain
from femgp.energy.terms import Energy, Fields, GradientPenalty, Term, _get
from femgp.errors import InputError
from femgp.validation import check_choice, check_finite, check_positive

__all__ = [
    "INTERPOLATIONS",
    "LANDAU_FORMS",
    "LandauPolynomial",
    "TransformationStrain",
    "constant_tensor",
    "interpolate",
    "variant_gradient_energy",
]

#: The polynomial forms :class:`LandauPolynomial` knows.
LANDAU_FORMS: tuple[str, ...] = ("2-3-4", "2-4-6")
#: The interpolation functions ``phi(eta)`` of :class:`TransformationStrain`.
INTERPOLATIONS: tuple[str, ...] = ("linear", "quadratic", "smoothstep")


def _check_names(owner: str, names: Any) -> tuple[str, ...]:
    """Return ``names`` as a tuple of unique non-empty strings, or raise InputError."""
    if isinstance(names, str) or not isinstance(names, Sequence):
        raise InputError(f"{owner} must be a sequence of field names, got {names!r}")
    out = tuple(names)
    if not out:
        raise InputError(f"{owner} needs at least one field name, got {names!r}")
    for n in out:
        if not isinstance(n, str) or not n:
            raise InputError(f"{owner} must hold non-empty names, got {n!r}")
    if len(set(out)) != len(out):
        raise InputError(f"{owner} must hold distinct names, got {out!r}")
    return out


@dataclass(frozen=True)
class LandauPolynomial(Term):
    """The Landau free energy of ``N`` variant order parameters.

    ``form="2-3-4"``: ``f = a2/2 Σ eta_i^2 + a3/3 Σ eta_i^3 + a4/4 (Σ eta_i^2)^2``
    (needs ``a4 > 0``, ``a6 = 0``).
    ``form="2-4-6"``: ``f = a2/2 Σ eta_i^2 + a4/4 Σ eta_i^4 + a6/6 (Σ eta_i^2)^3``
    (needs ``a3 = 0`` and ``a6 > 0``, or ``a6 = 0`` and ``a4 > 0``).

    The symmetric double well ``a (eta^2 - 1)^2`` is the 2-4-6 form with
    ``a2 = -4a, a4 = 4a, a6 = 0`` minus the constant ``a``.

    Args:
        a2, a3, a4, a6: the coefficients (energy density units).
        variants: names of the order-parameter fields, one per variant.
        form: ``"2-3-4"`` or ``"2-4-6"``.
    """

    a2: float
    a3: float = 0.0
    a4: float = 0.0
    a6: float = 0.0
    variants: tuple[str, ...] = ("eta1", "eta2")
    form: str = "2-3-4"

    label: ClassVar[str] = "chemical"

    def __post_init__(self) -> None:
        check_choice("LandauPolynomial.form", self.form, LANDAU_FORMS)
        for name in ("a2", "a3", "a4", "a6"):
            check_finite(f"LandauPolynomial.{name}", getattr(self, name))
        object.__setattr__(
            self, "variants", _check_names("LandauPolynomial.variants", self.variants)
        )
        if self.form == "2-3-4":
            if self.a6 != 0.0:
                raise InputError(
                    f"LandauPolynomial.a6 must be 0 in the 2-3-4 form, got {self.a6!r} "
                    "(use form='2-4-6')"
                )
            if not self.a4 > 0.0:
                raise InputError(
                    f"LandauPolynomial.a4 must be > 0 in the 2-3-4 form (bounded below), "
                    f"got {self.a4!r}"
                )
        else:
            if self.a3 != 0.0:
                raise InputError(
                    f"LandauPolynomial.a3 must be 0 in the 2-4-6 form, got {self.a3!r} "
                    "(use form='2-3-4')"
                )
            if self.a6 < 0.0 or (self.a6 == 0.0 and not self.a4 > 0.0):
                raise InputError(
                    "the 2-4-6 LandauPolynomial must be bounded below: a6 > 0, or a6 = 0 "
                    f"and a4 > 0; got a4={self.a4!r}, a6={self.a6!r}"
                )

    # -- constructors -----------------------------------------------------------
    @classmethod
    def two_three_four(
        cls, a2: float, a3: float, a4: float, *, variants: Sequence[str] = ("eta1", "eta2")
    ) -> LandauPolynomial:
        """``a2/2 Σ eta^2 + a3/3 Σ eta^3 + a4/4 (Σ eta^2)^2``."""
        return cls(a2=a2, a3=a3, a4=a4, variants=tuple(variants), form="2-3-4")

    @classmethod
    def two_four_six(
        cls, a2: float, a4: float, a6: float, *, variants: Sequence[str] = ("eta",)
    ) -> LandauPolynomial:
        """``a2/2 Σ eta^2 + a4/4 Σ eta^4 + a6/6 (Σ eta^2)^3``."""
        return cls(a2=a2, a4=a4, a6=a6, variants=tuple(variants), form="2-4-6")

    @classmethod
    def normalised(
        cls,
        a: float,
        *,
        depth: float = 1.0,
        form: str = "2-3-4",
        variants: Sequence[str] = ("eta1", "eta2"),
    ) -> LandauPolynomial:
        """The polynomial with each variant well at ``eta_i = 1`` and ``f = -depth`` there.

        ``a2 = depth * a`` sets the curvature at the austenite ``eta = 0``:
        ``a < 0`` makes the austenite unstable (spontaneous transformation from
        small noise), ``a > 0`` metastable. In the 2-3-4 form
        ``a3 = -depth (3a + 12)``, ``a4 = depth (2a + 12)`` (needs ``a > -4``:
        below, the single-variant path has a well at ``eta = a / (2a + 12) < 0``
        deeper than ``-depth``, and ``d2f/d eta_j^2 = depth (3a + 12)`` at
        ``eta = e_i`` makes each variant a saddle towards the others); in the
        2-4-6 form ``a4 = -depth (4a + 12)``, ``a6 = depth (3a + 12)`` (needs
        ``a > -4``, and ``a > -3`` with two or more variants, where
        ``d2f/d eta_j^2 = depth (4a + 12)`` at ``e_i``: below, mixed states lie
        deeper than the variant wells).
        """
        check_choice("LandauPolynomial.form", form, LANDAU_FORMS)
        a = check_finite("a", a)
        d = check_positive("depth", depth)
        n = len(_check_names("LandauPolynomial.variants", variants))
        if form == "2-3-4":
            if not a > -4.0:
                raise InputError(
                    f"the normalised 2-3-4 polynomial needs a > -4, got {a!r} (below, the "
                    "variant wells at eta_i = 1 are not its minima)"
                )
            return cls(
                a2=d * a,
                a3=-d * (3 * a + 12),
                a4=d * (2 * a + 12),
                variants=tuple(variants),
                form=form,
            )
        bound = -3.0 if n > 1 else -4.0
        if not a > bound:
            raise InputError(
                f"the normalised 2-4-6 polynomial of {n} variant(s) needs a > {bound:g}, "
                f"got {a!r} (below, the variant wells at eta_i = 1 are not its minima)"
            )
        return cls(
            a2=d * a, a4=-d * (4 * a + 12), a6=d * (3 * a + 12), variants=tuple(variants), form=form
        )

    # -- the term ----------------------------------------------------------------
    @property
    def fields(self) -> tuple[str, ...]:
        return self.variants

    def density(self, ops: Any, fields: Fields) -> Any:
        etas = [_get(fields, name) for name in self.variants]
        s2 = _sum([e * e for e in etas])
        if self.form == "2-3-4":
            s3 = _sum([e * e * e for e in etas])
            return 0.5 * self.a2 * s2 + self.a3 / 3.0 * s3 + 0.25 * self.a4 * s2 * s2
        s4 = _sum([e * e * e * e for e in etas])
        return 0.5 * self.a2 * s2 + 0.25 * self.a4 * s4 + self.a6 / 6.0 * s2 * s2 * s2

    # -- closed forms for one variant -------------------------------------------
    def single(self, eta: float) -> float:
        """``f`` on the path of one variant: ``eta_i = eta``, the others 0."""
        if self.form == "2-3-4":
            return self.a2 / 2 * eta**2 + self.a3 / 3 * eta**3 + self.a4 / 4 * eta**4
        return self.a2 / 2 * eta**2 + self.a4 / 4 * eta**4 + self.a6 / 6 * eta**6

    def variant_minimum(self) -> float:
        """The ``eta* > 0`` of the deepest well on the single-variant path (see :meth:`single`).

        Raises InputError if that path has no minimum at ``eta > 0``.
        """
        if self.form == "2-3-4":  # f'/eta = a2 + a3 eta + a4 eta^2
            crit = np.roots([self.a4, self.a3, self.a2])
        else:  # f'/eta = a2 + a4 s + a6 s^2 with s = eta^2
            s = np.roots([self.a6, self.a4, self.a2] if self.a6 else [self.a4, self.a2])
            s = s[(np.abs(s.imag) < 1e-12) & (s.real > 0)].real
            crit = np.sqrt(s)
        h = 1e-6
        minima = [
            float(r.real)
            for r in np.atleast_1d(crit)
            if abs(r.imag) < 1e-12
            and r.real > 0
            and self.single(r.real + h) + self.single(r.real - h) > 2 * self.single(r.real)
        ]
        if not minima:
            raise InputError(f"{self!r} has no variant well at eta > 0")
        return min(minima, key=self.single)


def _sum(items: Sequence[Any]) -> Any:
    total = items[0]
    for it in items[1:]:
        total = total + it
    return total


def variant_gradient_energy(kappa: float, variants: Sequence[str]) -> Energy:
    """``kappa/2 Σ_i |grad eta_i|^2``: one :class:`GradientPenalty` per variant."""
    names = _check_names("variants", variants)
    return Energy(tuple(GradientPenalty(kappa=kappa, field=n) for n in names))


# -- transformation strain -----------------------------------------------------------
def interpolate(kind: str, eta: Any) -> Any:
    """The interpolation ``phi(eta)`` of a transformation strain, in any backend.

    ``"linear"``: ``eta`` (for ``eta = ±1`` twins); ``"quadratic"``: ``eta^2``
    (Wang-Khachaturyan, austenite stationary); ``"smoothstep"``:
    ``eta^2 (3 - 2 eta)`` (``phi(0) = 0``, ``phi(1) = 1``, flat at both).
    """
    check_choice("interpolation", kind, INTERPOLATIONS)
    if kind == "linear":
        return eta
    if kind == "quadratic":
        return eta * eta
    return eta * eta * (3.0 - 2.0 * eta)


def constant_tensor(ops: Any, matrix: Sequence[Sequence[float]]) -> Any:
    """A constant matrix in the backend of ``ops`` (``ops.as_tensor``)."""
    return ops.as_tensor([[float(v) for v in row] for row in matrix])


def _check_strains(strains: Any, n: int) -> tuple[tuple[tuple[float, ...], ...], ...]:
    if isinstance(strains, str) or not isinstance(strains, Sequence | np.ndarray):
        raise InputError(
            f"TransformationStrain.strains must be a sequence of matrices, got {strains!r}"
        )
    out = []
    dim = None
    for i, m in enumerate(strains):
        try:
            arr = np.asarray(m, dtype=float)
        except (TypeError, ValueError):
            raise InputError(
                f"TransformationStrain.strains[{i}] must be a square matrix of reals, got {m!r}"
            ) from None
        if arr.ndim != 2 or arr.shape[0] != arr.shape[1] or arr.shape[0] not in (1, 2, 3):
            raise InputError(
                f"TransformationStrain.strains[{i}] must be a 1x1, 2x2 or 3x3 matrix, "
                f"got shape {arr.shape}"
            )
        if not np.all(np.isfinite(arr)):
            raise InputError(f"TransformationStrain.strains[{i}] must be finite, got {m!r}")
        if not np.allclose(arr, arr.T, rtol=0, atol=1e-14 * max(1.0, np.abs(arr).max())):
            raise InputError(f"TransformationStrain.strains[{i}] must be symmetric, got {m!r}")
        if dim is None:
            dim = arr.shape[0]
        elif arr.shape[0] != dim:
            raise InputError(
                f"TransformationStrain.strains must all be {dim}x{dim}; "
                f"strains[{i}] is {arr.shape[0]}x{arr.shape[0]}"
            )
        out.append(tuple(tuple(float(v) for v in row) for row in arr))
    if len(out) != n:
        raise InputError(
            f"TransformationStrain needs one strain per variant: {n} variants, {len(out)} strains"
        )
    return tuple(out)


@dataclass(frozen=True)
class TransformationStrain(Strain):
    """The elastic strain ``eps(u) - Σ_i phi(eta_i) eps_i^0`` of a multi-variant martensite.

    Args:
        strains: the transformation (Bain) strain ``eps_i^0`` of each variant,
            symmetric ``d x d`` matrices (nested sequences), one per variant.
        variants: names of the order-parameter fields, in the order of ``strains``.
        displacement: name of the displacement field.
        interpolation: ``phi``: ``"linear"``, ``"quadratic"`` or ``"smoothstep"``.
    """

    strains: tuple[tuple[tuple[float, ...], ...], ...]
    variants: tuple[str, ...] = ("eta1", "eta2")
    displacement: str = "u"
    interpolation: str = "quadratic"

    def __post_init__(self) -> None:
        variants = _check_names("TransformationStrain.variants", self.variants)
        object.__setattr__(self, "variants", variants)
        object.__setattr__(self, "strains", _check_strains(self.strains, len(variants)))
        if not isinstance(self.displacement, str) or not self.displacement:
            raise InputError(
                "TransformationStrain.displacement must be a non-empty name, "
                f"got {self.displacement!r}"
            )
        if self.displacement in variants:
            raise InputError(f"the displacement name {self.displacement!r} is also a variant name")
        check_choice("TransformationStrain.interpolation", self.interpolation, INTERPOLATIONS)

    @classmethod
    def square_to_rectangle(
        cls,
        e: float,
        *,
        angle: float = 0.0,
        variants: Sequence[str] = ("eta1", "eta2"),
        displacement: str = "u",
        interpolation: str = "quadratic",
    ) -> TransformationStrain:
        """The 2D square-to-rectangle variants ``diag(e, -e)`` and ``diag(-e, e)``.

        ``angle`` (radians) rotates both strains, ``R eps R^T``; the compatible
        twin planes then have normals ``R (1, ±1)/sqrt(2)``. With a single
        variant name (``interpolation="linear"``) only ``diag(e, -e)`` is used,
        and ``eta = ±1`` are the two variants.
        """
        e = check_finite("e", e)
        angle = check_finite("angle", angle)
        c, s = math.cos(angle), math.sin(angle)
        R = np.array([[c, -s], [s, c]])
        base = [np.diag([e, -e]), np.diag([-e, e])]
        names = tuple(variants)
        mats = [R @ m @ R.T for m in base[: max(1, min(len(names), 2))]]
        for m in mats:  # exact zeros where the rotation leaves round-off
            m[np.abs(m) < 1e-14 * abs(e)] = 0.0
        return cls(
            strains=tuple(tuple(map(tuple, m)) for m in mats),
            variants=names,
            displacement=displacement,
            interpolation=interpolation,
        )

    @classmethod
    def cubic_to_tetragonal(
        cls,
        e_a: float,
        e_c: float,
        *,
        variants: Sequence[str] = ("eta1", "eta2", "eta3"),
        displacement: str = "u",
        interpolation: str = "quadratic",
    ) -> TransformationStrain:
        """The three tetragonal variants: ``eps_i^0 = e_a I + (e_c - e_a) e_i (x) e_i``.

        Variant ``i`` has its tetragonal axis along ``x_i``; ``e_c + 2 e_a = 0``
        makes the Bain strain volume-preserving. Twin planes are ``{110}``.
        """
        e_a = check_finite("e_a", e_a)
        e_c = check_finite("e_c", e_c)
        mats = []
        for i in range(3):
            d = [e_a, e_a, e_a]
            d[i] = e_c
            mats.append(tuple(tuple(row) for row in np.diag(d).tolist()))
        return cls(
            strains=tuple(mats),
            variants=tuple(variants),
            displacement=displacement,
            interpolation=interpolation,
        )

    @property
    def dim(self) -> int:
        """The dimension ``d`` of the strain tensors."""
        return len(self.strains[0])

    @property
    def fields(self) -> tuple[str, ...]:
        return (self.displacement, *self.variants)

    def transformation_strain(self, ops: Any, fields: Fields) -> Any:
        """``Σ_i phi(eta_i) eps_i^0`` at each point."""
        total = None
        for name, m in zip(self.variants, self.strains, strict=True):
            term = interpolate(self.interpolation, _get(fields, name)) * constant_tensor(ops, m)
            total = term if total is None else total + term
        return total

    def elastic_strain(self, ops: Any, fields: Fields) -> Any:
        eps = ops.sym(_get(fields, self.displacement, "grad"))
        return eps - self.transformation_strain(ops, fields)

    def swapped(self, i: int, j: int) -> TransformationStrain:
        """The same strain with the transformation strains of variants ``i`` and ``j`` swapped."""
        n = len(self.variants)
        for k in (i, j):
            if not 0 <= k < n:
                raise InputError(f"variant index {k!r} out of range 0..{n - 1}")
        strains = list(self.strains)
        strains[i], strains[j] = strains[j], strains[i]
        return TransformationStrain(
            strains=tuple(strains),
            variants=self.variants,
            displacement=self.displacement,
            interpolation=self.interpolation,
        )
