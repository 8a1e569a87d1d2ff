# # Single-edge notched tension (SENT)
#
# The classic benchmark of Miehe, Hofacker and Welschinger (CMAME 199, 2010):
# a 1 mm × 1 mm plate with a straight notch from the middle of its left edge to
# its centre, the bottom edge fixed and the top edge pulled up. A crack runs
# from the notch tip straight to the right edge.
#
# The material is steel-like, in mm and kN: E = 210 kN/mm², nu = 0.3
# (lambda = 121.15, mu = 80.77 kN/mm²), Gc = 2.7e-3 kN/mm, plane strain. The
# energy is the phase-field regularisation of Griffith's,
#
#     E(u, alpha) = ∫ a(alpha) psi_+(eps(u)) + psi_-(eps(u))
#                   + Gc/c_w (w(alpha)/ell + ell |grad alpha|^2) dx,
#
# AT2 (w = alpha², c_w = 2) with Miehe's spectral split by default, so that
# only the tensile part of the strain energy is degraded by
# a(alpha) = (1 - alpha)² + k_res. femgp writes each term once
# (:mod:`femgp.energy.elasticity`, :mod:`femgp.energy.fracture`) and derives
# both residuals and Jacobians from the energy.
#
# Each load step is solved by alternate minimisation: elasticity at fixed
# damage (CG + GAMG with the rigid-body near-nullspace), then damage at fixed
# displacement under the bounds alpha_prev <= alpha <= 1 (PETSc's
# reduced-space VI Newton), repeated until the damage stops changing
# (||alpha_k - alpha_{k-1}||_inf < 1e-4). The damage iterate is over-relaxed
# (Farrell & Maurini 2017) and each step starts from an extrapolation of the
# last two. ``--acceleration none --linear-solver direct`` is the plain
# FEniCSx approach (see ``benchmarks/fracture_sent.py``).
#
# Run it (coarse default, under a minute):
#
#     mpirun -n 2 python demos/fracture_sent.py --output results/sent
#
# The coarse default uses ell = 0.03 mm and h = 0.012 mm in the crack band
# (ell / h = 2.5) and 34 load steps; ``--fine`` is the literature resolution,
# ell = 0.015 mm with h = ell / 4 along the crack path and steps of 1e-5 mm
# near the peak (several minutes on 2 cores). ``history.csv`` holds the reaction
# force on the top edge in kN (for the 1 mm thickness) against the top
# displacement in mm; open ``fields.xdmf`` in ParaView (Xdmf3 reader) to watch
# the crack, whose final picture is ``crack.png``.

from __future__ import annotations

import sys
from collections.abc import Sequence

from femgp.cli.args import ArgumentParser, parse_with_petsc, script_main
from femgp.cli.fracture import add_fracture_options, overrides, summary


def main(argv: Sequence[str] | None = None) -> int:
    p = ArgumentParser(description="Single-edge notched tension (Miehe et al. 2010)")
    add_fracture_options(p, default_output="results/fracture_sent")
    p.add_argument("--mesh", help="a .msh file with facet groups 'bottom' and 'top'")
    args = parse_with_petsc(p, argv)

    # Import the finite-element layer once the arguments are known to be good.
    from mpi4py import MPI

    from femgp.cli.cases import fracture_setup, output_options
    from femgp.fem.meshes import read_msh
    from femgp.models.fracture import run
    from femgp.models.fracture.setups import sent_loads

    options = output_options(args)  # refuses existing results before any meshing

    comm = MPI.COMM_WORLD
    params = overrides(args)

    # ## Resolution and load path
    # The literature resolution is h <= ell/4 along the crack path. The top
    # displacement grows by 1e-4 mm until 4.5e-3 mm, where the response is still
    # nearly linear, then by 1e-5 mm through the peak and the crack's run.
    if args.fine:
        ell = params.pop("ell", 0.015)
        h_band = ell / 4
        loads = sent_loads(u_max=6.5e-3, du=1e-4, u_fine=4.5e-3, du_fine=1e-5)
    else:
        ell = params.pop("ell", 0.03)
        h_band = ell / 2.5
        loads = sent_loads(u_max=7e-3, du=5e-4, u_fine=4.5e-3, du_fine=1e-4)

    # ## The plate
    # gmsh builds the notched plate on rank 0 and DOLFINx distributes it. Its
    # facet groups are ``bottom``, ``top``, ``left``, ``right`` and ``notch``; a
    # user mesh must have at least ``bottom`` and ``top``.
    mesh = read_msh(args.mesh, comm) if args.mesh else None
    setup = fracture_setup(
        "sent",
        comm,
        ell=ell,
        h_band=h_band,
        loads=loads,
        mesh=mesh,
        max_cells=args.max_cells,
        **params,
    )
    if comm.rank == 0:
        p_ = setup.params
        print(
            f"SENT: {p_.model}, split {p_.split}, ell = {p_.ell:g} mm, h = {h_band:.4g} mm, "
            f"{len(loads)} load steps, {comm.size} rank(s)"
        )

    # ## The load path
    # ``run`` solves every load step, cuts a failing step back, and writes
    # ``fields.xdmf``, ``history.csv``, ``run.json`` and the PNGs to ``--output``.
    result = run(
        setup.mesh,
        setup.params,
        setup.loading,
        **options,
        **setup.run_options,
    )
    if comm.rank == 0:
        print(summary(result, unit="kN"))
        print(f"results in {args.output}/ (fields.xdmf for ParaView, history.csv, *.png)")
    return 0


if __name__ == "__main__":
    sys.exit(script_main(main))
