"""Critic penalties: closed forms, reference implementations, conditions, laziness, bad input."""

from __future__ import annotations

import math

import pytest

pytest.importorskip("torch")

import torch
from torch import nn

from femgp.energy import GradientPenalty
from femgp.errors import InputError
from femgp.ml.penalties import (
    LazyRegularizer,
    critic_input_gradient,
    dragan_penalty,
    dragan_points,
    interpolate,
    lazy_adam_hparams,
    r1_penalty,
    r1_term,
    r2_penalty,
    wgan_gp,
    wgan_gp_term,
    wgan_lp,
)
from femgp.ml.training import mlp

pytestmark = pytest.mark.torch

F64 = torch.float64


class Linear(nn.Module):
    """D(x) = w . x over all non-batch dimensions."""

    def __init__(self, w: torch.Tensor) -> None:
        super().__init__()
        self.w = nn.Parameter(w.clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x * self.w).reshape(x.shape[0], -1).sum(dim=1)


def _data(b: int = 16, shape: tuple[int, ...] = (3,), seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    real = torch.randn(b, *shape, generator=g, dtype=F64)
    fake = torch.randn(b, *shape, generator=g, dtype=F64) + 0.5
    return real, fake, g


# -- closed forms for a linear critic ------------------------------------------------------
@pytest.mark.parametrize("shape", [(3,), (2, 4, 4)])
def test_linear_critic_gp_and_r1_closed_forms(shape: tuple[int, ...]) -> None:
    real, fake, g = _data(shape=shape)
    w0 = torch.randn(*shape, generator=g, dtype=F64)
    D = Linear(w0)
    lam, gamma = 10.0, 3.0
    nw = w0.norm()
    for seed in range(3):  # every interpolation gives the same value
        gen = torch.Generator().manual_seed(seed)
        gp = wgan_gp(D, real, fake, lam=lam, generator=gen)
        torch.testing.assert_close(gp, lam * (nw - 1) ** 2, rtol=1e-12, atol=0)
    alpha = torch.tensor([0.0, 1.0] + [0.5] * (real.shape[0] - 2), dtype=F64)
    gp = wgan_gp(D, real, fake, lam=lam, alpha=alpha)
    torch.testing.assert_close(gp, lam * (nw - 1) ** 2, rtol=1e-12, atol=0)
    (dw,) = torch.autograd.grad(gp, D.w)
    torch.testing.assert_close(dw, 2 * lam * (nw - 1) * w0 / nw, rtol=1e-12, atol=1e-14)
    r1 = r1_penalty(D, real, gamma=gamma)
    torch.testing.assert_close(r1, gamma / 2 * nw**2, rtol=1e-12, atol=0)
    (dw,) = torch.autograd.grad(r1, D.w)
    torch.testing.assert_close(dw, gamma * w0, rtol=1e-12, atol=1e-14)
    r2 = r2_penalty(D, fake, gamma=gamma)
    torch.testing.assert_close(r2, gamma / 2 * nw**2, rtol=1e-12, atol=0)


def test_one_sided_penalty_on_a_linear_critic() -> None:
    real, fake, _ = _data()
    small = Linear(torch.tensor([0.3, 0.4, 0.0], dtype=F64))  # ||w|| = 0.5
    big = Linear(torch.tensor([3.0, 4.0, 0.0], dtype=F64))  # ||w|| = 5
    assert float(wgan_lp(small, real, fake, lam=10.0).detach()) == 0.0
    torch.testing.assert_close(wgan_gp(small, real, fake, lam=10.0), torch.tensor(2.5, dtype=F64))
    torch.testing.assert_close(wgan_lp(big, real, fake, lam=10.0), torch.tensor(160.0, dtype=F64))


def test_optimal_slope_for_shifted_gaussians() -> None:
    """max_w E_real[w x] - E_fake[w x] - lam (|w| - 1)^2 has w* = 1 + Delta/(2 lam)."""
    g = torch.Generator().manual_seed(1)
    delta, n = 0.8, 1024
    real = torch.randn(n, 1, generator=g, dtype=F64) + delta
    fake = torch.randn(n, 1, generator=g, dtype=F64)
    d_hat = float(real.mean() - fake.mean())  # the sample shift
    for lam in (0.5, 2.0, 10.0):
        D = Linear(torch.tensor([0.2], dtype=F64))
        opt = torch.optim.SGD(D.parameters(), lr=0.25 / lam)
        for _ in range(60):  # the error halves every step
            loss = D(fake).mean() - D(real).mean() + wgan_gp(D, real, fake, lam=lam, generator=g)
            opt.zero_grad()
            loss.backward()
            opt.step()
        assert float(D.w.detach()) == pytest.approx(1 + d_hat / (2 * lam), abs=1e-9)
    assert d_hat == pytest.approx(delta, abs=0.15)


# -- reference implementations ------------------------------------------------------
def _ref_wgan_gp(D, real, fake, alpha, lam, one_sided=False, condition=None):
    a = alpha.view(-1, *([1] * (real.ndim - 1)))
    x = (a * real + (1 - a) * fake).detach().requires_grad_(True)
    out = D(x) if condition is None else D(x, condition)
    (g,) = torch.autograd.grad(out, x, grad_outputs=torch.ones_like(out), create_graph=True)
    excess = g.reshape(g.shape[0], -1).norm(2, dim=1) - 1
    if one_sided:
        excess = excess.clamp(min=0)
    return lam * (excess**2).mean()


def _ref_r1(D, x, gamma):
    x = x.detach().requires_grad_(True)
    out = D(x)
    (g,) = torch.autograd.grad(out.sum(), x, create_graph=True)
    return gamma / 2 * g.pow(2).reshape(g.shape[0], -1).sum(1).mean()


def _conv_critic() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1), nn.LeakyReLU(0.2), nn.Conv2d(4, 4, 3, stride=2),
        nn.Softplus(), nn.Flatten(), nn.Linear(4 * 3 * 3, 1),
    ).to(F64)


