"""Parameters and loading of the phase-field fracture model (pure Python, validated)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from femgp.energy.elasticity import ELASTIC_MODELS, SPLITS, IsotropicElasticEnergy
from femgp.energy.fracture import CRACK_MODELS, CrackDensity, Degradation
from femgp.energy.terms import Energy
from femgp.errors import InputError
from femgp.validation import (
    check_bool,
    check_choice,
    check_finite,
    check_int,
    check_positive,
)

__all__ = [
    "ACCELERATIONS",
    "IRREVERSIBILITY",
    "LINEAR_SOLVERS",
    "SOLVERS",
    "DisplacementBC",
    "Loading",
    "Params",
]

#: Variants of the alternate minimisation.
ACCELERATIONS = ("anderson", "overrelax", "none")
#: Nonlinear solvers of a load step: "newton" (alternate minimisation, then a
#: monolithic VI Newton on (u, alpha) once AM has not converged in
#: ``newton_after`` iterations; AM resumes if Newton fails) or "am" (alternate
#: minimisation only).
SOLVERS = ("newton", "am")
#: How irreversibility is imposed.
IRREVERSIBILITY = ("bounds", "history")
#: Default linear solvers: "iterative" (CG + GAMG for u, CG + Jacobi for alpha),
#: "direct" (MUMPS LU for both) or "hybrid" (MUMPS for u, CG + Jacobi for alpha).
LINEAR_SOLVERS = ("iterative", "direct", "hybrid")

#: A boundary value as a function of the coordinates ``x`` (shape ``(3, n)``) and the load.
BoundaryFunction = Callable[[np.ndarray, float], np.ndarray]


@dataclass(frozen=True)
class Params:
    """Material, model and solver parameters of phase-field fracture.

    Units are the user's, consistently (the SENT demo uses mm and kN).

    Attributes:
        E, nu: Young's modulus and Poisson's ratio (3D constants).
        Gc: fracture toughness; ell: regularisation length.
        model: crack density ``"AT1"`` or ``"AT2"``.
        split: ``"none"``, ``"voldev"`` (Amor) or ``"spectral"`` (Miehe).
        elastic_model: ``"plane_strain"``, ``"plane_stress"`` or ``"3d"``.
        k_res: residual stiffness in ``a(alpha) = (1 - alpha)^2 + k_res``.
        degree: polynomial degree of the displacement (1 or 2); damage is P1.
        irreversibility: ``"bounds"`` (damage bounded below by its value at the
            previous load step, SNES VI) or ``"history"`` (AT2 only: Miehe's
            history field ``H = max_t psi_+`` drives the damage).
        solver: ``"newton"``: alternate minimisation for up to ``newton_after``
            iterations, then the monolithic reduced-space VI Newton method on
            the coupled ``(u, alpha)`` problem (Jacobian from the energy, bounds
            ``alpha_prev <= alpha <= 1``, critical-point line search,
            field-split GAMG preconditioning) from the AM iterate (the
            AM-then-Newton composite of Farrell & Maurini 2017); if Newton
            fails, alternate minimisation goes on from where it was, and Newton
            is tried again when the AM count has grown fourfold (not after an
            attempt whose residual grew tenfold: AM finishes that step). ``"am"``:
            alternate minimisation only. With ``irreversibility="history"``
            both are alternate minimisation.
        newton_after: AM iterations of a load step before Newton takes over.
        crack_run: with ``solver="newton"`` and a coarser mesh of the same
            domain (``run(..., crack_run_mesh=...)``; SENT and SENS build one),
            a step whose coupled Newton attempt stops at its growth limit (an
            unstable crack run) is solved on the coarse mesh from the current
            iterate, and alternate minimisation on the fine mesh finishes it from
            the state found there (:mod:`femgp.models.fracture.crack_run`).
        acceleration: ``"overrelax"`` (nonlinear block SOR: the displacement
            and the damage iterates over-relaxed by ``omega``, the damage
            projected onto its bounds; Farrell & Maurini 2017), ``"anderson"``
            (Anderson mixing of the damage iterates; experimental: it can jump
            to a state with extra cracks, see docs/fracture.md) or ``"none"``
            (plain alternate minimisation).
        omega: over-relaxation factor in [1, 2).
        predictor: start each load step from the extrapolation of the accepted
            steps (damage clipped to its bounds) instead of the last state:
            linear from the last two, or quadratic from the last three once a
            step has shown the quadratic prediction clearly the better; cuts
            the iterations of smooth stretches of the path. It is skipped after
            a step in which a crack ran, and never extrapolates across one.
        anderson_depth: number of previous iterates Anderson mixes.
        am_tol: stop when ``||alpha_k - alpha_{k-1}||_inf < am_tol``.
        am_max_it: guard on alternate-minimisation iterations per load step;
            exceeding it fails the step (which is then cut back).
        max_cutbacks: halvings of a failed load increment before giving up.
        linear_solver: default PETSc solvers: ``"iterative"`` (CG + GAMG with
            the rigid-body near-nullspace for u, CG + Jacobi for alpha),
            ``"direct"`` (MUMPS LU for both) or ``"hybrid"`` (MUMPS for u, CG +
            Jacobi for alpha: the fastest for 2D problems of up to ~1e5 dofs).
    """

    E: float = 1.0
    nu: float = 0.0
    Gc: float = 1.0
    ell: float = 0.1
    model: str = "AT1"
    split: str = "none"
    elastic_model: str = "plane_strain"
    k_res: float = 1e-6
    degree: int = 1
    irreversibility: str = "bounds"
    solver: str = "newton"
    newton_after: int = 12
    crack_run: bool = True
    acceleration: str = "overrelax"
    omega: float = 1.6
    predictor: bool = True
    anderson_depth: int = 5
    am_tol: float = 1e-4
    am_max_it: int = 2000
    max_cutbacks: int = 4
    linear_solver: str = "iterative"

    def __post_init__(self) -> None:
        check_positive("Gc", self.Gc)
        check_positive("ell", self.ell)
        check_choice("crack model", self.model, tuple(CRACK_MODELS))
        check_choice("split", self.split, SPLITS)
        check_choice("elastic model", self.elastic_model, ELASTIC_MODELS)
        check_choice("irreversibility", self.irreversibility, IRREVERSIBILITY)
        check_choice("solver", self.solver, SOLVERS)
        check_int("newton_after", self.newton_after, minimum=1)
        check_choice("acceleration", self.acceleration, ACCELERATIONS)
        check_choice("linear solver", self.linear_solver, LINEAR_SOLVERS)
        if check_int("displacement degree", self.degree) not in (1, 2):
            raise InputError(f"displacement degree must be 1 or 2, got {self.degree!r}")
        check_bool("predictor", self.predictor)
        check_bool("crack_run", self.crack_run)
        if self.irreversibility == "history" and self.model != "AT2":
            raise InputError(
                "the history-field irreversibility is for AT2 only (AT1 needs the bound "
                f"alpha >= 0); got model {self.model!r} with irreversibility 'history'"
            )
        check_finite("omega", self.omega)
        if not 1.0 <= self.omega < 2.0:
            raise InputError(f"omega must be in [1, 2), got {self.omega!r}")
        check_int("anderson_depth", self.anderson_depth, minimum=1)
        check_positive("am_tol", self.am_tol)
        check_int("am_max_it", self.am_max_it, minimum=1)
        check_int("max_cutbacks", self.max_cutbacks, minimum=0)
        self.elastic  # noqa: B018  (validates E, nu, k_res, split/model combination)

    @property
    def degradation(self) -> Degradation:
        """``a(alpha) = (1 - alpha)^2 + k_res``."""
        return Degradation(self.k_res)

    @property
    def elastic(self) -> IsotropicElasticEnergy:
        """The degraded elastic energy term."""
        return IsotropicElasticEnergy.from_young(
            self.E,
            self.nu,
            split=self.split,
            model=self.elastic_model,
            degradation=self.degradation,
            damage="alpha",
        )

    @property
    def crack(self) -> CrackDensity:
        """The crack surface density term."""
        return CrackDensity(self.Gc, self.ell, model=self.model, damage="alpha")

    @property
    def energy(self) -> Energy:
        """The total energy ``elastic + surface`` over fields ``u`` and ``alpha``."""
        return self.elastic + self.crack


@dataclass(frozen=True)
class DisplacementBC:
    """A Dirichlet condition on the displacement over the facets of a physical group.

    Args:
        group: name of the facet group.
        component: the constrained component (0, 1, 2) or ``None`` for all.
        value: a number (``component`` given), a tuple (all components), or a
            function ``g(x, load)`` of the coordinates (shape ``(3, n)``) and the
            load returning shape ``(n,)`` (one component) or ``(gdim, n)``.
        loaded: multiply a constant ``value`` by the load parameter.
    """

    group: str
    component: int | None = None
    value: float | tuple[float, ...] | BoundaryFunction = 0.0
    loaded: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.group, str) or not self.group:
            raise InputError(f"DisplacementBC.group must be a group name, got {self.group!r}")
        if self.component is not None and not _is_component(self.component):
            raise InputError(
                f"DisplacementBC.component must be 0, 1, 2 or None, got {self.component!r}"
            )
        v = self.value
        if callable(v):
            return
        if self.component is None:
            if not isinstance(v, tuple) or not v:
                raise InputError(
                    f"DisplacementBC on {self.group!r} with all components needs a tuple "
                    f"value (one per component) or a function, got {v!r}"
                )
            for i, vi in enumerate(v):
                check_finite(f"DisplacementBC({self.group!r}).value[{i}]", vi)
        else:
            check_finite(f"DisplacementBC({self.group!r}).value", v)


def _is_component(value: object) -> bool:
    """``value`` is a component index 0, 1 or 2 (an int, not a float or a bool)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and 0 <= value <= 2


