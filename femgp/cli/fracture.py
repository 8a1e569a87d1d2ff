"""The fracture options of the demos and the benchmark, and the one-line run summary.

The common run options (``--output --overwrite --quiet --max-cells`` and the
checkpoint options) come from :func:`femgp.cli.args.add_run_options`; this
module adds the model options every fracture script takes and turns them into
``Params`` overrides. Pure Python: it imports neither dolfinx nor petsc4py.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from femgp.cli.args import ArgumentParser, add_run_options, parse_with_petsc, positive_int

__all__ = [
    "DEMOS",
    "add_fracture_options",
    "add_refinement_options",
    "headline",
    "overrides",
    "parse_fracture_args",
    "refinement_options",
    "summary",
]


#: The fracture demos: case -> (description, default output, ``--mesh`` help or None).
DEMOS: dict[str, tuple[str, str, str | None]] = {
    "sent": (
        "Single-edge notched tension (Miehe et al. 2010)",
        "results/fracture_sent",
        "a .msh file with facet groups 'bottom' and 'top'",
    ),
    "sens": (
        "Single-edge notched shear (Miehe et al. 2010)",
        "results/fracture_sens",
        "a .msh file with facet groups bottom, top, left, right",
    ),
    "bar": ("A 1D-like bar in traction (phase-field fracture)", "results/fracture_bar", None),
    "surfing": (
        "The surfing test: a crack driven by a moving K_I field",
        "results/fracture_surfing",
        None,
    ),
    "lpanel": (
        "Winkler's L-shaped concrete panel (Ambati et al. 2015)",
        "results/fracture_lpanel",
        "a .msh file with facet groups 'bottom' and 'load'",
    ),
}


def parse_fracture_args(case: str, argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line of the fracture demo of ``case`` (see :data:`DEMOS`).

    The options are :func:`add_fracture_options`' and, where the case takes a
    user mesh, ``--mesh FILE``; PETSc options go to PETSc before it initialises.
    """
    description, default_output, mesh_help = DEMOS[case]
    p = ArgumentParser(prog=f"fracture_{case}.py", description=description)
    # the surfing loading is scaled by Gc_eff of its pre-refined band: the demo
    # refuses --adapt with a line saying why, and its --help does not offer it
    add_fracture_options(p, default_output=default_output, refinement=case != "surfing")
    if mesh_help:
        p.add_argument("--mesh", help=mesh_help)
    return parse_with_petsc(p, argv, model="fracture")


def add_fracture_options(
    p: argparse.ArgumentParser, *, default_output: str, refinement: bool = True
) -> None:
    """Add the run options and ``--fine --model --split --ell --Gc --acceleration
    --linear-solver``, and :func:`add_refinement_options` (left out of ``--help``
    without ``refinement``: a script that cannot refine refuses them itself).

    Model names are validated by ``Params`` (one-line errors naming the allowed
    values), not by argparse, so that every bad value gets the same message.
    """
    add_run_options(p, default_output=default_output)
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
    p.add_argument(
        "--solver", default=None, help="nonlinear solver of a load step: newton (default) or am"
    )
    p.add_argument(
        "--newton-after",
        type=positive_int,
        default=None,
        metavar="N",
        help="alternate-minimisation iterations before the coupled Newton takes over",
    )
    p.add_argument(
        "--no-crack-run",
        dest="crack_run",
        action="store_const",
        const=False,
        default=None,
        help="do not solve unstable crack runs on a coarser copy of the mesh first "
        "(SENT and SENS; see docs/fracture.md)",
    )
    add_refinement_options(p, shown=refinement)


