"""Solver pieces of the fracture model: PETSc defaults, the near-nullspace, AM accelerators.

PETSc defaults are handed to :class:`femgp.fem.problems.NonlinearProblem`,
which writes them under each problem's prefix so that the command line
overrides them; a later model under the same prefix replaces femgp's own
earlier defaults but never an option the user set (see
:func:`femgp.fem.problems.set_default_options`).

The alternate-minimisation accelerators act on the owned damage degrees of
freedom as a fixed-point map ``alpha -> G(alpha)`` (one displacement solve,
then one damage solve): :class:`Plain` takes ``G(alpha)``,
:class:`OverRelaxation` the over-relaxed ``alpha + omega (G(alpha) - alpha)``
(alternate minimisation as a nonlinear block Gauss-Seidel iteration, made SOR
as in Farrell & Maurini 2017; the model over-relaxes the displacement with the
same omega) and :class:`Anderson` the Anderson-mixed iterate (Walker & Ni
2011), all projected back onto the damage bounds by the model. Inner products
are allreduced, so every rank takes the same decision.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np
from mpi4py import MPI
from petsc4py import PETSc

__all__ = [
    "ALPHA_AMG",
    "ALPHA_AMG_RESOLUTION",
    "ALPHA_DIRECT",
    "ALPHA_ITERATIVE",
    "COUPLED_DIRECT",
    "COUPLED_HYBRID",
    "COUPLED_ITERATIVE",
    "NEWTON_GROWTH_LIMIT",
    "U_DIRECT",
    "U_FORCING_MAX",
    "U_ITERATIVE",
    "U_KEEP_PC",
    "Anderson",
    "BlockGaussSeidel",
    "GrowthLimitTest",
    "InnerForcing",
    "OverRelaxation",
    "Plain",
    "coupled_defaults",
    "make_accelerator",
]

# The displacement solve inside alternate minimisation is inexact by design:
# Newton stops at a relative residual of 1e-3 of *this* solve's initial residual,
# which itself shrinks as the iteration converges (an inexact block Gauss-Seidel
# with forcing 1e-3); the damage solve is tight.
_NEWTON: dict[str, Any] = {
    "snes_type": "newtonls",
    "snes_linesearch_type": "basic",
    "snes_rtol": 1e-3,
    "snes_stol": 1e-10,
    "snes_max_it": 30,
}
#: Displacement problem, scalable default: CG + smoothed-aggregation AMG (GAMG,
#: Chebyshev/Jacobi smoothers) with the rigid-body near-nullspace; the true
#: residual is monitored. The linear tolerance 1e-4 gives the same Newton
#: iterations and iterates as 1e-6 on the SENS growth steps with two thirds of the
#: CG iterations. Alone it would leave an elastic step (one AM iteration, so one
#: linear solve) with a displacement only that accurate: the AT1 bar's first
#: reaction was 0.55 % apart between 1 and 2 ranks. So a load step that
#: alternate minimisation finishes ends with one more displacement solve, at the
#: converged damage, wherever this solve is iterative (``FractureModel``).
U_ITERATIVE: dict[str, Any] = {
    **_NEWTON,
    "ksp_type": "cg",
    "ksp_norm_type": "unpreconditioned",
    "ksp_rtol": 1e-4,
    "ksp_max_it": 1000,
    "pc_type": "gamg",
    "pc_gamg_threshold": 0.01,
}
#: The iterative displacement solve keeps its GAMG hierarchy across Newton
#: iterations, AM iterations and load steps, and rebuilds it once a CG solve takes
#: more than this many iterations (``NonlinearProblem(reuse_pc=...)``). The damage
#: changes the stiffness from one AM iteration to the next, but little per iteration:
#: on the SENS growth steps a kept hierarchy took the same CG iterations (27 per
#: solve) as one rebuilt at every Newton iteration, whose set-up was 18 % of the
#: displacement solve's time.
U_KEEP_PC = 40
#: The displacement solves inside alternate minimisation are looser where the
#: iteration is far from converged (:class:`InnerForcing`): their Newton and CG
#: relative tolerances are multiplied by ``||alpha_k - alpha_{k-1}||_inf /
#: snes_rtol`` of the last AM iteration, between 1 and this factor (with the
#: defaults: Newton 1e-3 to 1e-2, CG 1e-4 to 1e-3). Only where a step ends with
#: a displacement solve at the problem's own tolerances
#: (``FractureModel.final_u_solve``). With 100 the coarse 3D slab broke into a
#: different state on 1 and on 2 ranks (reactions 0.15 % of the peak apart after
#: the break: the loose solves lead the serial run another way through its breaking
#: step, which an accurate displacement at the Newton hand-over does not change);
#: with 10 and 30 the two agree to 1e-8, as without forcing.
U_FORCING_MAX = 10.0
#: Displacement problem, direct: MUMPS LU.
U_DIRECT: dict[str, Any] = {
    **_NEWTON,
    "ksp_type": "preonly",
    "pc_type": "lu",
    "pc_factor_mat_solver_type": "mumps",
}
_VI: dict[str, Any] = {
    "snes_type": "vinewtonrsls",
    "snes_linesearch_type": "basic",
    "snes_rtol": 1e-8,
    "snes_stol": 1e-10,
    "snes_max_it": 50,
}
#: Damage problem, default: reduced-space VI Newton, CG + Jacobi. The damage
#: Hessian is a mass matrix plus ell^2 times a stiffness matrix, well conditioned
#: when h ~ ell / 4, so Jacobi-preconditioned CG needs no setup and few iterations.
#: The linear tolerance 1e-6 gives the same VI Newton iterations and iterates as
#: 1e-9 (SENS growth steps: 9 digits) with two thirds of the CG iterations.
ALPHA_ITERATIVE: dict[str, Any] = {
    **_VI,
    "ksp_type": "cg",
    "ksp_rtol": 1e-6,
    "ksp_max_it": 2000,
    "pc_type": "jacobi",
}
#: Damage problem on a mesh fine against ``ell``: the same with GAMG. The
#: condition number of mass + ell^2 stiffness grows like (ell/h)^2, so Jacobi's
#: CG iterations double per refinement at fixed ell while GAMG's stay flat; GAMG's
#: set-up (on every VI Newton iteration: the inactive set changes) only pays
#: beyond :data:`ALPHA_AMG_RESOLUTION` (measured in benchmarks/scaling.py).
ALPHA_AMG: dict[str, Any] = {**ALPHA_ITERATIVE, "pc_type": "gamg"}
#: The iterative damage solve switches from Jacobi to GAMG where ``ell / h_min``
#: (``h_min``: the smallest cell diameter) exceeds this.
ALPHA_AMG_RESOLUTION = 8.0

#: Damage problem, direct: reduced-space VI Newton with MUMPS LU.
ALPHA_DIRECT: dict[str, Any] = {
    **_VI,
    "ksp_type": "preonly",
    "pc_type": "lu",
    "pc_factor_mat_solver_type": "mumps",
}

#: A coupled Newton solve whose residual norm grows beyond this many times its
#: initial value is stopped there (the coupled problem's
#: ``snes_divergence_tolerance``, applied by :class:`GrowthLimitTest`) and
#: alternate minimisation goes on. On the SENS path at the literature resolution the
#: converging solves grow by at most 2.2x before they converge; the failing
#: ones that grow pass 10x at their 2nd-7th iteration, as does the first
#: attempt in the step the SENT plate breaks (20x at the first iteration), and
#: none of them converged: without the limit they ran on to the guard of 30
#: iterations.
NEWTON_GROWTH_LIMIT = 10.0

#: The coupled (u, alpha) problem of the Newton solver: reduced-space VI Newton
#: on the monolithic system with PETSc's critical-point line search (``cp``: the
#: residual is the gradient of the total energy, so the step length is the root
#: of the directional derivative, found by secant steps; a backtracking search on
#: the residual norm crept through crack growth and failed there, see
#: docs/fracture_solvers.md), at most 30 iterations, stopped where the residual has grown
#: tenfold (:data:`NEWTON_GROWTH_LIMIT`); GMRES preconditioned by :class:`BlockGaussSeidel`
#: (a multiplicative field split, u block then alpha block: the linearised
#: alternate minimisation), each block one V-cycle of GAMG (the u block with
#: the rigid-body modes, its interpolation reused across Newton iterations),
#: to a relative residual of 1e-5 (1e-8 took 1.5x the GMRES iterations for the
#: same Newton iterations and iterates on the SENS growth steps; inexact solves
#: that start loose, ``snes_ksp_ew``, break the line search, see docs/fracture_solvers.md).
#: The block solvers take options under ``<prefix>fieldsplit_u_`` and
#: ``<prefix>fieldsplit_alpha_``; an explicit ``<prefix>pc_type`` replaces the split.
COUPLED_ITERATIVE: dict[str, Any] = {
    "snes_type": "vinewtonrsls",
    "snes_linesearch_type": "cp",
    "snes_rtol": 1e-9,
    "snes_stol": 1e-12,
    "snes_max_it": 30,
    "snes_divergence_tolerance": NEWTON_GROWTH_LIMIT,
    "ksp_type": "gmres",
    "ksp_gmres_restart": 200,
    "ksp_rtol": 1e-5,
    "ksp_max_it": 1000,
    "fieldsplit_u_ksp_type": "preonly",
    "fieldsplit_u_pc_type": "gamg",
    "fieldsplit_u_pc_gamg_threshold": 0.01,
    "fieldsplit_u_pc_gamg_reuse_interpolation": True,
    "fieldsplit_alpha_ksp_type": "preonly",
    "fieldsplit_alpha_pc_type": "gamg",
}
#: The coupled problem, direct: the same VI Newton with MUMPS LU.
COUPLED_DIRECT: dict[str, Any] = {
    **{k: v for k, v in COUPLED_ITERATIVE.items() if k.startswith("snes_")},
    "ksp_type": "preonly",
    "pc_type": "lu",
    "pc_factor_mat_solver_type": "mumps",
}
#: The coupled problem, hybrid: the field split with MUMPS on the u block.
COUPLED_HYBRID: dict[str, Any] = {
    **{k: v for k, v in COUPLED_ITERATIVE.items() if not k.startswith("fieldsplit_u_pc_gamg")},
    "fieldsplit_u_pc_type": "lu",
    "fieldsplit_u_pc_factor_mat_solver_type": "mumps",
}


def coupled_defaults(linear_solver: str) -> dict[str, Any]:
    """PETSc defaults of the coupled problem for ``Params.linear_solver``."""
    return dict(
        {"direct": COUPLED_DIRECT, "hybrid": COUPLED_HYBRID}.get(linear_solver, COUPLED_ITERATIVE)
    )


class InnerForcing:
    """Forcing terms of an inner solve in an outer fixed-point iteration.

    An inexact block Gauss-Seidel iteration needs its inner solves only as
    accurate as its own progress: where the outer iterates still change by
    ``r`` (alternate minimisation: ``||alpha_k - alpha_{k-1}||_inf``), a
    Newton relative tolerance of about ``r`` is enough (the choice
    ``eta_k ~ ||outer residual||`` of inexact Newton methods). :meth:`set`
    multiplies the SNES's Newton and Krylov relative tolerances, read once when
    this is made (the defaults or the user's options), by
    ``clip(r / rtol, 1, cap)``; :meth:`reset` restores them.

    Args:
        snes: the inner problem's SNES (its KSP is the linear solver).
        cap: the largest factor.
    """

    def __init__(self, snes: PETSc.SNES, cap: float = U_FORCING_MAX) -> None:
        self.snes = snes
        self.ksp = snes.getKSP()
        self.rtol = float(snes.getTolerances()[0])
        self.ksp_rtol = float(self.ksp.getTolerances()[0])
        self.cap = float(cap)

    def factor(self, residual: float) -> float:
        """``clip(residual / rtol, 1, cap)``; 1 for a non-finite residual (no iterate yet)."""
        if not np.isfinite(residual) or self.rtol <= 0.0:
            return 1.0
        return float(min(max(residual / self.rtol, 1.0), self.cap))

    def set(self, residual: float) -> None:
        """Loosen the tolerances for the outer residual ``residual`` (collective value)."""
        f = self.factor(residual)
        self.snes.setTolerances(rtol=self.rtol * f)
        self.ksp.setTolerances(rtol=self.ksp_rtol * f)

    def reset(self) -> None:
        """Restore the tolerances read when this was made."""
        self.set(np.inf)


class GrowthLimitTest:
    """SNES convergence test of the coupled VI Newton solve, stopping one whose residual grows.

    PETSc's test for its VI solvers (``SNESConvergedDefault_VI``: a non-finite norm,
    the absolute and relative tolerances, the function-evaluation cap) ignores
    ``snes_divergence_tolerance``. This is the same test with it: a solve whose
    residual norm exceeds that many times its initial norm stops with
    ``DIVERGED_DTOL`` (``PETSC_UNLIMITED`` turns it off; as an option,
    ``-<prefix>snes_divergence_tolerance unlimited``). It holds only
    the initial norm, no reference to the solver.
    """

    def __init__(self) -> None:
        self.fnorm0 = 0.0

    def __call__(
        self, snes: PETSc.SNES, its: int, norms: tuple[float, float, float]
    ) -> PETSc.SNES.ConvergedReason:
        fnorm = norms[2]
        reason = PETSc.SNES.ConvergedReason
        rtol, atol, _, _ = snes.getTolerances()
        if its == 0:
            self.fnorm0 = fnorm
        if not np.isfinite(fnorm):
            return reason.DIVERGED_FUNCTION_NANORINF
        if fnorm < atol:
            return reason.CONVERGED_FNORM_ABS
        cap = snes.getMaxFunctionEvaluations()
        if 0 <= cap <= snes.getFunctionEvaluations():
            return reason.DIVERGED_FUNCTION_COUNT
        if its > 0:
            if fnorm < rtol * self.fnorm0:
                return reason.CONVERGED_FNORM_RELATIVE
            limit = snes.getDivergenceTolerance()
            if 0 < limit < PETSc.INFINITY and fnorm > limit * self.fnorm0:
                return reason.DIVERGED_DTOL
        return reason.ITERATING


class BlockGaussSeidel:
    """A PETSc python PC: one multiplicative field-split sweep over the (u, alpha) blocks.

    Built for the reduced-space VI Newton method, whose linear systems are the
    Jacobian restricted to the inactive set (PETSc's own PCFIELDSPLIT loses its
    index sets when the active set changes). The displacement is never bounded,
    so every rank's reduced vector holds its ``n_u`` owned displacement dofs
    first, then its inactive damage dofs. The sweep solves ``A_uu y_u = x_u``,
    then ``A_aa y_a = x_a - A_au y_u``, each block with its own KSP (options
    ``<prefix>fieldsplit_u_`` and ``<prefix>fieldsplit_alpha_``); the u block
    carries the rigid-body near-nullspace and keeps its matrix object, so GAMG
    can reuse its interpolation from one Newton iteration to the next.

    Args:
        comm: the communicator.
        n_u: owned displacement dofs of this rank (times the block size).
        block_size: the displacement block size (gdim).
        nullspace: the rigid-body near-nullspace of the displacement block.
        prefix: the options prefix of the coupled problem.
    """

    def __init__(
        self, comm: MPI.Comm, n_u: int, block_size: int, nullspace: PETSc.NullSpace, prefix: str
    ) -> None:
        self.comm = comm
        self.n_u = int(n_u)
        self.bs = int(block_size)
        self.nullspace = nullspace
        self.ksp = {}
        for name in ("u", "alpha"):
            ksp = PETSc.KSP().create(comm)
            ksp.setOptionsPrefix(f"{prefix}fieldsplit_{name}_")
            ksp.setFromOptions()
            self.ksp[name] = ksp
        self._A_uu: PETSc.Mat | None = None

    def setUp(self, pc: PETSc.PC) -> None:
        """Split the operator into its u and alpha blocks and set up their solvers."""
        _, P = pc.getOperators()
        r0, r1 = P.getOwnershipRange()
        self.is_u = PETSc.IS().createStride(self.n_u, first=r0, step=1, comm=self.comm)
        self.is_u.setBlockSize(self.bs)
        self.is_a = PETSc.IS().createStride(r1 - r0 - self.n_u, first=r0 + self.n_u, comm=self.comm)
        # A fresh extraction each time: the reduced operator's numbering moves with
        # the inactive sets of the lower ranks, which PETSc's MAT_REUSE_MATRIX path
        # does not follow (on 3 or more ranks it failed on some ranks only and the
        # run hung). The u block itself has the same layout and nonzero pattern at
        # every iteration (the displacement is never bounded), so its values are
        # copied into the kept matrix object, whose GAMG interpolation is reused.
        A_uu = P.createSubMatrix(self.is_u, self.is_u)
        if self._A_uu is None:
            self._A_uu = A_uu
            self._A_uu.setBlockSize(self.bs)
            self._A_uu.setNearNullSpace(self.nullspace)
        else:
            A_uu.copy(self._A_uu, structure=PETSc.Mat.Structure.SAME_NONZERO_PATTERN)
            A_uu.destroy()
        self.A_aa = P.createSubMatrix(self.is_a, self.is_a)
        self.A_au = P.createSubMatrix(self.is_a, self.is_u)
        self.ksp["u"].setOperators(self._A_uu)
        self.ksp["alpha"].reset()  # the inactive set, so the block size, may have changed
        self.ksp["alpha"].setOperators(self.A_aa)
        self.ksp["alpha"].setFromOptions()
        self._y_u, self._y_a = self._A_uu.createVecLeft(), self.A_aa.createVecLeft()
        self._r_a = self.A_aa.createVecLeft()

    def forget(self) -> None:
        """Drop the kept u block and its GAMG hierarchy: the next set-up builds them anew."""
        if self._A_uu is not None:
            self.ksp["u"].reset()
            self._A_uu.destroy()
            self._A_uu = None

    def apply(self, pc: PETSc.PC, x: PETSc.Vec, y: PETSc.Vec) -> None:
        """``y``: the u block solved, then the alpha block with the u update's coupling."""
        x_u, x_a = x.getSubVector(self.is_u), x.getSubVector(self.is_a)
        self.ksp["u"].solve(x_u, self._y_u)
        self.A_au.mult(self._y_u, self._r_a)
        self._r_a.aypx(-1.0, x_a)
        self.ksp["alpha"].solve(self._r_a, self._y_a)
        x.restoreSubVector(self.is_u, x_u)
        x.restoreSubVector(self.is_a, x_a)
        for iset, part in ((self.is_u, self._y_u), (self.is_a, self._y_a)):
            sub = y.getSubVector(iset)
            part.copy(sub)
            y.restoreSubVector(iset, sub)

    def iterations(self) -> int:
        """Krylov iterations of the block solves so far (0 with ``preonly``)."""
        return sum(k.getIterationNumber() for k in self.ksp.values())


