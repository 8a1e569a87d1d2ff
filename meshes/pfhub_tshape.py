"""Write the PFHub benchmark 1c T-shaped domain as a gmsh ``.msh`` file.

Usage: ``python meshes/pfhub_tshape.py [--h 2.0] [--output meshes/pfhub_tshape.msh]
[--overwrite]``

Stem x in [0, 20], y in [0, 100]; top bar x in [-40, 60], y in [100, 120];
physical groups ``domain`` (surface) and ``boundary`` (curves). A thin wrapper
of ``femgp mesh build pfhub_tshape``: the geometry is
:func:`femgp.fem.meshes.pfhub.build_tshape`, the same one the demo meshes in
memory; ``demos/cahn_hilliard_spinodal.py --mesh FILE`` reads the file back.
"""

from __future__ import annotations

import sys
from pathlib import Path

from femgp.cli.mesh import geometry_script

if __name__ == "__main__":
    sys.exit(
        geometry_script(
            "pfhub_tshape", h=2.0, default_output=str(Path(__file__).with_suffix(".msh"))
        )
    )
