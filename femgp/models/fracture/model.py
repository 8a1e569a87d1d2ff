"""The phase-field fracture model: forms compiled once, staggered (alternate) minimisation.

Fields: the displacement ``u`` (vector P1 or P2) and the damage ``alpha`` (P1).
The energy ``E = ∫ a(alpha) psi_+(eps) + psi_-(eps) + Gc/c_w (w/ell + ell |grad alpha|^2)``
comes from :mod:`femgp.energy` terms; both residuals and Jacobians are derived
from it with ``ufl.derivative``. The load enters through ``fem.Constant``s and
boundary Functions, so no form is compiled inside the load loop.

One load step is an alternate minimisation: minimise in ``u`` at fixed
``alpha`` (elasticity; Newton, CG + GAMG with the rigid-body near-nullspace by
default, prefix ``<prefix>u_``), then in ``alpha`` at fixed ``u`` subject to
``alpha_prev <= alpha <= 1`` (SNES ``vinewtonrsls``, prefix ``<prefix>alpha_``),
until ``||alpha_k - alpha_{k-1}||_inf < am_tol``. The iterates can be
accelerated by over-relaxation (block SOR) or Anderson mixing (see
:mod:`.solvers`), and each step can start from an extrapolation of the last two.
The iterative displacement solve is loose inside the iteration; a step that
alternate minimisation finishes ends with one more displacement solve, at the
converged damage (:attr:`FractureModel.final_u_solve`).

With ``Params.solver == "newton"`` (the default) a load step whose alternate
minimisation has not converged after ``newton_after`` iterations is handed to a
reduced-space VI Newton method on the coupled problem (prefix
``<prefix>coupled_``): the gradient of the total energy in ``(u, alpha)`` and
its Hessian, both from ``ufl.derivative``, the bounds ``alpha_prev <= alpha <=
1``, a critical-point line search (the step length where the directional
derivative of the energy vanishes), and GMRES
preconditioned by a multiplicative field split whose ``u`` and ``alpha`` blocks
are preconditioned by GAMG (:class:`.solvers.BlockGaussSeidel`). This is the
AM-then-Newton composite of Farrell and Maurini (2017): AM brings the iterate
near a minimiser, Newton converges quadratically from there. If Newton fails
(an indefinite Hessian far from the minimiser, a line search that cannot
descend, a residual grown tenfold: :class:`.solvers.GrowthLimitTest`), the
unknowns return to the AM iterate, which goes on, and Newton is
tried again when the AM count has grown fourfold, unless its residual grew
tenfold (then AM finishes the step).

With ``irreversibility="history"`` (AT2) the damage is driven by Miehe's
history field ``H = max(H_prev, psi_+)`` instead of bounds; both solvers are
then alternate minimisation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from femgp.errors import InputError, SolverError
from femgp.fem import _backend

_backend.import_dolfinx()

import ufl  # noqa: E402
from dolfinx import fem  # noqa: E402
from mpi4py import MPI  # noqa: E402

from femgp.energy.terms import FieldValue  # noqa: E402
from femgp.fem.forms import UFL_OPS, energy_form, field_values, scalar  # noqa: E402
from femgp.fem.logs import get_logger  # noqa: E402
from femgp.fem.meshes.core import TaggedMesh, require_groups  # noqa: E402
from femgp.fem.nullspace import rigid_body_modes  # noqa: E402
from femgp.fem.problems import NonlinearProblem, SolveStats  # noqa: E402
from femgp.models.fracture.crack_run import CrackRun  # noqa: E402
from femgp.models.fracture.params import DisplacementBC, Loading, Params  # noqa: E402
from femgp.models.fracture.solvers import (  # noqa: E402
    ALPHA_AMG,
    ALPHA_AMG_RESOLUTION,
    ALPHA_DIRECT,
    ALPHA_ITERATIVE,
    U_DIRECT,
    U_ITERATIVE,
    U_KEEP_PC,
    BlockGaussSeidel,
    GrowthLimitTest,
    InnerForcing,
    coupled_defaults,
    make_accelerator,
)

__all__ = ["FractureModel", "StepStats", "require_plane_mesh"]

log = get_logger("femgp.fracture")

#: The load-step predictor is skipped after a step that changed the damage by more than this.
PREDICTOR_MAX_CHANGE = 0.25
#: The highest order of the load-step predictor: 2 extrapolates the last three
#: accepted states quadratically where that predicted the last step clearly better
#: than the linear extrapolation of the last two (see :meth:`FractureModel._predict`);
#: 1 keeps to the linear one.
PREDICTOR_MAX_ORDER = 2
#: How much better (the ratio of the largest damage errors) the quadratic prediction
#: of the last step must have been for the next one to be quadratic. Measured before
#: the am_tol and softening conditions, AM iterations on SENT (default and ``"am"``
#: solvers) and SENS (``--quick --ell 0.02``): 0.1, 0.2, 0.3, 0.5 and 1 gave
#: 478/495/207, 474/494/198, 478/466/193, 490/547/188 and 497/498/188 (linear only:
#: 543/559/244). Where the damage changes by little more than the solver's noise the
#: two are about as good, and a chance win of the quadratic one costs the next step
#: two more iterations.
PREDICTOR_QUADRATIC_GAIN = 0.3

#: The work counters of a new model (:attr:`FractureModel.work`).
NO_WORK = {"am": 0, "newton": 0, "krylov": 0, "am_coarse": 0}


def cell_diameter_range(msh: Any) -> tuple[float, float]:
    """The smallest and the largest cell diameter of ``msh`` (``Mesh.h``, allreduced).

    The ``h`` of the resolution warning and of ``gc_eff`` (the volume-based sizes of
    adaptive refinement are :func:`femgp.fem.adapt.mesh_sizes`). Collective.
    """
    tdim = msh.topology.dim
    n_cells = msh.topology.index_map(tdim).size_local
    h = msh.h(tdim, np.arange(n_cells, dtype=np.int32))
    comm = msh.comm
    h_min = comm.allreduce(float(h.min()) if n_cells else np.inf, op=MPI.MIN)
    return h_min, comm.allreduce(float(h.max()) if n_cells else 0.0, op=MPI.MAX)


@dataclass
class StepStats:
    """Iterations of one load step."""

    am_iterations: int = 0
    am_residual: float = 0.0
    u: SolveStats | None = None
    alpha: SolveStats | None = None
    #: The coupled Newton solves of the step (failed attempts included).
    coupled: SolveStats | None = None
    #: Coupled Newton attempts of the step that failed (AM went on after each).
    newton_failures: int = 0
    #: The step's crack run on the coarse mesh (:class:`.crack_run.CrackRun`), if any.
    coarse: StepStats | None = None

    def _parts(self) -> list[SolveStats | StepStats]:
        return [s for s in (self.u, self.alpha, self.coupled, self.coarse) if s is not None]

    @property
    def newton(self) -> int:
        """Newton iterations of the step: displacement, damage and coupled solves
        (those on the coarse mesh included)."""
        return sum(s.newton for s in self._parts())

    @property
    def krylov(self) -> int:
        """Krylov iterations of the step: displacement, damage and coupled solves
        (those on the coarse mesh included)."""
        return sum(s.krylov for s in self._parts())

    @property
    def am_coarse(self) -> int:
        """AM iterations of the step's crack run on the coarse mesh (0 if none)."""
        return self.coarse.am_iterations if self.coarse is not None else 0


