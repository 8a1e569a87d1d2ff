"""Import DOLFINx the same way on every install path.

Importing this module imports DOLFINx: every module that needs dolfinx, ufl or
petsc4py does ``import femgp.fem._backend`` first. When the
``dolfinx-solver-real`` wheel is installed, ``dolfinx_solver`` must be imported
before dolfinx and petsc4py; on clusters dolfinx comes from conda-forge, Spack
or a container and that module does not exist.
"""

from __future__ import annotations

import importlib.util
import signal
import threading

INSTALL_HINT = (
    "femgp.fem needs DOLFINx >= 0.10 with petsc4py and mpi4py. Install it either "
    "with the pip wheels, `pip install 'femgp[wheels]'` (dolfinx-solver-real + MPICH), "
    "or, on a cluster, use an existing DOLFINx (conda-forge `fenics-dolfinx`, Spack "
    "`py-fenics-dolfinx`, or the official dolfinx/dolfinx container) and `pip install .` "
    "without the wheels extra."
)


def import_dolfinx() -> None:
    """Import dolfinx (after ``dolfinx_solver`` where present), or raise a helpful ImportError."""
    if importlib.util.find_spec("dolfinx_solver") is not None:
        import dolfinx_solver  # noqa: F401  (orders MPI ahead of the compiled bindings)
    try:
        import dolfinx
        import dolfinx.fem.petsc
        import petsc4py  # noqa: F401
    except ImportError as exc:  # pragma: no cover - exercised without dolfinx
        raise ImportError(f"{INSTALL_HINT} (original error: {exc})") from exc
    major, minor = (int(x) for x in dolfinx.__version__.split(".")[:2])
    if (major, minor) < (0, 10):  # pragma: no cover
        raise ImportError(
            f"femgp needs DOLFINx >= 0.10, found {dolfinx.__version__}. {INSTALL_HINT}"
        )


def restore_python_sigpipe() -> None:
    """Give ``SIGPIPE`` back to Python, which ignores it and raises ``BrokenPipeError``.

    PETSc's initialisation installs its signal handler for ``SIGPIPE`` too, so a
    reader that closed its end early (``femgp info | head -1``) made PETSc print
    a crash report and abort the MPI job. Every other signal stays with PETSc.
    Only the main thread may set a handler; elsewhere this does nothing.
    """
    if hasattr(signal, "SIGPIPE") and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)


import_dolfinx()
restore_python_sigpipe()
