"""Jacobian assembly: femgp's CSR path against DOLFINx's PETSc assembly, on the models' own forms.

For each Jacobian below, the same compiled form is assembled into two PETSc
matrices made by DOLFINx: one by DOLFINx's ``assemble_matrix`` (cell by cell
into PETSc, ``zeroEntries`` before and ``assemble`` after, as DOLFINx's SNES
callback does) and one by :class:`femgp.fem.assembly.CSRAssembler` (DOLFINx's
CSR matrix, then one ``MatSetValuesCOO``). Both include the Dirichlet rows and
the coefficient packing; neither includes the residual. The two are timed in
alternation, ``--repeats`` rounds of ``--batch`` assemblies each, and the
median round is reported (max over ranks, per assembly), with the relative
Frobenius difference of the two matrices.

Jacobians:

- ``fracture_u``: the displacement Jacobian of the SENT benchmark's model
  (AT2, spectral split, P1, h = ell/4 in the band) at a smooth damage and
  displacement;
- ``fracture_alpha``: its damage Jacobian;
- ``cahn_hilliard``: the mixed (c, mu) Jacobian of the PFHub 1 Cahn-Hilliard
  model (Q1 x Q1, ``--ch-cells`` per side).

Block systems (the twinning model's monolithic problem, the fracture model's
coupled one) keep DOLFINx's assembly and are not measured.

Run (a minute):

    python benchmarks/assembly.py
    mpirun -n 2 python benchmarks/assembly.py

Results: ``benchmarks/results/assembly_<ranks>rank.{json,md}`` (atomically).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from femgp.cli import args as cli

RESULTS = Path(__file__).resolve().parent / "results"


def parse_args(argv: Sequence[str] | None) -> Any:
    parser = cli.ArgumentParser(prog="assembly benchmark", description=__doc__)
    parser.add_argument("--results", default=str(RESULTS), help="folder of the result files")
    parser.add_argument("--repeats", type=cli.positive_int, default=7, help="rounds per path")
    parser.add_argument("--batch", type=cli.positive_int, default=20, help="assemblies per round")
    parser.add_argument("--ch-cells", type=cli.positive_int, default=160, help="CH cells/side")
    return cli.parse_with_petsc(parser, argv)


def _fracture(comm: Any) -> list[tuple[str, Any, Any]]:
    """The SENT model's u and alpha Jacobians at a smooth state: (name, form, bcs)."""
    import numpy as np

    from femgp.cli.cases import fracture_setup
    from femgp.models.fracture import FractureModel
    from femgp.models.fracture.setups import sent_loads

    loads = sent_loads(u_max=6.5e-3, du=1e-4, u_fine=4.5e-3, du_fine=1e-5)
    setup = fracture_setup("sent", comm, ell=0.015, h_band=0.015 / 4, loads=loads)
    model = FractureModel(setup.mesh, setup.params, setup.loading, prefix="bench_asm_")
    model.set_load(4e-3)
    model.u.interpolate(lambda x: np.vstack([1e-3 * x[0] * x[1], 4e-3 * x[1]]))
    model.alpha.interpolate(lambda x: 0.5 * np.exp(-np.abs(x[1] - 0.5) / 0.015))
    return [
        (name, prob.J, prob.bcs)
        for name, prob in (("fracture_u", model.u_problem), ("fracture_alpha", model.alpha_problem))
    ]


def _cahn_hilliard(comm: Any, cells: int) -> list[tuple[str, Any, Any]]:
    from femgp.fem.meshes.pfhub import square
    from femgp.models import cahn_hilliard as ch

    domain = square(comm, n=cells, size=200.0).mesh
    model = ch.CahnHilliard(domain, ch.Params())
    model.set_initial(ch.pfhub_initial_for(domain))
    prob = model.problem
    return [("cahn_hilliard", prob.J, prob.bcs)]


def _round_timer(comm: Any, fn: Callable[[], None], batch: int) -> Callable[[], float]:
    """One timed round of ``batch`` calls: seconds per call, max over ranks."""
    from mpi4py import MPI

    def round_() -> float:
        comm.Barrier()
        t0 = time.perf_counter()
        for _ in range(batch):
            fn()
        return comm.allreduce((time.perf_counter() - t0) / batch, op=MPI.MAX)

    return round_