class _BC:
    """A displacement condition with what it needs to follow the load."""

    def __init__(self, spec: DisplacementBC, V: fem.FunctionSpace, tm: TaggedMesh) -> None:
        self.spec = spec
        msh = V.mesh
        fdim = msh.topology.dim - 1
        facets = tm.facets(spec.group)
        gdim = msh.geometry.dim
        if spec.component is not None and spec.component >= gdim:
            raise InputError(
                f"DisplacementBC on {spec.group!r}: component {spec.component} does not exist "
                f"in {gdim}D"
            )
        self.const: fem.Constant | None = None
        self.func: fem.Function | None = None
        if callable(spec.value):
            if spec.component is None:
                self.func = fem.Function(V)
                dofs = fem.locate_dofs_topological(V, fdim, facets)
                self.bc = fem.dirichletbc(self.func, dofs)
            else:
                Vi, _ = V.sub(spec.component).collapse()
                self.func = fem.Function(Vi)
                dofs = fem.locate_dofs_topological((V.sub(spec.component), Vi), fdim, facets)
                self.bc = fem.dirichletbc(self.func, dofs, V.sub(spec.component))
        elif spec.component is None:
            if len(spec.value) != gdim:
                raise InputError(
                    f"DisplacementBC on {spec.group!r} needs {gdim} values, got {spec.value!r}"
                )
            self.const = fem.Constant(msh, np.zeros(gdim))
            dofs = fem.locate_dofs_topological(V, fdim, facets)
            self.bc = fem.dirichletbc(self.const, dofs, V)
        else:
            self.const = fem.Constant(msh, 0.0)
            dofs = fem.locate_dofs_topological(V.sub(spec.component), fdim, facets)
            self.bc = fem.dirichletbc(self.const, dofs, V.sub(spec.component))

    def set_load(self, t: float) -> None:
        spec = self.spec
        if self.func is not None:
            fn: Callable[[np.ndarray, float], np.ndarray] = spec.value  # type: ignore[assignment]
            self.func.interpolate(lambda x: fn(x, t))
            self.func.x.scatter_forward()
            return
        scale = t if spec.loaded else 1.0
        if spec.component is None:
            self.const.value[:] = scale * np.asarray(spec.value, dtype=float)
        else:
            self.const.value = scale * float(spec.value)


#: Initial damage up to this on a ``damage_zero`` group is set to 0 there (the
#: tail of a smooth initial crack); more is refused.
INITIAL_DAMAGE_ON_HELD_GROUP = 1e-6


def _hold_damage_at_zero(
    alpha: fem.Function, lower: fem.Function, dofs: np.ndarray, group: str, comm: MPI.Comm
) -> None:
    """Set the initial damage (and its lower bound) to 0 on ``dofs`` of a ``damage_zero`` group.

    The lower bound of the first step is the initial damage, so damage left there
    would keep the damage above the condition's 0 without a word.

    Raises:
        InputError: the initial damage exceeds :data:`INITIAL_DAMAGE_ON_HELD_GROUP` there.
    """
    n = alpha.function_space.dofmap.index_map.size_local
    owned = dofs[dofs < n]
    local = float(alpha.x.array[owned].max()) if owned.size else 0.0
    peak = comm.allreduce(local, op=MPI.MAX)
    if peak > INITIAL_DAMAGE_ON_HELD_GROUP:
        raise InputError(
            f"the initial damage reaches {peak:.3g} on facet group {group!r}, where "
            f"Loading.damage_zero holds it at 0: keep the initial crack off that group "
            f"(at most {INITIAL_DAMAGE_ON_HELD_GROUP:g} there) or drop the group"
        )
    for f in (alpha, lower):
        f.x.array[dofs] = 0.0
        f.x.scatter_forward()


