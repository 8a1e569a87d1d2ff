"""The ``femgp`` command line.

- ``femgp info`` prints the versions of femgp and its stack (DOLFINx, PETSc and
  petsc4py, mpi4py and its MPI library, torch when present) and PETSc's
  external packages.
- ``femgp run <model> --config case.toml [--output DIR] [--overwrite] [--set
  table.key=value ...] [--max-cells N] [PETSc options]`` runs a case file (see
  :mod:`femgp.cli.config` and ``configs/``), also under ``mpirun -n N``; the
  case is built from the registry :mod:`femgp.cli.cases`.
- ``femgp plot <results folder>`` draws the history and the last fields
  (:mod:`femgp.cli.plot`).
- ``femgp mesh`` (:mod:`femgp.cli.mesh`).

User errors exit with code 2 and one line on stderr (rank 0). PETSc options on
the command line reach PETSc before it initialises (``-log_view`` works).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.metadata
import inspect
import platform
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from femgp.cli.args import (
    PETSC_INIT_OPTIONS,
    ArgumentParser,
    add_run_options,
    init_petsc,
    long_options,
    petsc_option_pairs,
    rank,
    script_main,
    split_petsc_args,
)
from femgp.errors import InputError, SolverError

__all__ = ["build_parser", "info", "main", "run_config"]

PETSC_PACKAGES = (
    "mumps", "superlu_dist", "hypre", "ptscotch", "parmetis", "metis", "hdf5", "scalapack",
    "slepc", "suitesparse", "strumpack", "cuda", "kokkos",
)  # fmt: skip


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def info() -> dict[str, str]:
    """Versions of femgp and its stack, and PETSc's external packages."""
    import femgp

    out: dict[str, str] = {"femgp": femgp.__version__, "python": platform.python_version()}
    try:
        import femgp.fem._backend

        import dolfinx
        import petsc4py
        from petsc4py import PETSc

        out["dolfinx"] = dolfinx.__version__
        out["dolfinx wheel"] = _version("dolfinx-solver-real") or "no (external DOLFINx)"
        out["petsc"] = ".".join(map(str, PETSc.Sys.getVersion()))
        out["petsc4py"] = petsc4py.__version__
        out["petsc scalar"] = PETSc.ScalarType.__name__
        have = [p for p in PETSC_PACKAGES if PETSc.Sys.hasExternalPackage(p)]
        missing = [p for p in PETSC_PACKAGES if p not in have]
        out["petsc external packages"] = ", ".join(have) or "none"
        out["petsc without"] = ", ".join(missing) or "none"
    except ImportError as exc:
        out["dolfinx"] = f"not available ({str(exc).splitlines()[0][:80]}...)"
    try:
        import mpi4py
        from mpi4py import MPI

        out["mpi4py"] = mpi4py.__version__
        out["mpi library"] = MPI.Get_library_version().splitlines()[0].strip()
    except ImportError:
        out["mpi4py"] = "not installed"
    torch_version = _version("torch")
    if torch_version:
        import torch

        cuda = torch.cuda.is_available()
        out["torch"] = f"{torch.__version__} (CUDA {'available' if cuda else 'not available'})"
    else:
        out["torch"] = "not installed (pip install 'femgp[ml]')"
    return out


def _cmd_info(args: object) -> int:
    rows = info()
    if rank() != 0:  # under mpirun: one report, from rank 0
        return 0
    width = max(map(len, rows))
    for key, value in rows.items():
        print(f"{key:<{width}}  {value}")
    return 0


# -- femgp run ------------------------------------------------------------------------------


def _say(comm: Any, text: str) -> None:
    if comm.rank == 0:
        print(text, flush=True)


def _mesh_file(cfg: Any) -> Path:
    """The ``[mesh] file`` of a case, relative to the case file."""
    path = Path(cfg["mesh"]["file"])
    return path if path.is_absolute() else cfg.path.parent / path


