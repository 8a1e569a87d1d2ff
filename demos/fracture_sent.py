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
# Each load step starts with alternate minimisation: elasticity at fixed
# damage (CG + GAMG with the rigid-body near-nullspace), then damage at fixed
# displacement under the bounds alpha_prev <= alpha <= 1 (PETSc's
# reduced-space VI Newton), repeated until the damage stops changing
# (||alpha_k - alpha_{k-1}||_inf < 1e-4), the iterates over-relaxed (Farrell &
# Maurini 2017). A step still unconverged after 12 iterations is handed to a
# Newton solve of the coupled (u, alpha) problem under the same bounds
# (``--solver``, ``--newton-after``), and a step in which the crack runs is
# solved first on a coarser copy of the mesh (``--no-crack-run``). Each step
# starts from an extrapolation of the accepted ones. The plain FEniCSx
# approach, ``--solver am --acceleration none --linear-solver direct
# --no-crack-run`` (which still extrapolates; ``benchmarks/fracture_sent.py``
# also turns that off), is the baseline of ``benchmarks/fracture_sent.py``.
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

from femgp.cli import args as cli
from femgp.cli.fracture import parse_fracture_args, summary


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_fracture_args("sent", argv)

    # Import the finite-element layer once the arguments are known to be good.
    from femgp.cli.cases import run_notched_demo

    # ## Resolution, plate and load path
    # The literature resolution (``--fine``) is h <= ell/4 along the crack path.
    # There the top displacement grows by 1e-4 mm until 4.5e-3 mm, where the
    # response is still nearly linear, then by 1e-5 mm through the peak and the
    # crack's run; the coarse default takes 5e-4 mm, then 1e-4 mm (34 steps).
    # gmsh builds the notched plate on rank 0 and DOLFINx distributes it.
    # Its facet groups are ``bottom``, ``top``, ``left``, ``right`` and
    # ``notch``; a user mesh (``--mesh``) must have at least ``bottom`` and
    # ``top``. ``run`` solves every load step, cuts a failing step back, and
    # writes ``fields.xdmf``, ``history.csv``, ``run.json`` and the PNGs to
    # ``--output``. The set-up itself (boundary conditions, material) is
    # :func:`femgp.models.fracture.setups.notched_tension`.
    comm, _, result = run_notched_demo("sent", args)
    if comm.rank == 0:
        print(summary(result, unit="kN"))
        print(f"results in {args.output}/ (fields.xdmf for ParaView, history.csv, *.png)")
    return 0


if __name__ == "__main__":
    sys.exit(cli.script_main(main))
