"""Meshes: gmsh geometries built on rank 0 and distributed, and mesh readers.

:mod:`.core` turns a gmsh model or ``.msh`` file into a DOLFINx mesh with named
tags and checks that the physical groups a model needs are present;
:mod:`.io` reads and writes user meshes (``.msh``, XDMF and the meshio formats)
with their tags; :mod:`.quality` checks meshes (inverted and degenerate cells,
dimensions) and reports on them; :mod:`.fracture`, :mod:`.panels`,
:mod:`.pfhub` and :mod:`.twinning` hold the geometries of the demos, and
:mod:`.catalog` names them for ``femgp mesh build``.
"""

from femgp.fem.meshes.catalog import GEOMETRIES, build
from femgp.fem.meshes.core import TaggedMesh, from_gmsh, read_msh, rectangle, require_groups
from femgp.fem.meshes.io import read_mesh, to_meshio, write_mesh
from femgp.fem.meshes.quality import check_mesh, mesh_report

__all__ = [
    "GEOMETRIES",
    "TaggedMesh",
    "build",
    "check_mesh",
    "from_gmsh",
    "mesh_report",
    "read_mesh",
    "read_msh",
    "rectangle",
    "require_groups",
    "to_meshio",
    "write_mesh",
]
