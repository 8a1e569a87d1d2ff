"""PFHub benchmark 1b: femgp's adaptive scheme against the plain fixed-step approach.

Runs, on the same mesh and in the same process:

1. a reference to ``--compare-t`` (femgp's theta = 1/2 scheme with a tolerance
   20 times tighter), giving F(t) at the checkpoints;
2. femgp's default adaptive scheme to ``--compare-t``;
3. the plain baseline, as the DOLFINx Cahn-Hilliard demo solves: hand-written
   mixed weak form, theta = 1/2, fixed step, Newton from the previous state,
   LU (MUMPS), for a ladder of steps, keeping the largest step whose F(t)
   error is no larger than the adaptive scheme's ("the same accuracy");
   ``--no-baseline`` skips 1-3;
4. femgp's adaptive scheme to ``--t-end`` (1e6 by default), reporting wall and
   CPU time, the load average, steps, Newton and Krylov iterations, peak memory
   and F at t = 10, 100, 1e3, 1e4, 1e5 and 1e6;
   with ``--compare-solvers``, 4. runs twice, once with the block
   preconditioner and once with MUMPS LU, each with its own peak memory
   (the process's peak resident size is reset between them);
   ``--linear-solver block|mumps`` runs 4. with one of them instead of femgp's
   choice at this size (a comparison too long for one sitting, in two runs);
5. with ``--reference-tol``, a tight-tolerance reference to ``--t-end``
   (``snes_rtol`` 1e-8) and the relative error of 4.'s F(t) at those times
   against it (target: 0.5%); ``--reference-file`` takes that reference from
   an earlier run's results JSON instead of running it again.

Core-seconds are wall time × ranks. The baseline's cost to ``--t-end`` is
extrapolated from its measured cost per step (a fixed step makes it linear in
t); this extrapolation is stated as such in the results.

Run: ``mpirun -n 2 python benchmarks/cahn_hilliard_bm1b.py`` (``--quick`` for a
small smoke run). Results go to ``benchmarks/results/cahn_hilliard_bm1b[_quick].{json,md}``
(``--name`` changes the stem, ``--output`` the folder).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from femgp.cli import args as cli
from femgp.errors import InputError

if TYPE_CHECKING:
    from mpi4py import MPI

    from femgp.models import cahn_hilliard as ch

RESULTS = Path(__file__).parent / "results"
REPORT_TIMES = (10.0, 100.0, 1e3, 1e4, 1e5, 1e6)


def peak_memory_mb(comm: MPI.Comm) -> tuple[float, float]:
    """Peak resident memory since the last :func:`reset_peak_memory` (MB): total, largest rank."""
    from mpi4py import MPI

    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return comm.allreduce(kb, op=MPI.SUM) / 1024.0, comm.allreduce(kb, op=MPI.MAX) / 1024.0


def reset_peak_memory() -> bool:
    """Restart the peak resident size from the present one (Linux >= 4.0; else False)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def plain_baseline(domain, dt: float, t_end: float, checkpoints: Sequence[float]) -> dict:
    """The DOLFINx-demo approach: fixed-step theta = 1/2, Newton, LU (MUMPS)."""
    import femgp.fem._backend  # noqa: F401

    import basix.ufl
    import ufl
    from dolfinx import fem
    from dolfinx.fem.petsc import LinearProblem, NonlinearProblem
    from mpi4py import MPI

    from femgp.models import cahn_hilliard as ch

    p = ch.Params()
    P1 = basix.ufl.element("Lagrange", domain.basix_cell(), 1)
    V = fem.functionspace(domain, basix.ufl.mixed_element([P1, P1]))
    u, u0 = fem.Function(V), fem.Function(V)
    q, v = ufl.TestFunctions(V)
    c, mu = ufl.split(u)
    c0, mu0 = ufl.split(u0)
    c = ufl.variable(c)
    f = p.rho * (c - p.c_alpha) ** 2 * (p.c_beta - c) ** 2
    dfdc = ufl.diff(f, c)
    theta = 0.5
    mu_mid = (1.0 - theta) * mu0 + theta * mu
    F0 = ufl.inner(c, q) * ufl.dx - ufl.inner(c0, q) * ufl.dx
    F0 += dt * p.mobility * ufl.inner(ufl.grad(mu_mid), ufl.grad(q)) * ufl.dx
    F1 = ufl.inner(mu, v) * ufl.dx - ufl.inner(dfdc, v) * ufl.dx
    F1 -= p.kappa * ufl.inner(ufl.grad(c), ufl.grad(v)) * ufl.dx
    # Initial state: the benchmark's c and a consistent mu (as femgp does).
    Q, cmap = V.sub(0).collapse()
    _, mumap = V.sub(1).collapse()
    cf = fem.Function(Q)
    cf.interpolate(ch.pfhub_initial())
    w, r = ufl.TrialFunction(Q), ufl.TestFunction(Q)
    fc = p.rho * (cf - p.c_alpha) ** 2 * (p.c_beta - cf) ** 2
    rhs = (
        ufl.derivative(fc * ufl.dx, cf, r) + p.kappa * ufl.inner(ufl.grad(cf), ufl.grad(r)) * ufl.dx
    )
    mu_init = LinearProblem(
        w * r * ufl.dx, rhs, petsc_options_prefix="bm_plain_mu0_",
        petsc_options={"ksp_type": "cg", "pc_type": "jacobi", "ksp_rtol": 1e-14},
    ).solve()  # fmt: skip
    u.x.array[cmap] = cf.x.array
    u.x.array[mumap] = mu_init.x.array
    u.x.scatter_forward()
    u0.x.array[:] = u.x.array
    problem = NonlinearProblem(
        F0 + F1, u, petsc_options_prefix=f"bm_plain_{str(dt).replace('.', 'p')}_",
        petsc_options={
            "snes_type": "newtonls", "snes_linesearch_type": "none", "snes_rtol": 1e-6,
            "snes_atol": 1e-10, "ksp_type": "preonly", "pc_type": "lu",
            "pc_factor_mat_solver_type": "mumps",
        },
    )  # fmt: skip
    energy = fem.form(
        (
            p.rho * (u.sub(0) - p.c_alpha) ** 2 * (p.c_beta - u.sub(0)) ** 2
            + p.kappa / 2 * ufl.inner(ufl.grad(u.sub(0)), ufl.grad(u.sub(0)))
        )
        * ufl.dx
    )
    comm = domain.comm
    t0 = time.perf_counter()
    t, n, newton, out = 0.0, 0, 0, {}
    nsteps = round(t_end / dt)
    for n in range(1, nsteps + 1):
        problem.solve()
        reason = problem.solver.getConvergedReason()
        if reason <= 0:
            raise RuntimeError(f"plain baseline diverged at step {n} (reason {reason})")
        newton += problem.solver.getIterationNumber()
        u0.x.array[:] = u.x.array
        t = n * dt
        for tc in checkpoints:
            if abs(t - tc) < 1e-9 * tc:
                out[tc] = comm.allreduce(fem.assemble_scalar(energy), op=MPI.SUM)
    wall = time.perf_counter() - t0
    return {"dt": dt, "steps": nsteps, "newton": newton, "wall_s": wall, "F": out}


