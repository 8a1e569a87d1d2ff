"""Parameters of the Ginzburg-Landau twinning model, and the standard set-ups.

The free energy is a sum of femgp terms over the variant order parameters
``eta_i`` and the displacement ``u``::

    F = ∫ f_chem(eta) + kappa/2 Σ |grad eta_i|^2 + psi(eps(u) - Σ phi(eta_i) eps_i^0)

with ``f_chem`` a :class:`~femgp.energy.landau.LandauPolynomial` (or any term
over the variant fields, e.g. :meth:`~femgp.energy.DoubleWell.symmetric`) and
``psi`` an :class:`~femgp.energy.elasticity.IsotropicElasticEnergy` whose strain
is a :class:`~femgp.energy.landau.TransformationStrain`. Units are
nondimensional: energy densities in units of the well depth, lengths in
units of the mesh spacing of the demos.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np

from femgp.energy import DoubleWell, Energy, Term
from femgp.energy.elasticity import IsotropicElasticEnergy
from femgp.energy.landau import LandauPolynomial, TransformationStrain, variant_gradient_energy
from femgp.errors import InputError
from femgp.validation import check_bool, check_choice, check_int, check_positive

__all__ = ["BOUNDARIES", "SCHEMES", "Params"]

#: Displacement boundary conditions: ``u = 0`` on the whole boundary,
#: traction-free with the rigid-body modes pinned, or a periodic cell (every
#: field periodic; ``u = mean_strain·x`` + a periodic fluctuation).
BOUNDARIES: tuple[str, ...] = ("clamped", "free", "periodic")
#: Solution schemes for one time step.
SCHEMES: tuple[str, ...] = ("monolithic", "staggered")


@dataclass(frozen=True)
class Params:
    """Twinning-model parameters (frozen, validated).

    Attributes:
        chemical: the Landau energy; its fields are the variant order parameters.
        kappa: gradient-energy coefficient of every variant (> 0).
        elastic: the elastic energy with a :class:`TransformationStrain` over the
            same variants (``None``: pure Ginzburg-Landau, no displacement).
        mobility: ``L`` in ``d eta/dt = -L dF/d eta`` (> 0).
        boundary: ``"clamped"``, ``"free"`` or ``"periodic"`` (see :data:`BOUNDARIES`).
        mean_strain: with ``boundary="periodic"``, the prescribed mean strain
            ``ε̄`` (a symmetric d×d nested tuple; ``None``: zero): the
            displacement is ``ε̄·x`` plus a periodic fluctuation, so the cell's
            mean strain is exactly ``ε̄``.
        degree_u: polynomial degree of the displacement (1 or 2).
        scheme: ``"monolithic"`` (one Newton solve for all fields) or
            ``"staggered"`` (alternate u and eta solves, falling back to the
            monolithic solve when they do not converge).
        dt, dt_min, dt_max: initial step and bounds.
        adaptive: adapt the step (else fixed ``dt``).
        tol: target of the local error estimate (the backward-Euler local error
            ``eta'' dt^2 / 2``, RMS, from the distance of eta to the linear
            extrapolation of the last two steps).
        energy_guard: reject (and cut back) a step that raises the total energy.
        staggered_tol: max-norm change of eta that ends the staggered iteration.
        staggered_max_it: staggered iterations before the monolithic fallback.
    """

    chemical: Term
    kappa: float
    elastic: IsotropicElasticEnergy | None = None
    mobility: float = 1.0
    boundary: str = "clamped"
    degree_u: int = 1
    scheme: str = "monolithic"
    dt: float = 1e-2
    dt_min: float = 1e-9
    dt_max: float = 1e4
    adaptive: bool = True
    tol: float = 1e-2
    energy_guard: bool = True
    staggered_tol: float = 1e-8
    staggered_max_it: int = 50
    mean_strain: tuple[tuple[float, ...], ...] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.chemical, Term):
            raise InputError(
                f"chemical must be an energy Term (e.g. LandauPolynomial), got {self.chemical!r}"
            )
        check_positive("kappa", self.kappa)
        check_positive("mobility", self.mobility)
        check_choice("boundary", self.boundary, BOUNDARIES)
        check_choice("scheme", self.scheme, SCHEMES)
        if check_int("degree_u", self.degree_u) not in (1, 2):
            raise InputError(f"degree_u must be 1 or 2, got {self.degree_u!r}")
        check_bool("adaptive", self.adaptive)
        check_bool("energy_guard", self.energy_guard)
        for name in ("dt", "dt_min", "dt_max", "tol", "staggered_tol"):
            check_positive(name, getattr(self, name))
        if self.dt_min > self.dt_max:
            raise InputError(f"dt_min ({self.dt_min!r}) must not exceed dt_max ({self.dt_max!r})")
        check_int("staggered_max_it", self.staggered_max_it, minimum=1)
        if self.elastic is not None:
            self._check_elastic()
        if self.mean_strain is not None:
            self._check_mean_strain()

    def _check_mean_strain(self) -> None:
        if self.boundary != "periodic":
            raise InputError(
                f"mean_strain needs boundary='periodic', got boundary={self.boundary!r}"
            )
        try:
            E = np.array(self.mean_strain, dtype=float)
        except (TypeError, ValueError):
            E = np.zeros((0,))
        if E.ndim != 2 or E.shape[0] != E.shape[1] or E.shape[0] not in (2, 3):
            raise InputError(
                f"mean_strain must be a 2x2 or 3x3 nested tuple, got {self.mean_strain!r}"
            )
        if not np.all(np.isfinite(E)) or not np.allclose(E, E.T, rtol=0, atol=1e-14):
            raise InputError(f"mean_strain must be finite and symmetric, got {self.mean_strain!r}")
        if self.elastic is not None and E.shape[0] != self.elastic.strain.dim:
            raise InputError(
                f"mean_strain is {E.shape[0]}x{E.shape[0]} but the transformation strains are "
                f"{self.elastic.strain.dim}x{self.elastic.strain.dim}"
            )

    def _check_elastic(self) -> None:
        el = self.elastic
        if not isinstance(el, IsotropicElasticEnergy):
            raise InputError(f"elastic must be an IsotropicElasticEnergy or None, got {el!r}")
        if not isinstance(el.strain, TransformationStrain):
            raise InputError(
                f"elastic.strain must be a TransformationStrain, got {type(el.strain).__name__}"
            )
        if el.degradation is not None:
            raise InputError(
                "the twinning model takes an undamaged elastic energy (degradation=None)"
            )
        if tuple(el.strain.variants) != self.variants:
            raise InputError(
                f"the transformation strain's variants {el.strain.variants!r} differ from the "
                f"chemical energy's fields {self.variants!r}"
            )

    # -- derived ------------------------------------------------------------------
    @property
    def variants(self) -> tuple[str, ...]:
        """Names of the variant order parameters (the chemical energy's fields)."""
        return tuple(self.chemical.fields)

    @property
    def displacement(self) -> str | None:
        """Name of the displacement field (``None`` without elasticity)."""
        return None if self.elastic is None else self.elastic.strain.displacement

    @property
    def energy(self) -> Energy:
        """The free energy as femgp terms: chemical + gradient (+ elastic)."""
        out = Energy((self.chemical,)) + variant_gradient_energy(self.kappa, self.variants)
        return out if self.elastic is None else out + self.elastic

    def replace(self, **changes: Any) -> Params:
        """A copy with ``changes`` (validated again)."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise InputError(f"unknown Params field(s) {unknown}; allowed: {sorted(known)}")
        return replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly description (terms by their repr)."""
        return {
            f.name: (v if isinstance(v, int | float | str | bool) or v is None else repr(v))
            for f in fields(self)
            for v in [getattr(self, f.name)]
        }

    # -- set-ups ------------------------------------------------------------------
    @classmethod
    def square_to_rectangle(
        cls,
        *,
        a: float = -1.0,
        depth: float = 1.0,
        kappa: float = 1.0,
        e: float = 0.1,
        lmbda: float = 100.0,
        mu: float = 100.0,
        angle: float = 0.0,
        **kw: Any,
    ) -> Params:
        """Two variants ``diag(e, -e)``, ``diag(-e, e)`` with the normalised 2-3-4 polynomial.

        Plane strain, ``phi = eta^2`` (Wang-Khachaturyan). ``a < 0`` makes the
        austenite unstable. ``kw`` sets the other :class:`Params` fields.
        """
        variants = ("eta1", "eta2")
        chem = LandauPolynomial.normalised(a, depth=depth, variants=variants)
        strain = TransformationStrain.square_to_rectangle(e, angle=angle, variants=variants)
        el = IsotropicElasticEnergy(lmbda=lmbda, mu=mu, model="plane_strain", strain=strain)
        return cls(chemical=chem, kappa=kappa, elastic=el, **kw)

    @classmethod
    def cubic_to_tetragonal(
        cls,
        *,
        a: float = -1.0,
        depth: float = 1.0,
        kappa: float = 1.0,
        e: float = 0.05,
        lmbda: float = 100.0,
        mu: float = 100.0,
        **kw: Any,
    ) -> Params:
        """Three tetragonal variants (axis along ``x_i``), volume-preserving Bain strain.

        ``eps_i^0 = e I - 3 e e_i (x) e_i`` (``e_a = e``, ``e_c = -2 e``), 3D
        elasticity, the normalised 2-3-4 polynomial, ``phi = eta^2``.
        """
        variants = ("eta1", "eta2", "eta3")
        chem = LandauPolynomial.normalised(a, depth=depth, variants=variants)
        strain = TransformationStrain.cubic_to_tetragonal(e, -2.0 * e, variants=variants)
        el = IsotropicElasticEnergy(lmbda=lmbda, mu=mu, model="3d", strain=strain)
        return cls(chemical=chem, kappa=kappa, elastic=el, **kw)

    @classmethod
    def domain_wall(
        cls,
        *,
        a: float = 1.0,
        kappa: float = 1.0,
        e: float | None = None,
        lmbda: float = 100.0,
        mu: float = 100.0,
        angle: float = 0.7853981633974483,
        variant: str = "eta",
        **kw: Any,
    ) -> Params:
        """One order parameter with ``f = a (eta^2 - 1)^2``: ``eta = ±1`` are two variants.

        With ``e`` the variants carry ``± eps^0``, ``eps^0 = R diag(e, -e) R^T``
        (``phi = eta``, plane strain); the default ``angle = pi/4`` makes a wall
        with normal ``(1, 0)`` compatible, so it stays stress-free.
        """
        chem = DoubleWell.symmetric(a, field=variant)
        el = None
        if e is not None:
            strain = TransformationStrain.square_to_rectangle(
                e, angle=angle, variants=(variant,), interpolation="linear"
            )
            el = IsotropicElasticEnergy(lmbda=lmbda, mu=mu, model="plane_strain", strain=strain)
        kw.setdefault("boundary", "free")
        return cls(chemical=chem, kappa=kappa, elastic=el, **kw)

    def swapped(self, i: int, j: int) -> Params:
        """The same model with the transformation strains of variants ``i`` and ``j`` swapped."""
        if self.elastic is None:
            return self
        el = replace(self.elastic, strain=self.elastic.strain.swapped(i, j))
        return replace(self, elastic=el)
