"""Meshes: gmsh geometries built on rank 0 and distributed, and mesh readers.

:mod:`.core` turns a gmsh model or ``.msh`` file into a DOLFINx mesh with named
tags and checks that the physical groups a model needs are present;
:mod:`.pfhub` holds the PFHub benchmark 1 geometries.
"""

from femgp.fem.meshes.core import TaggedMesh, from_gmsh, read_msh, rectangle, require_groups

__all__ = ["TaggedMesh", "from_gmsh", "read_msh", "rectangle", "require_groups"]