class FractureModel:
    """Phase-field fracture on a tagged DOLFINx mesh.

    Args:
        tm: the mesh with named facet groups (those of ``loading`` must exist).
        params: material, model and solver parameters.
        loading: displacement conditions, reaction and load path.
        prefix: PETSc options prefix; the problems use ``<prefix>u_`` and ``<prefix>alpha_``.
        u_options, alpha_options: default PETSc options overriding the defaults
            of ``params.linear_solver`` (the command line still wins).
        initial_damage: damage at load 0 as a function of x (an initial crack);
            it is also the first irreversibility bound (so ``irreversibility="bounds"``
            only: refused with the history field, which would heal it).
        warn_resolution: warn when ``ell`` is under 2 cells of the finest mesh
            (off for the coarse meshes of adaptive refinement).
    """

    def __init__(
        self,
        tm: TaggedMesh,
        params: Params,
        loading: Loading,
        *,
        prefix: str = "femgp_fracture_",
        u_options: Mapping[str, Any] | None = None,
        alpha_options: Mapping[str, Any] | None = None,
        initial_damage: Callable[[np.ndarray], np.ndarray] | None = None,
        warn_resolution: bool = True,
        crack_run_mesh: TaggedMesh | None = None,
    ) -> None:
        if not isinstance(tm, TaggedMesh):
            raise InputError(f"FractureModel needs a TaggedMesh, got {type(tm).__name__}")
        require_groups(tm, loading.groups, source="fracture mesh")
        self.tm = tm
        self.mesh = msh = tm.mesh
        self.params = p = params
        self.loading = loading
        self.prefix = prefix
        self.comm = msh.comm
        gdim = msh.geometry.dim
        if (gdim == 3) != (p.elastic_model == "3d"):
            raise InputError(
                f"elastic model {p.elastic_model!r} does not fit a {gdim}D mesh "
                f"(use '3d' in 3D, 'plane_strain' or 'plane_stress' in 2D)"
            )
        tdim = msh.topology.dim
        if p.split == "spectral" and tdim == 3 and msh.topology.cell_name() != "tetrahedron":
            # The 3D spectral density is nonpolynomial: on trilinear cells UFL estimates a
            # quadrature degree near 100, whose kernel does not compile in reasonable memory.
            raise InputError(
                "the 3D spectral split needs a tetrahedral mesh, got "
                f"{msh.topology.cell_name()} cells (use tetrahedra, or split='voldev')"
            )
        history = p.irreversibility == "history"
        if history and initial_damage is not None:
            # The history field starts at 0 and the damage problem has no bounds: the
            # first damage solve would heal the initial crack (a damage of 1 fell to 0.04).
            raise InputError(
                "an initial damage needs irreversibility='bounds' (it is the first lower "
                "bound); with 'history' the damage is driven by H = max psi_+ alone, which "
                "is 0 at load 0, so the initial crack would heal"
            )
        msh.topology.create_connectivity(tdim - 1, tdim)
        self.h_min, self.h_max = cell_diameter_range(msh)
        if warn_resolution and p.ell < 2 * self.h_min:
            log.warning(
                "ell = %g is smaller than 2 mesh sizes in the finest band (h = %g): the crack "
                "is under-resolved (aim for h <= ell/4)",
                p.ell,
                self.h_min,
            )

        # -- spaces and unknowns -------------------------------------------------------
        self.V = V = fem.functionspace(msh, ("Lagrange", p.degree, (gdim,)))
        self.Q = Q = fem.functionspace(msh, ("Lagrange", 1))
        self.u = fem.Function(V, name="displacement")
        self.alpha = fem.Function(Q, name="damage")
        self.alpha_lb = fem.Function(Q, name="damage_lower_bound")
        self.alpha_ub = fem.Function(Q, name="damage_upper_bound")
        self.alpha_ub.x.array[:] = 1.0
        if initial_damage is not None:
            self.alpha.interpolate(initial_damage)
            np.clip(self.alpha.x.array, 0.0, 1.0, out=self.alpha.x.array)
            self.alpha.x.scatter_forward()
        if not history:
            self.alpha_lb.x.array[:] = self.alpha.x.array
        self._n_alpha = Q.dofmap.index_map.size_local

        # -- boundary conditions -------------------------------------------------------------
        self._bcs = [_BC(spec, V, tm) for spec in loading.bcs]
        fdim = tdim - 1
        alpha_bcs = []
        for group in loading.damage_zero:
            dofs = fem.locate_dofs_topological(Q, fdim, tm.facets(group))
            alpha_bcs.append(fem.dirichletbc(0.0, dofs, Q))
            if initial_damage is not None:
                _hold_damage_at_zero(self.alpha, self.alpha_lb, dofs, group, self.comm)
        self.load = 0.0

        # -- the energy and its derivatives -----------------------------------------------
        elastic, crack = p.elastic, p.crack
        fields = {"u": self.u, "alpha": self.alpha}
        self.energy_ufl = energy_form(p.energy, fields)
        v, du = ufl.TestFunction(V), ufl.TrialFunction(V)
        F_u = ufl.derivative(self.energy_ufl, self.u, v)
        J_u = ufl.derivative(F_u, self.u, du)
        fv = field_values(fields)
        self.H: fem.Function | None = None
        if history:
            # Miehe's history field: the damage is driven by H = max_t psi_+(eps(u)).
            Vh = fem.functionspace(msh, ("DG", p.degree - 1))
            self.H = fem.Function(Vh, name="history")
            self._H_prev = np.zeros_like(self.H.x.array)
            eps = elastic.strain.elastic_strain(UFL_OPS, fv)
            psi_plus = elastic.split_energy(UFL_OPS, eps)[0]
            self._psi_plus = fem.Expression(psi_plus, Vh.element.interpolation_points)
            self._H_work = fem.Function(Vh)
            a = p.degradation(self.alpha)
            E_alpha = a * self.H * ufl.dx + energy_form(crack, {"alpha": self.alpha})
        else:
            E_alpha = self.energy_ufl
        beta, dalpha = ufl.TestFunction(Q), ufl.TrialFunction(Q)
        F_a = ufl.derivative(E_alpha, self.alpha, beta)
        J_a = ufl.derivative(F_a, self.alpha, dalpha)

        # -- problems ---------------------------------------------------------------------
        u_direct = p.linear_solver in ("direct", "hybrid")
        u_defaults = {**(U_DIRECT if u_direct else U_ITERATIVE), **(u_options or {})}
        a_defaults = dict(ALPHA_DIRECT if p.linear_solver == "direct" else ALPHA_ITERATIVE)
        if p.linear_solver != "direct" and p.ell > ALPHA_AMG_RESOLUTION * self.h_min:
            a_defaults = dict(ALPHA_AMG)
        if history:
            # A linear solve (AT2 at fixed H): its accuracy is the Krylov tolerance's,
            # and damage driven by a non-decreasing H must not decrease.
            a_defaults.update(
                {"snes_type": "newtonls", "snes_linesearch_type": "basic", "ksp_rtol": 1e-9}
            )
        a_defaults.update(alpha_options or {})
        # Absolute residual floors from the problem's own scales (the residual
        # of a converged solve is limited by the accuracy of the other field):
        # damage: 1e-7 of Gc/(c_w ell) |Omega| / sqrt(N); displacement: 1e-9 of
        # the peak-stress scale sqrt(E Gc / ell) times |Omega|^((d-1)/d).
        volume = scalar(fem.form(fem.Constant(msh, 1.0) * ufl.dx(domain=msh)), self.comm)
        n_glob = Q.dofmap.index_map.size_global
        k_w = p.Gc / (crack.c_w * p.ell)
        sigma_scale = float(np.sqrt(elastic.E * p.Gc / p.ell))
        u_defaults = {
            "snes_atol": 1e-9 * sigma_scale * volume ** ((tdim - 1) / tdim),
            **u_defaults,
        }
        a_defaults = {"snes_atol": 1e-7 * k_w * volume / np.sqrt(n_glob), **a_defaults}
        self.u_problem = NonlinearProblem(
            F_u,
            self.u,
            prefix=f"{prefix}u_",
            bcs=[b.bc for b in self._bcs],
            J=J_u,
            options=u_defaults,
            reuse_pc=None if u_direct else U_KEEP_PC,
            symmetric=True,
        )
        #: End each step that alternate minimisation finishes with one more
        #: displacement solve, at the converged damage: on by default where the
        #: displacement solve is iterative, whose tolerance inside the iteration is
        #: loose (:data:`.solvers.U_ITERATIVE`).
        self.final_u_solve = not u_direct
        #: The displacement solves inside alternate minimisation: tolerances loosened
        #: with the AM residual where the step ends with a final solve (else None).
        self.u_forcing = InnerForcing(self.u_problem.snes) if self.final_u_solve else None
        self._nullspace, self._nullspace_vectors = rigid_body_modes(V)
        self.u_problem.A.setNearNullSpace(self._nullspace)
        self.alpha_problem = NonlinearProblem(
            F_a,
            self.alpha,
            prefix=f"{prefix}alpha_",
            bcs=alpha_bcs,
            J=J_a,
            bounds=None if history else (self.alpha_lb, self.alpha_ub),
            options=a_defaults,
            symmetric=True,
        )
        self.coupled_problem: NonlinearProblem | None = None
        self._block_pc: BlockGaussSeidel | None = None  # the coupled solve's, when iterative
        if p.solver == "newton" and not history:
            c_defaults = {
                "snes_atol": min(u_defaults["snes_atol"], a_defaults["snes_atol"]),
                **coupled_defaults(p.linear_solver),
            }
            self._build_coupled(F_u, F_a, [b.bc for b in self._bcs] + alpha_bcs, c_defaults)
        self.accelerator = make_accelerator(
            p.acceleration, comm=self.comm, omega=p.omega, depth=p.anderson_depth
        )
        #: Unstable crack runs solved on a coarser mesh (``params.crack_run`` with a
        #: ``crack_run_mesh``, and the coupled solver whose failure detects them).
        self.crack_run: CrackRun | None = None
        if crack_run_mesh is not None and p.crack_run and self.coupled_problem is not None:
            require_groups(crack_run_mesh, loading.groups, source="crack-run mesh")
            if crack_run_mesh.mesh.geometry.dim != gdim:
                raise InputError(
                    f"the crack-run mesh is {crack_run_mesh.mesh.geometry.dim}D, "
                    f"the model's mesh {gdim}D"
                )
            self.crack_run = CrackRun(
                crack_run_mesh,
                lambda tm, params: FractureModel(
                    tm,
                    params,
                    loading,
                    prefix=f"{prefix}coarse_",
                    u_options=u_options,
                    alpha_options=alpha_options,
                    warn_resolution=False,
                ),
            )

        # -- diagnostics: energies and the reaction ------------------------------------------
        comps = p.energy.components(UFL_OPS, fv)
        self._elastic_form = fem.form(comps["elastic"] * ufl.dx)
        self._surface_form = fem.form(comps["surface"] * ufl.dx)
        self._reaction_form = None
        if loading.reaction is not None:
            group, comp = loading.reaction
            if comp >= gdim:
                raise InputError(f"reaction component {comp} does not exist in {gdim}D")
            self._v_reaction = fem.Function(V)
            dofs = fem.locate_dofs_topological(V.sub(comp), fdim, tm.facets(group))
            self._v_reaction.x.array[dofs] = 1.0
            reaction = ufl.derivative(self.energy_ufl, self.u, self._v_reaction)
            self._reaction_form = fem.form(reaction)
        self._g_theta_form = None
        self.theta: fem.Function | None = None
        self._elastic_term = elastic

        # -- committed state (for rollback) ------------------------------------------------
        #: Work done so far, failed attempts included: AM, Newton and Krylov iterations
        #: (those of crack runs on the coarse mesh included; their AM iterations apart).
        self.work = dict(NO_WORK)
        self._saved: tuple[np.ndarray, ...] = ()
        self._previous: tuple[np.ndarray, ...] | None = None
        self._older: tuple[np.ndarray, ...] | None = None  # the state before _previous
        self._t_saved = self._t_previous = self._t_older = 0.0
        self._last_change = 0.0  # the damage change from _previous to _saved
        self._older_change = 0.0  # ... and from _older to _previous
        #: The linear and quadratic predictions of the damage of the step in progress
        #: (owned values, clipped to the bounds), to be compared with its solution.
        self._predictions: tuple[np.ndarray, np.ndarray] | None = None
        #: The last step predicted both ways showed the quadratic extrapolation clearly
        #: the better (see :meth:`_predict`): the next steps extrapolate quadratically.
        self.quadratic_predictor = False
        self._force = float("nan")  # |reaction| of the last accepted step
        self._softening = False  # ... lower than at the step before
        #: u, alpha and "alternate minimisation only" of a handed-over start
        #: (see start_next_step_from).
        self._start: tuple[np.ndarray, np.ndarray, bool] | None = None
        #: The coupled Newton solve failed in the last :meth:`solve_step` (see
        #: :meth:`start_next_step_from`).
        self.newton_failed = False
        self.commit()

    def _build_coupled(
        self,
        F_u: ufl.Form,
        F_a: ufl.Form,
        bcs: list[fem.DirichletBC],
        options: Mapping[str, Any],
    ) -> None:
        """The monolithic (u, alpha) problem of the Newton solver (see the module docstring)."""
        import dolfinx.fem.petsc
        from petsc4py import PETSc

        fields = [self.u, self.alpha]
        F = [F_u, F_a]
        J = [
            [ufl.derivative(Fi, f, ufl.TrialFunction(f.function_space)) for f in fields] for Fi in F
        ]
        prob = NonlinearProblem(
            F,
            fields,
            prefix=f"{self.prefix}coupled_",
            bcs=bcs,
            J=J,
            kind="mpi",
            options=options,
            symmetric=True,
        )
        # The block Gauss-Seidel preconditioner, unless the user chose another PC.
        if "fieldsplit_u_pc_type" in options and not PETSc.Options().hasName(
            f"{self.prefix}coupled_pc_type"
        ):
            n_u = self.V.dofmap.index_map.size_local * self.V.dofmap.index_map_bs
            gdim = self.mesh.geometry.dim
            self._block_pc = BlockGaussSeidel(
                self.comm, n_u, gdim, self._nullspace, f"{self.prefix}coupled_"
            )
            pc = prob.snes.getKSP().getPC()
            pc.setType(PETSc.PC.Type.PYTHON)
            pc.setPythonContext(self._block_pc)
        # Bounds: u free, lb <= alpha <= ub; refreshed before every solve.
        self._coupled_lower = prob.snes.getFunction()[0].duplicate()
        self._coupled_upper = self._coupled_lower.duplicate()
        self._u_free = (fem.Function(self.V), fem.Function(self.V))
        self._u_free[0].x.array[:] = -PETSc.INFINITY
        self._u_free[1].x.array[:] = PETSc.INFINITY
        prob.snes.setVariableBounds(self._coupled_lower, self._coupled_upper)
        prob.snes.setConvergenceTest(GrowthLimitTest())
        self._assign = dolfinx.fem.petsc.assign
        self.coupled_problem = prob

    # -- load ---------------------------------------------------------------------------
    def set_load(self, t: float) -> None:
        """Set every boundary value to load ``t``."""
        self.load = float(t)
        for bc in self._bcs:
            bc.set_load(self.load)

    # -- one load step -----------------------------------------------------------------
    def update_history(self) -> None:
        """Set Miehe's history field from the present displacement: ``H = max(H_prev, psi_+)``.

        ``H_prev`` is the committed step's field; for ``irreversibility="history"``
        only (alternate minimisation calls it before each damage solve).
        """
        if self.H is None:
            raise InputError(
                "update_history needs irreversibility='history'; this model has "
                f"{self.params.irreversibility!r}"
            )
        self._H_work.interpolate(self._psi_plus)
        np.maximum(self._H_prev, self._H_work.x.array, out=self.H.x.array)
        self.H.x.scatter_forward()

    def _owned_alpha(self) -> np.ndarray:
        return self.alpha.x.array[: self._n_alpha]

    def solve_step(self, t: float, *, step: int | None = None) -> StepStats:
        """Solve load step ``t`` with ``params.solver`` (state is not committed).

        Raises:
            SolverError: a sub-solve failed or the iteration guard was reached.
        """
        p = self.params
        self.set_load(t)
        self.accelerator.reset()
        self._predictions = None  # set by _predict; those of a failed attempt are stale
        am_only = False
        if self._start is not None:  # a warm start handed over by adaptive refinement
            u, alpha, am_only = self._start
            self._start = None
            self._set_start(u, alpha)
        elif p.predictor:
            self._predict(t)
        stats = StepStats(u=SolveStats(), alpha=SolveStats())
        self.newton_failed = am_only  # an AM-only re-solve keeps its step's failure
        if self.coupled_problem is None or am_only:
            self._alternate(stats, step, p.am_max_it)
            return stats
        stats.coupled = SolveStats()
        stop = p.newton_after
        handed: tuple[np.ndarray, np.ndarray, float] | None = None
        change = np.inf  # the damage change that led to the iterate (if known)
        while not self._alternate(stats, step, stop, change):
            change = np.inf
            if self._newton(stats, step):
                return stats
            self.accelerator.reset()
            stop = 4 * max(p.newton_after, stats.am_iterations)
            if self._newton_grew():
                stop = p.am_max_it  # no further attempt: alternate minimisation finishes
                if self.crack_run is not None and handed is None:
                    handed = self._run_crack_on_coarse(t, stats, step)
                    if handed is not None:
                        change = self._damage_change(handed[1])
        if handed is not None and self.energies()["total"] > handed[2]:
            # The state found from the coarse crack run is worse than the iterate
            # handed over: finish from that iterate instead.
            log.warning(
                "step %s: the state found from the coarse crack run has a higher energy "
                "than the iterate it started from; alternate minimisation goes on from that",
                step,
            )
            self._set_start(handed[0], handed[1])
            self.accelerator.reset()
            self._alternate(stats, step, p.am_max_it)
        return stats

    def _run_crack_on_coarse(
        self, t: float, stats: StepStats, step: int | None
    ) -> tuple[np.ndarray, np.ndarray, float] | None:
        """Solve the rest of an unstable step on the coarse mesh (:class:`.crack_run.CrackRun`).

        Called where the coupled Newton attempt stopped at its growth limit (the
        iterate is in an unstable crack run); the state the coarse mesh reaches
        becomes the iterate from which alternate minimisation finishes the step.
        Returns the iterate handed over and its total energy, or None (iterate
        unchanged) if the coarse solve failed or its state, on the fine mesh, has
        a higher energy than the iterate. Collective.
        """
        assert self.crack_run is not None
        handed = (self.u.x.array.copy(), self.alpha.x.array.copy(), self.energies()["total"])
        coarse = self.crack_run.run(self, t, step)
        if coarse is None:
            return None
        stats.coarse = coarse
        self.work["am_coarse"] += coarse.am_iterations
        self.work["newton"] += coarse.newton
        self.work["krylov"] += coarse.krylov
        self.accelerator.reset()
        energy = self.energies()["total"]
        if energy > handed[2]:
            # Not a descent from the iterate (the coarse crack arrested where the fine
            # one would not, or the coarse state is too rough on the fine mesh).
            log.info(
                "step %s: the coarse crack run ends higher in energy on the fine mesh "
                "(%.6g > %.6g); not used",
                step,
                energy,
                handed[2],
            )
            self._set_start(handed[0], handed[1])
            return None
        return handed

    def _newton_grew(self) -> bool:
        """The last coupled solve stopped at its growth limit (:class:`.solvers.GrowthLimitTest`).

        Its residual grew tenfold: the AM iterate is in an unstable crack run, where
        no coupled solve has been seen to converge. In SENT's breaking step the first
        attempt grows 20-fold at its first iteration, and the retry after 48 AM
        iterations ran its 30 iterations without converging (2.8 s of a 28 s run); on
        the SENS ``--fine`` path no retry converged in any of the four steps in which
        Newton failed, and the one such step that failed by growth had no retry.
        """
        from petsc4py import PETSc

        prob = self.coupled_problem
        assert prob is not None
        reason = prob.snes.getConvergedReason()
        return bool(reason == PETSc.SNES.ConvergedReason.DIVERGED_DTOL)

    def _newton(self, stats: StepStats, step: int | None) -> bool:
        """One coupled VI Newton solve from the current iterate; False (state kept) if it fails."""
        prob = self.coupled_problem
        assert prob is not None and stats.coupled is not None
        self._assign([self._u_free[0], self.alpha_lb], self._coupled_lower)
        self._assign([self._u_free[1], self.alpha_ub], self._coupled_upper)
        try:
            stats.coupled += self._solve(prob, step)
        except SolverError as exc:
            stats.newton_failures += 1
            self.newton_failed = True
            stats.coupled.newton += prob.snes.getIterationNumber()
            stats.coupled.krylov += prob.snes.getLinearSolveIterations()
            log.debug(
                "step %s: coupled Newton failed (%s); alternate minimisation goes on", step, exc
            )
            return False
        return True

    def _damage_change(self, alpha: np.ndarray) -> float:
        """``max |self.alpha - alpha|`` over the owned dofs (allreduced); collective."""
        n = self._n_alpha
        local = float(np.max(np.abs(self.alpha.x.array[:n] - alpha[:n]))) if n else 0.0
        return float(self.comm.allreduce(local, op=MPI.MAX))

    def _alternate(
        self, stats: StepStats, step: int | None, stop: int, change: float = np.inf
    ) -> bool:
        """Alternate minimisation until converged (True) or ``stop`` iterations in all (False).

        ``change``: the damage change that led to the start, if known (a crack run
        on the coarse mesh); it forces the first displacement solve as an AM
        iteration's damage change forces the next one.

        Raises:
            SolverError: ``params.am_max_it`` iterations without convergence.
        """
        forcing = self.u_forcing if self.final_u_solve else None
        try:
            return self._alternate_iterations(stats, step, stop, forcing, change)
        finally:
            if forcing is not None:
                forcing.reset()

    def _alternate_iterations(
        self,
        stats: StepStats,
        step: int | None,
        stop: int,
        forcing: InnerForcing | None,
        change: float,
    ) -> bool:
        """The iterations of :meth:`_alternate`.

        Each displacement solve but the first is forced by the last damage change
        (:class:`.solvers.InnerForcing`), the first too where ``change`` is finite;
        the final one, at the converged damage, has the problem's own tolerances.
        """
        p = self.params
        n = self._n_alpha
        lb = self.alpha_lb.x.array[:n]
        res = change
        accelerate = self.accelerator.name != "none"
        relax = self.accelerator.name == "overrelax"
        u_exact: np.ndarray | None = None  # the last equilibrium displacement
        g_last: np.ndarray | None = None  # the last damage minimiser (before acceleration)
        k0 = stats.am_iterations
        for k in range(k0 + 1, min(stop, p.am_max_it) + 1):
            u_old = self.u.x.array.copy() if relax and k > k0 + 1 else None
            self.work["am"] += 1
            if forcing is not None:
                forcing.set(res)  # res: the last iteration's damage change (inf at first)
            try:
                su = self._solve(self.u_problem, step)
            except SolverError:
                if u_exact is None or g_last is None or not accelerate:
                    raise
                # Newton failed from an accelerated iterate: fall back to the last
                # unaccelerated pair and finish this step with plain iterations.
                log.debug("step %s: displacement solve failed; plain AM for this step", step)
                self.u.x.array[:] = u_exact
                self.alpha.x.array[:n] = g_last
                self.alpha.x.scatter_forward()
                accelerate = relax = False
                u_old = None
                su = self._solve(self.u_problem, step)
            stats.u += su
            if relax:
                u_exact = self.u.x.array.copy()
                if u_old is not None:
                    # Block SOR: over-relax the displacement too (same values on the
                    # Dirichlet boundary in both iterates, so the conditions still hold).
                    self.u.x.array[:] = u_old + p.omega * (u_exact - u_old)
            else:
                u_exact = None
            x = self._owned_alpha().copy()
            if self.H is not None:
                self.update_history()
            sa = self._solve(self.alpha_problem, step)
            stats.alpha += sa
            g = self._owned_alpha()
            res = self._damage_change(x)
            stats.am_iterations, stats.am_residual = k, res
            if res < p.am_tol:
                if u_exact is not None:  # the equilibrium displacement, not the relaxed one
                    self.u.x.array[:] = u_exact
                if self.final_u_solve:
                    if forcing is not None:
                        forcing.reset()
                    stats.u += self._solve(self.u_problem, step)
                return True
            if accelerate:
                g_last = g.copy()
                if u_exact is None:
                    u_exact = self.u.x.array.copy()
                # Projected onto [lb, 1], widened to hold the minimiser g: with the
                # history field the damage solve has no bounds and, without a
                # discrete maximum principle, may put a node a little above 1; a
                # clip below g would hold the iterates that far from it for good.
                low, high = np.minimum(lb, g), np.maximum(g, 1.0)
                new = np.clip(self.accelerator(x, g.copy()), low, high)
                self.alpha.x.array[:n] = new
                self.alpha.x.scatter_forward()
        if stats.am_iterations < p.am_max_it:
            if u_exact is not None:  # hand on an equilibrium displacement
                self.u.x.array[:] = u_exact
            return False
        raise SolverError(
            f"alternate minimisation did not reach ||dalpha||_inf < {p.am_tol:g} in "
            f"{p.am_max_it} iterations (last {res:.3e})",
            prefix=self.prefix,
            step=step,
        )

    def _predict(self, t: float) -> None:
        """Extrapolate the last accepted states to load ``t`` (collective).

        Linear from the last two; quadratic from the last three (Lagrange, any
        spacing) where, in the last step in which both were made, the linear
        prediction of the damage was off by at least ``am_tol`` (so alternate
        minimisation needed more than one iteration for it) and the quadratic
        one by less than :data:`PREDICTOR_QUADRATIC_GAIN` times that
        (:meth:`commit` compares them with the accepted solution and sets
        :attr:`quadratic_predictor`). Where the path is smooth and the steps
        coarse the quadratic one is far the closer (SENT's first 45 steps: a
        thirtieth of the error); where the damage changes by little more than
        the solver's noise (a broken specimen, fine steps) the two are about as
        good, and extrapolating three states amplifies that noise about twice as
        much (weights 3, -3, 1 against 2, -1 on even steps). Linear also after a
        step in which the reaction fell: on an unstable branch (the homogeneous
        bar past its peak) the quadratic extrapolation seeds the unstable mode
        (the damage's spread along the bar grew threefold per step), and with
        the history field, with which alternate minimisation cannot follow the
        bar localising (2000 iterations). No interval across a jump of the
        damage (a crack ran) is extrapolated. :meth:`solve_step` clears the
        predictions of an earlier attempt before it calls this.
        """
        if self._previous is None or self._t_saved <= self._t_previous:
            return
        if self._last_change > PREDICTOR_MAX_CHANGE:
            # the last step was a jump (a crack ran): extrapolating it would mislead,
            # and what was learnt of the path before it no longer holds
            self.quadratic_predictor = False
            return
        t0, t1, t2 = self._t_saved, self._t_previous, self._t_older
        r = (t - t0) / (t0 - t1)
        u0, a0 = self._saved
        u1, a1 = self._previous
        u, alpha = u0 + r * (u0 - u1), a0 + r * (a0 - a1)
        if (
            PREDICTOR_MAX_ORDER >= 2
            and self._older is not None
            and t1 > t2
            and self._older_change <= PREDICTOR_MAX_CHANGE
        ):
            u2, a2 = self._older
            w0 = (t - t1) * (t - t2) / ((t0 - t1) * (t0 - t2))
            w1 = (t - t0) * (t - t2) / ((t1 - t0) * (t1 - t2))
            w2 = (t - t0) * (t - t1) / ((t2 - t0) * (t2 - t1))
            a_quad = w0 * a0 + w1 * a1 + w2 * a2
            n = self._n_alpha
            self._predictions = (self._clip(alpha)[:n], self._clip(a_quad)[:n])
            if self.quadratic_predictor and not self._softening and self.H is None:
                u, alpha = w0 * u0 + w1 * u1 + w2 * u2, a_quad
        self._set_start(u, alpha)

    def _clip(self, alpha: np.ndarray) -> np.ndarray:
        """``alpha`` clipped to its bounds."""
        lb = self.alpha_lb.x.array if self.params.irreversibility == "bounds" else 0.0
        return np.clip(alpha, lb, 1.0)

    def _set_start(self, u: np.ndarray, alpha: np.ndarray) -> None:
        """Start the solve from ``(u, alpha)``, the damage clipped to its bounds."""
        self.u.x.array[:] = u
        self.alpha.x.array[:] = self._clip(alpha)

    def _solve(self, problem: NonlinearProblem, step: int | None) -> SolveStats:
        """Solve one sub-problem, counting its iterations in :attr:`work` even if it fails."""
        try:
            st = problem.solve(step=step)
        except SolverError:
            self.work["newton"] += problem.snes.getIterationNumber()
            self.work["krylov"] += problem.snes.getLinearSolveIterations()
            raise
        self.work["newton"] += st.newton
        self.work["krylov"] += st.krylov
        return st

    def commit(self) -> None:
        """Accept the current state: it becomes the irreversibility bound and rollback point.

        Collective. Where the step was predicted both ways, the errors of the two
        predictions of its damage set the next steps' predictor
        (:attr:`quadratic_predictor`, see :meth:`_predict`).
        """
        if self._predictions is not None:
            n = self._n_alpha
            errors = np.array(
                [
                    float(np.max(np.abs(p - self.alpha.x.array[:n]))) if n else 0.0
                    for p in self._predictions
                ]
            )
            self.comm.Allreduce(MPI.IN_PLACE, errors, op=MPI.MAX)
            self.quadratic_predictor = bool(
                errors[0] >= self.params.am_tol and errors[1] < PREDICTOR_QUADRATIC_GAIN * errors[0]
            )
            self._predictions = None
        force = abs(self.reaction())
        self._softening = bool(force < self._force)  # False where either is NaN
        self._force = force
        if self.params.irreversibility == "bounds":
            self.alpha_lb.x.array[:] = self.alpha.x.array
        if self.H is not None:
            self._H_prev = self.H.x.array.copy()
        if self._saved:
            self._older, self._t_older = self._previous, self._t_previous
            self._older_change = self._last_change
            self._previous, self._t_previous = self._saved, self._t_saved
            self._last_change = self._damage_change(self._saved[1])
        self._saved = (self.u.x.array.copy(), self.alpha.x.array.copy())
        self._t_saved = self.load

    def checkpoint(self) -> tuple[dict[str, fem.Function], dict[str, Any]]:
        """The functions and scalars a checkpoint needs (call right after :meth:`commit`).

        The committed state is the current ``u`` and ``alpha``; the predictor's
        previous state, the bounds and the history field are saved with it.
        """
        from femgp.fem.checkpoint import array_function

        functions = {"u": self.u, "alpha": self.alpha, "alpha_lb": self.alpha_lb}
        if self._previous is not None:
            functions["u_previous"] = array_function(self.V, self._previous[0])
            functions["alpha_previous"] = array_function(self.Q, self._previous[1])
        if self._older is not None:
            functions["u_older"] = array_function(self.V, self._older[0])
            functions["alpha_older"] = array_function(self.Q, self._older[1])
        if self.H is not None:
            functions["H"] = array_function(self.H.function_space, self._H_prev)
        state = {
            "load": self.load,
            "t_saved": self._t_saved,
            "t_previous": self._t_previous,
            "last_change": self._last_change,
            "has_previous": self._previous is not None,
            "t_older": self._t_older,
            "older_change": self._older_change,
            "has_older": self._older is not None,
            "quadratic_predictor": self.quadratic_predictor,
            "force": self._force,
            "softening": self._softening,
            "work": dict(self.work),
        }
        return functions, state

    def committed(self) -> tuple[dict[str, fem.Function], dict[str, Any]]:
        """The committed state as :meth:`checkpoint` gives it, also during an attempt.

        What adaptive refinement transfers to a refined mesh (the attempt's
        trial state is left in place).
        """
        from femgp.fem.checkpoint import array_function

        functions, state = self.checkpoint()
        functions["u"] = array_function(self.V, self._saved[0])
        functions["alpha"] = array_function(self.Q, self._saved[1])
        return functions, {**state, "load": self._t_saved}

    def start_next_step_from(
        self, u: fem.Function, alpha: fem.Function, *, am_only: bool = False
    ) -> None:
        """Start the next :meth:`solve_step` from ``(u, alpha)`` instead of the predictor.

        Adaptive refinement hands over the trial state of the step it interrupted,
        transferred to this mesh: the step is solved again from it (the damage
        clipped to the committed bound), so a crack that ran on the coarser mesh
        is not run again from the committed state. ``am_only``: that solve is
        alternate minimisation alone, for a step in which the coupled Newton
        solve failed on the coarser mesh (:attr:`newton_failed`): a crack
        running into coarse cells, where the coupled solves of the re-solved
        steps failed too (docs/adaptivity.md).
        """
        self._start = (u.x.array.copy(), alpha.x.array.copy(), am_only)

    def num_dofs(self) -> int:
        """The global number of unknowns (displacement and damage)."""
        V, Q = self.V.dofmap, self.Q.dofmap
        return int(V.index_map.size_global * V.index_map_bs + Q.index_map.size_global)

    def restore(self, cp: Any, state: Mapping[str, Any]) -> None:
        """Restore what :meth:`checkpoint` saved (``cp``: a ``RunCheckpointing``)."""
        cp.load_function("u", self.u)
        cp.load_function("alpha", self.alpha)
        cp.load_function("alpha_lb", self.alpha_lb)
        if state["has_previous"]:
            self._previous = (
                cp.load_array("u_previous", self.V),
                cp.load_array("alpha_previous", self.Q),
            )
        else:
            self._previous = None
        self._older = None  # a checkpoint from before the quadratic predictor has none
        if state.get("has_older", False):
            self._older = (cp.load_array("u_older", self.V), cp.load_array("alpha_older", self.Q))
        if self.H is not None:
            cp.load_function("H", self.H)
            self._H_prev = self.H.x.array.copy()
        self._saved = (self.u.x.array.copy(), self.alpha.x.array.copy())
        self._t_saved = float(state["t_saved"])
        self._t_previous = float(state["t_previous"])
        self._last_change = float(state["last_change"])
        self._t_older = float(state.get("t_older", 0.0))
        self._older_change = float(state.get("older_change", 0.0))
        self.quadratic_predictor = bool(state.get("quadratic_predictor", False))
        self._force = float(state.get("force", float("nan")))
        self._softening = bool(state.get("softening", False))
        self._predictions = None
        self.work = {**NO_WORK, **{k: int(v) for k, v in state["work"].items()}}
        self.set_load(float(state["load"]))

    def forget_kept_solvers(self) -> None:
        """Drop the solver state that a checkpoint does not hold; collective.

        The kept GAMG hierarchy of the displacement solve, the coupled block
        preconditioner's kept displacement block and the crack run's coarse model
        (whose solvers keep theirs) are rebuilt at their next solve, as a run
        restarted from a checkpoint builds them: called after each checkpoint, it
        makes the run go on exactly as a restart from that checkpoint does.
        """
        for problem in (self.u_problem, self.alpha_problem, self.coupled_problem):
            if problem is not None:
                problem.forget_pc()
        if self._block_pc is not None:
            self._block_pc.forget()
        if self.crack_run is not None:
            self.crack_run.forget()

    def rollback(self) -> None:
        """Return to the last committed state; the retry is predicted linearly."""
        self.quadratic_predictor = False
        u, alpha = self._saved
        self.u.x.array[:] = u
        self.alpha.x.array[:] = alpha
        if self.H is not None:
            self.H.x.array[:] = self._H_prev

    # -- diagnostics ------------------------------------------------------------------
    def energies(self) -> dict[str, float]:
        """Elastic, surface and total energy (allreduced)."""
        el = scalar(self._elastic_form, self.comm)
        su = scalar(self._surface_form, self.comm)
        return {"elastic": el, "surface": su, "total": el + su}

    def reaction(self) -> float:
        """The reaction force on the loaded group (residual action, allreduced); NaN if none."""
        if self._reaction_form is None:
            return float("nan")
        return scalar(self._reaction_form, self.comm)

    def max_damage(self) -> float:
        """``max alpha`` over the mesh (allreduced)."""
        a = self._owned_alpha()
        return self.comm.allreduce(float(a.max()) if a.size else 0.0, op=MPI.MAX)

    def energy_release_rate(self, theta: Callable[[np.ndarray], np.ndarray]) -> float:
        """The G-theta energy release rate for a virtual crack extension ``theta(x)``.

        ``G = ∫ sigma : (grad u grad theta) - W div theta`` with the degraded stress
        ``sigma`` and elastic density ``W`` of the elastic term; ``theta`` is a
        vector field (shape ``(gdim, n)`` from ``x``) equal to the crack direction
        near the tip and 0 far from it. The form is compiled once.
        """
        if self._g_theta_form is None:
            self.theta = fem.Function(self.V, name="theta")
            fv = {
                "u": FieldValue(self.u, ufl.grad(self.u)),
                "alpha": FieldValue(self.alpha, ufl.grad(self.alpha)),
            }
            sigma = self._elastic_term.stress(UFL_OPS, fv)
            W = self._elastic_term.density(UFL_OPS, fv)
            th = self.theta
            G = ufl.inner(sigma, ufl.dot(ufl.grad(self.u), ufl.grad(th))) - W * ufl.div(th)
            self._g_theta_form = fem.form(G * ufl.dx)
        self.theta.interpolate(theta)
        self.theta.x.scatter_forward()
        return scalar(self._g_theta_form, self.comm)

    def driving_force_ratio(self) -> Any:
        """``psi_+(eps(u)) / psi_c``: the driving force over its critical value (UFL).

        ``psi_+`` is the undegraded tensile energy density of the split (all of
        it without a split) of the current displacement, ``psi_c`` the
        homogeneous bar's :meth:`~femgp.energy.fracture.CrackDensity.critical_energy`.
        It reaches 1 where a homogeneous material would start to damage (AT1)
        or peak (AT2); ahead of a crack tip it does so before the damage,
        which the gradient term spreads over ``ell``, has grown there.
        """
        elastic = self._elastic_term
        eps = elastic.strain.elastic_strain(UFL_OPS, field_values({"u": self.u}))
        psi_plus = elastic.split_energy(UFL_OPS, eps)[0]
        return psi_plus / self.params.crack.critical_energy()

    def tip_position(self, *, threshold: float = 0.5, axis: int = 0) -> float:
        """The largest ``axis`` coordinate of the nodes with damage above ``threshold``."""
        x = self.Q.tabulate_dof_coordinates()[: self._n_alpha, axis]
        a = self._owned_alpha()
        local = float(x[a > threshold].max()) if np.any(a > threshold) else -np.inf
        return self.comm.allreduce(local, op=MPI.MAX)

    def output_functions(self) -> tuple[fem.Function, fem.Function]:
        """Damage and a P1 displacement (interpolated when ``degree == 2``) for XDMF."""
        if self.params.degree == 1:
            return self.alpha, self.u
        if not hasattr(self, "_u_out"):
            V1 = fem.functionspace(self.mesh, ("Lagrange", 1, (self.mesh.geometry.dim,)))
            self._u_out = fem.Function(V1, name="displacement")
        self._u_out.interpolate(self.u)
        return self.alpha, self._u_out


def require_plane_mesh(tm: Any, setup: str) -> None:
    """Refuse a mesh that is not 2D for a plane-only set-up (SENT, SENS, surfing).

    Raises:
        InputError: one line naming the set-up and what it got (topological and
            geometric dimension, cell type and global cell count), e.g. "the SENT
            set-up needs a 2D mesh (triangles or quadrilaterals in the x-y plane),
            got a 3D mesh of tetrahedron cells in 3D (8179 cells)".
    """
    if not isinstance(tm, TaggedMesh):
        raise InputError(f"the {setup} set-up needs a TaggedMesh, got {type(tm).__name__}")
    msh = tm.mesh
    tdim, gdim = msh.topology.dim, msh.geometry.dim
    if tdim == 2 and gdim == 2:
        return
    n_cells = msh.topology.index_map(tdim).size_global
    raise InputError(
        f"the {setup} set-up needs a 2D mesh (triangles or quadrilaterals in the x-y plane), "
        f"got a {tdim}D mesh of {msh.topology.cell_name()} cells in {gdim}D ({n_cells} cells)"
    )
