"""Adversarial attacks used to evaluate robustness: FGSM and PGD (l-infinity or l2).

Both maximise a per-sample loss ``loss_fn(model(x), y) -> (B,)`` within a ball
around each input, with per-sample steps (the l2 step is normalised per
sample over all non-batch dimensions). The attacks leave the model's mode alone:
evaluate robustness with the model in ``eval()`` mode, or dropout and batch
normalisation make every gradient step see a different network.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from femgp.errors import InputError
from femgp.ml.ops import per_sample_norm
from femgp.ml.validation import check_batch, check_float_tensor, check_interval, check_lambda

__all__ = ["NORMS", "fgsm", "pgd"]

#: Supported threat models.
NORMS: tuple[str, ...] = ("linf", "l2")

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _input_grad(
    model: Callable[[torch.Tensor], torch.Tensor], loss_fn: LossFn, x: torch.Tensor, y: torch.Tensor
) -> torch.Tensor:
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        losses = loss_fn(model(x), y)
        (g,) = torch.autograd.grad(losses.sum(), x)
    return g


def _bcast(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return v.reshape(v.shape[0], *([1] * (like.ndim - 1)))


def _project(delta: torch.Tensor, epsilon: float, norm: str) -> torch.Tensor:
    if norm == "linf":
        return delta.clamp(-epsilon, epsilon)
    n = per_sample_norm(delta)
    factor = torch.clamp(epsilon / torch.where(n > 0, n, torch.ones_like(n)), max=1.0)
    return delta * _bcast(factor, delta)


def _step(g: torch.Tensor, size: float, norm: str) -> torch.Tensor:
    if norm == "linf":
        return size * g.sign()
    n = per_sample_norm(g)
    return size * g / _bcast(torch.where(n > 0, n, torch.ones_like(n)), g)


def _check(x: torch.Tensor, y: torch.Tensor, epsilon: float, norm: str) -> float:
    check_float_tensor("x", x)
    check_batch("y", y, x.shape[0], of="x")
    if norm not in NORMS:
        raise InputError(f"unknown norm {norm!r}; allowed: {', '.join(map(repr, NORMS))}")
    return check_lambda("epsilon", epsilon)


def fgsm(
    model: Callable[[torch.Tensor], torch.Tensor],
    loss_fn: LossFn,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    epsilon: float,
    norm: str = "linf",
) -> torch.Tensor:
    """The fast gradient (sign) method: one step of size ``epsilon`` up the loss.

    ``norm="linf"`` is Goodfellow et al.'s FGSM ``x + epsilon sign(grad)``;
    ``norm="l2"`` steps ``epsilon`` along the per-sample unit gradient.
    Returns the detached adversarial inputs.
    """
    epsilon = _check(x, y, epsilon, norm)
    g = _input_grad(model, loss_fn, x, y)
    return (x.detach() + _step(g, epsilon, norm)).detach()


def pgd(
    model: Callable[[torch.Tensor], torch.Tensor],
    loss_fn: LossFn,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    epsilon: float,
    steps: int = 10,
    step_size: float | None = None,
    norm: str = "linf",
    random_start: bool = True,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Projected gradient descent (Madry et al. 2018) on the loss, within the epsilon-ball.

    Args:
        model, loss_fn: the network and its per-sample loss.
        x, y: clean inputs and targets.
        epsilon: the radius of the ball (>= 0).
        steps: number of ascent steps (>= 1).
        step_size: per-step size; ``2.5 epsilon / steps`` if ``None``.
        norm: ``"linf"`` or ``"l2"``.
        random_start: start from a uniform point of the (l-inf) box, projected.
        generator: random generator for the start.

    Returns:
        The detached adversarial inputs.
    """
    epsilon = _check(x, y, epsilon, norm)
    steps = check_interval("steps", steps)
    size = 2.5 * epsilon / steps if step_size is None else check_lambda("step_size", step_size)
    x0 = x.detach()
    if random_start and epsilon > 0:
        gen_device = generator.device if generator is not None else torch.device("cpu")
        r = torch.rand(x0.shape, generator=generator, device=gen_device, dtype=x0.dtype)
        delta = _project((2 * r.to(x0.device) - 1) * epsilon, epsilon, norm)
    else:
        delta = torch.zeros_like(x0)
    for _ in range(steps):
        g = _input_grad(model, loss_fn, x0 + delta, y)
        delta = _project(delta + _step(g, size, norm), epsilon, norm)
    return (x0 + delta).detach()