def femgp_run(
    domain, params: ch.Params, t_end: float, times: Sequence[float], prefix: str,
    options: dict | None = None, reuse_pc: int | None = None,
) -> dict:  # fmt: skip
    import numpy as np
    from mpi4py import MPI

    from femgp.models import cahn_hilliard as ch

    load = os.getloadavg()[0]
    cpu = time.process_time()
    res = ch.run(
        domain, params, t_end=t_end, field_times=times, show_progress=False, prefix=prefix,
        options=options, reuse_pc=reuse_pc,
    )  # fmt: skip
    cpu = domain.comm.allreduce(time.process_time() - cpu, op=MPI.SUM)
    tt, F = res.column("time"), res.column("free_energy")
    at = {}
    for tc in [*times, t_end]:
        i = int(np.argmin(np.abs(tt - tc)))
        if abs(tt[i] - tc) <= 1e-9 * tc:
            at[tc] = float(F[i])
    return {
        "steps": res.steps, "rejected": res.rejected, "newton": res.newton,
        "krylov": res.krylov, "wall_s": res.wall_time, "F": at,
        "dt_last": float(res.column("dt")[-1]), "cpu_s_all_ranks": cpu,
        "load_average": [load, os.getloadavg()[0]],
    }  # fmt: skip


def stored_reference(args: argparse.Namespace) -> tuple[float, dict]:
    """The tolerance and run of the tight reference stored in ``args.reference_file``.

    Raises:
        InputError: the file is not a results JSON of this script with a reference
            on the same mesh to the same ``--t-end``.
    """
    try:
        stored = json.loads(args.reference_file.read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"--reference-file {str(args.reference_file)!r}: {exc}") from None
    mesh = f"{args.n}x{args.n} Q1"
    ref = stored.get("reference_full") if isinstance(stored, dict) else None
    if not ref or stored.get("mesh") != mesh or stored.get("t_end") != args.t_end:
        raise InputError(
            f"--reference-file {str(args.reference_file)!r} holds no reference run on the "
            f"{mesh} mesh to t = {args.t_end:g} (made with --reference-tol)"
        )
    # JSON keys are strings: back to the float times of this run.
    ref = {**ref, "F": {float(t): F for t, F in ref["F"].items()}}
    return float(stored["reference_tol"]), ref


