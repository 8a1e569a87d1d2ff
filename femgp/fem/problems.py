"""A checked wrapper over ``dolfinx.fem.petsc.NonlinearProblem`` (PETSc SNES).

Every problem has its own options prefix; defaults are given as a dict and any
option can be overridden on the command line (``-femgp_ch_ksp_type gmres``),
because defaults are only written where the options database has no value.
Bound constraints (SNES VI) are supported for damage-like fields. Convergence is
always checked: a failed solve restores the unknowns to their values before the
solve and raises :class:`femgp.SolverError`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dolfinx.fem.petsc
import numpy as np
import ufl
from dolfinx import fem
from mpi4py import MPI
from petsc4py import PETSc

from femgp.errors import InputError, SolverError

__all__ = ["DIRECT_LU", "NonlinearProblem", "SolveStats", "set_default_options"]

#: Options for a direct LU solve with MUMPS (robust, not scalable).
DIRECT_LU: dict[str, Any] = {
    "ksp_type": "preonly",
    "pc_type": "lu",
    "pc_factor_mat_solver_type": "mumps",
}


def set_default_options(prefix: str, options: Mapping[str, Any]) -> None:
    """Write ``options`` under ``prefix`` unless the options database already has them."""
    opts = PETSc.Options()
    for key, value in options.items():
        name = f"{prefix}{key}"
        if not opts.hasName(name):
            if isinstance(value, bool):
                value = "true" if value else "false"
            opts[name] = value


@dataclass
class SolveStats:
    """Iteration counts of one solve."""

    newton: int = 0
    krylov: int = 0
    reason: int = 0

    def __iadd__(self, other: SolveStats) -> SolveStats:
        self.newton += other.newton
        self.krylov += other.krylov
        self.reason = other.reason
        return self


class NonlinearProblem:
    """A nonlinear (or linear) variational problem solved by PETSc SNES.

    Args:
        F: residual form(s).
        u: unknown Function(s).
        prefix: PETSc options prefix, ending with ``_`` (mandatory, unique).
        bcs: Dirichlet conditions.
        J: Jacobian form(s); derived with ``ufl.derivative`` when omitted.
        options: default PETSc options for this prefix (command line wins).
        bounds: ``(lower, upper)`` Functions for a bound-constrained solve
            (SNES VI); switches the default ``snes_type`` to ``vinewtonrsls``.
        kind: PETSc matrix kind, as for DOLFINx.
    """

    def __init__(
        self,
        F: ufl.Form | Sequence[ufl.Form],
        u: fem.Function | Sequence[fem.Function],
        *,
        prefix: str,
        bcs: Sequence[fem.DirichletBC] | None = None,
        J: Any = None,
        options: Mapping[str, Any] | None = None,
        bounds: tuple[fem.Function, fem.Function] | None = None,
        kind: str | None = None,
    ) -> None:
        if not prefix or not prefix.endswith("_"):
            raise InputError(
                f"a PETSc options prefix must be non-empty and end with '_', got {prefix!r}"
            )
        self.prefix = prefix
        self.u = u
        self._funcs = list(u) if isinstance(u, Sequence) else [u]
        self._problem = dolfinx.fem.petsc.NonlinearProblem(
            F, u, petsc_options_prefix=prefix, bcs=list(bcs or []), J=J, kind=kind
        )
        defaults: dict[str, Any] = {"snes_type": "newtonls", "snes_linesearch_type": "basic"}
        if bounds is not None:
            defaults["snes_type"] = "vinewtonrsls"
        defaults.update(options or {})
        set_default_options(prefix, defaults)
        snes = self._problem.solver
        if bounds is not None:
            lower, upper = bounds
            snes.setVariableBounds(lower.x.petsc_vec, upper.x.petsc_vec)
        snes.setFromOptions()
        self.total = SolveStats()

    @property
    def snes(self) -> PETSc.SNES:
        """The PETSc SNES."""
        return self._problem.solver

    @property
    def A(self) -> PETSc.Mat:
        """The Jacobian matrix (e.g. to attach a near-nullspace)."""
        return self._problem.A

    @property
    def comm(self) -> MPI.Comm:
        return self._funcs[0].function_space.mesh.comm

    def solve(self, *, step: int | None = None) -> SolveStats:
        """Solve; on failure restore the unknowns and raise :class:`SolverError`."""
        saved = [f.x.array.copy() for f in self._funcs]
        try:
            self._problem.solve()
        except PETSc.Error as exc:
            self._restore(saved)
            raise SolverError(f"PETSc error {exc}", prefix=self.prefix, step=step) from exc
        snes = self.snes
        stats = SolveStats(
            newton=snes.getIterationNumber(),
            krylov=snes.getLinearSolveIterations(),
            reason=snes.getConvergedReason(),
        )
        finite = all(np.isfinite(f.x.array).all() for f in self._funcs)
        finite = self.comm.allreduce(finite, op=MPI.LAND)
        if stats.reason <= 0 or not finite:
            self._restore(saved)
            what = "did not converge" if finite else "produced non-finite values"
            raise SolverError(
                f"nonlinear solve {what} after {stats.newton} Newton iterations",
                prefix=self.prefix,
                step=step,
                reason=stats.reason,
            )
        self.total += stats
        return stats

    def _restore(self, saved: list[np.ndarray]) -> None:
        for f, arr in zip(self._funcs, saved, strict=True):
            f.x.array[:] = arr
            f.x.scatter_forward()
