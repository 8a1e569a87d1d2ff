"""Critic gradient penalties rendered from :class:`femgp.energy.GradientPenalty`.

Every penalty here is the *same* energy term as the phase-field edge cost,
evaluated on the critic's input gradient instead of a field gradient:

- WGAN-GP (Gulrajani et al. 2017): ``lam E(||grad D(x_hat)|| - 1)^2``, the term
  ``GradientPenalty(kappa=2 lam, target=1)``;
- WGAN-LP (Petzka et al. 2018): ``lam E max(0, ||grad D|| - 1)^2``, the same term
  with ``one_sided=True``;
- R1 / R2 (Mescheder et al. 2018): ``gamma/2 E||grad D(x)||^2`` on real / fake
  samples, the term ``GradientPenalty(kappa=gamma, target=0)``;
- DRAGAN (Kodali et al. 2017): the WGAN-GP term at perturbations of the real data.

Norms are per sample over *all* non-batch dimensions (see
:func:`femgp.ml.ops.per_sample_density`), never per pixel, and have a zero
gradient at zero. Interpolation weights are one ``alpha`` per sample.

Conditional critics ``D(x, c)`` take the penalty with respect to the data
``x`` only: real and fake samples that share a condition are interpolated, the
condition is passed through untouched, and ``grad_c D`` is never penalised.

Mixed precision follows PyTorch's "Automatic Mixed Precision examples"
(gradient penalty): the critic output is scaled by the ``GradScaler`` before
``autograd.grad``, the input gradient is unscaled by ``1/scale``, and the
penalty itself is computed under the caller's autocast. Under
DistributedDataParallel the input gradient is taken out of place with
``autograd.grad`` (no ``.grad`` is touched, no all-reduce happens), and the
final ``backward`` of loss plus penalty does the one all-reduce.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from femgp.energy.terms import GradientPenalty
from femgp.errors import InputError
from femgp.ml.eager import eager_model
from femgp.ml.ops import per_sample_density
from femgp.ml.validation import (
    check_batch,
    check_float_tensor,
    check_interval,
    check_lambda,
    check_per_sample_model,
    check_positive,
    check_same_shape,
)

__all__ = [
    "R1R2",
    "Critic",
    "LazyRegularizer",
    "critic_input_gradient",
    "dragan_penalty",
    "dragan_points",
    "draw_alpha",
    "interpolate",
    "lazy_adam_hparams",
    "r1_penalty",
    "r1_r2",
    "r1_term",
    "r2_penalty",
    "term_penalty",
    "wgan_gp",
    "wgan_gp_term",
    "wgan_lp",
]

#: A critic: ``D(x)`` or ``D(x, condition)``, one score per sample.
Critic = Callable[..., torch.Tensor]

#: Field name used when an energy term is rendered on a critic's input gradient.
FIELD = "x"


# -- the energy terms ------------------------------------------------------------
def wgan_gp_term(lam: float, *, one_sided: bool = False) -> GradientPenalty | None:
    """The WGAN-GP (or, one-sided, WGAN-LP) term ``lam (||g|| - 1)^2``; ``None`` if ``lam == 0``.

    It is ``GradientPenalty(kappa=2*lam, target=1, one_sided=one_sided)``.
    """
    lam = check_lambda("lam", lam)
    if lam == 0.0:
        return None
    return GradientPenalty(kappa=2.0 * lam, field=FIELD, target=1.0, one_sided=bool(one_sided))


def r1_term(gamma: float) -> GradientPenalty | None:
    """The R1/R2 term ``gamma/2 ||g||^2`` = ``GradientPenalty(kappa=gamma)``; ``None`` if 0."""
    gamma = check_lambda("gamma", gamma)
    if gamma == 0.0:
        return None
    return GradientPenalty(kappa=gamma, field=FIELD, target=0.0)


def term_penalty(term: GradientPenalty | None, grad: torch.Tensor) -> torch.Tensor:
    """The batch mean of ``term``'s density on per-sample gradients ``grad`` (``(B, ...)``).

    ``None`` (a zero weight) gives an exact zero that keeps the graph.
    """
    if term is None:
        return grad.sum() * 0.0
    return per_sample_density(term, grad).mean()


# -- interpolation and input gradients -----------------------------------------------
def draw_alpha(
    batch: int,
    *,
    like: torch.Tensor,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """One uniform ``alpha`` in ``[0, 1)`` per sample, shape ``(batch,)``, on ``like``'s device.

    Drawn on the generator's device (CPU by default) and moved, so that a seeded
    CPU generator gives the same draws whatever the device of the data.
    """
    gen_device = generator.device if generator is not None else torch.device("cpu")
    a = torch.rand(batch, generator=generator, device=gen_device, dtype=torch.float64)
    return a.to(device=like.device, dtype=like.dtype)


def _check_alpha(alpha: torch.Tensor, batch: int, name: str = "alpha") -> None:
    check_float_tensor(name, alpha)
    if alpha.ndim != 1 or alpha.shape[0] != batch:
        raise InputError(
            f"{name} must have shape ({batch},) (one weight per sample), got {tuple(alpha.shape)}"
        )
    if bool(((alpha < 0) | (alpha > 1)).any()):
        raise InputError(f"{name} must lie in [0, 1]")


def _per_sample(alpha: torch.Tensor, ndim: int) -> torch.Tensor:
    return alpha.reshape(alpha.shape[0], *([1] * (ndim - 1)))


def interpolate(
    real: torch.Tensor,
    fake: torch.Tensor,
    *,
    alpha: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """``x_hat = alpha real + (1 - alpha) fake`` with one ``alpha`` per sample.

    The result is detached from both inputs (no gradient reaches the generator)
    and is a fresh leaf that requires grad.

    Args:
        real, fake: batches of the same shape ``(B, ...)``.
        alpha: weights of shape ``(B,)`` in ``[0, 1]``; drawn uniformly if ``None``.
        generator: random generator for the draw.
    """
    check_float_tensor("real", real)
    check_float_tensor("fake", fake)
    check_same_shape("real", real, "fake", fake)
    if alpha is None:
        alpha = draw_alpha(real.shape[0], like=real, generator=generator)
    else:
        _check_alpha(alpha, real.shape[0])
        alpha = alpha.to(device=real.device, dtype=real.dtype)
    a = _per_sample(alpha, real.ndim)
    x_hat = a * real.detach() + (1 - a) * fake.detach()
    return x_hat.requires_grad_(True)


def critic_scores(critic: Critic, x: torch.Tensor, condition: torch.Tensor | None) -> torch.Tensor:
    out = critic(x) if condition is None else critic(x, condition)
    if not isinstance(out, torch.Tensor) or out.numel() != x.shape[0]:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise InputError(
            f"the critic must return one score per sample ({x.shape[0]}), got {shape}"
        )
    return out.reshape(x.shape[0])


@torch.compiler.disable
def critic_input_gradient(
    critic: Critic,
    x: torch.Tensor,
    *,
    condition: torch.Tensor | None = None,
    scaler: torch.amp.GradScaler | None = None,
    create_graph: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The critic's scores at ``x`` and their per-sample gradients with respect to ``x`` only.

    ``sum_i D(x_i)`` is differentiated, which gives each sample's own gradient
    as long as the critic treats samples independently (no BatchNorm in a
    penalised critic). The condition is passed to the critic as is and is not
    an input of the derivative.

    With a ``scaler`` (AMP), the summed scores are scaled before
    ``autograd.grad`` (run outside autocast) and the gradient is multiplied by
    ``1/scale``, as in PyTorch's AMP gradient-penalty recipe.

    Under ``torch.compile`` it runs eagerly (see :mod:`femgp.ml.eager`): a
    compiled critic is evaluated on the module it wraps, and a compiled
    training step breaks its graph here. A critic with a layer that normalises
    over the batch (BatchNorm in training mode) is refused, naming the layer.

    Args:
        critic: ``D(x)`` or ``D(x, condition)``.
        x: a leaf tensor that requires grad (e.g. from :func:`interpolate`); if
            it does not, a detached copy that does is used.
        condition: passed through to the critic; its batch size must match.
        scaler: a ``torch.amp.GradScaler``, or ``None``.
        create_graph: keep the graph for the double backward (the default).

    Returns:
        ``(scores (B,), grad (B, ...))``.
    """
    check_float_tensor("x", x)
    if condition is not None:
        check_batch("condition", condition, x.shape[0], shape=x.shape)
    check_per_sample_model("the critic's", critic, penalty="gradient")
    if create_graph:
        critic = eager_model(critic)
    if not x.requires_grad:
        x = x.detach().requires_grad_(True)
    scores = critic_scores(critic, x, condition)
    total = scores.sum()
    if scaler is not None:
        total = scaler.scale(total)
    with torch.autocast(device_type=x.device.type, enabled=False):
        (grad,) = torch.autograd.grad(total, x, create_graph=create_graph)
    if scaler is not None:
        grad = grad * (1.0 / scaler.get_scale())
    return scores, grad


