"""``femgp plot <results folder>``: history plots and a picture of the last fields.

Reads ``history.csv`` and ``run.json`` (for the model; without it the model is
told from the history's columns) and writes, into the folder or
``--output-dir``:

- fracture: ``history_force_displacement.png`` and ``history_energies.png``,
  ``last_damage.png``;
- Cahn-Hilliard: ``history_free_energy.png`` (log-log), ``last_c.png``;
- twinning: ``history_energies.png``, ``history_variant_fractions.png``,
  ``last_<variant>.png`` for each variant field.

The pictures come from the last time of ``fields.xdmf``. The XDMF XML is read
generically: each grid's ``DataItem`` is followed to its ``file.h5:/path``
(which may be a different ``.h5`` file per time, as a restarted run writes)
or read inline (``Format="XML"``); ``xi:include`` of another grid's topology
and geometry is resolved. HDF5 datasets are read with PETSc's HDF5 viewer
(no h5py needed). Existing pictures are never replaced without ``--overwrite``.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from femgp.errors import InputError

__all__ = ["FieldSnapshot", "detect_model", "plot_results", "read_history", "read_xdmf_last"]

_XI = "{https://www.w3.org/2001/XInclude}include"
_XI_OLD = "{http://www.w3.org/2001/XInclude}include"
#: XDMF topology type -> (VTK cell type, nodes per cell).
_VTK_CELLS: dict[str, tuple[int, int]] = {
    "polyline": (3, 2),
    "triangle": (5, 3),
    "quadrilateral": (9, 4),
    "tetrahedron": (10, 4),
    "hexahedron": (12, 8),
    "triangle_6": (22, 6),
    "tetrahedron_10": (24, 10),
}
#: The field pictured per model (twinning: every field whose name starts with it).
_PICTURED = {"fracture": "damage", "cahn_hilliard": "c", "twinning": "eta"}


def read_history(folder: Path) -> list[dict[str, float]]:
    """The rows of ``folder/history.csv`` as floats; InputError if it is missing or empty."""
    path = folder / "history.csv"
    if not folder.is_dir():
        raise InputError(f"results folder {str(folder)!r} does not exist")
    if not path.is_file():
        raise InputError(
            f"results folder {str(folder)!r} has no history.csv (is it the output of a femgp run?)"
        )
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        raise InputError(f"{path} has no rows")

    def num(v: str | None) -> float:
        try:
            return float(v) if v not in (None, "") else math.nan
        except ValueError:
            return math.nan

    return [{k: num(v) for k, v in row.items() if k is not None} for row in rows]


def detect_model(folder: Path, columns: list[str]) -> str:
    """The model of a results folder: ``run.json``'s ``model``, else from the columns."""
    info = folder / "run.json"
    if info.is_file():
        try:
            model = json.loads(info.read_text()).get("model")
        except (json.JSONDecodeError, OSError, AttributeError):
            model = None
        if model in _PICTURED:
            return str(model)
    if "reaction" in columns:
        return "fracture"
    if "free_energy" in columns:
        return "cahn_hilliard"
    if any(c.startswith("vf_") for c in columns):
        return "twinning"
    raise InputError(
        f"cannot tell the model of results folder {str(folder)!r}: run.json names none and "
        f"history.csv has none of the columns reaction, free_energy, vf_*"
    )


# -- XDMF -----------------------------------------------------------------------------------


@dataclass
class FieldSnapshot:
    """One field at one time, on its mesh (VTK cell layout)."""

    name: str
    time: float
    points: np.ndarray  # (n, 3)
    cells: np.ndarray  # (m, k) point indices
    cell_type: int  # VTK cell type
    values: np.ndarray  # (n,) or (n, c) at points, or per cell with ``center == "Cell"``
    center: str = "Node"


