# # Single-edge notched tension in 3D (SENT with thickness)
#
# The SENT plate of Miehe, Hofacker and Welschinger (CMAME 199, 2010) given a
# thickness: a 1 mm × 1 mm × t slab with a V-notch from the middle of its left
# face to its centre, through the whole thickness. The bottom face is fixed,
# the top face pulled up; a crack runs from the notch front to the right face.
# Unlike the plane-strain demo (``demos/fracture_sent.py``) the front and back
# faces are free, so the crack front can bow through the thickness.
#
# The material is the same steel-like one, in mm and kN: E = 210 kN/mm²,
# nu = 0.3, Gc = 2.7e-3 kN/mm, AT2 with Miehe's spectral split,
#
#     E(u, alpha) = ∫ a(alpha) psi_+(eps(u)) + psi_-(eps(u))
#                   + Gc/c_w (w(alpha)/ell + ell |grad alpha|^2) dx,
#
# psi_± = lambda/2 <tr eps>_±² + mu sum_i <eps_i>_±² over the three principal
# strains. femgp computes them in closed form (Cardano's trigonometric roots of
# the invariants, :mod:`femgp.energy.elasticity`), regularised so that the
# Jacobian stays finite where two or three principal strains coincide, which
# they do everywhere at the start (zero strain) and along the free faces.
#
# Each load step starts as an over-relaxed alternate minimisation with the
# iterative solvers: elasticity by CG + GAMG with the six rigid-body modes of 3D
# as near-nullspace, damage by PETSc's reduced-space VI Newton with CG + Jacobi,
# under the bounds alpha_prev <= alpha <= 1. A step still unconverged after 12
# iterations is handed to a Newton solve of the coupled (u, alpha) problem
# (``--solver``, ``--newton-after``; docs/fracture.md).
#
# Run it (coarse default: under a minute on 2 ranks, about 20 s on an idle machine):
#
#     mpirun -n 2 python demos/fracture_sent3d.py --output results/sent3d
#
# The coarse default uses ell = 0.05 mm, h = ell / 2.5 in the band ahead of the
# notch and t = 0.1 mm (about 8e3 tetrahedra); ``--fine`` uses ell = 0.03 mm,
# h = ell / 4 (about 9e4 tetrahedra estimated: a workstation run). ``--quick`` takes
# three coarse steps (the demo test). ``history.csv`` holds the vertical force on
# the top face in kN against the top displacement in mm; divide it by the
# thickness to compare with the plane-strain demo's kN/mm. ``fields.xdmf``
# holds damage and displacement for ParaView (Xdmf3 reader; a Threshold on
# ``damage > 0.9`` shows the crack surface); ``run.json`` records, besides the
# parameters and totals, the peak resident memory (``peak_memory_mb``).

from __future__ import annotations

import resource
import sys
from collections.abc import Sequence
from typing import Any

from femgp.cli import args as cli
from femgp.cli.fracture import add_fracture_options, summary


def record_peak_memory(folder: str, comm: Any) -> dict[str, float]:
    """Add the peak resident memory (MB; largest rank and sum of ranks) to ``run.json``."""
    import json
    from pathlib import Path

    from mpi4py import MPI

    from femgp.fem.io import atomic_write_text

    mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: kB
    mem = {"max_rank": comm.allreduce(mb, op=MPI.MAX), "total": comm.allreduce(mb, op=MPI.SUM)}
    if comm.rank == 0:
        path = Path(folder) / "run.json"
        info = json.loads(path.read_text())
        info["peak_memory_mb"] = mem
        atomic_write_text(path, json.dumps(info, indent=2, default=str) + "\n")
    return mem


def main(argv: Sequence[str] | None = None) -> int:
    p = cli.ArgumentParser(description="Single-edge notched tension in 3D (a slab of thickness t)")
    add_fracture_options(p, default_output="results/fracture_sent3d")
    p.add_argument(
        "--thickness", type=cli.positive_float, default=0.1, help="slab thickness in mm (0.1)"
    )
    p.add_argument("--quick", action="store_true", help="three coarse load steps (tests)")
    args = cli.parse_with_petsc(p, argv, model="fracture")

    # Import the finite-element layer once the arguments are known to be good.
    from femgp.cli.cases import (
        adaptive_coarse_size,
        fracture_setup,
        fracture_start,
        refinement_for,
    )
    from femgp.cli.fracture import headline
    from femgp.models.fracture import run
    from femgp.models.fracture.setups import sent_loads

    comm, options, params = fracture_start(args)

    # ## Resolution and load path
    # The band ahead of the notch is meshed with h = ell / 2.5 (coarse) or
    # ell / 4 (fine). The top displacement grows by large steps while the
    # response is elastic, then by small ones through the peak and the crack's run.
    if args.fine:
        ell = params.pop("ell", 0.03)
        h_band = ell / 4
        loads = sent_loads(u_max=9e-3, du=5e-4, u_fine=5e-3, du_fine=5e-5)
    else:
        ell = params.pop("ell", 0.05)
        h_band = ell / 2.5
        loads = sent_loads(u_max=8e-3, du=1e-3, u_fine=5e-3, du_fine=2.5e-4)
    if args.quick:
        loads = loads[:3]
    # ``--adapt``: the band meshed at about 1.6 ell (h_band times a power of two,
    # over 1.2 for tetrahedra), refined to h_band where the damage appears or the
    # driving force nears its critical value. The
    # V-notch is ``2 h_band`` wide at the face either way: both runs model one slab.
    refinement = refinement_for(args, ell, h_min=h_band)
    notch_width = 2 * h_band
    if refinement is not None:
        h_band = adaptive_coarse_size(refinement.target(ell), ell, tdim=3)

    # ## The slab
    # gmsh builds the notched slab on rank 0 (OpenCASCADE: the notched plate
    # extruded by the thickness) and DOLFINx distributes it. Its facet groups
    # are ``bottom``, ``top``, ``left``, ``right``, ``back``, ``front`` and
    # ``notch``; the tetrahedron count is estimated before meshing, and a
    # resolution that would not fit (``--max-cells``) is refused. The set-up
    # (bottom face fixed, top face pulled with ``u_x = 0``, AT2 with the 3D
    # spectral split) is :func:`femgp.models.fracture.setups.notched_tension_3d`.
    setup = fracture_setup(
        "sent3d",
        comm,
        ell=ell,
        h_band=h_band,
        thickness=args.thickness,
        notch_width=notch_width,
        loads=loads,
        max_cells=args.max_cells,
        **params,
    )
    n_cells = setup.mesh.mesh.topology.index_map(3).size_global
    if comm.rank == 0:
        head = headline(setup, comm.size, unit="mm")
        print(f"{head}, t = {args.thickness:g} mm, {n_cells} tetrahedra")

    # ## The load path
    # ``run`` solves every load step (cutting a failing one back) and writes
    # ``fields.xdmf``, ``history.csv``, ``run.json`` and the PNGs to ``--output``.
    result = run(
        setup.mesh,
        setup.params,
        setup.loading,
        **options,
        **setup.run_options,
        refinement=refinement,
    )
    mem = record_peak_memory(args.output, comm)
    if comm.rank == 0:
        print(summary(result, unit="kN"))
        print(
            f"peak force per thickness {result.peak_reaction / args.thickness:.4g} kN/mm; peak "
            f"memory {mem['max_rank']:.0f} MB (largest rank), {mem['total']:.0f} MB (all ranks)"
        )
        print(f"results in {args.output}/ (fields.xdmf for ParaView, history.csv, run.json)")
    return 0


if __name__ == "__main__":
    sys.exit(cli.script_main(main))