def _read_mesh(cfg: Any, comm: Any, *, gdim: int | None) -> Any:
    """The mesh of ``[mesh] file`` (relative to the case file)."""
    from femgp.cli.cases import read_user_mesh

    try:
        return read_user_mesh(_mesh_file(cfg), comm, gdim=gdim)
    except InputError as exc:
        raise InputError(f"{cfg.where('mesh')} {exc}") from None


def _max_cells(cfg: Any, args: argparse.Namespace) -> int | None:
    """``--max-cells``, else ``[mesh] max_cells``, else None (the default limit)."""
    return args.max_cells or cfg["mesh"].get("max_cells")


def _model_kwargs(run: Callable[..., Any], cfg: Any, args: argparse.Namespace) -> dict[str, Any]:
    """``checkpoint_every``, ``restart`` and ``vtx`` for a run function that takes them."""
    out_t = cfg["output"]
    every = args.checkpoint_every or out_t.get("checkpoint_every")
    restart = bool(args.restart or out_t.get("restart", False))
    vtx = bool(args.vtx or out_t.get("vtx", False))
    if restart and vtx:
        raise InputError("vtx output cannot continue a restarted run (fields.xdmf does)")
    accepted = inspect.signature(run).parameters
    kw: dict[str, Any] = {}
    for name, value, given in (
        ("checkpoint_every", every, every is not None),
        ("restart", restart, restart),
        ("vtx", vtx, vtx),
    ):
        if name in accepted:
            kw[name] = value
        elif given:
            raise InputError(
                f"{name.replace('_', '-')} is not supported by this version of the "
                f"{cfg.model} model"
            )
    return kw


def _refinement_table(cfg: Any) -> tuple[dict[str, Any], Any]:
    """The ``[refinement]`` table, checked before anything is built, and its ``Refinement``.

    A key other than ``adapt`` without ``adapt = true`` is refused, as the demos
    refuse ``--h-min`` without ``--adapt``; the values are then validated
    (:class:`~femgp.fem.adapt.Refinement`, one line naming the key), so that no
    value of the table is ever ignored.
    """
    from femgp.fem.adapt import Refinement

    ref_t = dict(cfg.tables.get("refinement") or {})
    given = [k for k in ref_t if k != "adapt"]
    if given and not ref_t.get("adapt", False):
        raise InputError(
            f"{cfg.where('refinement')} {', '.join(given)} need(s) adapt = true (adaptive "
            "refinement is off); set adapt = true or leave them out"
        )
    return ref_t, cfg.build("refinement", Refinement, **ref_t)


def _refinement_target(case: str, ell: float | None, checked: Any) -> float:
    """The cell size the refinement of fracture ``case`` reaches (``h_min``, else ``ell / 4``).

    An adaptive SENT, SENS or SENT3D plate gets a V-notch ``2 h_target`` wide,
    as the demos' ``--adapt`` (docs/adaptivity.md): the coarse mesh's own
    ``2 h_band`` would model a wider notch than the plate it refines to.
    ``checked``: the table's ``Refinement`` (:func:`_refinement_table`).
    """
    from femgp.cli.cases import FRACTURE_SETUPS

    if ell is None:
        ell = inspect.signature(FRACTURE_SETUPS[case]).parameters["ell"].default
    return float(checked.target(ell))


