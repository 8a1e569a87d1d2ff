"""SENS at the literature resolution: the whole load path of ``demos/fracture_sens.py --fine``.

Single-edge notched shear (Miehe, Hofacker, Welschinger 2010) with AT2 and the
spectral split, ell = 0.015 mm, h = ell / 4 along the crack path (91,383
dofs), 160 load steps of 1e-4 mm, with femgp's defaults. The plain approach is
out of reach at this resolution on two cores (more than an hour), so this
benchmark times femgp alone; ``benchmarks/fracture_sent.py --case sens``
compares with the plain approach at a coarser ell.

Targets (issue 12): the whole path in under 10 minutes on 2 ranks; the largest
per-step iteration count is reported. Reported besides: the time to the peak
and of the growth steps, AM / Newton / Krylov iterations, the coupled Newton
solves that failed, the steps that took longest, peak memory, the load average
before and after, the peak force and the dissipated energy.
Results go to ``benchmarks/results/fracture_sens_fine.{json,md}`` (atomically; the
JSON holds every step's iterations and wall time);
the demo's own output (``history.csv``, ``fields.xdmf``, ``crack.png``) to
``--run-dir``.

Run (about 15 minutes on 2 cores):

    mpirun -n 2 python benchmarks/fracture_sens_fine.py
    python benchmarks/fracture_sens_fine.py --from-run results/sens_fine  # summarise a run
"""

from __future__ import annotations

import csv
import itertools
import json
import os
import resource
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from femgp.cli.args import ArgumentParser, check_output_folder, parse_with_petsc, script_main
from femgp.errors import InputError

HERE = Path(__file__).parent
#: The issue's target for the whole path (s).
TARGET_S = 600.0


#: The history columns the summary reads.
COLUMNS = (
    "step", "load", "wall_time", "reaction", "surface", "am_iterations", "newton", "krylov",
    "cutbacks",
)  # fmt: skip


def _run_meta(run_dir: Path) -> dict[str, Any]:
    """``run_dir/run.json`` (an empty record if there is none), checked to be a record."""
    path = run_dir / "run.json"
    if not path.is_file():
        return {}
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"--from-run {path}: not a run.json ({exc})") from None
    if not isinstance(meta, dict):
        raise InputError(f"--from-run {path}: not a run.json (a {type(meta).__name__})")
    return meta


def _history(run_dir: Path) -> list[dict[str, float]]:
    """The rows of a fracture run's ``history.csv``, checked to be one."""
    path = run_dir / "history.csv"
    if not path.is_file():
        raise InputError(f"--from-run {run_dir}: no history.csv there (run the demo first)")
    model = _run_meta(run_dir).get("model")
    if model is not None and model != "fracture":
        raise InputError(f"--from-run {run_dir}: results of model {model!r}, not of fracture")
    with path.open() as f:
        reader = csv.DictReader(f)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or ())]
        if missing:
            raise InputError(f"--from-run {path}: no column {', '.join(missing)}")
        rows = []
        for line, row in enumerate(reader, start=2):
            try:
                rows.append({k: float(v) for k, v in row.items()})
            except (TypeError, ValueError):
                raise InputError(f"--from-run {path}, line {line}: not all numbers") from None
    return rows


def summarise(rows: list[dict[str, float]], status: str) -> dict[str, Any]:
    """The summary of a SENS run from its ``history.csv`` rows (step 0 first)."""
    steps = rows[1:]
    if not steps:
        raise InputError("history.csv holds no load step")
    wall = [r["wall_time"] for r in rows]
    timed = [(b - a, r) for (a, b), r in zip(itertools.pairwise(wall), steps, strict=True)]
    peak = max(steps, key=lambda r: r["reaction"])
    k_peak = int(peak["step"])
    slowest = sorted(timed, key=lambda z: -z[0])[:5]
    most_am = max(steps, key=lambda r: r["am_iterations"])
    most_newton = max(steps, key=lambda r: r["newton"])
    return {
        "wall_s": wall[-1],
        "to_peak_s": sum(t for t, r in timed if r["step"] <= k_peak),
        "after_peak_s": sum(t for t, r in timed if r["step"] > k_peak),
        "steps": len(steps),
        "am_iterations": int(sum(r["am_iterations"] for r in steps)),
        "newton": int(sum(r["newton"] for r in steps)),
        "krylov": int(sum(r["krylov"] for r in steps)),
        "cutbacks": int(sum(r["cutbacks"] for r in steps)),
        "peak_kN": peak["reaction"],
        "peak_step": k_peak,
        "max_am": int(most_am["am_iterations"]),
        "max_am_step": int(most_am["step"]),
        "max_newton": int(most_newton["newton"]),
        "max_newton_step": int(most_newton["step"]),
        "slowest_steps": [
            {
                "step": int(r["step"]),
                "wall_s": t,
                "am": int(r["am_iterations"]),
                "newton": int(r["newton"]),
            }
            for t, r in slowest
        ],
        "dissipated_kN_mm": steps[-1]["surface"],
        "dofs": int(steps[-1].get("dofs", 0)),
        "status": status,
        "per_step": [
            {
                "step": int(r["step"]),
                "load": r["load"],
                "reaction": r["reaction"],
                "am": int(r["am_iterations"]),
                "newton": int(r["newton"]),
                "krylov": int(r["krylov"]),
                "wall_s": t,
            }
            for t, r in timed
        ],
        "target_s": TARGET_S,
        "target_met": status == "finished" and wall[-1] < TARGET_S,
    }


