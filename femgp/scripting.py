"""Helpers for scripts and the CLI: one-line errors and exit codes.

User errors (:class:`femgp.InputError`, any ``ValueError`` raised while
validating input, a missing file, an ``OSError`` such as a full disk) print one
line on stderr and exit with code 2;
a :class:`femgp.SolverError` prints one line and exits with code 1. Only rank 0
prints under MPI.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from femgp.errors import InputError, SolverError

__all__ = [
    "ArgumentParser",
    "add_output_options",
    "insert_petsc_options",
    "output_options",
    "positive_float",
    "positive_int",
    "script_main",
    "split_petsc_args",
]


def _rank() -> int:
    if "mpi4py.MPI" in sys.modules:
        return sys.modules["mpi4py.MPI"].COMM_WORLD.rank
    for var in ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK"):
        if var in os.environ:
            return int(os.environ[var])
    return 0


def _say(message: str) -> None:
    if _rank() == 0:
        print(message.splitlines()[0] if message else "error", file=sys.stderr, flush=True)


class ArgumentParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr and exit code 2."""

    def error(self, message: str) -> NoReturn:
        _say(f"{self.prog}: error: {message}")
        sys.exit(2)


def positive_float(text: str) -> float:
    """argparse type: a finite float > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}") from None
    if not (value > 0 and value != float("inf")):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """argparse type: an integer > 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer > 0, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected an integer > 0, got {text!r}")
    return value


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def add_output_options(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add ``--checkpoint-every N``, ``--restart`` and ``--vtx`` (see docs/checkpointing.md)."""
    p.add_argument(
        "--checkpoint-every",
        type=positive_int,
        default=None,
        metavar="N",
        help="write a checkpoint every N steps (and on SIGTERM); see docs/checkpointing.md",
    )
    p.add_argument(
        "--restart",
        action="store_true",
        help="continue the run in --output from its latest complete checkpoint",
    )
    p.add_argument(
        "--vtx", action="store_true", help="also write the fields as ADIOS2 VTX (<name>.bp)"
    )
    return p


def output_options(args: argparse.Namespace) -> dict[str, object]:
    """``checkpoint_every``, ``restart`` and ``vtx`` for a model's ``run`` from parsed options."""
    if getattr(args, "restart", False) and getattr(args, "vtx", False):
        raise InputError("--vtx cannot continue a restarted run (fields.xdmf does); drop --vtx")
    return {
        "checkpoint_every": getattr(args, "checkpoint_every", None),
        "restart": bool(getattr(args, "restart", False)),
        "vtx": bool(getattr(args, "vtx", False)),
    }


def split_petsc_args(extra: Sequence[str]) -> list[str]:
    """Check that leftover arguments are PETSc options (``-name [value]``) and return them.

    A PETSc option has one leading dash and at most one value (a negative number
    is a value); an unknown ``--option`` or a stray word is an :class:`InputError`.
    """
    extra = list(extra)
    previous_is_name = False
    for arg in extra:
        if arg.startswith("--"):
            raise InputError(
                f"unknown option {arg!r} (see --help); PETSc options take one dash (-name value)"
            )
        if arg.startswith("-") and len(arg) > 1 and not _is_number(arg):
            previous_is_name = True
            continue
        if not previous_is_name:
            raise InputError(
                f"unexpected argument {arg!r}; extra arguments must be PETSc options (-name value)"
            )
        previous_is_name = False
    return extra


def insert_petsc_options(args: Sequence[str]) -> None:
    """Put command-line PETSc options into the options database (they override defaults)."""
    if not args:
        return
    from petsc4py import PETSc

    PETSc.Options().insertString(" ".join(args))


def script_main(
    main: Callable[[Sequence[str] | None], int | None], argv: Sequence[str] | None = None
) -> int:
    """Run ``main(argv)`` turning user errors into one line on stderr and exit code 2."""
    try:
        return int(main(argv) or 0)
    except (InputError, FileNotFoundError, NotADirectoryError, PermissionError) as exc:
        _say(f"error: {exc}")
        return 2
    except OSError as exc:  # a full disk, a read-only file system: the environment, not a bug
        _say(f"error: {exc}")
        return 2
    except ValueError as exc:
        _say(f"error: {exc}")
        return 2
    except SolverError as exc:
        _say(f"solver error: {exc}")
        return 1
    except KeyboardInterrupt:
        _say("interrupted")
        return 130