def _fracture(cfg: Any, args: argparse.Namespace, comm: Any, out: Path | None) -> Any:
    from femgp.cli.cases import fracture_setup, refinement_reach
    from femgp.cli.fracture import headline, summary
    from femgp.models.fracture import run
    from femgp.models.fracture import setups as fs

    params = dict(cfg["params"])
    mesh_t = {k: v for k, v in cfg["mesh"].items() if k != "max_cells"}
    load_t = cfg["loading"]
    case = cfg.case
    ref_t, checked = _refinement_table(cfg)
    adapt = bool(ref_t.get("adapt", False))
    if adapt and case == "surfing":  # as the demo refuses --adapt
        raise InputError(
            f"{cfg.where('refinement')} adapt = true is not available for the surfing case "
            "(its loading is scaled by Gc_eff of the pre-refined band); leave it out"
        )
    kw: dict[str, Any] = {"max_cells": _max_cells(cfg, args)}
    if case != "bar" and "ell" in params:
        kw["ell"] = params.pop("ell")
    if case in ("sent", "sens", "sent3d"):
        kw.update({k: mesh_t[k] for k in ("h_band", "h_far", "thickness") if k in mesh_t})
        if "file" in mesh_t:
            kw["mesh"] = _read_mesh(cfg, comm, gdim=mesh_t.get("gdim"))
        if "loads" in load_t:
            kw["loads"] = tuple(load_t["loads"])
        elif case in ("sent", "sent3d"):
            names = ("u_max", "du", "u_fine", "du_fine")
            path = {k: load_t[k] for k in names if k in load_t}
            kw["loads"] = cfg.build("loading", fs.sent_loads, **path)
        elif "ranges" in load_t:
            kw["loads"] = cfg.build("loading", fs.ranges_loads, load_t["ranges"])
        if adapt and "mesh" not in kw:  # the V-notch of the refined plate, as the demos'
            kw["notch_width"] = 2 * _refinement_target(case, kw.get("ell"), checked)
    elif case == "lpanel":
        kw.update({k: mesh_t[k] for k in ("h", "h_far") if k in mesh_t})
        if "file" in mesh_t:
            kw["mesh"] = _read_mesh(cfg, comm, gdim=mesh_t.get("gdim"))
        if "loads" in load_t:
            kw["loads"] = tuple(load_t["loads"])
        else:
            names = ("u_max", "du")
            path = {k: load_t[k] for k in names if k in load_t}
            kw["loads"] = cfg.build("loading", fs.lpanel_loads, **path)
    else:
        kw.update(mesh_t)
        kw.update(load_t)
    if case == "surfing":
        analysis = cfg["analysis"]
        kw["g_theta"] = (analysis["r1"], analysis["r2"]) if analysis["g_theta"] else None
    if adapt and case == "bar":
        kw["quadrilateral"] = False  # refinement needs triangles
    try:
        setup = fracture_setup(case, comm, **kw, **params)
    except InputError as exc:  # named by the table of its value: [mesh], [loading], [params]
        raise InputError(f"{cfg.where(fs.error_table(exc))} {exc}") from None
    refinement = None
    if adapt:
        from femgp.fem.adapt import Refinement

        ref_t = {**refinement_reach(setup.params.ell), **ref_t}
        refinement = cfg.build("refinement", Refinement, **ref_t)
        cfg.build("refinement", refinement.check_mesh, setup.mesh.mesh, setup.params.ell)
    title = cfg[""].get("title") or setup.title
    _say(comm, headline(setup, comm.size, title=title))
    result = run(
        setup.mesh,
        setup.params,
        setup.loading,
        output=out,
        overwrite=args.overwrite or cfg["output"]["overwrite"],
        show_progress=not (args.quiet or cfg["output"]["quiet"]),
        plots=cfg["output"]["plots"],
        **{**setup.run_options, "title": title},
        **_model_kwargs(run, cfg, args),
        refinement=refinement,
    )
    units = {"sent": "kN", "sens": "kN", "sent3d": "kN", "lpanel": "kN/mm"}
    _say(comm, summary(result, unit=units.get(case, "")))
    return result


