"""Weight decay under Adam: an L2 term in the loss versus decoupled decay (AdamW).

An L2 term ``wd/2 ||theta||^2`` in the loss adds ``wd theta`` to the gradient,
and Adam divides that by its running RMS ``sqrt(v_hat) + eps`` like any other
gradient: a parameter with a large gradient history is hardly decayed, one
with a tiny history is decayed at up to ``lr`` per step *whatever* ``wd`` is
(sign-like steps). Decoupled decay (Loshchilov & Hutter 2019, AdamW)
multiplies ``theta`` by ``1 - lr wd`` outside the adaptive update: every
parameter decays at the same rate ``lr wd``.

:func:`effective_weight_decay` shows this on one parameter vector: it runs
both optimisers on the same gradient stream and reports the effective
per-parameter decay rate each produces.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from femgp.errors import InputError
from femgp.ml.validation import check_lambda, check_positive

__all__ = ["EffectiveDecay", "effective_weight_decay"]


@dataclass(frozen=True)
class EffectiveDecay:
    """Effective per-parameter weight decay under Adam+L2 and under AdamW.

    Attributes:
        adamw: the fraction of each parameter removed per step by AdamW's
            decay, ``lr * wd`` for every parameter, shape ``(n,)``.
        adam_l2: the same for an L2 term under Adam, ``lr * wd / (sqrt(v_hat_i) + eps)``
            with ``v_hat`` Adam's bias-corrected second moment after the last step
            (which includes the decay gradient itself), shape ``(n,)``.
        trajectory_adamw, trajectory_adam_l2: the parameter vector after each
            step, shape ``(steps + 1, n)`` (row 0 is the start).
    """

    adamw: torch.Tensor
    adam_l2: torch.Tensor
    trajectory_adamw: torch.Tensor
    trajectory_adam_l2: torch.Tensor


def _stream(grads: torch.Tensor | Sequence[torch.Tensor], n: int) -> torch.Tensor:
    g = torch.stack(list(grads)) if not isinstance(grads, torch.Tensor) else grads
    if g.ndim != 2 or g.shape[1] != n or g.shape[0] < 1:
        raise InputError(
            f"grads must have shape (steps, {n}) (one loss gradient per step), got {tuple(g.shape)}"
        )
    if not g.is_floating_point():
        raise InputError(f"grads must be floating point, got dtype {g.dtype}")
    return g


def effective_weight_decay(
    param: torch.Tensor,
    grads: torch.Tensor | Sequence[torch.Tensor],
    *,
    lr: float,
    weight_decay: float,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
) -> EffectiveDecay:
    """Run Adam+L2 and AdamW on one parameter vector and report their effective decay.

    The loss gradients are given (``grads[t]`` at step ``t``, independent of the
    parameters, e.g. noise of a chosen scale per parameter, or zeros), so that
    the only difference between the two runs is how the decay enters.

    Args:
        param: the starting parameter vector, shape ``(n,)``.
        grads: loss gradients, shape ``(steps, n)``.
        lr: the learning rate (> 0).
        weight_decay: ``wd`` (>= 0), used as ``torch.optim.Adam(weight_decay=wd)``
            (L2) and ``torch.optim.AdamW(weight_decay=wd)`` (decoupled).
        betas, eps: Adam's moment coefficients and epsilon.

    Returns:
        An :class:`EffectiveDecay`.
    """
    if not isinstance(param, torch.Tensor) or param.ndim != 1 or not param.is_floating_point():
        raise InputError("param must be a floating-point vector of shape (n,)")
    lr = check_positive("lr", lr)
    wd = check_lambda("weight_decay", weight_decay)
    g = _stream(grads, param.shape[0]).to(param.dtype)
    runs = {}
    for name, cls in (("adam_l2", torch.optim.Adam), ("adamw", torch.optim.AdamW)):
        p = torch.nn.Parameter(param.detach().clone())
        opt = cls([p], lr=lr, betas=betas, eps=eps, weight_decay=wd)
        traj = [p.detach().clone()]
        for gt in g:
            p.grad = gt.clone()
            opt.step()
            traj.append(p.detach().clone())
        runs[name] = (opt.state[p], torch.stack(traj))
    state, traj_l2 = runs["adam_l2"]
    steps = g.shape[0]
    v_hat = state["exp_avg_sq"] / (1.0 - betas[1] ** steps)
    adam_l2 = lr * wd / (v_hat.sqrt() + eps)
    adamw = torch.full_like(param, lr * wd)
    return EffectiveDecay(
        adamw=adamw.detach(),
        adam_l2=adam_l2.detach(),
        trajectory_adamw=runs["adamw"][1],
        trajectory_adam_l2=traj_l2,
    )
