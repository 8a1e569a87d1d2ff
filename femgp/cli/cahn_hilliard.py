"""The Cahn-Hilliard options of the demos (2D benchmark and 3D cube).

The common run options come from :func:`femgp.cli.args.add_run_options`; this
module adds the time, scheme and resolution options every Cahn-Hilliard demo
takes. Pure Python: it imports neither dolfinx nor petsc4py.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from femgp.cli.args import add_run_options, positive_float, positive_int

__all__ = ["add_cahn_hilliard_options"]


def add_cahn_hilliard_options(
    p: argparse.ArgumentParser,
    *,
    default_output: str,
    n: int,
    fine: str,
    field_times: Sequence[float],
    t_end: float = 50.0,
) -> None:
    """Add the run options and ``--t-end --n --fine --scheme --tol --field-times``.

    ``n`` is the default number of cells per side and ``fine`` the help text of
    ``--fine`` (the resolution it selects).
    """
    add_run_options(p, default_output=default_output)
    p.add_argument(
        "--t-end", type=positive_float, default=t_end, help=f"final time (default {t_end:g})"
    )
    p.add_argument("--n", type=positive_int, default=n, help=f"cells per side (default {n})")
    p.add_argument("--fine", action="store_true", help=fine)
    p.add_argument("--scheme", choices=("theta", "eyre"), default="theta")
    p.add_argument("--tol", type=positive_float, default=0.01, help="relative time-error tolerance")
    p.add_argument(
        "--field-times",
        type=positive_float,
        nargs="*",
        default=list(field_times),
        help="times at which fields are written",
    )
