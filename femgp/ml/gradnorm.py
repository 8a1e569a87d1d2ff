"""Parameter-gradient-norm penalty ``J = L + lam ||grad_theta L||_2``, and clipping beside it.

``grad J = grad L + lam H grad L / ||grad L||``. Two forms:

``exact``
    double backward: ``grad L`` with ``create_graph=True``, then back-propagate
    ``L + lam ||grad L||``.

``finite_difference``
    Hessian-free (Zhao, Zhang & Hu, "Penalizing gradient norm for efficiently
    improving generalization in deep learning", ICML 2022): with
    ``v = grad L / ||grad L||`` and radius ``r``,
    ``H v ~ (grad L(theta + r v) - grad L(theta)) / r``, so
    ``grad J ~ (1 - alpha) grad L(theta) + alpha grad L(theta + r v)``,
    ``alpha = lam / r``. Sharpness-aware minimisation (SAM, Foret et al. 2021)
    is the special case ``alpha = 1`` (``lam = r = rho``). Exact when ``L`` is
    quadratic in ``theta``. The second closure call replays the first one's
    draws from the global generators (dropout masks, a sampled minibatch; see
    :mod:`femgp.ml.rng`), so that both gradients are of the same loss.

:class:`GradientNormPenalty` wraps any optimiser and is used as a drop-in
replacement: ``opt.step(closure)`` with a closure that *returns the loss*
(forward only; the wrapper does the backward passes). :class:`GradientClipping`
offers the same interface for comparison: it rescales the gradient to a
maximum norm instead of penalising it.

Under DistributedDataParallel the finite-difference form is exact in the
averaged sense: both of its backward passes all-reduce, so ``v`` is the global
gradient's direction. The exact form takes ``autograd.grad`` of the *local*
loss with respect to the parameters, which DDP does not all-reduce; use the
finite-difference form with DDP.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch

from femgp.errors import InputError
from femgp.ml.ops import safe_sqrt
from femgp.ml.rng import rng_checkpoint
from femgp.ml.validation import check_finite_loss, check_lambda, check_positive

__all__ = ["FORMS", "GradientClipping", "GradientNormPenalty", "global_grad_norm"]

#: The two ways to differentiate the penalty.
FORMS: tuple[str, ...] = ("exact", "finite_difference")

Closure = Callable[[], torch.Tensor]


def _compiled_double_backward(exc: RuntimeError) -> Exception:
    """femgp's error for torch's refusal to differentiate a compiled backward; else ``exc``."""
    text = str(exc)
    if "double backward" not in text and "donated buffer" not in text:
        return exc
    return InputError(
        "the exact gradient-norm penalty needs a double backward through the closure's "
        "model, which torch.compile'd graphs do not support; use form='finite_difference' "
        "(first-order only, works compiled) or call an uncompiled model in the closure"
    )


def global_grad_norm(grads: Iterable[torch.Tensor | None]) -> torch.Tensor:
    """``sqrt(sum ||g_p||^2)`` over a list of gradients (``None`` entries skipped).

    The square root has a zero derivative at zero (safe inside a double backward).
    """
    sq = [torch.sum(g * g) for g in grads if g is not None]
    if not sq:
        raise InputError("no gradients to take the norm of (no parameter received a gradient)")
    return safe_sqrt(torch.stack(sq).sum())


class _Wrapper:
    """Shared delegation to the wrapped optimiser."""

    def __init__(self, optimizer: torch.optim.Optimizer) -> None:
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise InputError(f"optimizer must be a torch.optim.Optimizer, got {optimizer!r}")
        self.optimizer = optimizer
        #: ``||grad L||`` at the last step (before any clipping or penalty), a tensor.
        self.last_grad_norm: torch.Tensor | None = None

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        """The wrapped optimiser's parameter groups."""
        return self.optimizer.param_groups

    def params(self) -> list[torch.Tensor]:
        """The parameters the wrapped optimiser updates (those requiring grad)."""
        return [p for g in self.optimizer.param_groups for p in g["params"] if p.requires_grad]

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Zero the gradients of the wrapped optimiser's parameters."""
        self.optimizer.zero_grad(set_to_none=set_to_none)

    def state_dict(self) -> dict[str, Any]:
        """The wrapped optimiser's state."""
        return self.optimizer.state_dict()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load the wrapped optimiser's state."""
        self.optimizer.load_state_dict(state_dict)

    def _loss(self, closure: Closure) -> torch.Tensor:
        with torch.enable_grad():
            loss = closure()
        if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
            raise InputError("the closure must return the scalar loss (a tensor)")
        return loss


