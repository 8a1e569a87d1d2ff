"""Render a field of a femgp results folder to PNG with ParaView (a pvbatch script).

Run it with ParaView's own Python, not femgp's (it imports nothing from femgp)::

    pvbatch render_damage.py results/demo                       # damage at the last step
    pvbatch render_damage.py results/demo --output crack.png --time 10
    pvbatch render_damage.py results/ch --field c --output c.png
    pvbatch render_damage.py results/demo --print-info          # JSON: steps, times, range

``python -c 'import femgp.paraview as p; print(p.script_path())'`` prints this
file's path. The results are read with ParaView's standard XDMF3 reader
(``Xdmf3ReaderS``) from ``fields.xdmf``: a temporal collection per field, whose
grids may point into one or several ``.h5`` files. DOLFINx writes each function
as its own grid collection, so the reader yields one block per field; the
script picks the block that carries ``--field`` and copies the other point
arrays of the same size onto it (``--warp`` uses the displacement from there).

``--print-info`` reads the data but renders nothing, so it needs no display.
Rendering needs an OpenGL context: ParaView binaries built with EGL or OSMesa
take ``pvbatch --force-offscreen-rendering``; X11-only builds (Debian's
``paraview`` package) run under ``xvfb-run -a pvbatch ...`` on a headless machine.

Bad input (no such folder or field, a time index out of range) prints one line
on stderr and exits with code 2.
"""

from __future__ import annotations

import argparse
import builtins
import json
import math
import os
import sys
from typing import Any, NoReturn

# pvbatch runs this file as __main__, and ParaView's ProgrammableFilter runs its
# script in that same namespace after ``from ...numpy_interface.algorithms import *``,
# which rebinds abs, all, max, min and sum to VTK's array versions. Code that runs
# after the filter therefore calls these through ``builtins``.

#: Fields whose natural colour range is [0, 1].
UNIT_RANGE_FIELDS = ("damage", "alpha", "c")

# Runs inside a ProgrammableFilter (on ParaView's server side, per time step):
# the block carrying FIELD becomes the output, with the other blocks' point
# arrays of the same length copied onto it.
_MERGE_SCRIPT = """
field = {field!r}
inp = self.GetInputDataObject(0, 0)
out = self.GetOutputDataObject(0)
blocks = []
if inp.IsA("vtkCompositeDataSet"):
    it = inp.NewIterator()
    it.InitTraversal()
    while not it.IsDoneWithTraversal():
        blocks.append(it.GetCurrentDataObject())
        it.GoToNextItem()
else:
    blocks.append(inp)
main = None
for b in blocks:
    if b.GetPointData().GetArray(field) is not None or b.GetCellData().GetArray(field) is not None:
        main = b
        break
if main is not None:
    out.ShallowCopy(main)
    n = out.GetNumberOfPoints()
    for b in blocks:
        if b is main or b.GetNumberOfPoints() != n:
            continue
        pd = b.GetPointData()
        for i in range(pd.GetNumberOfArrays()):
            arr = pd.GetArray(i)
            if arr is not None and out.GetPointData().GetArray(arr.GetName()) is None:
                out.GetPointData().AddArray(arr)
"""


class UserError(Exception):
    """A problem with the command line or the results folder."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: error: {message}", file=sys.stderr, flush=True)
        sys.exit(2)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    p = _Parser(
        prog="render_damage.py",
        description="Render a field of a femgp results folder (fields.xdmf) to PNG.",
    )
    p.add_argument("results", help="results folder (with fields.xdmf) or an .xdmf file")
    p.add_argument(
        "--field",
        default="damage",
        help="point field to show: damage (fracture), c (Cahn-Hilliard), eta1, ... "
        "(twinning); default damage",
    )
    p.add_argument("--output", default=None, help="PNG to write (default: RESULTS/<field>.png)")
    p.add_argument(
        "--time",
        default="last",
        help="time step: last, first or a step index (0-based, negative from the end)",
    )
    p.add_argument(
        "--print-info",
        action="store_true",
        help="print JSON (number of time steps, times, field range) and render nothing",
    )
    p.add_argument(
        "--range",
        nargs=2,
        type=float,
        metavar=("MIN", "MAX"),
        default=None,
        help="colour range (default: [0, 1] for damage, alpha and c, else the data range)",
    )
    p.add_argument(
        "--warp",
        type=float,
        default=0.0,
        metavar="SCALE",
        help="deform the mesh by SCALE times the displacement field (fracture; default 0)",
    )
    p.add_argument("--size", nargs=2, type=_pixels, default=(1200, 900), metavar=("W", "H"))
    p.add_argument("--colormap", default="Inferno (matplotlib)", help="ParaView colour preset")
    args = p.parse_args(argv)
    if not math.isfinite(args.warp):
        p.error(f"argument --warp: expected a finite number, got {args.warp!r}")
    if args.range is not None:
        lo, hi = args.range
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            p.error(f"argument --range: expected finite MIN < MAX, got {lo!r} {hi!r}")
    return args


def _pixels(text: str) -> int:
    """An image side in pixels: an integer in [16, 16384]."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 16 <= value <= 16384:
        raise argparse.ArgumentTypeError(f"expected an integer in [16, 16384], got {text!r}")
    return value