@dataclass(frozen=True)
class Loading:
    """Boundary conditions, the reaction to record and the load path.

    Args:
        bcs: displacement conditions (fixed and loaded).
        loads: load-parameter values of the load steps (increasing, > 0); each
            accepted step is written (``time = load`` in ``fields.xdmf``).
        reaction: ``(group, component)`` whose reaction force is recorded
            (the loaded boundary), or ``None``.
        damage_zero: facet groups on which the damage is held at 0.
        displacement_scale: the reported ``displacement`` is ``load * scale``.
    """

    bcs: tuple[DisplacementBC, ...]
    loads: tuple[float, ...]
    reaction: tuple[str, int] | None = None
    damage_zero: tuple[str, ...] = ()
    displacement_scale: float = 1.0

    def __post_init__(self) -> None:
        for name in ("bcs", "loads", "damage_zero"):
            value = getattr(self, name)
            if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
                raise InputError(f"Loading.{name} must be a sequence, got {value!r}")
        if not all(isinstance(g, str) and g for g in self.damage_zero):
            raise InputError(f"Loading.damage_zero holds group names, got {self.damage_zero!r}")
        if not self.bcs:
            raise InputError("Loading needs at least one displacement condition")
        for bc in self.bcs:
            if not isinstance(bc, DisplacementBC):
                raise InputError(f"Loading.bcs holds DisplacementBC, got {type(bc).__name__}")
        loads = [check_finite("load", t) for t in self.loads]
        if not loads:
            raise InputError("Loading.loads is empty")
        if loads[0] <= 0 or any(b <= a for a, b in itertools.pairwise(loads)):
            raise InputError("Loading.loads must be positive and strictly increasing")
        if self.reaction is not None:
            r = self.reaction
            if isinstance(r, str) or not isinstance(r, Sequence) or len(r) != 2:
                raise InputError(
                    f"Loading.reaction must be (group, component), got {self.reaction!r}"
                )
            group, comp = self.reaction
            if not _is_component(comp):
                raise InputError(f"reaction component must be 0, 1 or 2, got {comp!r}")
            if not isinstance(group, str):
                raise InputError(f"reaction group must be a name, got {group!r}")
        check_finite("displacement_scale", self.displacement_scale)

    @classmethod
    def linear(
        cls,
        bcs: Sequence[DisplacementBC],
        *,
        load_max: float,
        steps: int,
        reaction: tuple[str, int] | None = None,
        damage_zero: Sequence[str] = (),
        displacement_scale: float = 1.0,
    ) -> Loading:
        """``steps`` equal load increments up to ``load_max``."""
        load_max = check_positive("load_max", load_max)
        if not isinstance(steps, int) or steps < 1:
            raise InputError(f"steps must be an integer >= 1, got {steps!r}")
        loads = tuple(load_max * (i + 1) / steps for i in range(steps))
        return cls(tuple(bcs), loads, reaction, tuple(damage_zero), displacement_scale)

    @property
    def groups(self) -> tuple[str, ...]:
        """All facet groups the loading refers to."""
        names = [bc.group for bc in self.bcs] + list(self.damage_zero)
        if self.reaction is not None:
            names.append(self.reaction[0])
        return tuple(dict.fromkeys(names))
