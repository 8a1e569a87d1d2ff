"""WGAN training steps with the gradient penalty, AMP- and DDP-ready.

:func:`critic_step` is one critic update::

    loss = E[D(fake)] - E[D(real)] + lam E[(||grad D(x_hat)|| - 1)^2]

with the penalty optionally lazy (every ``k`` steps, weight times ``k``). Under
AMP it follows PyTorch's recipe (scaled ``autograd.grad``, unscale, penalty
under autocast, ``scaler.scale(loss).backward()``); under
DistributedDataParallel the one ``backward`` of the total loss all-reduces the
gradients, so that a step on ``R`` equal shards of a batch equals the
single-process step on the whole batch when the per-sample ``alpha`` are the
same (pass the shard of a global draw).

:func:`generator_step` is the generator update ``-E[D(G(z))]``, and
:func:`mlp` builds the plain multilayer perceptrons the demos use.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from femgp.errors import InputError
from femgp.ml.penalties import Critic, LazyRegularizer, critic_scores, r1_r2, wgan_gp
from femgp.ml.validation import (
    check_batch,
    check_finite_loss,
    check_float_tensor,
    check_lambda,
    check_same_shape,
)

__all__ = [
    "GAN_LOSSES",
    "CriticStep",
    "critic_step",
    "discriminator_loss",
    "generator_step",
    "mlp",
    "r1_r2_step",
    "stepped_parameters",
    "wasserstein_loss",
]

#: Discriminator losses of :func:`r1_r2_step`.
GAN_LOSSES: tuple[str, ...] = ("relativistic", "nonsaturating", "wasserstein")


@dataclass(frozen=True)
class CriticStep:
    """What one critic step computed (detached scalars).

    Attributes:
        loss: the total loss that was back-propagated (penalty included).
        wasserstein: the critic's estimate ``E[D(real)] - E[D(fake)]``.
        penalty: the penalty as applied (times ``k`` on lazy steps; 0 when skipped).
    """

    loss: torch.Tensor
    wasserstein: torch.Tensor
    penalty: torch.Tensor


def mlp(
    sizes: Sequence[int],
    *,
    activation: Callable[[], nn.Module] = nn.ReLU,
    dtype: torch.dtype | None = None,
) -> nn.Sequential:
    """A multilayer perceptron ``sizes[0] -> ... -> sizes[-1]``, no activation at the end.

    No normalisation layers: a BatchNorm would couple the samples of a batch and
    make per-sample input gradients meaningless in a penalised critic.
    """
    sizes = list(sizes)
    if len(sizes) < 2 or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in sizes):
        raise InputError(f"mlp sizes must be >= 2 positive integers, got {sizes!r}")
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Linear(a, b, dtype=dtype))
        if i < len(sizes) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)


def wasserstein_loss(
    critic: Critic,
    real: torch.Tensor,
    fake: torch.Tensor,
    *,
    condition: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The critic loss ``E[D(fake)] - E[D(real)]`` and the estimate ``E[D(real)] - E[D(fake)]``.

    Real and fake go through the critic in one concatenated batch. Where the
    critic refuses it (an ``InputError``, such as a condition of the wrong
    dtype), the real batch alone is shown to the critic again, so that the
    message names the caller's shapes rather than the doubled batch's.
    """
    b = real.shape[0]
    x = torch.cat([real, fake.detach()], dim=0)
    cond = None if condition is None else torch.cat([condition, condition], dim=0)
    try:
        scores = critic_scores(critic, x, cond)
    except InputError:
        with torch.no_grad():
            critic_scores(critic, real, condition)
        raise
    gap = scores[:b].mean() - scores[b:].mean()
    return -gap, gap.detach()


def _autocast(
    device: torch.device, scaler: torch.amp.GradScaler | None, dtype: torch.dtype | None
) -> contextlib.AbstractContextManager[object]:
    if scaler is None or not scaler.is_enabled():
        return contextlib.nullcontext()
    if dtype is None:
        dtype = torch.float16 if device.type == "cuda" else torch.bfloat16
    return torch.autocast(device_type=device.type, dtype=dtype)


