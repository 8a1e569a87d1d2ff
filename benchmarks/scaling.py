"""Scaling: solver iterations, time per degree of freedom and memory as the mesh is refined.

Three solves of femgp's own model classes, each on a sequence of uniformly
refined structured meshes of about 1e4, 4e4, 1.6e5, 6.4e5 and 1e6 degrees of
freedom, on 1 and on 2 MPI ranks:

- **elasticity**: the displacement problem of
  :class:`femgp.models.fracture.FractureModel` (``u_problem``; plane strain,
  P1 triangles on the unit square, bottom clamped, top pulled) at a fixed damage
  field, a smooth AT-like band ``alpha = exp(-|y - 1/2| / ell)`` from the left
  edge to the centre (a crack: ``a(alpha)`` falls to ``k_res = 1e-6`` on it).
  Variants: ``gamg`` (femgp's default, ``linear_solver="iterative"``: CG +
  GAMG with the rigid-body near-nullspace) and ``mumps`` (the plain approach,
  ``linear_solver="direct"``: MUMPS LU).
- **damage**: the damage problem of the same model (``alpha_problem``,
  reduced-space VI Newton ``vinewtonrsls`` with bounds ``alpha_lb <= alpha <= 1``,
  the band as lower bound) at a fixed displacement ``u = (0, y)``.
  Variants: ``default`` (femgp's: CG + Jacobi while ``ell / h_min <= 8``,
  CG + GAMG beyond, :data:`femgp.models.fracture.solvers.ALPHA_AMG_RESOLUTION`),
  ``cg-jacobi`` and ``cg-gamg`` (either preconditioner at every size) and
  ``mumps`` (plain: ``linear_solver="direct"``), and ``history``: AT2 with
  Miehe's history field ``H = max(H_prev, psi_+)`` instead of the bound
  (``irreversibility="history"``), whose damage problem is one linear solve
  (CG + GAMG at every size).
  This is a cold start: the band is far from the damage this load drives, so
  it is the worst case of the VI method (see the damage note in the report).
- **damage_step**: the damage solve of a load step, as the fracture runs meet
  it: the bound is the damage at the previous load (the solution of the
  ``damage`` problem at ``(1 - STEP) * LOAD``, not timed) and the solve at
  ``LOAD`` starts from it. Same variants.
- **matmult**: the machine reference, no solver: a few products ``y = A x``
  with the P1 mass + stiffness matrix of the same squares (one variant, ``p1``).
  Its time per dof grows from 1e4 to 1e6 dofs as the vectors and the matrix
  leave the caches: the order of growth that a solver whose work per dof is
  flat can show on the same machine.
- **cahn_hilliard**: a few steps of :class:`femgp.models.cahn_hilliard.CahnHilliard`
  (theta = 1/2, mixed P1 x P1 on quadrilaterals of the PFHub 200 x 200 square,
  PFHub 1 initial state) at a fixed ``dt``. Variants: ``mumps`` (femgp's
  default and the plain approach: Newton + MUMPS LU) and ``gmres-schur``
  (GMRES + a Schur-complement fieldsplit set through ``femgp_ch_`` options:
  Jacobi on the c block, the ``selfp`` Schur complement with a lumped c block
  and GAMG on it), ``block`` (femgp's :class:`femgp.fem.preconditioners.CahnHilliardPC`)
  and, for the ``--dt-sweep``, its other Schur factors (``block-mean``,
  ``block-drop``, ``block-drop-2v``, ``block-nodal``: ``-ch_fpp``); ``--ch-scheme`` and
  ``--ch-theta`` choose the time integrator.

The ``ell`` of the fracture problems is fixed (0.05), so refining resolves the
same band better: that is what uniform refinement of one problem means.

Timed (``time.perf_counter``, max over ranks, after a barrier): the SNES solve
(Jacobian assembly, preconditioner set-up and Krylov iterations), not the
model construction (reported separately as ``build_s``). Every worker first
solves on a tiny mesh so that form compilation and library start-up are not
timed. Peak memory is ``ru_maxrss`` (max over ranks) after each size; sizes run
in increasing order in one process per (problem, variant, ranks), so it is the
peak of the largest size so far, i.e. of this size.

Targets (for the scalable variants: elasticity ``gamg``, damage ``default``,
``cg-jacobi``, ``cg-gamg`` and ``history``, Cahn-Hilliard ``gmres-schur``; the direct
variants are reported against the same figures for comparison):

- Krylov iterations per linear solve grow by at most 30 % per 4x more dofs
  (the growth between two sizes is normalised to a factor 4 in dofs);
- the time per dof stays within 1.5x (max / min) from 1e4 to 1e6 dofs.

Design: the script is a driver that starts one worker per (problem, variant,
ranks) with ``mpirun -n RANKS python benchmarks/scaling.py --worker ...``, so
memory is measured per process and nothing leaks between runs; PETSc options
given to the driver are passed to every worker. A worker that fails keeps the
sizes it finished. Results: ``benchmarks/results/scaling.{json,md}``
(``scaling_quick.*`` with ``--quick``).

Run (the driver calls mpirun itself; 28 min measured on 2 cores under a load of
2 to 8; on a quiet machine more of the large sizes fit under ``--max-solve-s``,
so expect 25 to 40 min):

    python benchmarks/scaling.py
    python benchmarks/scaling.py --quick          # sizes 1e4 and 4e4, under a minute
    python benchmarks/scaling.py --render benchmarks/results/scaling.json  # report only
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from femgp.cli.args import (
    ArgumentParser,
    check_output_folder,
    init_petsc,
    long_options,
    positive_float,
    positive_int,
    script_main,
    split_petsc_args,
)
from femgp.errors import InputError

HERE = Path(__file__).parent
#: Target sizes in degrees of freedom (full run and ``--quick``).
DOF_TARGETS = (1e4, 4e4, 1.6e5, 6.4e5, 1e6, 2.56e6, 4e6)  # past 1e6 with --max-dofs
QUICK_TARGETS = (1e4, 4e4)
#: Fixed data of the fracture problems (unit square, nondimensional).
ELL = 0.05
LOAD = 1.0
#: The load increment of the ``damage_step`` problem, relative to ``LOAD``.
STEP = 0.05
#: VI Newton iterations allowed to the untimed solve that prepares ``damage_step``.
PREPARE_MAX_IT = 500
#: Cahn-Hilliard iterative variant: PETSc options under the femgp_ch_ prefix.
CH_SCHUR: dict[str, Any] = {
    "ksp_type": "gmres",
    "ksp_gmres_restart": 200,
    "ksp_rtol": 1e-8,
    "ksp_max_it": 2000,
    "pc_type": "fieldsplit",
    "pc_fieldsplit_type": "schur",
    "pc_fieldsplit_schur_fact_type": "full",
    "pc_fieldsplit_schur_precondition": "selfp",
    "mat_schur_complement_ainv_type": "lump",
    "fieldsplit_c_ksp_type": "preonly",
    "fieldsplit_c_pc_type": "jacobi",
    "fieldsplit_mu_ksp_type": "preonly",
    "fieldsplit_mu_pc_type": "gamg",
    "fieldsplit_mu_pc_gamg_threshold": 0.02,
    "fieldsplit_mu_mg_levels_ksp_max_it": 6,
}
#: Options of the block preconditioner's variants (over ``BLOCK_PC``).
CH_BLOCK_VARIANTS: dict[str, dict[str, Any]] = {
    "block": {},
    "block-nodal": {"ch_fpp": "nodal"},
    "block-drop": {"ch_fpp": "drop"},
    "block-drop-2v": {
        "ch_fpp": "drop",
        "ch_schur_ksp_type": "richardson",
        "ch_schur_ksp_max_it": 2,
        "ch_schur_ksp_norm_type": "none",
    },
    "block-mean": {"ch_fpp": "mean"},
}
#: Matrix-vector products timed by the ``matmult`` machine reference.
MATMULT_PRODUCTS = 10
#: Variants of the two damage problems.
DAMAGE_VARIANTS: dict[str, tuple[str, bool]] = {
    "default": (
        "VI Newton, femgp default: CG + Jacobi while ell/h_min <= 8, CG + GAMG beyond",
        True,
    ),
    "cg-jacobi": ("VI Newton, CG + Jacobi (alpha_pc_type jacobi)", True),
    "cg-gamg": ("VI Newton, CG + GAMG (alpha_pc_type gamg)", True),
    "mumps": ("VI Newton, MUMPS LU (plain approach)", False),
    "history": (
        "Miehe's history field (irreversibility='history', AT2): no bounds, one linear "
        "solve, CG + GAMG",
        True,
    ),
}
#: problem -> variant -> (description, scalable: the targets apply).
VARIANTS: dict[str, dict[str, tuple[str, bool]]] = {
    "elasticity": {
        "gamg": ("CG + GAMG + rigid-body near-nullspace (femgp default)", True),
        "mumps": ("MUMPS LU (plain approach)", False),
    },
    "damage": DAMAGE_VARIANTS,
    "damage_step": DAMAGE_VARIANTS,
    "cahn_hilliard": {
        "mumps": ("Newton + MUMPS LU (plain approach; femgp default in 2D below 4e6 dofs)", False),
        "gmres-schur": ("Newton + GMRES, Schur fieldsplit (selfp, lumped) + GAMG", True),
        "block": (
            "Newton + GMRES + femgp's block preconditioner (CahnHilliardPC: Schur "
            "complement by two GAMG solves; default -ch_fpp jacobian)",
            True,
        ),
        "block-nodal": ("the block preconditioner, -ch_fpp nodal (nodal f'' split)", True),
        "block-drop": ("the block preconditioner, -ch_fpp drop (Bosch-Stoll-Benner)", True),
        "block-drop-2v": ("-ch_fpp drop, each S_hat solve 2 GAMG V-cycles (Richardson)", True),
        "block-mean": ("the block preconditioner, -ch_fpp mean (one constant f'')", True),
    },
    "cahn_hilliard_3d": {
        "mumps": ("Newton + MUMPS LU (plain approach; femgp default in 3D below 3e4 dofs)", False),
        "block": ("Newton + GMRES + femgp's block preconditioner (default from 3e4 dofs)", True),
    },
    "matmult": {
        "p1": (
            f"{MATMULT_PRODUCTS} products y = A x with the P1 mass + stiffness matrix of the "
            "unit square (machine reference: no solver, the memory hierarchy alone)",
            False,
        ),
    },
}
#: Degrees of freedom per vertex of each problem.
COMPONENTS = {
    "elasticity": 2,
    "damage": 1,
    "damage_step": 1,
    "cahn_hilliard": 2,
    "cahn_hilliard_3d": 2,
    "matmult": 1,
}
#: Space dimension of each problem (2 unless listed).
DIMENSION = {"cahn_hilliard_3d": 3}
#: Cahn-Hilliard problems (a few steps of the model rather than one solve).
CH_PROBLEMS = ("cahn_hilliard", "cahn_hilliard_3d")
#: Weak scaling: dofs per rank and rank counts.
WEAK_DOFS = 1e5
WEAK_RANKS = (1, 2, 4, 8)
GROWTH_MAX = 1.3
TIME_RATIO_MAX = 1.5


def cells_for(problem: str, dofs: float) -> int:
    """Cells per side of the square (cube) mesh whose dof count is nearest ``dofs``."""
    dim = DIMENSION.get(problem, 2)
    return max(2, round((dofs / COMPONENTS[problem]) ** (1.0 / dim)) - 1)


# -- worker (runs under mpirun) ---------------------------------------------------------


def _band(x: Any) -> Any:
    """The fixed damage: an AT-like band along y = 1/2 from the left edge to the centre."""
    import numpy as np

    return np.exp(-np.abs(x[1] - 0.5) / ELL) * 0.5 * (1.0 - np.tanh((x[0] - 0.5) / ELL))


def _fracture_model(comm: Any, n: int, variant: str) -> Any:
    from femgp.fem.meshes.core import rectangle
    from femgp.models.fracture import FractureModel
    from femgp.models.fracture.params import DisplacementBC, Loading, Params

    tm = rectangle(comm, ((0.0, 0.0), (1.0, 1.0)), (n, n), quadrilateral=False)
    solver = "direct" if variant == "mumps" else "iterative"
    # solver="am": only the two sub-problems are timed, the coupled one is not built.
    irreversibility = "history" if variant == "history" else "bounds"
    params = Params(
        E=1.0,
        nu=0.3,
        Gc=1.0,
        ell=ELL,
        model="AT2",
        linear_solver=solver,
        solver="am",
        irreversibility=irreversibility,
    )
    loading = Loading(
        (DisplacementBC("bottom", None, (0.0, 0.0)), DisplacementBC("top", 1, 1.0, loaded=True)),
        loads=(LOAD,),
    )
    pcs = {"cg-gamg": "gamg", "cg-jacobi": "jacobi", "history": "gamg"}
    alpha_options = {"pc_type": pcs[variant]} if variant in pcs else None
    # The history field starts at 0 and cannot hold an initial crack (the model
    # refuses one): its damage solve is one linear solve either way.
    band = None if variant == "history" else _band
    return FractureModel(tm, params, loading, initial_damage=band, alpha_options=alpha_options)


def _p1_matrix(comm: Any, n: int) -> tuple[Any, Any, Any]:
    """The P1 mass + stiffness matrix of the n x n unit square, and two vectors for A x."""
    import ufl
    from dolfinx import fem
    from dolfinx.fem.petsc import assemble_matrix

    from femgp.fem.meshes.core import rectangle

    msh = rectangle(comm, ((0.0, 0.0), (1.0, 1.0)), (n, n), quadrilateral=False).mesh
    V = fem.functionspace(msh, ("Lagrange", 1))
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    A = assemble_matrix(fem.form((ufl.inner(ufl.grad(u), ufl.grad(v)) + u * v) * ufl.dx))
    A.assemble()
    x, y = A.createVecs()
    x.set(1.0)
    return A, x, y


def _pull(model: Any, load: float) -> None:
    """The displacement ``u = (0, load * y)`` of the damage problems (and its history field)."""
    import numpy as np

    model.u.interpolate(lambda x: np.vstack([0.0 * x[0], load * x[1]]))
    model.u.x.scatter_forward()
    if model.H is not None:  # the history variant: H = max(H_prev, psi_+(u))
        model.update_history()


def _ch_model(
    comm: Any,
    n: int,
    variant: str,
    dim: int = 2,
    scheme: str = "theta",
    size: float | None = None,
    theta: float = 0.5,
) -> Any:
    """The Cahn-Hilliard model on the n x n square (n^3 cube) of side ``size``.

    ``size`` defaults to 200 (2D, PFHub 1b) and 100 (3D); weak scaling at fixed ``h``
    grows it with ``n``.
    """
    import numpy as np
    from petsc4py import PETSc

    from femgp.fem.meshes.pfhub import cube, square
    from femgp.fem.preconditioners import BLOCK_PC
    from femgp.fem.problems import DIRECT_LU
    from femgp.models import cahn_hilliard as ch

    opts = {"gmres-schur": CH_SCHUR, "mumps": DIRECT_LU}.get(variant) or {
        **BLOCK_PC,
        **CH_BLOCK_VARIANTS[variant],
    }
    side = size if size is not None else 200.0 if dim == 2 else 100.0
    domain = square(comm, n=n, size=side).mesh if dim == 2 else cube(comm, n=n, size=side).mesh
    model = ch.CahnHilliard(domain, ch.Params(scheme=scheme, theta=theta), options=opts)
    pc = model.problem.snes.getKSP().getPC()
    if pc.getType() == "fieldsplit":
        # Workaround: CahnHilliard does not name its fields for PCFIELDSPLIT (the
        # mixed dofs are not interleaved, so a block size cannot do it either).
        V = model.V
        owned = V.dofmap.index_map.size_local * V.dofmap.index_map_bs
        start = V.dofmap.index_map.local_range[0] * V.dofmap.index_map_bs
        splits = []
        for i, name in enumerate(("c", "mu")):
            dofs = np.asarray(V.sub(i).collapse()[1])
            dofs = (dofs[dofs < owned] + start).astype(PETSc.IntType)
            splits.append((name, PETSc.IS().createGeneral(dofs, comm=comm)))
        pc.setFieldSplitIS(*splits)
        model.problem.snes.setFromOptions()
    model.set_initial(ch.pfhub_initial_for(domain))
    return model


def _timed(comm: Any, fn: Callable[[], Any]) -> tuple[Any, float]:
    """Run ``fn`` after a barrier; elapsed time, max over ranks."""
    from mpi4py import MPI

    comm.Barrier()
    t0 = time.perf_counter()
    out = fn()
    return out, comm.allreduce(time.perf_counter() - t0, op=MPI.MAX)


def _solve_once(problem: str, comm: Any, n: int, variant: str, args: Any) -> dict[str, Any]:
    """Build the model on an n x n mesh and time its solve; iterations and times."""
    if problem in CH_PROBLEMS:
        dim = DIMENSION.get(problem, 2)
        # Weak scaling at fixed h: the side grows with n from its size at the base n.
        size = None if not args.ch_base_n else (200.0 if dim == 2 else 100.0) * n / args.ch_base_n
        model, build = _timed(
            comm, lambda: _ch_model(comm, n, variant, dim, args.ch_scheme, size, args.ch_theta)
        )
        dofs = model.V.dofmap.index_map.size_global * model.V.dofmap.index_map_bs

        def steps() -> tuple[int, int]:
            newton = krylov = 0
            for k in range(args.ch_steps):
                st, _ = model.step(args.ch_dt, step=k + 1)
                model.commit(args.ch_dt)
                newton, krylov = newton + st.newton, krylov + st.krylov
            return newton, krylov

        (newton, krylov), solve = _timed(comm, steps)
        linear = newton
    elif problem == "matmult":
        (A, x, y), build = _timed(comm, lambda: _p1_matrix(comm, n))
        A.mult(x, y)  # first touch
        dofs, newton, krylov, linear = A.getSize()[0], 0, 0, 0
        # small sizes repeat the products for a measurable time; reported per MATMULT_PRODUCTS
        reps = max(MATMULT_PRODUCTS, math.ceil(2e7 / dofs))

        def products() -> None:
            for _ in range(reps):
                A.mult(x, y)

        _, solve = _timed(comm, products)
        solve *= MATMULT_PRODUCTS / reps
    else:
        model, build = _timed(comm, lambda: _fracture_model(comm, n, variant))
        model.set_load(LOAD)
        if problem == "elasticity":
            space, prob = model.V, model.u_problem
            model.u.x.array[:] = 0.0
        else:
            space, prob = model.Q, model.alpha_problem
            model.alpha.x.array[:] = model.alpha_lb.x.array
            model.alpha.x.scatter_forward()
            if problem == "damage_step":
                # The previous load step (not timed): its damage becomes the bound.
                # It is a cold start, whose VI Newton iterations grow like 1/h (the
                # ``damage`` problem): it gets PREPARE_MAX_IT of them, the timed
                # solve keeps the default.
                _pull(model, (1.0 - STEP) * LOAD)
                max_it = prob.snes.getTolerances()[3]
                prob.snes.setTolerances(max_it=PREPARE_MAX_IT)
                try:
                    prob.solve(step=0)
                finally:
                    prob.snes.setTolerances(max_it=max_it)
                model.commit()
            _pull(model, LOAD)
        dofs = space.dofmap.index_map.size_global * space.dofmap.index_map_bs
        st, solve = _timed(comm, lambda: prob.solve(step=1))
        newton, krylov = st.newton, st.krylov
        linear = newton
    return {
        "n": n,
        "dt": args.ch_dt if problem in CH_PROBLEMS else None,
        "dofs": int(dofs),
        "newton": int(newton),
        "krylov": int(krylov),
        "krylov_per_linear_solve": krylov / linear if linear else float("nan"),
        "build_s": build,
        "solve_s": solve,
        "time_per_dof_us": 1e6 * solve / dofs,
        "time_per_dof_newton_us": 1e6 * solve / dofs / max(int(newton), 1),
    }


def _predict(rows: list[dict[str, Any]], n: int) -> float:
    """Solve time at n x n cells, extrapolating the time per dof of the last two sizes."""
    if not rows:
        return 0.0
    last = rows[-1]
    grow = (n + 1) ** 2 / (last["n"] + 1) ** 2
    tpd = last["time_per_dof_us"]
    if len(rows) >= 2:
        prev = rows[-2]
        step = math.log(last["dofs"] / prev["dofs"])
        slope = math.log(tpd / prev["time_per_dof_us"]) / step if step > 0 else 0.0
        tpd *= grow ** max(slope, 0.0)
    return 1e-6 * tpd * last["dofs"] * grow


def worker(args: Any) -> int:
    """Measure one (problem, variant) at every size on this communicator."""
    import gc

    import femgp.fem._backend  # noqa: F401  (dolfinx_solver before dolfinx)

    from mpi4py import MPI

    from femgp.errors import SolverError
    from femgp.fem.io import atomic_write_text, versions

    comm = MPI.COMM_WORLD
    out: dict[str, Any] = {
        "problem": args.worker,
        "variant": args.variant,
        "ranks": comm.size,
        "load_average_start": os.getloadavg(),
        "versions": versions(),
        "rows": [],
    }

    def save() -> None:
        if comm.rank == 0:
            atomic_write_text(Path(args.json), json.dumps(out, indent=2) + "\n")

    # Warm-up on a tiny mesh: JIT modules, PETSc and MUMPS start-up are not timed.
    _solve_once(args.worker, comm, min(*args.sizes, 10), args.variant, args)
    for n in args.sizes:
        predicted = _predict(out["rows"], n)
        if predicted > args.max_solve_s:
            out["skipped"] = (
                f"sizes from {n} x {n} cells on: predicted solve time {predicted:.0f} s "
                f"> --max-solve-s {args.max_solve_s:g}"
            )
            break
        try:
            row = _solve_once(args.worker, comm, n, args.variant, args)
        except SolverError as exc:
            out["failed"] = f"n = {n}: {exc}"
            break
        gc.collect()
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB
        row["peak_memory_mb"] = comm.allreduce(rss, op=MPI.MAX)
        total_rss = comm.allreduce(rss, op=MPI.SUM)
        row["total_memory_mb"] = total_rss
        row["load_average"] = os.getloadavg()[0]
        out["rows"].append(row)
        if comm.rank == 0:
            print(
                f"  {args.worker}/{args.variant} ranks={comm.size} dofs={row['dofs']}: "
                f"newton {row['newton']}, krylov {row['krylov']}, {row['solve_s']:.2f} s, "
                f"{row['time_per_dof_us']:.2f} us/dof, {row['peak_memory_mb']:.0f} MB",
                flush=True,
            )
        save()
    out["load_average_end"] = os.getloadavg()
    save()
    return 0


# -- driver --------------------------------------------------------------------------


def _growth(rows: list[dict[str, Any]]) -> list[float]:
    """Growth of Krylov iterations per linear solve between sizes, normalised to 4x dofs.

    Each size is compared with the largest smaller size at least 3.5x coarser (so
    1e6 with 1.6e5, not with 6.4e5: a one-iteration step over a 1.6x refinement
    would be magnified to a 4x one).
    """
    out = []
    for i, b in enumerate(rows):
        coarser = [a for a in rows[:i] if b["dofs"] >= 3.5 * a["dofs"]]
        if not coarser:
            continue
        a = coarser[-1]
        ka, kb = a["krylov_per_linear_solve"], b["krylov_per_linear_solve"]
        if not (ka > 0 and kb > 0):
            continue
        out.append((kb / ka) ** (math.log(4.0) / math.log(b["dofs"] / a["dofs"])))
    return out


def _targets(
    rows: list[dict[str, Any]], scalable: bool, per_newton: bool = False
) -> list[dict[str, Any]]:
    """The targets of one variant's rows; ``per_newton`` adds the time per DOF and Newton step.

    The Cahn-Hilliard target is per DOF *and Newton step*: its stopping test is relative
    to a first residual that grows as h falls, so the Newton count of a fixed step differs
    between sizes (2 on coarse meshes, 1 on fine ones), and the time per solve alone
    mixes that count in.
    """
    growth = _growth(rows)
    in_range = [r for r in rows if 0.9e4 <= r["dofs"] <= 1.1e6]
    ratio = float("nan")
    if len(in_range) >= 2:
        tpd = [r["time_per_dof_us"] for r in in_range]
        ratio = max(tpd) / min(tpd)
    span = f"{in_range[0]['dofs']:.3g}..{in_range[-1]['dofs']:.3g} dofs" if in_range else "no sizes"
    full = bool(in_range) and in_range[0]["dofs"] <= 1.5e4 and in_range[-1]["dofs"] >= 0.9e6
    out = []
    if scalable:
        g = max(growth) if growth else float("nan")
        out.append(
            {
                "name": "Krylov iterations growth per 4x dofs",
                "value": g,
                "required": f"<= {GROWTH_MAX}",
                "pass": bool(growth) and g <= GROWTH_MAX,
                "note": f"over {span}",
            }
        )
    out.append(
        {
            "name": "time per dof max/min",
            "value": ratio,
            "required": f"<= {TIME_RATIO_MAX} over 1e4..1e6 dofs",
            "pass": ratio <= TIME_RATIO_MAX,
            "note": f"over {span}" + ("" if full else " (partial range)"),
        }
    )
    if per_newton:
        # Rows of results written before the per-Newton column: the same figure
        # from the time per dof and the Newton count (as the worker computes it).
        tpn = [
            r.get("time_per_dof_newton_us", r["time_per_dof_us"] / max(int(r["newton"]), 1))
            for r in in_range
        ]
        ratio_n = max(tpn) / min(tpn) if len(tpn) >= 2 else float("nan")
        out.append(
            {
                "name": "time per dof and Newton step max/min",
                "value": ratio_n,
                "required": f"<= {TIME_RATIO_MAX} over 1e4..1e6 dofs",
                "pass": ratio_n <= TIME_RATIO_MAX,
                "note": f"over {span}" + ("" if full else " (partial range)"),
            }
        )
    return out


def _memory_slope(prev: dict[str, Any] | None, row: dict[str, Any]) -> float:
    """Memory per 1e6 dofs from the previous size to this one (all ranks' peaks summed)."""
    if prev is None or "total_memory_mb" not in row or "total_memory_mb" not in prev:
        return float("nan")
    return 1e6 * (row["total_memory_mb"] - prev["total_memory_mb"]) / (row["dofs"] - prev["dofs"])


WEAK_ITER_MAX = 1.3
DT_ITER_MAX = 2.0


def _weak_targets(info: dict[str, Any], key: str, limit: float) -> list[dict[str, Any]]:
    """Iterations per Newton step across rank counts (weak) or steps (dt sweep): max/min.

    A dt sweep on several rank counts is judged per rank count (the runs of one
    variant at one dt differ in ranks, which is not the dt's effect). A dt (rank
    count) whose run gave no result (the solve failed) fails the target: the
    ratio over the others is no verdict on the whole sweep.
    """
    held = "ranks" if key == "ch_dt" else "ch_dt"
    out = []
    for problem, runs in info["problems"].items():
        for variant, fixed in dict.fromkeys((r["variant"], r.get(held)) for r in runs):
            group = [r for r in runs if r["variant"] == variant and r.get(held) == fixed]
            pts = sorted(
                (r[key], r["rows"][0]["krylov_per_linear_solve"]) for r in group if r["rows"]
            )
            missing = sorted(r[key] for r in group if not r["rows"])
            if len(group) < 2 or not VARIANTS[problem][variant][1]:
                continue  # (a variant whose every run failed still gets its FAIL)
            vals = [v for _, v in pts]
            ratio = max(vals) / min(vals) if len(vals) >= 2 and min(vals) > 0 else float("nan")
            out.append(
                {
                    "problem": problem,
                    "variant": variant + (f" on {fixed} rank(s)" if held == "ranks" else ""),
                    "ranks": "/".join(f"{k:g}" for k, _ in pts),
                    "values": ", ".join(f"{v:.1f}" for v in vals),
                    "value": ratio,
                    "missing": "/".join(f"{k:g}" for k in missing),
                    "pass": ratio <= limit and not missing,
                }
            )
    return out


def _verdict(t: dict[str, Any]) -> str:
    v = "PASS" if t["pass"] else "FAIL"
    return v + (" (partial range)" if "partial" in t["note"] else "")


def _fmt(v: float, spec: str) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)