def _grads(loss, module):
    # the last bias does not move grad_x D: its penalty gradient is zero
    return torch.autograd.grad(
        loss, list(module.parameters()), allow_unused=True, materialize_grads=True
    )


@pytest.mark.parametrize("one_sided", [False, True])
def test_wgan_gp_matches_reference(one_sided: bool) -> None:
    real, fake, g = _data(b=8, shape=(2, 7, 7))
    D = _conv_critic()
    alpha = torch.rand(8, generator=g, dtype=F64)
    ours = wgan_gp(D, real, fake, lam=7.0, one_sided=one_sided, alpha=alpha)
    ref = _ref_wgan_gp(D, real, fake, alpha, 7.0, one_sided=one_sided)
    torch.testing.assert_close(ours, ref, rtol=1e-6, atol=1e-10)
    for a, b in zip(_grads(ours, D), _grads(ref, D), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-10)


def test_drawn_alpha_is_one_uniform_weight_per_sample() -> None:
    """Without ``alpha`` the draw is one weight per sample, the same as passing that draw."""
    real, fake, _ = _data(b=8, shape=(2, 7, 7))
    D = _conv_critic()
    drawn = torch.rand(8, generator=torch.Generator().manual_seed(5), dtype=F64)
    x_hat = interpolate(real, fake, generator=torch.Generator().manual_seed(5))
    a = drawn.view(-1, 1, 1, 1)
    torch.testing.assert_close(x_hat, a * real + (1 - a) * fake, rtol=1e-14, atol=1e-14)
    ours = wgan_gp(D, real, fake, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(ours, _ref_wgan_gp(D, real, fake, drawn, 10.0), rtol=1e-12, atol=0)
    # control: one weight shared by the whole batch gives other points and another penalty
    shared = drawn[:1].expand(8)
    assert not torch.allclose(x_hat, interpolate(real, fake, alpha=shared), rtol=0.1, atol=0)
    assert not torch.allclose(ours, _ref_wgan_gp(D, real, fake, shared, 10.0), rtol=1e-6, atol=0)


def test_r1_r2_dragan_match_references() -> None:
    real, fake, g = _data(b=8, shape=(2, 7, 7))
    D = _conv_critic()
    for ours, ref in [
        (r1_penalty(D, real, gamma=4.0), _ref_r1(D, real, 4.0)),
        (r2_penalty(D, fake, gamma=0.5), _ref_r1(D, fake, 0.5)),
    ]:
        torch.testing.assert_close(ours, ref, rtol=1e-6, atol=1e-10)
        for a, b in zip(_grads(ours, D), _grads(ref, D), strict=True):
            torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-10)
    # DRAGAN: x + alpha * (x_p - x), x_p = x + 0.5 * std(x) * U, as in Kodali et al.'s code
    noise = torch.rand(real.shape, generator=g, dtype=F64)
    alpha = torch.rand(8, generator=g, dtype=F64)
    x_p = real + 0.5 * real.std(correction=0) * noise
    ref_points = real + alpha.view(-1, 1, 1, 1) * (x_p - real)
    pts = dragan_points(real, noise=noise, alpha=alpha)
    torch.testing.assert_close(pts, ref_points, rtol=1e-12, atol=1e-12)
    ours = dragan_penalty(D, real, lam=10.0, noise=noise, alpha=alpha)
    ref = _ref_wgan_gp(D, x_p, real, alpha, 10.0)
    torch.testing.assert_close(ours, ref, rtol=1e-6, atol=1e-10)
    # given noise and weights take the data's dtype (a float32 critic on float32 data)
    D32, real32 = _conv_critic().float(), real.float()
    pts32 = dragan_points(real32, noise=noise, alpha=alpha)
    assert pts32.dtype == torch.float32
    torch.testing.assert_close(pts32, ref_points.float(), rtol=1e-5, atol=1e-6)
    assert torch.isfinite(dragan_penalty(D32, real32, noise=noise, alpha=alpha))


