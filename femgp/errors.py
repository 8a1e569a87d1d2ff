"""Exceptions femgp raises.

``InputError`` is a ``ValueError`` for anything a user can cause (bad
parameters, a missing file, a mesh without the needed tags). Scripts and the
CLI turn it into one line on stderr and exit code 2. ``SolverError`` is raised
when a PETSc solve does not converge and no cutback is left.
"""

from __future__ import annotations

__all__ = ["InputError", "SolverError"]


class InputError(ValueError):
    """A user-caused error: bad parameter, missing file or tag, bad option."""


class SolverError(RuntimeError):
    """A PETSc solve failed.

    The message reads ``"<prefix>: <message> at step <step> (PETSc reason <reason>)"``.

    Attributes:
        detail: the message without prefix, step and reason.
        prefix: the PETSc options prefix of the failed problem.
        step: the step (time or load step index) at which it failed, if known.
        reason: PETSc's converged reason (negative for divergence).
    """

    def __init__(
        self, message: str, *, prefix: str = "", step: int | None = None, reason: int | None = None
    ) -> None:
        self.detail = message
        self.prefix = prefix
        self.step = step
        self.reason = reason
        where = f"{prefix}: " if prefix and not message.startswith(f"{prefix}:") else ""
        at = f" at step {step}" if step is not None else ""
        why = f" (PETSc reason {reason})" if reason is not None else ""
        super().__init__(f"{where}{message}{at}{why}")
