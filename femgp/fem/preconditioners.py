"""An h- and dt-robust block preconditioner for mixed Cahn-Hilliard systems.

The Newton (Jacobian) system of a mixed ``(c, mu)`` Cahn-Hilliard step, with
the theta-method or the convex-concave (Eyre) splitting, has the blocks

    [ A_cc  A_cmu ]   [ M/dt                  theta Mob K ]
    [ A_muc A_mumu] = [ -(kappa K + M_f'')    M           ]

(``M`` mass, ``K`` stiffness, ``M_f''`` the mass weighted by the implicit
part of ``f''``). Eliminating ``mu`` leaves the Schur complement

    S = A_cc - A_cmu A_mumu^-1 A_muc = (M + dt theta Mob K M^-1 (kappa K + M_f'')) / dt,

a fourth-order operator. With ``beta = dt theta Mob`` it is approximated by
``S ~ (1/dt) S1 M^-1 S2`` with two second-order SPD factors; how they carry
``f''`` is ``-<prefix>ch_fpp`` (:data:`FPP_CHOICES`):

- ``jacobian`` (default): ``S1 = M + gamma K``, ``S2 = M + (beta / gamma)(kappa K +
  M_f'')``, the second factor built from the Jacobian's own ``-A_muc``. The product
  is ``S`` (times ``dt``) plus ``gamma K + (beta / gamma)(kappa K + M_f'')``
  exactly, for any ``f''(x)``; ``gamma = s sqrt(beta kappa)`` with ``s >= 1`` set
  by :func:`_jacobian_factors` (``s = 1`` where ``f'' = 0``: Bosch-Stoll-Benner's
  spectrum; larger as ``f''`` grows, the ``M_f''`` error then acting on the few
  smooth modes with ``k^2 < 1 / gamma``). A negative ``f''`` (theta scheme,
  spinodal region) is kept while ``S2`` stays SPD and floored below.
- ``mean``: ``S1 = M + a K``, ``S2 = M + b K``, ``a b = beta kappa``, ``a + b = beta
  f_bar`` (the roots of ``x^2 - beta f_bar x + beta kappa``; ``a = b`` while
  complex) with ``f_bar`` the lumped-mass mean of the clamped nodal ``f''``: exact
  for a constant ``f''``.
- ``drop``: ``S1 = S2 = M + sqrt(beta kappa) K`` (Bosch, Stoll & Benner, J.
  Comput. Phys. 2014; Kay & Welford): spectrum in [1/2, 1] against the biharmonic
  part for every ``h`` and ``dt``, but blind to ``f''``.
- ``nodal`` (the former default): ``S1 = M + K P``, ``S2 = M + Q K``, diagonal ``P
  Q = beta kappa`` with the roots above per node, ``S1 = (M P^-1 + K) P`` solved
  with ``M P^-1 ~ P^-1/2 M P^-1/2``.

Krylov iterations per Newton step from dt = 1e-2 to 1e4 (Eyre, PFHub 1b state,
4e4 dofs): 13.0 -> 22.3 (``jacobian``), 34.3 (``mean``), 45.5 (``drop``), 71.1
(``nodal``); see docs/cahn_hilliard.md. Each factor solve is one AMG (GAMG)
cycle; ``S^-1 ~ dt S2^-1 M S1^-1`` costs two AMG applications (one set-up
when ``S1 = S2``). The preconditioner is the full block factorisation

    y_mu = A_mumu^-1 r_mu,  x_c = S^-1 (r_c - A_cmu y_mu),  x_mu = A_mumu^-1 (r_mu - A_muc x_c),

with the ``mu`` mass solves by Jacobi-preconditioned Chebyshev (a fixed, linear
operator, so plain GMRES applies). Every block comes from the assembled
Jacobian (``M = dt A_cc``, ``K = A_cmu / (theta Mob)``, ``f''`` from the column
sums of ``A_muc``, as ``K`` has none): nothing is assembled
twice, and it works on any mesh and cell type, in 2D and 3D.

Use it through PETSc's python PC under the problem's prefix (the model sets
these defaults; any option overrides them)::

    -<prefix>pc_type python -<prefix>pc_python_type femgp.fem.preconditioners.CahnHilliardPC

The inner solves have their own prefixes: ``<prefix>ch_schur_`` (the
``S1``, ``S2`` solves, default ``preonly`` + ``gamg``; ``richardson`` with
``ksp_max_it 2`` and ``ksp_norm_type none`` gives two V-cycles) and ``<prefix>ch_mass_``
(the ``mu`` mass solves, default ``chebyshev`` + ``jacobi``, 4 iterations).
The owner of the problem must :meth:`CahnHilliardPC.configure` it with the two
fields and the scales; :func:`configure_block_pc` does so, and refuses with one
line naming the option when the problem has no such blocks or ``ch_fpp`` is
not one of :data:`FPP_CHOICES`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import femgp.fem._backend  # noqa: F401  (dolfinx_solver before dolfinx)

import numpy as np
from dolfinx import fem
from petsc4py import PETSc

from femgp.errors import InputError

__all__ = [
    "BLOCK_PC",
    "FPP_CHOICES",
    "CahnHilliardPC",
    "SchurScales",
    "block_pc_in_use",
    "configure_block_pc",
    "field_index_sets",
    "fpp_choice",
]

#: PETSc options (under a problem's prefix) selecting the block preconditioner.
BLOCK_PC: dict[str, Any] = {
    "ksp_type": "gmres",
    "ksp_gmres_restart": 100,
    "ksp_rtol": 1e-8,
    "ksp_max_it": 500,
    "pc_type": "python",
    "pc_python_type": "femgp.fem.preconditioners.CahnHilliardPC",
}
#: Bounds of the spectrum of diag(M)^-1 M for P1/Q1 in 1D-3D (Q1 hexahedra: 1/8..27/8).
MASS_SPECTRUM = (0.12, 3.4)


@dataclass(frozen=True)
class SchurScales:
    """The scalars of the Schur approximation at the current step.

    Attributes:
        dt: the time step (``A_cc = M / dt``).
        flux: the coefficient of the flux stiffness in ``A_cmu`` (``theta Mob``).
        kappa: the gradient-energy coefficient (``A_muc = -(kappa K + ...)``).
    """

    dt: float
    flux: float
    kappa: float

    @property
    def gamma(self) -> float:
        """``sqrt(dt theta Mob kappa)``: the weight of K in ``S_hat = M + gamma K``."""
        return math.sqrt(self.dt * self.flux * self.kappa)


def field_index_sets(space: fem.FunctionSpace, comm: Any) -> list[PETSc.IS]:
    """Owned global dof indices of each sub-space of a mixed space (PETSc ISes)."""
    imap = space.dofmap.index_map
    bs = space.dofmap.index_map_bs
    owned = imap.size_local * bs
    start = imap.local_range[0] * bs
    out = []
    for i in range(space.num_sub_spaces):
        dofs = np.asarray(space.sub(i).collapse()[1])
        dofs = np.sort(dofs[dofs < owned] + start).astype(PETSc.IntType)
        out.append(PETSc.IS().createGeneral(dofs, comm=comm))
    return out


#: Defaults of the inner solves: one AMG V-cycle on each Schur factor with 4 Chebyshev-Jacobi
#: smoothing steps per level (GAMG's 2: at dt = 1e4, 4e4 dofs, 30.2 Krylov its per Newton
#: step and 10.9 s, with 4: 22.3 and 8.5 s; Jacobi keeps it independent of the partition);
#: a fixed (linear) Chebyshev-Jacobi approximation of the ``mu`` mass inverse.
INNER_DEFAULTS: dict[str, dict[str, str]] = {
    "schur": {"ksp_type": "preonly", "pc_type": "gamg", "mg_levels_ksp_max_it": "4"},
    "mass": {
        "ksp_type": "chebyshev",
        "ksp_max_it": "4",
        "ksp_norm_type": "none",
        "ksp_chebyshev_eigenvalues": f"{MASS_SPECTRUM[0]},{MASS_SPECTRUM[1]}",
        "pc_type": "jacobi",
    },
}


def _mpi_max() -> Any:
    from mpi4py import MPI

    return MPI.MAX


def _mpi_lor() -> Any:
    from mpi4py import MPI

    return MPI.LOR


@contextmanager
def _inner_defaults(prefix: str, kind: str) -> Iterator[None]:
    """femgp's defaults of an inner solve in the options database, where no option is set.

    They are there only while the solve reads them (``setFromOptions`` and the set-up,
    where GAMG configures its levels), so they are never reported as set-but-unused
    options.
    """
    opts = PETSc.Options()
    added = [k for k in INNER_DEFAULTS[kind] if not opts.hasName(prefix + k)]
    for key in added:
        opts[prefix + key] = INNER_DEFAULTS[kind][key]
    try:
        yield
    finally:
        for key in added:
            opts.delValue(prefix + key)


def _inner_ksp(comm: Any, prefix: str, mat: PETSc.Mat, kind: str) -> PETSc.KSP:
    """An inner solve under ``prefix``; femgp's defaults apply where no option is set."""
    ksp = PETSc.KSP().create(comm=comm)
    ksp.setOptionsPrefix(prefix)
    ksp.setOperators(mat, mat)
    with _inner_defaults(prefix, kind):
        ksp.setFromOptions()
    return ksp


