"""Adaptive refinement against pre-refined meshes: SENT, SENS and the AT1 bar.

Each case is solved twice in one process, with the same material, ``ell``,
load steps and solver defaults:

- **fine**: the demo's pre-refined mesh (SENT/SENS: ``h_band`` along the
  expected crack path, coarser away from it; the bar: the coarse mesh refined
  uniformly to the adaptive size, cells ``ell / 4`` long, 8 across);
- **adapt**: a mesh of cells ``2 ell`` everywhere, refined during the load path
  where the damage or the driving force says (the bar: the damage passes 0.01,
  plus a zone of ``ell``; SENT, SENS and the slab: the demos' zone and lookahead,
  :func:`femgp.cli.cases.refinement_reach`) down to the same size as the fine band
  (:mod:`femgp.fem.adapt`, ``run(..., refinement=...)``).

Reported per run: wall and CPU time (max over ranks), the load average before
and after, load steps, AM / Newton / Krylov iterations, the peak force, the
dissipated (surface) energy at the end, the DOFs and cells at the start and
the end. Targets (issue 15): peak force within 2 %, dissipated energy within
3 %, at least 3x fewer DOFs at the end, faster in wall time.

Sizes: ``--quick`` (default resolution of the demos: SENT ell = 0.03 mm, SENS
ell = 0.05 mm, h = ell / 2.5), or ``--fine`` (the literature resolution, ell
= 0.015 mm, h = ell / 4; long). Results go to
``benchmarks/results/fracture_adapt[_quick].{json,md}`` (atomically).

``--cases sent3d`` (on its own) runs the 3D slab of ``demos/fracture_sent3d.py``
at its coarse default (ell = 0.05 mm, h = ell / 2.5 in the band, t = 0.1 mm,
17 load steps): the pre-refined band against ``--adapt`` (the band meshed at
``adaptive_coarse_size(h, ell, tdim=3)``, the same V-notch), and reports the
DOFs of the slab meshed at ``h`` everywhere (not solved) beside them. Results:
``benchmarks/results/fracture_adapt_sent3d.{json,md}``; a few minutes on 2 ranks.

Run:

    mpirun -n 2 python benchmarks/fracture_adapt.py --quick --cases bar sens
    mpirun -n 2 python benchmarks/fracture_adapt.py --fine
    mpirun -n 2 python benchmarks/fracture_adapt.py --cases sent3d
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from femgp.cli.args import (
    ArgumentParser,
    check_output_folder,
    number,
    parse_with_petsc,
    script_main,
)

HERE = Path(__file__).parent
CASES = ("bar", "sent", "sens")
CASES_3D = ("sent3d",)

#: argparse type of ``--threshold``: a damage value strictly between 0 and 1.
FRACTION = number(float, lambda v: 0.0 < v < 1.0, "a number in (0, 1)")


def _cpu(comm: Any) -> float:
    from mpi4py import MPI

    return comm.allreduce(time.process_time(), op=MPI.MAX)


def _bar(comm: Any, adapt: bool, threshold: float | None) -> tuple[Any, Any, Any]:
    from femgp.fem.adapt import Refinement
    from femgp.fem.meshes.fracture import bar as bar_mesh
    from femgp.models.fracture.setups import bar

    ell, height = 0.1, 0.02
    probe = bar(comm, model="AT1", h=0.2, height=height, clamp_damage=True)
    u_c = probe.params.crack.critical_strain(probe.info["E_eff"])
    loads = [u_c * v for v in (0.3, 0.6, 0.9)]
    loads += [u_c * (0.9 + 0.0071 * k) for k in range(1, 21)]
    loads += [u_c * v for v in (1.1, 1.25, 1.4, 1.6)]
    # alternate minimisation: see tests/fracture/test_fracture_adapt_run.py on Newton here
    s = bar(
        comm,
        model="AT1",
        h=0.2,
        height=height,
        clamp_damage=True,
        loads=loads,
        solver="am",
        predictor=False,
    )
    tm = bar_mesh(comm, length=1.0, height=height, h=2 * ell, quadrilateral=False)
    h_min = math.sqrt(ell / 4 * height / 8) * (1 + 1e-9)  # the size of ell/4 x height/8 cells
    if not adapt:  # the coarse mesh refined uniformly to the adaptive size: 640 cells
        import numpy as np

        from femgp.fem.adapt import refine_tagged

        for _ in range(3):
            n = tm.mesh.topology.index_map(tm.mesh.topology.dim).size_local
            tm, _ = refine_tagged(tm, np.arange(n, dtype=np.int32))
    # by the damage alone: the driving force of the homogeneous bar reaches its
    # critical value everywhere at once, and would refine the whole bar
    ref = (
        Refinement(adapt=True, h_min=h_min, zone=ell, driving_ratio=0.0, threshold=threshold)
        if adapt
        else None
    )
    return tm, s, ref


def _notched(
    comm: Any, case: str, adapt: bool, fine: bool, threshold: float | None
) -> tuple[Any, Any, Any]:
    from femgp.cli.cases import fracture_setup, notched_resolution, refinement_reach
    from femgp.fem.adapt import Refinement

    res = notched_resolution(case, fine=fine, adapt=adapt)
    target = res.pop("h_target", None)
    s = fracture_setup(case, comm, **res)
    ref = None
    if adapt:
        ref = Refinement(
            adapt=True, h_min=target, threshold=threshold, **refinement_reach(res["ell"])
        )
    return s.mesh, s, ref


#: The 3D slab's length scale and band size (``demos/fracture_sent3d.py``'s coarse default).
SENT3D_ELL = 0.05
SENT3D_H = SENT3D_ELL / 2.5


def _sent3d_setup(comm: Any, h_band: float, notch_width: float, **options: Any) -> Any:
    from femgp.cli.cases import fracture_setup
    from femgp.models.fracture.setups import sent_loads

    loads = sent_loads(u_max=8e-3, du=1e-3, u_fine=5e-3, du_fine=2.5e-4)
    return fracture_setup(
        "sent3d",
        comm,
        ell=SENT3D_ELL,
        h_band=h_band,
        thickness=0.1,
        notch_width=notch_width,
        loads=loads,
        **options,
    )


def _sent3d(comm: Any, adapt: bool, threshold: float | None) -> tuple[Any, Any, Any]:
    from femgp.cli.cases import adaptive_coarse_size, refinement_reach
    from femgp.fem.adapt import Refinement

    ell, h = SENT3D_ELL, SENT3D_H
    if not adapt:
        s = _sent3d_setup(comm, h, 2 * h)
        return s.mesh, s, None
    s = _sent3d_setup(comm, adaptive_coarse_size(h, ell, tdim=3), 2 * h)
    ref = Refinement(adapt=True, h_min=h, threshold=threshold, **refinement_reach(ell))
    return s.mesh, s, ref


def _uniform_sent3d_dofs(comm: Any) -> dict[str, int]:
    """The DOFs (3 displacement + 1 damage per vertex) of the slab meshed at h everywhere."""
    from femgp.fem.meshes.fracture3d import notched_slab

    h = SENT3D_H
    tm = notched_slab(comm, h_band=h, h_far=h, thickness=0.1, notch_width=2 * h)
    topo = tm.mesh.topology
    return {
        "cells": int(topo.index_map(3).size_global),
        "dofs": 4 * int(topo.index_map(0).size_global),
    }


def _one(
    comm: Any, case: str, adapt: bool, fine: bool, threshold: float | None = None
) -> dict[str, Any]:
    from femgp.fem.adapt import num_cells
    from femgp.models.fracture import run

    if case == "bar":
        tm, s, ref = _bar(comm, adapt, threshold)
    elif case == "sent3d":
        tm, s, ref = _sent3d(comm, adapt, threshold)
    else:
        tm, s, ref = _notched(comm, case, adapt, fine, threshold)
    cells0 = num_cells(tm.mesh)
    load = os.getloadavg()[0]
    cpu0 = _cpu(comm)
    t0 = time.perf_counter()
    res = run(tm, s.params, s.loading, refinement=ref, show_progress=False, plots=False)
    wall = time.perf_counter() - t0
    dofs = res.column("dofs")
    return {
        "case": case,
        "mesh": "adapt" if adapt else "fine",
        "wall_time_s": wall,
        "cpu_time_s": _cpu(comm) - cpu0,
        "load_average_before_after": (load, os.getloadavg()[0]),
        "load_steps": res.steps,
        "am_iterations": res.am_iterations,
        "newton": res.newton,
        "krylov": res.krylov,
        "cutbacks": res.cutbacks,
        "peak_force": res.peak_reaction,
        "dissipated": float(res.column("surface")[-1]),
        "dofs_start": int(dofs[0]),
        "dofs_end": int(dofs[-1]),
        "cells_start": cells0,
        "cells_end": num_cells(res.model.mesh),
        "status": res.status,
        "threshold": None if ref is None else ref.threshold,
    }


def _compare(fine: dict[str, Any], ada: dict[str, Any]) -> dict[str, Any]:
    peak = ada["peak_force"] / fine["peak_force"] - 1
    energy = ada["dissipated"] / fine["dissipated"] - 1
    ratio = fine["dofs_end"] / ada["dofs_end"]
    speed = fine["wall_time_s"] / ada["wall_time_s"]
    return {
        "case": fine["case"],
        "peak_force_rel": peak,
        "dissipated_rel": energy,
        "dofs_ratio_end": ratio,
        "wall_speedup": speed,
        "targets_met": {
            "peak_within_2pct": abs(peak) <= 0.02,
            "energy_within_3pct": abs(energy) <= 0.03,
            "dofs_3x_fewer": ratio >= 3,
            "faster": speed > 1,
        },
    }


def _markdown(out: dict[str, Any]) -> str:
    lines = [
        f"# Adaptive refinement against pre-refined meshes ({out['size']})",
        "",
        f"{out['ranks']} rank(s); written by `benchmarks/fracture_adapt.py`.",
        "",
        "| case | mesh | wall s | cpu s | load avg | steps | AM | Newton | Krylov | peak force "
        "| dissipated | DOFs start | DOFs end | cells end |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in out["runs"]:
        la = "/".join(f"{v:.1f}" for v in r["load_average_before_after"])
        lines.append(
            f"| {r['case']} | {r['mesh']} | {r['wall_time_s']:.1f} | {r['cpu_time_s']:.1f} | {la} "
            f"| {r['load_steps']} | {r['am_iterations']} | {r['newton']} | {r['krylov']} "
            f"| {r['peak_force']:.5g} | {r['dissipated']:.5g} | {r['dofs_start']} "
            f"| {r['dofs_end']} | {r['cells_end']} |"
        )
    if "uniform" in out:
        u = out["uniform"]
        lines += [
            "",
            f"The 3D slab meshed at the band's size everywhere (not solved): {u['cells']} "
            f"tetrahedra, {u['dofs']} DOFs.",
        ]
    lines += [
        "",
        "| case | peak force (adapt/fine - 1) | dissipated (adapt/fine - 1) | DOFs fine/adapt "
        "at the end | wall fine/adapt | targets met |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for c in out["comparison"]:
        met = ", ".join(k for k, v in c["targets_met"].items() if v) or "none"
        missed = ", ".join(k for k, v in c["targets_met"].items() if not v)
        missed = f"; missed: {missed}" if missed else ""
        lines.append(
            f"| {c['case']} | {100 * c['peak_force_rel']:+.2f} % | "
            f"{100 * c['dissipated_rel']:+.2f} % | {c['dofs_ratio_end']:.2f} | "
            f"{c['wall_speedup']:.2f} | met: {met}{missed} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    p = ArgumentParser(prog="fracture_adapt.py", description=__doc__.splitlines()[0])
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="the demos' default resolution")
    size.add_argument("--fine", action="store_true", help="the literature resolution (long)")
    p.add_argument(
        "--cases", nargs="+", choices=CASES + CASES_3D, default=list(CASES),
        help="cases to run (sent3d: the 3D slab, on its own)",
    )  # fmt: skip
    p.add_argument("--output", default=None, help="results folder (default benchmarks/results)")
    p.add_argument(
        "--threshold", type=FRACTION, default=None,
        help="damage that marks a cell (default: the model's, 0.01 for AT1 and 0.25 for AT2)",
    )  # fmt: skip
    args = parse_with_petsc(p, argv, model="fracture")
    if args.output is not None:
        check_output_folder(args.output)  # before the work
    three_d = "sent3d" in args.cases
    if three_d and (len(args.cases) > 1 or args.fine):
        p.error("--cases sent3d runs on its own, at the demo's coarse default (no --fine)")

    from mpi4py import MPI

    from femgp.fem.io import atomic_write_text

    comm = MPI.COMM_WORLD
    label = "fine" if args.fine else "quick"
    folder = Path(args.output) if args.output else HERE / "results"
    stem = "fracture_adapt" + ("" if args.fine else "_quick")
    extra: dict[str, Any] = {}
    if three_d:
        label, stem = "3D slab, coarse default", "fracture_adapt_sent3d"
        extra["uniform"] = _uniform_sent3d_dofs(comm)
    runs, comparison = [], []
    for case in args.cases:
        pair = [_one(comm, case, adapt, args.fine, args.threshold) for adapt in (False, True)]
        runs += pair
        comparison.append(_compare(*pair))
        out = {"size": label, "ranks": comm.size, "runs": runs, "comparison": comparison, **extra}
        if comm.rank == 0:  # after every case, so that a long run keeps what it finished
            c = comparison[-1]
            print(
                f"{case}: peak {100 * c['peak_force_rel']:+.2f} %, dissipated "
                f"{100 * c['dissipated_rel']:+.2f} %, DOFs fine/adapt {c['dofs_ratio_end']:.2f}, "
                f"wall fine/adapt {c['wall_speedup']:.2f}",
                flush=True,
            )
            folder.mkdir(parents=True, exist_ok=True)
            atomic_write_text(folder / f"{stem}.json", json.dumps(out, indent=1) + "\n")
            atomic_write_text(folder / f"{stem}.md", _markdown(out))
    if comm.rank == 0:
        print(f"results in {folder / stem}.json and .md")
    return 0


if __name__ == "__main__":
    sys.exit(script_main(main))
