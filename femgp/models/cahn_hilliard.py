"""Cahn-Hilliard in mixed (c, mu) form.

Energy ``F(c) = ∫ f(c) + kappa/2 |grad c|^2`` with the quartic double well
``f = rho (c - c_alpha)^2 (c_beta - c)^2`` (PFHub benchmark 1), and dynamics
``dc/dt = div(M grad mu)``, ``mu = dF/dc``, with no-flux boundaries or, with
``Params(periodic="xy")``, periodic ones (PFHub benchmark 1a; the constraint of
:mod:`femgp.fem.periodic` on the mixed (c, mu) space). The mu equation is
*derived* from the energy with ``ufl.derivative``.

Time integrators (all with adaptive steps):

- ``theta``: the theta-method (``theta = 1/2`` Crank-Nicolson-like, ``1`` backward
  Euler) in the flux, ``mu^{n+1} = F'(c^{n+1})``, as in the DOLFINx demo.
- ``eyre``: convex-concave splitting, convex part (``rho h^4 (u^4 + 1)`` and the
  gradient energy) implicit, concave part ``-2 rho h^4 u^2`` explicit, backward
  Euler in the flux. Energy-stable for any step: ``F(c^{n+1}) <= F(c^n)``.

The step size is controlled by :class:`femgp.fem.AdaptiveStepper` from a local
error estimate and the Newton iteration count. The estimate (``Params.estimator``)
is, for theta = 1/2, the trapezoidal rule's O(dt^3) local error by Milne's device
(the distance to the quadratic extrapolation of the three previous states) and
otherwise the distance to the linear extrapolation of the two previous states,
an O(dt^2) quantity.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import femgp.fem._backend  # noqa: F401  (dolfinx_solver before dolfinx)

import basix.ufl
import numpy as np
import ufl
from dolfinx import fem
from dolfinx import mesh as dmesh
from dolfinx.fem.petsc import LinearProblem
from mpi4py import MPI

from femgp.energy import DoubleWell, Energy, GradientPenalty
from femgp.errors import InputError
from femgp.fem.checkpoint import RunCheckpointing, array_function
from femgp.fem.driver import Attempt, RunOptions, RunSummary, StepInfo, drive
from femgp.fem.forms import UFL_OPS, energy_form, field_values, scalar
from femgp.fem.io import described, initial_description
from femgp.fem.logs import get_logger
from femgp.fem.periodic import PeriodicConstraint, parse_periodic
from femgp.fem.preconditioners import BLOCK_PC, SchurScales
from femgp.fem.problems import DIRECT_LU, NonlinearProblem, SolveStats, warn_unused_options
from femgp.fem.stepping import AdaptiveStepper, curvature_scale
from femgp.validation import (
    check_bool,
    check_choice,
    check_finite,
    check_nonnegative,
    check_positive,
)

__all__ = [
    "CH_LU",
    "HISTORY_COLUMNS",
    "KEPT_LU",
    "QUADRATURE_DEGREE",
    "CahnHilliard",
    "Params",
    "RunResult",
    "block_pc_is_default",
    "check_initial_dimension",
    "default_linear_solver",
    "pfhub_initial",
    "pfhub_initial_3d",
    "pfhub_initial_for",
    "run",
]

SCHEMES = ("eyre", "theta")
ESTIMATORS = ("auto", "curvature", "milne")
HISTORY_COLUMNS = (
    "step",
    "time",
    "dt",
    "free_energy",
    "chemical",
    "gradient",
    "mass",
    "newton",
    "krylov",
    "rejected",
    "error",
)
log = get_logger("femgp.cahn_hilliard")

#: Quadrature degree of every Cahn-Hilliard form. With P1/Q1 fields the quartic
#: well's terms are polynomials of degree 4 (``f'(c) v``, ``f''(c) dc v``, ``f(c)``),
#: on simplices in total and on quadrilaterals/hexahedra in each direction, so
#: degree 4 integrates them exactly on affine cells: the same forms as UFL's
#: estimate (6 on tensor-product cells: 4^d instead of 3^d points) at about half
#: the assembly cost there, and unchanged on simplices.
QUADRATURE_DEGREE = 4


@dataclass(frozen=True)
class Params:
    """Cahn-Hilliard parameters (PFHub benchmark 1 by default; nondimensional units).

    Attributes:
        rho, c_alpha, c_beta: double-well height and minima.
        kappa: gradient-energy coefficient.
        mobility: M in ``dc/dt = div(M grad mu)``.
        scheme: ``"eyre"`` (energy-stable splitting) or ``"theta"``.
        theta: theta of the theta-method, in [1/2, 1].
        dt: initial step; dt_min, dt_max: bounds.
        adaptive: adapt the step (else fixed ``dt``).
        tol: target of the local error estimate, relative to the RMS deviation of c
            from its mean (the amplitude of the microstructure).
        periodic: periodic directions of the (box) mesh, ``""`` (no-flux walls),
            ``"x"``, ``"y"``, ``"xy"`` (PFHub 1a), or with ``"z"`` in 3D.
        estimator: the local error estimate the step control uses:
            ``"curvature"`` (any scheme; the O(dt^2) distance to the linear
            extrapolation of the last two states) or ``"milne"`` (theta = 1/2 only:
            the trapezoidal rule's O(dt^3) local error by Milne's device with the
            quadratic extrapolation of the last three states; the controller then
            treats the step as order 2); ``"auto"`` (default): ``"milne"`` for
            theta = 1/2, ``"curvature"`` otherwise (:attr:`error_estimator`). See
            ``CahnHilliard._error_estimate``.
        max_dc: the largest change of c in one Newton iteration, as a fraction of
            ``c_beta - c_alpha``; a longer Newton update is scaled down as a whole
            (:class:`femgp.fem.problems.UpdateLimit`). Near the spinodal, where
            ``f''(c)`` vanishes, a full Newton update can throw c far outside the wells,
            and the cubic ``f'(c)`` then brings it back by only a third per iteration.
            0 turns the limit off.
    """

    rho: float = 5.0
    c_alpha: float = 0.3
    c_beta: float = 0.7
    kappa: float = 2.0
    mobility: float = 5.0
    scheme: str = "theta"
    theta: float = 0.5
    dt: float = 0.05
    dt_min: float = 1e-6
    dt_max: float = 1e5
    adaptive: bool = True
    tol: float = 1e-2
    periodic: str = ""
    estimator: str = "auto"
    max_dc: float = 0.625

    def __post_init__(self) -> None:
        check_positive("rho", self.rho)
        check_finite("c_alpha", self.c_alpha)
        check_finite("c_beta", self.c_beta)
        check_positive("kappa", self.kappa)
        check_positive("mobility", self.mobility)
        check_choice("scheme", self.scheme, SCHEMES)
        check_finite("theta", self.theta)
        if not 0.5 <= self.theta <= 1.0:
            raise InputError(f"theta must be in [0.5, 1], got {self.theta!r}")
        check_positive("dt", self.dt)
        check_positive("dt_min", self.dt_min)
        check_positive("dt_max", self.dt_max)
        if self.dt_min > self.dt_max:
            raise InputError(
                f"dt_min must not exceed dt_max, got dt_min={self.dt_min!r} > "
                f"dt_max={self.dt_max!r}"
            )
        check_bool("adaptive", self.adaptive)
        check_positive("tol", self.tol)
        if not isinstance(self.periodic, str):
            raise InputError(f"periodic must be a string such as 'xy', got {self.periodic!r}")
        if parse_periodic(self.periodic) != self.periodic:
            raise InputError(
                f"periodic must list directions in order, e.g. 'xy', got {self.periodic!r}"
            )
        DoubleWell(self.rho, self.c_alpha, self.c_beta)  # validates c_alpha < c_beta
        check_choice("estimator", self.estimator, ESTIMATORS)
        check_nonnegative("max_dc", self.max_dc)
        if self.estimator == "milne" and not (self.scheme == "theta" and self.theta == 0.5):
            raise InputError(
                "estimator 'milne' needs the trapezoidal rule (scheme='theta', theta=0.5), "
                f"got scheme={self.scheme!r}, theta={self.theta!r}"
            )

    @property
    def error_estimator(self) -> str:
        """The estimate in use: ``"auto"`` is ``"milne"`` for theta = 1/2, else ``"curvature"``."""
        if self.estimator != "auto":
            return self.estimator
        return "milne" if self.scheme == "theta" and self.theta == 0.5 else "curvature"

    @property
    def well(self) -> DoubleWell:
        """The double-well term ``rho (c - c_alpha)^2 (c_beta - c)^2`` of these parameters."""
        return DoubleWell(self.rho, self.c_alpha, self.c_beta, field="c")

    @property
    def energy(self) -> Energy:
        """The free energy as femgp terms."""
        return self.well + GradientPenalty(self.kappa, field="c")

    def growth_rate(self, k: float, c_bar: float) -> float:
        """Linear-stability growth rate ``omega(k) = -M k^2 (f''(c_bar) + kappa k^2)``."""
        return -self.mobility * k**2 * (self.well.d2f(c_bar) + self.kappa * k**2)


#: Global dofs from which the block preconditioner is the default (MUMPS LU below).
BLOCK_PC_FROM_DOFS = {1: 10**12, 2: 4 * 10**6, 3: 3 * 10**4}

#: MUMPS LU of the (c, mu) Jacobian without MUMPS's row and column scaling
#: (ICNTL(8) = 0): the matrix is made of mass and stiffness blocks, and computing the
#: scaling took 13% of every numeric factorisation on PFHub 1b (200x200 Q1, 2 ranks),
#: with the same Newton iterations and free energy.
CH_LU: dict[str, Any] = {**DIRECT_LU, "mat_mumps_icntl_8": 0}

#: The direct solve with a kept factorisation (``reuse_pc``): GMRES on the current
#: Jacobian, preconditioned by a MUMPS factorisation kept across Newton iterations and
#: time steps; with a fresh factorisation it converges in one iteration.
KEPT_LU: dict[str, Any] = {**CH_LU, "ksp_type": "gmres", "ksp_rtol": 1e-9, "ksp_max_it": 60}


def block_pc_is_default(dofs: int, tdim: int) -> bool:
    """Whether the block preconditioner, not MUMPS LU, is the default at this size.

    ``dofs`` counts the global (c, mu) dofs, ``tdim`` is the mesh dimension; the
    thresholds are :data:`BLOCK_PC_FROM_DOFS`.
    """
    return dofs >= BLOCK_PC_FROM_DOFS[tdim]


def default_linear_solver(space: fem.FunctionSpace) -> dict[str, Any]:
    """Default PETSc options of the (c, mu) solve: MUMPS LU or the block preconditioner.

    The choice depends on the size and dimension (:func:`block_pc_is_default`;
    where the two cross is measured by ``benchmarks/scaling.py`` and
    ``benchmarks/cahn_hilliard_bm1b.py --compare-solvers``).
    """
    dofs = space.dofmap.index_map.size_global * space.dofmap.index_map_bs
    return dict(BLOCK_PC if block_pc_is_default(dofs, space.mesh.topology.dim) else CH_LU)


def pfhub_initial(c0: float = 0.5, epsilon: float = 0.01) -> Callable[[np.ndarray], np.ndarray]:
    """The PFHub benchmark 1 initial condition (a function of x, for 2D meshes)."""

    def c_init(x: np.ndarray) -> np.ndarray:
        X, Y = x[0], x[1]
        return c0 + epsilon * (
            np.cos(0.105 * X) * np.cos(0.11 * Y)
            + (np.cos(0.13 * X) * np.cos(0.087 * Y)) ** 2
            + np.cos(0.025 * X - 0.15 * Y) * np.cos(0.07 * X - 0.02 * Y)
        )

    c_init.dimension = 2  # type: ignore[attr-defined]
    return described(c_init, "pfhub_initial", c0=c0, epsilon=epsilon)


def pfhub_initial_3d(c0: float = 0.5, epsilon: float = 0.01) -> Callable[[np.ndarray], np.ndarray]:
    """A 3D analogue of the PFHub 1 initial condition (a function of x).

    The 2D terms, each modulated along z with wavenumbers of the same size
    (0.1 to 0.15), plus a z-only term, so the perturbation has no symmetry plane
    and the same amplitude (about ``epsilon``) as in 2D.
    """

    def c_init(x: np.ndarray) -> np.ndarray:
        X, Y, Z = x[0], x[1], x[2]
        return c0 + epsilon * (
            np.cos(0.105 * X) * np.cos(0.11 * Y) * np.cos(0.1 * Z)
            + (np.cos(0.13 * X) * np.cos(0.087 * Y) * np.cos(0.115 * Z)) ** 2
            + np.cos(0.025 * X - 0.15 * Y + 0.06 * Z) * np.cos(0.07 * X - 0.02 * Y - 0.12 * Z)
        )

    c_init.dimension = 3  # type: ignore[attr-defined]
    return described(c_init, "pfhub_initial_3d", c0=c0, epsilon=epsilon)


def pfhub_initial_for(domain: dmesh.Mesh) -> Callable[[np.ndarray], np.ndarray]:
    """:func:`pfhub_initial` on 1D/2D meshes, :func:`pfhub_initial_3d` on 3D meshes."""
    return pfhub_initial_3d() if domain.topology.dim == 3 else pfhub_initial()


def check_initial_dimension(c_init: Any, domain: dmesh.Mesh) -> None:
    """Refuse an initial condition written for another dimension than the mesh's.

    Functions carrying a ``dimension`` attribute (femgp's own initial conditions)
    are checked; other callables are taken as they are.
    """
    dim = getattr(c_init, "dimension", None)
    tdim = domain.topology.dim
    if dim is not None and dim != tdim:
        name = getattr(c_init, "name", "the initial condition")
        cell = domain.topology.cell_name()
        other = "pfhub_initial_3d" if tdim == 3 else "pfhub_initial"
        raise InputError(
            f"initial condition {name} is written for {dim}D meshes, but the mesh is "
            f"{tdim}D ({cell} cells); use {other} (or a function of x for {tdim}D)"
        )


def _schur_scales(dt: fem.Constant, flux: float, kappa: float) -> Callable[[], SchurScales]:
    """The block preconditioner's scales at the current value of ``dt``.

    A closure over the step-size constant, not a bound method of the model: the
    solver keeps it, and a model reachable from its own solver would form a
    reference cycle, freed by the cyclic collector at a different moment on each
    rank (its collective PETSc teardown then deadlocks; see femgp.fem.driver).
    """

    def scales() -> SchurScales:
        return SchurScales(dt=float(dt.value), flux=flux, kappa=kappa)

    return scales


class CahnHilliard:
    """Mixed P1×P1 Cahn-Hilliard on a DOLFINx mesh, no-flux or periodic boundaries.

    Forms are compiled once; the step size enters through a ``fem.Constant``.

    Args:
        domain: the mesh.
        params: model parameters.
        prefix: PETSc options prefix of the (c, mu) solve.
        options: default PETSc options. Without ``ksp_type``/``pc_type`` among them the
            linear solver is :func:`default_linear_solver`'s choice (MUMPS LU on small
            and 2D problems, the block preconditioner of
            :mod:`femgp.fem.preconditioners` on large 3D ones); the command line
            overrides either.
        reuse_pc: keep the preconditioner across Newton iterations and steps until a
            linear solve takes more than this many Krylov iterations (see
            :class:`femgp.fem.problems.NonlinearProblem`); the default MUMPS solve
            becomes :data:`KEPT_LU` (GMRES preconditioned by the kept factorisation).
            ``None`` (default): a fresh preconditioner at every Newton iteration.
    """

    def __init__(
        self,
        domain: dmesh.Mesh,
        params: Params,
        *,
        prefix: str = "femgp_ch_",
        options: Mapping[str, Any] | None = None,
        reuse_pc: int | None = None,
    ) -> None:
        self.mesh = domain
        self.params = p = params
        self.comm = domain.comm
        P1 = basix.ufl.element("Lagrange", domain.basix_cell(), 1)
        self.V = V = fem.functionspace(domain, basix.ufl.mixed_element([P1, P1]))
        self.Q, self._cmap = V.sub(0).collapse()
        _, self._mumap = V.sub(1).collapse()
        n_owned = V.dofmap.index_map.size_local * V.dofmap.index_map_bs
        self._cmap = np.asarray(self._cmap)
        self._mumap = np.asarray(self._mumap)
        self._c_owned = self._cmap[self._cmap < n_owned]

        self.u = fem.Function(V, name="u")
        self.u0 = fem.Function(V, name="u0")
        self.dt = fem.Constant(domain, 1.0)
        c, mu = ufl.split(self.u)
        c0, mu0 = ufl.split(self.u0)
        q, v = ufl.TestFunctions(V)
        dx = ufl.dx(domain=domain, metadata={"quadrature_degree": QUADRATURE_DEGREE})
        in_mu_slot = ufl.as_vector([v, 0])  # direction of dF/dc tested with v
        M = p.mobility
        energy = p.energy

        if p.scheme == "theta":
            mu_th = p.theta * mu + (1.0 - p.theta) * mu0
            dFdc = ufl.derivative(energy_form(energy, {"c": c}, dx), self.u, in_mu_slot)
        else:
            convex, concave = energy.split()
            dFdc = ufl.derivative(
                energy_form(convex, {"c": c}, dx), self.u, in_mu_slot
            ) + ufl.derivative(energy_form(concave, {"c": c0}, dx), self.u0, in_mu_slot)
            mu_th = mu
        R = (
            (c - c0) / self.dt * q * dx
            + M * ufl.inner(ufl.grad(mu_th), ufl.grad(q)) * dx
            + mu * v * dx
            - dFdc
        )
        self._flux = M * (p.theta if p.scheme == "theta" else 1.0)
        # Options that choose a linear solver replace the default one as a whole.
        chosen = options is not None and any(k in options for k in ("ksp_type", "pc_type"))
        # The block preconditioner splits the full (c, mu) space; a periodic
        # problem solves on the reduced unknowns, so it keeps MUMPS.
        linear = {} if chosen else CH_LU if p.periodic else default_linear_solver(V)
        if reuse_pc is not None and linear.get("pc_type") == "lu":
            linear = KEPT_LU
        defaults = {
            **linear,
            "snes_rtol": 1e-3,
            "snes_atol": 1e-10,
            "snes_max_it": 10,
        }
        defaults.update(options or {})
        #: The periodic constraint on (c, mu) (``None``: no-flux walls).
        self.constraint = (
            PeriodicConstraint(V, parse_periodic(p.periodic, domain.geometry.dim))
            if p.periodic
            else None
        )
        self.problem = NonlinearProblem(
            R,
            self.u,
            prefix=prefix,
            options=defaults,
            blocks=None if self.constraint else (V, _schur_scales(self.dt, self._flux, p.kappa)),
            constraint=self.constraint,
            reuse_pc=reuse_pc,
            update_limit=self._update_limit(),
        )

        cc = ufl.split(self.u)[0]
        comps = energy.components(UFL_OPS, field_values({"c": cc}))
        self._energy_forms = {k: fem.form(d * dx) for k, d in comps.items()}
        self._mass_form = fem.form(cc * dx)
        self._u_prev = np.zeros_like(self.u.x.array)  # (c, mu) at the step before u0
        self._u_prev2 = np.zeros_like(self.u.x.array)  # and at the one before that
        self._dt_prev: float | None = None
        self._dt_prev2: float | None = None
        #: Order of the error estimate: 2 with Milne's device (theta = 1/2), else 1.
        self.order = 2 if p.error_estimator == "milne" else 1

    def schur_scales(self) -> SchurScales:
        """The scales of the block preconditioner at the current step size."""
        return _schur_scales(self.dt, self._flux, self.params.kappa)()

    def _update_limit(self) -> tuple[fem.Function, float] | None:
        """The mask of the c unknowns and the largest Newton change of c (``Params.max_dc``)."""
        p = self.params
        if p.max_dc == 0:
            return None
        mask = fem.Function(self.V)
        mask.x.array[self._cmap] = 1.0
        return mask, p.max_dc * (p.c_beta - p.c_alpha)

    # -- state ---------------------------------------------------------------
    def set_initial(self, c_init: Callable[[np.ndarray], np.ndarray] | float) -> None:
        """Set c from a function of x (or a constant) and mu consistently from F'(c).

        On a periodic cell a non-periodic c(x) (PFHub 1a) first takes the mean of its
        copies, and mu is F'(c) of that periodic c, the one the model starts from.
        """
        cfun = fem.Function(self.Q)
        check_initial_dimension(c_init, self.mesh)
        if callable(c_init):
            cfun.interpolate(c_init)
        else:
            cfun.x.array[:] = float(c_init)
        c_constraint = None
        if self.constraint is not None:  # a non-periodic c(x) takes the mean of its copies
            c_constraint = PeriodicConstraint(self.Q, self.constraint.periodic)
            c_constraint.apply(cfun)
        self.u.x.array[self._cmap] = cfun.x.array
        self.u.x.scatter_forward()
        self.u.x.array[self._mumap] = self._chemical_potential(cfun, c_constraint).x.array
        self.u.x.scatter_forward()
        if self.constraint is not None:  # exact copies of mu too (the projection's round-off)
            self.constraint.apply(self.u)
        self.u0.x.array[:] = self.u.x.array
        self._dt_prev = self._dt_prev2 = None

    def _chemical_potential(
        self, cfun: fem.Function, constraint: PeriodicConstraint | None = None
    ) -> fem.Function:
        """L2 projection of mu = F'(c) for a given c (consistent initial mu).

        With ``constraint`` (periodic on ``Q``; ``cfun`` must satisfy it) the
        projection is onto the periodic functions.
        """
        w, r = ufl.TrialFunction(self.Q), ufl.TestFunction(self.Q)
        dF = ufl.derivative(energy_form(self.params.energy, {"c": cfun}), cfun, r)
        if constraint is not None:  # the periodic projection (no boundary terms)
            mu = fem.Function(self.Q)
            proj = NonlinearProblem(
                ufl.replace(w * r * ufl.dx, {w: mu}) - dF,
                mu,
                prefix="femgp_ch_mu0_",
                options={
                    "snes_type": "ksponly",
                    "ksp_type": "cg",
                    "pc_type": "jacobi",
                    "ksp_rtol": 1e-14,
                },
                constraint=constraint,
            )
            proj.snes.getLineSearch().setFromOptions()  # consumes the wrapper's default
            proj.solve()
            return mu
        lp = LinearProblem(
            w * r * ufl.dx,
            dF,
            petsc_options_prefix="femgp_ch_mu0_",
            petsc_options={"ksp_type": "cg", "pc_type": "jacobi", "ksp_rtol": 1e-14},
        )
        return lp.solve()

    @property
    def c(self) -> np.ndarray:
        """Local (owned + ghost) values of c."""
        return self.u.x.array[self._cmap]

    def free_energy(self) -> dict[str, float]:
        """Chemical, gradient and total free energy (allreduced)."""
        out = {k: scalar(f, self.comm) for k, f in self._energy_forms.items()}
        out["free_energy"] = sum(out.values())
        return out

    def mass(self) -> float:
        """∫ c (allreduced)."""
        return scalar(self._mass_form, self.comm)

    # -- stepping ------------------------------------------------------------
    def step(self, dt: float, *, step: int | None = None) -> tuple[SolveStats, float | None]:
        """Advance by ``dt`` (without committing): returns solve stats and an error estimate.

        Call :meth:`commit` to accept the step or :meth:`rollback` to discard it.
        """
        self.dt.value = dt
        self.u.x.array[:] = self.u0.x.array  # initial guess: previous state
        if self._dt_prev is not None:  # extrapolation as a better guess
            self.u.x.array[:] = self._predictor(dt, slice(None))[0]
        stats = self.problem.solve(step=step)
        return stats, self._error_estimate(dt)

    def _error_estimate(self, dt: float) -> float | None:
        """The local error of the step, relative to the RMS deviation of c from its mean.

        Order 1 (``estimator="curvature"``): the O(dt^2) curvature term ``c2 dt^2 / 2``
        of the trajectory (``c2`` the second time derivative; the local error of
        backward Euler) from the distance to the linear extrapolation of the two
        previous states (:meth:`_curvature_scale`). Order 2 (``"milne"``, theta = 1/2, the
        trapezoidal rule, local error ``-dt^3 c3 / 12`` with ``c3`` the third time
        derivative): Milne's device with the quadratic extrapolation through the
        three previous states, whose error is ``c3 dt (dt + h1) (dt + h1 + h2) / 6``
        (``h1, h2`` the previous steps). The previous states are the scheme's own,
        and with c they lie on one smooth discrete trajectory (the exact one plus a
        smooth global error), so ``c - pred`` is the extrapolation error alone and
        ``|c - pred| dt^3 / (2 dt (dt + h1) (dt + h1 + h2))`` estimates the
        trapezoidal error; the linear estimate stands in until three states exist.
        """
        if self._dt_prev is None:
            return None
        owned = self._c_owned
        c_new = self.u.x.array[owned]
        pred, scale = self._predictor(dt, owned)
        mean = self.comm.allreduce(float(np.sum(c_new)), op=MPI.SUM)
        n = self.comm.allreduce(owned.size, op=MPI.SUM)
        sums = np.array([np.sum((c_new - pred) ** 2), np.sum((c_new - mean / n) ** 2)])
        diff_sq, dev_sq = self.comm.allreduce(sums, op=MPI.SUM)
        # Relative to the current deviation from the mean (the microstructure's
        # amplitude, 0.01 at the start of PFHub 1).
        return math.sqrt(diff_sq / max(dev_sq, 1e-300)) * scale

    def _predictor(self, dt: float, idx: np.ndarray | slice) -> tuple[np.ndarray, float]:
        """Extrapolation of the committed states to ``t + dt`` and the error-estimate scale.

        Linear through two states (scale :meth:`_curvature_scale`), or, for the
        order-2 estimate once three states exist, quadratic (Newton's divided
        differences) with Milne's scale.
        """
        now, prev = self.u0.x.array[idx], self._u_prev[idx]
        h1 = self._dt_prev
        assert h1 is not None
        if self.order == 1 or self._dt_prev2 is None:
            r = dt / h1
            return now + r * (now - prev), self._curvature_scale(r)
        h2 = self._dt_prev2
        d1 = (now - prev) / h1
        d2 = (d1 - (prev - self._u_prev2[idx]) / h2) / (h1 + h2)
        pred = now + dt * d1 + dt * (dt + h1) * d2
        cube = dt**3
        return pred, cube / (2.0 * dt * (dt + h1) * (dt + h1 + h2))

    def _curvature_scale(self, r: float) -> float:
        """:func:`femgp.fem.stepping.curvature_scale` of this scheme, ``r = dt / dt_prev``.

        Eyre's splitting takes backward Euler's scale; its local error has another
        constant, so there the estimate is the curvature term at constant steps only.
        """
        p = self.params
        return curvature_scale(r, p.theta if p.scheme == "theta" else 1.0)

    def commit(self, dt: float) -> None:
        """Accept the last step: the current state becomes the previous one."""
        self._u_prev2[:] = self._u_prev
        self._dt_prev2 = self._dt_prev
        self._u_prev[:] = self.u0.x.array
        self._dt_prev = dt
        self.u0.x.array[:] = self.u.x.array

    def rollback(self) -> None:
        """Discard the last step."""
        self.u.x.array[:] = self.u0.x.array

    def checkpoint(self) -> tuple[dict[str, fem.Function], dict[str, Any]]:
        """The functions and scalars a checkpoint needs for an exact continuation."""
        functions = {
            "u": self.u,
            "u_prev": array_function(self.V, self._u_prev),
            "u_prev2": array_function(self.V, self._u_prev2),
        }
        return functions, {"dt_prev": self._dt_prev, "dt_prev2": self._dt_prev2}

    def restore(self, cp: RunCheckpointing, state: Mapping[str, Any]) -> None:
        """Restore the committed state saved by :meth:`checkpoint`."""
        cp.load_function("u", self.u)
        self.u0.x.array[:] = self.u.x.array
        self._u_prev[:] = cp.load_array("u_prev", self.V)
        dt_prev, dt_prev2 = state["dt_prev"], state.get("dt_prev2")
        self._dt_prev = None if dt_prev is None else float(dt_prev)
        self._dt_prev2 = None if dt_prev2 is None else float(dt_prev2)
        if self._dt_prev2 is not None:
            self._u_prev2[:] = cp.load_array("u_prev2", self.V)

    def output_functions(self) -> tuple[fem.Function, fem.Function]:
        """Collapsed copies of c and mu, named for XDMF."""
        c = fem.Function(self.Q, name="c")
        c.x.array[:] = self.u.x.array[self._cmap]
        mu = fem.Function(self.Q, name="mu")
        mu.x.array[:] = self.u.x.array[self._mumap]
        return c, mu


@dataclass
class RunResult(RunSummary):
    """What :func:`run` returns: history, counts, field times and the final (c, mu)."""

    rejected: int
    newton: int
    krylov: int
    field_times: list[float] = field(default_factory=list)
    fields: tuple[Any, ...] = ()


class _Stepping:
    """:class:`CahnHilliard` in the protocol of :func:`femgp.fem.driver.drive`."""

    name = "cahn_hilliard"

    def __init__(self, model: CahnHilliard) -> None:
        self.model = model
        self.mesh = model.mesh

    def step(self, t: float, dt: float, step: int) -> Attempt:
        stats, err = self.model.step(dt, step=step)
        return Attempt(stats.newton, err, stats)

    def commit(self, t: float, dt: float) -> None:
        self.model.commit(dt)

    def rollback(self) -> None:
        self.model.rollback()

    def checkpoint(self) -> tuple[dict[str, fem.Function], dict[str, Any]]:
        functions, state = self.model.checkpoint()
        # A continuation starts with a fresh preconditioner: so does this run.
        self.model.problem.rebuild_pc()
        return functions, {**state, **self.summary()}

    def restore(self, cp: RunCheckpointing, state: Mapping[str, Any]) -> None:
        self.model.restore(cp, state)
        self.model.problem.total.newton = int(state["newton"])
        self.model.problem.total.krylov = int(state["krylov"])

    def output_functions(self) -> tuple[fem.Function, fem.Function]:
        return self.model.output_functions()

    def history_row(self, info: StepInfo) -> dict[str, float]:
        attempt = info.attempt or Attempt(stats=SolveStats())
        return {
            "step": info.step,
            "time": info.t,
            "dt": info.dt,
            **self.model.free_energy(),
            "mass": self.model.mass(),
            "newton": attempt.stats.newton,
            "krylov": attempt.stats.krylov,
            "rejected": info.rejected,
            "error": float("nan") if attempt.error is None else attempt.error,
        }

    def summary(self) -> dict[str, int]:
        total = self.model.problem.total
        return {"newton": total.newton, "krylov": total.krylov}

    def finish(self) -> None:
        warn_unused_options(self.model.problem)


def run(
    domain: dmesh.Mesh,
    params: Params,
    *,
    t_end: float,
    initial: Callable[[np.ndarray], np.ndarray] | float | None = None,
    output: str | Path | None = None,
    field_times: Sequence[float] = (),
    overwrite: bool = False,
    max_steps: int = 10_000_000,
    options: Mapping[str, Any] | None = None,
    prefix: str = "femgp_ch_",
    show_progress: bool = True,
    checkpoint_every: int | None = None,
    restart: bool = False,
    vtx: bool = False,
    reuse_pc: int | None = None,
) -> RunResult:
    """Run Cahn-Hilliard from ``initial`` to ``t_end`` (stepped by :func:`femgp.fem.driver.drive`).

    Args:
        domain, params, t_end: the mesh, parameters and final time (> 0).
        initial: c(x) as a function of x or a constant (default: PFHub benchmark 1).
        field_times: times at which fields are written (always t = 0 and t_end);
            the stepper lands on them exactly. Finite and >= 0 (InputError
            otherwise); 0 and times at or past ``t_end`` are left out.
        max_steps: guard on the number of accepted steps.
        options, prefix: default PETSc options and the options prefix of the solve.
        output, overwrite, show_progress, checkpoint_every, restart, vtx: see
            :class:`femgp.fem.driver.RunOptions` (``t_end`` may grow on restart).
        reuse_pc: see :class:`CahnHilliard`.

    Raises:
        RunInterrupted: SIGTERM (exit code 143) or SIGINT (130) stopped the run.
    """
    started = time.perf_counter()
    t_end = check_positive("t_end", t_end)
    # nan or a negative time is a mistake; 0 (always written) and times past t_end are left out
    field_times = [check_nonnegative("field_times", t) for t in field_times]
    field_times = sorted({t for t in field_times if 0 < t < t_end})
    # The model first: bad PETSc options fail here, before anything is written.
    model = CahnHilliard(domain, params, prefix=prefix, options=options, reuse_pc=reuse_pc)
    initial = pfhub_initial_for(domain) if initial is None else initial
    model.set_initial(initial)
    p = params
    stepper = AdaptiveStepper(
        p.dt, p.dt_min, p.dt_max, p.adaptive, p.tol, order=model.order, output_times=field_times
    )
    res = drive(
        _Stepping(model),
        stepper,
        RunOptions(output, overwrite, show_progress, checkpoint_every, restart, vtx),
        t_end=t_end,
        params=_params_dict(params, t_end, initial),
        columns=HISTORY_COLUMNS,
        extra_tables={"free_energy.csv": ("time", "free_energy")},
        field_times=field_times,
        max_steps=max_steps,
        started=started,
    )
    base = (res.history, res.folder, res.wall_time, res.steps, res.rejected)
    totals = _Stepping(model).summary()
    return RunResult(*base, **totals, field_times=res.field_times, fields=model.output_functions())


def _params_dict(params: Params, t_end: float, initial: Any) -> dict[str, Any]:
    return {**asdict(params), "t_end": t_end, "initial": initial_description(initial)}