def find_xdmf(results: str) -> str:
    """The XDMF file of a results folder (or ``results`` itself if it is a file)."""
    if os.path.isdir(results):
        path = os.path.join(results, "fields.xdmf")
        if not os.path.isfile(path):
            found = sorted(f for f in os.listdir(results) if f.endswith(".xdmf"))
            if len(found) != 1:
                raise UserError(
                    f"no fields.xdmf in results folder {results!r} "
                    f"(.xdmf files there: {', '.join(found) or 'none'})"
                )
            path = os.path.join(results, found[0])
        return path
    if os.path.isfile(results) and results.endswith(".xdmf"):
        return results
    raise UserError(f"results {results!r} is neither a folder nor an .xdmf file")


def check_data_files(xdmf: str, seen: set[str] | None = None) -> None:
    """Raise UserError if a file the XDMF names (an HDF5 data file, an included XDMF
    segment) is missing: ParaView's reader aborts the process on one."""
    import xml.etree.ElementTree as ET

    seen = set() if seen is None else seen
    key = os.path.realpath(xdmf)
    if key in seen:  # included twice, or in a cycle
        return
    seen.add(key)
    try:
        root = ET.parse(xdmf).getroot()
    except (OSError, ET.ParseError) as exc:
        raise UserError(f"cannot read {xdmf!r} as XDMF: {exc}") from None
    base = os.path.dirname(xdmf)
    for element in root.iter():
        if element.tag.endswith("include") and element.get("href"):
            included = os.path.join(base, element.get("href", ""))
            if not os.path.isfile(included):
                raise UserError(f"{xdmf!r} includes {included!r}, which does not exist")
            check_data_files(included, seen)
        elif element.tag == "DataItem" and element.get("Format") == "HDF":
            name = (element.text or "").strip().split(":", 1)[0]
            data = os.path.join(base, name)
            if name and not os.path.isfile(data):
                raise UserError(f"{xdmf!r} names the data file {data!r}, which does not exist")


def pick_time(spec: str, times: list[float]) -> int:
    """The index into ``times`` that ``--time`` names."""
    n = len(times)
    if n == 0:
        return -1
    if spec == "last":
        return n - 1
    if spec == "first":
        return 0
    try:
        i = int(spec)
    except ValueError:
        raise UserError(f"--time {spec!r}: expected last, first or a step index") from None
    if not -n <= i < n:
        raise UserError(f"--time {i}: the results have {n} time steps (indices 0 to {n - 1})")
    return i % n


def _field_range(source: Any, field: str) -> tuple[float, float] | None:
    """The range of ``field`` (magnitude for vectors) in the source's current output."""
    for arrays in (source.PointData, source.CellData):
        if field in arrays.keys():
            arr = arrays[field]
            lo, hi = arr.GetRange(-1 if arr.GetNumberOfComponents() > 1 else 0)
            return float(lo), float(hi)
    return None


def _times(values: Any) -> list[float]:
    """ParaView's ``TimestepValues`` as a list: a file with one time step gives a bare float."""
    if values is None:
        return []
    if isinstance(values, (int, float)):
        return [float(values)]
    return [float(t) for t in values]


def open_results(xdmf: str, field: str) -> tuple[Any, Any, list[float]]:
    """Open ``xdmf``; return (reader, single-dataset source carrying ``field``, times)."""
    from paraview import simple

    reader = simple.Xdmf3ReaderS(registrationName="results", FileName=[xdmf])
    reader.UpdatePipelineInformation()
    times = _times(reader.TimestepValues)
    available = sorted(set(reader.PointData.keys()) | set(reader.CellData.keys()))
    if field not in available:
        raise UserError(
            f"--field {field!r} is not in {xdmf!r}; fields there: {', '.join(available) or 'none'}"
        )
    merged = simple.ProgrammableFilter(registrationName="field", Input=reader)
    merged.OutputDataSetType = "vtkUnstructuredGrid"
    merged.Script = _MERGE_SCRIPT.format(field=field)
    merged.RequestInformationScript = ""
    merged.RequestUpdateExtentScript = ""
    merged.PythonPath = ""
    merged.CopyArrays = 0
    return reader, merged, times


def _update(source: Any, t: float | None) -> None:
    """Run the pipeline at time ``t`` (``None``: a file without time steps)."""
    if t is None:
        source.UpdatePipeline()
    else:
        source.UpdatePipeline(t)