def _markdown(info: dict[str, Any]) -> str:
    lines = [
        f"# Scaling benchmark ({info['mode']}, {info['status']})",
        "",
        (__doc__ or "").strip().split("\n\n")[0],
        "",
        f"Command: `{info['command']}` ({info['date']}, wall time {info['wall_time_s']:.0f} s).",
        f"Load average (1 min) at start / end: {info['load_average_start'][0]:.1f} / "
        f"{info['load_average_end'][0]:.1f}"
        + (
            " (other jobs were running at the start: timings are noisy, rerun on a quiet machine)."
            if info["load_average_start"][0] > 1.0
            else " (no other jobs at the start; the load during the run is the benchmark's own"
            " ranks)."
        ),
        f"Fracture: ell = {ELL}, E = 1, nu = 0.3, AT2, plane strain, P1 triangles on the unit "
        f"square. Cahn-Hilliard: PFHub 1 on the 200 x 200 square (3D: the 100^3 cube, "
        f"pfhub_initial_3d), Q1, scheme {info.get('ch_scheme', 'theta')}"
        + (
            f" (theta = {info.get('ch_theta', 0.5):g})"
            if info.get("ch_scheme", "theta") == "theta"
            else ""
        )
        + ", "
        f"{info['ch_steps']} steps of dt = {info['ch_dt']:g}"
        + (" (dt sweep: the dt in the variant column)." if info["mode"] == "dt" else ".")
        + (
            f" Weak scaling: about {info['weak_dofs_per_rank']:g} dofs per rank, "
            + (
                "the domain grown at the 1-rank mesh size h (side ~ sqrt(ranks))"
                if info.get("weak_domain") == "grow"
                else "the fixed domain refined with the ranks"
            )
            + f"; {info['cores']}"
            " cores, so runs on more ranks are oversubscribed (their times are marked)."
            if info["mode"] == "weak"
            else ""
        ),
        "Time = the SNES solve (assembly + preconditioner set-up + Krylov), max over ranks; "
        "us/dof = time / dofs (wall, not core time); efficiency = t(1 rank) / (2 t(2 ranks)); "
        "memory = peak resident set, max over ranks; load = 1-min load average after the "
        "size (2 cores: above 2 the timings include waiting for a core).",
    ]
    for problem, runs in info["problems"].items():
        lines += ["", f"## {problem}", ""]
        lines += [
            "| variant | ranks | dofs | Newton | Krylov | Krylov/solve | time [s] | us/dof "
            "| us/dof/Newton | efficiency | peak MB | MB/1e6 dofs | load |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for run in runs:
            ref = {
                r["dofs"]: r["solve_s"]
                for q in runs
                if q["variant"] == run["variant"] and q["ranks"] == 1
                for r in q["rows"]
            }
            prev: dict[str, Any] | None = None
            for r in run["rows"]:
                slope = _memory_slope(prev, r)
                prev = r
                eff = (
                    ref[r["dofs"]] / (run["ranks"] * r["solve_s"])
                    if run["ranks"] > 1 and r["dofs"] in ref
                    else float("nan")
                )
                over = run["ranks"] > (info.get("cores") or run["ranks"])
                label = run["variant"] + (
                    f" (dt = {run['ch_dt']:g})" if info["mode"] == "dt" else ""
                )
                lines.append(
                    f"| {label} | {run['ranks']} | {r['dofs']} | {r['newton']} | "
                    f"{r['krylov']} | {r['krylov_per_linear_solve']:.1f} | {r['solve_s']:.3f}"
                    f"{' (oversubscribed)' if over else ''} | "
                    f"{r['time_per_dof_us']:.2f} | {_fmt(r.get('time_per_dof_newton_us'), '.2f')} "
                    f"| {_fmt(eff, '.2f')} | {r['peak_memory_mb']:.0f} | {_fmt(slope, '.0f')} | "
                    f"{r['load_average']:.1f} |"
                )
        notes = [
            f"{run['variant']} ({run['ranks']} ranks): {run[k]}"
            for run in runs
            for k in ("failed", "skipped", "error")
            if run.get(k)
        ]
        if notes:
            lines += ["", *[f"- {n}" for n in notes]]
        lines += [
            "",
            "| variant | ranks | target | value | required | result |",
            "|---|---|---|---|---|---|",
        ]
        for run in runs:
            _, scalable = VARIANTS[problem][run["variant"]]
            tag = run["variant"] + ("" if scalable else " (plain, reference)")
            for t in run["targets"]:
                lines.append(
                    f"| {tag} | {run['ranks']} | {t['name']} ({t['note']}) | "
                    f"{_fmt(t['value'], '.3g')} | {t['required']} | {_verdict(t)} |"
                )
        lines += ["", "Variants: " + "; ".join(f"`{k}`: {d}" for k, (d, _) in
                                             VARIANTS[problem].items()) + "."]  # fmt: skip
        if problem == "cahn_hilliard":
            opts = " ".join(f"-femgp_ch_{k} {v}" for k, v in CH_SCHUR.items())
            lines += [
                "",
                f"`gmres-schur` options: `{opts}`; the fields `c` and `mu` are given to "
                "PCFIELDSPLIT by the benchmark (CahnHilliard does not name them).",
            ]
    lines += ["", "## Verdict", "", *info.get("discussion", []), ""]
    return "\n".join(lines)


def _discussion(info: dict[str, Any]) -> list[str]:
    """One line per failed target of a scalable variant, with the likely cause."""
    why = {
        ("damage", "cg-jacobi", "Krylov"): "Jacobi-preconditioned CG on mass + ell^2 stiffness: "
        "the condition number grows like (ell/h)^2 at fixed ell, so CG iterations double per "
        "refinement; Jacobi is only h-independent while h ~ ell/4 (as in the fracture setups).",
        ("cahn_hilliard", "gmres-schur", "Krylov"): "the Schur complement of the mixed (c, mu) "
        "system is a fourth-order (biharmonic) operator dt M kappa K M^-1 K + M; at fixed dt it "
        "dominates the mass as h falls and GAMG, built for second-order operators, loses its "
        "h-independence. An h-robust choice needs a preconditioner that options cannot express "
        "(Kay-Welford / Bosch-Stoll: S ~ (M + sqrt(dt kappa M) K) M^-1 (M + sqrt(dt kappa M) K), "
        "a PCShell with two AMG solves).",
        ("elasticity", "gamg", "time"): "The CG iterations stay at {krylov}, so this is the "
        "machine, not the method: the small sizes run faster per dof on 2 ranks (each half fits "
        "in cache), the large ones are memory-bandwidth bound and ran on a loaded machine "
        "(2 cores; with more ranks than cores the ranks also wait for one); compare the 1-rank "
        "ratio and rerun on a quiet machine.",
        ("cahn_hilliard", "gmres-schur", "time"): "Follows the growth of its Krylov iterations.",
        ("damage", "cg-jacobi", "time"): "Both the Krylov iterations per solve and the VI "
        "Newton iterations grow (see the damage note below).",
        ("damage", "cg-gamg", "time"): "The Krylov iterations per solve are bounded, but the "
        "reduced-space VI Newton iterations grow like 1/h (see the damage note below), and each "
        "Newton iteration rebuilds GAMG on the new inactive set.",
        ("damage", "mumps", "time"): "Newton iterations grow like 1/h and LU is a direct solve.",
        ("damage", "default", "time"): "The VI Newton iterations of this cold start grow like "
        "1/h (see the damage note below) whatever the linear solver.",
        ("damage_step", "cg-jacobi", "Krylov"): "As for the damage problem: Jacobi is only "
        "h-independent while h ~ ell/4.",
        ("damage_step", "default", "time"): "The load-step solve: see the damage-step note below.",
        ("damage_step", "cg-gamg", "time"): "The load-step solve: see the damage-step note below.",
        ("cahn_hilliard", "mumps", "time"): "MUMPS LU is a direct solve: its cost grows like "
        "N^1.5 in 2D (nested dissection), so the time per dof grows with N by design.",
    }
    out = []
    for problem, runs in info["problems"].items():
        for run in runs:
            _, scalable = VARIANTS[problem][run["variant"]]
            for t in run["targets"]:
                if t["pass"]:
                    continue
                key = (problem, run["variant"], t["name"].split()[0])
                per_solve = [r["krylov_per_linear_solve"] for r in run["rows"]]
                lo, hi = (min(per_solve), max(per_solve)) if per_solve else (0.0, 0.0)
                span = f"{lo:.3g}" if lo == hi else f"{lo:.3g}-{hi:.3g}"
                cause = why.get(key, "").format(krylov=span)
                if scalable or cause:
                    out.append(
                        f"- {'FAIL' if scalable else 'reference'}: {problem} {run['variant']} "
                        f"on {run['ranks']} rank(s), {t['name']} = {_fmt(t['value'], '.3g')} "
                        f"({t['required']}). {cause}".rstrip()
                    )
    scalable_ran = any(
        VARIANTS[problem][run["variant"]][1]
        for problem, runs in info["problems"].items()
        for run in runs
    )
    if not out and scalable_ran and info["mode"] not in ("weak", "dt"):
        # A time-per-dof ratio over fewer sizes than 1e4..1e6 is no verdict on the target.
        partial = sorted(
            {
                f"{problem} {run['variant']} on {run['ranks']} rank(s)"
                for problem, runs in info["problems"].items()
                for run in runs
                if VARIANTS[problem][run["variant"]][1]
                for t in run["targets"]
                if "partial" in t["note"]
            }
        )
        out.append(
            "- Every target of the scalable variants passes."
            if not partial
            else "- No target of the scalable variants fails, but the time per dof of "
            + ", ".join(partial)
            + " was measured over a partial range of sizes, not 1e4..1e6 dofs: no verdict "
            "on that target."
        )
    damage = [r for r in info["problems"].get("damage", []) if len(r["rows"]) >= 2]
    if damage:
        longest = max(damage, key=lambda r: len(r["rows"]))
        newton = ", ".join(str(r["newton"]) for r in longest["rows"])
        out.append(
            f"- Damage note: the reduced-space VI Newton iterations from the band to the "
            f"solution are {newton} over the sizes (every variant alike): the active set on the "
            f"flanks of the band shrinks a little at every Newton iteration (with "
            f"-femgp_fracture_alpha_snes_vi_monitor at 1e4 dofs: 241, 194, 164, 144, 133, 130, "
            f"130 active nodes, the residual halving each time), so the Newton count grows "
            f"like ell/h at fixed ell. The time per dof of this solve "
            f"cannot stay flat whatever the linear solver. Within an alternate minimisation the "
            f"damage solve starts next to its solution (SENT: 1714 Newton iterations of both "
            f"fields in 557 AM iterations), so this is a worst case."
        )
    steps = [
        r
        for r in info["problems"].get("damage_step", [])
        if len(r["rows"]) >= 2 and r["variant"] != "history"  # the VI solves (history: no bound)
    ]
    if steps:
        longest = max(steps, key=lambda r: len(r["rows"]))
        newton = ", ".join(str(r["newton"]) for r in longest["rows"])
        out.append(
            f"- Damage-step note: started from the damage of the previous load step (load "
            f"{1 - STEP:g} -> 1), the VI Newton iterations are {newton} over the sizes: the "
            f"active set is right but for a thin rim, which the method releases in a few "
            f"iterations of geometrically shrinking corrections (984, 934, 918, 914 "
            f"active nodes at 1.6e5 dofs). This is the solve the fracture runs do, every AM "
            f"iteration starting from the previous damage."
        )
    for run in info["problems"].get("matmult", []):
        ratio = next((t["value"] for t in run.get("targets", [])), float("nan"))
        if len(run["rows"]) >= 2 and math.isfinite(ratio):
            tpd = ", ".join(
                f"{1e3 * r['time_per_dof_us'] / MATMULT_PRODUCTS:.2f}" for r in run["rows"]
            )
            out.append(
                f"- Machine reference ({run['ranks']} rank(s)): one sparse matrix-vector product "
                f"with the P1 matrix takes {tpd} ns per dof over the sizes, {ratio:.3g}x from "
                f"the fastest to the slowest: the small sizes run from the cache, the large "
                f"ones from memory. This is the order of growth that the time per dof of a "
                f"solver whose work per dof is flat can show on this machine."
            )
    ch = [r for r in info["problems"].get("cahn_hilliard", []) if len(r["rows"]) >= 2]
    if ch:
        longest = max(ch, key=lambda r: len(r["rows"]))
        newton = ", ".join(str(r["newton"]) for r in longest["rows"])
        out.append(
            f"- Cahn-Hilliard note: the Newton iterations of the {info['ch_steps']} steps are "
            f"{newton} over the sizes: snes_rtol = 1e-6 is relative to the first residual, "
            f"whose l2 norm grows as h falls (first step: 0.93 at 140 x 140 cells, 7.7 at "
            f"565 x 565), so on fine meshes one Newton iteration can already meet it. This "
            f"lowers the time per dof of the largest sizes (a mesh-dependent stopping test)."
        )
    parallel = any(run["ranks"] > 1 for runs in info["problems"].values() for run in runs)
    if parallel:  # efficiencies are only reported for runs on more than one rank
        out.append(
            f"- Parallel efficiency: the machine has {info.get('cores') or 'few'} cores; with "
            "other jobs running (see the load column) a multi-rank run waits for cores, so "
            "efficiencies below 1 here mostly measure the load, not femgp."
        )
    if info["mode"] == "quick":
        out.append("- Quick mode: sizes up to 4e4 dofs only; the time-per-dof target needs 1e6.")
    return out


def _mpirun(path: str | None) -> str:
    if path:
        return path
    local = Path(sys.executable).parent / "mpirun"
    found = str(local) if local.exists() else shutil.which("mpirun")
    if not found:
        raise FileNotFoundError("mpirun not found; give --mpirun")
    return found


def driver(args: Any, petsc: list[str], argv: Sequence[str]) -> int:
    """Run every (problem, variant, ranks) in its own mpirun and write the results."""
    targets = QUICK_TARGETS if args.quick else DOF_TARGETS
    targets = [d for d in targets if d <= args.max_dofs]
    mpirun = _mpirun(args.mpirun)
    t_start = time.perf_counter()
    load_start = os.getloadavg()
    weak = bool(args.weak)
    info: dict[str, Any] = {
        "mode": "weak" if weak else "dt" if args.dt_sweep else "quick" if args.quick else "full",
        "cores": os.cpu_count(),
        "weak_dofs_per_rank": args.weak_dofs if weak else None,
        "weak_domain": args.weak_domain if weak else None,
        "command": " ".join(["python", "benchmarks/scaling.py", *argv]),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "load_average_start": load_start,
        "ch_dt": args.ch_dt,
        "ch_steps": args.ch_steps,
        "ch_scheme": args.ch_scheme,
        "ch_theta": args.ch_theta,
        "ranks": args.ranks,
        "dof_targets": targets,
        "problems": {},
    }
    print(f"load average at start: {load_start}", flush=True)
    with tempfile.TemporaryDirectory(prefix="femgp_scaling_") as tmp:
        for problem in args.problems:
            if weak and problem not in CH_PROBLEMS:
                continue
            runs = []
            for variant in args.variants or VARIANTS[problem]:
                if variant not in VARIANTS[problem]:
                    continue
                cases = [
                    (ranks, dt)
                    for ranks in args.ranks or (WEAK_RANKS if weak else (1, 2))
                    for dt in (args.dt_sweep or [args.ch_dt])
                ]
                for ranks, dt in cases:
                    base = []
                    if weak:
                        sizes = [str(cells_for(problem, args.weak_dofs * ranks))]
                        if args.weak_domain == "grow":  # fixed h: the 1-rank mesh's
                            base = ["--ch-base-n", str(cells_for(problem, args.weak_dofs))]
                    elif args.dt_sweep:
                        sizes = [str(cells_for(problem, args.dt_sweep_dofs))]
                    else:
                        sizes = [str(cells_for(problem, d)) for d in targets]
                    out = Path(tmp) / f"{problem}_{variant}_{ranks}_{dt:g}.json"
                    cmd = [
                        mpirun, "-n", str(ranks), sys.executable, str(Path(__file__).resolve()),
                        "--worker", problem, "--variant", variant, "--json", str(out),
                        "--sizes", *sizes, "--ch-dt", str(dt),
                        "--ch-steps", str(args.ch_steps), "--ch-scheme", args.ch_scheme,
                        "--ch-theta", str(args.ch_theta),
                        "--max-solve-s", str(args.max_solve_s), *base,
                        *petsc,
                    ]  # fmt: skip
                    print(f"{problem}/{variant} on {ranks} rank(s) ...", flush=True)
                    proc = subprocess.run(cmd, check=False)
                    run = (
                        json.loads(out.read_text())
                        if out.exists()
                        else {"problem": problem, "variant": variant, "ranks": ranks, "rows": []}
                    )
                    if proc.returncode != 0:
                        run["error"] = f"worker exited with code {proc.returncode}"
                    run["ch_dt"] = dt
                    runs.append(run)
                    info["problems"][problem] = runs
                    _publish(info, args, t_start, partial=True)  # a killed run keeps its rows
    md = _publish(info, args, t_start, partial=False)
    print(md)
    return 0


def _publish(info: dict[str, Any], args: Any, t_start: float, *, partial: bool) -> str:
    """Write the JSON and markdown results (atomically); returns the markdown."""
    info["status"] = "running (partial results)" if partial else "finished"
    info["load_average_end"] = os.getloadavg()
    info["wall_time_s"] = time.perf_counter() - t_start
    info["versions"] = next(
        (r["versions"] for runs in info["problems"].values() for r in runs if "versions" in r), {}
    )
    stem = args.name + (
        "_weak" if args.weak else "_dt" if args.dt_sweep else "_quick" if args.quick else ""
    )
    return _write_results(info, Path(args.output) / stem)


def _write_results(info: dict[str, Any], stem: Path) -> str:
    """Targets and verdict from the rows, then ``stem.json`` and ``stem.md``; the markdown."""
    single = info["mode"] in ("weak", "dt")
    for problem, runs in info["problems"].items():
        for run in runs:
            scalable = VARIANTS[problem][run["variant"]][1]
            per_newton = problem.startswith("cahn_hilliard")
            run["targets"] = [] if single else _targets(run["rows"], scalable, per_newton)
    key, limit = ("ranks", WEAK_ITER_MAX) if info["mode"] == "weak" else ("ch_dt", DT_ITER_MAX)
    info["weak_targets"] = _weak_targets(info, key, limit) if single else []
    info["discussion"] = _discussion(info) + [
        f"- {t['problem']} {t['variant']}: Krylov iterations per Newton step at "
        f"{key.replace('ch_', '')} = {t['ranks']}: {t['values']}; max/min = "
        f"{_fmt(t['value'], '.2f')} (<= {limit})"
        + (f"; no result at {key.replace('ch_', '')} = {t['missing']}" if t.get("missing") else "")
        + f": {'PASS' if t['pass'] else 'FAIL'}"
        for t in info["weak_targets"]
    ]
    if info["mode"] == "weak" and info.get("weak_domain") == "grow":
        info["discussion"].append(
            "- Weak scaling grows the domain at the 1-rank mesh size h (the standard set-up): "
            "the iterations measure the partition's effect on GAMG and the block "
            "preconditioner alone. Times above the core count are oversubscribed."
        )
    elif info["mode"] == "weak":
        info["discussion"].append(
            "- Weak scaling here refines the same domain (1e5 dofs per rank: h falls by "
            "sqrt(8) = 2.8 from 1 to 8 ranks), so the iterations include the h-growth of the "
            "preconditioner (1.16x per 4x dofs in the h sweep, about 1.25x over 8x) as well as "
            "the partition's effect on GAMG. Times above the core count are oversubscribed."
        )
    if info["mode"] == "dt":
        info["discussion"].append(
            "- GMRES(100), rtol 1e-8 relative, at most 500 iterations (BLOCK_PC), 2 Newton steps "
            "from the PFHub 1 state. The Schur factors S1 M^-1 S2 carry f'' through the "
            "Jacobian's mu-c block (block: -ch_fpp jacobian, the default), as one constant "
            "(block-mean), nodally (block-nodal, the former default) or not at all "
            "(block-drop, block-drop-2v with 2 V-cycles per factor: Bosch-Stoll-Benner). "
            "theta = 1 and 1/2 on the spinodal state "
            "(f'' = -0.8 < 0) have an indefinite Jacobian once dt theta Mob f''^2 > 4 kappa "
            "(dt > 2.5 at theta = 1): GMRES does not converge in 500 iterations there (the "
            "'failed' notes), whatever the f'' treatment, and Newton with MUMPS LU diverges "
            "there too (dt >= 3 at theta = 1, dt >= 10 at 1/2): a large dt belongs to Eyre."
        )
    md = _markdown(info)  # before either file is written: a failure leaves both as they were
    stem.parent.mkdir(parents=True, exist_ok=True)
    _write(stem.with_suffix(".json"), json.dumps(info, indent=2) + "\n")
    _write(stem.with_suffix(".md"), md)
    return md


def render(path: Path) -> int:
    """Rewrite a results JSON and its markdown from the measured rows (no runs)."""
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"--render {str(path)!r}: not a results JSON ({exc})") from None
    try:
        report = _write_results(info, path.with_suffix(""))
    except (KeyError, TypeError, AttributeError) as exc:
        raise InputError(
            f"--render {str(path)!r}: not a results JSON of this benchmark "
            f"({type(exc).__name__}: {exc})"
        ) from None
    print(report)
    return 0