# -- the penalties -------------------------------------------------------------------
def wgan_gp(
    critic: Critic,
    real: torch.Tensor,
    fake: torch.Tensor,
    *,
    lam: float = 10.0,
    one_sided: bool = False,
    alpha: torch.Tensor | None = None,
    condition: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    scaler: torch.amp.GradScaler | None = None,
) -> torch.Tensor:
    """The WGAN-GP penalty ``lam E[(||grad_x D(x_hat)|| - 1)^2]`` (WGAN-LP if ``one_sided``).

    ``x_hat`` interpolates real and fake with one ``alpha`` per sample. For a
    conditional critic, ``real[i]`` and ``fake[i]`` must share ``condition[i]``
    (generate the fakes from the real samples' conditions); the condition is
    passed through untouched and only the data gradient is penalised.

    Args:
        critic: ``D(x)`` or ``D(x, condition)``, one score per sample.
        real, fake: batches of the same shape ``(B, ...)``.
        lam: the penalty weight (>= 0; 10 in Gulrajani et al.).
        one_sided: penalise only ``||grad|| > 1`` (WGAN-LP).
        alpha: interpolation weights ``(B,)``; drawn if ``None``. Pass them to
            reproduce a step exactly (e.g. the shard of a global draw under DDP).
        condition: the shared condition of each pair, batch first.
        generator: random generator for the ``alpha`` draw.
        scaler: AMP ``GradScaler``; call this under autocast.

    Returns:
        The scalar penalty (mean over the batch).
    """
    term = wgan_gp_term(lam, one_sided=one_sided)
    x_hat = interpolate(real, fake, alpha=alpha, generator=generator)
    if term is None:
        return torch.zeros((), dtype=real.dtype, device=real.device)
    _, grad = critic_input_gradient(critic, x_hat, condition=condition, scaler=scaler)
    return term_penalty(term, grad)


