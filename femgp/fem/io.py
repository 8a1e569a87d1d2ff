"""Run output: one folder per run, written atomically where it can be.

``fields.xdmf`` (+ ``.h5``) for ParaView's Xdmf3 readers, ``history.csv`` (one
row per step), ``run.json`` (parameters, versions, ranks, wall time) and plots.
CSV and JSON files are written under a temporary name and renamed, so a killed
run never leaves a half-written history. An output folder that already holds
results is refused unless ``overwrite=True``.
"""

from __future__ import annotations

import csv
import io
import json
import os
import platform
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mpi4py import MPI

from femgp.errors import InputError

__all__ = ["ResultsWriter", "atomic_write_text", "versions"]

RESULT_FILES = ("history.csv", "run.json", "fields.xdmf")


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and an atomic rename."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


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
        overwrite: allow replacing results already in ``folder``.
        mesh: if given, ``fields.xdmf`` is opened and the mesh written.
    """

    def __init__(
        self,
        folder: str | os.PathLike,
        comm: MPI.Comm,
        *,
        overwrite: bool = False,
        mesh: Any = None,
    ) -> None:
        self.folder = Path(folder)
        self.comm = comm
        self.rank = comm.rank
        self._t0 = time.perf_counter()
        self._tables: dict[str, tuple[list[str], list[dict[str, Any]]]] = {}
        self._xdmf = None
        error = None
        if self.rank == 0:
            error = self._prepare(overwrite)
        error = comm.bcast(error, root=0)
        if error:
            raise InputError(error)
        if mesh is not None:
            from dolfinx.io import XDMFFile

            self._xdmf = XDMFFile(comm, str(self.folder / "fields.xdmf"), "w")
            self._xdmf.write_mesh(mesh)

    def _prepare(self, overwrite: bool) -> str | None:
        f = self.folder
        if f.exists() and not f.is_dir():
            return f"output path {str(f)!r} exists and is not a folder"
        existing = [n for n in RESULT_FILES if (f / n).exists()]
        if existing and not overwrite:
            return (
                f"output folder {str(f)!r} already holds results ({', '.join(existing)}); "
                "choose another folder or pass overwrite (--overwrite)"
            )
        try:
            f.mkdir(parents=True, exist_ok=True)
            probe = f / f".femgp-write-test-{os.getpid()}"
            probe.write_text("")
            probe.unlink()
        except OSError as exc:
            return f"cannot write to output folder {str(f)!r}: {exc.strerror or exc}"
        return None

    def write_fields(self, functions: Sequence[Any], t: float) -> None:
        """Append ``functions`` at time ``t`` to ``fields.xdmf``."""
        if self._xdmf is None:
            raise RuntimeError("ResultsWriter was created without a mesh; no fields.xdmf")
        for fn in functions:
            self._xdmf.write_function(fn, t)

    def table(self, name: str, header: Sequence[str]) -> None:
        """Declare a CSV table (``name`` like ``history.csv``) with its columns."""
        self._tables[name] = (list(header), [])

    def append(self, name: str, row: Mapping[str, Any]) -> None:
        """Append a row to table ``name`` and rewrite the file atomically (rank 0)."""
        header, rows = self._tables[name]
        rows.append(dict(row))
        if self.rank == 0:
            atomic_write_text(self.folder / name, _csv_text(header, rows))

    def rows(self, name: str) -> list[dict[str, Any]]:
        """The rows appended so far to table ``name``."""
        return list(self._tables[name][1])

    def write_json(self, name: str, data: Mapping[str, Any]) -> None:
        """Write a JSON file atomically (rank 0)."""
        if self.rank == 0:
            atomic_write_text(self.folder / name, json.dumps(data, indent=2, default=str) + "\n")

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

    def close(self) -> None:
        """Close ``fields.xdmf``."""
        if self._xdmf is not None:
            self._xdmf.close()
            self._xdmf = None

    def __enter__(self) -> ResultsWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