def rel_error(F: dict, ref: dict) -> float:
    return max(abs(F[t] - ref[t]) / abs(ref[t]) for t in ref)


def main(argv: Sequence[str] | None = None) -> int:
    ap = cli.ArgumentParser(description="PFHub 1b benchmark: adaptive femgp vs plain fixed steps")
    ap.add_argument(
        "--n", type=cli.positive_int, default=None, help="cells per side, h = 200/n (200)"
    )
    ap.add_argument("--t-end", type=cli.positive_float, default=None, help="(1e6)")
    ap.add_argument(
        "--tol", type=cli.positive_float, default=None, help="time-error tolerance (Params().tol)"
    )
    ap.add_argument(
        "--compare-t", type=cli.positive_float, default=None, help="(100, at most --t-end)"
    )
    ap.add_argument(
        "--baseline-dts", type=cli.positive_float, nargs="+", default=[4.0, 2.0, 1.0, 0.5, 0.25]
    )
    ap.add_argument(
        "--no-baseline", action="store_true",
        help="skip the same-accuracy comparison to --compare-t (reference, adaptive, plain ladder)",
    )  # fmt: skip
    ap.add_argument(
        "--reference-tol", type=cli.positive_float, default=None,
        help="also run a reference to --t-end with this tolerance; report F errors against it",
    )  # fmt: skip
    ap.add_argument(
        "--reference-file", type=Path, default=None,
        help="compare F(t) with the tight reference of an earlier results JSON (same mesh, t-end)",
    )  # fmt: skip
    ap.add_argument(
        "--estimator", choices=("auto", "curvature", "milne"), default="auto",
        help="error estimate of the run to --t-end (Params.estimator)",
    )  # fmt: skip
    ap.add_argument(
        "--reuse-pc", type=cli.positive_int, default=None,
        help="keep the factorisation until a linear solve takes more Krylov iterations",
    )  # fmt: skip
    ap.add_argument(
        "--compare-solvers", action="store_true",
        help="run to --t-end with the block preconditioner and with MUMPS LU; report both",
    )  # fmt: skip
    ap.add_argument(
        "--linear-solver", choices=("block", "mumps"), default=None,
        help="linear solver of the run to --t-end (default: femgp's choice at this size)",
    )  # fmt: skip
    ap.add_argument("--quick", action="store_true", help="n=48, t-end=1e3, compare-t=20")
    ap.add_argument(
        "--name", default=None,
        help="results file stem (default cahn_hilliard_bm1b, + _quick with --quick)",
    )  # fmt: skip
    ap.add_argument(
        "--output", type=Path, default=RESULTS,
        help="folder of the results (default benchmarks/results)",
    )  # fmt: skip
    args = cli.parse_with_petsc(ap, argv, model="cahn_hilliard")
    cli.check_output_folder(args.output)  # before the work
    # The finite-element layer, once PETSc has its command-line options.
    import femgp.fem._backend  # noqa: F401

    from mpi4py import MPI

    from femgp.cli.cases import cahn_hilliard_mesh
    from femgp.fem.io import atomic_write_text, versions
    from femgp.fem.preconditioners import BLOCK_PC
    from femgp.models import cahn_hilliard as ch

    args.tol = args.tol or ch.Params().tol
    if args.name is None:  # a smoke run does not replace the full run's results
        args.name = "cahn_hilliard_bm1b" + ("_quick" if args.quick else "")
    quick = {"n": 48, "t_end": 1e3, "compare_t": 20.0}
    cli.quick_or_given(args, quick, {"n": 200, "t_end": 1e6})
    if args.compare_t is None:  # 100, or the whole run if shorter
        args.compare_t = min(100.0, args.t_end)
    elif args.compare_t > args.t_end:
        raise InputError(f"--compare-t {args.compare_t:g} must be <= --t-end {args.t_end:g}")
    if args.reference_tol and args.reference_file:
        raise InputError("--reference-tol and --reference-file exclude each other; give one")
    if args.compare_solvers and args.reuse_pc is not None:
        raise InputError("--reuse-pc applies to MUMPS only; it excludes --compare-solvers")
    if args.compare_solvers and args.linear_solver is not None:
        raise InputError("--linear-solver picks one solver; --compare-solvers runs both: give one")
    if args.linear_solver == "block" and args.reuse_pc is not None:
        raise InputError("--reuse-pc applies to MUMPS only; it excludes --linear-solver block")
    stored = None if args.reference_file is None else stored_reference(args)
    comm = MPI.COMM_WORLD
    say = print if comm.rank == 0 else (lambda *a, **k: None)
    domain = cahn_hilliard_mesh(comm, n=args.n).mesh
    ndofs = 2 * (args.n + 1) ** 2
    # Five equally spaced checkpoints, multiples of every baseline step tried.
    checkpoints = [args.compare_t * k / 5 for k in range(1, 6)]
    say(f"PFHub 1b on {args.n}x{args.n} Q1 ({ndofs} dofs), {comm.size} ranks")

    ref = ada = None
    if not args.no_baseline:
        ref_params = ch.Params(tol=args.tol / 20)
        ref = femgp_run(domain, ref_params, args.compare_t, checkpoints, "bm_ref_")
        say(f"reference (tol {args.tol / 20:g}): {ref['steps']} steps, {ref['wall_s']:.1f} s")
        ada = femgp_run(domain, ch.Params(tol=args.tol), args.compare_t, checkpoints, "bm_ada_")
        ada["error"] = rel_error(ada["F"], ref["F"])
        say(f"femgp adaptive to t={args.compare_t:g}: {ada['steps']} steps, "
            f"{ada['wall_s']:.1f} s, max rel. F error {ada['error']:.2e}")  # fmt: skip

    ladder = []
    chosen = None
    for dt in [] if args.no_baseline else sorted(args.baseline_dts, reverse=True):
        try:
            b = plain_baseline(domain, dt, args.compare_t, checkpoints)
            b["error"] = rel_error(b["F"], ref["F"])
        except RuntimeError as exc:  # the plain Newton diverged at this step size
            say(f"plain dt={dt:g}: {exc}")
            ladder.append({"dt": dt, "diverged": str(exc), "error": math.inf})
            continue
        ladder.append(b)
        say(f"plain dt={dt:g}: {b['steps']} steps, {b['wall_s']:.1f} s, error {b['error']:.2e}")
        if b["error"] <= ada["error"]:
            chosen = b
            break
    same_accuracy = chosen is not None
    chosen = chosen or next((b for b in reversed(ladder) if "diverged" not in b), None)

    report_times = [t for t in REPORT_TIMES if t < args.t_end]
    full_params = ch.Params(tol=args.tol, estimator=args.estimator)
    # femgp's own choice of linear solver at this size (2D), and the comparison's.
    default = "block" if ch.block_pc_is_default(ndofs, tdim=2) else "mumps"
    table = {"block": BLOCK_PC, "mumps": ch.CH_LU if args.reuse_pc is None else ch.KEPT_LU}
    if args.compare_solvers:
        solvers = table
    else:
        chosen_solver = args.linear_solver or default
        solvers = {chosen_solver: None if chosen_solver == default else table[chosen_solver]}
    by_solver = {}
    for name, options in solvers.items():
        memory_reset = reset_peak_memory()
        run = femgp_run(
            domain, full_params, args.t_end, report_times, f"bm_full_{name}_", options,
            reuse_pc=args.reuse_pc,
        )  # fmt: skip
        run["estimator"], run["reuse_pc"] = full_params.error_estimator, args.reuse_pc
        run["linear_solver"] = name
        run["peak_memory_mb_total"], run["peak_memory_mb_max_rank"] = peak_memory_mb(comm)
        run["peak_memory_of_this_run"] = memory_reset
        by_solver[name] = run
        load = run["load_average"]
        say(f"femgp adaptive ({name}) to t={args.t_end:g}: {run['steps']} steps, "
            f"{run['wall_s']:.1f} s, peak {run['peak_memory_mb_max_rank']:.0f} MB per rank "
            f"(load average {load[0]:.1f} -> {load[1]:.1f})")  # fmt: skip
    full = by_solver[default if args.compare_solvers else next(iter(by_solver))]
    mem = full["peak_memory_mb_total"]
    tight = None
    if args.reference_tol:
        tight_opts = {"snes_rtol": 1e-8}
        tight = femgp_run(domain, ch.Params(tol=args.reference_tol), args.t_end, report_times,
                          "bm_tight_", tight_opts)  # fmt: skip
    elif stored is not None:
        args.reference_tol, tight = stored
    if tight is not None:
        full["errors"] = {t: abs(full["F"][t] - F) / abs(F) for t, F in tight["F"].items()}
        full["error"] = max(full["errors"].values())
        say(f"reference (tol {args.reference_tol:g}) to t={args.t_end:g}: {tight['steps']} steps; "
            f"max rel. F error of the run {full['error']:.2e}")  # fmt: skip

    ranks = comm.size
    ratio_measured = ratio_full = None
    if chosen is not None and ada is not None:
        ratio_measured = (chosen["wall_s"] * ranks) / (ada["wall_s"] * ranks)
        per_step = chosen["wall_s"] / chosen["steps"]
        baseline_full_core_s = per_step * (args.t_end / chosen["dt"]) * ranks
        ratio_full = baseline_full_core_s / (full["wall_s"] * ranks)
    results = {
        "benchmark": "PFHub 1b (no flux, 200x200)",
        "mesh": f"{args.n}x{args.n} Q1", "dofs": ndofs, "ranks": ranks,
        "tol": args.tol, "compare_t": args.compare_t,
        "reference": ref, "femgp_adaptive_compare": ada, "plain_ladder": ladder,
        "plain_chosen_dt": chosen and chosen["dt"], "plain_reaches_same_accuracy": same_accuracy,
        "femgp_adaptive_full": full, "t_end": args.t_end, "peak_memory_mb_total": mem,
        "default_linear_solver": default,
        "solver_comparison": by_solver if args.compare_solvers else None,
        "reference_tol": args.reference_tol, "reference_full": tight,
        "reference_file": None if stored is None else str(args.reference_file),
        "core_seconds_ratio_measured": ratio_measured,
        "core_seconds_ratio_to_t_end_extrapolated": ratio_full,
        "time_per_dof_step_us": 1e6 * full["wall_s"] / (full["steps"] * ndofs),
        "targets": {
            **({} if args.t_end < 1e6 else {"t_end_1e6_under_300_s": full["wall_s"] < 300.0}),
            **({} if tight is None else {"F_within_0.5%_of_reference": full["error"] <= 5e-3}),
            **({} if ratio_full is None else {
                "10x_fewer_core_seconds_same_accuracy": bool(same_accuracy and ratio_full >= 10.0)
            }),
        },
        "versions": versions(),
    }  # fmt: skip
    if comm.rank == 0:
        args.output.mkdir(parents=True, exist_ok=True)
        atomic_write_text(args.output / f"{args.name}.json", json.dumps(results, indent=2) + "\n")
        atomic_write_text(args.output / f"{args.name}.md", report(results))
        print(report(results))
    return 0