def measure(comm: Any, name: str, form: Any, bcs: Any, args: Any) -> dict[str, Any]:
    """Time both paths on one Jacobian, alternating rounds; check the matrices agree."""
    import statistics

    import dolfinx.fem.petsc
    from petsc4py import PETSc

    from femgp.fem.assembly import CSRAssembler

    bcs = list(bcs or [])
    A_petsc = dolfinx.fem.petsc.create_matrix(form)
    A_csr = dolfinx.fem.petsc.create_matrix(form)
    assembler = CSRAssembler(form, A_csr)

    def petsc() -> None:
        A_petsc.zeroEntries()
        dolfinx.fem.petsc.assemble_matrix(A_petsc, form, bcs, diag=1.0)
        A_petsc.assemble()

    def csr() -> None:
        assembler.assemble(bcs)

    petsc(), csr()  # first calls: allocation, not timed
    rounds = {"petsc": [], "csr": []}
    timers = {
        "petsc": _round_timer(comm, petsc, args.batch),
        "csr": _round_timer(comm, csr, args.batch),
    }
    for _ in range(args.repeats):
        for key, timer in timers.items():
            rounds[key].append(timer())
    scale = A_petsc.norm()
    diff = A_csr.copy()
    diff.axpy(-1.0, A_petsc)
    dofs = form.function_spaces[0].dofmap.index_map.size_global
    dofs *= form.function_spaces[0].dofmap.index_map_bs
    t_petsc = statistics.median(rounds["petsc"])
    t_csr = statistics.median(rounds["csr"])
    return {
        "jacobian": name,
        "dofs": int(dofs),
        "nonzeros": int(A_petsc.getInfo(PETSc.Mat.InfoType.GLOBAL_SUM)["nz_used"]),
        "petsc_ms": 1e3 * t_petsc,
        "csr_ms": 1e3 * t_csr,
        "speedup": t_petsc / t_csr,
        "petsc_rounds_ms": [1e3 * t for t in rounds["petsc"]],
        "csr_rounds_ms": [1e3 * t for t in rounds["csr"]],
        "relative_difference": diff.norm() / scale if scale else 0.0,
    }


COLUMNS = (
    ("jacobian", "Jacobian", "{}"),
    ("dofs", "dofs", "{}"),
    ("nonzeros", "nonzeros", "{}"),
    ("petsc_ms", "DOLFINx PETSc [ms]", "{:.2f}"),
    ("csr_ms", "femgp CSR [ms]", "{:.2f}"),
    ("speedup", "speed-up", "{:.2f}"),
    ("relative_difference", "difference", "{:.1e}"),
)


def markdown(rows: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    """The results as a markdown page."""
    lines = [
        "# Jacobian assembly benchmark",
        "",
        "Time per Jacobian assembly (median of the rounds, max over ranks) by DOLFINx's PETSc "
        "assembly and by femgp's CSR path (`femgp.fem.assembly.CSRAssembler`), the same "
        "compiled form and Dirichlet conditions; difference = relative Frobenius norm of "
        "the difference of the two matrices.",
        "",
        f"Command: `{meta['command']}` on {meta['ranks']} rank(s), {meta['date']}; "
        f"{meta['repeats']} alternating rounds of {meta['batch']} assemblies per path. "
        f"Load average (1 min) before/after: {meta['load'][0]:.1f}/{meta['load'][1]:.1f} "
        f"on {os.cpu_count()} cores.",
        "",
        "| " + " | ".join(c[1] for c in COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    for r in rows:
        lines.append("| " + " | ".join(f.format(r[k]) for k, _, f in COLUMNS) + " |")
    lines.append("")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    cli.check_output_folder(args.results, option="--results")  # before the work
    from mpi4py import MPI

    from femgp.fem.io import atomic_write_text, versions

    comm = MPI.COMM_WORLD
    load0 = os.getloadavg()[0]
    jacobians = [
        *_fracture(comm),
        *_cahn_hilliard(comm, args.ch_cells),
    ]
    rows = []
    for name, form, bcs in jacobians:
        row = measure(comm, name, form, bcs, args)
        rows.append(row)
        if comm.rank == 0:
            print(
                f"{name}: {row['dofs']} dofs, petsc {row['petsc_ms']:.2f} ms, "
                f"csr {row['csr_ms']:.2f} ms ({row['speedup']:.2f}x)",
                flush=True,
            )
    meta = {
        "ranks": comm.size,
        "repeats": args.repeats,
        "batch": args.batch,
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "load": (load0, os.getloadavg()[0]),
        "versions": versions(),
        "command": (f"mpirun -n {comm.size} " if comm.size > 1 else "")
        + " ".join(["python", "benchmarks/assembly.py", *(sys.argv[1:] if argv is None else argv)]),
    }
    if comm.rank == 0:
        folder = Path(args.results)
        folder.mkdir(parents=True, exist_ok=True)
        stem = f"assembly_{comm.size}rank"
        payload = {"meta": meta, "rows": rows}
        atomic_write_text(folder / f"{stem}.json", json.dumps(payload, indent=2) + "\n")
        text = markdown(rows, meta)
        atomic_write_text(folder / f"{stem}.md", text)
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(cli.script_main(main))
