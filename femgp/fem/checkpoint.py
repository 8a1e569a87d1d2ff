"""Checkpoint and restart: portable, rank-count independent, torn-write safe.

A checkpoint is a folder ``<output>/checkpoints/<step:08d>/`` holding

- one ``<name>.bin`` per saved function: the function's cell-wise dof values
  (``float64``, ``values_per_cell`` per cell) stored at the position of the
  cell's *original input index* (``mesh.topology.original_cell_index``), written
  collectively with MPI-IO (``MPI.File`` with an indexed file view). Because the
  cell-local dof layout of Lagrange elements (P1/P2, blocked vector, mixed)
  follows the input cell's vertex order, the file does not depend on the
  partition, and a restart may use a different number of ranks;
- ``geometry.bin``: the cell-wise coordinates of the mesh nodes, compared on
  load (a mesh rebuilt differently is refused with an :class:`InputError`);
- ``mesh.xdmf`` (+ ``.h5``), only once an adaptive run has refined its mesh:
  the current mesh with its facet and cell tags (``state.json`` names the
  groups). The cells of such a checkpoint are keyed by their row in
  ``mesh.xdmf`` (the global cell index of the writing run) instead of the
  original input index, and a restart reads the mesh back (on any number of
  ranks, repartitioned) before loading the functions onto it;
- ``state.json``: the step, the time or load, the step controller, counters,
  the model's scalars and the output writer's state;
- ``COMPLETE.json``, written last and atomically (temporary name, rename): the
  sizes and SHA-256 checksums of every other file and the mesh fingerprint.

:meth:`Checkpointer.latest_complete` returns the newest checkpoint whose marker
exists and whose files match it, and logs a warning naming every newer one it
skips and why. Only the newest ``keep`` complete checkpoints are kept.

The ``io4dolfinx`` + ADIOS2 backend is not used: PyPI's ``adios2`` is serial,
and the MPI-IO format above is what the tests check on every stack.

:class:`RunCheckpointing` is what the stepping driver (:mod:`femgp.fem.driver`)
uses: restart validation (model, parameters, a checkpoint to resume) and the
saving itself; the driver owns the signals and when to save.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import femgp.fem._backend  # noqa: F401  (dolfinx_solver before dolfinx)

import numpy as np
from dolfinx import fem
from mpi4py import MPI

from femgp.errors import InputError
from femgp.fem.io import OutputError, atomic_write_text
from femgp.fem.logs import get_logger
from femgp.fem.meshes.core import TaggedMesh

__all__ = [
    "CHECKPOINT_DIR",
    "INTERRUPTED_EXIT",
    "SIGINT_EXIT",
    "Checkpointer",
    "RunCheckpointing",
    "RunInterrupted",
    "array_function",
    "mesh_fingerprint",
    "read_mesh",
    "stored_interval",
    "write_mesh",
]

log = get_logger("femgp.checkpoint")

CHECKPOINT_DIR = "checkpoints"
MARKER = "COMPLETE.json"
STATE = "state.json"
MESH_FILE = "mesh.xdmf"
FORMAT = "femgp-mpiio-1"
#: Exit status of a run stopped by SIGTERM after writing its checkpoint (128 + 15).
INTERRUPTED_EXIT = 143
#: Exit status of a run stopped by SIGINT (Ctrl-C) (128 + 2).
SIGINT_EXIT = 130


class RunInterrupted(SystemExit):
    """A run received SIGTERM or SIGINT, wrote its checkpoint (when on) and stopped.

    A ``SystemExit`` with code 128 + the signal number (143 for SIGTERM, 130 for
    SIGINT), so a script exits with that status without a traceback; ``folder`` is
    the results folder (``None`` without one), ``step`` the last step and
    ``signum`` the signal.
    """

    def __init__(self, folder: Path | None, step: int, signum: int = signal.SIGTERM) -> None:
        super().__init__(128 + int(signum))
        self.folder = folder
        self.step = step
        self.signum = int(signum)


# -- mesh --------------------------------------------------------------------------------
def _owned_cells(mesh: Any) -> tuple[int, int]:
    tdim = mesh.topology.dim
    imap = mesh.topology.index_map(tdim)
    return imap.size_local, imap.size_global


def mesh_fingerprint(mesh: Any) -> dict[str, Any]:
    """Global cell and vertex counts and the sum of the owned node coordinates (allreduced)."""
    tdim = mesh.topology.dim
    _, cells = _owned_cells(mesh)
    vmap = mesh.topology.index_map(0)
    gmap = mesh.geometry.index_map()
    x = mesh.geometry.x[: gmap.size_local, : mesh.geometry.dim]
    coord_sum = mesh.comm.allreduce(float(np.sum(x)), op=MPI.SUM)
    return {
        "tdim": tdim,
        "cells": int(cells),
        "vertices": int(vmap.size_global),
        "coordinate_sum": coord_sum,
    }


#: Parameters that run.json records since a later femgp than others: a restart of a
#: run that did not record one does not compare it (it warns).
RECORDED_SINCE = frozenset({"initial"})


def _fingerprint_mismatch(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    bad = [k for k in ("tdim", "cells", "vertices") if a.get(k) != b.get(k)]
    sa, sb = float(a.get("coordinate_sum", 0.0)), float(b.get("coordinate_sum", 0.0))
    if abs(sa - sb) > 1e-9 * max(1.0, abs(sa), abs(sb)):
        bad.append("coordinate_sum")
    return bad


def _changed(key: str, old: Any, new: Any, *, width: int = 60) -> str:
    """``key: old -> new``, with a long list (a load path) summarised by its length and
    first differing entry, a table by its differing keys (``initial.c0: 0.5 -> 0.4``),
    and any other long value shortened."""
    if isinstance(old, dict) and isinstance(new, dict):
        keys = [k for k in sorted(set(old) | set(new), key=str) if old.get(k) != new.get(k)]
        return ", ".join(_changed(f"{key}.{k}", old.get(k), new.get(k), width=width) for k in keys)
    if isinstance(old, list) and isinstance(new, list):
        pairs = enumerate(zip(old, new, strict=False))  # the common length
        first = next((i for i, (a, b) in pairs if a != b), None)
        if first is None:
            return f"{key}: {len(old)} -> {len(new)} entries"
        if len(old) == len(new) and isinstance(old[first], dict):
            return _changed(f"{key}[{first}]", old[first], new[first], width=width)
        return (
            f"{key} ({len(old)} -> {len(new)} entries): entry {first} "
            f"{_short(old[first], width)} -> {_short(new[first], width)}"
        )
    return f"{key}: {_short(old, width)} -> {_short(new, width)}"


def _short(value: Any, width: int) -> str:
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


# -- cell-wise values --------------------------------------------------------------------
def _cell_dofs(V: Any, n_cells: int) -> np.ndarray:
    """Indices into ``x.array`` of the dofs of the first ``n_cells`` cells (cells x values)."""
    dm = V.dofmap
    bs = dm.bs
    cells = np.asarray(dm.list)[:n_cells]
    per_cell = cells.shape[1] * bs  # explicit: a rank may own no cell
    return (cells[:, :, None] * bs + np.arange(bs)[None, None, :]).reshape(n_cells, per_cell)


def _geometry_values(mesh: Any, n_cells: int) -> np.ndarray:
    gdim = mesh.geometry.dim
    dofs = np.asarray(mesh.geometry.dofmaps[0])[:n_cells]
    return mesh.geometry.x[dofs][:, :, :gdim].reshape(n_cells, dofs.shape[1] * gdim)


def _file_view(values_per_cell: int, cells: np.ndarray) -> tuple[Any, Any, np.ndarray]:
    """The element type, the file type (indexed by cell) and the sort order of ``cells``."""
    etype = MPI.DOUBLE.Create_contiguous(values_per_cell).Commit()
    order = np.argsort(cells, kind="stable")
    disp = [int(c) for c in cells[order]]
    ftype = etype.Create_indexed_block(1, disp).Commit()
    return etype, ftype, order


def _write_cells(comm: Any, path: Path, cells: np.ndarray, values: np.ndarray) -> None:
    """Collectively write ``values[i]`` (one row per cell) at position ``cells[i]``."""
    m = values.shape[1] if values.ndim == 2 else 0
    m = comm.allreduce(m, op=MPI.MAX)
    etype, ftype, order = _file_view(m, cells)
    buf = np.ascontiguousarray(values[order], dtype=np.float64)
    fh = MPI.File.Open(comm, str(path), MPI.MODE_WRONLY | MPI.MODE_CREATE)
    try:
        fh.Set_size(0)
        fh.Set_view(0, etype, ftype)
        fh.Write_all([buf, MPI.DOUBLE])
    finally:
        fh.Close()
        ftype.Free()
        etype.Free()


def _read_cells(comm: Any, path: Path, cells: np.ndarray, values_per_cell: int) -> np.ndarray:
    """Collectively read the rows at positions ``cells`` (in the order of ``cells``)."""
    etype, ftype, order = _file_view(values_per_cell, cells)
    buf = np.empty((cells.size, values_per_cell), dtype=np.float64)
    fh = MPI.File.Open(comm, str(path), MPI.MODE_RDONLY)
    try:
        fh.Set_view(0, etype, ftype)
        fh.Read_all([buf, MPI.DOUBLE])
    finally:
        fh.Close()
        ftype.Free()
        etype.Free()
    out = np.empty_like(buf)
    out[order] = buf
    return out


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _step_of(path: Path) -> int | None:
    try:
        return int(path.name)
    except ValueError:
        return None


# -- the checkpointer --------------------------------------------------------------------
class Checkpointer:
    """Writes and reads checkpoints of functions on ``mesh`` under ``<folder>/checkpoints``.

    Args:
        folder: the results folder.
        mesh: the mesh every saved function lives on.
        model: the model name (stored and checked on load).
        keep: complete checkpoints kept (older ones are deleted), >= 2.
    """

    def __init__(
        self,
        folder: str | os.PathLike,
        mesh: Any,
        *,
        model: str,
        keep: int = 3,
        tagged: TaggedMesh | None = None,
    ) -> None:
        if keep < 2:
            raise InputError(f"keep must be >= 2 checkpoints, got {keep!r}")
        self.folder = Path(folder)
        self.root = self.folder / CHECKPOINT_DIR
        self.mesh = mesh
        self.comm = mesh.comm
        self.model = model
        self.keep = keep
        self.tagged = tagged
        self._n_owned, self._n_global = _owned_cells(mesh)
        # Read by the input index: of the generated mesh, or the row in a stored mesh.xdmf
        # that the mesh was read from.
        oci = np.asarray(mesh.topology.original_cell_index, dtype=np.int64)
        self._cells = oci[: self._n_owned]
        # Written by the row of the cell in the mesh.xdmf written with it (global index).
        self._save_cells = self._cells
        if tagged is not None:
            start = mesh.topology.index_map(mesh.topology.dim).local_range[0]
            self._save_cells = start + np.arange(self._n_owned, dtype=np.int64)
        self._fingerprint: dict[str, Any] | None = None

    @property
    def fingerprint(self) -> dict[str, Any]:
        """The mesh fingerprint (computed once, collectively)."""
        if self._fingerprint is None:
            self._fingerprint = mesh_fingerprint(self.mesh)
        return self._fingerprint

    # -- writing -----------------------------------------------------------------------
    def save(self, step: int, functions: Mapping[str, Any], state: Mapping[str, Any]) -> Path:
        """Write checkpoint ``step`` (collective): functions, state, then the marker.

        ``functions`` maps names to ``fem.Function``s on the mesh. Raises
        :class:`OutputError` (a user error) if the disk is full or not writable;
        the previous checkpoints are left intact.
        """
        comm = self.comm
        path = self.root / f"{step:08d}"
        fp = self.fingerprint
        error = None
        if comm.rank == 0:
            try:
                if path.exists():
                    shutil.rmtree(path)
                path.mkdir(parents=True)
            except OSError as exc:
                error = f"cannot create checkpoint {str(path)!r}: {exc.strerror or exc}"
        self._raise_if(comm.bcast(error, root=0), path)
        entries: dict[str, Any] = {}

        def collectively(write: Callable[[], None]) -> None:
            # Every rank hears of any rank's failure before the next collective
            # write, so that no rank goes on to one that the others skip.
            local_error = None
            try:
                write()
            except (OSError, MPI.Exception) as exc:
                local_error = f"cannot write checkpoint {str(path)!r}: {exc}"
            errors = comm.allgather(local_error)
            self._raise_if(next((e for e in errors if e), None), path)

        cells = self._save_cells
        geo = _geometry_values(self.mesh, self._n_owned)
        collectively(lambda: _write_cells(comm, path / "geometry.bin", cells, geo))
        entries["geometry"] = {"values_per_cell": int(geo.shape[1])}
        if self.tagged is not None:
            tagged = self.tagged
            collectively(lambda: write_mesh(path / MESH_FILE, tagged))
        for name, fn in functions.items():
            vals = fn.x.array[_cell_dofs(fn.function_space, self._n_owned)]
            if np.iscomplexobj(vals):  # pragma: no cover - real PETSc here
                raise InputError("complex functions cannot be checkpointed")
            f = path / f"{name}.bin"
            collectively(lambda f=f, v=vals: _write_cells(comm, f, cells, v))
            entries[name] = {"values_per_cell": int(vals.shape[1])}
        error = None
        if comm.rank == 0:
            try:
                body = {
                    "format": FORMAT,
                    "model": self.model,
                    "step": int(step),
                    "ranks": comm.size,
                    "mesh": fp,
                    "functions": entries,
                    **({"mesh_file": _mesh_info(self.tagged)} if self.tagged is not None else {}),
                    "state": dict(state),
                }
                atomic_write_text(path / STATE, json.dumps(body, indent=1, default=_json) + "\n")
                files = {}
                for f in sorted(path.iterdir()):
                    if f.name != MARKER and not f.name.startswith("."):
                        files[f.name] = {"size": f.stat().st_size, "sha256": _sha256(f)}
                marker = {"format": FORMAT, "step": int(step), "files": files}
                atomic_write_text(path / MARKER, json.dumps(marker, indent=1) + "\n")
                _fsync_dir(path)
                self._prune(step)
            except OSError as exc:
                error = f"cannot write checkpoint {str(path)!r}: {exc.strerror or exc}"
        self._raise_if(comm.bcast(error, root=0), path)
        return path

    def _raise_if(self, error: str | None, path: Path) -> None:
        if not error:
            return
        if self.comm.rank == 0:
            shutil.rmtree(path, ignore_errors=True)
        raise OutputError(f"{error}; the previous checkpoints and results are intact")

    def _prune(self, newest: int) -> None:
        """Keep the newest ``keep`` complete checkpoints (rank 0)."""
        complete = [d for d in self._dirs() if (d / MARKER).exists()]
        for d in complete[self.keep :]:
            shutil.rmtree(d, ignore_errors=True)

    def _dirs(self) -> list[Path]:
        """Checkpoint folders, newest first."""
        if not self.root.is_dir():
            return []
        dirs = [d for d in self.root.iterdir() if d.is_dir() and _step_of(d) is not None]
        return sorted(dirs, key=lambda d: _step_of(d) or 0, reverse=True)

    # -- reading -----------------------------------------------------------------------
    def validate(self, path: Path) -> str | None:
        """Why checkpoint ``path`` is unusable (``None`` if complete and intact); rank-local."""
        marker = path / MARKER
        if not marker.exists():
            return f"no {MARKER} (the write did not finish)"
        try:
            m = json.loads(marker.read_text())
            files = m["files"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            return f"unreadable {MARKER}: {exc}"
        if STATE not in files:
            return f"{MARKER} lists no {STATE}"
        for name, meta in files.items():
            f = path / name
            if not f.exists():
                return f"{name} is missing"
            if f.stat().st_size != meta.get("size"):
                return f"{name} has {f.stat().st_size} bytes, {meta.get('size')} expected"
            if _sha256(f) != meta.get("sha256"):
                return f"{name} does not match its checksum"
        return None

    def latest_complete(self) -> Path | None:
        """The newest complete, intact checkpoint (all ranks agree); warns about skipped ones."""
        found = None
        if self.comm.rank == 0:
            for d in self._dirs():
                why = self.validate(d)
                if why is None:
                    found = str(d)
                    break
                log.warning(
                    "checkpoint %s is incomplete or damaged (%s); using an older one", d, why
                )
        found = self.comm.bcast(found, root=0)
        return Path(found) if found else None

    def read_state(self, path: Path) -> dict[str, Any]:
        """The ``state.json`` of checkpoint ``path`` (rank 0 reads, broadcast); checks the mesh."""
        body: Any = None
        if self.comm.rank == 0:
            try:
                body = json.loads((path / STATE).read_text())
            except (OSError, ValueError) as exc:
                body = f"cannot read {path / STATE}: {exc}"
        body = self.comm.bcast(body, root=0)
        if isinstance(body, str):
            raise InputError(body)
        if body.get("model") != self.model:
            raise InputError(
                f"checkpoint {str(path)!r} is from model {body.get('model')!r}, not {self.model!r}"
            )
        bad = _fingerprint_mismatch(body["mesh"], self.fingerprint)
        if bad:
            raise InputError(
                f"the mesh differs from the checkpointed one ({', '.join(bad)}: "
                f"{ {k: body['mesh'].get(k) for k in bad} } stored, "
                f"{ {k: self.fingerprint.get(k) for k in bad} } now); rebuild it identically"
            )
        m = body["functions"]["geometry"]["values_per_cell"]
        geo = _read_cells(self.comm, path / "geometry.bin", self._cells, m)
        here = _geometry_values(self.mesh, self._n_owned)
        local = float(np.max(np.abs(geo - here))) if here.size else 0.0
        scale = float(np.max(np.abs(here))) if here.size else 1.0
        err = self.comm.allreduce(local, op=MPI.MAX)
        scale = self.comm.allreduce(scale, op=MPI.MAX)
        if not err <= 1e-10 * max(scale, 1e-300):
            raise InputError(
                f"the mesh cells differ from the checkpointed ones (node coordinates differ by "
                f"{err:.3e}); rebuild the mesh with the same generator or file"
            )
        return body

    def load_function(self, path: Path, body: Mapping[str, Any], name: str, fn: Any) -> None:
        """Fill ``fn`` (a ``fem.Function``) with the saved values of ``name`` (collective)."""
        meta = body["functions"].get(name)
        if meta is None:
            raise InputError(f"checkpoint {str(path)!r} holds no function {name!r}")
        idx = _cell_dofs(fn.function_space, self._n_owned)
        if idx.shape[1] != meta["values_per_cell"]:
            raise InputError(
                f"checkpoint function {name!r} has {meta['values_per_cell']} values per cell, "
                f"the space here {idx.shape[1]} (different element?)"
            )
        vals = _read_cells(self.comm, path / f"{name}.bin", self._cells, idx.shape[1])
        fn.x.array[idx.ravel()] = vals.ravel()
        fn.x.scatter_forward()

    def load_array(self, path: Path, body: Mapping[str, Any], name: str, space: Any) -> np.ndarray:
        """The saved values of ``name`` as a local array (owned + ghosts) of ``space``."""
        tmp = fem.Function(space)
        self.load_function(path, body, name, tmp)
        return tmp.x.array.copy()

    def discard_newer(self, step: int) -> None:
        """Remove checkpoint folders newer than ``step`` (torn ones, on restart; rank 0)."""
        if self.comm.rank == 0:
            for d in self._dirs():
                if (_step_of(d) or 0) > step:
                    shutil.rmtree(d, ignore_errors=True)
        self.comm.Barrier()


def _mesh_info(tm: TaggedMesh) -> dict[str, Any]:
    return {
        "file": MESH_FILE,
        "groups": {k: [int(d), int(t)] for k, (d, t) in tm.groups.items()},
        "facet_tags": tm.facet_tags is not None,
        "cell_tags": tm.cell_tags is not None,
    }


def write_mesh(path: Path, tm: TaggedMesh) -> None:
    """Write ``tm``'s mesh and tags to the XDMF file ``path`` (collective)."""
    from dolfinx.io import XDMFFile

    msh = tm.mesh
    tdim = msh.topology.dim
    with XDMFFile(msh.comm, str(path), "w") as xf:
        xf.write_mesh(msh)
        for tags, name in ((tm.facet_tags, "facets"), (tm.cell_tags, "cells")):
            if tags is None:
                continue
            msh.topology.create_connectivity(tags.dim, tdim)
            tags.name = name
            xf.write_meshtags(tags, msh.geometry)


