# # Spinodal decomposition in 3D: the PFHub 1 parameters on a cube
#
# This demo runs femgp's Cahn-Hilliard model in three dimensions, with the
# parameters of the PFHub spinodal-decomposition benchmark (Jokisaari et al.,
# Comput. Mater. Sci. 126 (2017) 139):
#
#     F(c) = ∫ rho_s (c - c_alpha)^2 (c_beta - c)^2 + kappa/2 |grad c|^2 dx,
#     dc/dt = div(M grad mu),   mu = dF/dc,
#
# rho_s = 5, c_alpha = 0.3, c_beta = 0.7, kappa = 2, M = 5, no flux through the
# boundary of the cube [0, L]^3. The benchmark itself is 2D; here the initial
# state is ``pfhub_initial_3d``, the same c0 = 0.5 with a cosine perturbation of
# amplitude 0.01, written as a function of x (so any rank count gives the same
# run).
#
# Run it (coarse default, 20^3 hexahedra, a few minutes on 2 ranks):
#
#     mpirun -n 2 python demos/cahn_hilliard_3d.py --output results/ch3d
#
# ``--fine`` uses 50^3 cells (h = 1, 265,302 dofs); ``--cell tetrahedron``
# uses 6 tetrahedra per cube. Open ``results/ch3d/fields.xdmf`` in ParaView with
# the Xdmf3 reader (a Contour at c = 0.5 shows the interfaces). PETSc options
# can be added on the command line, e.g. ``-femgp_ch_ksp_monitor``.
#
# The linear solves: in 3D a direct LU factorisation fills in quickly, so from
# 3e4 dofs on femgp uses its block preconditioner (GMRES with a block
# factorisation whose Schur complement is applied by two AMG solves; see
# ``docs/cahn_hilliard.md``); ``--solver mumps`` or ``--solver block`` forces one.

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from femgp.cli import args as cli
from femgp.cli.cahn_hilliard import add_cahn_hilliard_options


def parse(argv: Sequence[str] | None) -> Any:
    p = cli.ArgumentParser(description="3D spinodal decomposition (PFHub 1 parameters on a cube)")
    add_cahn_hilliard_options(
        p,
        default_output="results/cahn_hilliard_3d",
        n=20,
        fine="50 cells per edge",
        field_times=[10.0, 25.0],
    )
    p.add_argument("--size", type=cli.positive_float, default=50.0, help="edge of the cube (50)")
    p.add_argument("--cell", choices=("hexahedron", "tetrahedron"), default="hexahedron")
    p.add_argument("--solver", choices=("auto", "block", "mumps"), default="auto")
    return cli.parse_with_petsc(p, argv, model="cahn_hilliard")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    # Import the finite-element layer only once the arguments are known to be good.
    from mpi4py import MPI

    from femgp.cli.cases import cahn_hilliard_mesh, output_options
    from femgp.fem.plots import plot_history
    from femgp.fem.preconditioners import BLOCK_PC
    from femgp.fem.problems import DIRECT_LU
    from femgp.models import cahn_hilliard as ch

    options = output_options(args)  # refuses existing results before any meshing
    comm = MPI.COMM_WORLD

    # ## The mesh
    # A structured cube of hexahedra (Q1) or tetrahedra (P1).
    n = 50 if args.fine else args.n
    tm = cahn_hilliard_mesh(
        comm, domain="cube", n=n, size=args.size, cell=args.cell, max_cells=args.max_cells
    )

    # ## The model
    # The benchmark's parameters are ``Params()``'s defaults. ``options`` only
    # chooses the linear solver when asked to; the default depends on the size.
    params = ch.Params(scheme=args.scheme, tol=args.tol)
    solver = {"auto": None, "block": BLOCK_PC, "mumps": DIRECT_LU}[args.solver]
    result = ch.run(
        tm.mesh,
        params,
        t_end=args.t_end,
        initial=ch.pfhub_initial_3d(),
        field_times=args.field_times,
        options=solver,
        **options,
    )

    # ## Plot
    # The free energy against time; the 3D fields are for ParaView.
    out = Path(args.output)
    if comm.rank == 0:
        plot_history(
            result.history, "time", ["free_energy"], out / "free_energy.png", logx=True,
            title="3D spinodal decomposition: free energy",
        )  # fmt: skip
        t, F = result.history[-1]["time"], result.history[-1]["free_energy"]  # t reached
        print(
            f"t = {t:g}: F = {F:.6g} after {result.steps} steps "
            f"({result.newton} Newton, {result.krylov} Krylov iterations, "
            f"{result.wall_time:.1f} s)"
        )
        print(f"results in {out}/ (fields.xdmf for ParaView's Xdmf3 reader, history.csv)")
    return 0


if __name__ == "__main__":
    sys.exit(cli.script_main(main))
