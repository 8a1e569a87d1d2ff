"""The ``femgp`` command line.

``femgp info`` prints the versions of femgp and its stack (DOLFINx, PETSc and
petsc4py, mpi4py and its MPI library, torch when present) and PETSc's external
packages. User errors exit with code 2 and one line on stderr.
"""

from __future__ import annotations

import importlib.metadata
import platform
import sys
from collections.abc import Sequence

from femgp.scripting import ArgumentParser, script_main

__all__ = ["info", "main"]

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
    width = max(map(len, rows))
    for key, value in rows.items():
        print(f"{key:<{width}}  {value}")
    return 0


def build_parser() -> ArgumentParser:
    p = ArgumentParser(prog="femgp", description="femgp: gradient-penalty energies, FEM and ML")
    sub = p.add_subparsers(dest="command", required=True, parser_class=ArgumentParser)
    s = sub.add_parser("info", help="versions of femgp and its stack")
    s.set_defaults(func=_cmd_info)
    return p


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``femgp`` console script."""
    return script_main(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