def add_refinement_options(p: argparse.ArgumentParser, *, shown: bool = True) -> None:
    """Add ``--adapt``, ``--h-min`` and the ``--adapt-*`` options of the refinement.

    See docs/adaptivity.md. Not ``shown``: parsed, but not listed by ``--help``.

    The cap on cells is ``--max-cells``. Values are validated by
    :class:`femgp.fem.adapt.Refinement` (one-line errors).
    """
    g = p.add_argument_group("adaptive refinement (docs/adaptivity.md)")

    def shown_help(text: str) -> str:
        return text if shown else argparse.SUPPRESS

    g.add_argument(
        "--adapt",
        action="store_true",
        help=shown_help("start from a coarse mesh and refine where a crack is or is coming"),
    )
    g.add_argument(
        "--h-min",
        type=float,
        default=None,
        metavar="H",
        help=shown_help(
            "cell size to reach (default: the pre-refined mesh's, e.g. SENT's ell/4 with --fine, "
            "else ell/2.5)"
        ),
    )
    g.add_argument(
        "--adapt-threshold",
        type=float,
        default=None,
        metavar="T",
        help=shown_help("refine where the damage reaches T (default 0.01 for AT1, 0.25 for AT2)"),
    )
    g.add_argument(
        "--adapt-driving-ratio",
        type=float,
        default=None,
        metavar="R",
        help=shown_help(
            "refine where the driving force psi_+ reaches R times its critical value "
            "(default 0.9; 0: off)"
        ),
    )
    g.add_argument(
        "--adapt-zone",
        type=float,
        default=None,
        metavar="W",
        help=shown_help("also refine within W of those cells (a length; default ell/2)"),
    )
    g.add_argument(
        "--adapt-lookahead",
        type=float,
        default=None,
        metavar="W",
        help=shown_help("when refining, also refine W farther (a length; default 2 ell)"),
    )


def refinement_options(args: Any) -> dict[str, Any] | None:
    """The ``Refinement`` fields given on the command line; None without ``--adapt``.

    ``zone`` and ``lookahead`` are left out when not given (the script puts
    :func:`femgp.cli.cases.refinement_reach`); the cap on cells is
    ``--max-cells`` when given.

    Raises:
        InputError: a refinement option without ``--adapt``.
    """
    from femgp.errors import InputError

    given = {
        "h_min": getattr(args, "h_min", None),
        "threshold": getattr(args, "adapt_threshold", None),
        "driving_ratio": getattr(args, "adapt_driving_ratio", None),
        "zone": getattr(args, "adapt_zone", None),
        "lookahead": getattr(args, "adapt_lookahead", None),
    }
    given = {k: v for k, v in given.items() if v is not None}
    if not getattr(args, "adapt", False):
        if given:
            flags = ", ".join(
                {
                    "h_min": "--h-min",
                    "threshold": "--adapt-threshold",
                    "driving_ratio": "--adapt-driving-ratio",
                    "zone": "--adapt-zone",
                    "lookahead": "--adapt-lookahead",
                }[k]
                for k in given
            )
            raise InputError(f"{flags} need(s) --adapt (adaptive refinement is off)")
        return None
    if getattr(args, "max_cells", None) is not None:
        given["max_cells"] = args.max_cells
    return {"adapt": True, **given}


def overrides(args: Any) -> dict[str, Any]:
    """The model parameters given on the command line (those not left at None)."""
    names = (
        "model",
        "split",
        "ell",
        "Gc",
        "acceleration",
        "linear_solver",
        "solver",
        "newton_after",
        "crack_run",
    )
    return {k: getattr(args, k) for k in names if getattr(args, k, None) is not None}


def summary(result: Any, *, unit: str = "") -> str:
    """A one-line summary of a fracture run."""
    u = f" {unit}" if unit else ""
    text = (
        f"{result.steps} load steps in {result.wall_time:.1f} s: {result.am_iterations} "
        f"alternate-minimisation iterations, {result.newton} Newton and {result.krylov} "
        f"Krylov iterations, {result.cutbacks} cutbacks"
    )
    if getattr(result, "am_coarse", 0):
        text += f" ({result.am_coarse} AM iterations on the crack-run mesh)"
    if result.peak_reaction == result.peak_reaction:  # not NaN: a reaction is recorded
        text += f"; peak reaction {result.peak_reaction:.5g}{u}"
    return text


def headline(setup: Any, ranks: int, *, title: str | None = None, unit: str = "") -> str:
    """A one-line description of a fracture set-up before its run."""
    u = f" {unit}" if unit else ""
    p = setup.params
    h = setup.info.get("h_band")
    size = f", h = {h:.4g}{u}" if h else ""
    return (
        f"{title or setup.title}: {p.model}, split {p.split}, ell = {p.ell:g}{u}{size}, "
        f"{len(setup.loading.loads)} load steps, {ranks} rank(s)"
    )