def wgan_lp(
    critic: Critic,
    real: torch.Tensor,
    fake: torch.Tensor,
    *,
    lam: float = 10.0,
    alpha: torch.Tensor | None = None,
    condition: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    scaler: torch.amp.GradScaler | None = None,
) -> torch.Tensor:
    """The one-sided WGAN-LP penalty ``lam E[max(0, ||grad D(x_hat)|| - 1)^2]``."""
    return wgan_gp(
        critic, real, fake, lam=lam, one_sided=True, alpha=alpha, condition=condition,
        generator=generator, scaler=scaler,
    )


def _r_penalty(
    name: str,
    critic: Critic,
    x: torch.Tensor,
    gamma: float,
    condition: torch.Tensor | None,
    scaler: torch.amp.GradScaler | None,
) -> torch.Tensor:
    check_float_tensor(name, x)
    term = r1_term(gamma)
    if term is None:
        return torch.zeros((), dtype=x.dtype, device=x.device)
    x = x.detach().requires_grad_(True)
    _, grad = critic_input_gradient(critic, x, condition=condition, scaler=scaler)
    return term_penalty(term, grad)


def r1_penalty(
    critic: Critic,
    real: torch.Tensor,
    *,
    gamma: float,
    condition: torch.Tensor | None = None,
    scaler: torch.amp.GradScaler | None = None,
) -> torch.Tensor:
    """R1 (Mescheder et al. 2018): ``gamma/2 E_real ||grad_x D(x)||^2``, per-sample norms."""
    return _r_penalty("real", critic, real, gamma, condition, scaler)


