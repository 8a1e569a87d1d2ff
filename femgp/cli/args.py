"""Argument plumbing shared by every femgp script: numbers, options, PETSc, exit codes.

One home for what the ``femgp`` command, the demos and the benchmarks all do
with their command lines:

- one number parser (:func:`positive_float`, :func:`positive_int`,
  :func:`nonnegative_float`, built by :func:`number`);
- one :class:`ArgumentParser` whose errors are one line on stderr and exit 2;
- the common run options (:func:`add_run_options`: ``--output``,
  ``--overwrite``, ``--quiet``, ``--max-cells``, ``--checkpoint-every``,
  ``--restart``, ``--vtx``) and their translation (:func:`run_options`);
- one PETSc-argument splitter (:func:`split_petsc_args`, :func:`parse_with_petsc`)
  that hands the PETSc options to ``petsc4py.init`` *before* PETSc initialises,
  so that options acting at initialisation or finalisation (``-log_view``,
  ``-log_view_memory``, ``-info``, ``-options_left``) work;
- one error-exit wrapper (:func:`script_main`): user errors (an
  :class:`~femgp.errors.InputError`, a ``ValueError``, a missing file, an
  ``OSError`` such as a full disk) print one line on stderr and exit 2, a
  :class:`~femgp.errors.SolverError` exits 1, Ctrl-C exits 130. Only rank 0 prints.
  Under MPI the ranks then wait for each other (:func:`femgp.exits.settle_ranks`): a rank
  whose error the others did not share prints it and aborts the job, which
  would otherwise hang in the others' next collective call.

This module is pure Python: it imports neither dolfinx, petsc4py nor mpi4py
(the torch demos import it, and torch crashes in a process that loaded PETSc).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import traceback
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

from femgp.errors import InputError
from femgp.exits import STOPPING_ERRORS, exit_status, settle_ranks

__all__ = [
    "DEFAULT_MAX_CELLS",
    "PETSC_INIT_OPTIONS",
    "PETSC_PREFIXES",
    "TORCH_OUTPUTS",
    "ArgumentParser",
    "TorchDemoParser",
    "add_run_options",
    "check_option_prefix",
    "check_output_folder",
    "finite_float",
    "init_petsc",
    "long_options",
    "nonnegative_float",
    "number",
    "parse_with_petsc",
    "positive_float",
    "positive_int",
    "quick_or_given",
    "rank",
    "recorded",
    "run_options",
    "say",
    "script_main",
    "split_petsc_args",
]

#: The default of ``--max-cells``: a generated mesh estimated above it is refused.
#: Kept equal to :data:`femgp.fem.meshes.core.DEFAULT_MAX_CELLS` (this module may not import it).
DEFAULT_MAX_CELLS = 4_000_000

#: PETSc options that act when PETSc initialises or finalises: they must reach
#: ``petsc4py.init`` (see :func:`init_petsc`).
PETSC_INIT_OPTIONS = (
    "-log_view", "-log_view_memory", "-log_view_gpu_time", "-log_all", "-log_trace",
    "-info", "-options_left", "-malloc_debug", "-malloc_dump", "-memory_view",
    "-on_error_abort", "-start_in_debugger", "-history",
)  # fmt: skip


# -- ranks and one-line messages ------------------------------------------------------------


def rank() -> int:
    """This process's MPI rank: from mpi4py where loaded, else from the launcher's environment."""
    if "mpi4py.MPI" in sys.modules:
        return sys.modules["mpi4py.MPI"].COMM_WORLD.rank
    for var in ("OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK", "SLURM_PROCID"):
        value = os.environ.get(var)
        if value is not None and value.isdigit():
            return int(value)
    return 0


def say(message: str) -> None:
    """Print ``message`` as one line on stderr (rank 0 only)."""
    if rank() == 0:
        line = message.strip().splitlines()[0] if message.strip() else "error"
        print(line, file=sys.stderr, flush=True)


class ArgumentParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr (rank 0) and exit code 2."""

    def error(self, message: str) -> NoReturn:
        """Print ``prog: error: message`` as one line and exit with status 2."""
        say(f"{self.prog}: error: {message}")
        sys.exit(2)