# -- accelerators of the alternate minimisation --------------------------------------
class Plain:
    """Plain alternate minimisation: the next iterate is ``G(alpha)``."""

    name = "none"

    def reset(self) -> None:
        """Forget the history (start of a load step)."""

    def __call__(self, x: np.ndarray, g: np.ndarray) -> np.ndarray:
        return g


class OverRelaxation(Plain):
    """Projected over-relaxation ``alpha + omega (G(alpha) - alpha)`` (Farrell & Maurini 2017).

    Args:
        omega: relaxation factor in [1, 2).
    """

    name = "overrelax"

    def __init__(self, omega: float) -> None:
        self.omega = float(omega)

    def __call__(self, x: np.ndarray, g: np.ndarray) -> np.ndarray:
        return x + self.omega * (g - x)


class Anderson(Plain):
    """Anderson acceleration (type II, depth ``m``) of the fixed point ``x = G(x)``.

    With residuals ``f_k = G(x_k) - x_k`` it mixes the last ``m`` iterates,
    ``x_{k+1} = G(x_k) - sum_j gamma_j (G(x_{k-j+1}) - G(x_{k-j}))`` where ``gamma``
    solves the small least-squares problem ``min |f_k - dF gamma|`` (normal
    equations, allreduced, Tikhonov-regularised). If the residual grows by more
    than ``restart_growth`` the history is dropped and a plain step taken.

    Args:
        comm: the communicator the owned arrays are distributed over.
        depth: number of differences kept (``m``).
        restart_growth: residual growth factor that triggers a restart.
    """

    name = "anderson"

    def __init__(self, comm: MPI.Comm, depth: int = 5, restart_growth: float = 10.0) -> None:
        self.comm = comm
        self.depth = int(depth)
        self.restart_growth = float(restart_growth)
        self.reset()

    def reset(self) -> None:
        """Forget the mixed iterates (start of a load step)."""
        self._dF: deque[np.ndarray] = deque(maxlen=self.depth)
        self._dG: deque[np.ndarray] = deque(maxlen=self.depth)
        self._f: np.ndarray | None = None
        self._g: np.ndarray | None = None
        self._norm: float | None = None
        self.restarts = 0

    def _allsum(self, a: np.ndarray) -> np.ndarray:
        out = np.empty_like(a)
        self.comm.Allreduce(np.ascontiguousarray(a), out, op=MPI.SUM)
        return out

    def __call__(self, x: np.ndarray, g: np.ndarray) -> np.ndarray:
        f = g - x
        norm = float(np.sqrt(self._allsum(np.array([f @ f]))[0]))
        if self._norm is not None and norm > self.restart_growth * self._norm:
            self._dF.clear()
            self._dG.clear()
            self._f = self._g = None
            self.restarts += 1
        if self._f is not None:
            self._dF.append(f - self._f)
            self._dG.append(g - self._g)
        self._f, self._g, self._norm = f, g.copy(), norm
        if not self._dF:
            return g
        dF = np.stack(self._dF, axis=1)
        dG = np.stack(self._dG, axis=1)
        gram = self._allsum(dF.T @ dF)
        rhs = self._allsum(dF.T @ f)
        reg = 1e-12 * max(float(np.trace(gram)), 1e-300)
        try:
            gamma = np.linalg.solve(gram + reg * np.eye(gram.shape[0]), rhs)
        except np.linalg.LinAlgError:
            self._dF.clear()
            self._dG.clear()
            return g
        return g - dG @ gamma


def make_accelerator(name: str, *, comm: MPI.Comm, omega: float, depth: int) -> Plain:
    """The accelerator called ``name`` ("none", "overrelax" or "anderson")."""
    if name == "anderson":
        return Anderson(comm, depth)
    if name == "overrelax":
        return OverRelaxation(omega)
    return Plain()