def _cahn_hilliard(cfg: Any, args: argparse.Namespace, comm: Any, out: Path | None) -> Any:
    from femgp.cli.cases import cahn_hilliard_mesh
    from femgp.cli.plot import cahn_hilliard_plots
    from femgp.models import cahn_hilliard as ch

    mesh_t, time_t, init_t = cfg["mesh"], _time_table(cfg), cfg["initial"]
    params = cfg.build("params", ch.Params, **cfg["params"])
    tm = cfg.build(
        "mesh",
        cahn_hilliard_mesh,
        comm,
        mesh=_read_mesh(cfg, comm, gdim=2) if "file" in mesh_t else None,
        source=f"mesh file {mesh_t.get('file')!r}",
        domain=mesh_t["domain"],
        **{k: mesh_t[k] for k in ("n", "size", "h", "cell") if k in mesh_t},
        max_cells=_max_cells(cfg, args),
    )
    pfhub = ch.pfhub_initial_3d if tm.mesh.topology.dim == 3 else ch.pfhub_initial
    initial = pfhub(c0=init_t["c0"], epsilon=init_t["epsilon"])
    extra = {"max_steps": time_t["max_steps"]} if "max_steps" in time_t else {}
    t_end = time_t["t_end"]
    result = ch.run(
        tm.mesh,
        params,
        t_end=t_end,
        initial=initial,
        output=out,
        field_times=time_t["field_times"],
        overwrite=args.overwrite or cfg["output"]["overwrite"],
        show_progress=not (args.quiet or cfg["output"]["quiet"]),
        **extra,
        **_model_kwargs(ch.run, cfg, args),
    )
    if out is not None and cfg["output"]["plots"]:
        title = cfg[""].get("title") or "Cahn-Hilliard"
        cahn_hilliard_plots(result, out, comm=comm, title=title)
    last = result.history[-1]
    status = _run_status(out, last["time"], t_end)
    why = ""
    if status == "stopped" and "max_steps" in time_t:
        why = f" by max_steps = {time_t['max_steps']} before t_end = {t_end:g}"
    _say(
        comm,
        f"t = {last['time']:g} ({status}{why}): F = {last['free_energy']:.6g} after "
        f"{result.steps} steps ({result.newton} Newton iterations, {result.wall_time:.1f} s)",
    )
    return result


def _time_table(cfg: Any) -> Mapping[str, Any]:
    """The ``[time]`` table, its ``t_end``, ``steady_rate`` and ``max_steps`` checked
    first, so that a bad one is told with the case file and the table."""
    from femgp.validation import check_int, check_positive

    table = cfg["time"]

    def check() -> None:
        check_positive("t_end", table["t_end"])
        if "steady_rate" in table:
            check_positive("steady_rate", table["steady_rate"])
        if "max_steps" in table:
            check_int("max_steps", table["max_steps"], minimum=1)

    cfg.build("time", check)
    return table


def _run_status(folder: Path | None, t: float, t_end: float) -> str:
    """The status of a time-stepping run (``run.json``'s, else from the time reached)."""
    import json

    if folder is not None:
        try:
            status = json.loads((folder / "run.json").read_text()).get("status")
        except (OSError, ValueError, AttributeError):
            status = None
        if isinstance(status, str) and status:
            return status
    return "finished" if t >= t_end * (1 - 1e-12) else "stopped"


