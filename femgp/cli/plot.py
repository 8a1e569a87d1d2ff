"""The plots of each model, and ``femgp plot <results folder>``.

One place per model for what is drawn after a run (the fracture run draws its
force-displacement and energy curves itself):

- :func:`history_plots`: the history curves ``femgp plot`` draws per model, and
  :data:`PICTURED` the field it pictures;
- :func:`cahn_hilliard_plots`: the free energy and the last concentration of a
  Cahn-Hilliard run (the demo and ``femgp run`` both call it).

``femgp plot`` reads ``history.csv`` and ``run.json`` (for the model; without
it the model is told from the history's columns) and writes, into the folder
or ``--output-dir``:

- fracture: ``history_force_displacement.png`` and ``history_energies.png``,
  ``last_damage.png``;
- Cahn-Hilliard: ``history_free_energy.png`` (log-log), ``last_c.png``;
- twinning: ``history_energies.png``, ``history_variant_fractions.png``,
  ``last_<variant>.png`` for each variant field.

The pictures come from the last time of ``fields.xdmf``, read by
:func:`femgp.fem.io.read_xdmf_last`. Existing pictures are never replaced
without ``--overwrite``.
"""

from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from femgp.errors import InputError

if TYPE_CHECKING:
    from femgp.fem.io import FieldSnapshot

__all__ = [
    "PICTURED",
    "cahn_hilliard_plots",
    "detect_model",
    "history_plots",
    "plot_results",
    "read_history",
]

#: The field pictured per model (twinning: every field whose name starts with it).
PICTURED = {"fracture": "damage", "cahn_hilliard": "c", "twinning": "eta"}
#: The colour map of the pictures per model.
CMAPS = {"fracture": "inferno", "cahn_hilliard": "viridis", "twinning": "viridis"}


def cahn_hilliard_plots(result: Any, folder: str | os.PathLike, *, comm: Any, title: str) -> None:
    """``free_energy.png`` (against time, log axis) and ``concentration.png`` of a CH run.

    The field is titled with the time the run reached (its last history row),
    which a restart or ``max_steps`` can leave short of ``t_end``. Collective:
    every rank calls it (the field picture gathers the field).
    """
    from femgp.fem.plots import plot_field, plot_history

    out = Path(folder)
    if comm.rank == 0 and len(result.history) > 1:
        plot_history(
            result.history,
            "time",
            ["free_energy"],
            out / "free_energy.png",
            logx=True,
            title=f"{title}: free energy",
        )
    if result.fields[0].function_space.mesh.topology.dim < 3:  # 3D fields are for ParaView
        t = result.history[-1]["time"]
        plot_field(result.fields[0], out / "concentration.png", title=f"c at t = {t:g}")


def read_history(folder: Path) -> list[dict[str, float]]:
    """The rows of ``folder/history.csv`` as floats; InputError if it is missing or empty."""
    path = folder / "history.csv"
    if not folder.is_dir():
        what = "is a file, not a folder" if folder.exists() else "does not exist"
        raise InputError(f"results folder {str(folder)!r} {what}")
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
        if model in PICTURED:
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


def history_plots(model: str, rows: list[dict[str, float]]) -> dict[str, dict[str, Any]]:
    """File name -> plot_history arguments, for the columns the history has."""
    cols = set(rows[0])
    plots: dict[str, dict[str, Any]] = {}

    def have(*names: str) -> list[str]:
        return [c for c in names if c in cols]

    # the time axes are logarithmic: a history of the initial row alone has no point on one
    later = "time" in cols and any(r["time"] > 0 for r in rows)

    if model == "fracture":
        if have("displacement", "reaction") == ["displacement", "reaction"]:
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
        if have("time", "free_energy") == ["time", "free_energy"] and later:
            positive = all(r["free_energy"] > 0 for r in rows)
            plots["history_free_energy.png"] = {
                "x": "time",
                "ys": ["free_energy"],
                "logx": True,
                "logy": positive,
                "title": "free energy",
            }
    else:
        if later and have("total", "chemical", "gradient", "elastic"):
            plots["history_energies.png"] = {
                "x": "time",
                "ys": have("total", "chemical", "gradient", "elastic"),
                "logx": True,
                "title": "energies",
                "ylabel": "energy",
            }
        fractions = sorted(c for c in cols if c.startswith("vf_"))
        if later and fractions:
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
    from femgp.fem.io import read_xdmf_last, xdmf_fields
    from femgp.fem.plots import plot_history

    folder = Path(folder)
    rows = read_history(folder)
    model = detect_model(folder, list(rows[0]))
    out = Path(output_dir) if output_dir is not None else folder
    plots = history_plots(model, rows)
    xdmf = folder / "fields.xdmf"
    fields: list[str] = []
    if xdmf.is_file():
        stem = PICTURED[model]
        names = xdmf_fields(xdmf)
        fields = sorted(
            n
            for n in names
            if (n.startswith(stem) and not n.endswith("_old") if model == "twinning" else n == stem)
        )
    targets = [out / name for name in plots] + [out / f"last_{n}.png" for n in fields]
    if not targets:
        raise InputError(
            f"results folder {str(folder)!r}: nothing to plot (history.csv gives no {model} "
            "curve: it lacks the columns, or a step after the initial state; and there is no "
            "fields.xdmf)"
        )
    existing = [str(p) for p in targets if p.exists()]
    if existing and not overwrite:
        raise InputError(
            f"picture(s) already exist: {', '.join(existing)}; pass --overwrite or choose "
            "--output-dir"
        )
    if out.exists() and not out.is_dir():
        raise InputError(f"output path {str(out)!r} exists and is not a folder")
    # Every field read before any picture is written: an unreadable one (a run
    # killed while writing) leaves no half of the pictures behind.
    snaps = {n: read_xdmf_last(xdmf, n) for n in fields}
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, kw in plots.items():
        written.append(plot_history(rows, path=out / name, **kw))
    cmap = CMAPS[model]
    for n, snap in snaps.items():
        written.append(picture(snap, out / f"last_{n}.png", cmap=cmap))
    return written
