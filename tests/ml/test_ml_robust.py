"""Input-gradient penalty (exact and finite-difference), certified bound, attacks."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from femgp.ml.attacks import fgsm, pgd
from femgp.ml.ops import per_sample_norm
from femgp.ml.robust import (
    input_gradient_backward,
    input_gradient_objective,
    loss_change_bound,
)

pytestmark = pytest.mark.torch

F64 = torch.float64


def _ce(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(out, y, reduction="none")


def _net(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(12, 16), nn.Tanh(), nn.Linear(16, 3)).to(F64)


def _batch(b: int = 10, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, 3, 2, 2, generator=g, dtype=F64), torch.randint(3, (b,), generator=g)


def _param_grads(model: nn.Module) -> list[torch.Tensor]:
    return [p.grad.clone() for p in model.parameters()]


def _reference(model: nn.Module, x: torch.Tensor, y: torch.Tensor, lam: float) -> torch.Tensor:
    """Straightforward double backprop, one sample at a time."""
    total = []
    for i in range(x.shape[0]):
        xi = x[i : i + 1].clone().requires_grad_(True)
        li = _ce(model(xi), y[i : i + 1]).sum()
        (gi,) = torch.autograd.grad(li, xi, create_graph=True)
        total.append(li + lam * gi.flatten().norm())
    return torch.stack(total).mean()


def test_exact_objective_matches_per_sample_reference() -> None:
    model = _net()
    x, y = _batch()
    res = input_gradient_objective(model, _ce, x, y, lam=0.3)
    ref = _reference(model, x, y, 0.3)
    torch.testing.assert_close(res.objective, ref, rtol=1e-10, atol=1e-12)
    ours = torch.autograd.grad(res.objective, list(model.parameters()))
    theirs = torch.autograd.grad(ref, list(model.parameters()))
    for a, b in zip(ours, theirs, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-10)
    model.zero_grad()
    input_gradient_backward(model, _ce, x, y, lam=0.3, form="exact")
    for a, b in zip(_param_grads(model), theirs, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-10)


def test_penalty_is_per_sample_and_batch_size_independent() -> None:
    model = _net()
    x, y = _batch()
    one = input_gradient_objective(model, _ce, x, y, lam=0.5)
    two = input_gradient_objective(model, _ce, torch.cat([x, x]), torch.cat([y, y]), lam=0.5)
    torch.testing.assert_close(one.objective, two.objective, rtol=1e-12, atol=0)
    torch.testing.assert_close(two.grad_norms, torch.cat([one.grad_norms, one.grad_norms]))
    for form in ("exact", "finite_difference"):
        grads = []
        for xx, yy in ((x, y), (torch.cat([x, x]), torch.cat([y, y]))):
            model.zero_grad()
            input_gradient_backward(model, _ce, xx, yy, lam=0.5, form=form, h=1e-3)
            grads.append(_param_grads(model))
        for a, b in zip(*grads, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)


def test_only_the_given_params_receive_gradients_in_both_forms() -> None:
    x, y = _batch()
    model = _net()
    model.zero_grad(set_to_none=True)
    input_gradient_backward(model, _ce, x, y, lam=0.3, form="exact")
    want = _param_grads(model)[2:]  # the head's share of the full exact gradient
    for form in ("exact", "finite_difference"):
        model.zero_grad(set_to_none=True)
        head = list(model[3].parameters())
        input_gradient_backward(model, _ce, x, y, lam=0.3, form=form, h=1e-4, params=head)
        assert model[1].weight.grad is None and model[1].bias.grad is None, form
        for p, w in zip(head, want, strict=True):
            # finite difference at h = 1e-4: measured relative error 1.2e-4
            torch.testing.assert_close(
                p.grad, w, rtol=3e-4 if form != "exact" else 1e-12, atol=1e-12
            )


class _Quadratic(nn.Module):
    """Returns (C^T x + b, x): with the loss below, l is quadratic in (x, theta) jointly."""

    def __init__(self) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(5)
        self.C = nn.Parameter(torch.randn(4, 3, generator=g, dtype=F64))
        self.b = nn.Parameter(torch.randn(3, generator=g, dtype=F64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x @ self.C + self.b, x], dim=1)


_A = torch.diag(torch.tensor([1.0, 2.0, 0.5, 3.0], dtype=F64))


def _quad_loss(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    z, x = out[:, :3], out[:, 3:]
    return (z * y).sum(1) + 0.5 * ((x @ _A) * x).sum(1)


def test_finite_difference_is_exact_for_a_quadratic_loss() -> None:
    model = _Quadratic()
    g = torch.Generator().manual_seed(0)
    x = torch.randn(6, 4, generator=g, dtype=F64)
    y = torch.randn(6, 3, generator=g, dtype=F64)
    model.zero_grad()
    input_gradient_backward(model, _quad_loss, x, y, lam=0.7, form="exact")
    exact = _param_grads(model)
    for h in (1e-3, 0.1, 1.0):  # any step: the difference quotient is exact here
        model.zero_grad()
        input_gradient_backward(model, _quad_loss, x, y, lam=0.7, form="finite_difference", h=h)
        for a, b in zip(_param_grads(model), exact, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-11)


def test_finite_difference_converges_for_a_nonlinear_net() -> None:
    model = _net()
    x, y = _batch()
    model.zero_grad()
    input_gradient_backward(model, _ce, x, y, lam=0.2, form="exact")
    exact = torch.cat([g.flatten() for g in _param_grads(model)])
    errs = []
    for h in (1e-2, 1e-3):
        model.zero_grad()
        input_gradient_backward(model, _ce, x, y, lam=0.2, form="finite_difference", h=h)
        fd = torch.cat([g.flatten() for g in _param_grads(model)])
        errs.append(float((fd - exact).norm() / exact.norm()))
    assert errs[1] < 2e-3 and errs[1] < errs[0] / 5  # O(h)


def test_finite_difference_replays_the_dropout_masks() -> None:
    """Both passes of the difference quotient see the same dropout mask: O(h), not O(1/h)."""
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Flatten(), nn.Linear(12, 16), nn.Tanh(), nn.Dropout(0.3), nn.Linear(16, 3)
    ).to(F64)
    x, y = _batch()

    def grads(form: str, h: float = 1e-3) -> torch.Tensor:
        model.zero_grad(set_to_none=True)
        torch.manual_seed(123)  # the same masks in the exact and the first FD pass
        input_gradient_backward(model, _ce, x, y, lam=0.2, form=form, h=h)
        return torch.cat([p.grad.flatten() for p in model.parameters()])

    exact = grads("exact")
    errs = [
        float((grads("finite_difference", h) - exact).norm() / exact.norm()) for h in (1e-2, 1e-3)
    ]
    # measured 2.4e-4 and 2.4e-5 (two masks: 20 and 195, growing like 1/h)
    assert errs[1] < 1e-4 and errs[1] < errs[0] / 5
    # the global generator then moves on as after one forward pass
    torch.manual_seed(5)
    model(x)
    want = torch.rand(3)
    torch.manual_seed(5)
    model.zero_grad(set_to_none=True)
    input_gradient_backward(model, _ce, x, y, lam=0.2, h=1e-3)
    assert torch.equal(torch.rand(3), want)


def test_no_nan_when_the_input_gradient_is_zero() -> None:
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 3)).to(F64)
    with torch.no_grad():
        model[1].weight.zero_()  # the loss does not depend on x
    x, y = _batch()
    for form in ("exact", "finite_difference"):
        model.zero_grad()
        res = input_gradient_backward(model, _ce, x, y, lam=1.0, form=form)
        assert float(res.penalty) == 0.0
        assert all(torch.isfinite(p.grad).all() for p in model.parameters())


def test_certified_bound_holds_for_logistic_regression() -> None:
    """softplus(-y w.x) has ||grad_x|| <= ||w|| everywhere: eps ||w|| certifies the change."""
    g = torch.Generator().manual_seed(2)
    w = torch.randn(5, generator=g, dtype=F64)
    x = torch.randn(32, 5, generator=g, dtype=F64)
    y = torch.randint(2, (32,), generator=g).to(F64) * 2 - 1

    def model(v: torch.Tensor) -> torch.Tensor:
        return v @ w

    def loss(out: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return F.softplus(-t * out)

    eps = 0.3
    x_adv = pgd(model, loss, x, y, epsilon=eps, norm="l2", steps=20, generator=g)
    assert float(per_sample_norm(x_adv - x).max()) <= eps + 1e-12
    change = (loss(model(x_adv), y) - loss(model(x), y)).abs()
    bound = loss_change_bound(eps, float(w.norm()))
    assert float(change.max()) <= bound + 1e-12
    assert float(change.max()) > 0.5 * bound  # and it is not vacuous
    # with the gradient at x and a smoothness bound (softplus'' <= 1/4: beta = ||w||^2 / 4)
    gx, _ = torch.func.vmap(torch.func.grad_and_value(lambda v, t: loss(model(v), t)))(x, y)
    tight = loss_change_bound(eps, per_sample_norm(gx), smoothness=float(w.norm() ** 2 / 4))
    assert bool((change <= tight + 1e-12).all())
    assert loss_change_bound(0.0, 5.0) == 0.0


def test_attacks_raise_the_loss_within_the_ball() -> None:
    model = _net()
    x, y = _batch(b=32)
    clean = _ce(model(x), y).mean()
    for norm in ("linf", "l2"):
        eps = 0.1 if norm == "linf" else 0.5
        for adv in (
            fgsm(model, _ce, x, y, epsilon=eps, norm=norm),
            pgd(model, _ce, x, y, epsilon=eps, norm=norm, steps=5),
        ):
            assert _ce(model(adv), y).mean() > clean
            d = adv - x
            size = d.abs().amax() if norm == "linf" else per_sample_norm(d).max()
            assert float(size) <= eps * (1 + 1e-9)


def test_bad_input() -> None:
    model = _net()
    x, y = _batch()
    with pytest.raises(ValueError, match=r"lam must be >= 0, got -0\.1"):
        input_gradient_objective(model, _ce, x, y, lam=-0.1)
    with pytest.raises(ValueError, match="y has batch size 9 but x has batch size 10"):
        input_gradient_backward(model, _ce, x, y[:9], lam=0.1)
    with pytest.raises(ValueError, match="floating-point"):
        input_gradient_backward(model, _ce, x.long(), y, lam=0.1)
    with pytest.raises(ValueError, match="unknown form 'hessian'"):
        input_gradient_backward(model, _ce, x, y, lam=0.1, form="hessian")
    with pytest.raises(ValueError, match="h must be > 0"):
        input_gradient_backward(model, _ce, x, y, lam=0.1, h=0.0)
    with pytest.raises(ValueError, match="one loss per sample"):
        input_gradient_objective(model, F.cross_entropy, x, y, lam=0.1)
    with pytest.raises(ValueError, match="epsilon must be >= 0"):
        loss_change_bound(-1.0, 1.0)
    with pytest.raises(ValueError, match="unknown norm 'l1'"):
        pgd(model, _ce, x, y, epsilon=0.1, norm="l1")
    with pytest.raises(FloatingPointError, match="not finite"):
        input_gradient_backward(model, _ce, x * float("nan"), y, lam=0.1)