def read_mesh(path: Path, info: Mapping[str, Any], comm: Any) -> TaggedMesh:
    """The tagged mesh :func:`write_mesh` wrote (collective; partitioned for ``comm``)."""
    from dolfinx.io import XDMFFile

    with XDMFFile(comm, str(path), "r") as xf:
        msh = xf.read_mesh()
        tdim = msh.topology.dim
        tags = {}
        for key, name, dim in (("facet_tags", "facets", tdim - 1), ("cell_tags", "cells", tdim)):
            if info.get(key):
                msh.topology.create_entities(dim)
                msh.topology.create_connectivity(dim, tdim)
                tags[key] = xf.read_meshtags(msh, name=name)
    groups = {k: (int(d), int(t)) for k, (d, t) in info["groups"].items()}
    return TaggedMesh(msh, tags.get("cell_tags"), tags.get("facet_tags"), groups)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _json(v: Any) -> Any:
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    if isinstance(v, np.ndarray):
        return v.tolist()
    return str(v)


def array_function(space: Any, values: np.ndarray) -> Any:
    """A ``fem.Function`` on ``space`` holding a copy of the local ``values``."""
    fn = fem.Function(space)
    fn.x.array[:] = values
    return fn


# -- what a run uses ---------------------------------------------------------------------
def _normalise(obj: Any) -> Any:
    return json.loads(json.dumps(obj, default=_json))


