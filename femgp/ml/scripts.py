"""Shared plumbing for the torch demos: arguments, errors, atomic output.

Every demo takes ``--dry-run`` (a run of seconds), ``--output DIR`` and
``--seed``; bad arguments (and any :class:`femgp.InputError`) end the program
with exit code 2 and one line on stderr, as the rest of femgp does.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from femgp.errors import InputError

__all__ = [
    "DemoParser",
    "launcher_rank",
    "nonnegative_float",
    "positive_float",
    "positive_int",
    "run_demo",
    "save_figure",
    "write_json",
    "write_text",
]


class DemoParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line on stderr and exit code 2.

    Adds the common ``--dry-run``, ``--output`` and ``--seed`` options.
    """

    def __init__(self, *, description: str, default_output: str) -> None:
        super().__init__(description=description)
        self.add_argument("--dry-run", action="store_true", help="a run of a few seconds")
        self.add_argument(
            "--output",
            type=Path,
            default=Path(default_output),
            help=f"output folder (default: {default_output})",
        )
        self.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
        self.add_argument(
            "--threads",
            type=int,
            default=0,
            help="torch CPU threads (default: torch's choice; 1 with --dry-run)",
        )
        self.add_argument("--check-args", action="store_true", help=argparse.SUPPRESS)

    def parse_args(self, args: Any = None, namespace: Any = None) -> Any:  # type: ignore[override]
        """Parse; with ``--check-args`` stop (exit 0) once the arguments are known good."""
        ns = super().parse_args(args, namespace)
        if ns.threads < 0:
            self.error(f"argument --threads: must be >= 0, got {ns.threads}")
        if ns.check_args:
            sys.exit(0)
        threads = ns.threads or (1 if ns.dry_run else 0)
        if threads:
            import torch

            torch.set_num_threads(threads)
        return ns

    def error(self, message: str) -> NoReturn:
        """Print ``prog: error: message`` as one line and exit with status 2."""
        sys.stderr.write(f"{self.prog}: error: {' '.join(message.split())}\n")
        sys.exit(2)


def _number(kind: type, test: Callable[[Any], bool], what: str) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a valid {kind.__name__}") from None
        if not test(v):
            raise argparse.ArgumentTypeError(f"must be {what}, got {text}")
        return v

    parse.__name__ = f"{what} {kind.__name__}"
    return parse


#: argparse type: a finite float >= 0.
nonnegative_float = _number(float, lambda v: v >= 0 and v != float("inf"), ">= 0")
#: argparse type: a finite float > 0.
positive_float = _number(float, lambda v: v > 0 and v != float("inf"), "> 0")
#: argparse type: an integer >= 1.
positive_int = _number(int, lambda v: v >= 1, ">= 1")


def launcher_rank() -> int:
    """This process's rank when started by ``mpirun``/``srun`` (from the environment), else 0."""
    for var in ("OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK", "SLURM_PROCID"):
        value = os.environ.get(var)
        if value is not None and value.isdigit():
            return int(value)
    return 0


def run_demo(main: Callable[[list[str] | None], int | None], argv: list[str] | None = None) -> int:
    """Run ``main(argv)``; an ``InputError`` becomes one stderr line and exit code 2.

    The torch demos are serial: started under ``mpirun -n N``, only rank 0 runs
    (after parsing the arguments, so bad arguments fail on every rank alike)
    and the other ranks exit 0 without writing anything.
    """
    if launcher_rank() != 0:
        try:
            main([*(sys.argv[1:] if argv is None else argv), "--check-args"])
        except SystemExit as exc:
            return int(exc.code or 0)
        except InputError as exc:
            sys.stderr.write(f"error: {' '.join(str(exc).split())}\n")
            return 2
        return 0
    try:
        rc = main(argv)
    except InputError as exc:
        sys.stderr.write(f"error: {' '.join(str(exc).split())}\n")
        return 2
    return 0 if rc is None else int(rc)


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` atomically (temp file in the same folder, then ``os.replace``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json(path: str | os.PathLike[str], data: Any) -> Path:
    """Write ``data`` as indented JSON, atomically."""
    return write_text(path, json.dumps(data, indent=2, sort_keys=False) + "\n")


def save_figure(fig: Any, path: str | os.PathLike[str]) -> Path:
    """Save a matplotlib figure atomically (temp file, then ``os.replace``) and close it."""
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=120, bbox_inches="tight")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    finally:
        plt.close(fig)
    return path
