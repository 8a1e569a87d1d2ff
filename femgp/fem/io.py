"""Run output: one folder per run, written atomically where it can be.

``fields.xdmf`` (+ ``.h5``) for ParaView's Xdmf3 readers, ``history.csv`` (one
row per step), ``run.json`` (parameters, versions, ranks, wall time) and plots.
CSV and JSON files are written under a temporary name and renamed, so a killed
run never leaves a half-written history. An output folder that already holds
results is refused unless ``overwrite=True``, which first moves what a run
writes there (:data:`RUN_OUTPUTS`, and nothing else) aside into
:data:`REPLACED_DIR`. The driver drops them once the run accepts its first step;
a run refused before that (a bad solver option found in the first solve, a full
disk) takes back what it wrote and puts them back (:meth:`ResultsWriter.undo`).

With ``segmented=True`` (checkpointed runs) the fields go to segment files
``fields.parts/partNNNN.xdmf`` (+ ``.h5``), one per stretch between two
checkpoints, each closed at the checkpoint; ``fields.xdmf`` is then a femgp-written
XDMF3 file (rewritten atomically when a segment closes) whose temporal
collections hold the time grids of every closed segment, each with its own
topology and geometry (segments written on different numbers of ranks order
their nodes differently). A run resumed with ``resume=`` keeps the segments and
table rows of the checkpoint and drops the rest. An adaptive run writes
segments too: :meth:`ResultsWriter.set_mesh` closes the open segment when the
mesh is refined, and the next one holds the new mesh, so ``fields.xdmf``
shows one time series across meshes. A full disk while writing a
table, ``run.json`` or a checkpoint raises :class:`OutputError` (a user error,
exit code 2 in scripts) and leaves the previous files intact.

With ``vtx=True`` every field is also written to ``<name>.bp`` (ADIOS2 VTX,
one folder per field since VTX needs one element type per file; ParaView's
*ADIOS2VTXReader* opens it). VTX output needs DOLFINx built with ADIOS2 and
cannot continue a restarted run.
"""

from __future__ import annotations

import atexit
import contextlib
import csv
import io
import json
import os
import platform
import re
import shutil
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from mpi4py import MPI

from femgp.errors import InputError
from femgp.fem.logs import get_logger

__all__ = [
    "OutputError",
    "ResultsWriter",
    "atomic_write_text",
    "described",
    "initial_description",
    "refuse_existing_results",
    "versions",
]

RESULT_FILES = ("history.csv", "run.json", "fields.xdmf", "checkpoints")
#: What a run of femgp writes into its folder (glob patterns): an overwriting run
#: removes them first, so that no file of the run before (a plot, a VTX folder,
#: the case file) stays beside the new results. Other files are left alone.
RUN_OUTPUTS = (
    *RESULT_FILES,
    "fields.h5",
    "fields.parts",
    "*.bp",  # VTX, one folder per field
    "free_energy.csv",
    "config.toml",
    # the models' plots and `femgp plot`'s
    "force_displacement.png",
    "energies.png",
    "crack.png",
    "energy.png",
    "variants.png",
    "free_energy.png",
    "concentration.png",
    "history_*.png",
    "last_*.png",
)
#: Folder (inside the results folder) of the outputs an overwriting run replaced,
#: kept until the run accepts its first step.
REPLACED_DIR = ".femgp-replaced"
log = get_logger("femgp.io")
#: Folder of the field segments of a checkpointed run (inside the results folder).
SEGMENTS_DIR = "fields.parts"
_SEGMENT = re.compile(r"^part(\d{4,})\.(xdmf|h5)$")