def test_penalties_are_rendered_from_energy_terms() -> None:
    assert wgan_gp_term(10.0) == GradientPenalty(kappa=20.0, field="x", target=1.0)
    assert wgan_gp_term(2.0, one_sided=True).one_sided
    assert r1_term(3.0) == GradientPenalty(kappa=3.0, field="x", target=0.0)
    assert wgan_gp_term(0.0) is None and r1_term(0.0) is None


# -- zero gradients and zero weights -----------------------------------------------------
def test_no_nan_at_zero_gradient() -> None:
    real, fake, _ = _data(shape=(2, 3, 3))
    D = Linear(torch.zeros(2, 3, 3, dtype=F64))  # grad_x D = 0 everywhere
    for pen, value in [
        (wgan_gp(D, real, fake), 10.0),
        (wgan_lp(D, real, fake), 0.0),
        (r1_penalty(D, real, gamma=1.0), 0.0),
        (dragan_penalty(D, real), 10.0),
    ]:
        assert float(pen.detach()) == value
        (dw,) = torch.autograd.grad(pen, D.w, allow_unused=True, materialize_grads=True)
        assert torch.isfinite(dw).all()
    # a ReLU critic that is flat at the interpolates: zero gradient, finite double backward
    relu_critic = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1)).to(F64)
    with torch.no_grad():
        relu_critic[0].bias.fill_(-100.0)
    real, fake, _ = _data()
    pen = wgan_gp(relu_critic, real, fake)
    pen.backward()
    assert float(pen.detach()) == 10.0
    assert all(torch.isfinite(p.grad).all() for p in relu_critic.parameters() if p.grad is not None)


def test_zero_weight_gives_zero_and_keeps_types() -> None:
    real, fake, _ = _data()
    D = Linear(torch.ones(3, dtype=F64))
    for pen in (wgan_gp(D, real, fake, lam=0.0), r1_penalty(D, real, gamma=0.0)):
        assert float(pen.detach()) == 0.0 and pen.dtype == F64


# -- conditional critics --------------------------------------------------------------
class Conditional(nn.Module):
    """D(x, c) = w . x + s |c|^2 + (c . u) (x . v): steep in c, coupled to x."""

    def __init__(self, s: float) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(3)
        self.w = nn.Parameter(torch.randn(3, generator=g, dtype=F64))
        self.u = nn.Parameter(torch.randn(2, generator=g, dtype=F64))
        self.v = nn.Parameter(torch.randn(3, generator=g, dtype=F64))
        self.s = nn.Parameter(torch.tensor(s, dtype=F64))

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return x @ self.w + self.s * (c * c).sum(1) + (c @ self.u) * (x @ self.v)


