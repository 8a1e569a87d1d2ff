"""Write the SENS notched plate as a gmsh ``.msh`` file.

Groups and units: 1 mm; groups bottom, right, top, left, notch, domain.

Usage:
``python meshes/sens.py [--h 0.01] [--h-far H]
[--output meshes/sens.msh] [--overwrite]``

A thin wrapper of ``femgp mesh build sens``; the geometry is in
:mod:`femgp.fem.meshes` (see :data:`femgp.fem.meshes.GEOMETRIES`), the same
one the demos mesh in memory.
"""

from __future__ import annotations

import sys
from pathlib import Path

from femgp.cli.mesh import geometry_script

if __name__ == "__main__":
    sys.exit(
        geometry_script("sens", h=0.01, default_output=str(Path(__file__).with_suffix(".msh")))
    )
