# # Winkler's L-shaped concrete panel, with adaptive refinement
#
# The L-shaped panel tested by Winkler (2001) and used as a phase-field
# benchmark by Ambati, Gerasimov and De Lorenzis (Comput. Mech. 55, 2015): the
# square [0, 500]² mm without its lower-right quarter, clamped on the bottom
# edge of the leg, the arm pushed up at 30 mm from its free end. A crack starts
# at the re-entrant corner (250, 250) and runs to the left, curving slightly
# upwards. The panel is 100 mm thick; the 2D model is solved per mm of
# thickness and the force is reported for the 100 mm.
#
# Material (Ambati et al. 2015): lambda = 6.16 kN/mm², mu = 10.95 kN/mm²
# (E = 25.85 kN/mm², nu = 0.18), Gc = 8.9e-5 kN/mm, plane strain, AT2 with
# the volumetric-deviatoric split; ell = 10 mm here (``--ell`` to change it).
# See docs/benchmarks.md for the figures to compare with.
#
# The crack path is not known in advance, which is what adaptive refinement
# is for: with ``--adapt`` the panel is meshed with cells of at most 2 ell
# everywhere (16 mm at the default ell) and refined where the damage appears
# or the driving force nears its critical value, down to ell / 2.5 (``--fine``:
# ell / 4; ``--h-min`` for another size). Without ``--adapt`` the mesh is
# pre-refined in a band left of the corner (the path the literature reports).
#
# Run it:
#
#     mpirun -n 2 python demos/fracture_lpanel.py --adapt --output results/lpanel
#
# ``--quick``: the first load steps only (tests).

from __future__ import annotations

import sys
from collections.abc import Sequence

import numpy as np

from femgp.cli import args as cli
from femgp.cli.fracture import add_fracture_options, summary

THICKNESS = 100.0  # mm, the panel of the experiments
# Winkler's test series A (thesis, Fig. 7.12; docs/benchmarks.md): the peak load,
# the load point's displacement there and the curve's secant up to 0.1 mm.
WINKLER_A_PEAK_KN = 7.22
WINKLER_A_PEAK_AT_MM = 0.208
WINKLER_A_SECANT_KN_PER_MM = 42.0


def _crack_path(model, comm, threshold: float = 0.9) -> list[tuple[float, float]]:
    """(x, mean y) of the nodes with damage above ``threshold``, in 25 mm bins of x."""
    from mpi4py import MPI

    n = model.Q.dofmap.index_map.size_local
    x = model.Q.tabulate_dof_coordinates()[:n]
    cracked = model.alpha.x.array[:n] > threshold
    path = []
    for lo in np.arange(0.0, 500.0, 25.0):
        sel = cracked & (x[:, 0] >= lo) & (x[:, 0] < lo + 25.0)
        s = comm.allreduce(float(x[sel, 1].sum()), op=MPI.SUM)
        c = comm.allreduce(int(sel.sum()), op=MPI.SUM)
        if c:
            path.append((lo + 12.5, s / c))
    return path


def main(argv: Sequence[str] | None = None) -> int:
    p = cli.ArgumentParser(description="Winkler's L-shaped concrete panel (Ambati et al. 2015)")
    add_fracture_options(p, default_output="results/fracture_lpanel")
    p.add_argument("--mesh", help="a .msh file with facet groups 'bottom' and 'load'")
    p.add_argument("--quick", action="store_true", help="the first load steps only (tests)")
    args = cli.parse_with_petsc(p, argv, model="fracture")

    # Import the finite-element layer once the arguments are known to be good.
    from femgp.cli.cases import (
        adaptive_coarse_size,
        fracture_start,
        refinement_for,
        run_fracture_case,
    )
    from femgp.models.fracture.setups import lpanel_loads
    from femgp.validation import check_positive

    comm, options, params = fracture_start(args)  # refuses existing results first
    ell = check_positive("ell", params.pop("ell", 10.0))

    # ## Mesh and loading
    # Pre-refined: h = ell / 2.5 (``--fine``: ell / 4) in the band left of the
    # corner. Adaptive: that size times the largest power of two not above 2 ell,
    # everywhere, refined back to that size where needed.
    h_fine = ell / 4 if args.fine else ell / 2.5
    refinement = refinement_for(args, ell, h_min=h_fine)
    h, h_far = (h_fine, None)
    if refinement is not None:
        h = h_far = adaptive_coarse_size(refinement.target(ell), ell)
    # The load point moves up by 0.01 mm per step to 1 mm (--fine: 0.005 mm).
    loads = lpanel_loads(u_max=1.0, du=0.005 if args.fine else 0.01)
    if args.quick:
        loads = loads[:3]
    _, result = run_fracture_case(
        "lpanel", comm, args, options, refinement=refinement,
        ell=ell, h=h, h_far=h_far, loads=loads, **params,
    )  # fmt: skip

    # ## Peak load and crack path
    # Where the reaction peaks, and the secant of the first load step (the
    # elastic slope), both for the whole panel.
    u_hist, f_hist = result.column("load"), result.column("reaction")
    finite = np.flatnonzero(np.isfinite(f_hist))
    peak = at_peak = float("nan")
    if finite.size:
        i_peak = finite[np.argmax(f_hist[finite])]
        peak, at_peak = float(f_hist[i_peak]) * THICKNESS, float(u_hist[i_peak])
    positive = np.flatnonzero(u_hist > 0.0)
    secant = (
        float(f_hist[positive[0]] / u_hist[positive[0]]) * THICKNESS if positive.size else np.nan
    )
    path = _crack_path(result.model, comm)
    dofs = result.column("dofs")
    if comm.rank == 0:
        print(summary(result, unit="kN/mm"))
        print(f"peak load {peak:.4g} kN at {at_peak:.3g} mm for the {THICKNESS:g} mm thick panel")
        print(
            f"first-step secant {secant:.3g} kN/mm; Winkler's series A: {WINKLER_A_PEAK_KN:g} kN "
            f"at {WINKLER_A_PEAK_AT_MM:g} mm, secant to 0.1 mm {WINKLER_A_SECANT_KN_PER_MM:g} kN/mm"
        )
        print(f"DOFs {int(dofs[0])} at the start, {int(dofs[-1])} at the end")
        if path:
            pts = ", ".join(f"({x:.0f}, {y:.0f})" for x, y in path)
            print(f"crack path (x, y) in mm, damage > 0.9: {pts}")
        print(f"results in {args.output}/ (fields.xdmf for ParaView, history.csv, *.png)")
    return 0


if __name__ == "__main__":
    sys.exit(cli.script_main(main))