# -- the number parser ----------------------------------------------------------------------


def number(kind: type, test: Callable[[Any], bool], what: str) -> Callable[[str], Any]:
    """An argparse type: ``kind(text)`` that passes ``test``, else "expected ``what``, got ..."."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if not test(value):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value

    parse.__name__ = what
    return parse


#: argparse type: a finite float (of either sign).
finite_float = number(float, math.isfinite, "a finite number")
#: argparse type: a finite float > 0.
positive_float = number(float, lambda v: v > 0 and math.isfinite(v), "a finite number > 0")
#: argparse type: a finite float >= 0.
nonnegative_float = number(float, lambda v: v >= 0 and math.isfinite(v), "a finite number >= 0")
#: argparse type: an integer >= 1.
positive_int = number(int, lambda v: v >= 1, "a positive integer")


# -- the common run options -----------------------------------------------------------------


def add_run_options(
    p: argparse.ArgumentParser,
    *,
    default_output: str | None,
    checkpoints: bool = True,
    vtx: bool = True,
    max_cells: bool = True,
) -> argparse.ArgumentParser:
    """Add ``--output --overwrite --quiet`` and, as asked, ``--max-cells``, the checkpoint
    options ``--checkpoint-every N --restart`` (docs/checkpointing.md) and ``--vtx``."""
    where = f" (default: {default_output})" if default_output else ""
    p.add_argument("--output", default=default_output, help=f"results folder{where}")
    p.add_argument("--overwrite", action="store_true", help="replace results in --output")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    if max_cells:
        p.add_argument(
            "--max-cells",
            type=positive_int,
            default=None,
            metavar="N",
            help=f"refuse a generated mesh estimated above N cells (default {DEFAULT_MAX_CELLS})",
        )
    if checkpoints:
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
    if vtx:
        p.add_argument(
            "--vtx", action="store_true", help="also write the fields as ADIOS2 VTX (<name>.bp)"
        )
    return p


def run_options(args: argparse.Namespace) -> dict[str, Any]:
    """``checkpoint_every``, ``restart`` and ``vtx`` for a model's ``run``, from parsed options.

    Raises InputError for ``--restart`` with ``--vtx`` or with ``--overwrite``.
    """
    restart = bool(getattr(args, "restart", False))
    if restart and getattr(args, "vtx", False):
        raise InputError("--vtx cannot continue a restarted run (fields.xdmf does); drop --vtx")
    if restart and getattr(args, "overwrite", False):
        raise InputError("--restart and --overwrite exclude each other")
    out: dict[str, Any] = {"restart": restart}
    if hasattr(args, "checkpoint_every"):
        out["checkpoint_every"] = args.checkpoint_every
    if hasattr(args, "vtx"):
        out["vtx"] = bool(args.vtx)
    return out


def max_cells(args: argparse.Namespace) -> int:
    """The ``--max-cells`` limit (its default when not given)."""
    value = getattr(args, "max_cells", None)
    return DEFAULT_MAX_CELLS if value is None else int(value)


# -- PETSc options --------------------------------------------------------------------------


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def petsc_option_pairs(extra: Sequence[str]) -> list[tuple[str, str | None]]:
    """The leftover arguments as PETSc options: ``(name, value)``, ``value`` None for a flag.

    A PETSc option has one leading dash and at most one value (a negative number
    is a value); an unknown ``--option`` or a stray word is an :class:`InputError`.
    Names are given without their dash.
    """
    pairs: list[tuple[str, str | None]] = []
    previous_is_name = False
    for arg in extra:
        if arg.startswith("--"):
            raise InputError(
                f"unrecognized arguments: {arg} (see --help); {arg!r} is no PETSc option "
                "either, which takes one dash (-name value)"
            )
        if arg.startswith("-") and len(arg) > 1 and not _is_number(arg):
            pairs.append((arg[1:], None))
            previous_is_name = True
            continue
        if not previous_is_name:
            raise InputError(
                f"unexpected argument {arg!r}; extra arguments must be PETSc options (-name value)"
            )
        pairs[-1] = (pairs[-1][0], arg)
        previous_is_name = False
    return pairs


#: The PETSc options prefix of each model's solvers (the default ``prefix`` of
#: its ``run``); every femgp option of a case (``femgp_...``) lies under it.
PETSC_PREFIXES: dict[str, str] = {
    "cahn_hilliard": "femgp_ch_",
    "fracture": "femgp_fracture_",
    "twinning": "femgp_twinning_",
}


def check_option_prefix(where: str, name: str, model: str, *, dash: str = "") -> None:
    """Refuse a femgp PETSc option (``femgp_...``) that is not under ``model``'s prefix.

    No solver of the run would read it: a typo in the prefix, or another
    model's option, would otherwise be ignored without a word. ``dash`` is
    put before the name in the message (``"-"`` for the command line).
    """
    prefix = PETSC_PREFIXES[model]
    if name.startswith("femgp_") and not name.startswith(prefix):
        raise InputError(
            f"{where} PETSc option {dash}{name} is not under the {model} solvers' prefix "
            f"{dash}{prefix}: no solver of this run would read it"
        )


def long_options(parser: argparse.ArgumentParser) -> tuple[str, ...]:
    """The ``--options`` of ``parser`` (for :func:`split_petsc_args`' ``known``)."""
    return tuple(
        name for action in parser._actions for name in action.option_strings if name[:2] == "--"
    )


def split_petsc_args(
    extra: Sequence[str], *, known: Sequence[str] = (), model: str | None = None
) -> list[str]:
    """Check that leftover arguments are PETSc options (``-name [value]``) and return them.

    The rules are :func:`petsc_option_pairs`'. ``known`` are the script's own
    ``--options``: a PETSc option spelled as one of them with one dash
    (``-ell 0.05`` for ``--ell``, ``-checkpoint_every`` for
    ``--checkpoint-every``) is refused, since no solver would read it and the
    script would run with the option's default. With ``model`` (a key of
    :data:`PETSC_PREFIXES`) a femgp option outside that model's prefix is
    refused too (:func:`check_option_prefix`).
    """
    extra = list(extra)
    own = set(known)
    for name, _ in petsc_option_pairs(extra):
        if model is not None:
            check_option_prefix("command line:", name, model, dash="-")
        for spelled in (f"--{name}", f"--{name.replace('_', '-')}"):
            if spelled in own:
                raise InputError(
                    f"-{name} is taken for a PETSc option; did you mean {spelled}? This "
                    "script's own options take two dashes, PETSc options one"
                )
    return extra


def init_petsc(options: Sequence[str]) -> None:
    """Give the command line's PETSc options to PETSc, before it initialises where possible.

    Before ``petsc4py.PETSc`` is imported, the options go to ``petsc4py.init``
    (after ``dolfinx_solver`` where that wheel is installed), so that PETSc
    starts with them: ``-log_view`` prints its summary at exit and ``-info``
    logs from the start. If PETSc already runs, they are inserted into the
    options database, where the options read at initialisation have no effect
    (then a line on stderr says so).
    """
    options = list(options)
    if not options:
        return
    if "petsc4py.PETSc" not in sys.modules:
        import importlib.util

        if importlib.util.find_spec("dolfinx_solver") is not None:
            import dolfinx_solver  # noqa: F401  (orders MPI ahead of the compiled bindings)
        import petsc4py

        petsc4py.init([sys.argv[0] if sys.argv and sys.argv[0] else "femgp", *options])
        return
    from petsc4py import PETSc

    late = [o for o in options if o.split(":")[0] in PETSC_INIT_OPTIONS]
    if late:
        say(f"warning: PETSc was already initialised; {' '.join(late)} may have no effect")
    PETSc.Options().insertString(" ".join(options))


def parse_with_petsc(
    p: argparse.ArgumentParser, argv: Sequence[str] | None = None, *, model: str | None = None
) -> argparse.Namespace:
    """Parse ``argv``; the leftover arguments must be PETSc options and go to :func:`init_petsc`.

    ``model``: see :func:`split_petsc_args`. Call it before anything imports
    dolfinx or petsc4py.
    """
    args, extra = p.parse_known_args(argv)
    init_petsc(split_petsc_args(extra, known=long_options(p), model=model))
    return args


# -- the torch demos ------------------------------------------------------------------------


#: What the torch demos write into their ``--output`` (glob patterns): ``--overwrite``
#: removes them first, so that no file of an earlier run stays beside the new
#: ``summary.json``. Other files are left alone.
TORCH_OUTPUTS = (
    "summary.json",
    "results.txt",
    "samples.png",
    "samples_*.png",
    "critic_*.png",
    "decay.png",
    "gaps.png",
)

#: The largest ``--seed`` (torch and numpy take seeds below 2**63).
MAX_SEED = 2**63 - 1


def check_output_folder(output: str | os.PathLike, option: str = "--output") -> None:
    """Refuse an ``--output`` (or the given ``option``) that cannot become a folder,
    before any work is done (a benchmark found it out after hours of work).

    It must be a folder if it exists, and otherwise have a folder as its
    nearest existing parent (the missing ones are created at the end of the
    run). Whether that folder takes new entries is tried with an empty folder
    made and removed at once (permissions alone do not tell, for ``root`` or
    on a read-only file system).
    """
    if not os.fspath(output):
        raise InputError(f"{option} must name a folder, got ''")
    output = Path(output)
    if output.exists() and not output.is_dir():
        raise InputError(f"{option} {str(output)!r} is a file, not a folder")
    if output.is_symlink() and not output.exists():
        raise InputError(f"{option} {str(output)!r} is a link to nothing ({os.readlink(output)})")
    parent = output.absolute()
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise InputError(f"{option} {str(output)!r} cannot be created: {str(parent)!r} is a file")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".femgp-probe-", dir=parent))
    except OSError as exc:
        raise InputError(
            f"{option} {str(output)!r} cannot be created: {str(parent)!r} takes no new "
            f"entries ({exc.strerror or exc})"
        ) from None


