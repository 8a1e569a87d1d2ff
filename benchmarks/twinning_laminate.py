"""Benchmark: the square-to-rectangle laminate with adaptive and with fixed time steps.

Runs the demo's problem (clamped square, two variants, rank-independent
noise) to the same final time twice in one process, once with the adaptive
step control and once with a fixed step, and reports wall time, accepted and
rejected steps, Newton and Krylov iterations, the final energies and the
measured wall orientation. Results are written atomically to
``benchmarks/results/twinning_laminate.json`` and ``.md`` and printed::

    python benchmarks/twinning_laminate.py
    mpirun -n 2 python benchmarks/twinning_laminate.py --results /tmp/bench
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from femgp.cli import args as cli

RESULTS = Path(__file__).resolve().parent / "results"


def parse_args(argv: Sequence[str] | None) -> Any:
    parser = cli.ArgumentParser(prog="twinning_laminate benchmark", description=__doc__)
    parser.add_argument("--results", default=str(RESULTS), help="folder of the result files")
    parser.add_argument("--cells", type=cli.positive_int, default=48, help="cells per side")
    parser.add_argument("--t-end", type=cli.positive_float, default=100.0, help="final time")
    parser.add_argument("--fixed-dt", type=cli.positive_float, default=0.25, help="the fixed step")
    return cli.parse_with_petsc(parser, argv, model="twinning")


def one_run(cells: int, t_end: float, *, adaptive: bool, fixed_dt: float) -> dict[str, Any]:
    """Run the laminate once and summarise it."""
    from mpi4py import MPI

    from femgp.cli.cases import twinning_initial, twinning_mesh
    from femgp.models.twinning import Params, orientation, run

    comm = MPI.COMM_WORLD
    step = {"dt": 0.1, "tol": 2e-2} if adaptive else {"dt": fixed_dt, "adaptive": False}
    params = Params.square_to_rectangle(kappa=3.0, **step)
    mesh = twinning_mesh("laminate", comm, cells=cells)
    initial = twinning_initial("laminate", 2, seed=1, amplitude=0.05, wavelength=(4.0, 16.0))
    comm.Barrier()
    t0 = time.perf_counter()
    r = run(mesh, params, t_end=t_end, initial=initial, show_progress=False)
    wall = comm.allreduce(time.perf_counter() - t0, op=MPI.MAX)
    o = orientation(r.model.etas[0] - r.model.etas[1], comm)
    last = r.history[-1]
    return {
        "steps": "adaptive" if adaptive else f"fixed dt={fixed_dt:g}",
        "wall_time_s": wall,
        "accepted": r.steps,
        "rejected": r.rejected + r.energy_rejected,
        "newton": r.newton,
        "krylov": r.krylov,
        "final_time": last["time"],
        "total": last["total"],
        "chemical": last["chemical"],
        "gradient": last["gradient"],
        "elastic": last["elastic"],
        "wall_normal_deg": o.normal_angle,
        "energy_monotone": all(
            b["total"] <= a["total"] + 1e-10 * abs(a["total"])
            for a, b in zip(r.history, r.history[1:], strict=False)
        ),
    }


COLUMNS = (
    ("steps", "{}"),
    ("wall_time_s", "{:.2f}"),
    ("accepted", "{}"),
    ("rejected", "{}"),
    ("newton", "{}"),
    ("krylov", "{}"),
    ("total", "{:.4f}"),
    ("elastic", "{:.4f}"),
    ("wall_normal_deg", "{:.2f}"),
    ("energy_monotone", "{}"),
)


def markdown(rows: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    """A markdown table of the runs."""
    head = "| " + " | ".join(c for c, _ in COLUMNS) + " |"
    sep = "|" + "|".join("---" for _ in COLUMNS) + "|"
    body = ["| " + " | ".join(f.format(r[c]) for c, f in COLUMNS) + " |" for r in rows]
    a, f = rows
    lines = [
        "# Twinning laminate benchmark",
        "",
        f"{meta['cells']}x{meta['cells']} cells (P1 eta1, eta2, u), t_end = {meta['t_end']}, "
        f"{meta['ranks']} rank(s), DOLFINx {meta['versions'].get('dolfinx', '?')}, "
        f"PETSc {meta['versions'].get('petsc', '?')}; monolithic Newton, MUMPS LU.",
        "",
        head,
        sep,
        *body,
        "",
        f"Load average when the run ended: {meta['load_average_1min']:.1f} on a machine "
        f"with {os.cpu_count()} cores (shared: wall times are indicative).",
        "",
        f"Adaptive / fixed: {a['wall_time_s'] / f['wall_time_s']:.2f}x the wall time, "
        f"{a['newton'] / f['newton']:.2f}x the Newton iterations; final energies differ by "
        f"{abs(a['total'] - f['total']) / abs(f['total']):.2e} (relative).",
        "",
        f"Command: `{meta['command']}`",
        "",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    cli.check_output_folder(args.results, option="--results")  # before the work
    from mpi4py import MPI

    from femgp.fem.io import atomic_write_text, versions

    comm = MPI.COMM_WORLD
    folder = Path(args.results)
    rows = [  # adaptive first, then fixed, in the same process
        one_run(args.cells, args.t_end, adaptive=True, fixed_dt=args.fixed_dt),
        one_run(args.cells, args.t_end, adaptive=False, fixed_dt=args.fixed_dt),
    ]
    meta = {
        "cells": args.cells,
        "t_end": args.t_end,
        "ranks": comm.size,
        "versions": versions(),
        "load_average_1min": os.getloadavg()[0],
        "command": (f"mpirun -n {comm.size} " if comm.size > 1 else "")
        + f"python benchmarks/twinning_laminate.py --cells {args.cells} --t-end {args.t_end:g} "
        f"--fixed-dt {args.fixed_dt:g}",
    }
    if comm.rank == 0:
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_text(
            folder / "twinning_laminate.json",
            json.dumps({"meta": meta, "runs": rows}, indent=2, default=str) + "\n",
        )
        text = markdown(rows, meta)
        atomic_write_text(folder / "twinning_laminate.md", text)
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(cli.script_main(main))
