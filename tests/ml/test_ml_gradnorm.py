"""Parameter-gradient-norm penalty (exact, Hessian-free, SAM) and clipping."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from femgp.ml.gradnorm import GradientClipping, GradientNormPenalty, global_grad_norm

pytestmark = pytest.mark.torch

F64 = torch.float64


class Quadratic(nn.Module):
    """L(theta) = 1/2 theta^T A theta - b^T theta over two parameter tensors."""

    def __init__(self) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(0)
        M = torch.randn(5, 5, generator=g, dtype=F64)
        self.A = M @ M.T + torch.eye(5, dtype=F64)
        self.b = torch.randn(5, generator=g, dtype=F64)
        self.p = nn.Parameter(torch.randn(3, generator=g, dtype=F64))
        self.q = nn.Parameter(torch.randn(2, generator=g, dtype=F64))

    def theta(self) -> torch.Tensor:
        return torch.cat([self.p, self.q])

    def forward(self) -> torch.Tensor:
        t = self.theta()
        return 0.5 * t @ self.A @ t - self.b @ t


def _step(model: Quadratic, **kw) -> torch.Tensor:
    opt = GradientNormPenalty(torch.optim.SGD(model.parameters(), lr=0.1), **kw)
    opt.step(model)
    return model.theta().detach()


@pytest.mark.parametrize("radius", [1e-3, 0.1, 2.0])
def test_finite_difference_is_exact_for_a_quadratic_loss(radius: float) -> None:
    lam = 0.3
    model = Quadratic()
    t0 = model.theta().detach()
    g = model.A @ t0 - model.b
    want = t0 - 0.1 * (g + lam * model.A @ g / g.norm())  # grad J = g + lam H g/|g|
    fd = _step(model, lam=lam, radius=radius, form="finite_difference")
    torch.testing.assert_close(fd, want, rtol=1e-12, atol=1e-12)
    exact = _step(Quadratic(), lam=lam, form="exact")
    torch.testing.assert_close(exact, want, rtol=1e-12, atol=1e-12)


def _net() -> nn.Module:
    torch.manual_seed(1)
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3)).to(F64)


def _data():
    g = torch.Generator().manual_seed(2)
    return torch.randn(16, 4, generator=g, dtype=F64), torch.randint(3, (16,), generator=g)


def test_exact_form_matches_reference_double_backward() -> None:
    x, y = _data()
    model = _net()
    ref = _net()
    lam = 0.2
    loss = F.cross_entropy(ref(x), y)
    grads = torch.autograd.grad(loss, list(ref.parameters()), create_graph=True)
    J = loss + lam * torch.sqrt(sum((gg**2).sum() for gg in grads))
    ref_grads = torch.autograd.grad(J, list(ref.parameters()))
    opt = GradientNormPenalty(torch.optim.SGD(model.parameters(), lr=1.0), lam=lam, form="exact")
    before = [p.detach().clone() for p in model.parameters()]
    opt.step(lambda: F.cross_entropy(model(x), y))
    for p, b, rg in zip(model.parameters(), before, ref_grads, strict=True):
        torch.testing.assert_close(b - p.detach(), rg, rtol=1e-6, atol=1e-10)
    # the Hessian-free form converges to it as the radius shrinks
    model_fd = _net()
    opt = GradientNormPenalty(torch.optim.SGD(model_fd.parameters(), lr=1.0), lam=lam, radius=1e-4)
    opt.step(lambda: F.cross_entropy(model_fd(x), y))
    for p, b, rg in zip(model_fd.parameters(), before, ref_grads, strict=True):
        torch.testing.assert_close(b - p.detach(), rg, rtol=1e-3, atol=1e-5)


def test_finite_difference_replays_the_dropout_masks() -> None:
    """The closure's two calls see the same dropout mask, so the form still converges."""
    x, y = _data()
    torch.manual_seed(1)
    net = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Dropout(0.3), nn.Linear(8, 3)).to(F64)
    start = [p.detach().clone() for p in net.parameters()]

    def step(**kw) -> torch.Tensor:
        with torch.no_grad():
            for p, s in zip(net.parameters(), start, strict=True):
                p.copy_(s)
        opt = GradientNormPenalty(torch.optim.SGD(net.parameters(), lr=1.0), lam=0.2, **kw)
        torch.manual_seed(7)  # the same mask in the exact form and the first FD call
        opt.step(lambda: F.cross_entropy(net(x), y))
        moved = zip(net.parameters(), start, strict=True)
        return torch.cat([(s - p.detach()).flatten() for p, s in moved])

    exact = step(form="exact")
    fd = step(form="finite_difference", radius=1e-4)
    # measured 6.3e-6 (with two masks: 995)
    assert float((fd - exact).norm() / exact.norm()) < 2e-5


