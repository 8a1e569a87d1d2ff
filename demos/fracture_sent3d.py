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
# Each load step is an over-relaxed alternate minimisation with the iterative
# solvers: elasticity by CG + GAMG with the six rigid-body modes of 3D as
# near-nullspace, damage by PETSc's reduced-space VI Newton with CG + Jacobi,
# under the bounds alpha_prev <= alpha <= 1.
#
# Run it (coarse default: a few minutes on 2 ranks):
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

import numpy as np

from femgp.models.fracture.cli import (
    add_common_options,
    check_output,
    checkpoint_options,
    overrides,
    petsc_args,
    summary,
)
from femgp.scripting import ArgumentParser, insert_petsc_options, script_main

# The material of Miehe et al. (2010), mm and kN.
MATERIAL = {"E": 210.0, "nu": 0.3, "Gc": 2.7e-3}


def loads_mm(*, u_max: float, du: float, u_fine: float, du_fine: float) -> tuple[float, ...]:
    """Top displacements (mm): steps ``du`` up to ``u_fine``, then ``du_fine`` up to ``u_max``."""
    coarse = np.arange(du, u_fine + 0.5 * du, du)
    fine = np.arange(coarse[-1] + du_fine, u_max + 0.5 * du_fine, du_fine)
    return tuple(float(v) for v in np.concatenate([coarse, fine]))


def notched_tension_3d(
    comm: Any,
    *,
    ell: float,
    h_band: float,
    thickness: float,
    loads: Sequence[float],
    **params: Any,
) -> tuple[Any, Any, Any]:
    """The 3D SENT set-up: ``(mesh, Params, Loading)``.

    Bottom face fixed; top face: ``u_y = load``, ``u_x = 0`` (``u_z`` free, as
    the free front and back faces); the reaction is the vertical force on the
    top face.
    """
    from femgp.fem.meshes.fracture3d import notched_slab
    from femgp.models.fracture import DisplacementBC, Loading, Params

    base = {**MATERIAL, "ell": ell, "model": "AT2", "split": "spectral"}
    p = Params(**{**base, **params, "elastic_model": "3d"})
    tm = notched_slab(
        comm, h_band=h_band, thickness=thickness, band_halfwidth=max(2 * ell, 4 * h_band)
    )
    bcs = (
        DisplacementBC("bottom", None, (0.0, 0.0, 0.0)),
        DisplacementBC("top", 1, 1.0, loaded=True),
        DisplacementBC("top", 0, 0.0),
    )
    return tm, p, Loading(bcs, tuple(loads), reaction=("top", 1))


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
    p = ArgumentParser(description="Single-edge notched tension in 3D (a slab of thickness t)")
    add_common_options(p, default_output="results/fracture_sent3d")
    p.add_argument("--thickness", type=float, default=None, help="slab thickness in mm")
    p.add_argument("--quick", action="store_true", help="three coarse load steps (tests)")
    args, extra = p.parse_known_args(argv)
    insert_petsc_options(petsc_args(extra))
    check_output(args.output, overwrite=args.overwrite, restart=args.restart)

    # Import the finite-element layer once the arguments are known to be good.
    from mpi4py import MPI

    from femgp.models.fracture import run

    comm = MPI.COMM_WORLD
    params = overrides(args)

    # ## Resolution and load path
    # The band ahead of the notch is meshed with h = ell / 2.5 (coarse) or
    # ell / 4 (fine). The top displacement grows by large steps while the
    # response is elastic, then by small ones through the peak and the crack's run.
    if args.fine:
        ell = params.pop("ell", 0.03)
        h_band = ell / 4
        loads = loads_mm(u_max=9e-3, du=5e-4, u_fine=5e-3, du_fine=5e-5)
    else:
        ell = params.pop("ell", 0.05)
        h_band = ell / 2.5
        loads = loads_mm(u_max=8e-3, du=1e-3, u_fine=5e-3, du_fine=2.5e-4)
    if args.quick:
        loads = loads[:3]
    thickness = 0.1 if args.thickness is None else args.thickness

    # ## The slab
    # gmsh builds the notched slab on rank 0 (OpenCASCADE: the notched plate
    # extruded by the thickness) and DOLFINx distributes it. Its facet groups
    # are ``bottom``, ``top``, ``left``, ``right``, ``back``, ``front`` and
    # ``notch``; the tetrahedron count is estimated before meshing, and a
    # resolution that would not fit (``max_cells``) is refused.
    tm, prm, loading = notched_tension_3d(
        comm, ell=ell, h_band=h_band, thickness=thickness, loads=loads, **params
    )
    n_cells = tm.mesh.topology.index_map(3).size_global
    if comm.rank == 0:
        print(
            f"SENT 3D: {prm.model}, split {prm.split}, ell = {prm.ell:g} mm, h = {h_band:.4g} mm, "
            f"t = {thickness:g} mm, {n_cells} tetrahedra, {len(loads)} load steps, "
            f"{comm.size} rank(s)"
        )

    # ## The load path
    # ``run`` solves every load step (cutting a failing one back) and writes
    # ``fields.xdmf``, ``history.csv``, ``run.json`` and the PNGs to ``--output``.
    result = run(
        tm,
        prm,
        loading,
        output=args.output,
        overwrite=args.overwrite,
        **checkpoint_options(args),
        title="SENT 3D",
        force_label="reaction force on the top face [kN]",
        show_progress=not args.quiet,
    )
    mem = record_peak_memory(args.output, comm)
    if comm.rank == 0:
        print(summary(result, unit="kN"))
        print(
            f"peak force per thickness {result.peak_reaction / thickness:.4g} kN/mm; peak "
            f"memory {mem['max_rank']:.0f} MB (largest rank), {mem['total']:.0f} MB (all ranks)"
        )
        print(f"results in {args.output}/ (fields.xdmf for ParaView, history.csv, run.json)")
    return 0


if __name__ == "__main__":
    sys.exit(script_main(main))
