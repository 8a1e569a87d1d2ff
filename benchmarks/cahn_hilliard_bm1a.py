"""PFHub benchmark 1a: spinodal decomposition on the periodic square [0, 200]^2.

femgp's default adaptive scheme (theta = 1/2, error-controlled steps) with
``Params(periodic="xy")`` (the multipoint constraint of ``femgp.fem.periodic``)
and the benchmark's initial condition, to ``--t-end`` (1e6). Reports wall
time, steps, Newton and Krylov iterations, the load average of the machine
(other jobs slow a run down), and F at t = 1e2, 1e3, 1e4, 1e5, 1e6, beside
benchmark 1b (``cahn_hilliard_bm1b.py``).

Run: ``mpirun -n 2 python benchmarks/cahn_hilliard_bm1a.py`` (``--quick``: 48 x 48
to t = 1e3, a smoke run). Results go to
``benchmarks/results/cahn_hilliard_bm1a[_quick].{json,md}`` (``--name`` changes the stem,
``--output`` the folder).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from femgp.cli import args as cli

RESULTS = Path(__file__).parent / "results"
REPORT_TIMES = (100.0, 1e3, 1e4, 1e5, 1e6)


def main(argv: Sequence[str] | None = None) -> int:
    ap = cli.ArgumentParser(description="PFHub 1a benchmark: the periodic square")
    ap.add_argument(
        "--n", type=cli.positive_int, default=None, help="cells per side, h = 200/n (200)"
    )
    ap.add_argument("--t-end", type=cli.positive_float, default=None, help="(1e6)")
    ap.add_argument("--tol", type=cli.positive_float, default=None, help="time-error tolerance")
    ap.add_argument("--quick", action="store_true", help="n=48, t-end=1e3")
    ap.add_argument(
        "--name", default=None,
        help="results file stem (default cahn_hilliard_bm1a, + _quick with --quick)",
    )  # fmt: skip
    ap.add_argument(
        "--output", type=Path, default=RESULTS,
        help="folder of the results (default benchmarks/results)",
    )  # fmt: skip
    args = cli.parse_with_petsc(ap, argv, model="cahn_hilliard")
    cli.check_output_folder(args.output)  # before the work
    # The finite-element layer, once the arguments are known to be good (and PETSc
    # has its command-line options: -log_view works).
    from mpi4py import MPI

    from femgp.fem.io import atomic_write_text, versions
    from femgp.fem.meshes.pfhub import square
    from femgp.models import cahn_hilliard as ch

    if args.tol is None:
        args.tol = ch.Params().tol
    if args.name is None:  # a smoke run does not replace the full run's results
        args.name = "cahn_hilliard_bm1a" + ("_quick" if args.quick else "")
    cli.quick_or_given(args, {"n": 48, "t_end": 1e3}, {"n": 200, "t_end": 1e6})
    comm = MPI.COMM_WORLD
    domain = square(comm, n=args.n).mesh
    load_before = os.getloadavg()
    times = [t for t in REPORT_TIMES if t < args.t_end]
    res = ch.run(
        domain,
        ch.Params(tol=args.tol, periodic="xy"),
        t_end=args.t_end,
        field_times=times,
        show_progress=False,
        prefix="bm1a_",
    )
    tt, F = res.column("time"), res.column("free_energy")
    at = {}
    for tc in [*times, args.t_end]:
        i = int(np.argmin(np.abs(tt - tc)))
        if abs(tt[i] - tc) <= 1e-9 * tc:
            at[tc] = float(F[i])
    mass = res.column("mass")
    results = {
        "benchmark": "PFHub 1a (periodic, 200x200)",
        "mesh": f"{args.n}x{args.n} Q1",
        "dofs": 2 * args.n**2,
        "ranks": comm.size,
        "tol": args.tol,
        "t_end": args.t_end,
        "wall_s": res.wall_time,
        "steps": res.steps,
        "rejected": res.rejected,
        "newton": res.newton,
        "krylov": res.krylov,
        "F": at,
        "mass_drift_rel": float(np.max(np.abs(mass - mass[0])) / abs(mass[0])),
        "load_average_before_after": [load_before[0], os.getloadavg()[0]],
        "versions": versions(),
    }
    if comm.rank == 0:
        args.output.mkdir(parents=True, exist_ok=True)
        atomic_write_text(args.output / f"{args.name}.json", json.dumps(results, indent=2) + "\n")
        atomic_write_text(args.output / f"{args.name}.md", report(results))
        print(report(results))
    return 0


def report(r: dict) -> str:
    load = r["load_average_before_after"]
    return "\n".join(
        [
            f"# PFHub 1a: {r['mesh']} periodic, {r['dofs']} independent dofs, {r['ranks']} ranks",
            "",
            f"femgp adaptive (theta = 1/2, tol {r['tol']:g}) to t = {r['t_end']:g}: "
            f"{r['wall_s']:.1f} s wall, {r['steps']} steps ({r['rejected']} rejected), "
            f"{r['newton']} Newton, {r['krylov']} Krylov iterations; relative mass drift "
            f"{r['mass_drift_rel']:.1e}; load average {load[0]:.1f} before, {load[1]:.1f} after",
            "",
            "| t | F |",
            "| --- | --- |",
            *[f"| {t:g} | {F:.6f} |" for t, F in sorted(r["F"].items())],
            "",
        ]
    )


if __name__ == "__main__":
    raise SystemExit(cli.script_main(main))
