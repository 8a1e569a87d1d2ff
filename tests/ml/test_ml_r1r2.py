"""R1 + R2 in one double backward (R3GAN), exact and lazy, against separate reference penalties."""

from __future__ import annotations

import copy

import pytest

pytest.importorskip("torch")

import torch
from torch import nn

from femgp.errors import InputError
from femgp.ml.penalties import LazyRegularizer, r1_penalty, r1_r2, r2_penalty
from femgp.ml.training import discriminator_loss, mlp, r1_r2_step

pytestmark = pytest.mark.torch

F64 = torch.float64


def _setup():
    torch.manual_seed(0)
    critic = mlp([3, 32, 32, 1], activation=nn.Softplus, dtype=F64)
    g = torch.Generator().manual_seed(1)
    real = torch.randn(24, 3, generator=g, dtype=F64)
    fake = torch.randn(24, 3, generator=g, dtype=F64) * 0.5 + 1.0
    return critic, real, fake


class Counting(nn.Module):
    """Counts forward calls of the wrapped critic."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net, self.calls = net, 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.net(x)


def test_r1_r2_equals_the_separate_penalties_in_one_forward() -> None:
    critic, real, fake = _setup()
    counted = Counting(critic)
    res = r1_r2(counted, real, fake, gamma=3.0, gamma_fake=0.5)
    assert counted.calls == 1
    torch.testing.assert_close(res.r1, r1_penalty(critic, real, gamma=3.0), rtol=1e-12, atol=0)
    torch.testing.assert_close(res.r2, r2_penalty(critic, fake, gamma=0.5), rtol=1e-12, atol=0)
    torch.testing.assert_close(res.scores_real, critic(real).squeeze(1), rtol=1e-12, atol=0)
    # the parameter gradients of both: those of the separate double backwards
    params = list(critic.parameters())[:-1]  # the last bias does not enter the input gradient
    got = torch.autograd.grad(res.penalty, params)
    ref = torch.autograd.grad(
        r1_penalty(critic, real, gamma=3.0) + r2_penalty(critic, fake, gamma=0.5), params
    )
    for a, b in zip(got, ref, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    # weight multiplies both; zero weights compute nothing but the scores
    res2 = r1_r2(critic, real, fake, gamma=3.0, gamma_fake=0.5, weight=8.0)
    torch.testing.assert_close(res2.penalty, 8.0 * res.penalty, rtol=1e-12, atol=0)
    zero = r1_r2(critic, real, fake, gamma=0.0)
    assert float(zero.penalty) == 0.0 and zero.scores_fake.requires_grad


def test_linear_critic_closed_form() -> None:
    w = torch.tensor([0.3, -1.2, 2.0], dtype=F64)
    real, fake = torch.randn(5, 3, dtype=F64), torch.randn(5, 3, dtype=F64)
    res = r1_r2(lambda x: x @ w, real, fake, gamma=2.0, gamma_fake=4.0)
    s = float(w @ w)
    assert float(res.r1) == pytest.approx(1.0 * s, rel=1e-14)
    assert float(res.r2) == pytest.approx(2.0 * s, rel=1e-14)


def _reference(critic, real, fake, loss, weight):
    opt = torch.optim.SGD(critic.parameters(), lr=0.05)
    opt.zero_grad()
    total = discriminator_loss(loss, critic(real).squeeze(1), critic(fake).squeeze(1))
    if weight:
        total = total + weight * (
            r1_penalty(critic, real, gamma=2.0) + r2_penalty(critic, fake, gamma=2.0)
        )
    total.backward()
    opt.step()
    return total.detach()


@pytest.mark.parametrize("loss", ["relativistic", "nonsaturating", "wasserstein"])
def test_r1_r2_step_matches_a_hand_written_step(loss: str) -> None:
    critic, real, fake = _setup()
    ref = copy.deepcopy(critic)
    res = r1_r2_step(critic, torch.optim.SGD(critic.parameters(), lr=0.05), real, fake,
                     gamma=2.0, loss=loss)
    want = _reference(ref, real, fake, loss, 1.0)
    torch.testing.assert_close(res.loss, want, rtol=1e-12, atol=1e-12)
    for a, b in zip(critic.parameters(), ref.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_lazy_r1_r2_folds_the_interval_into_the_weight() -> None:
    lazy = LazyRegularizer(interval=8)
    for step, weight in ((0, 8.0), (3, 0.0), (16, 8.0)):
        critic, real, fake = _setup()
        ref = copy.deepcopy(critic)
        res = r1_r2_step(critic, torch.optim.SGD(critic.parameters(), lr=0.05), real, fake,
                         gamma=2.0, lazy=lazy, step=step)
        _reference(ref, real, fake, "relativistic", weight)
        for a, b in zip(critic.parameters(), ref.parameters(), strict=True):
            torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
        assert (float(res.penalty) == 0.0) == (weight == 0.0)
    # control: a lazy step that forgot the interval would differ from the reference
    critic, real, fake = _setup()
    ref = copy.deepcopy(critic)
    r1_r2_step(critic, torch.optim.SGD(critic.parameters(), lr=0.05), real, fake, gamma=2.0)
    _reference(ref, real, fake, "relativistic", 8.0)
    assert not all(torch.allclose(a, b) for a, b in zip(critic.parameters(), ref.parameters(),
                                                         strict=True))


def test_r1_r2_bad_input() -> None:
    critic, real, fake = _setup()
    opt = torch.optim.SGD(critic.parameters(), lr=0.1)
    with pytest.raises(InputError, match="gamma must be >= 0, got -1"):
        r1_r2_step(critic, opt, real, fake, gamma=-1.0)
    with pytest.raises(InputError, match="unknown loss 'hinge'"):
        r1_r2_step(critic, opt, real, fake, gamma=1.0, loss="hinge")
    with pytest.raises(InputError, match=r"real and fake must have the same shape, got \(24, 3\) "
                                         r"and \(23, 3\)"):
        r1_r2(critic, real, fake[:23], gamma=1.0)
    with pytest.raises(InputError, match=r"condition has batch size 5 but real has batch size 24 "
                                         r"\(shapes \(5,\) and \(24, 3\)\)"):
        r1_r2(lambda x, c: x.sum(1), real, fake, gamma=1.0, condition=torch.zeros(5))
