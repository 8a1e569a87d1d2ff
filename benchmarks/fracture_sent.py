"""SENT and SENS: femgp's default solver against the plain FEniCSx approach on one mesh and path.

Single-edge notched tension (Miehe, Hofacker, Welschinger 2010) with AT2 and the
spectral split, ell = 0.015 mm, h = ell / 4 along the crack path, the top
displacement raised by 1e-4 mm to 4.5e-3 mm and by 1e-5 mm to 6.5e-3 mm.
``--case sens`` takes the shear test with the resolution and load path of
``demos/fracture_sens.py`` (``--quick``: its coarse default; ``--ell``: another
ell at the same ell / h); the literature resolution of SENS is out of reach of
the plain approach on two cores. The same mesh and load steps are solved in one
process:

- **femgp**: the defaults of :class:`femgp.models.fracture.Params`
  (``solver``, over-relaxed alternate minimisation with the load-step
  predictor, CG + GAMG with the rigid-body near-nullspace for the
  displacement, reduced-space VI Newton with Jacobi-preconditioned CG for the
  damage);
- **femgp-<other solver>**: the same with the other ``Params.solver`` (``"am"``:
  alternate minimisation only; ``"newton"``: AM, then the coupled VI Newton
  method), for information;
- **plain**: the plain FEniCSx approach: plain alternate minimisation (no
  acceleration, no predictor), MUMPS LU for both fields, DOLFINx's own
  Jacobian assembly into PETSc (``-<prefix>femgp_assembly petsc``), the same
  tolerances.

Both first build their problems once (form compilation) before the timed runs.
The machine may be shared: the load average before and after each run and the
CPU time (max over ranks) are recorded beside the wall time.
Reported: wall time, load steps, total AM, Newton (displacement, damage and
coupled) and Krylov iterations, the largest AM count of a step, peak memory
(resident set, max over ranks, of each run: the process's peak is reset before
it), peak force and dissipated (surface) energy at
the end. Targets (issue 12): femgp reaches the end of the load path at least
12× faster than plain, at the same peak force and dissipated energy (within
1 %), and in under 10 minutes (femgp = the default row). Iteration counts
include failed (cut back) attempts.
Results go to ``benchmarks/results/fracture_<case>[_quick].{json,md}`` (atomically).

Run (about half an hour on 2 busy cores; ``--quick``: a coarse mesh, minutes):

    mpirun -n 2 python benchmarks/fracture_sent.py
    mpirun -n 2 python benchmarks/fracture_sent.py --quick
    mpirun -n 2 python benchmarks/fracture_sent.py --case sens --quick --ell 0.02
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from femgp.cli.args import (
    ArgumentParser,
    check_output_folder,
    parse_with_petsc,
    positive_float,
    script_main,
)
from femgp.errors import InputError

HERE = Path(__file__).parent


def _reset_peak_memory() -> bool:
    """Restart this process's peak resident size from the present one (Linux >= 4.0; else False).

    The runs follow one another in one process and ``ru_maxrss`` is the peak of the
    process so far: without a reset, every run after the first would report the
    largest peak of the runs before it.
    """
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _memory_mb(comm: Any) -> float:
    """Peak resident set size since :func:`_reset_peak_memory`, max over ranks (MB)."""
    from mpi4py import MPI

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB
    return comm.allreduce(rss, op=MPI.MAX)


def _row(
    name: str, res: Any, memory: float, cpu: float, load: tuple[float, float]
) -> dict[str, Any]:
    import numpy as np

    R, u = res.column("reaction"), res.column("displacement")
    i = int(np.argmax(R))
    return {
        "solver": name,
        "wall_time_s": res.wall_time,
        "cpu_time_s": cpu,
        "load_average_before_after": load,
        "load_steps": res.steps,
        "am_iterations": res.am_iterations,
        "am_coarse": res.am_coarse,
        "newton": res.newton,
        "krylov": res.krylov,
        "cutbacks": res.cutbacks,
        "peak_memory_mb": memory,
        "max_am_per_step": int(res.column("am_iterations").max()),
        "peak_force_kN": float(R[i]),
        "dissipated_kN_mm": float(res.column("surface")[-1]),
        "displacement_at_peak_mm": float(u[i]),
        "final_force_kN": float(R[-1]),
        "status": res.status,
    }


def _markdown(info: dict[str, Any]) -> str:
    rows = info["runs"]
    cols = [
        ("solver", "solver", "{}"),
        ("wall_time_s", "wall time [s]", "{:.1f}"),
        ("cpu_time_s", "CPU time [s]", "{:.1f}"),
        ("load_steps", "load steps", "{}"),
        ("am_iterations", "AM iterations", "{}"),
        ("am_coarse", "AM (crack-run mesh)", "{}"),
        ("newton", "Newton", "{}"),
        ("krylov", "Krylov", "{}"),
        ("max_am_per_step", "max AM/step", "{}"),
        ("peak_memory_mb", "peak memory [MB]", "{:.0f}"),
        ("peak_force_kN", "peak force [kN]", "{:.5f}"),
        ("displacement_at_peak_mm", "u at peak [mm]", "{:.5f}"),
        ("dissipated_kN_mm", "dissipated [kN mm]", "{:.6g}"),
    ]
    lines = [
        f"# {info['case'].upper()} benchmark ({info['mode']})",
        "",
        f"{info['description']}",
        "",
        f"Command: `{info['command']}` on {info['ranks']} rank(s), {info['date']}.",
        f"Mesh: {info['cells']} triangles, {info['displacement_dofs']} displacement and "
        f"{info['damage_dofs']} damage dofs, h = {info['h_band']:.5g} mm in the crack band, "
        f"ell = {info['ell']:g} mm.",
        "",
        "| " + " | ".join(c[1] for c in cols) + " |",
        "|" + "---|" * len(cols),
    ]
    for r in rows:
        lines.append("| " + " | ".join(fmt.format(r[k]) for k, _, fmt in cols) + " |")
    lines += [
        "",
        "Load average (1 min) before/after each run: "
        + ", ".join(
            "{} {:.1f}/{:.1f}".format(r["solver"], *r["load_average_before_after"]) for r in rows
        )
        + ".",
    ]
    if not all(r.get("peak_memory_of_this_run", False) for r in rows):
        lines += ["(The peak memory could not be reset: each is the process's peak so far.)"]
    lines += ["", "| target | value | required | result |", "|---|---|---|---|"]
    for t in info["targets"]:
        verdict = "PASS" if t["pass"] else "FAIL"
        lines.append(f"| {t['name']} | {t['value']:.3g} | {t['required']} | {verdict} |")
    lines.append("")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = ArgumentParser(description="SENT/SENS benchmark: femgp default vs plain FEniCSx")
    p.add_argument("--case", choices=("sent", "sens"), default="sent", help="tension or shear")
    p.add_argument("--quick", action="store_true", help="coarse mesh and load path (minutes)")
    p.add_argument(
        "--ell", type=positive_float, default=None,
        help="SENS only: regularisation length (mesh h = ell/4, or ell/2.5 with --quick)",
    )  # fmt: skip
    p.add_argument("--output", default=str(HERE / "results"), help="folder of the results")
    p.add_argument("--name", default=None, help="results file stem (default: fracture_<case>)")
    args = parse_with_petsc(p, argv, model="fracture")
    check_output_folder(args.output)  # before the work
    if args.ell is not None and args.case != "sens":
        raise InputError("--ell is for --case sens (SENT keeps the benchmark's resolution)")

    from mpi4py import MPI

    from femgp.cli.cases import fracture_setup, notched_resolution
    from femgp.fem.io import atomic_write_text, versions
    from femgp.models.fracture import FractureModel, run
    from femgp.models.fracture.params import SOLVERS
    from femgp.models.fracture.setups import sent_loads

    comm = MPI.COMM_WORLD
    extra = {}
    if args.case == "sens":  # the resolution and load path of demos/fracture_sens.py
        res = notched_resolution("sens", fine=not args.quick, ell=args.ell)
        ell, h_band, loads = res["ell"], res["h_band"], res["loads"]
        extra["notch_width"] = res["notch_width"]
    elif args.quick:
        ell, h_band = 0.03, 0.01
        loads = sent_loads(u_max=7e-3, du=5e-4, u_fine=4.5e-3, du_fine=5e-5)
    else:
        ell, h_band = 0.015, 0.015 / 4
        loads = sent_loads(u_max=6.5e-3, du=1e-4, u_fine=4.5e-3, du_fine=1e-5)
    setup = fracture_setup(args.case, comm, ell=ell, h_band=h_band, loads=loads, **extra)
    base = setup.params
    other = next(s for s in SOLVERS if s != base.solver)
    configs = {
        "femgp": (base, "femgp_fracture_"),
        f"femgp-{other}": (replace(base, solver=other), f"femgp_fracture_{other}_"),
        "plain": (
            replace(
                base,
                solver="am",
                acceleration="none",
                predictor=False,
                linear_solver="direct",
                crack_run=False,
            ),
            "femgp_fracture_plain_",
        ),
    }
    # The plain approach assembles its Jacobians as DOLFINx does (cell by cell into PETSc).
    from petsc4py import PETSc

    from femgp.fem.adapt import collect_garbage
    from femgp.fem.problems import ASSEMBLY_OPTION

    for field in ("u", "alpha"):  # plain has no coupled problem
        PETSc.Options()[f"femgp_fracture_plain_{field}_{ASSEMBLY_OPTION}"] = "petsc"
    # Compile the forms of both configurations before any timing.
    # (the crack-run model too: its Gc is another constant in the kernels)
    coarse = setup.crack_run_mesh
    for params, prefix in configs.values():
        m = FractureModel(setup.mesh, params, setup.loading, prefix=prefix, crack_run_mesh=coarse)
        if m.crack_run is not None:
            m.crack_run.coarse_model(m)

    del m
    rows = []
    dofs: dict[str, int] = {}
    for name, (params, prefix) in configs.items():
        # the run before is gone (PETSc's parallel garbage too, collectively): its
        # memory is not in this run's peak
        collect_garbage(comm)
        comm.Barrier()
        own_peak = comm.allreduce(_reset_peak_memory(), op=MPI.LAND)
        load0 = os.getloadavg()[0]
        t0, c0 = time.perf_counter(), time.process_time()
        res = run(
            setup.mesh,
            params,
            setup.loading,
            prefix=prefix,
            show_progress=False,
            crack_run_mesh=coarse,
        )
        cpu = comm.allreduce(time.process_time() - c0, op=MPI.MAX)
        load = (load0, os.getloadavg()[0])
        if comm.rank == 0:
            print(f"{name}: {time.perf_counter() - t0:.1f} s, load average {load}", flush=True)
        if not dofs:  # the mesh's, from the first (femgp's) model
            V, Q = res.model.V, res.model.Q
            dofs = {
                "displacement_dofs": V.dofmap.index_map.size_global * V.dofmap.index_map_bs,
                "damage_dofs": Q.dofmap.index_map.size_global,
            }
        rows.append(_row(name, res, _memory_mb(comm), cpu, load))
        rows[-1]["peak_memory_of_this_run"] = own_peak
        del res

    a, b = rows[0], rows[-1]
    peak = abs(a["peak_force_kN"] / b["peak_force_kN"] - 1)
    dissipated = abs(a["dissipated_kN_mm"] / b["dissipated_kN_mm"] - 1)
    targets = [
        {
            "name": "wall time plain / femgp",
            "value": b["wall_time_s"] / a["wall_time_s"],
            "required": ">= 12",
            "pass": b["wall_time_s"] >= 12 * a["wall_time_s"],
        },
        {
            "name": "relative peak-force difference",
            "value": peak,
            "required": "<= 0.01",
            "pass": peak <= 0.01,
        },
        {
            "name": "relative dissipated-energy difference",
            "value": dissipated,
            "required": "<= 0.01",
            "pass": dissipated <= 0.01,
        },
        {
            "name": "AM iterations plain / femgp",
            "value": b["am_iterations"] / a["am_iterations"],
            "required": ">= 2",
            "pass": b["am_iterations"] >= 2 * a["am_iterations"],
        },
        {
            "name": "femgp wall time [s]",
            "value": a["wall_time_s"],
            "required": "< 600",
            "pass": a["wall_time_s"] < 600,
        },
    ]
    msh = setup.mesh.mesh
    info = {
        "case": args.case,
        "mode": "quick" if args.quick else "full",
        "description": (
            f"{args.case.upper()}: femgp's default solver against the plain FEniCSx approach "
            "on one mesh and load path."
        ),
        "command": " ".join(["mpirun", "-n", str(comm.size), "python", *sys.argv]),
        "ranks": comm.size,
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "ell": ell,
        "h_band": h_band,
        "cells": msh.topology.index_map(2).size_global,
        **dofs,
        "load_steps_requested": len(loads),
        "parameters": {k: str(v) for k, v in vars(base).items()},
        "versions": versions(),
        "runs": rows,
        "targets": targets,
    }
    if comm.rank == 0:
        out = Path(args.output)
        out.mkdir(parents=True, exist_ok=True)
        stem = (args.name or f"fracture_{args.case}") + ("_quick" if args.quick else "")
        atomic_write_text(out / f"{stem}.json", json.dumps(info, indent=2, default=str) + "\n")
        md = _markdown(info)
        atomic_write_text(out / f"{stem}.md", md)
        print(md)
    return 0


if __name__ == "__main__":
    sys.exit(script_main(main))