#: How the Schur factors treat the (implicit) f'': ``-<prefix>ch_fpp`` (default first).
FPP_CHOICES = ("jacobian", "mean", "drop", "nodal")


def _jacobian_factors(
    fpp: np.ndarray, lumped: np.ndarray, beta: float, kappa: float, mpi: Any
) -> tuple[float, float]:
    """``gamma`` of ``S_hat1 = M + gamma K`` and ``floor``: ``S_hat2`` has ``f'' >= -floor``.

    ``S_hat1 M^-1 S_hat2``, ``S_hat2 = M + (beta / gamma)(kappa K + M_f'')``, is ``S``
    plus ``gamma K + (beta / gamma)(kappa K + M_f'')``. With ``gamma = s sqrt(beta
    kappa)``: ``s = 1`` balances the two K terms (where ``f'' = 0``: the spectrum of
    Bosch-Stoll-Benner), a larger ``s`` shrinks the ``M_f''`` term, which acts on the
    smooth modes only (wavenumbers ``k^2 < 1 / gamma``). ``s = sqrt(t mean(f''+))``,
    ``t = sqrt(beta / kappa)``, balances the two where the state has separated
    (0.3, 0.5, 1, 2, 4 times it tried: 1 and 2 best, within 3%). A negative ``f''`` (the spinodal
    region under the theta scheme) stays in ``S_hat2`` while ``(beta / gamma) f'' >=
    -1/3``: ``s >= 3 t max(-f'')``; below ``-1/2`` it is floored (SPD factors).
    """
    t = math.sqrt(beta / kappa)
    num, den = mpi.allreduce(np.array([np.dot(np.maximum(fpp, 0.0), lumped), lumped.sum()]))
    neg = mpi.allreduce(float(np.max(-fpp, initial=0.0)), op=_mpi_max())
    s = max(1.0, math.sqrt(t * num / den), 3.0 * t * neg)
    gamma = s * math.sqrt(beta * kappa)
    return gamma, 0.5 * gamma / beta


