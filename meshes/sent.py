"""Write the SENT notched plate as a gmsh ``.msh`` file.

Groups and units: 1 mm; groups bottom, right, top, left, notch, domain.

Usage:
``python meshes/sent.py [--h 0.01] [--h-far H]
[--output meshes/sent.msh] [--overwrite]``

A thin wrapper of ``femgp mesh build sent``; the geometry is in
:mod:`femgp.fem.meshes` (see :data:`femgp.fem.meshes.GEOMETRIES`), the same
one the demos mesh in memory.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from femgp.mesh_cli import main as mesh_main
from femgp.scripting import ArgumentParser, positive_float


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the options and build the mesh."""
    p = ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--h", type=positive_float, default=0.01, help="fine mesh size")
    p.add_argument("--h-far", type=positive_float, default=None, help="coarse mesh size")
    p.add_argument("--output", default=str(Path(__file__).with_suffix(".msh")))
    p.add_argument("--overwrite", action="store_true")
    args = p.parse_args(argv)
    cmd = ["mesh", "build", "sent", "--output", args.output, "--h", str(args.h)]
    if args.h_far is not None:
        cmd += ["--h-far", str(args.h_far)]
    if args.overwrite:
        cmd.append("--overwrite")
    return mesh_main(cmd)


if __name__ == "__main__":
    sys.exit(main())
