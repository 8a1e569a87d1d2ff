"""``femgp mesh``: build, convert and inspect meshes.

- ``femgp mesh info FILE [--json] [--gdim N]``: cells, vertices, cell type,
  tags with names and counts, quality, h_min and h_max (after the checks of
  :func:`femgp.fem.meshes.check_mesh`).
- ``femgp mesh build NAME --output FILE [--h H] [--h-far H] [--overwrite]``:
  a built-in geometry (``femgp mesh build --list``).
- ``femgp mesh convert IN OUT [--overwrite]``: between ``.msh``, ``.xdmf`` and
  the meshio formats, keeping cell and facet tags (and names where the format
  holds them).

Outputs are written atomically and never overwrite a file without
``--overwrite``. User errors print one line on stderr and exit with code 2.
``add_mesh_command(subparsers)`` adds the command to the ``femgp`` parser.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from femgp.cli.args import ArgumentParser, positive_float, positive_int, script_main
from femgp.errors import InputError

__all__ = ["add_mesh_command", "format_report", "geometry_script", "main", "run_mesh_command"]


def format_report(report: dict[str, Any], *, title: str = "") -> str:
    """The report of :func:`~femgp.fem.meshes.mesh_report` as aligned text."""
    q = report["quality"]
    rows = [
        ("file", title),
        ("cell type", report["cell_type"]),
        ("cells", str(report["cells"])),
        ("vertices", str(report["vertices"])),
        ("tdim / gdim", f"{report['tdim']} / {report['gdim']}"),
        ("h_min", f"{report['h_min']:.6g}"),
        ("h_max", f"{report['h_max']:.6g}"),
        ("volume", f"{report['volume']:.6g}"),
        (
            f"quality ({q['measure']})",
            f"min {q['min']:.4f}  mean {q['mean']:.4f}  max {q['max']:.4f}",
        ),
    ]
    rows = [r for r in rows if r[1]]
    width = max(len(k) for k, _ in rows)
    lines = [f"{k:<{width}}  {v}" for k, v in rows]
    for kind in ("cells", "facets"):
        tags = report["tags"][kind]
        if not tags:
            lines.append(f"{kind[:-1] + ' tags':<{width}}  none")
            continue
        lines.append(f"{kind[:-1] + ' tags':<{width}}  tag  name{'':<14}count")
        for t in tags:
            name = t["name"] or "-"
            lines.append(f"{'':<{width}}  {t['tag']:>3}  {name:<18}{t['count']}")
    return "\n".join(lines)


def _info(args: argparse.Namespace) -> int:
    from mpi4py import MPI

    from femgp.fem.meshes import mesh_report, read_mesh

    tm = read_mesh(args.file, MPI.COMM_WORLD, gdim=args.gdim)
    report = mesh_report(tm)
    if MPI.COMM_WORLD.rank == 0:
        if args.json:
            print(json.dumps(report, indent=2))
        else:
            print(format_report(report, title=str(args.file)))
    return 0


def _build(args: argparse.Namespace) -> int:
    from mpi4py import MPI

    from femgp.fem.meshes import GEOMETRIES, build, write_mesh

    if args.list:
        width = max(map(len, GEOMETRIES))
        for name, geo in GEOMETRIES.items():
            print(
                f"{name:<{width}}  h={geo.h:<6g} groups: {', '.join(geo.groups)}  ({geo.summary})"
            )
        return 0
    if args.name is None or args.output is None:
        raise InputError("femgp mesh build needs NAME and --output FILE (or --list)")

    def work() -> str:
        _check_target(args.output, args.overwrite)
        tm = build(args.name, MPI.COMM_SELF, h=args.h, h_far=args.h_far, max_cells=args.max_cells)
        path = write_mesh(tm, args.output, overwrite=args.overwrite)
        cells = tm.mesh.topology.index_map(tm.mesh.topology.dim).size_global
        return f"wrote {path} ({cells} cells)"

    return _on_rank0(work)


def _on_rank0(work: Callable[[], str]) -> int:
    """Run the serial ``work`` on rank 0 alone (under ``mpirun``: one file, one line).

    Every rank starts MPI (MPICH's start-up waits for all of them); rank 0's
    input error is every rank's, so that all exit with 2.
    """
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    failure: Exception | None = None
    outcome: tuple[str, str] | None = None
    if comm.rank == 0:
        try:
            print(work())
        except InputError as exc:
            failure, outcome = exc, ("input", str(exc))
        except Exception as exc:  # a defect: rank 0 shows its traceback
            failure, outcome = exc, ("defect", repr(exc))
    outcome = comm.bcast(outcome, root=0)
    if outcome is None:
        return 0
    if failure is not None:
        raise failure
    if outcome[0] == "input":
        raise InputError(outcome[1])
    return 1


def _check_target(path: str, overwrite: bool) -> None:
    from pathlib import Path

    from femgp.fem.meshes.io import WRITE_SUFFIXES

    p = Path(path)
    if p.suffix.lower() not in WRITE_SUFFIXES:
        raise InputError(
            f"cannot write mesh file {path!r}: unknown suffix {p.suffix or '(none)'!r}; "
            f"supported: {', '.join(WRITE_SUFFIXES)}"
        )
    for target in (p, p.with_suffix(".h5")) if p.suffix.lower() == ".xdmf" else (p,):
        if target.is_dir():
            raise InputError(f"{str(target)!r} is a folder; a mesh file cannot replace it")
        if target.exists() and not overwrite:  # an XDMF file's data goes to its .h5
            raise InputError(f"{str(target)!r} exists; pass --overwrite to replace it")


def _convert(args: argparse.Namespace) -> int:
    from mpi4py import MPI

    from femgp.fem.meshes import read_mesh, write_mesh

    def work() -> str:
        _check_target(args.output, args.overwrite)
        tm = read_mesh(args.input, MPI.COMM_SELF, gdim=args.gdim)
        return f"wrote {write_mesh(tm, args.output, overwrite=args.overwrite)}"

    return _on_rank0(work)


def add_mesh_command(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``mesh`` subcommand (info, build, convert) to an argparse subparsers object."""
    mesh = subparsers.add_parser("mesh", help="build, convert and inspect meshes")
    sub = mesh.add_subparsers(dest="mesh_command", required=True, metavar="{info,build,convert}")
    info = sub.add_parser("info", help="cells, tags, quality and h of a mesh file")
    info.add_argument("file", help="a .msh, .xdmf or meshio file")
    info.add_argument("--json", action="store_true", help="print the report as JSON")
    info.add_argument("--gdim", type=int, choices=(1, 2, 3), default=None)
    info.set_defaults(mesh_func=_info)
    build = sub.add_parser("build", help="write a built-in geometry")
    build.add_argument("name", nargs="?", help="geometry name (see --list)")
    build.add_argument("--output", "-o", help="output file (.msh, .xdmf, .vtu, .inp, .mesh)")
    build.add_argument("--h", type=positive_float, default=None, help="fine mesh size")
    build.add_argument("--h-far", type=positive_float, default=None, help="coarse mesh size")
    build.add_argument("--overwrite", action="store_true", help="replace an existing output")
    build.add_argument(
        "--max-cells", type=positive_int, default=None, help="refuse a mesh above N cells"
    )
    build.add_argument("--list", action="store_true", help="list the geometries")
    build.set_defaults(mesh_func=_build)
    conv = sub.add_parser("convert", help="convert a mesh keeping its tags")
    conv.add_argument("input")
    conv.add_argument("output")
    conv.add_argument("--gdim", type=int, choices=(1, 2, 3), default=None)
    conv.add_argument("--overwrite", action="store_true", help="replace an existing output")
    conv.set_defaults(mesh_func=_convert)
    return mesh


def run_mesh_command(args: argparse.Namespace) -> int:
    """Run the parsed ``femgp mesh ...`` command."""
    return int(args.mesh_func(args) or 0)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m femgp.cli.mesh mesh ...``: the mesh command alone (exit code 2 on bad input)."""

    def run(argv: Sequence[str] | None) -> int:
        parser = ArgumentParser(prog="femgp", description="femgp mesh command")
        sub = parser.add_subparsers(dest="command", required=True)
        add_mesh_command(sub)
        args = parser.parse_args(argv)
        return run_mesh_command(args)

    return script_main(run, argv)


def geometry_script(
    name: str, *, h: float, default_output: str, argv: Sequence[str] | None = None
) -> int:
    """The ``meshes/<name>.py`` scripts: ``--h --h-far --output --overwrite``, then build.

    A thin wrapper of ``femgp mesh build NAME``; ``h`` is the default fine mesh size.
    """
    p = ArgumentParser(prog=f"meshes/{name}.py", description=f"write the {name} mesh (.msh)")
    p.add_argument("--h", type=positive_float, default=h, help="fine mesh size")
    p.add_argument("--h-far", type=positive_float, default=None, help="coarse mesh size")
    p.add_argument("--output", default=default_output, help="the .msh file to write")
    p.add_argument("--overwrite", action="store_true", help="replace an existing file")
    args = p.parse_args(argv)
    cmd = ["mesh", "build", name, "--output", args.output, "--h", str(args.h)]
    if args.h_far is not None:
        cmd += ["--h-far", str(args.h_far)]
    if args.overwrite:
        cmd.append("--overwrite")
    return main(cmd)


if __name__ == "__main__":
    sys.exit(main())