def _twinning(cfg: Any, args: argparse.Namespace, comm: Any, out: Path | None) -> Any:
    from femgp.cli.cases import TWINNING_SETUPS, twinning_initial, twinning_mesh, wall_width
    from femgp.models.twinning import Params, run

    case = cfg.case
    mesh_t, time_t, init_t = cfg["mesh"], _time_table(cfg), cfg["initial"]
    setup = getattr(Params, TWINNING_SETUPS[case])
    material = dict(cfg["material"])
    if case == "domain_wall" and material.get("e") == 0.0:
        material["e"] = None  # no elasticity, as the demo's --strain 0
    params_t = dict(cfg["params"])
    if case == "periodic":
        m = cfg["cell"]["mean_strain"]
        if len(m) != 4:
            raise InputError(
                f"{cfg.where('cell')} mean_strain must have 4 values (xx, xy, yx, yy), got {m!r}"
            )
        boundary = params_t.pop("boundary", "periodic")
        if boundary != "periodic":
            raise InputError(
                f"{cfg.where('params')} boundary must be 'periodic' in the periodic case "
                f"(or left out), got {boundary!r}"
            )
        material["boundary"] = "periodic"
        material["mean_strain"] = ((m[0], m[1]), (m[2], m[3]))
    params = cfg.build("params", setup, **material, **params_t)
    mesh = _read_mesh(cfg, comm, gdim=mesh_t.get("gdim")).mesh if "file" in mesh_t else None
    delta = None
    if case == "domain_wall":
        defaults = inspect.signature(setup).parameters
        a = material.get("a", defaults["a"].default)
        kappa = cfg["params"].get("kappa", defaults["kappa"].default)
        delta = cfg.build("material", wall_width, a, kappa)
    if mesh is None:
        names = ("cells", "length", "cells_per_delta", "half_length", "height")
        sizes = {k: mesh_t[k] for k in names if k in mesh_t}
        limit = _max_cells(cfg, args)
        mesh = cfg.build("mesh", twinning_mesh, case, comm, delta=delta, max_cells=limit, **sizes)
    names = ("seed", "amplitude", "wavelength", "modes", "width")
    noise = {k: init_t[k] for k in names if k in init_t}
    variants = len(params.variants)
    initial = cfg.build("initial", twinning_initial, case, variants, delta=delta, **noise)
    extra = {k: time_t[k] for k in ("steady_rate", "max_steps") if k in time_t}
    result = run(
        mesh,
        params,
        t_end=time_t["t_end"],
        initial=initial,
        output=out,
        overwrite=args.overwrite or cfg["output"]["overwrite"],
        field_times=time_t["field_times"],
        plots=cfg["output"]["plots"],
        show_progress=not (args.quiet or cfg["output"]["quiet"]),
        **extra,
        **_model_kwargs(run, cfg, args),
    )
    last = result.history[-1]
    fractions = ", ".join(f"{last[f'vf_{n}']:.3f}" for n in params.variants)
    t_end = time_t["t_end"]
    max_steps = extra.get("max_steps", inspect.signature(run).parameters["max_steps"].default)
    why = {
        "stopped": f" by max_steps = {max_steps} before t_end = {t_end:g}",
        "steady": f": max |d eta/dt| < steady_rate = {extra.get('steady_rate')}",
    }.get(result.status, "")
    _say(
        comm,
        f"{case}: t = {last['time']:g} ({result.status}{why}), "
        f"{result.steps} steps, {result.newton} Newton iterations, "
        f"{result.wall_time:.1f} s on {comm.size} rank(s); energy {last['total']:.4f}, "
        f"volume fractions {fractions}",
    )
    return result


_RUNNERS: dict[str, Callable[[Any, argparse.Namespace, Any, Path | None], Any]] = {
    "cahn_hilliard": _cahn_hilliard,
    "fracture": _fracture,
    "twinning": _twinning,
}


#: PETSc options that take a viewer (``-ksp_monitor``, ``-snes_view``, ...): ``false``
#: is no value for them, and off is their default.
_VIEWER_OPTION = re.compile(r"(^|_)(monitor|view|converged_reason|converged_rate)(_|$)")


def _solver_options(cfg: Any) -> None:
    """The ``[solver]`` table's PETSc options, where the command line did not set them.

    ``true`` is the valueless flag ``-name`` (on for a boolean option, the
    default viewer for a monitor); ``false`` is ``-name false``, or nothing for
    a monitor or viewer (off is their default). The options PETSc reads only
    when it starts (``log_view``, ``info``, ... :data:`PETSC_INIT_OPTIONS`) are
    refused: PETSc runs before the case file is read, so they belong on the
    command line.
    """
    table = cfg["solver"]
    if not table:
        return
    late = [name for name in table if f"-{name}" in PETSC_INIT_OPTIONS]
    if late:
        flags = []
        for name in late:
            value = table[name]
            text = "" if isinstance(value, bool) or value == "" else f" {value}"
            flags.append(f"-{name}{text}")
        what, it = ("this option", "it") if len(late) == 1 else ("these options", "them")
        raise InputError(
            f"{cfg.where('solver')} {', '.join(late)}: PETSc reads {what} only when it starts, "
            f"before the case file is read; give {it} on the command line instead: "
            f"femgp run {cfg.model} --config {cfg.path} {' '.join(flags)}"
        )
    import femgp.fem._backend  # noqa: F401  (dolfinx_solver before petsc4py)

    from petsc4py import PETSc

    opts = PETSc.Options()
    for name, value in table.items():
        if opts.hasName(name):  # the command line wins
            continue
        if value is True:
            opts[name] = None  # the valueless flag -name
        elif value is False:
            if not _VIEWER_OPTION.search(name):
                opts[name] = "false"
        else:
            opts[name] = value


