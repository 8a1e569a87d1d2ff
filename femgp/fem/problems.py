"""A checked wrapper over ``dolfinx.fem.petsc.NonlinearProblem`` (PETSc SNES).

Every problem has its own options prefix; defaults are given as a dict and any
option can be overridden on the command line (``-femgp_ch_ksp_type gmres``),
because defaults are only written where the options database has no value.
Bound constraints (SNES VI) are supported for damage-like fields. Convergence is
always checked: a failed solve restores the unknowns to their values before the
solve and raises :class:`femgp.SolverError`.

PETSc errors never escape as raw ``petsc4py.PETSc.Error``: a bad option value
(an unknown KSP or PC type, a number that does not parse, a factorisation
package that is not built in) raises :class:`femgp.InputError`, a failed solve
raises :class:`femgp.SolverError`, and both messages start with the options
prefix (``femgp_ch_: ...``) and give PETSc's own reason in one line.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

import femgp.fem._backend  # noqa: F401  (dolfinx_solver before dolfinx)

import dolfinx.fem.petsc
import numpy as np
import ufl
from dolfinx import fem
from mpi4py import MPI
from petsc4py import PETSc

from femgp.errors import InputError, SolverError
from femgp.fem.assembly import (
    ASSEMBLY_MODES,
    CSRAssembler,
    csr_assembly_applies,
    csr_fits,
    csr_jacobian,
)
from femgp.fem.preconditioners import configure_block_pc

__all__ = [
    "ASSEMBLY_OPTION",
    "DEFAULTS_RECORD",
    "DIRECT_LU",
    "KeptPreconditioner",
    "NonlinearProblem",
    "SolveStats",
    "UpdateLimit",
    "jacobian_is_constant",
    "petsc_error_reason",
    "prefix_options",
    "release_after_error",
    "set_default_options",
    "warn_unused_options",
]

#: Options for a direct LU solve with MUMPS (robust, not scalable).
DIRECT_LU: dict[str, Any] = {
    "ksp_type": "preonly",
    "pc_type": "lu",
    "pc_factor_mat_solver_type": "mumps",
}


#: PETSc error codes caused by the options rather than by the equations: not
#: supported (56), argument size/wrong/out of range (60, 62, 63), incompatible
#: arguments (75), unknown type (86), missing factorisation package (92), user
#: input (95). During a solve they raise InputError instead of SolverError.
OPTION_ERROR_CODES = frozenset({56, 60, 62, 63, 75, 86, 92, 95})


#: The entry, under each prefix, of the options database that lists the
#: options femgp wrote there as defaults (``name=value``, comma-separated,
#: names without the prefix, values percent-encoded: a value may hold commas).
#: Keeping the record in the database itself (not in module state) lets a later
#: problem under the same prefix replace femgp's earlier defaults, and drop
#: those it does not want, without ever touching an option the user set.
DEFAULTS_RECORD = "femgp_defaults"

#: The option, under each prefix, that chooses the Jacobian assembly
#: (``-<prefix>femgp_assembly csr|petsc``; see ``NonlinearProblem(assembly=...)``).
ASSEMBLY_OPTION = "femgp_assembly"


def _as_option(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def set_default_options(prefix: str, options: Mapping[str, Any]) -> list[str]:
    """Write ``options`` under ``prefix`` as femgp defaults; options the user set win.

    A name already in the options database is replaced only if femgp wrote it
    as a default and it still holds that value (the ``<prefix>femgp_defaults``
    record lists them); femgp defaults under ``prefix`` that ``options`` no
    longer lists are removed. Returns the names (without the leading ``-``)
    written.
    """
    opts = PETSc.Options()
    record = f"{prefix}{DEFAULTS_RECORD}"
    ours = set()
    for item in opts.getString(record, "").split(","):
        key, _, value = item.partition("=")
        name = f"{prefix}{key}"
        if key and opts.hasName(name) and opts.getString(name) == unquote(value):
            ours.add(name)
    wanted = {f"{prefix}{k}": _as_option(v) for k, v in options.items()}
    for name in sorted(ours - wanted.keys()):
        opts.delValue(name)
    written = []
    for name, value in wanted.items():
        if name in ours or not opts.hasName(name):
            opts[name] = value
            # Marked as used: a default that PETSc reads only late (a MUMPS control,
            # read at the first factorisation) is not the user's unused option.
            opts.getString(name)
            written.append(name)
    if written:
        opts[record] = ",".join(f"{n[len(prefix) :]}={quote(wanted[n], safe='')}" for n in written)
        opts.getString(record)  # marked as used: PETSc's options_left does not report it
    elif opts.hasName(record):
        opts.delValue(record)
    return written


def petsc_error_reason(exc: BaseException) -> str:
    """PETSc's own reason from a ``petsc4py.PETSc.Error``, in one line.

    petsc4py's message is ``error code N`` followed by ``[rank] function() at
    file:line`` frames and reason lines; this keeps the most specific reason line
    (the last) and the error code.
    """
    lines = [ln.strip() for ln in str(exc).splitlines()]
    reasons = []
    for ln in lines[1:]:
        text = ln.split("] ", 1)[1] if ln.startswith("[") and "] " in ln else ln
        if not text or "() at " in text or "https://" in text:
            continue
        reasons.append(text.rstrip("."))
    code = getattr(exc, "ierr", None)
    head = lines[0] if lines and lines[0] else f"error code {code}"
    if not reasons:
        return f"PETSc {head}"
    return f"{reasons[-1]} (PETSc {head})"


#: ``(VecLockGet, VecLockReadPop, the PetscInt type)`` through ctypes, once found.
_VEC_LOCK: tuple[Any, Any, Any] | None = None


def _vec_lock_functions() -> tuple[Any, Any, Any] | None:
    """PETSc's ``VecLockGet`` and ``VecLockReadPop`` through ctypes (petsc4py binds neither).

    Looked up in the libraries petsc4py's extension module links; ``None`` where they
    cannot be found.
    """
    global _VEC_LOCK
    if _VEC_LOCK is None:
        import ctypes

        int_type = ctypes.c_int64 if np.dtype(PETSc.IntType).itemsize == 8 else ctypes.c_int32
        try:
            lib = ctypes.CDLL(PETSc.__file__)
            get, pop = lib.VecLockGet, lib.VecLockReadPop
        except (OSError, AttributeError):
            return None
        get.argtypes = [ctypes.c_void_p, ctypes.POINTER(int_type)]
        pop.argtypes = [ctypes.c_void_p]
        _VEC_LOCK = (get, pop, int_type)
    return _VEC_LOCK


def release_after_error(snes: PETSc.SNES) -> None:
    """Undo what a PETSc error inside ``snes.solve`` left behind, so that it can solve again.

    An error raised in a callback (a Jacobian, a Python preconditioner, a PETSc error
    there) returns through SNES without its clean-up: the solution vector stays
    locked for reading (``SNESComputeJacobian``'s ``VecLockReadPush``) and the KSP
    holds a half-built preconditioner. Every later solve of that SNES then failed
    with "Object is in wrong state", so retries and cutbacks could not help. The
    read locks of the solution and residual vectors are popped and the KSP is reset
    (its work vectors and preconditioner are made again at the next solve).
    """
    import ctypes

    lock = _vec_lock_functions()
    if lock is not None:
        get, pop, int_type = lock
        state = int_type(0)
        for vec in (snes.getSolution(), snes.getFunction()[0]):
            if vec is None or not vec.handle:
                continue
            for _ in range(16):  # a lock count; never loop on a failing query
                if get(vec.handle, ctypes.byref(state)) != 0 or state.value <= 0:
                    break
                pop(vec.handle)
    snes.getKSP().reset()


def prefix_options(prefix: str, *, exclude: Sequence[str] = ()) -> dict[str, str]:
    """The options set under ``prefix`` (names without ``-``), but for those in ``exclude``."""
    return {
        name: value
        for name, value in sorted(PETSc.Options().getAll().items())
        if name.startswith(prefix) and name not in exclude and not name.endswith(DEFAULTS_RECORD)
    }


def _option_error(prefix: str, what: str, exc: BaseException, defaults: Sequence[str]) -> str:
    """One line for a PETSc error caused by an option: the reason and the suspect options."""
    reason = petsc_error_reason(exc)
    low = reason.lower()
    everything = prefix_options(prefix)
    suspects = {
        k: v
        for k, v in everything.items()
        if v and re.search(rf"(?<![\w.-]){re.escape(str(v).lower())}(?![\w.-])", low)
    }
    suspects = suspects or prefix_options(prefix, exclude=defaults)  # else: those the user set
    text = " ".join(f"-{k} {v}".rstrip() for k, v in suspects.items())
    return f"{prefix}: {what}: {reason}" + (f"; check {text}" if text else "")


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


class KeptPreconditioner:
    """State of a preconditioner kept across Newton iterations and solves.

    SNES keeps the preconditioner once built (``snes_lag_preconditioner -2``);
    :meth:`wrap` wraps the Jacobian callback so that a requested rebuild sets the
    preconditioner up again on the new Jacobian (for a factorisation, the numeric
    factorisation only), and :meth:`monitor`, an SNES monitor, requests one after a
    linear solve of more than ``limit`` Krylov iterations. It holds no reference
    to the solver (the callbacks get it as an argument), so the solver holding it
    forms no reference cycle.

    Attributes:
        limit: Krylov iterations of one linear solve beyond which it is rebuilt.
        setups: preconditioner set-ups so far.
        refresh: a rebuild is due after the next Jacobian.
        every_iteration: rebuild after every Jacobian (the retry of a failed solve).
        retries: solves retried so far.
        kept_used: a Newton iteration of the current solve used a preconditioner
            built on an earlier Jacobian.
    """

    def __init__(self, limit: int) -> None:
        self.limit = int(limit)
        self.setups = 0
        self.refresh = True  # the first Jacobian builds it
        self.every_iteration = False
        self.kept_used = False
        self.retries = 0
        self._built = False

    def rebuild(self) -> None:
        """Rebuild the preconditioner after the next Jacobian."""
        self.refresh = True

    def forget(self, ksp: PETSc.KSP) -> None:
        """Drop the preconditioner of ``ksp``: the next solve builds it as the first one did.

        A rebuild sets an existing preconditioner up again, and a GAMG hierarchy
        set up again is not the one a first set-up makes (the displacement solve
        of the fracture bar took 31 CG iterations after a rebuild, 20 after a fresh
        start). Collective.
        """
        ksp.reset()
        self.refresh = True
        self._built = False

    def wrap(self, jacobian: Callable[..., None]) -> Callable[..., None]:
        """The Jacobian callback ``jacobian``, then the requested rebuild."""

        def assemble(
            snes: PETSc.SNES, x: PETSc.Vec, J: PETSc.Mat, P: PETSc.Mat, *args: Any, **kargs: Any
        ) -> None:
            jacobian(snes, x, J, P, *args, **kargs)
            if not (self.refresh or self.every_iteration):
                self.kept_used = True
                return
            self.refresh = False
            self.setups += 1
            if self._built:
                pc = snes.getKSP().getPC()
                pc.setOperators(J, P)
                pc.setReusePreconditioner(False)
                pc.setUp()
            self._built = True  # else SNES builds it (lag -2)

        return assemble

    def monitor(self, snes: PETSc.SNES, its: int, fnorm: float) -> None:
        """SNES monitor: a rebuild after a slow linear solve."""
        if its > 0 and snes.getKSP().getIterationNumber() > self.limit:
            self.rebuild()


class UpdateLimit:
    """A line-search pre-check that bounds the Newton update in chosen unknowns.

    Before the line search, the update ``y`` (``x_new = x - lambda y``) is scaled as a
    whole, its direction kept, so that its largest entry where ``mask`` is nonzero is
    at most ``limit``. Newton's first iterate from a point where the Jacobian is nearly
    singular (a double-well field near its spinodal, for example) can otherwise jump far
    outside the physical range, and Newton then spends its iterations coming back.
    It holds only PETSc vectors, no reference to the solver.

    Attributes:
        limit: the largest entry allowed in the masked update.
        limited: updates scaled so far.
    """

    def __init__(self, mask: PETSc.Vec, limit: float) -> None:
        self.mask = mask
        self.limit = float(limit)
        self.limited = 0
        self._work = mask.duplicate()

    def __call__(self, x: PETSc.Vec, y: PETSc.Vec) -> None:
        self._work.pointwiseMult(y, self.mask)
        largest = self._work.norm(PETSc.NormType.NORM_INFINITY)
        if largest > self.limit:
            y.scale(self.limit / largest)
            self.limited += 1


def jacobian_is_constant(J: Any, u: fem.Function | Sequence[fem.Function]) -> bool:
    """Whether the Jacobian form ``J`` does not depend on the unknown ``u`` (a quadratic energy).

    Decided symbolically: the Gateaux derivative of ``J`` in ``u`` vanishes after
    UFL expands it. A Jacobian left to be derived (``None``) or given in blocks
    counts as not constant.
    """
    if not isinstance(J, ufl.Form) or isinstance(u, Sequence):
        return False
    coefficients = J.coefficients()
    if u not in coefficients:
        return True
    # The same form built again (a rebuild on a refined mesh) has the same
    # signature, with its coefficients renumbered in the same order: the answer
    # carries over, and the signature is kept on the form for its compilation.
    key = (J.signature(), coefficients.index(u))
    known = _CONSTANT_JACOBIANS.get(key)
    if known is None:
        from ufl.algorithms import expand_derivatives

        known = expand_derivatives(ufl.derivative(J, u)).empty()
        if len(_CONSTANT_JACOBIANS) >= _CONSTANT_JACOBIANS_KEPT:
            _CONSTANT_JACOBIANS.pop(next(iter(_CONSTANT_JACOBIANS)))
        _CONSTANT_JACOBIANS[key] = known
    return known


#: :func:`jacobian_is_constant`'s answers by form signature and the unknown's
#: place among the form's coefficients (at most this many, oldest dropped first).
_CONSTANT_JACOBIANS: dict[tuple[str, int], bool] = {}
_CONSTANT_JACOBIANS_KEPT = 64


def _first_iteration_only(jacobian: Callable[..., None]) -> Callable[..., None]:
    """The Jacobian callback ``jacobian``, skipped after a solve's first Newton iteration.

    For a Jacobian that does not depend on the unknowns: within one solve it
    keeps its value (the other coefficients are fixed during a solve), so the
    matrix assembled at iteration 0 serves every later iteration. The residual
    callback still copies each iterate into the unknowns' functions.
    """

    def assemble(
        snes: PETSc.SNES, x: PETSc.Vec, J: PETSc.Mat, P: PETSc.Mat, *args: Any, **kargs: Any
    ) -> None:
        if snes.getIterationNumber() == 0:
            jacobian(snes, x, J, P, *args, **kargs)

    return assemble


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
        blocks: for a mixed two-field problem, its space and a callable giving the
            :class:`femgp.fem.preconditioners.SchurScales` of the current step: the
            block preconditioner (``pc_python_type
            femgp.fem.preconditioners.CahnHilliardPC``) is configured with them when
            the options select it, and refused (InputError) when they are missing.
        constraint: periodic constraint(s) (:class:`femgp.fem.periodic.PeriodicConstraint`,
            one per unknown): SNES then works on the reduced unknowns with the
            residual ``Pᵀ r`` and the Jacobian ``Pᵀ J P`` (:attr:`A` is that matrix).
        reuse_pc: keep the preconditioner (an LU factorisation, an AMG hierarchy)
            across Newton iterations and solves while it still works: the Jacobian is
            assembled every iteration and a Krylov method solves with the old
            preconditioner; it is rebuilt at the next Newton iteration once a linear
            solve takes more than ``reuse_pc`` Krylov iterations, and a solve that
            fails after using a kept one is retried once, rebuilding it at every
            Newton iteration.
            ``None``: rebuilt at every Newton iteration (PETSc's default).
        update_limit: ``(mask, limit)``: a Function of the (single) unknown's space that
            is nonzero on the unknowns to watch, and the largest change allowed there in
            one Newton iteration; a longer update is scaled down (:class:`UpdateLimit`).
        symmetric: the Jacobian is symmetric (the Hessian of an energy): the matrix
            says so (``MAT_SYMMETRIC``, kept through reassembly, and passed on to the
            reduced-space VI solver's inactive-set submatrices), so that GAMG builds
            its graph from the matrix itself instead of symmetrising it at every
            set-up.
        constant_jacobian: the Jacobian does not depend on the unknowns (a quadratic
            energy; a linear problem), so it is assembled once per solve, at the first
            Newton iteration, and the later ones reuse it. ``None`` (default): decided
            from the forms (:func:`jacobian_is_constant`); ``False``: assembled at every
            Newton iteration.
        assembly: how the Jacobian is assembled: ``"csr"`` into DOLFINx's CSR matrix,
            then copied into PETSc (:class:`femgp.fem.assembly.CSRAssembler`; where it
            applies: one bilinear form, an AIJ matrix of at most
            :data:`femgp.fem.assembly.CSR_MAX_NONZEROS` entries per rank, no periodic
            constraint) or
            ``"petsc"``, DOLFINx's cell-by-cell PETSc assembly. ``None`` (default):
            the option ``-<prefix>femgp_assembly``, else ``"csr"``.
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
        blocks: tuple[fem.FunctionSpace, Callable[[], Any]] | None = None,
        constraint: Any = None,
        reuse_pc: int | None = None,
        update_limit: tuple[fem.Function, float] | None = None,
        symmetric: bool = False,
        constant_jacobian: bool | None = None,
        assembly: str | None = None,
    ) -> None:
        if not prefix or not prefix.endswith("_"):
            raise InputError(
                f"a PETSc options prefix must be non-empty and end with '_', got {prefix!r}"
            )
        if update_limit is not None and not update_limit[1] > 0:
            raise InputError(f"the Newton update limit must be > 0, got {update_limit[1]!r}")
        if assembly is None:
            assembly = PETSc.Options().getString(f"{prefix}{ASSEMBLY_OPTION}", "csr")
        if assembly not in ASSEMBLY_MODES:
            raise InputError(
                f"{prefix}: assembly must be one of {', '.join(ASSEMBLY_MODES)}, got {assembly!r}"
            )
        self.prefix = prefix
        self.u = u
        #: The Dirichlet conditions.
        self.bcs = list(bcs or [])
        self._funcs = list(u) if isinstance(u, Sequence) else [u]
        self.constraint = constraint
        if constraint is None:
            self._problem = dolfinx.fem.petsc.NonlinearProblem(
                F, u, petsc_options_prefix=prefix, bcs=self.bcs, J=J, kind=kind
            )
        else:
            from femgp.fem.periodic import PeriodicNonlinearProblem

            self._problem = PeriodicNonlinearProblem(
                F, u, constraint, prefix=prefix, bcs=self.bcs, J=J, kind=kind
            )
        #: The Jacobian's assembler on the CSR path (``None``: DOLFINx's PETSc assembly).
        self.csr_assembler: CSRAssembler | None = None
        if (
            assembly == "csr"
            and constraint is None
            and getattr(self._problem, "P_mat", None) is None
            and csr_assembly_applies(self.J, self._problem.A)
            and csr_fits(self._problem.A)
        ):
            self.csr_assembler = CSRAssembler(self.J, self._problem.A)
            self._problem.solver.setJacobian(
                csr_jacobian(self.csr_assembler, self._funcs[0], self.bcs),
                self._problem.A,
                self._problem.A,
            )
        defaults: dict[str, Any] = {"snes_type": "newtonls", "snes_linesearch_type": "basic"}
        if bounds is not None:
            defaults["snes_type"] = "vinewtonrsls"
        if reuse_pc is not None:  # keep the preconditioner; _watch_pc resets it
            defaults |= {"snes_lag_preconditioner": -2, "snes_lag_preconditioner_persists": True}
        defaults.update(options or {})
        self._defaults = set_default_options(prefix, defaults)
        snes = self._problem.solver
        try:
            if bounds is not None:
                lower, upper = bounds
                if constraint is None:
                    snes.setVariableBounds(lower.x.petsc_vec, upper.x.petsc_vec)
                else:
                    self._problem.set_bounds(lower, upper)
            snes.setFromOptions()
            self._check_factorisation()
            space, scales = blocks if blocks is not None else (None, None)
            configure_block_pc(snes.getKSP().getPC(), space, scales)
        except (PETSc.Error, InputError) as exc:
            message = (
                str(exc)
                if isinstance(exc, InputError)
                else _option_error(prefix, "bad PETSc option", exc, self._defaults)
            )
            opts = PETSc.Options()
            for name in [*self._defaults, f"{prefix}{DEFAULTS_RECORD}"]:
                if opts.hasName(name):  # leave no unused defaults behind
                    opts.delValue(name)
            raise InputError(message) from None
        if symmetric:
            for mat in (self.A, snes.getJacobian()[1]):
                if mat is not None:
                    mat.setOption(PETSc.Mat.Option.SYMMETRIC, True)
                    mat.setOption(PETSc.Mat.Option.SYMMETRY_ETERNAL, True)
        if constant_jacobian is None and constraint is None:  # unused under a constraint
            derived = J is None and isinstance(F, ufl.Form) and isinstance(u, fem.Function)
            J_form = ufl.derivative(F, u) if derived else J  # DOLFINx derives it so
            constant_jacobian = jacobian_is_constant(J_form, u)
        #: The Jacobian is assembled at the first Newton iteration of each solve only.
        self.constant_jacobian = bool(constant_jacobian) and constraint is None
        if self.constant_jacobian:
            J_mat, P_mat, (jacobian, args, kargs) = snes.getJacobian()
            snes.setJacobian(_first_iteration_only(jacobian), J_mat, P_mat, args=args, kargs=kargs)
        self.total = SolveStats()
        #: The PETSc log stage of this problem's solves (``-log_view`` reports each
        #: problem apart), named after the prefix without its trailing ``_``.
        self.log_stage = PETSc.Log.Stage(prefix[:-1])
        #: The kept preconditioner's state (``None``: rebuilt at every Newton iteration).
        self.kept_pc = KeptPreconditioner(reuse_pc) if reuse_pc is not None else None
        if self.kept_pc is not None:
            J, P, (jacobian, args, kargs) = snes.getJacobian()
            snes.setJacobian(self.kept_pc.wrap(jacobian), J, P, args=args, kargs=kargs)
            snes.setMonitor(self.kept_pc.monitor)
        #: The bound on Newton updates (``None``: full updates).
        self.update_limit: UpdateLimit | None = None
        if update_limit is not None:
            mask, limit = update_limit
            if constraint is None:
                vec = mask.x.petsc_vec.copy()
            else:  # the SNES works on the reduced unknowns
                vec = self._problem.restrict(mask.x.petsc_vec)
            self.update_limit = UpdateLimit(vec, limit)
            snes.setLineSearchPreCheck(self.update_limit)

    @property
    def snes(self) -> PETSc.SNES:
        """The PETSc SNES."""
        return self._problem.solver

    @property
    def J(self) -> Any:
        """The compiled Jacobian form(s) (``None`` for a periodic problem)."""
        return getattr(self._problem, "J", None)

    @property
    def A(self) -> PETSc.Mat:
        """The Jacobian matrix (e.g. to attach a near-nullspace)."""
        return self._problem.A

    @property
    def comm(self) -> MPI.Comm:
        """The communicator of the unknowns' mesh."""
        return self._funcs[0].function_space.mesh.comm

    def rebuild_pc(self) -> None:
        """Have a kept preconditioner rebuilt after the next Jacobian (no-op without one)."""
        if self.kept_pc is not None:
            self.kept_pc.rebuild()

    def forget_pc(self) -> None:
        """Drop a kept preconditioner: the next solve builds it as a new problem's first
        solve does (no-op without one). A run that does this after each checkpoint goes
        on exactly as a restart from that checkpoint. Collective.
        """
        if self.kept_pc is not None:
            self.kept_pc.forget(self.snes.getKSP())

    def solve(self, *, step: int | None = None) -> SolveStats:
        """Solve; on failure restore the unknowns and raise :class:`SolverError`."""
        self.log_stage.push()
        try:
            return self._solve_kept(step)
        finally:
            self.log_stage.pop()

    def _solve_kept(self, step: int | None) -> SolveStats:
        saved = [f.x.array.copy() for f in self._funcs]
        kept = self.kept_pc
        if kept is None:
            return self._solve(saved, step)
        kept.kept_used = False
        try:
            return self._solve(saved, step)
        except SolverError:
            if not kept.kept_used:  # it failed with fresh preconditioners too
                raise
        # A kept preconditioner may have been too old (or, as GAMG's Chebyshev
        # smoothers with their eigenvalue estimates, unfit for the new Jacobian):
        # once more, rebuilt at every Newton iteration.
        kept.every_iteration = True
        kept.retries += 1
        try:
            return self._solve(saved, step)
        finally:
            kept.every_iteration = False

    def _solve(self, saved: list[np.ndarray], step: int | None) -> SolveStats:
        try:
            self._problem.solve()
        except PETSc.Error as exc:
            self._restore(saved)
            release_after_error(self.snes)
            if self.kept_pc is not None:
                self.kept_pc.rebuild()
            cause = exc.__cause__
            while isinstance(cause, PETSc.Error):
                # A PETSc error in a callback (an inner solve of a Python preconditioner
                # set up with a bad option) reaches here as "error code 101" (a Python
                # error): its own code and reason are those of the cause.
                exc, cause = cause, cause.__cause__
            if cause is not None:
                # A Python exception in a callback (a Jacobian, a Python preconditioner,
                # at any depth): a defect or a signal, not a failed solve; raised as itself.
                raise cause from None
            if getattr(exc, "ierr", None) in OPTION_ERROR_CODES:
                what = "bad PETSc option (found in the solve)"
                raise InputError(_option_error(self.prefix, what, exc, self._defaults)) from None
            reason = petsc_error_reason(exc)
            raise SolverError(f"PETSc error: {reason}", prefix=self.prefix, step=step) from None
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

    def _check_factorisation(self) -> None:
        """Create (and drop) the factor matrix of an LU/Cholesky/ILU/ICC preconditioner.

        PETSc looks the factorisation package up only in the first solve; doing it
        here turns ``-<prefix>pc_factor_mat_solver_type nonsense`` (or a package
        this PETSc lacks) into an :class:`InputError` before any output is written.
        Only the symbolic object is made, no factorisation.
        """
        pc = self.snes.getKSP().getPC()
        kind = pc.getType()
        if kind not in ("lu", "cholesky", "ilu", "icc"):
            return
        check = PETSc.PC().create(self.comm)
        try:
            check.setType(kind)
            solver = pc.getFactorSolverType()
            if solver:
                check.setFactorSolverType(solver)
            check.setOperators(self.A, self.A)
            check.setFactorSetUpSolverType()
        finally:
            check.destroy()

    def unused_options(self) -> list[str]:
        """Options under this prefix that were set (not femgp defaults) but never read.

        Usually a misspelt option (``-femgp_ch_snes_rtoll``); meaningful after a solve.
        """
        opts = PETSc.Options()
        return [
            f"-{name} {value}".rstrip()
            for name, value in prefix_options(self.prefix, exclude=self._defaults).items()
            if not opts.used(name)
        ]

    def _restore(self, saved: list[np.ndarray]) -> None:
        for f, arr in zip(self._funcs, saved, strict=True):
            f.x.array[:] = arr
            f.x.scatter_forward()


def warn_unused_options(*problems: NonlinearProblem) -> list[str]:
    """Log a warning (rank 0) naming options set under the problems' prefixes but never used.

    Call at the end of a run; returns the unused options (``-name value``).
    """
    from femgp.fem.logs import get_logger

    unused = sorted({o for p in problems for o in p.unused_options()})
    if unused:
        get_logger("femgp.options").warning(
            "PETSc option(s) set but never used (misspelt?): %s", " ".join(unused)
        )
    return unused