def quick_or_given(args: Any, quick: Mapping[str, Any], full: Mapping[str, Any]) -> None:
    """Fill the sizes left at ``None`` in ``args``: ``quick``'s under ``--quick``, else
    ``full``'s. A size given with ``--quick`` is refused (``--quick`` set it over the
    user's value without a word)."""
    given = [f"--{k.replace('_', '-')}" for k in quick if getattr(args, k) is not None]
    if args.quick and given:
        names = " ".join(f"--{k.replace('_', '-')}" for k in quick)
        raise InputError(f"--quick sets {names} itself; give --quick or {' '.join(given)}")
    for name, value in (quick if args.quick else full).items():
        if getattr(args, name) is None:
            setattr(args, name, value)


class TorchDemoParser(ArgumentParser):
    """The parser of the torch demos: ``--dry-run --output --overwrite --quiet --seed --threads``.

    ``--overwrite`` is needed to write into an output folder that already holds
    files; ``--quiet`` silences standard output (errors still reach stderr).
    """

    def __init__(self, *, description: str, default_output: str) -> None:
        super().__init__(description=description)
        self.add_argument("--dry-run", action="store_true", help="a run of a few seconds")
        add_run_options(
            self, default_output=default_output, checkpoints=False, vtx=False, max_cells=False
        )
        self.add_argument(
            "--seed",
            type=number(int, lambda v: 0 <= v <= MAX_SEED, "an integer in [0, 2**63 - 1]"),
            default=0,
            help="random seed (default: 0)",
        )
        threads = "torch CPU threads (default: torch's choice; 1 with --dry-run)"
        self.add_argument("--threads", type=int, default=0, help=threads)
        self.add_argument("--check-args", action="store_true", help=argparse.SUPPRESS)

    def parse_args(self, args: Any = None, namespace: Any = None) -> Any:  # type: ignore[override]
        """Parse; with ``--check-args`` stop (exit 0) once the arguments are known good."""
        ns = super().parse_args(args, namespace)
        if ns.threads < 0:
            self.error(f"argument --threads: must be >= 0, got {ns.threads}")
        if ns.check_args:
            sys.exit(0)
        check_output_folder(ns.output)  # an empty one too (Path would make it ".")
        ns.output = Path(ns.output)
        if ns.output.is_dir() and any(ns.output.iterdir()):
            if not ns.overwrite:
                raise InputError(
                    f"output folder {str(ns.output)!r} already holds results; pass --overwrite "
                    "or choose another --output"
                )
            for pattern in TORCH_OUTPUTS:  # no file of the run before stays beside the new
                for old in ns.output.glob(pattern):
                    if old.is_file():
                        old.unlink()
        if ns.quiet:
            sys.stdout = open(os.devnull, "w")  # open as long as the process lives
        threads = ns.threads or (1 if ns.dry_run else 0)
        if threads:
            import torch

            torch.set_num_threads(threads)
            ns.threads = threads  # as used: the summary recorded 0 under --dry-run
        return ns


