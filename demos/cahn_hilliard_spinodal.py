# # Spinodal decomposition: PFHub benchmark 1b (and 1c)
#
# This demo runs the PFHub spinodal-decomposition benchmark (Jokisaari et al.,
# Comput. Mater. Sci. 126 (2017) 139) with femgp's Cahn-Hilliard model.
#
# The free energy is a double well plus the gradient penalty that gives an
# interface its cost,
#
#     F(c) = ∫ rho_s (c - c_alpha)^2 (c_beta - c)^2 + kappa/2 |grad c|^2 dx,
#
# with rho_s = 5, c_alpha = 0.3, c_beta = 0.7, kappa = 2, and the dynamics are
# dc/dt = div(M grad mu), mu = dF/dc, M = 5, with no flux through the boundary.
# femgp builds F from its energy terms and *derives* the mu equation from it
# with ``ufl.derivative``.
#
# Run it (coarse default, a minute or so):
#
#     mpirun -n 2 python demos/cahn_hilliard_spinodal.py --output results/ch
#
# and open ``results/ch/fields.xdmf`` in ParaView (Xdmf3 reader). The benchmark
# asks for ``free_energy.csv`` (``time,free_energy``), which is written beside
# ``history.csv`` (one row per step: dt, energies, mass, Newton/Krylov
# iterations). ``--domain tshape`` runs benchmark 1c on the T-shaped domain,
# meshed by gmsh (the script ``meshes/pfhub_tshape.py`` writes the same mesh
# to a ``.msh`` file, which ``--mesh`` reads back). PETSc options can be added
# on the command line, e.g. ``-femgp_ch_snes_monitor``. ``--checkpoint-every N``
# writes a checkpoint every N steps (and on SIGTERM), and ``--restart``
# continues a run from its latest one (``docs/checkpointing.md``); ``--quiet``
# hides the progress bar, and ``-log_view`` prints PETSc's performance summary.

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from femgp.cli import args as cli
from femgp.cli.cahn_hilliard import add_cahn_hilliard_options


def parse(argv: Sequence[str] | None) -> Any:
    p = cli.ArgumentParser(description="PFHub benchmark 1a/1b/1c: spinodal decomposition")
    add_cahn_hilliard_options(
        p,
        default_output="results/cahn_hilliard_spinodal",
        n=100,
        fine="200x200 cells of the square (h = 1), or h = 1 on the T-shape",
        field_times=[1e3, 1e4, 1e5, 1e6],
    )
    p.add_argument("--domain", choices=("square", "tshape"), default="square")
    p.add_argument("--mesh", help="a .msh file with physical groups 'domain' and 'boundary'")
    p.add_argument("--h", type=cli.positive_float, default=2.0, help="mesh size of the T-shape")
    p.add_argument(
        "--periodic",
        action="store_true",
        help="benchmark 1a: periodic in x and y (the square, or a box-shaped --mesh)",
    )
    return cli.parse_with_petsc(p, argv, model="cahn_hilliard")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    # Import the finite-element layer only once the arguments are known to be good.
    from mpi4py import MPI

    from femgp.cli.cases import cahn_hilliard_mesh, output_options
    from femgp.cli.plot import cahn_hilliard_plots
    from femgp.fem.meshes import read_msh
    from femgp.models import cahn_hilliard as ch

    options = output_options(args)  # refuses existing results before any meshing
    comm = MPI.COMM_WORLD

    # ## The mesh
    # Benchmark 1b is the square [0, 200]^2; 1c is the T-shape. Both have no-flux
    # boundaries, which the mixed form imposes naturally.
    tm = cahn_hilliard_mesh(
        comm,
        mesh=read_msh(args.mesh, comm) if args.mesh else None,
        source=f"mesh file {args.mesh!r}",
        domain=args.domain,
        n=200 if args.fine else args.n,
        h=0.5 * args.h if args.fine else args.h,
        max_cells=args.max_cells,
    )

    # ## The model
    # The benchmark's parameters are ``Params()``'s defaults; the scheme is the
    # error-controlled theta = 1/2 method (``--scheme eyre`` for the
    # unconditionally energy-stable convex-concave splitting).
    # ``--periodic`` runs benchmark 1a: the same square, periodic in x and y
    # (the multipoint constraint of ``femgp.fem.periodic``); a mesh whose
    # opposite sides do not match is refused, naming the unmatched facets.
    params = ch.Params(scheme=args.scheme, tol=args.tol, periodic="xy" if args.periodic else "")

    # The initial condition is the benchmark's cosine perturbation of c0 = 0.5 with
    # epsilon = 0.01: a function of x, so every rank count gives the same run.
    result = ch.run(
        tm.mesh,
        params,
        t_end=args.t_end,
        initial=ch.pfhub_initial(),
        field_times=args.field_times,
        **options,
    )

    # ## Plots
    # The free energy against time (log axis), and the final concentration.
    # The time reached, not ``--t-end``: a ``--restart`` with a smaller
    # ``--t-end`` keeps the later state it restarts from.
    out = Path(args.output)
    t, F = result.history[-1]["time"], result.history[-1]["free_energy"]
    cahn_hilliard_plots(result, out, comm=comm, title="PFHub 1")
    if comm.rank == 0:
        print(
            f"t = {t:g}: F = {F:.6g} after {result.steps} steps "
            f"({result.newton} Newton iterations, {result.wall_time:.1f} s)"
        )
        print(f"results in {out}/ (fields.xdmf for ParaView, free_energy.csv, history.csv, *.png)")
    return 0


if __name__ == "__main__":
    sys.exit(cli.script_main(main))