def markdown(info: dict[str, Any]) -> str:
    """The results page of :func:`summarise`'s figures."""
    s = info["summary"]
    verdict = "met" if s["target_met"] else "**not met**"
    la = info["load_average"]
    load = "not recorded" if la is None else f"{la[0]:.1f}/{la[1]:.1f}"
    slow = ", ".join(
        f"{z['step']} ({z['wall_s']:.1f} s, {z['am']} AM, {z['newton']} Newton)"
        for z in s["slowest_steps"]
    )
    lines = [
        "# SENS --fine, whole path",
        "",
        f"Written by `benchmarks/fracture_sens_fine.py`: `{info['command']}`, {info['date']}, "
        f"{info['ranks']} rank(s); load average (1 min) before/after: {load} on "
        f"{os.cpu_count()} cores. Per-step figures: `fracture_sens_fine.json` (`per_step`).",
        "",
        "| | value |",
        "|---|---|",
        f"| wall time, whole path | **{s['wall_s']:.1f} s** (target < {s['target_s']:.0f} s: "
        f"{verdict}) |",
        f"| steps to the peak (1-{s['peak_step']}) | {s['to_peak_s']:.1f} s |",
        f"| steps after the peak | {s['after_peak_s']:.1f} s |",
        f"| load steps / cutbacks | {s['steps']} / {s['cutbacks']} |",
        f"| AM / Newton (u + alpha + coupled) / Krylov iterations | {s['am_iterations']} / "
        f"{s['newton']} / {s['krylov']} |",
        f"| largest per-step AM count | {s['max_am']} (step {s['max_am_step']}) |",
        f"| largest per-step Newton count | {s['max_newton']} (step {s['max_newton_step']}) |",
        f"| slowest steps | {slow} |",
        f"| peak reaction | {s['peak_kN']:.5f} kN at step {s['peak_step']} |",
        f"| dissipated energy at the end | {s['dissipated_kN_mm']:.5g} kN mm |",
        f"| dofs | {s['dofs']} |",
        "| peak memory (max over ranks) | "
        + ("not recorded" if info["peak_memory_mb"] is None else f"{info['peak_memory_mb']:.0f} MB")
        + " |",
        f"| status | {s['status']} |",
        "",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = ArgumentParser(description="SENS --fine: femgp's defaults over the whole load path")
    p.add_argument("--output", default=str(HERE / "results"), help="folder of the results")
    p.add_argument(
        "--run-dir", default="results/sens_fine_benchmark",
        help="where the demo writes its own output (replaced)",
    )  # fmt: skip
    p.add_argument("--from-run", default=None, help="summarise this finished run instead")
    args = parse_with_petsc(p, argv, model="fracture")
    check_output_folder(args.output)  # before the work

    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    load0 = os.getloadavg()[0]
    if args.from_run is None:
        from femgp.cli.cases import run_notched_demo
        from femgp.cli.fracture import parse_fracture_args

        run_dir = Path(args.run_dir)
        demo = parse_fracture_args(
            "sens", ["--fine", "--quiet", "--overwrite", "--output", str(run_dir)]
        )
        _, _, result = run_notched_demo("sens", demo)
        status = result.status
        command = " ".join(["mpirun", "-n", str(comm.size), "python", *sys.argv])
        ranks = comm.size
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB
        memory = comm.allreduce(rss, op=MPI.MAX)
    else:
        run_dir = Path(args.from_run)
        meta = _run_meta(run_dir)
        status = meta.get("status", "unknown")
        ranks = int(meta.get("ranks", 0))
        command = (
            f"mpirun -n {ranks} python demos/fracture_sens.py --fine --output DIR; "
            "python benchmarks/fracture_sens_fine.py --from-run DIR"
        )
        memory = None  # not recorded by the demo
    rows = _history(run_dir)  # on every rank: a bad folder stops all of them
    if comm.rank == 0:
        from femgp.fem.io import atomic_write_text

        info = {
            "command": command,
            "date": time.strftime("%Y-%m-%d %H:%M:%S"),
            "ranks": ranks,
            "load_average": None if args.from_run else (load0, os.getloadavg()[0]),
            "peak_memory_mb": memory,
            "summary": summarise(rows, status),
        }
        out = Path(args.output)
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out / "fracture_sens_fine.json", json.dumps(info, indent=2) + "\n")
        md = markdown(info)
        atomic_write_text(out / "fracture_sens_fine.md", md)
        print(md)
    return 0


if __name__ == "__main__":
    sys.exit(script_main(main))
