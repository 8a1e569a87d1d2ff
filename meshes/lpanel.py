"""Write the L-shaped panel of Winkler (2001) as a gmsh ``.msh`` file.

Groups and units: mm; groups bottom, load, boundary, domain.

Usage:
``python meshes/lpanel.py [--h 10] [--h-far H]
[--output meshes/lpanel.msh] [--overwrite]``

A thin wrapper of ``femgp mesh build lpanel --h 10`` (the shipped file's size;
the command's own default is 5); the geometry is in
:mod:`femgp.fem.meshes` (see :data:`femgp.fem.meshes.GEOMETRIES`), the same
one the demos mesh in memory.
"""

from __future__ import annotations

import sys
from pathlib import Path

from femgp.cli.mesh import geometry_script

if __name__ == "__main__":
    sys.exit(
        geometry_script("lpanel", h=10, default_output=str(Path(__file__).with_suffix(".msh")))
    )