def _write(path: Path, text: str) -> None:
    """Atomic write (the driver does not import femgp.fem, hence MPI)."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line; run the driver, or a worker under mpirun (``--worker``)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    p = ArgumentParser(description="Scaling of femgp's solvers with the number of dofs")
    p.add_argument("--quick", action="store_true", help="sizes 1e4 and 4e4 only (< 1 min)")
    p.add_argument(
        "--ranks", type=positive_int, nargs="+", default=None,
        help="rank counts (default 1 2; 1 2 4 8 with --weak)",
    )  # fmt: skip
    p.add_argument(
        "--weak", action="store_true",
        help="weak scaling of the Cahn-Hilliard solves: --weak-dofs per rank on --ranks",
    )  # fmt: skip
    p.add_argument("--weak-dofs", type=positive_float, default=WEAK_DOFS, help="dofs per rank")
    p.add_argument(
        "--weak-domain", choices=("grow", "refine"), default="grow",
        help="weak scaling: grow the domain at the 1-rank h (standard) or refine the fixed one",
    )  # fmt: skip
    p.add_argument(
        "--dt-sweep", type=positive_float, nargs="+", default=None, metavar="DT",
        help="Cahn-Hilliard: iterations against the step, these dt at --dt-sweep-dofs",
    )  # fmt: skip
    p.add_argument("--dt-sweep-dofs", type=positive_float, default=4e4, help="size of --dt-sweep")
    p.add_argument(
        "--problems", nargs="+", choices=tuple(VARIANTS), default=list(VARIANTS), metavar="P"
    )
    p.add_argument("--variants", nargs="+", default=None, help="only these variants")
    p.add_argument("--max-dofs", type=positive_float, default=1.1e6, help="largest size")
    p.add_argument("--ch-dt", type=positive_float, default=1.0, help="Cahn-Hilliard step")
    p.add_argument("--ch-steps", type=positive_int, default=3, help="Cahn-Hilliard steps")
    p.add_argument("--ch-scheme", choices=("theta", "eyre"), default="theta")
    p.add_argument("--ch-theta", type=positive_float, default=0.5, help="theta of 'theta'")
    p.add_argument(
        "--max-solve-s",
        type=positive_float,
        default=300.0,
        help="skip a size whose solve is predicted (linearly in dofs) to take longer",
    )
    p.add_argument("--mpirun", default=None, help="mpirun to use (default: beside python)")
    p.add_argument("--output", default=str(HERE / "results"), help="folder of the results")
    p.add_argument("--name", default="scaling", help="results file stem")
    p.add_argument(
        "--render", default=None, metavar="JSON", help="only rewrite the report from a results JSON"
    )
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    p.add_argument("--variant", default=None, help=argparse.SUPPRESS)
    p.add_argument("--sizes", type=positive_int, nargs="+", default=None, help=argparse.SUPPRESS)
    p.add_argument("--json", default=None, help=argparse.SUPPRESS)
    p.add_argument("--ch-base-n", type=positive_int, default=None, help=argparse.SUPPRESS)
    args, extra = p.parse_known_args(argv)
    petsc = split_petsc_args(extra, known=long_options(p))
    if args.worker:
        init_petsc(petsc)
        return worker(args)
    if args.render:
        return render(Path(args.render))
    check_output_folder(args.output)  # before the work
    problems = [n for n in args.problems if n in CH_PROBLEMS] if args.weak else args.problems
    if not problems:
        p.error(f"--weak scales the Cahn-Hilliard problems only ({', '.join(CH_PROBLEMS)})")
    if args.variants:  # each one must name a variant of a problem that runs
        offered = {v for problem in problems for v in VARIANTS[problem]}
        unknown = [v for v in args.variants if v not in offered]
        if unknown:
            p.error(
                f"--variants {' '.join(unknown)}: not a variant of --problems "
                f"{' '.join(problems)} (allowed: {', '.join(sorted(offered))})"
            )
    smallest = min(QUICK_TARGETS if args.quick else DOF_TARGETS)
    if args.max_dofs < smallest and not (args.weak or args.dt_sweep):
        p.error(f"--max-dofs {args.max_dofs:g} is below the smallest size, {smallest:g} dofs")
    return driver(args, petsc, argv)


if __name__ == "__main__":
    sys.exit(script_main(main))