def test_sam_is_the_special_case_alpha_one() -> None:
    x, y = _data()
    rho = 0.05
    model, ref = _net(), _net()
    opt = GradientNormPenalty.sam(torch.optim.SGD(model.parameters(), lr=0.5), rho=rho)
    assert opt.alpha == 1.0
    opt.step(lambda: F.cross_entropy(model(x), y))
    # reference SAM: gradient at theta + rho g/|g|, applied at theta
    params = list(ref.parameters())
    g = torch.autograd.grad(F.cross_entropy(ref(x), y), params)
    n = torch.sqrt(sum((gg**2).sum() for gg in g))
    with torch.no_grad():
        for p, gg in zip(params, g, strict=True):
            p.add_(rho * gg / n)
    g_adv = torch.autograd.grad(F.cross_entropy(ref(x), y), params)
    with torch.no_grad():
        for p, gg, ga in zip(params, g, g_adv, strict=True):
            p.sub_(rho * gg / n)
            p.sub_(0.5 * ga)
    for a, b in zip(model.parameters(), ref.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_no_nan_at_zero_gradient() -> None:
    w = nn.Parameter(torch.zeros(3, dtype=F64))
    for form in ("exact", "finite_difference"):
        opt = GradientNormPenalty(torch.optim.SGD([w], lr=0.1), lam=1.0, form=form)
        opt.step(lambda: (w * w).sum())  # grad L = 0 at w = 0
        assert torch.equal(w.detach(), torch.zeros(3, dtype=F64))
        assert float(opt.last_grad_norm) == 0.0
    v = torch.zeros(4, requires_grad=True)
    (d,) = torch.autograd.grad(global_grad_norm([v * 1.0]), v)
    assert torch.isfinite(d).all()


def test_clipping_beside_it() -> None:
    x, y = _data()
    model = _net()
    opt = GradientClipping(torch.optim.SGD(model.parameters(), lr=1.0), max_norm=1e-3)
    before = [p.detach().clone() for p in model.parameters()]
    opt.step(lambda: F.cross_entropy(model(x), y))
    moved = torch.sqrt(sum(((b - p.detach()) ** 2).sum() for p, b in zip(
        model.parameters(), before, strict=True)))
    assert float(opt.last_grad_norm) > 1e-3
    assert float(moved) == pytest.approx(1e-3, rel=1e-5)


def test_bad_input() -> None:
    model = _net()
    sgd = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="lam must be >= 0, got -1"):
        GradientNormPenalty(sgd, lam=-1)
    with pytest.raises(ValueError, match="radius must be > 0"):
        GradientNormPenalty(sgd, lam=0.1, radius=0.0)
    with pytest.raises(ValueError, match="unknown form 'sam'"):
        GradientNormPenalty(sgd, lam=0.1, form="sam")
    with pytest.raises(ValueError, match="max_norm must be > 0"):
        GradientClipping(sgd, max_norm=-1.0)
    with pytest.raises(ValueError, match=r"torch\.optim\.Optimizer"):
        GradientNormPenalty(model, lam=0.1)  # type: ignore[arg-type]
    opt = GradientNormPenalty(sgd, lam=0.1)
    x, y = _data()
    with pytest.raises(FloatingPointError, match="not finite"):
        opt.step(lambda: F.cross_entropy(model(x * float("nan")), y))
