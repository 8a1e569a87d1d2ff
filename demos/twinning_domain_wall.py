# # A single straight twin wall, checked against the Ginzburg-Landau solution
#
# One order parameter $\eta$ with the symmetric double well
# $f = a(\eta^2 - 1)^2$ has two equal minima, $\eta = \pm 1$: two variants of a
# martensite. Between a region of $\eta = -1$ and one of $\eta = +1$ lies a
# wall whose profile and energy are known in closed form: minimising
# $\int f + \frac{\kappa}{2}|\eta'|^2$ gives
#
# $$\eta(x) = \tanh(x/\delta), \qquad \delta = \sqrt{\kappa/(2a)}, \qquad
#   \sigma = \tfrac{4}{3}\sqrt{2 a \kappa}.$$
#
# Here the variants also carry transformation strains $\pm\varepsilon^0$
# with $\varepsilon^0 = R\,\mathrm{diag}(e, -e)\,R^T$: the square-to-rectangle
# strain, rotated by 45 degrees so that a wall with normal $(1, 0)$ is
# *compatible*, i.e. the two strained variants meet without stress. Then
# the elastic energy relaxes to zero and the wall is the pure
# Ginzburg-Landau wall, which this demo checks. With `--angle 0` the wall is
# incompatible and the elastic energy stays.
#
# The domain is a strip $[-L, L] \times [0, H]$, traction-free (the rigid-body
# modes are pinned at two corners, which carries no force). The wall starts
# too wide, $\tanh(x/2\delta)$, and relaxes by Allen-Cahn dynamics with adaptive
# steps until $\max|\partial_t\eta|$ falls below a threshold.
#
#     mpirun -n 2 python demos/twinning_domain_wall.py --output results/wall
#
# Outputs: `fields.xdmf` (eta, u, strain), `history.csv`, `energy.png`,
# `variants.png`, `run.json` and `wall.json` (the errors against the closed form).

# +
from __future__ import annotations

import json
import math
import sys
from collections.abc import Sequence
from typing import Any

from femgp.cli import args as cli

# -


def parse_args(argv: Sequence[str] | None) -> Any:
    parser = cli.ArgumentParser(
        prog="twinning_domain_wall", description="A straight twin wall against tanh(x/delta)."
    )
    cli.add_run_options(parser, default_output="results/twinning_domain_wall")
    parser.add_argument("--a", type=cli.positive_float, default=1.0, help="well height a")
    parser.add_argument(
        "--kappa", type=cli.positive_float, default=2.0, help="gradient coefficient"
    )
    parser.add_argument("--cells-per-delta", type=cli.positive_int, default=4, help="resolution")
    parser.add_argument(
        "--strain", type=cli.finite_float, default=0.05, help="e (0: no elasticity)"
    )
    parser.add_argument(
        "--angle", type=cli.finite_float, default=45.0, help="strain rotation (degrees)"
    )
    parser.add_argument("--degree-u", type=int, default=2, help="displacement degree (1 or 2)")
    return cli.parse_with_petsc(parser, argv, model="twinning")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    # The finite-element layer, once the arguments are known to be good.
    import numpy as np
    from mpi4py import MPI

    from femgp.cli.cases import output_options, twinning_initial, twinning_mesh
    from femgp.fem.io import atomic_write_text
    from femgp.models.twinning import Params, run, tanh_wall

    comm = MPI.COMM_WORLD
    elastic = args.strain != 0.0
    params = Params.domain_wall(
        a=args.a,
        kappa=args.kappa,
        e=args.strain if elastic else None,
        angle=math.radians(args.angle),
        degree_u=args.degree_u,
        dt=0.05,
        dt_max=1e6,
        tol=1e-2,
    )
    options = output_options(args)
    profile, delta, sigma = tanh_wall(args.a, args.kappa)
    # The strip is 24 wall widths long (the tails of tanh are then below
    # 1e-10 at the ends) and 2 wide, with `cells-per-delta` cells per delta.
    height = 2.0 * delta
    mesh = twinning_mesh(
        "domain_wall",
        comm,
        delta=delta,
        cells_per_delta=args.cells_per_delta,
        half_length=12.0,
        height=2.0,
        max_cells=args.max_cells,
    )
    initial = twinning_initial("domain_wall", 1, delta=delta, width=2.0)
    result = run(mesh, params, t_end=1e6, initial=initial, steady_rate=1e-9, **options)

    # ## Comparison with the closed form
    #
    # The profile error is the largest nodal difference from $\tanh(x/\delta)$
    # (allreduced); the wall energy is the total energy per unit wall length,
    # $F/H$ (the wells have $f = 0$, so all of $F$ is the wall's).
    eta = result.model.etas[0]
    x = eta.function_space.tabulate_dof_coordinates()[:, 0]
    n_owned = eta.function_space.dofmap.index_map.size_local
    err = np.max(np.abs(eta.x.array[:n_owned] - profile(x[:n_owned])), initial=0.0)
    err = comm.allreduce(float(err), op=MPI.MAX)
    last = result.history[-1]
    energy = last["total"] / height
    summary = {
        "delta": delta,
        "profile_linf_error": err,
        "wall_energy": energy,
        "wall_energy_exact": sigma,
        "wall_energy_rel_error": abs(energy - sigma) / sigma,
        "elastic_energy_per_length": last["elastic"] / height,
        "steps": result.steps,
        "status": result.status,
        "wall_time_s": result.wall_time,
    }
    if comm.rank == 0:
        atomic_write_text(
            result.folder / "wall.json", json.dumps(summary, indent=2, default=float) + "\n"
        )
        print(
            f"domain wall: {result.steps} steps ({result.status}), {result.wall_time:.1f} s "
            f"on {comm.size} rank(s)\n"
            f"  profile: max |eta - tanh(x/delta)| = {err:.2e} (delta = {delta:.4g})\n"
            f"  wall energy {energy:.6f} vs (4/3) sqrt(2 a kappa) = {sigma:.6f} "
            f"(relative error {summary['wall_energy_rel_error']:.2e})\n"
            f"  elastic energy per length {summary['elastic_energy_per_length']:.2e}\n"
            f"  results in {result.folder}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(cli.script_main(main))