def recorded(args: argparse.Namespace) -> dict[str, Any]:
    """The parsed options as JSON-ready values (paths as strings), for a run's summary."""
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}


# -- the error-exit wrapper -----------------------------------------------------------------


def script_main(
    main: Callable[[Sequence[str] | None], int | None],
    argv: Sequence[str] | None = None,
    *,
    serial: bool = False,
) -> int:
    """Run ``main(argv)``; return the exit code, turning errors into one line on stderr.

    User errors exit 2, a :class:`SolverError` 1, Ctrl-C 130; ``--help`` and
    argparse errors keep their codes. A reader that closed standard output
    early ends the script quietly with :data:`BROKEN_PIPE_STATUS`. With
    ``serial`` (the torch demos) a process started by ``mpirun -n N`` other
    than rank 0 only checks the arguments (``--check-args``) and writes
    nothing. Any other exception is a defect: its traceback and status 1.
    Under MPI the ranks then wait for each other, and a rank left alone with
    its error aborts the job (:func:`femgp.exits.settle_ranks`).
    """
    if serial and rank() != 0:
        argv = [*(sys.argv[1:] if argv is None else argv), "--check-args"]
    code, message = _run_main(main, argv)
    return settle_ranks(code, message)


#: The exit status of a script whose standard output was closed by its reader:
#: the shell's status of a process ended by ``SIGPIPE`` (128 + 13), as ``cat`` ends.
BROKEN_PIPE_STATUS = 141