class OutputError(InputError):
    """Results cannot be written (disk full, no permission); earlier results are intact."""


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and an atomic rename.

    On failure (e.g. ``ENOSPC``) the temporary file is removed, ``path`` is
    untouched and the ``OSError`` propagates.
    """
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise


def described(fn: Callable[..., Any], name: str, **parameters: Any) -> Callable[..., Any]:
    """``fn`` carrying ``name`` and the ``parameters`` that made it, for ``run.json``.

    An initial condition so marked is recorded by :func:`initial_description`,
    and a restart given one made with other parameters is refused.
    """
    fn.name = name  # type: ignore[attr-defined]
    fn.parameters = json.loads(json.dumps(parameters, default=_plain))  # type: ignore[attr-defined]
    return fn


def _plain(value: Any) -> Any:
    """A numpy scalar or array as the Python value JSON takes (``json.dumps``'s default)."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not a JSON value")


def initial_description(value: Any) -> Any:
    """What ``run.json`` records of an initial value, compared on restart.

    A constant is recorded as itself; a function made by :func:`described` as
    its name and parameters; any other function by its qualified name only (a
    restart cannot tell two such functions apart).
    """
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    parameters = getattr(value, "parameters", None)
    name = getattr(value, "name", None) or getattr(value, "__qualname__", type(value).__name__)
    return {"name": str(name), **(parameters if isinstance(parameters, dict) else {})}


def _remove(path: Path) -> None:
    """Remove a file, a link or a folder tree, if there."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _parse_cell(text: str) -> Any:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def versions() -> dict[str, str]:
    """Versions of femgp and its stack."""
    import femgp

    out = {"femgp": femgp.__version__, "python": platform.python_version()}
    try:
        import dolfinx
        from petsc4py import PETSc

        out["dolfinx"] = dolfinx.__version__
        out["petsc"] = ".".join(map(str, PETSc.Sys.getVersion()))
    except ImportError:  # pragma: no cover
        pass
    import mpi4py

    out["mpi4py"] = mpi4py.__version__
    out["mpi"] = MPI.Get_library_version().splitlines()[0].strip()
    return out


def _csv_text(header: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(
        buf, fieldnames=list(header), lineterminator="\n", extrasaction="ignore"
    )
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _fmt(v) for k, v in row.items()})
    return buf.getvalue()


def _fmt(v: Any) -> Any:
    return repr(float(v)) if isinstance(v, float) else v


class ResultsWriter:
    """Writes one run's outputs into ``folder`` (rank 0 writes text files).

    Args:
        folder: output folder; created if missing.
        comm: the run's communicator.
        overwrite: allow replacing results in ``folder`` (what a run writes there,
            checkpoints and field segments included, is moved into
            :data:`REPLACED_DIR` until :meth:`drop_replaced` or :meth:`undo`).
        mesh: if given, fields can be written (``fields.xdmf``).
        segmented: write the fields in segments closed at each checkpoint, with
            ``fields.xdmf`` a collection of them (see the module docstring).
        resume: the writer state saved in a checkpoint (:meth:`resume_state`):
            continue the results in ``folder`` from that checkpoint.
        vtx: also write each field to ``<name>.bp`` (ADIOS2 VTX).
    """

    def __init__(
        self,
        folder: str | os.PathLike,
        comm: MPI.Comm,
        *,
        overwrite: bool = False,
        mesh: Any = None,
        segmented: bool = False,
        resume: Mapping[str, Any] | None = None,
        vtx: bool = False,
    ) -> None:
        if vtx:
            _check_vtx(mesh, resume)
        self.vtx = bool(vtx)
        self._vtx: dict[str, tuple[Any, Any]] = {}
        self.folder = Path(folder)
        self.comm = comm
        self.rank = comm.rank
        self._t0 = time.perf_counter()
        self._tables: dict[str, tuple[list[str], list[dict[str, Any]]]] = {}
        self._xdmf = None
        self._mesh = mesh
        self.segmented = segmented or resume is not None
        self._resume = dict(resume) if resume is not None else None
        self._segments: list[str] = list(self._resume["segments"]) if self._resume else []
        self._next_segment = int(self._resume["next_segment"]) if self._resume else 0
        self._open_segment: str | None = None
        #: rank 0: the run's outputs that were in the folder before it (kept by undo)
        self._before: set[str] = set()
        self._created = False  # rank 0: the folder was made by this run
        error = None
        if self.rank == 0:
            error = self._prepare(overwrite) if resume is None else self._prepare_resume()
        error = comm.bcast(error, root=0)
        if error:
            raise InputError(error)
        if mesh is not None and not self.segmented:
            from dolfinx.io import XDMFFile

            self._xdmf = XDMFFile(comm, str(self.folder / "fields.xdmf"), "w")
            self._xdmf.write_mesh(mesh)

    def _prepare(self, overwrite: bool) -> str | None:
        f = self.folder
        if f.exists() and not f.is_dir():
            return f"output path {str(f)!r} exists and is not a folder"
        existing = [n for n in (*RESULT_FILES, REPLACED_DIR) if (f / n).exists()]
        if existing and not overwrite:
            return (
                f"output folder {str(f)!r} already holds results ({', '.join(existing)}); "
                "choose another folder or pass overwrite (--overwrite)"
            )
        moved: list[Path] = []
        try:
            self._created = not f.exists()
            f.mkdir(parents=True, exist_ok=True)
            probe = f / f".femgp-write-test-{os.getpid()}"
            probe.write_text("")
            probe.unlink()
            outputs = [p for pattern in RUN_OUTPUTS for p in f.glob(pattern)]
            if overwrite and outputs:  # nothing of the run before stays beside the new one
                _remove(f / REPLACED_DIR)  # left by a run stopped before its first step
                (f / REPLACED_DIR).mkdir()
                for p in outputs:
                    p.rename(f / REPLACED_DIR / p.name)
                    moved.append(p)
            else:
                self._before = {p.name for p in outputs}
        except OSError as exc:
            try:  # what was moved aside goes back: the folder is as it was
                for p in moved:
                    (f / REPLACED_DIR / p.name).rename(p)
                if moved:
                    (f / REPLACED_DIR).rmdir()
            except OSError:
                pass
            return f"cannot write to output folder {str(f)!r}: {exc.strerror or exc}"
        return None

    def drop_replaced(self) -> None:
        """Remove the outputs an overwriting run moved aside (its first step is accepted).

        Best effort (rank 0): a file that cannot be removed (held open on NFS) is left
        with a warning, and the run goes on.
        """
        if self.rank == 0:
            try:
                _remove(self.folder / REPLACED_DIR)
            except OSError as exc:
                log.warning(
                    "could not remove the replaced results in %s: %s",
                    self.folder / REPLACED_DIR,
                    exc,
                )

    def undo(self) -> None:
        """Take back what this run wrote, and put back what it replaced; collective.

        For a new run refused before its first step, after :meth:`finish`: the
        folder is left as it was before the run (a folder the run made is
        removed if nothing else was put in it). A resumed run is left alone.
        """
        if self.rank == 0 and self._resume is None:
            f, replaced = self.folder, self.folder / REPLACED_DIR
            try:
                for pattern in RUN_OUTPUTS:
                    for p in f.glob(pattern):
                        if p.name not in self._before:
                            _remove(p)
                if replaced.is_dir():
                    for p in replaced.iterdir():
                        p.rename(f / p.name)
                    replaced.rmdir()
                if self._created and not any(f.iterdir()):
                    f.rmdir()
            except OSError as exc:
                log.warning("could not restore %s after the refused run: %s", f, exc)
        self.comm.barrier()

    def _prepare_resume(self) -> str | None:
        """Drop the field segments begun after the checkpoint, and ``fields.xdmf``'s
        references to them (rank 0)."""
        seg = self.folder / SEGMENTS_DIR
        try:
            if seg.is_dir():
                for p in seg.iterdir():
                    m = _SEGMENT.match(p.name)
                    if m and int(m.group(1)) >= self._next_segment:
                        p.unlink()
            probe = self.folder / f".femgp-write-test-{os.getpid()}"
            probe.write_text("")
            probe.unlink()
        except OSError as exc:
            return f"cannot write to output folder {str(self.folder)!r}: {exc.strerror or exc}"
        missing = [s for s in self._segments if not (self.folder / SEGMENTS_DIR / s).exists()]
        if missing:
            return (
                f"cannot restart: field segment(s) {', '.join(missing)} of the checkpoint are "
                f"missing from {str(seg)!r}"
            )
        # The run after the checkpoint may have closed segments (a refinement, a
        # failed run's end) that fields.xdmf lists: it lists the checkpoint's again.
        try:
            if self._segments:
                self._write_collection()
            else:
                (self.folder / "fields.xdmf").unlink(missing_ok=True)
        except OSError as exc:
            return f"cannot write to output folder {str(self.folder)!r}: {exc.strerror or exc}"
        return None

    def _rank0(self, action: Any, what: str) -> None:
        """Run ``action()`` on rank 0; an OSError there raises OutputError on every rank."""
        error = None
        if self.rank == 0:
            try:
                action()
            except OSError as exc:
                error = (
                    f"cannot write {str(self.folder / what)!r}: {exc.strerror or exc}; "
                    "the results written before are intact"
                )
        error = self.comm.bcast(error, root=0)
        if error:
            raise OutputError(error)

    # -- fields -------------------------------------------------------------------------
    def write_fields(self, functions: Sequence[Any], t: float) -> None:
        """Append ``functions`` at time ``t`` to ``fields.xdmf`` (or the open segment)."""
        if self._mesh is None:
            raise RuntimeError("ResultsWriter was created without a mesh; no fields.xdmf")
        if self._xdmf is None:
            self._begin_segment()
        assert self._xdmf is not None
        for fn in functions:
            self._xdmf.write_function(fn, t)
        if self.vtx:
            self._write_vtx(functions, t)

    def _write_vtx(self, functions: Sequence[Any], t: float) -> None:
        """Write each function to ``<name>.bp`` through a persistent copy (VTX keeps references)."""
        from dolfinx import fem
        from dolfinx.io import VTXWriter

        for fn in functions:
            if fn.name not in self._vtx:
                copy = fem.Function(fn.function_space, name=fn.name)
                path = self.folder / f"{fn.name}.bp"
                self._vtx[fn.name] = (copy, VTXWriter(self.comm, str(path), [copy], "BP4"))
            copy, writer = self._vtx[fn.name]
            copy.x.array[:] = fn.x.array
            writer.write(t)

    def _begin_segment(self) -> None:
        from dolfinx.io import XDMFFile

        name = f"part{self._next_segment:04d}.xdmf"
        self._next_segment += 1
        # made on rank 0, its failure every rank's (OutputError), then all go on
        self._rank0(lambda: (self.folder / SEGMENTS_DIR).mkdir(exist_ok=True), SEGMENTS_DIR)
        self._xdmf = XDMFFile(self.comm, str(self.folder / SEGMENTS_DIR / name), "w")
        self._xdmf.write_mesh(self._mesh)
        self._open_segment = name

    def set_mesh(self, mesh: Any) -> None:
        """Write the next fields on ``mesh`` (a refined mesh): the open segment is closed.

        Only in segmented mode, where every segment has its own mesh and
        ``fields.xdmf`` collects them into one time series.
        """
        if not self.segmented:
            raise RuntimeError("ResultsWriter.set_mesh needs segmented=True")
        self.close_segment()
        self._mesh = mesh

    def close_segment(self) -> None:
        """Close the open field segment and rewrite ``fields.xdmf`` (segmented mode)."""
        if not self.segmented:
            return
        if self._xdmf is not None:
            self._xdmf.close()
            self._xdmf = None
            assert self._open_segment is not None
            self._segments.append(self._open_segment)
            self._open_segment = None
            self._rank0(self._write_collection, "fields.xdmf")

    def _write_collection(self) -> None:
        text = collect_segments(self.folder, self._segments)
        atomic_write_text(self.folder / "fields.xdmf", text)

    def resume_state(self) -> dict[str, Any]:
        """What a resumed writer needs: table lengths and the closed field segments."""
        return {
            "tables": {k: len(rows) for k, (_, rows) in self._tables.items()},
            "segments": list(self._segments),
            "next_segment": self._next_segment,
        }

    # -- tables -------------------------------------------------------------------------
    def table(self, name: str, header: Sequence[str]) -> None:
        """Declare a CSV table (``name`` like ``history.csv``) with its columns.

        When resuming, the rows the checkpoint counted are read back from the file
        (later rows are dropped) and the file is rewritten.
        """
        rows: list[dict[str, Any]] = []
        n = (self._resume or {}).get("tables", {}).get(name)
        if n is not None:
            got: Any = None
            if self.rank == 0:
                got = self._read_table(name, list(header), int(n))
            got = self.comm.bcast(got, root=0)
            if isinstance(got, str):
                raise InputError(got)
            rows = got
        self._tables[name] = (list(header), rows)
        if n is not None:
            self._rank0(
                lambda: atomic_write_text(self.folder / name, _csv_text(header, rows)), name
            )

    def _read_table(self, name: str, header: list[str], n: int) -> list[dict[str, Any]] | str:
        path = self.folder / name
        try:
            with open(path, encoding="utf-8", newline="") as fh:
                reader = csv.DictReader(fh)
                if list(reader.fieldnames or []) != header:
                    return (
                        f"cannot restart: the columns of {str(path)!r} differ from this run's "
                        f"({reader.fieldnames} != {header})"
                    )
                rows = []
                for row in reader:
                    if len(rows) == n:
                        break
                    rows.append({k: _parse_cell(v) for k, v in row.items()})
        except OSError as exc:
            return f"cannot restart: cannot read {str(path)!r}: {exc.strerror or exc}"
        if len(rows) < n:
            return f"cannot restart: {str(path)!r} has {len(rows)} rows, the checkpoint needs {n}"
        return rows

    def append(self, name: str, row: Mapping[str, Any]) -> None:
        """Append a row to table ``name`` and rewrite the file atomically (rank 0).

        Raises:
            OutputError: the file could not be written (the row is not kept).
        """
        header, rows = self._tables[name]
        rows.append(dict(row))
        try:
            self._rank0(
                lambda: atomic_write_text(self.folder / name, _csv_text(header, rows)), name
            )
        except OutputError:
            rows.pop()
            raise

    def rows(self, name: str) -> list[dict[str, Any]]:
        """The rows appended so far to table ``name``."""
        return list(self._tables[name][1])

    def write_json(self, name: str, data: Mapping[str, Any]) -> None:
        """Write a JSON file atomically (rank 0); OutputError if it cannot be written."""
        text = json.dumps(data, indent=2, default=str) + "\n"
        self._rank0(lambda: atomic_write_text(self.folder / name, text), name)

    def write_run_info(self, params: Mapping[str, Any], **extra: Any) -> None:
        """Write ``run.json`` with parameters, versions, ranks and wall time so far."""
        self.write_json(
            "run.json",
            {
                "parameters": dict(params),
                "versions": versions(),
                "ranks": self.comm.size,
                "wall_time_s": time.perf_counter() - self._t0,
                **extra,
            },
        )

    def finish(self, params: Mapping[str, Any], *, failing: bool, **extra: Any) -> None:
        """Write the final ``run.json`` and close the fields.

        With ``failing`` (the run is already raising), an :class:`OutputError` here
        is swallowed so that the original error is the one reported.
        """
        try:
            try:
                self.write_run_info(params, **extra)
            finally:
                self.close()
        except OutputError:
            if not failing:
                raise

    def close(self) -> None:
        """Close ``fields.xdmf`` (in segmented mode: the open segment, then the collection)."""
        for _, writer in self._vtx.values():
            writer.close()
        self._vtx.clear()
        if self.segmented:
            self.close_segment()
            return
        if self._xdmf is not None:
            self._xdmf.close()
            self._xdmf = None

    def __enter__(self) -> ResultsWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _check_vtx(mesh: Any, resume: Mapping[str, Any] | None) -> None:
    """Refuse VTX output that cannot be written: no fields, no ADIOS2, or a restart."""
    if mesh is None:
        raise InputError("vtx output needs fields (a mesh); this run writes none")
    import dolfinx

    if not getattr(dolfinx, "has_adios2", False):
        raise InputError("vtx output needs DOLFINx built with ADIOS2; this DOLFINx has none")
    if resume is not None:
        raise InputError(
            "vtx output cannot continue a restarted run (fields.xdmf does); drop --vtx"
        )


_XI = "{https://www.w3.org/2001/XInclude}include"


def collect_segments(folder: Path, segments: Sequence[str]) -> str:
    """The XDMF3 text of ``fields.xdmf``: the temporal collections of all ``segments``.

    ``segments`` are file names in ``folder/fields.parts`` (dolfinx-written XDMF);
    each time grid gets its own segment's Topology and Geometry, and every HDF5
    path is made relative to ``folder``.
    """
    root = ET.Element("Xdmf", {"Version": "3.0"})
    domain = ET.SubElement(root, "Domain")
    collections: dict[str, ET.Element] = {}
    for k, seg in enumerate(segments):
        tree = ET.parse(folder / SEGMENTS_DIR / seg)
        seg_domain = tree.getroot().find("Domain")
        if seg_domain is None:
            raise OSError(f"{seg}: no Domain element")
        for item in seg_domain.iter("DataItem"):
            text = (item.text or "").strip()
            if ":/" in text and not text.startswith(("/", SEGMENTS_DIR + "/")):
                item.text = f"{SEGMENTS_DIR}/{text}"
        grids = seg_domain.findall("Grid")
        mesh_grid = next((g for g in grids if g.get("GridType") == "Uniform"), None)
        if mesh_grid is None:
            raise OSError(f"{seg}: no mesh grid")
        topo_geo = [c for c in mesh_grid if c.tag in ("Topology", "Geometry")]
        if k == 0:
            domain.append(mesh_grid)
        for g in grids:
            if g.get("GridType") != "Collection":
                continue
            name = g.get("Name", "")
            if name not in collections:
                collections[name] = ET.SubElement(domain, "Grid", dict(g.attrib))
            for step in g.findall("Grid"):
                new = ET.SubElement(collections[name], "Grid", dict(step.attrib))
                for child in step:
                    if child.tag == _XI:
                        new.extend(_copy(e) for e in topo_geo)
                    else:
                        new.append(child)
    ET.indent(root, space="  ")
    body = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0"?>\n<!DOCTYPE Xdmf SYSTEM "Xdmf.dtd" []>\n' + body + "\n"


def _copy(e: ET.Element) -> ET.Element:
    import copy

    return copy.deepcopy(e)


# -- reading results back: XDMF and HDF5 ----------------------------------------------------
#
# The reader of what the writer above writes (``femgp plot`` uses it). The XDMF
# XML is read generically: each grid's ``DataItem`` is followed to its
# ``file.h5:/path`` (which may be a different ``.h5`` file per time, as a
# restarted run writes) or read inline (``Format="XML"``); ``xi:include`` of
# another grid's topology and geometry is resolved. HDF5 datasets are read with
# PETSc's HDF5 viewer (no h5py needed). This section is kept apart from the
# writer on purpose: its imports stand here.

import math  # noqa: E402
from dataclasses import dataclass  # noqa: E402

import numpy as np  # noqa: E402

__all__ += ["FieldSnapshot", "read_xdmf_last", "xdmf_fields"]

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

    from petsc4py import PETSc

    if not path.is_file():
        raise InputError(f"HDF5 file {str(path)!r} named in the XDMF file does not exist")
    problem = _hdf5_incomplete(path)
    if problem:
        raise InputError(f"cannot read {dataset} from {str(path)!r}: {problem}")
    group, _, name = dataset.rstrip("/").rpartition("/")
    viewer = PETSc.ViewerHDF5()
    vec = PETSc.Vec().create(comm=MPI.COMM_SELF)
    failed: PETSc.Error | None = None
    # An unreadable file (a run killed before it closed it, a truncated copy): the
    # HDF5 library's own error stack would fill the terminal before the one line.
    with _stderr_silenced():
        try:
            viewer.create(str(path), "r", comm=MPI.COMM_SELF)
            vec.setName(name)
            viewer.pushGroup(group or "/")
            vec.load(viewer)
            viewer.popGroup()
            values, bs = vec.getArray().copy(), vec.getBlockSize()
        except PETSc.Error as exc:
            failed = exc
        finally:
            vec.destroy()
            try:
                viewer.destroy()
            except PETSc.Error:  # the file never opened: closing it fails (again at exit)
                if not _UNCLOSABLE:
                    atexit.register(_silence_at_exit)
                _UNCLOSABLE.append(viewer)
    if failed is not None:
        raise InputError(
            f"cannot read {dataset} from {str(path)!r} (PETSc error {failed.ierr}: not an "
            "HDF5 file, truncated, or left open by a run that was killed)"
        )
    return values, bs


_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def _hdf5_incomplete(path: Path) -> str | None:
    """Why ``path`` is not a whole HDF5 file, from its superblock; ``None`` if it may be.

    The superblock (at byte 0, 512, 1024, ...) records whether a writer has the
    file open (a run killed before it closed the file leaves the mark) and the
    end-of-file address (a shorter file was cut off). Read here, the HDF5 library
    is not asked to open such a file (it fills the standard error with its error
    stack, and its viewer cannot be closed).
    """
    size = path.stat().st_size
    with open(path, "rb") as fh:
        offset = 0
        while offset + 8 <= size:
            fh.seek(offset)
            if fh.read(8) == _HDF5_SIGNATURE:
                break
            offset = 512 if offset == 0 else 2 * offset
        else:
            return "not an HDF5 file (no HDF5 signature)"
        head = fh.read(16)
        if len(head) < 16:
            return f"truncated ({size} bytes, not even its superblock)"
        version = head[0]
        width = head[5] if version < 2 else head[1]  # the size of an address
        flags = int.from_bytes(head[12:16], "little") if version < 2 else head[3]
        if flags & 0b101:  # open for writing (or SWMR writing): never closed
            return (
                "still marked open for writing (a run killed before it closed the file, "
                "or one still running)"
            )
        if width not in (2, 4, 8):
            return f"not a readable HDF5 file (superblock version {version}, addresses of {width})"
        # the end-of-file address follows the fixed fields and two addresses (base and
        # free-space info in versions 0 and 1; base and superblock extension after)
        skip = {0: 16, 1: 20}.get(version, 4)
        fh.seek(offset + 8 + skip + 2 * width)
        raw = fh.read(width)
        if len(raw) < width:
            return f"truncated ({size} bytes, not even its superblock)"
        eof = int.from_bytes(raw, "little")  # from the file's first byte (user block too)
    if size < eof:
        return (
            f"truncated: {size} of the {eof} bytes it says it holds (a copy made while it "
            "was written, or a run killed before it closed the file)"
        )
    return None


#: Viewers of HDF5 files that could not be closed: PETSc tries again when it finalises.
_UNCLOSABLE: list[Any] = []


def _silence_at_exit() -> None:
    """Send the standard error to /dev/null for the rest of the exit (atexit, registered
    after PETSc's, so run first): PETSc's second try to close a viewer of a damaged HDF5
    file would print the library's error stack after the one line already given."""
    sys.stderr.flush()
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    os.close(null)


@contextlib.contextmanager
def _stderr_silenced() -> Iterator[None]:
    """Send what C libraries write to the standard error (fd 2) to /dev/null meanwhile."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


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


def refuse_existing_results(folder: Path, comm: Any) -> None:
    """Fail before any work if ``folder`` already holds results (ResultsWriter checks again)."""
    names = (*RESULT_FILES, REPLACED_DIR)
    found = [n for n in names if (folder / n).exists()] if comm.rank == 0 else None
    found = comm.bcast(found, root=0)
    if found:
        raise InputError(
            f"output folder {str(folder)!r} already holds results ({', '.join(found)}); "
            "choose another folder or pass overwrite (--overwrite)"
        )
