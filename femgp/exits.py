"""How a femgp process ends: exit statuses, and MPI ranks that wait for each other.

Pure Python (no mpi4py import: it is used where mpi4py is already loaded), so
that both the command-line wrapper (:func:`femgp.cli.args.script_main`) and the
load-step driver (:func:`femgp.fem.driver.drive`) use it:

- :func:`exit_status`: the status and one-line message of a script stopped by
  an exception (user error 2, solver failure 1, Ctrl-C 130, defect 1);
- :func:`settle_ranks`: every rank reports on leaving; a rank left alone with
  its error (the others blocked in a collective call) aborts the MPI job after
  ``FEMGP_RANK_WAIT_S`` seconds instead of hanging it.
"""

from __future__ import annotations

import math
import os
import sys
import time
from typing import Any

from femgp.errors import InputError, SolverError

__all__ = ["RANK_WAIT_S", "SETTLE_TAG", "STOPPING_ERRORS", "exit_status", "settle_ranks"]

#: The exceptions that stop a script with a one-line message (not a defect):
#: :func:`exit_status` maps each to its status.
STOPPING_ERRORS = (
    InputError,
    OSError,
    ValueError,
    SolverError,
    FloatingPointError,
    KeyboardInterrupt,
)


def exit_status(exc: BaseException) -> tuple[int, str]:
    """The exit status of a script stopped by ``exc``, and its one-line message.

    A ``SystemExit`` keeps its status (argparse: 0 for ``--help``, 2 for a bad
    argument; a ``SystemExit("message")`` 1); a user error (:class:`InputError`,
    ``ValueError``, ``OSError`` such as a full disk) 2; a :class:`SolverError`
    or a ``FloatingPointError`` (a training run whose loss stopped being finite)
    1, with one line; Ctrl-C 130; anything else is a defect: 1.
    """
    if isinstance(exc, SystemExit):
        if exc.code is None or isinstance(exc.code, int):
            code = int(exc.code or 0)
            return code, "" if code == 0 else f"exit status {code}"
        return 1, str(exc.code)
    if isinstance(exc, (InputError, OSError, ValueError)):
        return 2, f"error: {exc}"
    if isinstance(exc, SolverError):
        return 1, f"solver error: {exc}"
    if isinstance(exc, FloatingPointError):  # a training run that diverged (femgp.ml)
        return 1, f"run failed: {exc}"
    if isinstance(exc, KeyboardInterrupt):
        return 130, "interrupted"
    return 1, f"{type(exc).__name__}: {exc}"


#: Seconds a rank that stopped waits for the others before it aborts the MPI job
#: (:func:`settle_ranks`); the environment variable ``FEMGP_RANK_WAIT_S`` overrides it.
RANK_WAIT_S = 60.0


def _rank_wait_s() -> float:
    """``FEMGP_RANK_WAIT_S`` if set to a positive number of seconds, else :data:`RANK_WAIT_S`."""
    value = os.environ.get("FEMGP_RANK_WAIT_S")
    if value is None:
        return RANK_WAIT_S
    try:
        wait = float(value)
    except ValueError:
        wait = math.nan
    if math.isfinite(wait) and wait > 0:
        return wait
    mpi = sys.modules.get("mpi4py.MPI")
    if mpi is None or mpi.COMM_WORLD.rank == 0:
        print(
            f"FEMGP_RANK_WAIT_S={value!r} is not a positive number of seconds; "
            f"using {RANK_WAIT_S:g}",
            file=sys.stderr,
            flush=True,
        )
    return RANK_WAIT_S


#: Seconds between a rank's last line and its abort of the MPI job (the launcher
#: forwards the line meanwhile).
ABORT_GRACE_S = 0.5

#: The point-to-point tag of :func:`settle_ranks`'s messages (within MPI's guaranteed 32767).
SETTLE_TAG = 31_415


def settle_ranks(code: int, message: str = "", *, comm: Any = None, said: bool = True) -> int:
    """Wait for every MPI rank to leave its script; return ``code``.

    Under ``mpirun`` a rank that stops with an error its peers did not share
    (a full disk on the rank that writes, a defect on one rank) would leave the
    others blocked in their next collective call until the job's time ran out.
    Every rank therefore reports to rank 0 on leaving, and rank 0 answers once
    all have (point-to-point messages with tag :data:`SETTLE_TAG`: unlike a
    barrier, they cannot be matched with a collective call that another rank is
    blocked in). A rank that stopped with an error and gets no answer (rank 0:
    not every report) within ``FEMGP_RANK_WAIT_S`` seconds (default
    :data:`RANK_WAIT_S`) prints its message, naming its rank, and aborts the
    job with its exit code. A rank that finished waits for the others. Nothing
    happens in a serial run or where mpi4py was never imported (the torch demos).

    ``comm``: the communicator of the ranks to wait for (default
    ``COMM_WORLD``); ``said``: rank 0 has printed ``message`` already (it is
    then not repeated in the abort line).
    """
    mpi = sys.modules.get("mpi4py.MPI")
    if mpi is None or not mpi.Is_initialized() or mpi.Is_finalized():
        return code
    comm = mpi.COMM_WORLD if comm is None else comm
    if comm.size == 1:
        return code
    wait = _rank_wait_s() if code != 0 else math.inf
    deadline = time.monotonic() + wait
    one = [bytearray(1), mpi.BYTE]
    if comm.rank == 0:  # every report, then the answers
        inbox = [bytearray(1) for _ in range(comm.size - 1)]
        pending = [
            comm.Irecv([buf, mpi.BYTE], source=r, tag=SETTLE_TAG) for r, buf in enumerate(inbox, 1)
        ]
    else:
        sent = comm.Isend(one, dest=0, tag=SETTLE_TAG)
        pending = [comm.Irecv([bytearray(1), mpi.BYTE], source=0, tag=SETTLE_TAG)]
    while not mpi.Request.Testall(pending):
        if time.monotonic() > deadline:
            what = message.strip().splitlines()[0] if message.strip() else f"exit status {code}"
            what = "" if said and comm.rank == 0 else f"{what}; "
            print(
                f"rank {comm.rank} of {comm.size}: {what}the other ranks did not stop within "
                f"{wait:g} s (FEMGP_RANK_WAIT_S): aborting the MPI job",
                file=sys.stderr,
                flush=True,
            )
            # The launcher forwards a rank's output through a pipe, and the abort
            # kills the job: give it time to pass the line on (MPICH's Hydra lost
            # it once in a busy test run).
            time.sleep(ABORT_GRACE_S)
            mpi.COMM_WORLD.Abort(code)  # the whole job, whatever ``comm`` is
        time.sleep(0.01)
    if comm.rank == 0:
        mpi.Request.Waitall([comm.Isend(one, dest=r, tag=SETTLE_TAG) for r in range(1, comm.size)])
    else:
        sent.Wait()
    return code