def _read_h5(path: Path, dataset: str) -> tuple[np.ndarray, int]:
    """A dataset of an HDF5 file (values as float, and PETSc's block size = last dimension)."""
    import femgp.fem._backend  # noqa: F401  (dolfinx_solver before petsc4py)

    from mpi4py import MPI
    from petsc4py import PETSc

    if not path.is_file():
        raise InputError(f"HDF5 file {str(path)!r} named in the XDMF file does not exist")
    group, _, name = dataset.rstrip("/").rpartition("/")
    viewer = PETSc.ViewerHDF5().create(str(path), "r", comm=MPI.COMM_SELF)
    vec = PETSc.Vec().create(comm=MPI.COMM_SELF)
    try:
        vec.setName(name)
        viewer.pushGroup(group or "/")
        vec.load(viewer)
        viewer.popGroup()
        return vec.getArray().copy(), vec.getBlockSize()
    except PETSc.Error as exc:
        raise InputError(f"cannot read {dataset} from {str(path)!r}: {exc}") from None
    finally:
        vec.destroy()
        viewer.destroy()


def _data(item: ET.Element, base: Path) -> np.ndarray:
    """The array of a ``DataItem`` (HDF reference or inline XML), shaped by ``Dimensions``."""
    dims = [int(d) for d in (item.get("Dimensions") or "").split()]
    fmt = (item.get("Format") or "XML").upper()
    text = (item.text or "").strip()
    if fmt == "HDF":
        file, sep, dataset = text.rpartition(":")
        if not sep:
            raise InputError(f"XDMF DataItem {text!r} is not of the form file.h5:/path")
        arr, _ = _read_h5(base / file, dataset)
    elif fmt == "XML":
        arr = np.array(text.split(), dtype=float)
    else:
        raise InputError(f"XDMF DataItem format {fmt!r} is not supported (HDF or XML)")
    if dims and int(np.prod(dims)) == arr.size:
        arr = arr.reshape(dims)
    return arr


def _included(grid: ET.Element, domain: ET.Element, tag: str) -> ET.Element | None:
    """``grid``'s ``tag`` child, directly or through an ``xi:include`` of another grid."""
    child = grid.find(tag)
    if child is not None:
        return child
    for inc in [*grid.iter(_XI), *grid.iter(_XI_OLD)]:
        pointer = inc.get("xpointer", "")
        grids = domain.findall("Grid")
        target: ET.Element | None = None
        m = re.search(r"Grid\[@Name='([^']*)'\](?:\[(\d+)\])?", pointer)
        if m:
            named = [g for g in grids if g.get("Name") == m.group(1)]
            idx = int(m.group(2) or 1) - 1
            target = named[idx] if idx < len(named) else None
        else:
            m = re.search(r"Grid\[@GridType='([^']*)'\]\[(\d+)\]", pointer)
            if m:
                typed = [g for g in grids if g.get("GridType") == m.group(1)]
                idx = int(m.group(2)) - 1
                target = typed[idx] if idx < len(typed) else None
        if target is not None and target.find(tag) is not None:
            return target.find(tag)
    return None


def _attribute_grids(root: ET.Element) -> list[tuple[ET.Element, ET.Element, float, str]]:
    """Every (grid, attribute, time, name) of the file's uniform grids."""
    out = []
    for grid in root.iter("Grid"):
        if grid.get("GridType", "Uniform") != "Uniform":
            continue
        time_el = grid.find("Time")
        t = float(time_el.get("Value", "nan")) if time_el is not None else math.nan
        for attr in grid.findall("Attribute"):
            out.append((grid, attr, t, attr.get("Name", "")))
    return out


def xdmf_fields(path: Path) -> dict[str, list[float]]:
    """Field name -> the times it is stored at, in ``path``."""
    root = _parse(path)
    out: dict[str, list[float]] = {}
    for _, _, t, name in _attribute_grids(root):
        out.setdefault(name, []).append(t)
    return out