def stepped_parameters(optimizer: torch.optim.Optimizer) -> list[torch.Tensor]:
    """The tensors ``optimizer`` updates (those that require grad), in its order.

    A penalised step's backward is taken with respect to these only: the
    penalty's samples (real, fake or interpolated points) are leaves that
    require grad, and a plain ``backward()`` would also compute their gradient,
    one more input-gradient pass through the first layer that nothing uses
    (about 10% of an R1 + R2 step of a small convolutional critic on the CPU).
    Tensors outside the optimiser get no gradient from these steps.
    """
    return [p for g in optimizer.param_groups for p in g["params"] if p.requires_grad]


def critic_step(
    critic: Critic,
    optimizer: torch.optim.Optimizer,
    real: torch.Tensor,
    fake: torch.Tensor,
    *,
    lam: float = 10.0,
    one_sided: bool = False,
    condition: torch.Tensor | None = None,
    alpha: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    lazy: LazyRegularizer | None = None,
    step: int = 0,
    scaler: torch.amp.GradScaler | None = None,
    amp_dtype: torch.dtype | None = None,
    check_finite: bool = True,
) -> CriticStep:
    """One WGAN-GP critic update (zero grads, loss + penalty, backward, optimiser step).

    Args:
        critic: ``D(x)`` or ``D(x, condition)`` (may be a DDP-wrapped module).
        optimizer: the critic's optimiser.
        real, fake: batches of the same shape; ``fake`` is detached here.
        lam: the penalty weight (>= 0; 0 trains a plain, unconstrained critic).
        one_sided: WGAN-LP instead of WGAN-GP.
        condition: the shared condition of each real/fake pair.
        alpha: per-sample interpolation weights ``(B,)``; drawn if ``None``.
        generator: random generator for the ``alpha`` draw.
        lazy: apply the penalty lazily (every ``interval`` steps, weight times
            ``interval``); ``None`` applies it every step.
        step: the step number, for ``lazy``.
        scaler: AMP ``GradScaler`` (enables autocast with ``amp_dtype``).
        amp_dtype: autocast dtype (float16 on CUDA, bfloat16 on CPU by default).
        check_finite: raise ``FloatingPointError`` on a NaN/inf loss (one sync).
            With an enabled scaler an inf is the scaler's business (it skips the
            step and lowers the scale), so only a loss that is not finite once
            the scale has fallen to 1 or below raises.

    Returns:
        A :class:`CriticStep`.
    """
    check_float_tensor("real", real)
    check_float_tensor("fake", fake)
    check_same_shape("real", real, "fake", fake)
    lam = check_lambda("lam", lam)
    if condition is not None:
        check_batch("condition", condition, real.shape[0], of="real", shape=real.shape)
    optimizer.zero_grad(set_to_none=True)
    with _autocast(real.device, scaler, amp_dtype):
        loss, gap = wasserstein_loss(critic, real, fake, condition=condition)

        def penalty() -> torch.Tensor:
            return wgan_gp(
                critic, real, fake, lam=lam, one_sided=one_sided, alpha=alpha,
                condition=condition, generator=generator, scaler=scaler,
            )

        if lam == 0.0:
            pen = None
        elif lazy is None:
            pen = penalty()
        else:
            pen = lazy(step, penalty)
        total = loss if pen is None else loss + pen
    if check_finite and not bool(torch.isfinite(total.detach())):
        if scaler is None or not scaler.is_enabled() or scaler.get_scale() <= 1.0:
            check_finite_loss("the critic loss", total)
    if scaler is not None:
        scaler.scale(total).backward(inputs=stepped_parameters(optimizer))
        scaler.step(optimizer)
        scaler.update()
    else:
        total.backward(inputs=stepped_parameters(optimizer))
        optimizer.step()
    zero = torch.zeros((), dtype=total.dtype, device=total.device)
    return CriticStep(
        loss=total.detach(), wasserstein=gap, penalty=zero if pen is None else pen.detach()
    )


def generator_step(
    generator_net: Callable[..., torch.Tensor],
    critic: Critic,
    optimizer: torch.optim.Optimizer,
    z: torch.Tensor,
    *,
    condition: torch.Tensor | None = None,
    check_finite: bool = True,
) -> torch.Tensor:
    """One generator update on ``-E[D(G(z))]`` (or ``-E[D(G(z, c), c)]``); returns the loss.

    Only the generator's optimiser steps; the critic's gradients are left as
    they were computed (``critic_step`` zeroes them before its own update).
    """
    check_float_tensor("z", z)
    if condition is not None:
        check_batch("condition", condition, z.shape[0], of="z", shape=z.shape)
    optimizer.zero_grad(set_to_none=True)
    fake = generator_net(z) if condition is None else generator_net(z, condition)
    loss = -critic_scores(critic, fake, condition).mean()
    if check_finite:
        check_finite_loss("the generator loss", loss)
    loss.backward()
    optimizer.step()
    return loss.detach()


