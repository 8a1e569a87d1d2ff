# # The surfing test: a crack driven by a moving K_I field
#
# A crack in a long strip is loaded by imposing, on the whole outer boundary,
# the displacement of Irwin's mode-I crack-tip field,
#
#     U = K_I / (2 mu) sqrt(r / (2 pi)) (kappa - cos theta) (cos(theta/2), sin(theta/2)),
#
# whose tip moves along the axis with the load ("time"); kappa = 3 - 4 nu in
# plane strain. With K_I = sqrt(Gc_eff E'), E' = E / (1 - nu^2), the loading
# delivers exactly the energy a crack needs, and the phase-field crack should
# "surf" along with the tip at the same speed. In steady propagation the
# energy release rate at the crack tip equals the effective toughness
# Gc_eff = Gc (1 + h / (c_w ell)) (Hossain, Hsueh, Bourdin, Bhattacharya 2014).
#
# femgp measures the energy release rate two ways at every step:
#
# - the G-theta integral, G = ∫ sigma : (grad u grad theta) - W div theta, with
#   the degraded stress and energy density of the elastic term and a virtual
#   crack advance theta = e_x within 2.5 ell of the damage tip, falling to 0
#   at 4.5 ell (:meth:`FractureModel.energy_release_rate`);
# - the dissipation per unit advance, d(surface energy)/d(load).
#
# Nondimensional units: E = 1, nu = 0.3, Gc = 1, AT1 without split. The
# initial crack [0, 0.2] × {0} is an initial damage with the AT1 optimal
# profile (a function of x, so every rank count gives the same run).
#
# Run it (coarse default, ~20 s):
#
#     mpirun -n 2 python demos/fracture_surfing.py --output results/surfing
#
# The coarse default has ell = 0.05, h = ell / 4 along the crack path and the
# tip advancing 0.3 in 10 steps; ``--fine`` uses ell = 0.02, h = ell / 5 and
# 25 steps over an advance of 0.5. ``history.csv`` gets two more columns:
# ``tip`` (the damage tip) and ``G`` (G-theta).

from __future__ import annotations

import sys
from collections.abc import Sequence

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


def main(argv: Sequence[str] | None = None) -> int:
    p = ArgumentParser(description="The surfing test: a crack driven by a moving K_I field")
    add_common_options(p, default_output="results/fracture_surfing")
    args, extra = p.parse_known_args(argv)
    insert_petsc_options(petsc_args(extra))
    check_output(args.output, overwrite=args.overwrite, restart=args.restart)

    from mpi4py import MPI

    from femgp.models.fracture import run
    from femgp.models.fracture.setups import surfing

    comm = MPI.COMM_WORLD
    params = overrides(args)
    if args.fine:
        ell = params.pop("ell", 0.02)
        setup = surfing(comm, ell=ell, h_band=ell / 5, height=0.5, steps=25, advance=0.5, **params)
    else:
        ell = params.pop("ell", 0.05)
        setup = surfing(comm, ell=ell, h_band=ell / 4, height=0.5, steps=10, advance=0.3, **params)
    gc_eff = setup.info["gc_eff"]

    # ## Measuring G at every step
    # The observer is called after each accepted step; what it returns becomes
    # columns of history.csv. theta is a function of x, centred on the damage tip.
    r1, r2 = 2.5 * ell, 4.5 * ell

    def observer(model, row):
        tip = model.tip_position()

        def theta(x: np.ndarray) -> np.ndarray:
            v = np.clip((r2 - np.hypot(x[0] - tip, x[1])) / (r2 - r1), 0.0, 1.0)
            return np.vstack([v, np.zeros_like(v)])

        return {"tip": tip, "G": model.energy_release_rate(theta)}

    result = run(
        setup.mesh,
        setup.params,
        setup.loading,
        output=args.output,
        overwrite=args.overwrite,
        **checkpoint_options(args),
        initial_damage=setup.initial_damage,
        observer=observer,
        extra_columns=("tip", "G"),
        title="surfing",
        show_progress=not args.quiet,
    )

    # ## Steady propagation
    # After the first steps the crack moves with the loading; then G = Gc_eff.
    load = result.column("load")
    steady = load >= 0.3 * load[-1]
    G = result.column("G")[steady]
    slope = np.polyfit(load[steady], result.column("surface")[steady], 1)[0]
    if comm.rank == 0:
        print(summary(result))
        print(
            f"steady propagation: G-theta / Gc_eff = {np.mean(G) / gc_eff:.4f} "
            f"(min {G.min() / gc_eff:.4f}, max {G.max() / gc_eff:.4f}); "
            f"dissipation rate / Gc_eff = {slope / gc_eff:.4f}"
        )
        print(f"results in {args.output}/ (fields.xdmf for ParaView, history.csv, *.png)")
    return 0


if __name__ == "__main__":
    sys.exit(script_main(main))