def _parse(path: Path) -> ET.Element:
    try:
        return ET.parse(path).getroot()
    except (ET.ParseError, OSError) as exc:
        raise InputError(f"cannot read XDMF file {str(path)!r}: {exc}") from None


def read_xdmf_last(path: str | os.PathLike, name: str) -> FieldSnapshot:
    """The field ``name`` at the last time stored in the XDMF file ``path``."""
    path = Path(path)
    root = _parse(path)
    domain = root.find("Domain")
    if domain is None:
        raise InputError(f"XDMF file {str(path)!r} has no Domain")
    found = [(t, g, a) for g, a, t, n in _attribute_grids(root) if n == name]
    if not found:
        names = sorted({n for *_, n in _attribute_grids(root)})
        raise InputError(
            f"XDMF file {str(path)!r} has no field {name!r} (fields: {', '.join(names) or 'none'})"
        )
    # the last time; among equal times (a restart rewrites one) the last written
    order = sorted(range(len(found)), key=lambda i: (np.nan_to_num(found[i][0], nan=-1.0), i))
    t, grid, attr = found[order[-1]]
    topo = _included(grid, domain, "Topology")
    geom = _included(grid, domain, "Geometry")
    if topo is None or geom is None:
        raise InputError(f"XDMF file {str(path)!r}: no topology or geometry for field {name!r}")
    kind = (topo.get("TopologyType") or topo.get("Type") or "").lower()
    if kind not in _VTK_CELLS:
        raise InputError(f"XDMF topology {kind!r} is not supported ({', '.join(_VTK_CELLS)})")
    vtk_type, nodes = _VTK_CELLS[kind]
    base = path.parent
    cells = _data(topo.find("DataItem"), base).astype(np.int64).reshape(-1, nodes)
    x = _data(geom.find("DataItem"), base)
    gdim = {"XY": 2, "XYZ": 3, "X": 1}.get((geom.get("GeometryType") or "XYZ").upper(), 3)
    x = x.reshape(-1, gdim)
    points = np.zeros((x.shape[0], 3))
    points[:, :gdim] = x
    values = _data(attr.find("DataItem"), base)
    center = attr.get("Center", "Node")
    n = points.shape[0] if center == "Node" else cells.shape[0]
    values = values.reshape(n, -1)
    values = values[:, 0] if values.shape[1] == 1 else values
    return FieldSnapshot(name, float(t), points, cells, vtk_type, values, center)


def picture(snapshot: FieldSnapshot, path: Path, *, title: str = "", cmap: str = "viridis") -> Path:
    """Render ``snapshot`` off-screen with PyVista into a PNG (written atomically)."""
    try:
        import pyvista
    except ImportError:  # pragma: no cover
        raise InputError("femgp plot needs PyVista (pip install 'femgp[viz]')") from None
    try:
        import vtk

        vtk.vtkObject.GlobalWarningDisplayOff()
    except ImportError:  # pragma: no cover
        pass
    pyvista.OFF_SCREEN = True
    k = snapshot.cells.shape[1]
    conn = np.hstack([np.full((snapshot.cells.shape[0], 1), k), snapshot.cells]).ravel()
    types = np.full(snapshot.cells.shape[0], snapshot.cell_type, dtype=np.uint8)
    grid = pyvista.UnstructuredGrid(conn, types, snapshot.points)
    vals = snapshot.values
    if vals.ndim > 1:
        vals = np.linalg.norm(vals, axis=1)
    data = grid.point_data if snapshot.center == "Node" else grid.cell_data
    data[snapshot.name] = vals
    plotter = pyvista.Plotter(off_screen=True, window_size=(800, 700))
    clim = (0.0, 1.0) if snapshot.name == "damage" else None
    plotter.add_mesh(grid, scalars=snapshot.name, cmap=cmap, clim=clim)
    plotter.add_text(title or f"{snapshot.name} at t = {snapshot.time:g}", font_size=10)
    flat = np.allclose(snapshot.points[:, 2], 0.0)
    plotter.view_xy() if flat else plotter.view_isometric()
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}.png")
    try:
        plotter.screenshot(str(tmp))
    finally:
        plotter.close()
    os.replace(tmp, path)
    return path


