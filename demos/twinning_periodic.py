# # Twins in a periodic cell under a prescribed mean strain
#
# Microstructure codes of martensite (Wang & Khachaturyan's phase-field
# FFT method and its descendants) compute on a *periodic cell* under a
# prescribed average strain: a periodic cell has no free surface and no clamp
# that could bias which variant forms, or where. This demo does the same with
# finite elements.
#
# The square-to-rectangle martensite has two variants with transformation
# strains $\varepsilon^0_{1,2} = \pm\,\mathrm{diag}(e, -e)$. The cell is held
# at the mean strain
#
# $$\bar\varepsilon = \mathrm{diag}(m, -m),$$
#
# which, for $|m| < e$, neither variant fits on its own and a mixture of the two
# does (the default $m = 0$ is the parent square; a larger $|m|$ is accepted, and
# strains the cell beyond what its variants take up). The displacement is split
# into the prescribed affine part and a periodic fluctuation,
#
# $$u(x) = \bar\varepsilon\,x + w(x), \qquad w \text{ periodic},$$
#
# so the mean strain $\frac{1}{|\Omega|}\int \varepsilon(u) = \bar\varepsilon
# + \frac{1}{|\Omega|}\int_{\partial\Omega} \mathrm{sym}(w \otimes n)$ equals
# $\bar\varepsilon$ exactly: the boundary terms of opposite faces cancel. The
# order parameters $\eta_1, \eta_2$ are periodic too. femgp imposes the
# periodicity as a multipoint constraint $u = P\bar u + \bar\varepsilon x$
# (`femgp.fem.periodic`, see `docs/twinning.md`); one corner is pinned to
# remove the translation of $w$.
#
# The cell then mixes the two variants in a laminate whose walls are
# compatible planes, normals $(1, \pm 1)/\sqrt 2$, and without the boundary
# layers a clamped square shows near its edges. The demo measures the wall
# normal and the cell's mean strain.
#
# Run it with
#
#     mpirun -n 2 python demos/twinning_periodic.py --output results/twinning_periodic
#
# Outputs: `fields.xdmf` (eta1, eta2, u, strain, variant map), `history.csv`,
# `energy.png`, `variants.png`, `run.json` and `periodic.json` (the measured
# orientation and mean strain).

# +
from __future__ import annotations

import json
import math
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from femgp.cli import args as cli

# -

# ## Options
#
# The default cell (48 x 48 cells, one per length unit) runs in about a
# minute on one core.


def parse_args(argv: Sequence[str] | None) -> Any:
    parser = cli.ArgumentParser(
        prog="twinning_periodic",
        description="Twins of a square-to-rectangle martensite in a periodic cell.",
    )
    cli.add_run_options(parser, default_output="results/twinning_periodic")
    parser.add_argument("--cells", type=cli.positive_int, default=48, help="cells per side")
    parser.add_argument("--t-end", type=cli.positive_float, default=100.0, help="final time")
    parser.add_argument(
        "--kappa", type=cli.positive_float, default=3.0, help="gradient coefficient"
    )
    parser.add_argument(
        "--strain", type=cli.positive_float, default=0.1, help="transformation strain e"
    )
    parser.add_argument(
        "--mean-strain", type=cli.finite_float, default=0.0, help="m of the mean strain diag(m, -m)"
    )
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
    m = args.mean_strain
    # Parameters first: a bad value stops here, before anything is written.
    params = Params.square_to_rectangle(
        a=-1.0,
        kappa=args.kappa,
        e=args.strain,
        dt=0.1,
        tol=2e-2,
        boundary="periodic",
        mean_strain=((m, 0.0), (0.0, -m)),
    )
    options = output_options(args)
    mesh = twinning_mesh("laminate", comm, cells=args.cells, max_cells=args.max_cells)
    # Small noise about the parent phase, a function of x: the same on any
    # number of ranks. It is not periodic; the constraint takes the mean of
    # the values on paired faces.
    initial = twinning_initial(
        "laminate", 2, seed=args.seed, amplitude=0.05, wavelength=(4.0, 16.0)
    )
    result = run(
        mesh,
        params,
        t_end=args.t_end,
        initial=initial,
        field_times=[1.0, 3.0, 10.0],
        **options,
    )

    # ## The measurements
    #
    # The wall normal from the structure tensor of $\psi = \eta_1 - \eta_2$
    # (as in `twinning_laminate.py`), and the mean strain
    # $\frac{1}{|\Omega|}\int \mathrm{sym}\,\nabla u$, which must be
    # $\bar\varepsilon$ to round-off.
    model = result.model
    o = orientation(model.etas[0] - model.etas[1], comm)
    mean = model.mean_strain_of_u()
    error = float(np.max(np.abs(mean - model.mean_strain)))
    last = result.history[-1]
    summary = {
        "normal_angle_deg": o.normal_angle,
        "deviation_from_diagonal_deg": min(o.deviation_from(45.0), o.deviation_from(135.0)),
        "anisotropy": o.anisotropy,
        "mean_strain_prescribed": model.mean_strain.tolist(),
        "mean_strain_measured": mean.tolist(),
        "mean_strain_error": error,
        "steps": result.steps,
        "final": last,
        "wall_time_s": result.wall_time,
    }
    if comm.rank == 0:
        atomic_write_text(
            result.folder / "periodic.json", json.dumps(summary, indent=2, default=float) + "\n"
        )
        print(
            f"periodic cell: {result.steps} steps, {result.wall_time:.1f} s on "
            f"{comm.size} rank(s)\n"
            f"  volume fractions {last['vf_eta1']:.3f}, {last['vf_eta2']:.3f}\n"
            f"  wall normal {o.normal_angle:.2f} deg (anisotropy {o.anisotropy:.2f}); "
            f"compatible: 45 / 135 deg\n"
            f"  mean strain {mean.ravel().round(12).tolist()} (error {error:.1e})\n"
            f"  results in {result.folder}"
        )
    if math.isnan(o.normal_angle) or error > 1e-10:
        raise SystemExit("no walls formed, or the mean strain is off")
    return 0


if __name__ == "__main__":
    sys.exit(cli.script_main(main))