def fpp_choice(pc: PETSc.PC) -> str:
    """The ``-<prefix>ch_fpp`` option of ``pc`` (default :data:`FPP_CHOICES` [0])."""
    prefix = pc.getOptionsPrefix() or ""
    value = PETSc.Options().getString(prefix + "ch_fpp", FPP_CHOICES[0])
    if value not in FPP_CHOICES:
        raise InputError(f"-{prefix}ch_fpp must be one of {', '.join(FPP_CHOICES)}, got {value!r}")
    return value


class CahnHilliardPC:
    """PETSc python PC: full block factorisation with ``S^-1 ~ dt S2^-1 M S1^-1``.

    Created by PETSc from ``-<prefix>pc_python_type``; usable once
    :meth:`configure` has given it the fields and the scales.
    """

    def __init__(self) -> None:
        self.is_c: PETSc.IS | None = None
        self.is_mu: PETSc.IS | None = None
        self.scales: Callable[[], SchurScales] | None = None
        self._mats: dict[str, PETSc.Mat] = {}
        self._ksp: dict[str, PETSc.KSP] = {}
        self._work: dict[str, PETSc.Vec] = {}
        self._gamma: float | None = None
        self._dt = 1.0
        self._split = False
        self._fpp = FPP_CHOICES[0]
        self.setups = 0

    @property
    def configured(self) -> bool:
        """Whether the Schur scales of the step were given."""
        return self.scales is not None

    def configure(
        self,
        is_c: PETSc.IS,
        is_mu: PETSc.IS,
        scales: Callable[[], SchurScales],
        fpp: str = FPP_CHOICES[0],
    ) -> None:
        """Give the owned global dofs of c and mu, a callable returning the scales and
        the Schur factors' f'' treatment (one of :data:`FPP_CHOICES`)."""
        self.is_c, self.is_mu, self.scales, self._fpp = is_c, is_mu, scales, fpp

    # -- PETSc python PC protocol ---------------------------------------------
    def setUp(self, pc: PETSc.PC) -> None:
        """Build the factors' matrices and their solvers from the operator."""
        if not self.configured:
            prefix = pc.getOptionsPrefix() or ""
            raise InputError(
                f"{prefix}: -{prefix}pc_python_type femgp.fem.preconditioners.CahnHilliardPC "
                "needs a mixed (c, mu) Cahn-Hilliard problem; this one was not configured for it"
            )
        _, P = pc.getOperators()
        sc = self.scales()  # type: ignore[misc]
        m = self._mats
        first = not m
        sub = {
            "cc": (self.is_c, self.is_c),
            "cmu": (self.is_c, self.is_mu),
            "muc": (self.is_mu, self.is_c),
            "mumu": (self.is_mu, self.is_mu),
        }
        for key, (rows, cols) in sub.items():
            m[key] = P.createSubMatrix(rows, cols, submat=m.get(key))
        same = PETSc.Mat.Structure.SAME_NONZERO_PATTERN
        if first:
            m["mass"] = m["cc"].duplicate(copy=True)
            self._work = {
                name: m["cc"].createVecRight() for name in ("rc", "tc", "sc", "one", "p", "q")
            }
            self._work |= {name: m["mumu"].createVecRight() for name in ("ymu", "tmu")}
        else:
            m["cc"].copy(m["mass"], structure=same)
        w = self._work
        m["mass"].scale(sc.dt)  # M = dt A_cc
        # Nodal f'' (implicit part): column sums of -A_muc = kappa K + M_f'' over those of
        # M (K has zero column sums), clamped at 0 (the factors must stay SPD).
        w["one"].set(1.0)
        m["muc"].multTranspose(self._ones_mu(), w["p"])
        m["mass"].mult(w["one"], w["q"])
        lumped = w["q"].array_r.copy()
        fpp = -w["p"].array_r / lumped
        beta = sc.dt * sc.flux
        b = beta * sc.kappa
        mpi = pc.comm.tompi4py()
        if self._fpp == "jacobian":
            gamma, floor = _jacobian_factors(fpp, lumped, beta, sc.kappa, mpi)
            p_root = np.full_like(fpp, gamma)
            q_root = np.ones_like(fpp)
        else:
            a = beta * np.maximum(fpp, 0.0)
            if self._fpp == "drop":
                a[:] = 0.0
            elif self._fpp == "mean":  # one constant f'': the lumped-mass mean
                num, den = mpi.allreduce(np.array([np.dot(a, lumped), lumped.sum()]))
                a[:] = num / den
            disc = np.sqrt(np.maximum(a * a - 4.0 * b, 0.0))
            p_root = np.maximum(0.5 * (a + disc), math.sqrt(b))
            q_root = b / p_root
        # S_hat1 = M + K P = (M P^-1 + K) P and S_hat2 = M + Q K = Q (Q^-1 M + K), P Q = b:
        # SPD solves with M P^-1 ~ P^-1/2 M P^-1/2 (exact for a lumped mass).
        w["p"].array[:] = p_root
        w["q"].array[:] = q_root
        split = self._fpp == "jacobian" or mpi.allreduce(
            bool(np.any(p_root != q_root)), op=_mpi_lor()
        )
        names = ("shat1", "shat2") if split else ("shat1",)
        for name, scale in zip(names, ("p", "q"), strict=False):
            shat = m.get(name)
            if shat is None:
                shat = m[name] = m["mass"].duplicate(copy=True)
            else:
                m["mass"].copy(shat, structure=same)
            subset = PETSc.Mat.Structure.SUBSET_NONZERO_PATTERN
            if self._fpp == "jacobian" and name == "shat2":  # M + (beta / gamma) (-A_muc)
                shat.axpy(-beta / gamma, m["muc"], structure=subset)
                w["sc"].array[:] = beta / gamma * lumped * np.maximum(-fpp - floor, 0.0)
                shat.setDiagonal(w["sc"], addv=PETSc.InsertMode.ADD_VALUES)
                continue
            d = w[scale].copy()
            d.sqrtabs()
            d.reciprocal()
            shat.diagonalScale(d, d)
            d.destroy()
            shat.axpy(1.0 / sc.flux, m["cmu"], structure=subset)
        self._split = split
        prefix = pc.getOptionsPrefix() or ""
        inner = [("schur1", m["shat1"], "schur"), ("mass", m["mumu"], "mass")]
        if split:
            inner.append(("schur2", m["shat2"], "schur"))
        for name, mat, kind in inner:
            ksp = self._ksp.get(name)
            if ksp is None:
                ksp = self._ksp[name] = _inner_ksp(pc.comm, f"{prefix}ch_{kind}_", mat, kind)
            else:
                ksp.setOperators(mat, mat)
            with _inner_defaults(ksp.getOptionsPrefix(), kind):
                ksp.setUp()
        self._dt = sc.dt
        self._gamma = sc.gamma
        self.setups += 1

    def _ones_mu(self) -> PETSc.Vec:
        ones = self._work["tmu"]
        ones.set(1.0)
        return ones

    def apply(self, pc: PETSc.PC, x: PETSc.Vec, y: PETSc.Vec) -> None:
        """``y``: the block factorisation (mass, Schur approximation, mass) solved for ``x``."""
        m, w, k = self._mats, self._work, self._ksp
        xc = x.getSubVector(self.is_c)
        xmu = x.getSubVector(self.is_mu)
        # y_mu = A_mumu^-1 r_mu; t_c = r_c - A_cmu y_mu
        k["mass"].solve(xmu, w["ymu"])
        m["cmu"].mult(w["ymu"], w["tc"])
        w["tc"].aypx(-1.0, xc)
        x.restoreSubVector(self.is_c, xc)
        # x_c = dt S_hat2^-1 M S_hat1^-1 t_c, S_hat1^-1 = P^-1 A1^-1, S_hat2^-1 = A2^-1 Q^-1
        k["schur1"].solve(w["tc"], w["sc"])
        w["sc"].pointwiseDivide(w["sc"], w["p"])
        m["mass"].mult(w["sc"], w["rc"])
        w["rc"].pointwiseDivide(w["rc"], w["q"])
        yc = y.getSubVector(self.is_c)
        k["schur2" if self._split else "schur1"].solve(w["rc"], yc)
        yc.scale(self._dt)
        # x_mu = A_mumu^-1 (r_mu - A_muc x_c)
        m["muc"].mult(yc, w["tmu"])
        w["tmu"].aypx(-1.0, xmu)
        x.restoreSubVector(self.is_mu, xmu)
        ymu = y.getSubVector(self.is_mu)
        k["mass"].solve(w["tmu"], ymu)
        y.restoreSubVector(self.is_mu, ymu)
        y.restoreSubVector(self.is_c, yc)

    def view(self, pc: PETSc.PC, viewer: PETSc.Viewer) -> None:
        """Describe the preconditioner (``-ksp_view``)."""
        viewer.printfASCII(
            "femgp Cahn-Hilliard block preconditioner: S^-1 ~ dt S2^-1 M S1^-1, "
            f"ch_fpp {self._fpp}, sqrt(dt theta Mob kappa) = {self._gamma}\n"
        )
        for ksp in self._ksp.values():
            ksp.view(viewer)

    def destroy(self, pc: PETSc.PC) -> None:
        """Free the PETSc objects this holds."""
        for obj in (*self._mats.values(), *self._ksp.values(), *self._work.values()):
            obj.destroy()
        self._mats, self._ksp, self._work = {}, {}, {}


