"""Solver pieces of the fracture model: PETSc defaults, the near-nullspace, AM accelerators.

PETSc defaults are written into the options database under each problem's
prefix, so that the command line overrides them. Because one process may build
several models under the same prefix with different defaults (a test suite,
or the benchmark that solves twice), :func:`apply_defaults` remembers the
values it wrote: a later model replaces femgp's own earlier defaults (and
removes those it no longer wants) but never an option the user set.

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
from collections.abc import Mapping
from typing import Any

import numpy as np
from mpi4py import MPI
from petsc4py import PETSc

__all__ = [
    "ALPHA_DIRECT",
    "ALPHA_ITERATIVE",
    "U_DIRECT",
    "U_ITERATIVE",
    "Anderson",
    "OverRelaxation",
    "Plain",
    "apply_defaults",
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
#: residual is monitored so that a linear problem converges in one Newton step.
U_ITERATIVE: dict[str, Any] = {
    **_NEWTON,
    "ksp_type": "cg",
    "ksp_norm_type": "unpreconditioned",
    "ksp_rtol": 1e-6,
    "ksp_max_it": 1000,
    "pc_type": "gamg",
    "pc_gamg_threshold": 0.01,
}
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
ALPHA_ITERATIVE: dict[str, Any] = {
    **_VI,
    "ksp_type": "cg",
    "ksp_rtol": 1e-9,
    "ksp_max_it": 2000,
    "pc_type": "jacobi",
}
#: Damage problem, direct: reduced-space VI Newton with MUMPS LU.
ALPHA_DIRECT: dict[str, Any] = {
    **_VI,
    "ksp_type": "preonly",
    "pc_type": "lu",
    "pc_factor_mat_solver_type": "mumps",
}

# Option names femgp wrote as defaults, with the value written (see apply_defaults).
_WRITTEN: dict[str, str] = {}


def _as_option(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def apply_defaults(prefix: str, defaults: Mapping[str, Any]) -> None:
    """Write ``defaults`` under ``prefix``, keeping every option the user set.

    An option already in the database is replaced only if femgp itself wrote it
    (with the value it still has); femgp-written options under ``prefix`` that
    ``defaults`` no longer lists are removed.
    """
    opts = PETSc.Options()
    wanted = {f"{prefix}{k}": _as_option(v) for k, v in defaults.items()}
    for name, value in list(_WRITTEN.items()):
        if name.startswith(prefix) and name not in wanted:
            if opts.hasName(name) and opts.getString(name) == value:
                opts.delValue(name)
            del _WRITTEN[name]
    for name, value in wanted.items():
        ours = name in _WRITTEN and opts.hasName(name) and opts.getString(name) == _WRITTEN[name]
        if not opts.hasName(name) or ours:
            opts[name] = value
            _WRITTEN[name] = value


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
