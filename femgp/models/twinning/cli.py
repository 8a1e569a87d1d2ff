"""Command-line plumbing shared by the twinning demos and benchmark.

A user error (a bad option, a bad parameter, an output folder that already
holds results) prints one line on stderr (rank 0) and exits with code 2 on
every rank, before anything is written; a solver failure exits with code 1.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

import femgp.fem._backend  # noqa: F401  (dolfinx_solver before petsc4py)

from mpi4py import MPI
from petsc4py import PETSc

from femgp.errors import InputError, SolverError
from femgp.scripting import add_output_options, output_options

__all__ = [
    "DemoParser",
    "add_checkpoint_options",
    "checkpoint_options",
    "guarded_main",
    "positive_float",
    "positive_int",
]


def _fail(message: str, code: int) -> NoReturn:
    if MPI.COMM_WORLD.rank == 0:
        print(message, file=sys.stderr, flush=True)
    sys.exit(code)


class DemoParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr (rank 0) and exit code 2.

    PETSc options (one leading dash, e.g. ``-femgp_twinning_ksp_type cg``) are
    passed to PETSc's options database by :meth:`parse_known_petsc`.
    """

    def error(self, message: str) -> NoReturn:
        _fail(f"{self.prog}: error: {message}", 2)

    def parse_known_petsc(self, argv: Sequence[str] | None = None) -> argparse.Namespace:
        """Parse ``argv``; unknown single-dash options (and their values) go to PETSc."""
        args, rest = self.parse_known_args(argv)
        petsc: list[str] = []
        bad: list[str] = []
        for a in rest:
            if a.startswith("-") and not a.startswith("--") and len(a) > 1:
                petsc.append(a)
            elif not a.startswith("-") and petsc and petsc[-1].startswith("-"):
                petsc.append(a)  # the value of the PETSc option before it
            else:
                bad.append(a)
        if bad:
            self.error(f"unrecognized arguments: {' '.join(bad)}")
        if petsc:
            PETSc.Options().insertString(" ".join(petsc))
        return args


def positive_float(text: str) -> float:
    """argparse type: a finite float > 0."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not (v > 0 and v < float("inf")):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return v


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return v


def guarded_main(main: Callable[[], Any]) -> None:
    """Run ``main()``: InputError -> one line, exit 2; SolverError -> one line, exit 1."""
    try:
        main()
    except InputError as exc:
        _fail(f"error: {exc}", 2)
    except SolverError as exc:
        _fail(f"solver failure: {exc}", 1)


def add_checkpoint_options(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add ``--checkpoint-every N``, ``--restart`` and ``--vtx`` (see ``docs/checkpointing.md``)."""
    return add_output_options(parser)


def checkpoint_options(args: argparse.Namespace) -> dict[str, Any]:
    """``checkpoint_every``, ``restart`` and ``vtx`` for :func:`femgp.models.twinning.run`."""
    return dict(output_options(args))
