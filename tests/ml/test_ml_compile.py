"""torch.compile: the penalties give the eager values to 1e-6, or femgp's own clear error.

PyTorch's compiled graphs cannot be differentiated twice (aot_autograd; PyTorch
issue #91469). The ``aot_eager`` backend goes through the same aot_autograd
path as inductor without generating code, so these tests are quick; the
control shows that the naive double backward through a compiled critic fails.
"""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

import torch
from torch import nn

from femgp.errors import InputError
from femgp.ml.gradnorm import GradientNormPenalty
from femgp.ml.penalties import r1_r2, wgan_gp
from femgp.ml.robust import input_gradient_objective
from femgp.ml.training import critic_step, mlp

pytestmark = pytest.mark.torch

BACKEND = "aot_eager"


def _setup():
    torch.manual_seed(0)
    critic = mlp([4, 16, 16, 1], activation=nn.Softplus, dtype=torch.float64)
    g = torch.Generator().manual_seed(1)
    real = torch.randn(12, 4, generator=g, dtype=torch.float64)
    fake = torch.randn(12, 4, generator=g, dtype=torch.float64) + 0.5
    alpha = torch.rand(12, generator=g, dtype=torch.float64)
    return critic, real, fake, alpha


def _grads(value: torch.Tensor, module: nn.Module) -> list[torch.Tensor]:
    params = list(module.parameters())
    grads = torch.autograd.grad(value, params, allow_unused=True)
    return [torch.zeros_like(p) if g is None else g for g, p in zip(grads, params, strict=True)]


def _penalties(critic, real, fake, alpha) -> torch.Tensor:
    gp = wgan_gp(critic, real, fake, lam=10.0, alpha=alpha)
    rr = r1_r2(critic, real, fake, gamma=2.0)
    x = torch.cat([real, fake])
    y = torch.cat([torch.ones(12), -torch.ones(12)]).to(real.dtype)
    ig = input_gradient_objective(critic, lambda out, s: -s * out.squeeze(1), x, y, lam=0.3)
    return gp + rr.penalty + ig.objective


def test_control_double_backward_through_a_compiled_critic_fails_in_torch() -> None:
    critic, real, _fake, _ = _setup()
    compiled = torch.compile(critic, backend=BACKEND)
    x = real.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(compiled(x).sum(), x, create_graph=True)
    with pytest.raises(RuntimeError, match="double backward"):
        torch.autograd.grad(g.square().sum(), list(critic.parameters()), allow_unused=True)


def test_compiled_critic_gives_the_eager_values_and_gradients() -> None:
    critic, real, fake, alpha = _setup()
    want = _penalties(critic, real, fake, alpha)
    want_grads = _grads(want, critic)
    got = _penalties(torch.compile(critic, backend=BACKEND), real, fake, alpha)
    torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-6)
    for a, b in zip(_grads(got, critic), want_grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6)


def test_compiled_training_step_equals_the_eager_step() -> None:
    critic, real, fake, alpha = _setup()
    eager_critic = mlp([4, 16, 16, 1], activation=nn.Softplus, dtype=torch.float64)
    eager_critic.load_state_dict(critic.state_dict())

    def step(net: nn.Module) -> torch.Tensor:
        loss = (net(fake).mean() - net(real).mean()).squeeze()
        return loss + _penalties(net, real, fake, alpha)

    want = step(eager_critic)
    got = torch.compile(step, backend=BACKEND)(critic)
    torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-6)
    for a, b in zip(_grads(got, critic), _grads(want, eager_critic), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6)
    # and a whole critic_step on the compiled critic updates the weights as in eager mode
    opt_c = torch.optim.SGD(critic.parameters(), lr=0.1)
    opt_e = torch.optim.SGD(eager_critic.parameters(), lr=0.1)
    critic_step(torch.compile(critic, backend=BACKEND), opt_c, real, fake, alpha=alpha)
    critic_step(eager_critic, opt_e, real, fake, alpha=alpha)
    for a, b in zip(critic.parameters(), eager_critic.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6)


def test_compiled_submodule_and_exact_gradnorm_give_femgp_errors() -> None:
    critic, real, fake, alpha = _setup()
    outer = nn.Sequential(torch.compile(critic, backend=BACKEND))
    with pytest.raises(InputError, match=r"torch\.compile'd submodule '0'"):
        wgan_gp(outer, real, fake, alpha=alpha)
    compiled = torch.compile(critic, backend=BACKEND)
    opt = GradientNormPenalty(torch.optim.SGD(critic.parameters(), lr=0.1), lam=0.1,
                              form="exact")
    with pytest.raises(InputError, match="form='finite_difference'"):
        opt.step(lambda: compiled(real).square().mean())
    # the finite-difference form is first-order and runs compiled
    fd = GradientNormPenalty(torch.optim.SGD(critic.parameters(), lr=0.1), lam=0.1,
                             form="finite_difference")
    assert torch.isfinite(fd.step(lambda: compiled(real).square().mean()))