def _command_line_options(extra: Sequence[str]) -> dict[str, Any]:
    """The command line's PETSc options as a ``[solver]`` table (a lone ``-name``: true).

    The options PETSc reads only when it starts (:data:`PETSC_INIT_OPTIONS`,
    ``-log_view``, ...) are left out: a ``[solver]`` table may not hold them,
    and they do not change the solution.
    """
    return {
        name: True if value is None else value
        for name, value in petsc_option_pairs(extra)
        if f"-{name}" not in PETSC_INIT_OPTIONS
    }


def run_config(args: argparse.Namespace, extra: Sequence[str] = ()) -> Any:
    """Run the case file ``args.config`` of model ``args.model``; return the model's result.

    ``extra`` are PETSc options: they go to PETSc before it initialises (so
    that ``-log_view`` works) and win over the case's ``[solver]`` table.
    """
    from femgp.cli.config import _check_model, load_config

    _check_model(args.model)
    known = getattr(args, "own_options", ())
    init_petsc(split_petsc_args(extra, known=known, model=args.model))
    cfg = load_config(args.config, args.model, overrides=args.set or ())
    _solver_options(cfg)

    import femgp.fem._backend  # noqa: F401

    from mpi4py import MPI

    from femgp.fem.io import refuse_existing_results

    comm = MPI.COMM_WORLD
    folder = args.output or cfg["output"].get("folder") or f"results/{cfg.path.stem}"
    out = Path(folder)
    overwrite = args.overwrite or cfg["output"]["overwrite"]
    restart = args.restart or cfg["output"]["restart"]
    if restart and overwrite:
        raise InputError("--restart and --overwrite exclude each other")
    if not (overwrite or restart):
        refuse_existing_results(out, comm)
    from femgp.fem.checkpoint import RunInterrupted

    before = _stamp(out / "run.json")
    try:
        result = _RUNNERS[cfg.model](cfg, args, comm, out)
    except (RunInterrupted, SolverError):
        # A run that began writing (its run.json is new): its restart needs the case.
        # One that failed before (in its initial equilibrium) left the folder alone.
        if comm.rank == 0 and _stamp(out / "run.json") not in (before, None):
            _save_case(cfg, args, extra, out)
        raise
    if comm.rank == 0 and out.is_dir():
        _save_case(cfg, args, extra, out)
    _say(comm, f"results in {out}/ (fields.xdmf for ParaView, history.csv, *.png)")
    return result


