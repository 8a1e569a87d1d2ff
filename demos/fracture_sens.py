# # Single-edge notched shear (SENS)
#
# The second benchmark of Miehe, Hofacker and Welschinger (CMAME 199, 2010):
# the notched 1 mm × 1 mm plate of ``fracture_sent.py``, now sheared. The
# bottom edge is fixed, the top edge moves to the right (with u_y = 0), and the
# left and right edges are held vertically (u_y = 0). Same material and units:
# E = 210 kN/mm², nu = 0.3, Gc = 2.7e-3 kN/mm, plane strain, AT2 with the
# spectral split.
#
# The split matters here: the notch faces and the region below the notch are
# compressed, and only the tensile part of the energy may drive damage. The
# crack then leaves the notch tip downwards and curves towards the bottom
# right corner, where the tension is. Without a split (``--split none``) the
# damage also grows in the compressed zone, the classic unphysical result.
#
# Run it (coarse default, under a minute):
#
#     mpirun -n 2 python demos/fracture_sens.py --output results/sens
#
# The coarse default uses ell = 0.05 mm and h = 0.02 mm over the lower right
# region where the crack runs, and load steps of 5e-4 mm up to 8e-3 mm, then
# 2.5e-4 mm to 1.1e-2 mm; ``--fine`` is the literature resolution (ell = 0.015
# mm, h = ell / 4 in that region, steps of 1e-4 mm to 1.6e-2 mm; a long run).
# ``history.csv`` holds the horizontal reaction force on the top edge in kN
# (1 mm thickness) against the top displacement in mm; ``crack.png`` is the
# final damage and ``fields.xdmf`` the whole history for ParaView.

from __future__ import annotations

import sys
from collections.abc import Sequence

import numpy as np

from femgp.cli import args as cli
from femgp.cli.fracture import parse_fracture_args, summary


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_fracture_args("sens", argv)

    # Import the finite-element layer once the arguments are known to be good.
    from mpi4py import MPI

    from femgp.cli.cases import run_notched_demo

    # ## Resolution, plate and loading
    # As SENT (``demos/fracture_sent.py``), with the top edge pulled sideways
    # (:func:`femgp.models.fracture.setups.notched_shear`); the mesh is refined
    # over the lower right quarter, where the crack curves.
    comm, _, result = run_notched_demo("sens", args)

    # ## Where did the crack go?
    # The lowest point of the crack (damage above 0.9) tells whether it turned
    # downwards, as it should in shear.
    model = result.model
    x = model.Q.tabulate_dof_coordinates()[: model.Q.dofmap.index_map.size_local]
    cracked = model.alpha.x.array[: x.shape[0]] > 0.9
    y_low = comm.allreduce(float(x[cracked, 1].min()) if cracked.any() else np.inf, op=MPI.MIN)
    if comm.rank == 0:
        print(summary(result, unit="kN"))
        print(f"lowest cracked point: y = {y_low:.3f} mm (the notch is at y = 0.5 mm)")
        print(f"results in {args.output}/ (fields.xdmf for ParaView, history.csv, *.png)")
    return 0


if __name__ == "__main__":
    sys.exit(cli.script_main(main))
