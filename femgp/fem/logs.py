"""Rank-0 logging and a terminal-only progress bar."""

from __future__ import annotations

import logging
import sys
from typing import Any

from mpi4py import MPI

__all__ = ["get_logger", "progress"]


class _RankZero(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return MPI.COMM_WORLD.rank == 0


def get_logger(name: str = "femgp") -> logging.Logger:
    """A logger that emits on rank 0 only, with one stderr handler on the root femgp logger."""
    root = logging.getLogger("femgp")
    if not any(getattr(h, "_femgp", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        handler.addFilter(_RankZero())
        handler._femgp = True  # type: ignore[attr-defined]
        root.addHandler(handler)
        if root.level == logging.NOTSET:
            root.setLevel(logging.INFO)
    return logging.getLogger(name)


class _NoBar:
    def update(self, n: float = 1) -> None:
        pass

    def set_postfix_str(self, s: str) -> None:
        pass

    def close(self) -> None:
        pass


def progress(total: float, desc: str, comm: Any = None, *, enabled: bool = True) -> Any:
    """A tqdm bar on rank 0 when ``enabled`` and stderr is a terminal; else a no-op object.

    Every run switches its bar off the same way: ``show_progress=False`` becomes
    ``enabled=False`` here.
    """
    comm = comm or MPI.COMM_WORLD
    if not enabled or comm.rank != 0 or not sys.stderr.isatty():
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="t", leave=False)
