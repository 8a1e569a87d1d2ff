"""Read and write user meshes with their cell and facet tags.

:func:`read_mesh` reads gmsh ``.msh`` (through :func:`~femgp.fem.meshes.core.read_msh`),
DOLFINx XDMF (``.xdmf``, with the ``cell_tags``/``facet_tags`` that
:func:`write_mesh` writes) and every format meshio reads (``.vtu``, ``.inp``,
``.med``, ``.mesh``, ...): on rank 0, checked, then distributed. Tags come from
meshio's cell data (``gmsh:physical``, ``medit:ref``, ``cell_tags``, ...) on the
cell blocks and on the facet blocks (lines in 2D, triangles or quads in 3D);
names from ``field_data`` (gmsh) or from cell sets (Abaqus element sets, one
tag per set in file order; a cell in two sets keeps the first). Only linear
cells are read through meshio; use ``.msh`` for curved cells.

Before DOLFINx sees a ``.msh`` or meshio file, rank 0 rejects repeated vertices,
duplicate cells, tagged facets that are no facet of a cell and cells whose node
order is reversed against the rest of the mesh (inverted, where ``gdim ==
tdim``); after distribution :func:`~femgp.fem.meshes.quality.check_mesh` rejects
degenerate and folded cells. :func:`write_mesh` writes every cell with a
positive orientation, so meshes DOLFINx made (whose ``create_rectangle`` mixes
orientations) read back.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import femgp.fem._backend  # noqa: F401  (dolfinx_solver before dolfinx)

import numpy as np
from mpi4py import MPI

from femgp.errors import InputError
from femgp.fem.meshes.core import TaggedMesh, read_msh
from femgp.fem.meshes.quality import check_mesh
from femgp.files import replace_as_created

__all__ = [
    "MESHIO_SUFFIXES",
    "SUPPORTED_SUFFIXES",
    "WRITE_SUFFIXES",
    "read_mesh",
    "to_meshio",
    "write_mesh",
]

MESHIO_SUFFIXES = (
    ".vtu", ".vtk", ".inp", ".med", ".mesh", ".meshb", ".obj", ".off", ".ply", ".stl",
    ".su2", ".ugrid", ".dat", ".bdf", ".nas", ".f3grid", ".msh2",
)  # fmt: skip
SUPPORTED_SUFFIXES = (".msh", ".xdmf", *MESHIO_SUFFIXES)
WRITE_SUFFIXES = (".msh", ".xdmf", ".vtu", ".inp", ".mesh")

TAG_KEYS = ("gmsh:physical", "medit:ref", "cell_tags", "CellEntityIds", "tags", "cell_tag")
GROUPS_INFO = "femgp_groups"

_MESHIO_CELLS = {  # meshio type -> (DOLFINx cell, tdim, vertices)
    "line": ("interval", 1, 2),
    "triangle": ("triangle", 2, 3),
    "quad": ("quadrilateral", 2, 4),
    "tetra": ("tetrahedron", 3, 4),
    "hexahedron": ("hexahedron", 3, 8),
}
_FACET_TYPES = {1: ("vertex",), 2: ("line",), 3: ("triangle", "quad")}
_DOLFINX_TO_MESHIO = {v[0]: k for k, v in _MESHIO_CELLS.items()}
_VTK_TO_DOLFINX = {"quadrilateral": [0, 1, 3, 2], "hexahedron": [0, 1, 3, 2, 4, 5, 7, 6]}


def _suffix(path: Path) -> str:
    return path.suffix.lower()


def _check_suffix(path: Path, allowed: tuple[str, ...], what: str) -> None:
    if _suffix(path) not in allowed:
        raise InputError(
            f"cannot {what} mesh file {str(path)!r}: unknown suffix {path.suffix or '(none)'!r}; "
            f"supported: {', '.join(allowed)}"
        )


def read_mesh(
    path: str | Path,
    comm: MPI.Comm = MPI.COMM_WORLD,
    *,
    gdim: int | None = None,
    check: bool = True,
) -> TaggedMesh:
    """Read a mesh file with its tags on rank 0, check it and distribute it.

    Args:
        path: ``.msh`` (gmsh), ``.xdmf`` (DOLFINx) or any suffix meshio reads
            (:data:`MESHIO_SUFFIXES`).
        comm: the communicator the mesh is distributed over.
        gdim: the geometric dimension; None infers it (a zero z column of a
            planar mesh is dropped). A mesh whose coordinates need more than
            ``gdim`` columns, or a ``gdim`` below the cells' dimension, raises.
        check: reject degenerate and inverted cells (:func:`check_mesh`).

    Raises:
        InputError: a missing, malformed or unsupported file, a gdim mismatch,
            mixed or curved cell types, degenerate or inverted cells.
    """
    path = Path(path)
    _check_suffix(path, SUPPORTED_SUFFIXES, "read")
    what = (
        None
        if comm.rank != 0 or path.is_file()
        else ("is a folder, not a file" if path.is_dir() else "does not exist")
    )
    what = comm.bcast(what, root=0)
    if what is not None:
        raise InputError(f"mesh file {str(path)!r} {what}")
    if gdim is not None and gdim not in (1, 2, 3):
        raise InputError(f"gdim must be 1, 2 or 3, got {gdim!r}")
    suffix = _suffix(path)
    if suffix == ".msh":
        tm = _read_gmsh(path, comm, gdim, check)
    elif suffix == ".xdmf":
        tm = _read_xdmf(path, comm, gdim)
    else:
        tm = _read_meshio(path, comm, gdim, check)
    if check:
        check_mesh(tm, source=f"mesh file {str(path)!r}")
    return tm


def _read_gmsh(path: Path, comm: MPI.Comm, gdim: int | None, check: bool) -> TaggedMesh:
    need = None
    if comm.rank == 0:
        try:
            need = _gmsh_probe(path, check)
        except Exception as exc:  # every rank must learn it (no hang in bcast)
            need = f"cannot read mesh file {str(path)!r}: {type(exc).__name__}: {exc}"
    need = comm.bcast(need, root=0)
    if isinstance(need, str):
        raise InputError(need)
    need_gdim, tdim = need
    target = _resolve_gdim(path, need_gdim, tdim, gdim)
    return read_msh(path, comm, gdim=target)


def _gmsh_probe(path: Path, check: bool) -> tuple[int, int] | str:
    """(columns the coordinates need, highest element dimension) or the error message.

    Runs :func:`_raw_checks` on the file's cells (orientation only with ``check``).
    """
    import gmsh

    gmsh.initialize(interruptible=False)
    try:
        gmsh.option.setNumber("General.Terminal", 0)
        cannot = f"cannot read mesh file {str(path)!r}: "
        try:
            gmsh.merge(str(path))
        except Exception as exc:
            return cannot + (str(exc) or "gmsh could not parse it")
        _, coords, _ = gmsh.model.mesh.getNodes()
        tdim = gmsh.model.getDimension()
        if tdim < 1 or coords.size == 0:
            return cannot + "it holds no mesh"
        if not gmsh.model.getPhysicalGroups(tdim):
            return cannot + (
                f"it has no physical group of dimension {tdim}; every cell must belong to one "
                "(name the domain, e.g. 'domain')"
            )
        for _, entity in gmsh.model.getEntities(tdim):
            _, elements, _ = gmsh.model.mesh.getElements(tdim, entity)
            has = any(len(e) for e in elements)
            if has and not gmsh.model.getPhysicalGroupsForEntity(tdim, entity):
                return cannot + (
                    f"the cells of its {tdim}D entity {entity} belong to no physical group; "
                    "every cell must belong to one"
                )
        x = coords.reshape(-1, 3)
        need = _needed_columns(x)
        tags, _, _ = gmsh.model.mesh.getNodes()
        order = np.argsort(tags)
        tags = tags[order]
        x = x[order][:, : max(need, int(tdim))]

        def rows(dim: int, entity: int = -1) -> list[tuple[str | None, np.ndarray]]:
            out = []
            types, _, nodes = gmsh.model.mesh.getElements(dim, entity)
            for etype, enodes in zip(types, nodes, strict=True):
                _, _, _, num, _, primary = gmsh.model.mesh.getElementProperties(etype)
                arr = np.searchsorted(tags, np.asarray(enodes).reshape(-1, num)[:, :primary])
                out.append((_GMSH_CELLS.get((dim, int(primary))), arr.astype(np.int64)))
            return out

        facets = [
            arr
            for _, tag in gmsh.model.getPhysicalGroups(tdim - 1)
            for e in gmsh.model.getEntitiesForPhysicalGroup(tdim - 1, tag)
            for _, arr in rows(tdim - 1, e)
        ]
        for name, cells in rows(int(tdim)):
            if name is not None:
                _raw_checks(path, x, cells, name, facets, orientation=check)
        return need, int(tdim)
    except InputError as exc:
        return str(exc)
    finally:
        gmsh.finalize()


_GMSH_CELLS = {
    (1, 2): "interval",
    (2, 3): "triangle",
    (2, 4): "quadrilateral",
    (3, 4): "tetrahedron",
    (3, 8): "hexahedron",
}
_SIMPLEX_FACETS = {
    "interval": ((0,), (1,)),
    "triangle": ((0, 1), (1, 2), (2, 0)),
    "tetrahedron": ((0, 1, 2), (0, 1, 3), (0, 2, 3), (1, 2, 3)),
}


def _raw_checks(
    path: Path,
    x: np.ndarray,
    cells: np.ndarray,
    name: str,
    facets: list[np.ndarray],
    *,
    orientation: bool = True,
) -> None:
    """Checks on the file's own numbering (rank 0, before DOLFINx sees the cells).

    ``cells`` in gmsh/VTK vertex order. Raises InputError for a point of a cell
    whose coordinates are not finite, a repeated vertex,
    duplicate cells, tagged facets that are no facet of a cell and, where
    ``gdim == tdim >= 2``, cells whose orientation is opposite to the majority
    (a reversed node order: an inverted cell in gmsh, Abaqus or VTK terms).
    """
    from femgp.fem.meshes.quality import cell_geometry

    where = f"mesh file {str(path)!r}"

    def example(k: int) -> str:
        pts = ", ".join("(" + ", ".join(f"{v:g}" for v in x[i]) + ")" for i in cells[k])
        return f"input cell {k} with vertices {pts}"

    used = np.unique(cells)
    bad = used[~np.isfinite(x[used]).all(axis=1)]
    if bad.size:
        point = ", ".join(f"{v:g}" for v in x[bad[0]])
        raise InputError(
            f"{where} has non-finite coordinates (nan or inf): {bad.size} point(s) of its "
            f"cells, e.g. input point {int(bad[0])} at ({point})"
        )
    ordered = np.sort(cells, axis=1)
    repeated = np.flatnonzero(np.any(ordered[:, 1:] == ordered[:, :-1], axis=1))
    if repeated.size:
        raise InputError(
            f"{where} has degenerate cells (a repeated vertex): {repeated.size} cell(s), "
            f"e.g. {example(int(repeated[0]))}"
        )
    _, first, counts = np.unique(ordered, axis=0, return_index=True, return_counts=True)
    if np.any(counts > 1):
        k = int(first[np.argmax(counts > 1)])
        raise InputError(
            f"{where} has duplicate cells (the same vertices twice): {int(np.sum(counts > 1))} "
            f"cell(s), e.g. {example(k)}"
        )
    if facets and any(f.size for f in facets):
        tagged = np.concatenate([np.sort(f, axis=1) for f in facets if f.size])
        used = np.zeros(x.shape[0], dtype=bool)
        used[cells.ravel()] = True
        orphan = ~np.all(used[tagged], axis=1)
        if name in _SIMPLEX_FACETS and not orphan.any():
            local = _SIMPLEX_FACETS[name]
            own = np.sort(np.concatenate([cells[:, list(f)] for f in local]), axis=1)
            orphan = ~np.isin(_row_keys(tagged, x.shape[0]), _row_keys(own, x.shape[0]))
        if orphan.any():
            k = int(np.flatnonzero(orphan)[0])
            pts = ", ".join("(" + ", ".join(f"{v:g}" for v in x[i]) + ")" for i in tagged[k])
            raise InputError(
                f"{where} has {int(orphan.sum())} tagged facet(s) that are no facet of any cell, "
                f"e.g. the facet with vertices {pts}"
            )
    tdim = {"interval": 1, "triangle": 2, "quadrilateral": 2}.get(name, 3)
    if not orientation or tdim != x.shape[1] or tdim < 2:
        return
    perm = _VTK_TO_DOLFINX.get(name)
    geo = cell_geometry(x[cells[:, perm] if perm else cells], name)
    positive = geo.jac_min > 0
    negative = geo.jac_max < 0
    if positive.sum() >= negative.sum():
        reversed_ = negative
    else:
        reversed_ = positive
    if reversed_.any():
        k = int(np.flatnonzero(reversed_)[0])
        raise InputError(
            f"{where} has inverted cells (node order reversed against the other "
            f"{int(max(positive.sum(), negative.sum()))} cells): {int(reversed_.sum())} "
            f"cell(s), e.g. {example(k)}"
        )


def _row_keys(rows: np.ndarray, base: int) -> np.ndarray:
    """One integer (or bytes) key per row of sorted vertex indices, for set lookups."""
    rows = np.ascontiguousarray(rows, dtype=np.int64)
    if float(base) ** rows.shape[1] < 2.0**62:
        return rows @ (base ** np.arange(rows.shape[1], dtype=np.int64))
    return np.array([r.tobytes() for r in rows])


def _needed_columns(x: np.ndarray) -> int:
    scale = max(float(np.abs(x).max()), 1e-300) if x.size else 1.0
    cols = x.shape[1]
    while cols > 1 and np.all(np.abs(x[:, cols - 1]) <= 1e-14 * scale):
        cols -= 1
    return cols


def _resolve_gdim(path: Path, need: int, tdim: int, gdim: int | None) -> int:
    target = max(need, tdim) if gdim is None else gdim
    if target < need:
        raise InputError(
            f"mesh file {str(path)!r} has coordinates in {need}D but gdim {target} was asked for "
            "(gdim mismatch)"
        )
    if target < tdim:
        raise InputError(
            f"mesh file {str(path)!r} has {tdim}D cells, which need gdim >= {tdim}, "
            f"but gdim {target} was asked for (gdim mismatch)"
        )
    return target


def _read_xdmf(path: Path, comm: MPI.Comm, gdim: int | None) -> TaggedMesh:
    from dolfinx.io import XDMFFile

    try:
        with XDMFFile(comm, str(path), "r") as f:
            msh = f.read_mesh(name="mesh")
            tdim = msh.topology.dim
            msh.topology.create_entities(tdim - 1)
            tags: dict[str, Any] = {}
            for key in ("cell_tags", "facet_tags"):
                try:
                    tags[key] = f.read_meshtags(msh, name=key)
                except RuntimeError:
                    tags[key] = None
            try:
                groups_json = f.read_information(GROUPS_INFO)
            except RuntimeError:
                groups_json = "{}"
    except RuntimeError as exc:
        raise InputError(f"cannot read mesh file {str(path)!r}: {exc}") from exc
    if gdim is not None and gdim != msh.geometry.dim:
        raise InputError(
            f"mesh file {str(path)!r} has gdim {msh.geometry.dim}, but gdim {gdim} was asked "
            "for (gdim mismatch)"
        )
    groups = {k: (int(v[0]), int(v[1])) for k, v in json.loads(groups_json or "{}").items()}
    return TaggedMesh(msh, tags["cell_tags"], tags["facet_tags"], groups)


def _read_meshio_rank0(path: Path, gdim: int | None, check: bool) -> dict[str, Any]:
    """Everything rank 0 needs to build the mesh, or raise InputError."""
    import meshio
    from meshio._helpers import reader_map

    formats = meshio.extension_to_filetypes.get(_suffix(path), [])
    m, errors = None, []
    for fmt in formats:
        try:  # meshio.read itself prints and calls sys.exit on a bad file
            with contextlib.redirect_stdout(io.StringIO()):
                m = reader_map[fmt](str(path))
            break
        except Exception as exc:  # meshio raises many types for a bad file
            text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            errors.append(f"as {fmt}: {text}")
    if m is None:
        why = "; ".join(errors) or "meshio has no reader for it"
        raise InputError(f"cannot read mesh file {str(path)!r}: {why}")
    blocks = [(b.type, np.asarray(b.data)) for b in m.cells]
    known = [t for t, _ in blocks if t in _MESHIO_CELLS]
    if not known:
        types = ", ".join(sorted({t for t, _ in blocks})) or "none"
        raise InputError(
            f"mesh file {str(path)!r} holds no linear cells femgp reads (found: {types}; "
            f"supported: {', '.join(_MESHIO_CELLS)}; use .msh for curved cells)"
        )
    tdim = max(_MESHIO_CELLS[t][1] for t in known)
    cell_types = sorted({t for t in known if _MESHIO_CELLS[t][1] == tdim})
    if len(cell_types) > 1:
        raise InputError(
            f"mesh file {str(path)!r} mixes cell types {', '.join(cell_types)}; femgp reads "
            "meshes of one cell type"
        )
    from meshio._mesh import topological_dimension

    unsupported = sorted(
        {t for t, _ in blocks if t not in _MESHIO_CELLS and topological_dimension.get(t, 0) >= tdim}
    )
    if unsupported:
        raise InputError(
            f"mesh file {str(path)!r} has cells femgp does not read through meshio: "
            f"{', '.join(unsupported)} (supported: {', '.join(_MESHIO_CELLS)}; use .msh for "
            "curved cells)"
        )
    cell_type = cell_types[0]
    x = np.asarray(m.points, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] == 0:
        raise InputError(f"mesh file {str(path)!r} has no points")
    target = _resolve_gdim(path, _needed_columns(x), tdim, gdim)
    if x.shape[1] < target:
        x = np.hstack([x, np.zeros((x.shape[0], target - x.shape[1]))])
    x = np.ascontiguousarray(x[:, :target])
    key = next((k for k in TAG_KEYS if k in m.cell_data), None)
    facet_types = _FACET_TYPES[tdim]
    cells, cell_values, facets, facet_values = [], [], [], []
    for i, (t, data) in enumerate(blocks):
        values = np.asarray(m.cell_data[key][i]).astype(np.int32).ravel() if key else None
        if values is not None and values.size != len(data) and t in (cell_type, *facet_types):
            raise InputError(
                f"mesh file {str(path)!r} has {values.size} values of its cell data {key!r} "
                f"for {len(data)} {t} cells (one integer tag per cell)"
            )
        if t == cell_type:
            cells.append(data)
            cell_values.append(values)
        elif t in facet_types and values is not None:
            facets.append(data)
            facet_values.append(values)
    cell_arr = np.concatenate(cells).astype(np.int64)
    if np.any(cell_arr < 0) or np.any(cell_arr >= x.shape[0]):
        raise InputError(f"mesh file {str(path)!r} has cells that refer to missing points")
    groups: dict[str, tuple[int, int]] = {}
    ct_values = np.concatenate(cell_values) if key and cell_values[0] is not None else None
    ft_entities = np.concatenate(facets).astype(np.int64) if facets else None
    ft_values = np.concatenate(facet_values) if facets else None
    if key:
        for name, (tag, dim) in ((k, v[:2]) for k, v in (m.field_data or {}).items()):
            if int(dim) in (tdim, tdim - 1):
                groups[str(name)] = (int(dim), int(tag))
        for tag, names in (getattr(m, "cell_tags", None) or {}).items():  # MED families
            in_cells = ct_values is not None and np.any(ct_values == int(tag))
            dim = tdim if in_cells else tdim - 1
            for group in names if isinstance(names, list | tuple) else [names]:
                groups.setdefault(str(group), (dim, int(tag)))
    elif m.cell_sets:
        ct_values, ft_entities, ft_values, groups = _cell_sets(m, cell_type, tdim)
    if ct_values is not None and not np.any(ct_values):
        ct_values = None  # all 0: untagged
    if ft_entities is not None and ft_values is not None:
        keep = ft_values != 0
        ft_entities, ft_values = ft_entities[keep], ft_values[keep]
        if not keep.any():
            ft_entities = ft_values = None
    dolfinx_name = _MESHIO_CELLS[cell_type][0]
    facet_list = [] if ft_entities is None else [ft_entities]
    _raw_checks(path, x, cell_arr, dolfinx_name, facet_list, orientation=check)
    if dolfinx_name in _VTK_TO_DOLFINX:
        cell_arr = cell_arr[:, _VTK_TO_DOLFINX[dolfinx_name]]
    return {
        "x": x,
        "cells": cell_arr,
        "cell_name": dolfinx_name,
        "cell_values": ct_values,
        "facets": ft_entities,
        "facet_values": ft_values,
        "groups": groups,
    }


def _cell_sets(
    m: Any, cell_type: str, tdim: int
) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None, dict[str, tuple[int, int]]]:
    """Cell values, facet entities and values, and groups from meshio cell sets.

    One tag per set in file order (cells and facets numbered apart); an entity
    in two sets keeps the first.
    """
    facet_types = _FACET_TYPES[tdim]
    kinds = {
        i: (tdim if b.type == cell_type else tdim - 1)
        for i, b in enumerate(m.cells)
        if b.type == cell_type or b.type in facet_types
    }
    offsets, start = {tdim: {}, tdim - 1: {}}, {tdim: 0, tdim - 1: 0}
    for i, dim in kinds.items():
        offsets[dim][i] = start[dim]
        start[dim] += len(m.cells[i].data)
    values = {dim: np.zeros(start[dim], dtype=np.int32) for dim in start}
    groups: dict[str, tuple[int, int]] = {}
    for tag, (name, per_block) in enumerate(m.cell_sets.items(), start=1):
        for dim in (tdim, tdim - 1):
            idx = [
                np.asarray(sel, dtype=np.int64) + offsets[dim][i]
                for i, sel in enumerate(per_block)
                if i in offsets[dim] and sel is not None and len(sel)
            ]
            if idx:
                members = np.concatenate(idx)
                values[dim][members[values[dim][members] == 0]] = tag
                groups.setdefault(str(name), (dim, tag))
    cell_values = values[tdim] if np.any(values[tdim]) else None
    facet_blocks = [m.cells[i].data for i, d in kinds.items() if d == tdim - 1]
    facets = facet_values = None
    if facet_blocks and np.any(values[tdim - 1]):
        keep = values[tdim - 1] > 0
        facets = np.concatenate(facet_blocks).astype(np.int64)[keep]
        facet_values = values[tdim - 1][keep]
    return cell_values, facets, facet_values, groups


def _read_meshio(path: Path, comm: MPI.Comm, gdim: int | None, check: bool) -> TaggedMesh:
    import basix.ufl
    from dolfinx import mesh as dmesh
    from dolfinx.graph import adjacencylist
    from dolfinx.io import distribute_entity_data

    data, error = None, None
    if comm.rank == 0:
        try:
            data = _read_meshio_rank0(path, gdim, check)
        except InputError as exc:
            error = str(exc)
        except Exception as exc:  # any other: every rank must learn it (no hang in bcast)
            error = f"cannot read mesh file {str(path)!r}: {type(exc).__name__}: {exc}"
    error = comm.bcast(error, root=0)
    if error:
        raise InputError(error)
    head = None
    if comm.rank == 0:
        assert data is not None
        head = {
            "cell_name": data["cell_name"],
            "gdim": data["x"].shape[1],
            "nv": data["cells"].shape[1],
            "has_cells": data["cell_values"] is not None,
            "facet_nv": None if data["facets"] is None else data["facets"].shape[1],
            "groups": data["groups"],
        }
    head = comm.bcast(head, root=0)
    gd, nv = head["gdim"], head["nv"]
    if comm.rank != 0:
        fnv = head["facet_nv"] or 1
        data = {
            "x": np.zeros((0, gd)),
            "cells": np.zeros((0, nv), dtype=np.int64),
            "cell_values": np.zeros(0, dtype=np.int32) if head["has_cells"] else None,
            "facets": None if head["facet_nv"] is None else np.zeros((0, fnv), dtype=np.int64),
            "facet_values": np.zeros(0, dtype=np.int32),
        }
    assert data is not None
    element = basix.ufl.element("Lagrange", head["cell_name"], 1, shape=(gd,))
    try:
        msh = dmesh.create_mesh(comm, data["cells"], element, data["x"])
    except Exception as exc:  # topology errors of a broken file
        raise InputError(f"cannot build a mesh from {str(path)!r}: {exc}") from exc
    tdim = msh.topology.dim

    def tags(dim: int, entities: np.ndarray, values: np.ndarray) -> Any:
        local_e, local_v = distribute_entity_data(msh, dim, entities, values)
        msh.topology.create_connectivity(dim, tdim)
        mt = dmesh.meshtags_from_entities(
            msh, dim, adjacencylist(local_e), local_v.astype(np.int32, copy=False)
        )
        mt.name = "cell_tags" if dim == tdim else "facet_tags"
        return mt

    try:
        cell_tags = tags(tdim, data["cells"], data["cell_values"]) if head["has_cells"] else None
        facet_tags = None
        if head["facet_nv"] is not None:
            facet_tags = tags(tdim - 1, data["facets"], data["facet_values"])
    except Exception as exc:  # e.g. tagged lines that are no edges of the cells
        raise InputError(f"cannot convert the tags of {str(path)!r}: {exc}") from exc
    return TaggedMesh(msh, cell_tags, facet_tags, dict(head["groups"]))


def to_meshio(tm: TaggedMesh, *, tag_all_cells: bool = False, key: str = "gmsh:physical") -> Any:
    """The serial TaggedMesh as a ``meshio.Mesh`` with ``gmsh:physical`` tags and names.

    Cells carry their cell tags (0 where untagged; with ``tag_all_cells`` the
    untagged cells get a new group ``domain``, as a ``.msh`` file needs), tagged
    facets form a second block; ``field_data`` maps group names to
    ``[tag, dim]`` as gmsh does.
    """
    import meshio
    from dolfinx.mesh import entities_to_geometry

    msh = tm.mesh
    if msh.comm.size != 1:
        raise InputError("to_meshio needs a mesh on one rank (read it with COMM_SELF)")
    tdim, gdim = msh.topology.dim, msh.geometry.dim
    name = msh.topology.cell_name()
    if name not in _DOLFINX_TO_MESHIO:
        raise InputError(f"cannot convert {name} cells; supported: {', '.join(_DOLFINX_TO_MESHIO)}")
    x = msh.geometry.x[:, :gdim].copy()
    n = msh.topology.index_map(tdim).size_local
    nv = _MESHIO_CELLS[_DOLFINX_TO_MESHIO[name]][2]
    cells = msh.geometry.dofmaps[0][:n, :nv].copy()
    if name in _VTK_TO_DOLFINX:
        perm = _VTK_TO_DOLFINX[name]
        cells = cells[:, np.argsort(perm)]
    if tdim == gdim >= 2:  # write every cell counter-clockwise (positive Jacobian)
        from femgp.fem.meshes.quality import cell_geometry

        perm = _VTK_TO_DOLFINX.get(name)
        geo = cell_geometry(x[cells[:, perm] if perm else cells], name)
        flip = geo.jac_max < 0
        swap = {"triangle": [0, 2, 1], "tetrahedron": [0, 2, 1, 3], "quadrilateral": [0, 3, 2, 1]}
        swap["hexahedron"] = [0, 3, 2, 1, 4, 7, 6, 5]
        cells[flip] = cells[flip][:, swap[name]]
    cell_values = np.zeros(n, dtype=np.int32)
    if tm.cell_tags is not None:
        cell_values[tm.cell_tags.indices] = tm.cell_tags.values
    groups = dict(tm.groups)
    if tag_all_cells and np.any(cell_values == 0):
        used = [t for d, t in groups.values()] + [int(cell_values.max())]
        new = max(used) + 1
        cell_values[cell_values == 0] = new
        label = "domain" if "domain" not in groups else f"untagged_{new}"
        groups[label] = (tdim, new)
    blocks = [(_DOLFINX_TO_MESHIO[name], cells)]
    physical = [cell_values]
    if tm.facet_tags is not None and tm.facet_tags.indices.size:
        msh.topology.create_connectivity(tdim - 1, tdim)
        fnodes = entities_to_geometry(msh, tdim - 1, tm.facet_tags.indices.astype(np.int32))
        ftype = {1: "vertex", 2: "line", 3: "triangle" if name == "tetrahedron" else "quad"}[tdim]
        if ftype == "quad":
            fnodes = fnodes[:, [0, 1, 3, 2]]
        if ftype == "vertex":
            fnodes = fnodes[:, :1]
        blocks.append((ftype, fnodes))
        physical.append(tm.facet_tags.values.astype(np.int32))
    field_data = {k: np.array([t, d]) for k, (d, t) in groups.items()}
    cell_data = {key: physical}
    if key == "gmsh:physical":
        cell_data["gmsh:geometrical"] = [p.copy() for p in physical]
    dims = [tdim] + [tdim - 1] * (len(blocks) - 1)
    cell_sets = {
        k: [
            np.flatnonzero(v == t) if d == dim else np.zeros(0, dtype=np.int64)
            for v, dim in zip(physical, dims, strict=True)
        ]
        for k, (d, t) in groups.items()
    }
    return meshio.Mesh(x, blocks, cell_data=cell_data, field_data=field_data, cell_sets=cell_sets)


def write_mesh(tm: TaggedMesh, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write a mesh with its tags and group names, atomically.

    ``.xdmf`` (with ``.h5``; any number of ranks) through DOLFINx with
    meshtags ``cell_tags``/``facet_tags`` and the group names as XDMF
    information; the other :data:`WRITE_SUFFIXES` through meshio (one rank).
    An existing file (for ``.xdmf``, its ``.h5`` too) is kept unless ``overwrite``.
    """
    path = Path(path)
    comm = tm.mesh.comm
    _check_suffix(path, WRITE_SUFFIXES, "write")
    targets = [path, path.with_suffix(".h5")] if _suffix(path) == ".xdmf" else [path]
    exists = next((str(t) for t in targets if t.exists()), None) if comm.rank == 0 else None
    exists = comm.bcast(exists, root=0)
    folder = next((str(t) for t in targets if t.is_dir()), None) if comm.rank == 0 else None
    folder = comm.bcast(folder, root=0)
    if folder is not None:  # checked before anything is replaced, and before --overwrite
        raise InputError(f"{folder!r} is a folder; a mesh file cannot replace it")
    if exists is not None and not overwrite:
        raise InputError(f"{exists!r} exists; pass overwrite (--overwrite) to replace it")
    parent = path.parent
    parent_ok = parent.is_dir() if comm.rank == 0 else None
    if not comm.bcast(parent_ok, root=0):
        what = "is a file" if parent.exists() else "does not exist"
        raise InputError(f"the folder of {str(path)!r} ({str(parent)!r}) {what}")
    if _suffix(path) == ".xdmf":
        _write_xdmf(tm, path)
        return path
    suffix = _suffix(path)
    key = "medit:ref" if suffix == ".mesh" else "gmsh:physical"
    mm = to_meshio(tm, tag_all_cells=suffix == ".msh", key=key)
    if suffix != ".inp":
        mm.cell_sets = {}
    if suffix == ".vtu" and mm.points.shape[1] < 3:  # VTK stores 3D points
        mm.points = np.hstack([mm.points, np.zeros((len(mm.points), 3 - mm.points.shape[1]))])
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        if _suffix(path) == ".msh":
            mm.write(str(tmp), file_format="gmsh22", binary=False)
        else:
            mm.write(str(tmp))
        replace_as_created(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _write_xdmf(tm: TaggedMesh, path: Path) -> None:
    from dolfinx.io import XDMFFile

    comm = tm.mesh.comm
    tmpdir = None
    if comm.rank == 0:
        tmpdir = tempfile.mkdtemp(prefix=f".{path.stem}.", dir=path.parent)
    tmpdir = comm.bcast(tmpdir, root=0)
    tmp = Path(tmpdir) / path.name
    try:
        msh = tm.mesh
        msh.name = "mesh"
        with XDMFFile(comm, str(tmp), "w") as f:
            f.write_mesh(msh)
            geometry = "/Xdmf/Domain/Grid[@Name='mesh']/Geometry"
            for key, mt in (("cell_tags", tm.cell_tags), ("facet_tags", tm.facet_tags)):
                if mt is not None:
                    mt.name = key
                    msh.topology.create_connectivity(mt.dim, msh.topology.dim)
                    f.write_meshtags(mt, msh.geometry, geometry_xpath=geometry)
            groups = {k: [int(d), int(t)] for k, (d, t) in tm.groups.items()}
            f.write_information(GROUPS_INFO, json.dumps(groups))
        comm.Barrier()
        if comm.rank == 0:
            os.replace(tmp.with_suffix(".h5"), path.with_suffix(".h5"))
            os.replace(tmp, path)
    finally:
        comm.Barrier()
        if comm.rank == 0:
            for leftover in Path(tmpdir).iterdir():
                leftover.unlink()
            Path(tmpdir).rmdir()
