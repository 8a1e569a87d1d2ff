"""Mesh checks and statistics: inverted and degenerate cells, shape quality, h.

:func:`check_mesh` raises :class:`~femgp.errors.InputError` for a mesh a model
cannot use: cells of zero or near-zero volume, inverted cells and the wrong
topological or geometric dimension. :func:`mesh_report` summarises a mesh
(cells, vertices, cell type, tags with names and counts, shape quality, h).

Definitions (each cell's vertices in DOLFINx order, owned cells only, every
number reduced over the communicator so 1 and N ranks agree):

- ``h``: the cell diameter, the largest distance between two of its vertices.
- degenerate: a cell whose smallest Jacobian determinant (one for a simplex, one
  per corner for quadrilaterals and hexahedra) is at most ``1e-8 h^tdim`` in
  absolute value: zero or near-zero volume, or a repeated vertex.
- inverted (only where ``gdim == tdim >= 2``): a quadrilateral or hexahedron
  whose corner Jacobians change sign (a bow-tie cell), or a cell that folds
  over a neighbour: the centroids of the two cells of an interior facet lie on
  the same side of it (a node moved past its neighbours' facet). Facets between
  two ranks are compared too. The vertex order alone (clockwise or
  counter-clockwise) is not checked here: DOLFINx integrates with ``|det J|``
  and its own ``create_rectangle`` mixes both; files, whose formats require one
  orientation, are checked for it by :func:`femgp.fem.meshes.io.read_mesh`.
- quality: the radius ratio (``2 r/R`` for triangles, ``3 r/R`` for tetrahedra;
  1 for the equilateral cell, 0 for a flat one) or, for quadrilaterals and
  hexahedra, the minimum scaled Jacobian (1 for a rectangle or box).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import femgp.fem._backend  # noqa: F401  (dolfinx_solver before dolfinx)

import numpy as np
from mpi4py import MPI

from femgp.errors import InputError

__all__ = ["DEGENERATE_RTOL", "CellGeometry", "cell_geometry", "check_mesh", "mesh_report"]

DEGENERATE_RTOL = 1e-8

_VERTS = {"interval": 2, "triangle": 3, "quadrilateral": 4, "tetrahedron": 4, "hexahedron": 8}
_TDIM = {"interval": 1, "triangle": 2, "quadrilateral": 2, "tetrahedron": 3, "hexahedron": 3}


@dataclass
class CellGeometry:
    """Per-cell geometric data of a batch of cells (see the module docstring).

    Attributes:
        h: cell diameters.
        jac_min, jac_max: smallest and largest corner Jacobian determinant
            (signed where ``gdim == tdim``, else unsigned measures).
        jac_absmin: smallest absolute corner Jacobian determinant.
        volume: cell measures (length, area or volume).
        quality: the shape quality, before orientation is applied (quad/hex).
        signed: whether the determinants carry an orientation.
    """

    h: np.ndarray
    jac_min: np.ndarray
    jac_max: np.ndarray
    jac_absmin: np.ndarray
    volume: np.ndarray
    quality: np.ndarray
    signed: bool


def _det2(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]


def _det3(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", a, np.cross(b, c))


def _norm(a: np.ndarray) -> np.ndarray:
    return np.linalg.norm(a, axis=1)


def _measure(vectors: list[np.ndarray], gdim: int) -> tuple[np.ndarray, bool]:
    """Signed det of tdim edge vectors where gdim == tdim, else the unsigned measure."""
    tdim = len(vectors)
    if tdim == gdim == 2:
        return _det2(*vectors), True
    if tdim == gdim == 3:
        return _det3(*vectors), True
    if tdim == 1:
        return _norm(vectors[0]), False
    return _norm(np.cross(vectors[0], vectors[1])), False  # tdim 2 in 3D


def cell_geometry(x: np.ndarray, cell_name: str) -> CellGeometry:
    """Diameters, corner Jacobians and quality of cells with vertex coordinates ``x``.

    ``x`` has shape ``(num_cells, num_vertices, gdim)`` in DOLFINx vertex order
    (quadrilaterals and hexahedra in tensor-product order).
    """
    n, nv, gdim = x.shape
    if gdim == 2 and cell_name in ("tetrahedron", "hexahedron"):
        raise InputError(f"a {cell_name} mesh needs gdim 3, got gdim {gdim}")
    h = np.zeros(n)
    for i in range(nv):
        for j in range(i + 1, nv):
            h = np.maximum(h, _norm(x[:, i] - x[:, j]))
    if cell_name == "interval":
        length = _norm(x[:, 1] - x[:, 0])
        return CellGeometry(h, length, length, length, length, np.ones(n), False)
    if cell_name == "triangle":
        e1, e2 = x[:, 1] - x[:, 0], x[:, 2] - x[:, 0]
        if gdim == 2:
            det, signed = _det2(e1, e2), True
        else:
            det, signed = _norm(np.cross(e1, e2)), False
        a, b, c = _norm(x[:, 1] - x[:, 2]), _norm(x[:, 2] - x[:, 0]), _norm(x[:, 0] - x[:, 1])
        area = 0.5 * np.abs(det)
        with np.errstate(divide="ignore", invalid="ignore"):
            q = np.where(a * b * c > 0, 16 * area**2 / (a * b * c * (a + b + c)), 0.0)
        return CellGeometry(h, det, det, np.abs(det), area, q, signed)
    if cell_name == "tetrahedron":
        e = [x[:, k] - x[:, 0] for k in (1, 2, 3)]
        det = _det3(*e)
        vol = np.abs(det) / 6
        faces = ((1, 2, 3), (0, 2, 3), (0, 1, 3), (0, 1, 2))
        s = sum(0.5 * _norm(np.cross(x[:, j] - x[:, i], x[:, k] - x[:, i])) for i, j, k in faces)
        pairs = (((0, 1), (2, 3)), ((0, 2), (1, 3)), ((0, 3), (1, 2)))
        p = [_norm(x[:, i] - x[:, j]) * _norm(x[:, k] - x[:, m]) for (i, j), (k, m) in pairs]
        prod = (p[0] + p[1] + p[2]) * (p[0] + p[1] - p[2]) * (p[0] - p[1] + p[2])
        prod = prod * (-p[0] + p[1] + p[2])
        with np.errstate(divide="ignore", invalid="ignore"):
            r_in = np.where(s > 0, 3 * vol / s, 0.0)
            r_out = np.where(vol > 0, np.sqrt(np.maximum(prod, 0.0)) / (24 * vol), np.inf)
            q = np.where(vol > 0, 3 * r_in / r_out, 0.0)
        return CellGeometry(h, det, det, np.abs(det), vol, q, True)
    # quadrilateral and hexahedron: corner Jacobians in tensor-product order
    tdim = _TDIM[cell_name]
    xs = x
    dets, scaled = [], []
    for corner in range(nv):
        bits = [(corner >> d) & 1 for d in range(tdim)]
        edges = [
            (xs[:, corner ^ (1 << d)] - xs[:, corner]) * (-1.0 if bits[d] else 1.0)
            for d in range(tdim)
        ]
        det, signed = _measure(edges, xs.shape[2])
        norms = np.prod([_norm(e) for e in edges], axis=0)
        dets.append(det)
        with np.errstate(divide="ignore", invalid="ignore"):
            scaled.append(np.where(norms > 0, det / norms, 0.0))
    dets_a, scaled_a = np.array(dets), np.array(scaled)
    if tdim == 2:  # two triangles (0, 1, 3) and (0, 3, 2) of the bilinear quad
        a, b, c = xs[:, 1] - xs[:, 0], xs[:, 3] - xs[:, 0], xs[:, 2] - xs[:, 0]
        if gdim == 2:
            volume = 0.5 * np.abs(_det2(a, b) + _det2(b, c))
        else:
            volume = 0.5 * _norm(np.cross(a, b) + np.cross(b, c))
    else:  # six tetrahedra around the diagonal 0-7
        tets = ((0, 1, 3, 7), (0, 1, 5, 7), (0, 2, 3, 7), (0, 2, 6, 7), (0, 4, 5, 7), (0, 4, 6, 7))
        volume = (
            sum(
                np.abs(_det3(xs[:, b] - xs[:, a], xs[:, c] - xs[:, a], xs[:, d] - xs[:, a]))
                for a, b, c, d in tets
            )
            / 6
        )
    return CellGeometry(
        h,
        dets_a.min(axis=0),
        dets_a.max(axis=0),
        np.abs(dets_a).min(axis=0),
        volume,
        scaled_a.min(axis=0),
        signed,
    )


def _owned_geometry(tm: Any) -> tuple[CellGeometry, np.ndarray, np.ndarray, str]:
    msh = tm.mesh if hasattr(tm, "mesh") else tm
    tdim = msh.topology.dim
    name = msh.topology.cell_name()
    n = msh.topology.index_map(tdim).size_local
    nodes = msh.geometry.dofmaps[0][:n, : _VERTS[name]]
    x = msh.geometry.x[:, : msh.geometry.dim][nodes]
    orig = np.asarray(msh.topology.original_cell_index[:n], dtype=np.int64)
    return cell_geometry(x, name), orig, x, name


def _first_bad(mask: np.ndarray, orig: np.ndarray, x: np.ndarray, comm: MPI.Comm) -> str:
    count = comm.allreduce(int(np.count_nonzero(mask)))
    local = None
    if mask.any():
        k = int(np.flatnonzero(mask)[np.argmin(orig[mask])])
        local = (int(orig[k]), np.round(x[k], 12).tolist())
    found = [c for c in comm.allgather(local) if c is not None]
    cell, coords = min(found)
    pts = ", ".join("(" + ", ".join(f"{v:g}" for v in p) + ")" for p in coords)
    return f"{count} cell(s), e.g. input cell {cell} with vertices {pts}"


def check_mesh(
    tm: Any, *, tdim: int | None = None, gdim: int | None = None, source: str = "mesh"
) -> None:
    """Raise InputError for degenerate or inverted cells or the wrong dimensions.

    Args:
        tm: a :class:`~femgp.fem.meshes.core.TaggedMesh` or a DOLFINx mesh.
        tdim: the topological dimension the caller needs (None: any).
        gdim: the geometric dimension the caller needs (None: any).
        source: how the message names the mesh (e.g. its file name).
    """
    msh = tm.mesh if hasattr(tm, "mesh") else tm
    comm = msh.comm
    mt, mg = msh.topology.dim, msh.geometry.dim
    if tdim is not None and mt != tdim:
        raise InputError(
            f"{source} has topological dimension {mt} ({msh.topology.cell_name()} cells), "
            f"but a {tdim}D mesh is needed"
        )
    if gdim is not None and mg != gdim:
        raise InputError(
            f"{source} has geometric dimension {mg} (gdim mismatch), but gdim {gdim} is needed"
        )
    geo, orig, x, _ = _owned_geometry(msh)
    scale = DEGENERATE_RTOL * geo.h**mt
    degenerate = geo.jac_absmin <= scale
    if comm.allreduce(int(degenerate.any()), op=MPI.MAX):
        raise InputError(
            f"{source} has degenerate cells (zero or near-zero volume, |det J| <= "
            f"{DEGENERATE_RTOL:g} h^{mt}): {_first_bad(degenerate, orig, x, comm)}"
        )
    inverted = _inverted(msh, geo)
    if comm.allreduce(int(inverted.any()), op=MPI.MAX):
        raise InputError(
            f"{source} has inverted cells (folded over a neighbour, or a corner Jacobian of "
            f"the wrong sign): {_first_bad(inverted, orig, x, comm)}"
        )


def _facet_sides(msh: Any, facets: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """Side of each facet's plane the centroid of ``cells`` lies on (a rank-independent sign).

    The facet's normal is built from its vertices sorted by their coordinates, so
    every rank that holds the facet gets the same normal.
    """
    from dolfinx.mesh import entities_to_geometry

    tdim, gdim = msh.topology.dim, msh.geometry.dim
    nv = _VERTS[msh.topology.cell_name()]
    xg = msh.geometry.x[:, :gdim]
    centroid = xg[msh.geometry.dofmaps[0][cells, :nv]].mean(axis=1)
    fx = xg[entities_to_geometry(msh, tdim - 1, facets.astype(np.int32))]
    order = np.lexsort(fx.transpose(2, 0, 1)[::-1], axis=1)
    fx = np.take_along_axis(fx, order[:, :, None], axis=1)
    f0 = fx[:, 0]
    if tdim == 2:
        t = fx[:, 1] - f0
        normal = np.stack([-t[:, 1], t[:, 0]], axis=1)
    else:
        normal = np.cross(fx[:, 1] - f0, fx[:, 2] - f0)
    return np.sign(np.einsum("ij,ij->i", centroid - f0, normal))


def _inverted(msh: Any, geo: CellGeometry) -> np.ndarray:
    """Owned cells that fold over a neighbour or whose corner Jacobians change sign.

    Facets between two ranks are compared by their global index (an allgather of
    the process-boundary facets).
    """
    from dolfinx.mesh import exterior_facet_indices

    tdim, gdim = msh.topology.dim, msh.geometry.dim
    comm = msh.comm
    n = geo.h.size
    bad = np.zeros(n, dtype=bool)
    if geo.signed:
        bad |= np.sign(geo.jac_min) != np.sign(geo.jac_max)
    if tdim != gdim or tdim < 2:
        return bad
    msh.topology.create_connectivity(tdim - 1, tdim)
    f2c = msh.topology.connectivity(tdim - 1, tdim)
    num_cells = np.diff(f2c.offsets)
    interior = np.flatnonzero(num_cells == 2).astype(np.int32)
    if interior.size:
        cells = f2c.array[f2c.offsets[interior][:, None] + np.arange(2)]
        side0 = _facet_sides(msh, interior, cells[:, 0])
        side1 = _facet_sides(msh, interior, cells[:, 1])
        flagged = np.unique(cells[side0 * side1 > 0].ravel())
        bad[flagged[flagged < n]] = True
    if comm.size == 1:
        return bad
    one = np.flatnonzero(num_cells == 1).astype(np.int32)
    shared = np.setdiff1d(one, exterior_facet_indices(msh.topology)).astype(np.int32)
    cells = f2c.array[f2c.offsets[shared]]
    sides = _facet_sides(msh, shared, cells) if shared.size else np.zeros(0)
    gidx = msh.topology.index_map(tdim - 1).local_to_global(shared)
    everything = comm.allgather((np.asarray(gidx, dtype=np.int64), sides))
    all_idx = np.concatenate([g for g, _ in everything])
    all_side = np.concatenate([s for _, s in everything])
    order = np.argsort(all_idx, kind="stable")
    all_idx, all_side = all_idx[order], all_side[order]
    pair = np.flatnonzero(all_idx[1:] == all_idx[:-1])
    folded_global = all_idx[pair][all_side[pair] * all_side[pair + 1] > 0]
    hit = np.isin(gidx, folded_global)
    mine = cells[hit]
    bad[mine[mine < n]] = True
    return bad


def _tag_counts(tags: Any, owned: int, comm: MPI.Comm) -> dict[int, int]:
    counts: dict[int, int] = {}
    if tags is not None:
        mask = tags.indices < owned
        values, num = np.unique(tags.values[mask], return_counts=True)
        counts = {int(v): int(c) for v, c in zip(values, num, strict=True)}
    total: dict[int, int] = {}
    for part in comm.allgather(counts):
        for k, v in part.items():
            total[k] = total.get(k, 0) + v
    return dict(sorted(total.items()))


def mesh_report(tm: Any) -> dict[str, Any]:
    """A summary of a mesh, the same on any number of ranks.

    Returns a dict with ``cells``, ``vertices``, ``tdim``, ``gdim``,
    ``cell_type``, ``tags`` (``cells`` and ``facets``: a list of
    ``{"tag", "name", "count"}``), ``groups`` (name -> [dim, tag]),
    ``quality`` (``measure``, ``min``, ``max``, ``mean``), ``h_min``, ``h_max``
    and ``volume`` (the sum of the cell measures; area in 2D).
    """
    msh = tm.mesh if hasattr(tm, "mesh") else tm
    comm = msh.comm
    tdim = msh.topology.dim
    geo, _, _, name = _owned_geometry(msh)
    quality = np.abs(geo.quality)
    n_local = geo.h.size
    big = np.inf
    q_min = comm.allreduce(float(quality.min()) if n_local else big, op=MPI.MIN)
    q_max = comm.allreduce(float(quality.max()) if n_local else -big, op=MPI.MAX)
    q_sum = comm.allreduce(float(np.sort(quality).sum()))
    h_min = comm.allreduce(float(geo.h.min()) if n_local else big, op=MPI.MIN)
    h_max = comm.allreduce(float(geo.h.max()) if n_local else -big, op=MPI.MAX)
    num_cells = msh.topology.index_map(tdim).size_global
    volume = comm.allreduce(float(np.sort(geo.volume).sum()))
    groups = dict(getattr(tm, "groups", {}) or {})
    names = {(d, t): n for n, (d, t) in groups.items()}
    msh.topology.create_entities(tdim - 1)
    tags = {}
    for key, mt, dim in (
        ("cells", getattr(tm, "cell_tags", None), tdim),
        ("facets", getattr(tm, "facet_tags", None), tdim - 1),
    ):
        owned = msh.topology.index_map(dim).size_local
        counts = _tag_counts(mt, owned, comm)
        tags[key] = [
            {"tag": t, "name": names.get((dim, t), ""), "count": c} for t, c in counts.items()
        ]
    quality_name = "scaled Jacobian" if name in ("quadrilateral", "hexahedron") else "radius ratio"
    return {
        "cells": int(num_cells),
        "vertices": int(msh.topology.index_map(0).size_global),
        "tdim": int(tdim),
        "gdim": int(msh.geometry.dim),
        "cell_type": name,
        "groups": {k: [int(d), int(t)] for k, (d, t) in sorted(groups.items())},
        "tags": tags,
        "quality": {
            "measure": quality_name,
            "min": q_min,
            "max": q_max,
            "mean": q_sum / max(num_cells, 1),
        },
        "h_min": h_min,
        "h_max": h_max,
        "volume": volume,
    }
