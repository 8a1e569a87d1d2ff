# # Twinned laminates from a square-to-rectangle transformation
#
# A square lattice can distort into a rectangle in two ways, stretched along
# x or along y. These are the two *variants* of the martensite, with
# transformation (Bain) strains
#
# $$\varepsilon^0_1 = \mathrm{diag}(e, -e), \qquad \varepsilon^0_2 = \mathrm{diag}(-e, e).$$
#
# A crystal clamped at its boundary cannot change shape on average, so it
# cannot turn into one variant. It can, however, mix the two in fine
# alternating bands, *twins*, whose average strain is zero. Bands of the two
# variants fit together without stress only across planes whose normal $n$
# satisfies $\varepsilon^0_1 - \varepsilon^0_2 = \mathrm{sym}(a \otimes n)$:
# here $n = (1, \pm 1)/\sqrt{2}$, the diagonals. This demo grows the
# laminate from small noise and *measures* the orientation of its walls.
#
# ## The model
#
# Two order parameters $\eta_1, \eta_2$ (P1), one per variant, and the
# displacement $u$ (vector P1), with the free energy
#
# $$F = \int f(\eta) + \frac{\kappa}{2} \sum_i |\nabla \eta_i|^2
#       + \psi\big(\varepsilon(u) - \textstyle\sum_i \eta_i^2 \varepsilon^0_i\big),$$
#
# $f$ the normalised 2-3-4 Landau polynomial (wells at $\eta_i = 1$ of depth
# $-1$; $a < 0$ makes the parent square phase unstable) and $\psi$ isotropic
# plane-strain elasticity. The order parameters follow the time-dependent
# Ginzburg-Landau (Allen-Cahn) equation $\partial_t \eta_i = -L\,\delta F /
# \delta \eta_i$ and $u$ is in equilibrium at all times. Each backward-Euler
# step is one Newton solve for all fields, with a residual that femgp derives
# from the energy with `ufl.derivative`; the step size adapts.
#
# Run it with
#
#     mpirun -n 2 python demos/twinning_laminate.py --output results/laminate
#
# Outputs: `fields.xdmf` (eta1, eta2, u, strain, variant map), `history.csv`
# (energies and volume fractions per step), `energy.png`, `variants.png`,
# `run.json` and `laminate.json` (the measured orientation).

# +
from __future__ import annotations

import json
import math
import sys
from collections.abc import Sequence
from typing import Any

from femgp.cli import args as cli

# -

# ## Options
#
# The coarse default (48 x 48 cells, one cell per length unit) runs in about
# ten seconds. `--fixed-dt` switches the step control off.


def parse_args(argv: Sequence[str] | None) -> Any:
    parser = cli.ArgumentParser(
        prog="twinning_laminate",
        description="Twinned laminates of a square-to-rectangle martensite.",
    )
    cli.add_run_options(parser, default_output="results/twinning_laminate")
    parser.add_argument("--cells", type=cli.positive_int, default=48, help="cells per side")
    parser.add_argument("--t-end", type=cli.positive_float, default=100.0, help="final time")
    parser.add_argument(
        "--kappa", type=cli.positive_float, default=3.0, help="gradient coefficient"
    )
    parser.add_argument(
        "--strain", type=cli.finite_float, default=0.1, help="transformation strain e"
    )
    parser.add_argument(
        "--a", type=cli.finite_float, default=-1.0, help="Landau parameter a (< 0: unstable)"
    )
    parser.add_argument("--scheme", default="monolithic", help="monolithic or staggered")
    parser.add_argument("--fixed-dt", type=cli.positive_float, default=None, help="fixed time step")
    parser.add_argument("--seed", type=int, default=1, help="seed of the initial noise")
    return cli.parse_with_petsc(parser, argv, model="twinning")


# ## The run


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    # The finite-element layer, once the arguments are known to be good.
    from mpi4py import MPI

    from femgp.cli.cases import output_options, twinning_initial, twinning_mesh
    from femgp.fem.io import atomic_write_text
    from femgp.models.twinning import Params, orientation, run

    comm = MPI.COMM_WORLD
    # Parameters first: a bad value stops here, before anything is written.
    step = {"dt": args.fixed_dt, "adaptive": False} if args.fixed_dt else {"dt": 0.1, "tol": 2e-2}
    params = Params.square_to_rectangle(
        a=args.a, kappa=args.kappa, e=args.strain, scheme=args.scheme, **step
    )
    options = output_options(args)
    mesh = twinning_mesh("laminate", comm, cells=args.cells, max_cells=args.max_cells)
    # The initial state: small noise about the parent phase. It is a function
    # of x (plane waves with seeded random directions and phases), so it is
    # the same on any number of ranks.
    initial = twinning_initial(
        "laminate", 2, seed=args.seed, amplitude=0.05, wavelength=(4.0, 16.0)
    )
    result = run(
        mesh, params, t_end=args.t_end, initial=initial, field_times=[1.0, 3.0, 10.0], **options
    )

    # ## The measurement
    #
    # The walls are where $\psi = \eta_1 - \eta_2$ changes. The structure
    # tensor $S = \int \nabla\psi \otimes \nabla\psi$ has the dominant wall
    # normal as its principal direction; the four-fold moment
    # $\int (\psi_x + i \psi_y)^4$ gives the normal modulo 90 degrees even when
    # both diagonal families are present. Both should read 45 (or 135) degrees.
    m = result.model
    o = orientation(m.etas[0] - m.etas[1], comm)
    last = result.history[-1]
    summary = {
        "normal_angle_deg": o.normal_angle,
        "deviation_from_diagonal_deg": min(o.deviation_from(45.0), o.deviation_from(135.0)),
        "anisotropy": o.anisotropy,
        "fourfold_angle_deg": o.fourfold_angle,
        "fourfold_coherence": o.fourfold_coherence,
        "steps": result.steps,
        "newton": result.newton,
        "final": last,
        "wall_time_s": result.wall_time,
    }
    if comm.rank == 0:
        atomic_write_text(
            result.folder / "laminate.json", json.dumps(summary, indent=2, default=float) + "\n"
        )
        print(
            f"laminate: {result.steps} steps, {result.newton} Newton iterations, "
            f"{result.wall_time:.1f} s on {comm.size} rank(s)\n"
            f"  energy {last['total']:.4f} (chemical {last['chemical']:.4f}, "
            f"gradient {last['gradient']:.4f}, elastic {last['elastic']:.4f})\n"
            f"  volume fractions {last['vf_eta1']:.3f}, {last['vf_eta2']:.3f}\n"
            f"  wall normal {o.normal_angle:.2f} deg (anisotropy {o.anisotropy:.2f}), "
            f"four-fold {o.fourfold_angle:.2f} deg (coherence {o.fourfold_coherence:.2f}); "
            f"compatible: 45 / 135 deg\n"
            f"  results in {result.folder}"
        )
    if math.isnan(o.fourfold_angle):
        raise SystemExit("no walls formed")
    return 0


if __name__ == "__main__":
    sys.exit(cli.script_main(main))