def r2_penalty(
    critic: Critic,
    fake: torch.Tensor,
    *,
    gamma: float,
    condition: torch.Tensor | None = None,
    scaler: torch.amp.GradScaler | None = None,
) -> torch.Tensor:
    """R2: ``gamma/2 E_fake ||grad_x D(x)||^2`` on (detached) generated samples."""
    return _r_penalty("fake", critic, fake, gamma, condition, scaler)


@dataclass(frozen=True)
class R1R2:
    """R1 and R2 from one forward and one double backward (:func:`r1_r2`).

    Attributes:
        scores_real, scores_fake: the critic's scores ``(B,)`` on real and fake
            samples, with their graph: build the adversarial loss from them and
            the forward pass is shared with the penalty.
        r1: ``weight * gamma/2 E_real ||grad_x D||^2`` (with its graph).
        r2: ``weight * gamma_fake/2 E_fake ||grad_x D||^2`` (with its graph).
    """

    scores_real: torch.Tensor
    scores_fake: torch.Tensor
    r1: torch.Tensor
    r2: torch.Tensor

    @property
    def penalty(self) -> torch.Tensor:
        """``r1 + r2``."""
        return self.r1 + self.r2


def r1_r2(
    critic: Critic,
    real: torch.Tensor,
    fake: torch.Tensor,
    *,
    gamma: float,
    gamma_fake: float | None = None,
    weight: float = 1.0,
    condition: torch.Tensor | None = None,
    scaler: torch.amp.GradScaler | None = None,
) -> R1R2:
    """R1 + R2 (R3GAN, Huang et al. 2025) in one forward and one double backward.

    Real and (detached) fake samples go through the critic as one batch whose
    input requires grad; one ``autograd.grad`` of the summed scores gives every
    sample's input gradient, split into the real half (R1) and the fake half
    (R2). The scores are returned with their graph so that the adversarial
    loss reuses this forward: a discriminator step with R1 + R2 then costs one
    forward, one ``autograd.grad`` with ``create_graph`` and one backward.

    Args:
        critic: ``D(x)`` or ``D(x, condition)``, one score per sample.
        real, fake: batches of the same shape ``(B, ...)``.
        gamma: the R1 weight (>= 0); the R2 weight too unless ``gamma_fake``.
        gamma_fake: the R2 weight (>= 0), default ``gamma``.
        weight: a factor on both (>= 0): pass the lazy interval ``k`` on the
            steps where a lazy penalty is due (StyleGAN2-ADA's ``gain``).
        condition: the condition of each real/fake pair (the same for both).
        scaler: AMP ``GradScaler`` (see :func:`critic_input_gradient`).
    """
    check_float_tensor("real", real)
    check_float_tensor("fake", fake)
    check_same_shape("real", real, "fake", fake)
    if condition is not None:
        check_batch("condition", condition, real.shape[0], of="real", shape=real.shape)
    gamma = check_lambda("gamma", gamma)
    gamma_fake = gamma if gamma_fake is None else check_lambda("gamma_fake", gamma_fake)
    weight = check_lambda("weight", weight)
    t_real = r1_term(gamma * weight)
    t_fake = r1_term(gamma_fake * weight)
    b = real.shape[0]
    x = torch.cat([real.detach(), fake.detach()], dim=0).requires_grad_(True)
    cond = None if condition is None else torch.cat([condition, condition], dim=0)
    if t_real is None and t_fake is None:
        scores = critic_scores(critic, x.detach(), cond)
        zero = scores.sum() * 0.0
        return R1R2(scores_real=scores[:b], scores_fake=scores[b:], r1=zero, r2=zero)
    scores, grad = critic_input_gradient(critic, x, condition=cond, scaler=scaler)
    return R1R2(
        scores_real=scores[:b], scores_fake=scores[b:],
        r1=term_penalty(t_real, grad[:b]), r2=term_penalty(t_fake, grad[b:]),
    )


