"""Plots of a run: history curves (matplotlib) and field pictures (PyVista off-screen)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["plot_field", "plot_history"]


def plot_history(
    rows: Sequence[Mapping[str, Any]],
    x: str,
    ys: Sequence[str],
    path: str | os.PathLike,
    *,
    logx: bool = False,
    logy: bool = False,
    title: str = "",
    ylabel: str = "",
) -> Path:
    """Plot columns ``ys`` of a history against ``x`` into a PNG (written atomically)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    xs = np.array([float(r[x]) for r in rows])
    fig, ax = plt.subplots(figsize=(6, 4), dpi=110)
    for y in ys:
        vals = np.array([float(r[y]) for r in rows])
        mask = xs > 0 if logx else np.ones_like(xs, bool)
        ax.plot(xs[mask], vals[mask], label=y)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(x)
    ax.set_ylabel(ylabel or ", ".join(ys))
    if title:
        ax.set_title(title)
    if len(ys) > 1:
        ax.legend()
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}.png")
    fig.savefig(tmp)
    plt.close(fig)
    os.replace(tmp, path)
    return path


def plot_field(
    function: Any,
    path: str | os.PathLike,
    *,
    title: str = "",
    cmap: str = "viridis",
    clim: tuple[float, float] | None = None,
    warp: Any = None,
) -> Path | None:
    """Render a scalar P1 Function with PyVista off-screen into a PNG (rank 0 gathers).

    Works in parallel by gathering the owned cells on rank 0. Returns the path on
    rank 0 and ``None`` elsewhere, or ``None`` if PyVista is not installed.
    """
    from dolfinx import plot

    try:
        import pyvista
    except ImportError:  # pragma: no cover
        return None
    V = function.function_space
    msh = V.mesh
    comm = msh.comm
    tdim = msh.topology.dim
    n_owned = msh.topology.index_map(tdim).size_local
    cells, types, x = plot.vtk_mesh(V, np.arange(n_owned, dtype=np.int32))
    values = function.x.array.real.copy()
    gathered = comm.gather((cells, types, x, values), root=0)
    if comm.rank != 0:
        return None
    all_cells, all_types, all_x, all_vals, offset = [], [], [], [], 0
    for c, t, xx, v in gathered:
        c = c.copy()
        # vtk cell array: [n, i0, ..., n, i0, ...]; shift point indices
        i = 0
        while i < c.size:
            n = c[i]
            c[i + 1 : i + 1 + n] += offset
            i += n + 1
        all_cells.append(c)
        all_types.append(t)
        all_x.append(xx)
        all_vals.append(v[: xx.shape[0]])
        offset += xx.shape[0]
    grid = pyvista.UnstructuredGrid(
        np.concatenate(all_cells), np.concatenate(all_types), np.concatenate(all_x)
    )
    name = function.name or "u"
    grid.point_data[name] = np.concatenate(all_vals)
    pyvista.OFF_SCREEN = True
    try:  # no X server here: VTK warns, then renders off-screen anyway
        import vtk

        vtk.vtkObject.GlobalWarningDisplayOff()
    except ImportError:  # pragma: no cover
        pass
    plotter = pyvista.Plotter(off_screen=True, window_size=(800, 700))
    plotter.add_mesh(grid, scalars=name, cmap=cmap, clim=clim, show_edges=False)
    if title:
        plotter.add_text(title, font_size=10)
    plotter.view_xy() if np.allclose(grid.points[:, 2], 0) else plotter.view_isometric()
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}.png")
    plotter.screenshot(str(tmp))
    plotter.close()
    os.replace(tmp, path)
    return path
