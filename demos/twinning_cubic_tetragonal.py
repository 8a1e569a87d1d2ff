# # Cubic-to-tetragonal martensite in 3D: three variants
#
# A cubic lattice becomes tetragonal by stretching (or here, compressing)
# one of its three cube axes. Each choice of axis is a variant, with Bain
# strain
#
# $$\varepsilon^0_i = e\,I - 3e\,\mathbf{e}_i \otimes \mathbf{e}_i
#   \quad(\text{axis } i \text{ shortened by } 2e, \text{ the others stretched by } e),$$
#
# volume-preserving. Two variants fit together stress-free across
# $\{110\}$ planes; a cube clamped at its surface must keep its shape on
# average, so it transforms into a mixture of variants: twinned domains
# (the Wang-Khachaturyan phase-field model, Acta Mater. 45 (1997) 759).
#
# Three order parameters $\eta_1, \eta_2, \eta_3$ (P1) and the displacement
# $u$ (vector P1) carry the energy
#
# $$F = \int f(\eta) + \frac{\kappa}{2}\sum_i |\nabla\eta_i|^2
#   + \psi\big(\varepsilon(u) - \textstyle\sum_i \eta_i^2\varepsilon^0_i\big),$$
#
# $f$ the normalised 2-3-4 Landau polynomial and $\psi$ isotropic
# elasticity. Allen-Cahn relaxation with mechanical equilibrium at every
# step, one Newton solve per step for all fields. In 3D the linear solver is
# GMRES + GAMG by default (PETSc options under `-femgp_twinning_`; e.g.
# `-femgp_twinning_ksp_type preonly -femgp_twinning_pc_type lu
# -femgp_twinning_pc_factor_mat_solver_type mumps` for a direct solve).
#
# The parent phase is metastable here ($a = 2$): with $a < 0$ the 2-3-4
# polynomial has a minimum at $\eta_1 = \eta_2 = \eta_3$, whose transformation
# strain $s^2 \sum_i \varepsilon^0_i$ vanishes, and a clamped cube this small
# gets stuck in that unphysical mixed state. Larger noise (RMS 0.3) nucleates
# the variants instead.
#
#     mpirun -n 2 python demos/twinning_cubic_tetragonal.py --output results/ct
#     python demos/twinning_cubic_tetragonal.py --quick --output results/ct_quick
#
# The default 12^3-cell cube takes a few minutes; it forms domains of all
# three variants. `--quick` (8^3 cells, t = 20, for CI) runs in well under a
# minute, and that cube is too small to twin: it becomes one variant. Outputs:
# `fields.xdmf` (eta1..3, u, strain, variant map), `history.csv`,
# `energy.png`, `variants.png` (PyVista), `run.json`, `summary.json`.

# +
from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from femgp.cli import args as cli

# -


def parse_args(argv: Sequence[str] | None) -> Any:
    parser = cli.ArgumentParser(
        prog="twinning_cubic_tetragonal",
        description="Three-variant cubic-to-tetragonal martensite in a clamped cube.",
    )
    cli.add_run_options(parser, default_output="results/twinning_cubic_tetragonal")
    parser.add_argument("--quick", action="store_true", help="8^3 cells, t_end 20 (CI)")
    parser.add_argument("--cells", type=cli.positive_int, default=None, help="cells per side (12)")
    parser.add_argument("--t-end", type=cli.positive_float, default=None, help="final time (60)")
    parser.add_argument(
        "--kappa", type=cli.positive_float, default=1.5, help="gradient coefficient"
    )
    parser.add_argument("--strain", type=cli.finite_float, default=0.04, help="Bain strain scale e")
    parser.add_argument("--a", type=cli.finite_float, default=2.0, help="Landau parameter a")
    parser.add_argument(
        "--amplitude", type=cli.positive_float, default=0.3, help="initial noise RMS"
    )
    parser.add_argument("--seed", type=int, default=7, help="seed of the initial noise")
    return cli.parse_with_petsc(parser, argv, model="twinning")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    # The finite-element layer, once the arguments are known to be good.
    from mpi4py import MPI

    from femgp.cli.cases import output_options, twinning_initial, twinning_mesh
    from femgp.fem.io import atomic_write_text
    from femgp.models.twinning import Params, run

    comm = MPI.COMM_WORLD
    cells = args.cells or (8 if args.quick else 12)
    t_end = args.t_end or (20.0 if args.quick else 60.0)
    params = Params.cubic_to_tetragonal(a=args.a, kappa=args.kappa, e=args.strain, dt=0.1, tol=3e-2)
    options = output_options(args)
    mesh = twinning_mesh("cubic_tetragonal", comm, cells=cells, max_cells=args.max_cells)
    # Small noise about the cubic phase, a function of x (rank-independent).
    initial = twinning_initial(
        "cubic_tetragonal", 3, seed=args.seed, amplitude=args.amplitude, wavelength=(3.0, 12.0)
    )
    result = run(mesh, params, t_end=t_end, initial=initial, field_times=[2.0, 5.0], **options)

    # ## What formed
    #
    # The volume fractions (mean order parameters) show whether the cube split
    # into several variants; clamped, it cannot become a single one without
    # paying a large elastic energy.
    last = result.history[-1]
    fractions = [last[f"vf_{n}"] for n in params.variants]
    summary = {
        "cells": cells,
        "t_end": t_end,
        "steps": result.steps,
        "newton": result.newton,
        "volume_fractions": fractions,
        "final": last,
        "wall_time_s": result.wall_time,
    }
    if comm.rank == 0:
        atomic_write_text(
            result.folder / "summary.json", json.dumps(summary, indent=2, default=float) + "\n"
        )
        print(
            f"cubic-tetragonal: {cells}^3 cells, {result.steps} steps, {result.newton} Newton "
            f"iterations, {result.wall_time:.1f} s on {comm.size} rank(s)\n"
            f"  energy {last['total']:.3f} (chemical {last['chemical']:.3f}, "
            f"gradient {last['gradient']:.3f}, elastic {last['elastic']:.3f})\n"
            f"  volume fractions {', '.join(f'{v:.3f}' for v in fractions)}\n"
            f"  results in {result.folder}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(cli.script_main(main))