def _stamp(path: Path) -> tuple[int, int] | None:
    """``path``'s inode and modification time (``None`` if missing): a rewrite changes it."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns


def _save_case(cfg: Any, args: argparse.Namespace, extra: Sequence[str], out: Path) -> None:
    """Write ``out/config.toml``: the case as run, for ``femgp run --config`` to run it again.

    Overrides applied, defaults filled, the mesh file's absolute path, and the
    command line's ``--max-cells``, ``--checkpoint-every``, ``--vtx``,
    ``--quiet`` and PETSc options kept. ``restart`` is left false: the file
    describes the case, and a restart of it is asked for on the command line.
    """
    from femgp.fem.io import atomic_write_text

    out_t = cfg["output"]
    output = {**out_t, "folder": str(out), "restart": False}
    output["vtx"] = bool(args.vtx or out_t.get("vtx", False))
    output["quiet"] = bool(args.quiet or out_t.get("quiet", False))
    every = args.checkpoint_every or out_t.get("checkpoint_every")
    if every is None and (args.restart or out_t.get("restart")):
        from femgp.fem.checkpoint import stored_interval

        every = stored_interval(out)  # the restart went on at the checkpoint's interval
    if every is not None:
        output["checkpoint_every"] = every
    tables = {**cfg.tables, "output": output}
    tables["solver"] = {**cfg["solver"], **_command_line_options(extra)}
    tables["mesh"] = dict(cfg["mesh"])
    if args.max_cells:
        tables["mesh"]["max_cells"] = args.max_cells
    if "file" in tables["mesh"]:  # relative to the case file: made absolute
        tables["mesh"]["file"] = str(_mesh_file(cfg).resolve())
    ran = dataclasses.replace(cfg, tables=tables)
    atomic_write_text(out / "config.toml", f"# femgp run {cfg.model}\n{ran.to_toml()}")


def _cmd_run(args: argparse.Namespace, extra: Sequence[str] = ()) -> int:
    run_config(args, extra)
    return 0


def _cmd_plot(args: argparse.Namespace) -> int:
    # A serial command; under mpirun rank 0 does the work. Every rank starts MPI
    # and PETSc (the reader's HDF5 viewer) first: both start collectively, and
    # MPICH's start-up on rank 0 would wait forever for a rank that left before.
    # The other ranks then wait for rank 0 in script_main (settle_ranks).
    import femgp.fem._backend  # noqa: F401  (dolfinx_solver, mpi4py and petsc4py)

    from mpi4py import MPI
    from petsc4py import PETSc  # noqa: F401

    from femgp.cli.plot import plot_results

    if MPI.COMM_WORLD.rank != 0:
        return 0
    written = plot_results(args.folder, output_dir=args.output_dir, overwrite=args.overwrite)
    for path in written:
        print(path)
    return 0


def build_parser() -> ArgumentParser:
    """The ``femgp`` parser with its subcommands."""
    p = ArgumentParser(prog="femgp", description="femgp: gradient-penalty energies, FEM and ML")
    sub = p.add_subparsers(dest="command", required=True, parser_class=ArgumentParser)
    s = sub.add_parser("info", help="versions of femgp and its stack")
    s.set_defaults(func=_cmd_info)

    r = sub.add_parser(
        "run",
        help="run a model from a TOML case file (PETSc options may follow)",
        description="Run a model from a TOML case file (see configs/). Arguments after "
        "the known options are PETSc options, e.g. -femgp_ch_snes_monitor.",
    )
    r.add_argument("model", help="cahn_hilliard, fracture or twinning")
    r.add_argument("--config", required=True, help="the TOML case file")
    add_run_options(r, default_output=None)
    r.add_argument(
        "--set",
        action="append",
        metavar="TABLE.KEY=VALUE",
        help="override a value of the case file (TOML syntax), e.g. --set time.t_end=10",
    )
    r.set_defaults(func=_cmd_run, takes_extra=True, own_options=long_options(r))

    q = sub.add_parser("plot", help="history plots and a picture of the last fields")
    q.add_argument("folder", help="a results folder (history.csv, run.json, fields.xdmf)")
    q.add_argument("--output-dir", default=None, help="where the PNGs go (default: the folder)")
    q.add_argument("--overwrite", action="store_true", help="replace existing pictures")
    q.set_defaults(func=_cmd_plot)

    from femgp.cli.mesh import add_mesh_command, run_mesh_command

    add_mesh_command(sub).set_defaults(func=run_mesh_command)
    return p


def _main(argv: Sequence[str] | None) -> int:
    args, extra = build_parser().parse_known_args(argv)
    if getattr(args, "takes_extra", False):
        return int(args.func(args, extra))
    if extra:
        raise InputError(f"unrecognized arguments: {' '.join(extra)}")
    return int(args.func(args))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``femgp`` console script; returns the exit code.

    Bad arguments (argparse) and user errors give one line on stderr and 2.
    """
    return script_main(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
