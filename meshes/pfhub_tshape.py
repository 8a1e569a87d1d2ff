"""Write the PFHub benchmark 1c T-shaped domain as a gmsh ``.msh`` file.

Usage: ``python meshes/pfhub_tshape.py [--h 2.0] [--output meshes/pfhub_tshape.msh]``

Stem x in [0, 20], y in [0, 100]; top bar x in [-40, 60], y in [100, 120];
physical groups ``domain`` (surface) and ``boundary`` (curves). The geometry is
:func:`femgp.fem.meshes.pfhub.build_tshape`, the same one the demo meshes in
memory; ``demos/cahn_hilliard_spinodal.py --mesh FILE`` reads the file back.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from femgp.scripting import ArgumentParser, positive_float, script_main


def main(argv: Sequence[str] | None = None) -> int:
    p = ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--h", type=positive_float, default=2.0, help="mesh size")
    p.add_argument("--output", default=str(Path(__file__).with_suffix(".msh")))
    args = p.parse_args(argv)
    import gmsh

    from femgp.fem.meshes.pfhub import build_tshape

    out = Path(args.output)
    tmp = out.with_name(f".{out.stem}.tmp{os.getpid()}.msh")
    gmsh.initialize(interruptible=False)
    try:
        gmsh.option.setNumber("General.Terminal", 0)
        gmsh.model.add("pfhub_tshape")
        build_tshape(gmsh, args.h)
        gmsh.write(str(tmp))
    finally:
        gmsh.finalize()
    os.replace(tmp, out)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(script_main(main))
