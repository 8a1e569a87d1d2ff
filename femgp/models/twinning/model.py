"""The twinning model on a DOLFINx mesh: fields, derived residuals, solvers, one time step.

Time-dependent Ginzburg-Landau (Allen-Cahn) relaxation of the variant order
parameters with mechanical equilibrium at every step,

    d eta_i / dt = -L dF/d eta_i,        dF/du = 0,

discretised with backward Euler. Each step minimises (finds a stationary point
of) the incremental potential

    Pi(eta, u) = F(eta, u) + Σ_i ∫ (eta_i - eta_i^n)^2 / (2 L dt),

and every residual is ``ufl.derivative`` of ``Pi`` (energy first): the block
residual of all fields (monolithic Newton; MUMPS LU in 1D/2D, GMRES + GAMG in
3D by default) or the u and eta blocks alone (staggered: a linear CG + GAMG u
solve with the rigid-body near-nullspace, then a Newton eta solve, repeated
until eta stops changing, with the monolithic solve as fallback). For a step
small enough that ``Pi`` is convex, its minimiser lowers ``F``: the scheme is
energy-decreasing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import femgp.fem._backend  # noqa: F401  (dolfinx_solver before dolfinx)

import numpy as np
import ufl
from dolfinx import fem
from dolfinx import mesh as dmesh
from dolfinx.fem.forms import derivative_block
from mpi4py import MPI
from petsc4py import PETSc

from femgp.errors import InputError, SolverError
from femgp.fem.forms import UFL_OPS, energy_form, field_values, scalar
from femgp.fem.nullspace import rigid_body_modes
from femgp.fem.periodic import AXES, PeriodicConstraint
from femgp.fem.problems import DIRECT_LU, NonlinearProblem, SolveStats
from femgp.fem.stepping import curvature_scale
from femgp.models.twinning.params import Params

__all__ = ["ITERATIVE_3D", "Twinning"]

#: Default linear solver of the 3D monolithic Newton step.
ITERATIVE_3D: dict[str, Any] = {
    "ksp_type": "gmres",
    "ksp_gmres_restart": 100,
    "pc_type": "gamg",
    "ksp_rtol": 1e-10,
    "ksp_atol": 1e-14,
    "ksp_max_it": 1000,
}

InitialValue = Callable[[np.ndarray], np.ndarray] | float


class Twinning:
    """Multi-variant Ginzburg-Landau martensite coupled with elasticity.

    Forms are compiled once; the step enters through a ``fem.Constant``. Call
    :meth:`set_initial`, then :meth:`step` / :meth:`commit` / :meth:`rollback`.

    Args:
        domain: the mesh (1D, 2D or 3D; elasticity needs 2D or 3D).
        params: model parameters.
        prefix: PETSc options prefix (``femgp_twinning_``); the staggered
            sub-problems use ``<prefix>u_`` and ``<prefix>eta_``.
        options: default PETSc options of the monolithic problem.
        options_u, options_eta: defaults of the staggered sub-problems.
    """

    def __init__(
        self,
        domain: dmesh.Mesh,
        params: Params,
        *,
        prefix: str = "femgp_twinning_",
        options: Mapping[str, Any] | None = None,
        options_u: Mapping[str, Any] | None = None,
        options_eta: Mapping[str, Any] | None = None,
    ) -> None:
        self.mesh = domain
        self.params = p = params
        self.comm = domain.comm
        self.prefix = prefix
        gdim = domain.geometry.dim
        if p.elastic is not None and p.elastic.strain.dim != gdim:
            raise InputError(
                f"the transformation strains are {p.elastic.strain.dim}x{p.elastic.strain.dim} "
                f"but the mesh is {gdim}D"
            )
        if p.elastic is not None and gdim not in (2, 3):
            raise InputError(f"elastic coupling needs a 2D or 3D mesh, got a {gdim}D mesh")
        if p.elastic is not None and (p.elastic.model == "3d") != (gdim == 3):
            raise InputError(f"elastic model {p.elastic.model!r} does not fit a {gdim}D mesh")

        self.Q = Q = fem.functionspace(domain, ("Lagrange", 1))
        self.etas = [fem.Function(Q, name=n) for n in p.variants]
        self.etas0 = [fem.Function(Q, name=f"{n}_old") for n in p.variants]
        self._eta_prev: list[np.ndarray] | None = None  # eta one step before etas0
        self._dt_prev: float | None = None
        self.dt = fem.Constant(domain, 1.0)
        fields_ufl: dict[str, Any] = dict(zip(p.variants, self.etas, strict=True))

        self.V: fem.FunctionSpace | None = None
        self.u: fem.Function | None = None
        if p.elastic is not None:
            self.V = fem.functionspace(domain, ("Lagrange", p.degree_u, (gdim,)))
            self.u = fem.Function(self.V, name="u")
            fields_ufl[p.displacement] = self.u
        self._u_saved: np.ndarray | None = None
        self._constraints: dict[int, PeriodicConstraint] = {}
        if p.boundary == "periodic":
            self._periodic_constraints()

        energy = p.energy
        F = energy_form(energy, fields_ufl)
        dissipation = sum((e - e0) ** 2 for e, e0 in zip(self.etas, self.etas0, strict=True)) / (
            2.0 * p.mobility * self.dt
        )
        self.Pi = F + dissipation * ufl.dx

        comps = energy.components(UFL_OPS, field_values(fields_ufl))
        self._energy_forms = {k: fem.form(d * ufl.dx) for k, d in comps.items()}
        self._mean_forms = [fem.form(e * ufl.dx) for e in self.etas]
        self.volume = scalar(fem.form(fem.Constant(domain, 1.0) * ufl.dx), self.comm)

        self.bcs = self._displacement_bcs() if self.u is not None else []
        self._options = dict(options or {})
        self._options_u = dict(options_u or {})
        self._options_eta = dict(options_eta or {})
        self._monolithic: NonlinearProblem | None = None
        self._eta_problem: NonlinearProblem | None = None
        self._u_problem: NonlinearProblem | None = None
        if p.scheme == "monolithic" or self.u is None:
            self.monolithic_problem()
        else:
            self.eta_problem()
        if self.u is not None:
            self.u_problem()
        self._u_out: fem.Function | None = None
        self._strain_out: fem.Function | None = None
        self._variant: fem.Function | None = None
        self.staggered_iterations = 0
        #: The iteration count of the last step that drives the step control: Newton
        #: iterations (monolithic) or staggered iterations (a fallback counts as many).
        self.control_iterations = 0
        self.fallbacks = 0

    # -- periodic cell ----------------------------------------------------------------
    @property
    def mean_strain(self) -> np.ndarray:
        """The prescribed mean strain ``ε̄`` of a periodic cell (zeros otherwise)."""
        gdim = self.mesh.geometry.dim
        E = self.params.mean_strain
        return np.zeros((gdim, gdim)) if E is None else np.array(E, dtype=float)

    def _periodic_constraints(self) -> None:
        """Every variant periodic; u = ε̄·x + a periodic fluctuation (femgp.fem.periodic)."""
        gdim = self.mesh.geometry.dim
        axes = AXES[:gdim]
        c_eta = PeriodicConstraint(self.Q, axes)
        for e in self.etas:
            self._constraints[id(e)] = c_eta
        if self.u is not None:
            E = self.mean_strain
            self._constraints[id(self.u)] = PeriodicConstraint(
                self.V, axes, affine=lambda x: E @ x[:gdim]
            )

    def constraints_of(self, unknowns: Sequence[fem.Function]) -> list[PeriodicConstraint] | None:
        """The periodic constraints of ``unknowns`` (``None`` unless the cell is periodic)."""
        if not self._constraints:
            return None
        return [self._constraints[id(f)] for f in unknowns]

    def mean_strain_of_u(self) -> np.ndarray:
        """``∫ sym grad u / |Ω|`` (allreduced): ``ε̄`` on a periodic cell."""
        gdim = self.mesh.geometry.dim
        eps = ufl.sym(ufl.grad(self.u))
        return np.array(
            [
                [scalar(fem.form(eps[i, j] * ufl.dx), self.comm) / self.volume for j in range(gdim)]
                for i in range(gdim)
            ]
        )

    # -- problems (built on first use) --------------------------------------------
    @property
    def unknowns(self) -> list[fem.Function]:
        """All unknown Functions: the variants, then u."""
        return [*self.etas, *([self.u] if self.u is not None else [])]

    def monolithic_problem(self) -> NonlinearProblem:
        """The Newton problem of all fields at once.

        Default linear solver: MUMPS LU in 1D and 2D (fastest at these sizes),
        GMRES + GAMG in 3D (about 3x faster than LU on the 12^3 demo, same iterates).
        """
        if self._monolithic is None:
            linear = DIRECT_LU if self.mesh.topology.dim < 3 else ITERATIVE_3D
            defaults = {
                **linear,
                "snes_linesearch_type": "basic",
                "snes_rtol": 1e-9,
                "snes_atol": 1e-10,
                "snes_stol": 1e-12,
                "snes_max_it": 25,
            }
            defaults.update(self._options)
            self._monolithic = _problem(
                self.Pi,
                self.unknowns,
                prefix=self.prefix,
                bcs=self.bcs,
                options=defaults,
                constraints=self.constraints_of(self.unknowns),
            )
        return self._monolithic

    def eta_problem(self) -> NonlinearProblem:
        """Newton on the variants with u fixed (GMRES + GAMG by default)."""
        if self._eta_problem is None:
            defaults = {
                "ksp_type": "gmres",
                "pc_type": "gamg",
                "ksp_rtol": 1e-11,
                "ksp_atol": 1e-14,
                "snes_rtol": 1e-9,
                "snes_atol": 1e-10,
                "snes_stol": 1e-12,
                "snes_max_it": 25,
            }
            defaults.update(self._options_eta)
            self._eta_problem = _problem(
                self.Pi,
                self.etas,
                prefix=f"{self.prefix}eta_",
                bcs=[],
                options=defaults,
                constraints=self.constraints_of(self.etas),
            )
        return self._eta_problem

    def u_problem(self) -> NonlinearProblem:
        """The (linear) equilibrium of u with eta fixed: CG + GAMG with rigid-body modes."""
        if self._u_problem is None:
            defaults = {
                "snes_type": "ksponly",
                "ksp_type": "cg",
                "pc_type": "gamg",
                "ksp_rtol": 1e-12,
                "ksp_atol": 1e-14,
                "ksp_max_it": 1000,
            }
            if self._constraints and self.mesh.topology.dim < 3:
                # rotations are not periodic: no rigid-body near-nullspace; LU in 2D
                defaults = {"snes_type": "ksponly", **DIRECT_LU}
            defaults.update(self._options_u)
            prob = _problem(
                self.Pi,
                [self.u],
                prefix=f"{self.prefix}u_",
                bcs=self.bcs,
                options=defaults,
                constraints=self.constraints_of([self.u]),
            )
            if not self._constraints:
                self._nullspace, self._modes = rigid_body_modes(self.V)
                prob.A.setNearNullSpace(self._nullspace)
            prob.snes.getLineSearch().setFromOptions()  # consumes the wrapper's line-search default
            self._u_problem = prob
        return self._u_problem

    def _displacement_bcs(self) -> list[fem.DirichletBC]:
        msh, V = self.mesh, self.V
        tdim, gdim = msh.topology.dim, msh.geometry.dim
        if self.params.boundary == "clamped":
            msh.topology.create_connectivity(tdim - 1, tdim)
            facets = dmesh.exterior_facet_indices(msh.topology)
            dofs = fem.locate_dofs_topological(V, tdim - 1, facets)
            return [fem.dirichletbc(np.zeros(gdim), dofs, V)]
        if self.params.boundary == "periodic":
            # the translation of the periodic fluctuation: pin the lower corner to ε̄·lo
            from femgp.fem.periodic import bounding_box

            lo, hi = bounding_box(msh)
            tol = 1e-8 * float(np.max(hi - lo))
            msh.topology.create_connectivity(0, tdim)
            verts = dmesh.locate_entities(
                msh, 0, lambda y: np.all(np.abs(y[:gdim].T - lo) < tol, axis=1)
            )
            dofs = fem.locate_dofs_topological(V, 0, verts)
            return [fem.dirichletbc(self.mean_strain @ lo, dofs, V)]
        # traction-free: pin the rigid-body modes at corners of the bounding box
        x = msh.geometry.x[:, :gdim]
        lo, hi = np.empty(gdim), np.empty(gdim)
        msh.comm.Allreduce(x.min(axis=0) if x.size else np.full(gdim, np.inf), lo, op=MPI.MIN)
        msh.comm.Allreduce(x.max(axis=0) if x.size else np.full(gdim, -np.inf), hi, op=MPI.MAX)
        if gdim == 2:
            pins = [(lo, (0, 1)), (np.array([hi[0], lo[1]]), (1,))]
        else:
            pins = [
                (lo, (0, 1, 2)),
                (np.array([hi[0], lo[1], lo[2]]), (1, 2)),
                (np.array([lo[0], hi[1], lo[2]]), (2,)),
            ]
        tol = 1e-8 * float(np.max(hi - lo))
        msh.topology.create_connectivity(0, tdim)
        bcs = []
        for point, comps in pins:
            verts = dmesh.locate_entities(
                msh, 0, lambda y, c=point: np.all(np.abs(y[:gdim].T - c) < tol, axis=1)
            )
            found = msh.comm.allreduce(int(verts.size), op=MPI.SUM)
            if found == 0:
                raise InputError(
                    "a traction-free twinning model pins its rigid-body modes at corners of the "
                    f"bounding box, but no mesh vertex lies at {point.tolist()}; use a box mesh "
                    "or boundary='clamped'"
                )
            for c in comps:
                Vc = V.sub(c)
                dofs = fem.locate_dofs_topological(Vc, 0, verts)
                bcs.append(fem.dirichletbc(PETSc.ScalarType(0.0), dofs, Vc))
        return bcs

    # -- state ----------------------------------------------------------------------
    def set_initial(self, etas: Sequence[InitialValue]) -> None:
        """Set each eta from a function of x (or a constant); equilibrate u for them."""
        if len(etas) != len(self.etas):
            raise InputError(
                f"{len(self.etas)} initial values needed (one per variant "
                f"{', '.join(self.params.variants)}), got {len(etas)}"
            )
        for fn, init in zip(self.etas, etas, strict=True):
            if callable(init):
                fn.interpolate(init)
            else:
                fn.x.array[:] = float(init)
            fn.x.scatter_forward()
            if self._constraints:  # a non-periodic eta(x) takes the mean of its copies
                self._constraints[id(fn)].apply(fn)
        for e, e0 in zip(self.etas, self.etas0, strict=True):
            e0.x.array[:] = e.x.array
        if self.u is not None:
            self.u.x.array[:] = 0.0
            if self._constraints:
                self.u.x.array[:] = self._constraints[id(self.u)].affine.x.array
            self.dt.value = 1.0
            self.u_problem().solve(step=0)
        self._save_u()
        self._eta_prev = None
        self._dt_prev = None

    def _save_u(self) -> None:
        self._u_saved = None if self.u is None else self.u.x.array.copy()

    def energies(self) -> dict[str, float]:
        """Energies by label (chemical, gradient, elastic) and their ``total`` (allreduced)."""
        out = {k: scalar(f, self.comm) for k, f in self._energy_forms.items()}
        out["total"] = math.fsum(out.values())
        return out

    def mean_order_parameters(self) -> dict[str, float]:
        """``<eta_i> = ∫ eta_i / |Omega|`` per variant (allreduced).

        For the normalised Landau polynomials (wells at ``eta_i = 1``) this is the
        volume fraction of variant ``i`` (an underestimate where walls are diffuse
        or the order is reduced by stress).
        """
        return {
            n: scalar(f, self.comm) / self.volume
            for n, f in zip(self.params.variants, self._mean_forms, strict=True)
        }

    def _owned(self, fn: fem.Function) -> np.ndarray:
        n = fn.function_space.dofmap.index_map.size_local * fn.function_space.dofmap.index_map_bs
        return fn.x.array[:n]

    # -- stepping ---------------------------------------------------------------------
    def step(self, dt: float, *, step: int | None = None) -> tuple[SolveStats, float | None]:
        """Advance by ``dt`` without committing: returns solve stats and an error estimate.

        A failed solve restores the fields and raises :class:`femgp.SolverError`.
        """
        self.dt.value = dt
        self._predict(dt)
        if self.params.scheme == "monolithic" or self.u is None:
            stats = self.monolithic_problem().solve(step=step)
            self.staggered_iterations = 0
            self.control_iterations = stats.newton
        else:
            fallbacks = self.fallbacks
            stats = self._staggered(step)
            self.control_iterations = (
                self.staggered_iterations if self.fallbacks == fallbacks else 10**6
            )
        return stats, self._error_estimate(dt)

    @property
    def target_iterations(self) -> int:
        """The :attr:`control_iterations` the step control regards as easy."""
        return 4 if self.params.scheme == "monolithic" or self.u is None else 8

    def _predict(self, dt: float) -> None:
        for k, (e, e0) in enumerate(zip(self.etas, self.etas0, strict=True)):
            e.x.array[:] = e0.x.array
            if self._eta_prev is not None and self._dt_prev is not None:
                r = dt / self._dt_prev
                e.x.array[:] += r * (e0.x.array - self._eta_prev[k])
        if self.u is not None and self._u_saved is not None:
            self.u.x.array[:] = self._u_saved

    def _staggered(self, step: int | None) -> SolveStats:
        """Alternate the u and eta solves; fall back to the monolithic solve."""
        total = SolveStats()
        start = [e.x.array.copy() for e in self.etas]
        tol = self.params.staggered_tol
        try:
            for k in range(1, self.params.staggered_max_it + 1):
                total += self.u_problem().solve(step=step)
                before = [e.x.array.copy() for e in self.etas]
                total += self.eta_problem().solve(step=step)
                change = max(
                    float(np.max(np.abs(self._owned(e) - b[: self._owned(e).size]), initial=0.0))
                    for e, b in zip(self.etas, before, strict=True)
                )
                change = self.comm.allreduce(change, op=MPI.MAX)
                if change < tol:
                    total += self.u_problem().solve(step=step)
                    self.staggered_iterations = k
                    return total
            reason = f"no convergence in {self.params.staggered_max_it} staggered iterations"
        except SolverError as exc:
            reason = str(exc)
        # fallback: the monolithic Newton solve from the predictor
        self.fallbacks += 1
        self.staggered_iterations = self.params.staggered_max_it
        for e, s in zip(self.etas, start, strict=True):
            e.x.array[:] = s
        if self._u_saved is not None:
            self.u.x.array[:] = self._u_saved
        try:
            total += self.monolithic_problem().solve(step=step)
        except SolverError as exc:
            raise SolverError(
                f"staggered step failed ({reason}) and so did the monolithic fallback: {exc}",
                prefix=self.prefix,
                step=step,
            ) from exc
        return total

    def _error_estimate(self, dt: float) -> float | None:
        """The backward-Euler local error ``eta'' dt^2 / 2`` (RMS over the variants).

        The RMS distance of eta from the linear extrapolation of the last two steps
        times :func:`femgp.fem.stepping.curvature_scale` of backward Euler (1/2 at
        any step ratio: the new state's own local error adds to the extrapolation
        error ``eta'' dt (dt + h) / 2``).
        """
        if self._eta_prev is None or self._dt_prev is None:
            return None
        r = dt / self._dt_prev
        sq, n = 0.0, 0
        for k, (e, e0) in enumerate(zip(self.etas, self.etas0, strict=True)):
            new, now = self._owned(e), self._owned(e0)
            pred = now + r * (now - self._eta_prev[k][: now.size])
            sq += float(np.sum((new - pred) ** 2))
            n += new.size
        sq = self.comm.allreduce(sq, op=MPI.SUM)
        n = self.comm.allreduce(n, op=MPI.SUM)
        return curvature_scale(r, theta=1.0) * math.sqrt(sq / n)

    def rate(self, dt: float) -> float:
        """``max |eta - eta_old| / dt`` over all variants (allreduced): the relaxation speed."""
        m = max(
            float(np.max(np.abs(self._owned(e) - self._owned(e0)), initial=0.0))
            for e, e0 in zip(self.etas, self.etas0, strict=True)
        )
        return self.comm.allreduce(m, op=MPI.MAX) / dt

    def commit(self, dt: float) -> None:
        """Accept the last step."""
        self._eta_prev = [e0.x.array.copy() for e0 in self.etas0]
        self._dt_prev = dt
        for e, e0 in zip(self.etas, self.etas0, strict=True):
            e0.x.array[:] = e.x.array
        self._save_u()

    def checkpoint(self) -> tuple[dict[str, fem.Function], dict[str, Any]]:
        """The functions and scalars a checkpoint needs (call right after :meth:`commit`)."""
        from femgp.fem.checkpoint import array_function

        functions: dict[str, fem.Function] = {}
        for k, e in enumerate(self.etas):
            functions[f"eta{k}"] = e
            if self._eta_prev is not None:
                functions[f"eta_prev{k}"] = array_function(self.Q, self._eta_prev[k])
        if self.u is not None:
            functions["u"] = self.u
        totals = {
            name: None if prob is None else [prob.total.newton, prob.total.krylov]
            for name, prob in (
                ("monolithic", self._monolithic),
                ("eta", self._eta_problem),
                ("u", self._u_problem),
            )
        }
        state = {
            "dt_prev": self._dt_prev,
            "has_prev": self._eta_prev is not None,
            "fallbacks": self.fallbacks,
            "totals": totals,
        }
        return functions, state

    def restore(self, cp: Any, state: Mapping[str, Any]) -> None:
        """Restore what :meth:`checkpoint` saved (``cp``: a ``RunCheckpointing``)."""
        for k, (e, e0) in enumerate(zip(self.etas, self.etas0, strict=True)):
            cp.load_function(f"eta{k}", e)
            e0.x.array[:] = e.x.array
        self._eta_prev = (
            [cp.load_array(f"eta_prev{k}", self.Q) for k in range(len(self.etas))]
            if state["has_prev"]
            else None
        )
        if self.u is not None:
            cp.load_function("u", self.u)
        self._save_u()
        dt_prev = state["dt_prev"]
        self._dt_prev = None if dt_prev is None else float(dt_prev)
        self.fallbacks = int(state["fallbacks"])
        builders = {
            "monolithic": self.monolithic_problem,
            "eta": self.eta_problem,
            "u": self.u_problem,
        }
        for name, total in state["totals"].items():
            if total is not None:
                prob = builders[name]()
                prob.total.newton, prob.total.krylov = int(total[0]), int(total[1])

    def rollback(self) -> None:
        """Discard the last step."""
        for e, e0 in zip(self.etas, self.etas0, strict=True):
            e.x.array[:] = e0.x.array
        if self.u is not None and self._u_saved is not None:
            self.u.x.array[:] = self._u_saved

    # -- output -------------------------------------------------------------------------
    def output_functions(self) -> list[fem.Function]:
        """Functions for XDMF: every eta, u (P1), the strain eps(u) (DG0) and a variant map."""
        out: list[fem.Function] = list(self.etas)
        msh = self.mesh
        gdim = msh.geometry.dim
        if self.u is not None:
            if self.params.degree_u == 1:
                out.append(self.u)
            else:
                if self._u_out is None:
                    V1 = fem.functionspace(msh, ("Lagrange", 1, (gdim,)))
                    self._u_out = fem.Function(V1, name="u")
                self._u_out.interpolate(self.u)
                out.append(self._u_out)
            if self._strain_out is None:
                T = fem.functionspace(msh, ("DG", 0, (gdim, gdim)))
                self._strain_out = fem.Function(T, name="strain")
                self._strain_expr = fem.Expression(
                    ufl.sym(ufl.grad(self.u)), T.element.interpolation_points
                )
            self._strain_out.interpolate(self._strain_expr)
            out.append(self._strain_out)
        if len(self.etas) > 1:
            out.append(self.variant_map())
        return out

    def variant_map(self) -> fem.Function:
        """The P1 field ``Σ_i i eta_i`` (0: austenite, i: variant i), named ``variant``."""
        if self._variant is None:
            self._variant = fem.Function(self.Q, name="variant")
        self._variant.x.array[:] = sum((i + 1) * e.x.array for i, e in enumerate(self.etas))
        return self._variant


def _problem(
    Pi: ufl.Form,
    unknowns: list[fem.Function],
    *,
    prefix: str,
    bcs: list[fem.DirichletBC],
    options: Mapping[str, Any],
    constraints: list[PeriodicConstraint] | None = None,
) -> NonlinearProblem:
    """A NonlinearProblem whose residual is the derivative of ``Pi`` w.r.t. ``unknowns``."""
    if len(unknowns) == 1:
        u = unknowns[0]
        R = ufl.derivative(Pi, u, ufl.TestFunction(u.function_space))
        return NonlinearProblem(
            R, u, prefix=prefix, bcs=bcs, options=options, constraint=constraints
        )
    R = derivative_block(Pi, unknowns)
    return NonlinearProblem(
        list(R),
        unknowns,
        prefix=prefix,
        bcs=bcs,
        options=options,
        kind="mpi",
        constraint=constraints,
    )
