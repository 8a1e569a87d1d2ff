# # A bar in traction: the crack nucleates at the analytic critical stress
#
# The simplest fracture problem has a closed-form answer. A bar of length L,
# clamped at one end and pulled at the other, with the phase-field energy
#
#     E(u, alpha) = ∫ (1 - alpha)^2 E u'^2 / 2 + Gc/c_w (w(alpha)/ell + ell alpha'^2) dx
#
# stays elastic (AT1, w = alpha, c_w = 8/3) until the stress reaches
#
#     sigma_c = sqrt(3 Gc E / (8 ell)),
#
# then a crack nucleates, the stress drops to zero and the bar is broken. With
# AT2 (w = alpha^2, c_w = 2) the damage grows from the start, and the stress
# peaks at sigma_max = (3 sqrt(3)/16) sqrt(E Gc / ell) (Pham, Amor, Marigo,
# Maurini 2011). The crack that forms has the profile (1 - |x|/(2 ell))^2
# (AT1), and dissipates Gc_eff = Gc (1 + h / (c_w ell)) per unit area on a mesh
# of size h.
#
# femgp solves the bar as a thin 2D strip with nu = 0 (so that it *is* the 1D
# bar), in nondimensional units E = Gc = 1, ell = 0.1, L = 1. For AT1 the damage
# is held at 0 at both ends, so the crack forms in the middle; an odd number of
# cells puts the middle inside one element, where the displacement jump of a
# P1 crack lives. For AT2 the ends are left free: the damage then stays
# homogeneous, as in the analysis (clamping it would stiffen the bar and raise
# the peak by a few per cent at L = 10 ell).
#
# Run it (a few seconds):
#
#     mpirun -n 2 python demos/fracture_bar.py --output results/bar
#
# ``--model AT2`` for the AT2 bar, ``--fine`` for h = ell / 20 and finer steps.
# ``--adapt`` starts from cells 2 ell long (triangles) and refines them where
# the damage appears or the driving force nears its critical value, to cells
# ell / 4 long (``--h-min`` for another size; see docs/adaptivity.md). The
# homogeneous bar reaches that driving force everywhere at once, so it refines
# the whole bar before the peak; ``--adapt-driving-ratio 0`` refines where the
# damage is only.

from __future__ import annotations

import sys
from collections.abc import Sequence

import numpy as np

from femgp.cli import args as cli
from femgp.cli.fracture import parse_fracture_args, summary


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_fracture_args("bar", argv)

    # Import the finite-element layer once the arguments are known to be good.
    import math

    from femgp.cli.cases import fracture_setup, fracture_start, refinement_for
    from femgp.models.fracture import run
    from femgp.validation import check_positive

    comm, options, params = fracture_start(args)  # refuses existing results first
    ell = check_positive("ell", params.get("ell", 0.1))  # before 5 / ell below
    height = 0.02
    # Adaptive: h_min is a cell size (2 |K|)^(1/2), that of the pre-refined mesh's
    # right triangles, ell / 4 long and height / 8 high.
    refinement = refinement_for(args, ell, h_min=math.sqrt(ell / 4 * height / 8) * (1 + 1e-9))

    # ## The bar
    # 1 / h cells along the bar (odd), one across; the load is the end
    # displacement, up to 1.5 times the critical one, in steps that do not land
    # on it (so the measured peak is honest).
    n = 2 * round(10 / ell) + 1 if args.fine else 2 * round(5 / ell) + 1
    steps = 301 if args.fine else 67
    if refinement is not None:
        n = max(1, round(1 / (2 * ell)))  # cells 2 ell long, refined to ell / 4
    clamp = params.get("model", "AT1") == "AT1"
    setup = fracture_setup(
        "bar",
        comm,
        h=1.0 / n,
        height=height,
        clamp_damage=clamp,
        load_max=1.5,
        steps=steps,
        max_cells=args.max_cells,
        quadrilateral=refinement is None,
        **params,
    )
    crack = setup.params.crack
    E = setup.info["E_eff"]
    result = run(
        setup.mesh,
        setup.params,
        setup.loading,
        **options,
        **{**setup.run_options, "title": f"bar, {crack.model}"},
        refinement=refinement,
    )

    # ## Check against the analytic results
    # The stress is the reaction per unit cross-section. The dissipated energy
    # per unit height should be Gc_eff once the bar is broken.
    sigma = result.column("reaction") / height
    peak, theory = float(sigma.max()), crack.critical_stress(E)
    dissipated = result.column("surface")[-1] / height
    gc_eff = crack.gc_eff(1.0 / n if refinement is None else ell / 4)
    if comm.rank == 0:
        print(summary(result))
        print(f"peak stress {peak:.5g}, analytic {theory:.5g} ({100 * (peak / theory - 1):+.2f} %)")
        if result.column("max_damage")[-1] > 0.99:
            print(
                f"dissipated energy per unit area {dissipated:.5g}, Gc_eff {gc_eff:.5g} "
                f"({100 * (dissipated / gc_eff - 1):+.2f} %)"
            )
        print(f"results in {args.output}/ (fields.xdmf for ParaView, history.csv, *.png)")
    assert np.isfinite(peak)
    return 0


if __name__ == "__main__":
    sys.exit(cli.script_main(main))
