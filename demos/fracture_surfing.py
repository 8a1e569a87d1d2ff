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

from femgp.cli import args as cli
from femgp.cli.fracture import parse_fracture_args, summary


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_fracture_args("surfing", argv)

    # Import the finite-element layer once the arguments are known to be good.
    from femgp.cli.cases import fracture_setup, fracture_start
    from femgp.errors import InputError
    from femgp.models.fracture import run

    if args.adapt:  # the K field is scaled by Gc_eff(h_band) of the pre-refined band
        raise InputError(
            "--adapt is not available for the surfing demo (its loading is scaled by Gc_eff "
            "of the pre-refined band); use the SENT, SENS, 3D slab, bar or L-panel demos"
        )

    comm, options, params = fracture_start(args)  # refuses existing results first
    ell = params.pop("ell", 0.02 if args.fine else 0.05)
    resolution = (
        {"h_band": ell / 5, "steps": 25, "advance": 0.5}
        if args.fine
        else {"h_band": ell / 4, "steps": 10, "advance": 0.3}
    )

    # ## Measuring G at every step
    # The set-up's observer is called after each accepted step; what it returns
    # becomes columns of history.csv: the damage tip and G-theta, with theta a
    # function of x centred on the tip (1 within 2.5 ell, 0 beyond 4.5 ell).
    setup = fracture_setup(
        "surfing",
        comm,
        ell=ell,
        height=0.5,
        g_theta=(2.5, 4.5),
        max_cells=args.max_cells,
        **resolution,
        **params,
    )
    gc_eff = setup.info["gc_eff"]
    result = run(setup.mesh, setup.params, setup.loading, **options, **setup.run_options)

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
    sys.exit(cli.script_main(main))
