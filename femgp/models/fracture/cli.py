"""Command-line options shared by the fracture demos and the benchmark.

Error handling (one line on stderr, exit code 2 for user errors) and PETSc
pass-through come from :mod:`femgp.scripting`; this module adds the options
every fracture script takes and turns them into :class:`Params` overrides.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from femgp.errors import InputError
from femgp.scripting import (
    ArgumentParser,
    add_output_options,
    output_options,
    split_petsc_args,
)

__all__ = [
    "add_common_options",
    "check_output",
    "checkpoint_options",
    "overrides",
    "petsc_args",
    "summary",
]


def petsc_args(extra: Sequence[str]) -> list[str]:
    """The PETSc options among the unparsed arguments; an unknown ``--option`` is an error."""
    unknown = [a for a in extra if a.startswith("--")]
    if unknown:
        raise InputError(f"unknown option(s): {' '.join(unknown)} (see --help)")
    return split_petsc_args(extra)


def check_output(folder: str | Path, *, overwrite: bool, restart: bool = False) -> None:
    """Refuse, before any work, an output folder that already holds results.

    With ``restart`` the folder must hold results (they are continued), and
    ``overwrite`` is an error.
    """
    from mpi4py import MPI

    from femgp.models.fracture.run import refuse_existing_results

    if restart and overwrite:
        raise InputError("--restart and --overwrite exclude each other")
    if not overwrite and not restart:
        refuse_existing_results(Path(folder), MPI.COMM_WORLD)


def checkpoint_options(args: Any) -> dict[str, Any]:
    """``checkpoint_every``, ``restart`` and ``vtx`` for :func:`femgp.models.fracture.run`."""
    return dict(output_options(args))


def add_common_options(p: ArgumentParser, *, default_output: str) -> ArgumentParser:
    """Add ``--output --overwrite --fine --model ... --checkpoint-every --restart``.

    Model names are validated by :class:`Params` (one-line errors naming the
    allowed values), not by argparse, so that every bad value gets the same message.
    """
    p.add_argument("--output", default=default_output, help="results folder")
    p.add_argument("--overwrite", action="store_true", help="replace results in --output")
    p.add_argument("--fine", action="store_true", help="the literature resolution (slow)")
    p.add_argument("--model", default=None, help="crack density: AT1 or AT2")
    p.add_argument("--split", default=None, help="energy split: none, voldev or spectral")
    p.add_argument("--ell", type=float, default=None, help="regularisation length")
    p.add_argument("--Gc", type=float, default=None, help="fracture toughness")
    p.add_argument(
        "--acceleration", default=None, help="alternate minimisation: overrelax, anderson, none"
    )
    p.add_argument(
        "--linear-solver",
        default=None,
        help="iterative (CG + GAMG), direct (MUMPS) or hybrid (MUMPS for u)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_output_options(p)
    return p


def overrides(args: Any) -> dict[str, Any]:
    """The model parameters given on the command line (those not left at None)."""
    names = ("model", "split", "ell", "Gc", "acceleration", "linear_solver")
    return {k: getattr(args, k) for k in names if getattr(args, k, None) is not None}


def summary(result: Any, *, unit: str = "") -> str:
    """A one-line summary of a fracture run."""
    u = f" {unit}" if unit else ""
    text = (
        f"{result.steps} load steps in {result.wall_time:.1f} s: {result.am_iterations} "
        f"alternate-minimisation iterations, {result.newton} Newton and {result.krylov} "
        f"Krylov iterations, {result.cutbacks} cutbacks"
    )
    if result.peak_reaction == result.peak_reaction:  # not NaN: a reaction is recorded
        text += f"; peak reaction {result.peak_reaction:.5g}{u}"
    return text