def discriminator_loss(kind: str, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """The discriminator loss from its scores on real and fake samples ``(B,)``.

    * ``"relativistic"`` (R3GAN's RpGAN): ``E softplus(D(fake) - D(real))``, pairs
      taken in order;
    * ``"nonsaturating"``: ``E softplus(-D(real)) + E softplus(D(fake))``;
    * ``"wasserstein"``: ``E D(fake) - E D(real)``.
    """
    if kind == "relativistic":
        return nn.functional.softplus(fake - real).mean()
    if kind == "nonsaturating":
        return nn.functional.softplus(-real).mean() + nn.functional.softplus(fake).mean()
    if kind == "wasserstein":
        return fake.mean() - real.mean()
    raise InputError(f"unknown loss {kind!r}; allowed: {', '.join(map(repr, GAN_LOSSES))}")


def r1_r2_step(
    critic: Critic,
    optimizer: torch.optim.Optimizer,
    real: torch.Tensor,
    fake: torch.Tensor,
    *,
    gamma: float,
    gamma_fake: float | None = None,
    loss: str = "relativistic",
    condition: torch.Tensor | None = None,
    lazy: LazyRegularizer | None = None,
    step: int = 0,
    check_finite: bool = True,
) -> CriticStep:
    """One discriminator update with R1 + R2 (R3GAN), exact or lazy.

    On a step where the penalty applies, one forward of real and fake together
    gives the scores for the loss and, through one ``autograd.grad`` with
    ``create_graph``, both penalties (:func:`femgp.ml.penalties.r1_r2`); one
    backward of loss plus penalty follows. With ``lazy`` the penalty applies on
    steps ``0, k, 2k, ...`` with its weight multiplied by ``k`` (folded into
    ``gamma`` as StyleGAN2-ADA does); other steps are plain (the inputs do not
    require grad). Under DDP the one backward all-reduces.

    Args:
        critic: ``D(x)`` or ``D(x, condition)``.
        optimizer: the critic's optimiser.
        real, fake: batches of the same shape; ``fake`` is detached.
        gamma: the R1 weight (and the R2 weight unless ``gamma_fake``), >= 0.
        gamma_fake: the R2 weight, default ``gamma``.
        loss: one of :data:`GAN_LOSSES`.
        condition: the condition of each real/fake pair.
        lazy: a :class:`~femgp.ml.penalties.LazyRegularizer`, or ``None``
            (every step).
        step: the step number, for ``lazy``.
        check_finite: raise ``FloatingPointError`` on a NaN/inf loss.

    Returns:
        A :class:`CriticStep`; ``wasserstein`` holds ``E D(real) - E D(fake)``
        and ``penalty`` the R1 + R2 applied (0 on skipped lazy steps).
    """
    check_float_tensor("real", real)
    check_float_tensor("fake", fake)
    check_same_shape("real", real, "fake", fake)
    if loss not in GAN_LOSSES:
        raise InputError(f"unknown loss {loss!r}; allowed: {', '.join(map(repr, GAN_LOSSES))}")
    if condition is not None:
        check_batch("condition", condition, real.shape[0], of="real", shape=real.shape)
    gamma = check_lambda("gamma", gamma)
    if gamma_fake is not None:
        gamma_fake = check_lambda("gamma_fake", gamma_fake)
    due = True if lazy is None else lazy.due(step)
    weight = 1.0 if lazy is None else float(lazy.interval)
    optimizer.zero_grad(set_to_none=True)
    res = r1_r2(
        critic, real, fake, gamma=gamma if due else 0.0,
        gamma_fake=(gamma if gamma_fake is None else gamma_fake) if due else 0.0,
        weight=weight, condition=condition,
    )
    adv = discriminator_loss(loss, res.scores_real, res.scores_fake)
    total = adv + res.penalty
    if check_finite:
        check_finite_loss("the discriminator loss", total)
    total.backward(inputs=stepped_parameters(optimizer))
    optimizer.step()
    gap = (res.scores_real.mean() - res.scores_fake.mean()).detach()
    return CriticStep(loss=total.detach(), wasserstein=gap, penalty=res.penalty.detach())
