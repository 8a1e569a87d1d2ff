"""Write the plate with two holes as a gmsh ``.msh`` file.

Groups and units: 65 x 120; groups bottom, top, left, right, holes, domain.

Usage:
``python meshes/plate_with_holes.py [--h 3] [--h-far H]
[--output meshes/plate_with_holes.msh] [--overwrite]``

A thin wrapper of ``femgp mesh build plate_with_holes --h 3`` (the shipped file's
size; the command's own default is 2); the geometry is in
:mod:`femgp.fem.meshes` (see :data:`femgp.fem.meshes.GEOMETRIES`), the same
one the demos mesh in memory.
"""

from __future__ import annotations

import sys
from pathlib import Path

from femgp.cli.mesh import geometry_script

if __name__ == "__main__":
    sys.exit(
        geometry_script(
            "plate_with_holes", h=3, default_output=str(Path(__file__).with_suffix(".msh"))
        )
    )