def test_conditional_penalty_is_on_the_data_only() -> None:
    real, fake, g = _data(b=12)
    cond = torch.randn(12, 2, generator=g, dtype=F64, requires_grad=True)
    alpha = torch.rand(12, generator=g, dtype=F64)
    values = []
    for s in (0.0, 1e3):  # however steep the critic is in c, the penalty is the same
        D = Conditional(s)
        pen = wgan_gp(D, real, fake, alpha=alpha, condition=cond)
        values.append(pen)
        # closed form: grad_x D = w + (c . u) v for each sample's own condition
        gx = D.w + (cond @ D.u)[:, None] * D.v
        torch.testing.assert_close(pen, 10.0 * ((gx.norm(dim=1) - 1) ** 2).mean())
        torch.testing.assert_close(pen, _ref_wgan_gp(D, real, fake, alpha, 10.0, condition=cond))
        (ds, dc) = torch.autograd.grad(pen, [D.s, cond], allow_unused=True, materialize_grads=True)
        assert float(ds) == 0.0  # the condition-only part of D is not penalised
        # the condition itself is not an input of the penalised gradient: only its
        # coupling through grad_x D moves the penalty, never the c-derivative of D
        dc_ref = torch.autograd.grad(
            10.0 * ((gx.norm(dim=1) - 1) ** 2).mean(), cond, retain_graph=True
        )[0]
        torch.testing.assert_close(dc, dc_ref)
    torch.testing.assert_close(values[0], values[1], rtol=0, atol=0)
    # and the condition passes through untouched (the critic sees exactly cond)
    seen = []
    critic_input_gradient(lambda x, c: seen.append(c) or (x.sum(1) * 1.0), real, condition=cond)
    assert seen[0] is cond


# -- lazy regularisation ----------------------------------------------------------------
def test_lazy_regularizer_every_k_steps_weight_times_k() -> None:
    lazy = LazyRegularizer(interval=4)
    calls = []

    def pen() -> torch.Tensor:
        calls.append(1)
        return torch.tensor(2.0)

    out = [lazy(step, pen) for step in range(9)]
    assert [o is not None for o in out] == [s % 4 == 0 for s in range(9)]
    assert len(calls) == 3 and all(float(o) == 8.0 for o in out if o is not None)
    # the average over a period equals the eager penalty
    assert sum(float(o) for o in out[:8] if o is not None) / 8 == 2.0
    lr, betas = lazy_adam_hparams(0.002, (0.0, 0.99), interval=16)
    assert lr == pytest.approx(0.002 * 16 / 17)
    assert betas[1] == pytest.approx(0.99 ** (16 / 17))


# -- bad input ---------------------------------------------------------------------------
def test_bad_input_raises_clear_value_errors() -> None:
    real, fake, _ = _data()
    D = Linear(torch.ones(3, dtype=F64))
    with pytest.raises(ValueError, match=r"lam must be >= 0, got -1"):
        wgan_gp(D, real, fake, lam=-1.0)
    with pytest.raises(ValueError, match=r"gamma must be >= 0"):
        r1_penalty(D, real, gamma=-0.1)
    with pytest.raises(ValueError, match="lam must be finite"):
        wgan_gp(D, real, fake, lam=math.nan)
    with pytest.raises(ValueError, match="floating-point"):
        wgan_gp(D, real.long(), fake)
    with pytest.raises(ValueError, match="same shape"):
        wgan_gp(D, real, fake[:-1])
    with pytest.raises(ValueError, match="condition has batch size 15 but the data has batch"):
        wgan_gp(lambda x, c: x.sum(1), real, fake, condition=torch.zeros(15, 2))
    with pytest.raises(ValueError, match=r"alpha must have shape \(16,\)"):
        wgan_gp(D, real, fake, alpha=torch.rand(8, dtype=F64))
    with pytest.raises(ValueError, match=r"alpha must lie in \[0, 1\]"):
        interpolate(real, fake, alpha=torch.full((16,), 1.5, dtype=F64))
    with pytest.raises(ValueError, match="one score per sample"):
        wgan_gp(lambda x: x, real, fake)
    with pytest.raises(ValueError, match="interval must be an integer >= 1"):
        LazyRegularizer(interval=0)
    with pytest.raises(ValueError, match="c must be > 0"):
        dragan_penalty(D, real, c=0.0)
    assert issubclass(InputError, ValueError)


def test_mlp_critic_gradients_flow_and_interpolates_are_detached() -> None:
    real, fake, g = _data()
    fake = fake.clone().requires_grad_(True)  # as if straight from a generator
    D = mlp([3, 8, 1], activation=nn.Softplus, dtype=F64)  # smooth: every weight moves grad_x D
    pen = wgan_gp(D, real, fake, generator=g)
    pen.backward()
    assert fake.grad is None  # no gradient reaches the generator
    *hidden, last_bias = D.parameters()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in hidden)
    assert last_bias.grad is None  # a constant shift of D does not change grad_x D