def dragan_points(
    real: torch.Tensor,
    *,
    c: float = 0.5,
    noise: torch.Tensor | None = None,
    alpha: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """DRAGAN's perturbed points ``x + alpha (x_p - x)``, ``x_p = x + c std(x) U[0, 1)``.

    As in Kodali et al.'s reference code, ``std`` is the population standard
    deviation of the whole batch, the noise is uniform per element and
    ``alpha`` is uniform per sample.

    Args:
        real: the real batch ``(B, ...)``.
        c: the perturbation scale (> 0; 0.5 in the paper's code).
        noise: the ``U[0, 1)`` noise, shape of ``real`` (cast to its dtype and
            device); drawn if ``None``.
        alpha: per-sample weights ``(B,)``; drawn if ``None``.
        generator: random generator for the draws.
    """
    check_float_tensor("real", real)
    c = check_positive("c", c)
    real = real.detach()
    if noise is None:
        gen_device = generator.device if generator is not None else torch.device("cpu")
        noise = torch.rand(real.shape, generator=generator, device=gen_device, dtype=real.dtype)
        noise = noise.to(real.device)
    else:
        check_float_tensor("noise", noise)
        check_same_shape("noise", noise, "real", real)
        noise = noise.to(device=real.device, dtype=real.dtype)  # as interpolate does for alpha
    x_p = real + c * real.std(correction=0) * noise
    return interpolate(x_p, real, alpha=alpha, generator=generator)


def dragan_penalty(
    critic: Critic,
    real: torch.Tensor,
    *,
    lam: float = 10.0,
    c: float = 0.5,
    noise: torch.Tensor | None = None,
    alpha: torch.Tensor | None = None,
    condition: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    scaler: torch.amp.GradScaler | None = None,
) -> torch.Tensor:
    """DRAGAN: ``lam E[(||grad D(x_hat)|| - 1)^2]`` at perturbations of the real data.

    See :func:`dragan_points` for the perturbation; the term is the WGAN-GP one.
    """
    term = wgan_gp_term(lam)
    x_hat = dragan_points(real, c=c, noise=noise, alpha=alpha, generator=generator)
    if term is None:
        return torch.zeros((), dtype=real.dtype, device=real.device)
    _, grad = critic_input_gradient(critic, x_hat, condition=condition, scaler=scaler)
    return term_penalty(term, grad)


# -- lazy regularisation -------------------------------------------------------------
@dataclass(frozen=True)
class LazyRegularizer:
    """Apply a penalty every ``interval`` steps with its weight multiplied by ``interval``.

    This is StyleGAN2's lazy regularisation: in expectation the penalty's
    gradient is unchanged, at ``1/interval`` of its cost. Step numbers count
    from 0 and the penalty is applied on steps ``0, k, 2k, ...``.

    Args:
        interval: ``k >= 1`` (1 applies the penalty every step).
    """

    interval: int = 16

    def __post_init__(self) -> None:
        check_interval("LazyRegularizer.interval", self.interval)

    def due(self, step: int) -> bool:
        """Whether the penalty is applied at ``step``."""
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise InputError(f"step must be an integer >= 0, got {step!r}")
        return step % self.interval == 0

    def __call__(self, step: int, penalty: Callable[[], torch.Tensor]) -> torch.Tensor | None:
        """``interval * penalty()`` on due steps, ``None`` (nothing computed) otherwise."""
        if not self.due(step):
            return None
        return penalty() * float(self.interval)


def lazy_adam_hparams(
    lr: float, betas: tuple[float, float], *, interval: int
) -> tuple[float, tuple[float, float]]:
    """StyleGAN2's Adam settings for a regulariser run as its *own* optimiser step.

    When the lazy penalty takes a separate step every ``interval`` main steps,
    StyleGAN2 scales ``lr`` by ``r = k/(k+1)`` and raises ``betas`` to the power
    ``r`` so that the optimiser's time constants stay those of the main steps.
    Not needed when the penalty is added to the main step's loss, as
    :func:`femgp.ml.training.critic_step` does.
    """
    k = check_interval("interval", interval)
    lr = check_positive("lr", lr)
    r = k / (k + 1)
    return lr * r, (betas[0] ** r, betas[1] ** r)
