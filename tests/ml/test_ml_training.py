"""WGAN-GP critic and generator steps: laziness, mixed precision, NaN guards."""

from __future__ import annotations

import copy
import re

import pytest

pytest.importorskip("torch")

import torch
from torch import nn

from femgp.ml.penalties import LazyRegularizer, critic_input_gradient, interpolate, wgan_gp
from femgp.ml.training import critic_step, generator_step, mlp

pytestmark = pytest.mark.torch


def _setup(dtype: torch.dtype = torch.float64):
    torch.manual_seed(0)
    critic = mlp([2, 32, 32, 1], activation=nn.Softplus, dtype=dtype)
    gen = torch.Generator().manual_seed(1)
    real = torch.randn(64, 2, generator=gen, dtype=dtype)
    fake = torch.randn(64, 2, generator=gen, dtype=dtype) * 0.5 + 1.0
    alpha = torch.rand(64, generator=gen, dtype=dtype)
    return critic, real, fake, alpha


def _reference_step(critic, real, fake, alpha, lam, weight=1.0):
    opt = torch.optim.SGD(critic.parameters(), lr=0.1)
    loss = critic(fake).mean() - critic(real).mean()
    loss = loss + weight * wgan_gp(critic, real, fake, lam=lam, alpha=alpha)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss


def test_critic_step_matches_a_hand_written_step() -> None:
    critic, real, fake, alpha = _setup()
    ref = copy.deepcopy(critic)
    res = critic_step(critic, torch.optim.SGD(critic.parameters(), lr=0.1), real, fake,
                      lam=10.0, alpha=alpha)
    ref_loss = _reference_step(ref, real, fake, alpha, 10.0)
    torch.testing.assert_close(res.loss, ref_loss.detach(), rtol=1e-12, atol=1e-12)
    for a, b in zip(critic.parameters(), ref.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    assert float(res.penalty) > 0


def test_lazy_critic_step_skips_and_scales() -> None:
    lazy = LazyRegularizer(interval=4)
    for step, weight in ((0, 4.0), (1, 0.0), (4, 4.0)):
        critic, real, fake, alpha = _setup()
        ref = copy.deepcopy(critic)
        res = critic_step(critic, torch.optim.SGD(critic.parameters(), lr=0.1), real, fake,
                          alpha=alpha, lazy=lazy, step=step)
        _reference_step(ref, real, fake, alpha, 10.0, weight=weight)
        for a, b in zip(critic.parameters(), ref.parameters(), strict=True):
            torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
        assert (float(res.penalty) == 0.0) == (weight == 0.0)


def test_generator_step_moves_fakes_up_the_critic() -> None:
    critic, _real, _fake, _alpha = _setup()
    torch.manual_seed(3)
    g = mlp([2, 16, 2], dtype=torch.float64)
    opt = torch.optim.SGD(g.parameters(), lr=0.05)
    z = torch.randn(64, 2, dtype=torch.float64)
    before = critic(g(z)).mean().detach()
    generator_step(g, critic, opt, z)
    assert critic(g(z)).mean() > before


def test_nan_is_never_silent() -> None:
    critic, real, fake, _alpha = _setup()
    opt = torch.optim.SGD(critic.parameters(), lr=0.1)
    bad = real.clone()
    bad[3, 0] = float("nan")
    with pytest.raises(FloatingPointError, match="critic loss is not finite"):
        critic_step(critic, opt, bad, fake)
    with pytest.raises(FloatingPointError, match="generator loss is not finite"):
        generator_step(lambda z: z * float("nan"), critic, opt, real)


def test_bad_input() -> None:
    critic, real, fake, _alpha = _setup()
    opt = torch.optim.SGD(critic.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="lam must be >= 0, got -2"):
        critic_step(critic, opt, real, fake, lam=-2)
    # both shapes named (the message gave the batch sizes alone)
    shapes = rf"\(shapes \(3, 1\) and {re.escape(str(tuple(real.shape)))}\)"
    with pytest.raises(ValueError, match="condition has batch size 3 but real has batch size 64 "
                       + shapes):
        critic_step(lambda x, c: x.sum(1), opt, real, fake, condition=torch.zeros(3, 1))
    with pytest.raises(ValueError, match="mlp sizes"):
        mlp([3])


# -- mixed precision (PyTorch's AMP gradient-penalty recipe, on the CPU) --------------------
def test_scaled_input_gradient_is_unscaled() -> None:
    critic, real, fake, alpha = _setup(torch.float32)
    x = interpolate(real, fake, alpha=alpha)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**12)
    _, plain = critic_input_gradient(critic, x)
    _, scaled = critic_input_gradient(critic, x, scaler=scaler)
    torch.testing.assert_close(scaled, plain, rtol=1e-6, atol=1e-7)
    p0 = wgan_gp(critic, real, fake, alpha=alpha)
    p1 = wgan_gp(critic, real, fake, alpha=alpha, scaler=scaler)
    torch.testing.assert_close(p0, p1, rtol=1e-6, atol=1e-7)


def test_amp_critic_step_follows_the_fp32_step() -> None:
    critic, real, fake, alpha = _setup(torch.float32)
    amp_critic = copy.deepcopy(critic)
    critic_step(critic, torch.optim.SGD(critic.parameters(), lr=0.01), real, fake, alpha=alpha)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**10)
    res = critic_step(amp_critic, torch.optim.SGD(amp_critic.parameters(), lr=0.01), real, fake,
                      alpha=alpha, scaler=scaler)
    assert scaler.get_scale() == 2.0**10  # no overflow, the step was taken
    assert torch.isfinite(res.loss)
    start = _setup(torch.float32)[0]
    for a, b, s in zip(amp_critic.parameters(), critic.parameters(), start.parameters(),
                       strict=True):
        step_fp32, step_amp = (b - s).detach(), (a - s).detach()
        # bfloat16 autocast: the same step to bfloat16 accuracy (measured: at most 0.55 %)
        assert float((step_amp - step_fp32).norm()) <= 0.02 * float(step_fp32.norm()) + 1e-6