def stored_interval(folder: str | os.PathLike) -> int | None:
    """The checkpoint interval stored in the newest readable checkpoint of ``folder``.

    What a restart without one goes on at (:class:`RunCheckpointing`); ``None``
    where no checkpoint stores one. Reads files only: no mesh, no MPI.
    """
    try:
        paths = [p for p in (Path(folder) / CHECKPOINT_DIR).iterdir() if p.name.isdigit()]
    except OSError:
        return None
    for path in sorted(paths, key=lambda p: int(p.name), reverse=True):
        try:
            every = json.loads((path / STATE).read_text(encoding="utf-8"))["state"].get("every")
        except (OSError, ValueError, KeyError, AttributeError):
            continue
        return every if isinstance(every, int) and not isinstance(every, bool) else None
    return None


class RunCheckpointing:
    """Checkpointing of one run: restart validation and the saves.

    Created by :func:`femgp.fem.driver.drive` before it writes anything. With ``restart``
    it checks (collectively, touching nothing) that ``folder`` holds a run of
    ``model`` with the same parameters (keys in ``mutable`` may differ) and a
    complete checkpoint; :attr:`state` is then that checkpoint's state.

    Args:
        folder: the results folder.
        mesh: the mesh of the run.
        model: model name as written in ``run.json``.
        params: the run's parameters as written in ``run.json``'s ``parameters``.
        every: checkpoint every this many accepted steps. ``None``: with
            ``restart`` the interval of the run that wrote the checkpoint resumed
            from (only on a stop signal if it had none), else no checkpointing.
        restart: resume from the latest complete checkpoint in ``folder``.
        overwrite: the run's overwrite flag (incompatible with ``restart``).
        mutable: parameter keys that may change on restart.
        keep: checkpoints kept.
    """

    def __init__(
        self,
        folder: str | os.PathLike | None,
        mesh: Any,
        *,
        model: str,
        params: Mapping[str, Any],
        every: int | None,
        restart: bool,
        overwrite: bool = False,
        mutable: Iterable[str] = ("t_end",),
        keep: int = 3,
    ) -> None:
        if every is not None and (
            isinstance(every, bool) or not isinstance(every, int) or every < 1
        ):
            raise InputError(f"checkpoint_every must be a positive integer or None, got {every!r}")
        if (every is not None or restart) and folder is None:
            raise InputError("checkpointing and restart need an output folder")
        if restart and overwrite:
            raise InputError("restart and overwrite (--restart, --overwrite) exclude each other")
        self.enabled = every is not None or restart
        self.every = every
        self.comm = mesh.comm
        self.folder = Path(folder) if folder is not None else None
        self.ckpt = (
            Checkpointer(self.folder, mesh, model=model, keep=keep) if self.enabled else None
        )
        self.model = model
        self.keep = keep
        self.params = _normalise(dict(params))
        self.path: Path | None = None
        self.body: dict[str, Any] | None = None
        #: The mesh stored in the checkpoint resumed from (``None``: the run's own mesh).
        self.stored_mesh: TaggedMesh | None = None
        if restart:
            self._validate_restart(mutable)

    def set_mesh(self, tm: TaggedMesh) -> None:
        """The run's mesh changed (refined): later checkpoints store ``tm`` with them."""
        if self.enabled:
            assert self.folder is not None
            self.ckpt = Checkpointer(
                self.folder, tm.mesh, model=self.model, keep=self.keep, tagged=tm
            )

    @property
    def state(self) -> dict[str, Any] | None:
        """The state saved in the checkpoint resumed from (``None`` for a fresh run)."""
        return None if self.body is None else self.body["state"]

    @property
    def writer_resume(self) -> dict[str, Any] | None:
        """What :class:`ResultsWriter` needs to continue the results (``resume=``)."""
        return None if self.state is None else self.state["writer"]

    def _validate_restart(self, mutable: Iterable[str]) -> None:
        assert self.folder is not None and self.ckpt is not None
        error = None
        if self.comm.rank == 0:
            error = self._check_run_json(set(mutable))
        error = self.comm.bcast(error, root=0)
        if error:
            raise InputError(error)
        path = self.ckpt.latest_complete()
        if path is None:
            raise InputError(
                f"nothing to restart from: {str(self.folder / CHECKPOINT_DIR)!r} holds no "
                "complete checkpoint (run with --checkpoint-every N)"
            )
        info = self._stored_mesh_info(path)
        if info is not None:  # an adaptive run: the checkpoint holds its (refined) mesh
            tm = read_mesh(path / info["file"], info, self.comm)
            self.stored_mesh = tm
            self.ckpt = Checkpointer(
                self.folder, tm.mesh, model=self.model, keep=self.keep, tagged=tm
            )
        self.body = self.ckpt.read_state(path)
        self.path = path
        if self.every is None:  # go on checkpointing as the run that wrote it did
            every = self.body["state"].get("every")
            self.every = int(every) if every is not None else None
        log.info("restarting from %s (step %d)", path, self.body["step"])

    def _stored_mesh_info(self, path: Path) -> dict[str, Any] | None:
        """The ``mesh_file`` entry of checkpoint ``path`` (rank 0 reads, broadcast)."""
        info = None
        if self.comm.rank == 0:
            try:
                info = json.loads((path / STATE).read_text()).get("mesh_file")
            except (OSError, ValueError):
                info = None  # read_state reports it
        return self.comm.bcast(info, root=0)

    def _check_run_json(self, mutable: set[str]) -> str | None:
        folder = self.folder
        assert folder is not None
        run_json = folder / "run.json"
        if not run_json.exists():
            return f"cannot restart: {str(folder)!r} holds no run.json (not a results folder)"
        try:
            info = json.loads(run_json.read_text())
        except (OSError, ValueError) as exc:
            return f"cannot restart: unreadable {str(run_json)!r}: {exc}"
        if info.get("model") != self.model:
            return (
                f"cannot restart: {str(folder)!r} holds results of model {info.get('model')!r}, "
                f"not {self.model!r}"
            )
        old = info.get("parameters", {})
        # What an older femgp did not record (the initial condition, before
        # 2026-12-06) cannot be compared: said, not refused.
        unrecorded = sorted(k for k in set(self.params) - set(old) if k in RECORDED_SINCE)
        if unrecorded:
            log.warning(
                "the checkpointed run did not record %s (an older femgp): not compared",
                ", ".join(unrecorded),
            )
        keys = sorted((set(old) | set(self.params)) - set(unrecorded))
        diff = [k for k in keys if k not in mutable and old.get(k) != self.params.get(k)]
        if diff:
            detail = ", ".join(_changed(k, old.get(k), self.params.get(k)) for k in diff)
            return f"cannot restart: parameters differ from the checkpointed run ({detail})"
        return None

    def load_function(self, name: str, fn: Any) -> None:
        """Restore function ``name`` into ``fn``."""
        assert self.ckpt is not None and self.path is not None and self.body is not None
        self.ckpt.load_function(self.path, self.body, name, fn)

    def load_array(self, name: str, space: Any) -> np.ndarray:
        """Restore ``name`` as a local array of ``space``."""
        assert self.ckpt is not None and self.path is not None and self.body is not None
        return self.ckpt.load_array(self.path, self.body, name, space)

    def begin(self) -> None:
        """Drop the checkpoints newer than the one resumed from (torn ones)."""
        if self.body is not None and self.ckpt is not None:
            self.ckpt.discard_newer(int(self.body["step"]))

    def save(
        self, step: int, functions: Mapping[str, Any], state: Mapping[str, Any], writer: Any
    ) -> None:
        """Close the writer's field segment, then write checkpoint ``step``."""
        assert self.ckpt is not None
        if writer is not None:
            writer.close_segment()
        full = {
            **state,
            "every": self.every,
            "writer": writer.resume_state() if writer is not None else None,
        }
        self.ckpt.save(step, functions, full)