class GradientNormPenalty(_Wrapper):
    """Minimise ``L + lam ||grad_theta L||`` with any optimiser (drop-in wrapper).

    Example::

        opt = GradientNormPenalty(torch.optim.SGD(model.parameters(), lr=0.1), lam=0.05)
        loss = opt.step(lambda: criterion(model(x), y))

    Args:
        optimizer: the optimiser that applies the penalised gradient.
        lam: the penalty weight (>= 0).
        radius: the finite-difference radius ``r`` (> 0; ``alpha = lam / r``).
        form: ``"finite_difference"`` (default, no second derivatives) or ``"exact"``.
        check_finite: raise ``FloatingPointError`` on a NaN/inf loss or gradient norm.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        *,
        lam: float,
        radius: float = 0.05,
        form: str = "finite_difference",
        check_finite: bool = True,
    ) -> None:
        super().__init__(optimizer)
        self.lam = check_lambda("lam", lam)
        self.radius = check_positive("radius", radius)
        if form not in FORMS:
            raise InputError(f"unknown form {form!r}; allowed: {', '.join(map(repr, FORMS))}")
        self.form = form
        self.check_finite = bool(check_finite)

    @classmethod
    def sam(cls, optimizer: torch.optim.Optimizer, *, rho: float = 0.05) -> GradientNormPenalty:
        """Sharpness-aware minimisation: the finite-difference form with ``alpha = 1``."""
        rho = check_positive("rho", rho)
        return cls(optimizer, lam=rho, radius=rho, form="finite_difference")

    @property
    def alpha(self) -> float:
        """The mixing weight ``lam / radius`` of the finite-difference form."""
        return self.lam / self.radius

    def step(self, closure: Closure) -> torch.Tensor:
        """One penalised step. ``closure()`` computes and returns the loss (no backward).

        Returns:
            The loss at the current parameters (detached).
        """
        if self.form == "exact":
            return self._step_exact(closure)
        return self._step_fd(closure)

    def _step_exact(self, closure: Closure) -> torch.Tensor:
        params = self.params()
        self.zero_grad()
        loss = self._loss(closure)
        try:
            grads = torch.autograd.grad(
                loss, params, create_graph=self.lam > 0, allow_unused=True
            )
        except RuntimeError as exc:
            err = _compiled_double_backward(exc)
            if err is exc:
                raise
            raise err from exc
        gnorm = global_grad_norm(grads)
        self.last_grad_norm = gnorm.detach()
        total = loss + self.lam * gnorm
        if self.check_finite:
            check_finite_loss("the penalised loss L + lam ||grad L||", total)
        if self.lam > 0:
            try:
                total.backward(inputs=params)
            except RuntimeError as exc:
                err = _compiled_double_backward(exc)
                if err is exc:
                    raise
                raise err from exc
        else:
            with torch.no_grad():
                for p, g in zip(params, grads, strict=True):
                    p.grad = None if g is None else g.detach()
        self.optimizer.step()
        return loss.detach()

    def _step_fd(self, closure: Closure) -> torch.Tensor:
        params = self.params()
        self.zero_grad()
        replay = rng_checkpoint(params)  # the second closure draws the first's dropout masks
        loss = self._loss(closure)
        if self.check_finite:
            check_finite_loss("the loss", loss)
        loss.backward()
        g0 = [None if p.grad is None else p.grad.detach().clone() for p in params]
        gnorm = global_grad_norm(g0)
        self.last_grad_norm = gnorm
        gn = float(gnorm)
        if self.check_finite and not torch.isfinite(gnorm):
            raise FloatingPointError(f"the gradient norm is not finite ({gn})")
        if self.lam == 0.0 or gn == 0.0:
            # No direction to difference along (the penalty's subgradient at 0 is 0).
            self.optimizer.step()
            return loss.detach()
        scale = self.radius / gn
        saved = [p.detach().clone() for p in params]
        with torch.no_grad():
            for p, g in zip(params, g0, strict=True):
                if g is not None:
                    p.add_(g, alpha=scale)
        self.zero_grad()
        replay()
        loss2 = self._loss(closure)
        loss2.backward()
        a = self.alpha
        with torch.no_grad():
            for p, s, g in zip(params, saved, g0, strict=True):
                p.copy_(s)  # restore exactly
                if g is None:
                    if p.grad is not None:
                        p.grad.mul_(a)
                elif p.grad is None:
                    p.grad = (1.0 - a) * g
                else:
                    p.grad.mul_(a).add_(g, alpha=1.0 - a)
        self.optimizer.step()
        return loss.detach()


class GradientClipping(_Wrapper):
    """Rescale the gradient to at most ``max_norm`` before each step (for comparison).

    Same interface as :class:`GradientNormPenalty`: ``step(closure)`` with a
    closure that returns the loss.

    Args:
        optimizer: the optimiser that applies the clipped gradient.
        max_norm: the largest allowed global gradient norm (> 0).
    """

    def __init__(self, optimizer: torch.optim.Optimizer, *, max_norm: float) -> None:
        super().__init__(optimizer)
        self.max_norm = check_positive("max_norm", max_norm)

    def step(self, closure: Closure) -> torch.Tensor:
        """Backward, clip the global gradient norm, step; returns the loss (detached)."""
        self.zero_grad()
        loss = self._loss(closure)
        check_finite_loss("the loss", loss)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(self.params(), self.max_norm, error_if_nonfinite=True)
        self.last_grad_norm = norm.detach()
        self.optimizer.step()
        return loss.detach()