def _discard_stdout() -> None:
    """Point standard output at the null device, so that Python's last flush cannot fail again."""
    try:
        target = sys.stdout.fileno()
    except (OSError, ValueError):  # not a file (captured): nothing to flush to a pipe
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, target)
    finally:
        os.close(devnull)


def _no_unused_option_report() -> None:
    """After a user error: no "options you set that were not used" from PETSc at exit.

    The run stopped before its solvers read their options, so PETSc's report
    would call every option given a spelling mistake. An ``-options_left`` the
    user gave is kept.
    """
    if "petsc4py.PETSc" not in sys.modules:
        return
    from petsc4py import PETSc

    opts = PETSc.Options()
    if not opts.hasName("options_left"):
        opts["options_left"] = "false"


def _run_main(
    main: Callable[[Sequence[str] | None], int | None], argv: Sequence[str] | None
) -> tuple[int, str]:
    """``main(argv)``'s exit code and, for an error, its one-line message (printed on rank 0)."""
    try:
        return int(main(argv) or 0), ""
    except SystemExit as exc:  # argparse has printed its line; or a run's own status
        code, message = exit_status(exc)
        if exc.code is not None and not isinstance(exc.code, int):
            say(message)  # SystemExit("message"): as Python does, the message and status 1
        return code, message
    except BrokenPipeError:  # the reader of stdout left (``femgp info | head -1``)
        _discard_stdout()
        return BROKEN_PIPE_STATUS, ""
    except STOPPING_ERRORS as exc:
        code, message = exit_status(exc)
        say(message)
        if code == 2:
            _no_unused_option_report()
        return code, message
    except Exception as exc:  # a defect: the traceback, as Python prints it, on every rank
        traceback.print_exc()
        return exit_status(exc)