def block_pc_in_use(pc: PETSc.PC) -> CahnHilliardPC | None:
    """The :class:`CahnHilliardPC` behind ``pc`` (a python PC), else ``None``."""
    if pc.getType() != PETSc.PC.Type.PYTHON:
        return None
    ctx = pc.getPythonContext()
    return ctx if isinstance(ctx, CahnHilliardPC) else None


def configure_block_pc(
    pc: PETSc.PC,
    space: fem.FunctionSpace | None,
    scales: Callable[[], SchurScales] | None,
) -> CahnHilliardPC | None:
    """Configure the block preconditioner of ``pc`` if it is in use; else do nothing.

    Raises:
        InputError: the block preconditioner is asked for, but ``space`` is not a
            mixed space of two fields (or no scales are given), or ``-<prefix>ch_fpp``
            is not one of :data:`FPP_CHOICES`; the message names the option.
    """
    ctx = block_pc_in_use(pc)
    if ctx is None:
        return None
    if space is None or scales is None or space.num_sub_spaces != 2:
        prefix = pc.getOptionsPrefix() or ""
        if space is None:
            what = "a problem without (c, mu) blocks"
        elif space.num_sub_spaces == 2:
            what = "a problem that gives it no scales"
        elif space.num_sub_spaces == 0:
            what = "a single-field (non-mixed) problem"
        else:
            what = f"a mixed problem of {space.num_sub_spaces} fields"
        raise InputError(
            f"{prefix}: -{prefix}pc_python_type femgp.fem.preconditioners.CahnHilliardPC is "
            f"the block preconditioner of a mixed (c, mu) Cahn-Hilliard problem, not of "
            f"{what}; choose another -{prefix}pc_type"
        )
    is_c, is_mu = field_index_sets(space, space.mesh.comm)
    # a bad -<prefix>ch_fpp is refused here, before any solve
    ctx.configure(is_c, is_mu, scales, fpp_choice(pc))
    return ctx