def report(r: dict) -> str:
    full, ada, tight = r["femgp_adaptive_full"], r["femgp_adaptive_compare"], r["reference_full"]
    load = full["load_average"]
    lines = [
        f"# PFHub 1b: {r['mesh']}, {r['dofs']} dofs, {r['ranks']} ranks",
        "",
        f"femgp adaptive (theta = 1/2, tol {r['tol']:g}, estimator "
        f"{full.get('estimator', 'auto')}, reuse_pc {full.get('reuse_pc')}, linear solver "
        f"{full.get('linear_solver', 'default')}) "
        f"to t = {r['t_end']:g}: "
        f"{full['wall_s']:.1f} s wall ({full['cpu_s_all_ranks']:.1f} s CPU, all ranks; "
        f"1-min load average {load[0]:.1f} at the start, {load[1]:.1f} at the end), "
        f"{full['steps']} steps ({full['rejected']} rejected), "
        f"{full['newton']} Newton, {full['krylov']} Krylov iterations, "
        f"last dt {full['dt_last']:.3g}, "
        f"{r['time_per_dof_step_us']:.2f} us per dof and step, peak memory "
        f"{r['peak_memory_mb_total']:.0f} MB (all ranks; largest rank "
        f"{full.get('peak_memory_mb_max_rank', math.nan):.0f} MB)",
        "",
    ]
    if tight is None:
        lines += ["| t | F |", "| --- | --- |"]
        lines += [f"| {t:g} | {F:.6f} |" for t, F in sorted(full["F"].items())]
    else:
        lines += [
            f"Reference: tol {r['reference_tol']:g}, snes_rtol 1e-8: {tight['steps']} steps, "
            f"{tight['newton']} Newton, {tight['wall_s']:.1f} s wall"
            + (f" (stored in {r['reference_file']})." if r.get("reference_file") else "."),
            "",
            "| t | F (reference) | F (run) | rel. error |",
            "| --- | --- | --- | --- |",
            *[
                f"| {t:g} | {F:.6f} | {full['F'][t]:.6f} | {full['errors'][t]:.2e} |"
                for t, F in sorted(tight["F"].items())
            ],
        ]
    lines.append("")
    if r.get("solver_comparison"):
        runs = r["solver_comparison"]
        names = {"block": "block preconditioner (GMRES)", "mumps": "MUMPS LU"}
        times = sorted(next(iter(runs.values()))["F"])
        lines += [
            f"Linear solvers to t = {r['t_end']:g}, one after the other in this process "
            f"(femgp's default at this size: {names[r['default_linear_solver']]}):",
            "",
            "| linear solver | wall s | steps (rejected) | Newton | Krylov | peak MB per rank "
            "| load average | " + " | ".join(f"F({t:g})" for t in times) + " |",
            "| --- " * (7 + len(times)) + "|",
            *[
                f"| {names[k]} | {x['wall_s']:.1f} | {x['steps']} ({x['rejected']}) "
                f"| {x['newton']} | {x['krylov']} | {x['peak_memory_mb_max_rank']:.0f} "
                f"| {x['load_average'][0]:.1f} -> {x['load_average'][1]:.1f} | "
                + " | ".join(f"{x['F'][t]:.4f}" for t in times)
                + " |"
                for k, x in runs.items()
            ],
            "",
        ]
        if not all(x["peak_memory_of_this_run"] for x in runs.values()):
            lines += ["(The peak memory could not be reset: each is the process's so far.)", ""]
    if ada is not None:
        lines += [
            f"Same-accuracy comparison to t = {r['compare_t']:g} (reference: tol / 20):",
            "",
            "| run | dt | steps | Newton | wall s | max rel. F error |",
            "| --- | --- | --- | --- | --- | --- |",
            f"| femgp adaptive | adaptive | {ada['steps']} | {ada['newton']} "
            f"| {ada['wall_s']:.1f} | {ada['error']:.2e} |",
            *[
                f"| plain theta=1/2 + Newton + LU | {b['dt']:g} | {b['steps']} | {b['newton']} "
                f"| {b['wall_s']:.1f} | {b['error']:.2e} |"
                if "diverged" not in b
                else f"| plain theta=1/2 + Newton + LU | {b['dt']:g} | diverged | | | |"
                for b in r["plain_ladder"]
            ],
            "",
        ]
    if r["core_seconds_ratio_measured"] is not None:
        lines += [
            f"Plain step at the same accuracy: dt = {r['plain_chosen_dt']:g}"
            + ("" if r["plain_reaches_same_accuracy"] else " (NOT reached: finest step tried)"),
            f"Core-seconds ratio plain / femgp to t = {r['compare_t']:g} (measured): "
            f"{r['core_seconds_ratio_measured']:.1f}x",
            f"Core-seconds ratio plain / femgp to t = {r['t_end']:g} (plain extrapolated from "
            f"its cost per step): {r['core_seconds_ratio_to_t_end_extrapolated']:.0f}x",
            "",
        ]
    if r["targets"]:
        targets = ", ".join(f"{k}: {'PASS' if v else 'FAIL'}" for k, v in r["targets"].items())
        lines += [f"Targets: {targets}", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(cli.script_main(main))