def info(source: Any, field: str, times: list[float], index: int) -> dict[str, Any]:
    """Number of time steps, times, and the field range per step and overall."""
    ranges: list[list[float] | None] = []
    for t in times or [None]:
        _update(source, t)
        r = _field_range(source, field)
        ranges.append(list(r) if r is not None and builtins.all(map(math.isfinite, r)) else None)
    present = [r for r in ranges if r is not None]
    data = source.GetDataInformation()
    return {
        "field": field,
        "number_of_time_steps": len(times),
        "times": times,
        "range": [builtins.min(r[0] for r in present), builtins.max(r[1] for r in present)]
        if present
        else None,
        "ranges": ranges,
        "time_index": index,
        "time": times[index] if times else None,
        "range_at_time": ranges[index] if times else ranges[0],
        "number_of_points": int(data.GetNumberOfPoints()),
        "number_of_cells": int(data.GetNumberOfCells()),
    }


def render(source: Any, args: argparse.Namespace, times: list[float], index: int) -> str:
    """Render ``args.field`` at step ``index`` to a PNG; return its path."""
    from paraview import simple

    t = times[index] if times else None
    _update(source, t)
    shown = source
    if args.warp:
        if "displacement" not in source.PointData.keys():
            raise UserError("--warp needs a 'displacement' field in the results")
        shown = simple.WarpByVector(Input=source, Vectors=["POINTS", "displacement"])
        shown.ScaleFactor = args.warp
    view = simple.CreateRenderView()
    view.ViewSize = list(args.size)
    view.Background = [1.0, 1.0, 1.0]
    try:  # ParaView >= 5.10 uses palettes; keep the white background
        view.UseColorPaletteForBackground = 0
    except AttributeError:
        pass
    view.OrientationAxesVisibility = 0
    if t is not None:
        view.ViewTime = t
    display = simple.Show(shown, view)
    association = "POINTS" if args.field in source.PointData.keys() else "CELLS"
    simple.ColorBy(display, (association, args.field))
    lut = simple.GetColorTransferFunction(args.field)
    lut.ApplyPreset(args.colormap, True)
    if args.range is not None:
        lo, hi = args.range
    elif args.field in UNIT_RANGE_FIELDS:
        lo, hi = 0.0, 1.0
    else:
        lo, hi = _field_range(source, args.field) or (0.0, 1.0)
        if hi <= lo:
            hi = lo + 1.0
    lut.RescaleTransferFunction(lo, hi)
    simple.GetOpacityTransferFunction(args.field).RescaleTransferFunction(lo, hi)
    display.SetScalarBarVisibility(view, True)
    bar = simple.GetScalarBar(lut, view)
    bar.Title = args.field
    bar.ComponentTitle = ""
    bar.TitleColor = bar.LabelColor = [0.0, 0.0, 0.0]
    bar.RangeLabelFormat = "%-#.3g"
    bounds = source.GetDataInformation().GetBounds()
    if bounds[4] == bounds[5]:  # a 2D mesh: look down z
        view.InteractionMode = "2D"
        view.CameraPosition = [0.0, 0.0, 1.0]
        view.CameraFocalPoint = [0.0, 0.0, 0.0]
        view.CameraViewUp = [0.0, 1.0, 0.0]
    else:
        view.CameraPosition = [1.0, -1.5, 1.0]
        view.CameraFocalPoint = [0.0, 0.0, 0.0]
        view.CameraViewUp = [0.0, 0.0, 1.0]
    view.ResetCamera(False)
    simple.Render(view)
    out = args.output or os.path.join(
        args.results if os.path.isdir(args.results) else os.path.dirname(args.results) or ".",
        f"{args.field}.png",
    )
    if not os.path.isdir(os.path.dirname(os.path.abspath(out))):
        raise UserError(f"--output {out!r}: folder {os.path.dirname(out)!r} does not exist")
    if not simple.SaveScreenshot(out, view, ImageResolution=list(args.size)):
        raise UserError(f"--output {out!r}: ParaView could not write the PNG")
    return out


def main(argv: list[str] | None = None) -> int:
    """Entry point: print info or render; user errors give one line and exit code 2."""
    args = parse_args(argv)
    try:
        xdmf = find_xdmf(args.results)
        check_data_files(xdmf)
        _, source, times = open_results(xdmf, args.field)
        index = pick_time(args.time, times)
        if args.print_info:
            data = info(source, args.field, times, index)
            data["file"] = xdmf
            print(json.dumps(data))
        else:
            out = render(source, args, times, index)
            print(f"wrote {out}")
    except UserError as exc:
        print(f"render_damage.py: error: {exc}", file=sys.stderr, flush=True)
        return 2
    return 0


if __name__ == "__main__":
    _rc = main()
    if _rc:
        # Not sys.exit: tearing down a render view at interpreter exit can abort
        # with an X error in X11 builds, which would replace the exit status.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_rc)
