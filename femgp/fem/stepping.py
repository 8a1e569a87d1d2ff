"""Adaptive step control for time and load stepping.

The controller grows the step after easy steps, cuts it back and retries after
failed or hard ones, and always stays within ``[dt_min, dt_max]``. Two signals
drive it: an error estimate (when the integrator supplies one) and the number of
Newton iterations. It can also land exactly on requested output times.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from femgp.errors import InputError, SolverError
from femgp.validation import check_positive

__all__ = ["AdaptiveStepper", "curvature_scale"]


def curvature_scale(r: float, theta: float = 1.0) -> float:
    """The factor that turns ``|x - pred|`` into the local error ``x'' dt^2 / 2``.

    ``pred`` is the linear extrapolation of the two previous states to the new
    step, ``r = dt / dt_prev``, and the states come from the theta scheme
    (``theta = 1``: backward Euler). The previous states lie on the scheme's
    smooth trajectory (the exact one plus a global error ``h E(t)``,
    ``E' = J E + (theta - 1/2) x''`` at steps ``h``); the new state leaves it by
    the difference of the local errors ``(theta - 1/2) x'' dt^2`` at the new and
    the old step. With the extrapolation error ``x'' dt (dt + h) / 2``,
    ``x - pred = x'' dt (r + 1 + (2 theta - 1)(r - 1)) h / 2``: the factor is
    ``1 / 2`` for backward Euler at any ``r`` and ``r / (1 + r)`` for theta = 1/2.
    """
    return r / (r + 1.0 + (2.0 * theta - 1.0) * (r - 1.0))


@dataclass
class AdaptiveStepper:
    """Step-size controller.

    Args:
        dt: initial step.
        dt_min, dt_max: bounds; a step below ``dt_min`` is a failure.
        adaptive: if False the step is fixed (only output times clip it).
        tol: target of the local error estimate (``None``: iterations only).
        order: order of the error estimate (``err ~ dt^(order+1)``).
        safety: safety factor on the error-based proposal.
        grow: largest growth factor per step.
        shrink: factor applied after a failed solve.
        target_iterations: Newton iterations regarded as "easy"; more than
            ``2 * target_iterations`` damp growth.
        max_retries: consecutive cutbacks allowed before giving up.
        output_times: times the stepper lands on exactly.
    """

    dt: float
    dt_min: float = 1e-12
    dt_max: float = math.inf
    adaptive: bool = True
    tol: float | None = None
    order: int = 1
    safety: float = 0.9
    grow: float = 2.0
    shrink: float = 0.5
    target_iterations: int = 4
    max_retries: int = 8
    output_times: Iterable[float] = field(default_factory=tuple)
    retries: int = field(default=0, init=False)
    rejected: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        check_positive("dt", self.dt)
        check_positive("dt_min", self.dt_min)
        if not self.dt_max > 0:
            raise InputError(f"dt_max must be > 0, got {self.dt_max!r}")
        if self.dt_min > self.dt_max:
            raise InputError(f"dt_min ({self.dt_min}) must not exceed dt_max ({self.dt_max})")
        if self.tol is not None:
            check_positive("tol", self.tol)
        if not 0 < self.shrink < 1:
            raise InputError(f"shrink must be in (0, 1), got {self.shrink!r}")
        if not self.grow >= 1:
            raise InputError(f"grow must be >= 1, got {self.grow!r}")
        self.dt = min(max(self.dt, self.dt_min), self.dt_max)
        self.output_times = sorted(float(t) for t in self.output_times)

    def next_dt(self, t: float, t_end: float) -> float:
        """The step to try from time ``t``, clipped to land on output times and ``t_end``."""
        dt = self.dt
        for t_out in [*self.output_times, t_end]:
            if t_out > t * (1 + 1e-14) + 1e-300:
                if t + dt >= t_out - 1e-12 * max(1.0, abs(t_out)):
                    dt = t_out - t
                elif t + 1.5 * dt > t_out:  # avoid a sliver step next time
                    dt = 0.5 * (t_out - t)
                break
        return dt

    def accept(self, dt_taken: float, *, iterations: int = 0, error: float | None = None) -> bool:
        """Judge a converged step; returns False if it must be rejected and retried.

        On acceptance the next step is proposed; on rejection ``dt`` is reduced.
        """
        if not self.adaptive:
            self.retries = 0
            return True
        factor = self.grow
        if self.tol is not None and error is not None:
            if error > 0:
                factor = self.safety * (self.tol / error) ** (1.0 / (self.order + 1))
            if error > 2.0 * self.tol and dt_taken > self.dt_min * (1 + 1e-12):
                self.rejected += 1
                self.dt = max(dt_taken * max(factor, 0.2), self.dt_min)
                return False
        if iterations > 2 * self.target_iterations:
            factor = min(factor, 0.7)
        elif iterations > self.target_iterations:
            factor = min(factor, 1.0)
        factor = min(max(factor, 0.2), self.grow)
        # Grow from the nominal step, not from a step clipped by an output time.
        base = max(dt_taken, self.dt) if factor >= 1 else dt_taken
        self.dt = min(max(base * factor, self.dt_min), self.dt_max)
        self.retries = 0
        return True

    def cutback(
        self, dt_failed: float, *, step: int | None = None, cause: Exception | None = None
    ) -> None:
        """Reduce the step after a failed solve; raise SolverError when out of retries."""
        self.retries += 1
        new = dt_failed * self.shrink
        if not self.adaptive or self.retries > self.max_retries or new < self.dt_min:
            last = getattr(cause, "detail", str(cause)) if cause else ""
            raise SolverError(
                f"step failed at dt={dt_failed:.3e} after {self.retries - 1} cutbacks"
                + (f"; last error: {last}" if last else ""),
                prefix=getattr(cause, "prefix", ""),
                step=step,
                reason=getattr(cause, "reason", None),
            ) from cause
        self.dt = new

    def state(self) -> dict[str, float | int]:
        """The controller's evolving state (for checkpoints): step, retry and rejection counts."""
        return {"dt": self.dt, "retries": self.retries, "rejected": self.rejected}

    def restore(self, state: dict[str, float | int]) -> None:
        """Restore a :meth:`state` (the bounds and options come from the constructor)."""
        self.dt = float(state["dt"])
        self.retries = int(state["retries"])
        self.rejected = int(state["rejected"])