# -- the command ----------------------------------------------------------------------------


def _history_plots(model: str, rows: list[dict[str, float]]) -> dict[str, dict[str, Any]]:
    """File name -> plot_history arguments, for the columns the history has."""
    cols = set(rows[0])
    plots: dict[str, dict[str, Any]] = {}

    def have(*names: str) -> list[str]:
        return [c for c in names if c in cols]

    if model == "fracture":
        if have("displacement", "reaction"):
            plots["history_force_displacement.png"] = {
                "x": "displacement",
                "ys": ["reaction"],
                "title": "force-displacement",
                "ylabel": "reaction force",
            }
        if have("load") and have("elastic", "surface", "total"):
            plots["history_energies.png"] = {
                "x": "load",
                "ys": have("elastic", "surface", "total"),
                "title": "energies",
                "ylabel": "energy",
            }
    elif model == "cahn_hilliard":
        if have("time", "free_energy") == ["time", "free_energy"]:
            positive = all(r["free_energy"] > 0 for r in rows)
            plots["history_free_energy.png"] = {
                "x": "time",
                "ys": ["free_energy"],
                "logx": True,
                "logy": positive,
                "title": "free energy",
            }
    else:
        if have("time") and have("total", "chemical", "gradient", "elastic"):
            plots["history_energies.png"] = {
                "x": "time",
                "ys": have("total", "chemical", "gradient", "elastic"),
                "logx": True,
                "title": "energies",
                "ylabel": "energy",
            }
        fractions = sorted(c for c in cols if c.startswith("vf_"))
        if have("time") and fractions:
            plots["history_variant_fractions.png"] = {
                "x": "time",
                "ys": fractions,
                "logx": True,
                "title": "variant volume fractions",
                "ylabel": "mean order parameter",
            }
    return plots


def plot_results(
    folder: str | os.PathLike,
    *,
    output_dir: str | os.PathLike | None = None,
    overwrite: bool = False,
) -> list[Path]:
    """Write the history plots and the last-step pictures of a results folder.

    Returns the paths written. Raises InputError for a folder without
    ``history.csv``, or (without ``overwrite``) if any picture already exists;
    then nothing is written.
    """
    from femgp.fem.plots import plot_history

    folder = Path(folder)
    rows = read_history(folder)
    model = detect_model(folder, list(rows[0]))
    out = Path(output_dir) if output_dir is not None else folder
    plots = _history_plots(model, rows)
    xdmf = folder / "fields.xdmf"
    fields: list[str] = []
    if xdmf.is_file():
        stem = _PICTURED[model]
        names = xdmf_fields(xdmf)
        fields = sorted(
            n
            for n in names
            if (n.startswith(stem) and not n.endswith("_old") if model == "twinning" else n == stem)
        )
    targets = [out / name for name in plots] + [out / f"last_{n}.png" for n in fields]
    if not targets:
        raise InputError(
            f"results folder {str(folder)!r}: nothing to plot (history.csv lacks the {model} "
            "columns and there is no fields.xdmf)"
        )
    existing = [str(p) for p in targets if p.exists()]
    if existing and not overwrite:
        raise InputError(
            f"picture(s) already exist: {', '.join(existing)}; pass --overwrite or choose "
            "--output-dir"
        )
    if out.exists() and not out.is_dir():
        raise InputError(f"output path {str(out)!r} exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, kw in plots.items():
        written.append(plot_history(rows, path=out / name, **kw))
    cmap = {"fracture": "inferno"}.get(model, "viridis")
    for n in fields:
        snap = read_xdmf_last(xdmf, n)
        written.append(picture(snap, out / f"last_{n}.png", cmap=cmap))
    return written
