"""femgp's command lines: the ``femgp`` command and the plumbing of every script.

- :mod:`.args`: the argument plumbing the demos and benchmarks share (numbers,
  run options, the PETSc splitter, the error-exit wrapper); pure Python.
- :mod:`.command`: the ``femgp`` command (``info``, ``run``, ``plot``, ``mesh``).
- :mod:`.config`: TOML case files for ``femgp run``.
- :mod:`.cases`: the registry of set-ups that demos, benchmarks and ``femgp run``
  build their cases from.
- :mod:`.plot`: ``femgp plot`` and the plots of each model.
- :mod:`.mesh`: ``femgp mesh``.

Importing this package imports neither dolfinx nor petsc4py.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``femgp`` console script (see :func:`femgp.cli.command.main`)."""
    from femgp.cli.command import main as command_main

    return command_main(argv)
