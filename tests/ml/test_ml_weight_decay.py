"""Weight decay under Adam: L2 in the loss versus decoupled decay (AdamW)."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

import torch

from femgp.ml.weight_decay import effective_weight_decay

pytestmark = pytest.mark.torch

F64 = torch.float64


def test_adamw_decays_geometrically_with_zero_loss_gradient() -> None:
    theta0 = torch.tensor([1.0, -2.0, 0.5, 3.0], dtype=F64)
    lr, wd, steps = 1e-2, 0.1, 50
    res = effective_weight_decay(theta0, torch.zeros(steps, 4, dtype=F64), lr=lr, weight_decay=wd)
    t = torch.arange(steps + 1, dtype=F64)[:, None]
    want = theta0 * (1 - lr * wd) ** t
    torch.testing.assert_close(res.trajectory_adamw, want, rtol=1e-13, atol=0)
    torch.testing.assert_close(res.adamw, torch.full((4,), lr * wd, dtype=F64))


def test_adam_l2_takes_sign_like_steps_independent_of_wd() -> None:
    theta0 = torch.tensor([1.0, -2.0, 0.5, 3.0], dtype=F64)
    lr, steps = 1e-2, 20
    zeros = torch.zeros(steps, 4, dtype=F64)
    trajs = [
        effective_weight_decay(theta0, zeros, lr=lr, weight_decay=wd).trajectory_adam_l2
        for wd in (1e-3, 1e-1, 10.0)
    ]
    # the first step is lr * sign(theta), whatever wd (up to Adam's eps: lr eps / (wd |theta|))
    torch.testing.assert_close(trajs[0][1], theta0 - lr * theta0.sign(), rtol=0, atol=1e-6)
    for other in trajs[1:]:  # and the whole path barely depends on wd (10^4 apart)
        torch.testing.assert_close(other, trajs[0], rtol=0, atol=1e-5)
    # every step moves each parameter by about lr, the same for large and small ones
    steps_taken = (trajs[0][1:] - trajs[0][:-1]).abs()
    assert float(steps_taken.min()) > 0.9 * lr and float(steps_taken.max()) <= lr * (1 + 1e-9)


def test_effective_decay_per_parameter_under_adam() -> None:
    """L2 under Adam decays parameters with small gradients far more than large ones."""
    g = torch.Generator().manual_seed(0)
    scales = torch.tensor([1e-3, 1e-2, 1e-1, 10.0], dtype=F64)
    grads = torch.randn(200, 4, generator=g, dtype=F64) * scales
    theta0 = torch.ones(4, dtype=F64)
    res = effective_weight_decay(theta0, grads, lr=1e-3, weight_decay=1e-2)
    assert torch.all(res.adamw == 1e-5)
    rates = res.adam_l2
    assert torch.all(rates[:-1] > rates[1:])  # decreasing in the gradient scale
    assert float(rates[0] / rates[-1]) > 50
    assert float(rates[-1]) < 1e-5 < float(rates[0])  # around AdamW's uniform lr * wd


def test_bad_input() -> None:
    theta = torch.ones(3)
    with pytest.raises(ValueError, match="weight_decay must be >= 0"):
        effective_weight_decay(theta, torch.zeros(2, 3), lr=0.1, weight_decay=-1.0)
    with pytest.raises(ValueError, match=r"grads must have shape \(steps, 3\)"):
        effective_weight_decay(theta, torch.zeros(2, 4), lr=0.1, weight_decay=0.1)
    with pytest.raises(ValueError, match="lr must be > 0"):
        effective_weight_decay(theta, torch.zeros(2, 3), lr=0.0, weight_decay=0.1)
    with pytest.raises(ValueError, match="floating-point vector"):
        effective_weight_decay(torch.ones(3, dtype=torch.int64), torch.zeros(2, 3), lr=0.1,
                               weight_decay=0.1)
