"""TorchOps against NumpyOps, safe norms, and the per-sample rendering of energy terms."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

import torch

from femgp.energy import (
    NUMPY_OPS,
    NUMPY_POINTS_OPS,
    OPS_NAMES,
    DoubleWell,
    Energy,
    FieldValue,
    GradientPenalty,
)
from femgp.errors import InputError
from femgp.ml.ops import (
    TORCH_OPS,
    TORCH_POINTS_OPS,
    TorchOps,
    per_sample_density,
    per_sample_norm,
    safe_norm,
    safe_sqrt,
)

pytestmark = pytest.mark.torch

RNG = np.random.default_rng(0)


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(a, dtype=np.float64))


def test_every_op_name_is_provided() -> None:
    for name in OPS_NAMES:
        assert callable(getattr(TORCH_POINTS_OPS, name)), name
        assert callable(getattr(TORCH_OPS, name)), name
    assert TORCH_POINTS_OPS.points and not TORCH_OPS.points


@pytest.mark.parametrize("points", [True, False])
def test_ops_match_numpy_to_rounding(points: bool) -> None:
    n = (7,) if points else ()
    npo = NUMPY_POINTS_OPS if points else NUMPY_OPS
    tho = TORCH_POINTS_OPS if points else TORCH_OPS
    s = RNG.uniform(0.1, 2.0, size=n)
    s_signed = RNG.normal(size=n)
    v, w = RNG.normal(size=(3, *n)), RNG.normal(size=(3, *n))
    A, B = RNG.normal(size=(3, 3, *n)), RNG.normal(size=(3, 3, *n))
    cases = {
        "sqrt": (s,), "exp": (s_signed,), "log": (s,), "abs": (s_signed,),
        "pos": (s_signed,), "neg": (s_signed,), "max": (s_signed, s), "min": (s_signed, s),
        "inner": (A, B), "norm": (A,), "transpose": (A,), "tr": (A,), "sym": (A,),
        "dev": (A,), "det": (A,),
    }
    for name, args in cases.items():
        want = np.asarray(getattr(npo, name)(*args))
        got = getattr(tho, name)(*map(_t, args)).numpy()
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12, err_msg=name)
    for a, b in [(A, B), (A, v), (v, A), (v, w)]:
        np.testing.assert_allclose(
            tho.dot(_t(a), _t(b)).numpy(), npo.dot(a, b), rtol=1e-12, atol=1e-12
        )
    np.testing.assert_allclose(
        tho.inner(_t(v), _t(w)).numpy(), npo.inner(v, w), rtol=1e-12, atol=1e-12
    )
    np.testing.assert_array_equal(
        TorchOps(points=points, dtype=torch.float64).identity(3).numpy(), npo.identity(3)
    )


def test_python_scalars_are_accepted_exactly() -> None:
    assert TORCH_OPS.sqrt(2.0).dtype == torch.float64
    assert float(TORCH_OPS.sqrt(2.0)) == float(np.sqrt(2.0))
    x = torch.tensor([-1.0, 2.0], dtype=torch.float32)
    assert TORCH_POINTS_OPS.max(x, 0.5).dtype == torch.float32  # 0-d never promotes


def test_norm_has_zero_gradient_at_zero_and_keeps_nans() -> None:
    g = torch.zeros(3, 4, dtype=torch.float64, requires_grad=True)
    n = TORCH_POINTS_OPS.norm(g)
    (d,) = torch.autograd.grad(n.sum(), g, create_graph=True)
    assert torch.equal(d, torch.zeros_like(d))
    (d2,) = torch.autograd.grad(d.sum(), g)  # second derivative finite too
    assert torch.isfinite(d2).all()
    x = torch.zeros(5, requires_grad=True)
    (dx,) = torch.autograd.grad(safe_norm(x), x)
    assert torch.equal(dx, torch.zeros(5))
    # values equal torch.sqrt exactly, and a NaN is never masked
    s = torch.tensor([0.0, 2.0, float("nan")], dtype=torch.float64)
    out = safe_sqrt(s)
    assert out[0] == 0 and out[1] == torch.sqrt(s[1]) and torch.isnan(out[2])


def _energies() -> list:
    return [
        GradientPenalty(kappa=3.0, field="c"),
        GradientPenalty(kappa=2.5, field="c", target=1.0),
        GradientPenalty(kappa=2.5, field="c", target=0.7, one_sided=True),
        DoubleWell(rho=5.0, c_alpha=0.3, c_beta=0.7),
        DoubleWell.symmetric(1.5, field="c"),
        DoubleWell(rho=2.0).split()[0],
        DoubleWell(rho=2.0).split()[1],
        Energy((DoubleWell(rho=5.0, c_alpha=0.3, c_beta=0.7), GradientPenalty(kappa=0.1))),
    ]


@pytest.mark.parametrize("term", _energies(), ids=lambda t: type(t).__name__)
def test_energy_densities_agree_with_numpy(term) -> None:
    n = 11
    c = RNG.uniform(-1.5, 1.5, size=n)
    g = RNG.normal(size=(2, n)) * RNG.uniform(0, 2, size=n)
    g[:, 0] = 0.0  # a zero gradient among the points
    names = ("c", "phi")
    np_fields = {k: FieldValue(value=c, grad=g) for k in names}
    th_fields = {k: FieldValue(value=_t(c), grad=_t(g)) for k in names}
    want = term.density(NUMPY_POINTS_OPS, np_fields)
    got = term.density(TORCH_POINTS_OPS, th_fields)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize(
    ("kappa", "target", "one_sided"),
    [(2.0, 0.0, False), (20.0, 1.0, False), (20.0, 1.0, True), (3.0, 0.5, True)],
)
def test_gradient_penalty_keeps_its_meaning_in_torch(
    kappa: float, target: float, one_sided: bool
) -> None:
    term = GradientPenalty(kappa=kappa, field="x", target=target, one_sided=one_sided)
    grads = torch.tensor([[0.0, 0.0], [0.3, 0.4], [3.0, 4.0]], dtype=torch.float64)
    norms = np.array([0.0, 0.5, 5.0])
    excess = norms - target
    if one_sided:
        excess = np.maximum(excess, 0.0)
    want = kappa / 2 * excess**2
    got = per_sample_density(term, grads)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-14, atol=0)
    numpy_side = term.density(NUMPY_POINTS_OPS, {"x": FieldValue(None, grads.T.numpy())})
    np.testing.assert_allclose(got.numpy(), numpy_side, rtol=1e-14, atol=0)


def test_norms_are_per_sample_not_per_pixel() -> None:
    g = torch.randn(4, 3, 5, 6, dtype=torch.float64)
    want = g.reshape(4, -1).norm(dim=1)
    torch.testing.assert_close(per_sample_norm(g), want, rtol=1e-14, atol=0)
    term = GradientPenalty(kappa=20.0, field="x", target=1.0)
    torch.testing.assert_close(per_sample_density(term, g), 10.0 * (want - 1.0) ** 2)
    per_pixel = 10.0 * ((g.norm(dim=1) - 1.0) ** 2).mean(dim=(1, 2))  # the habit to avoid
    assert not torch.allclose(per_sample_density(term, g), per_pixel)


def test_per_sample_density_bad_input() -> None:
    term = GradientPenalty(kappa=1.0, field="x")
    with pytest.raises(InputError, match="floating-point"):
        per_sample_density(term, torch.ones(3, 2, dtype=torch.int64))
    with pytest.raises(InputError, match="Term"):
        per_sample_density(DoubleWell(1.0) + term, torch.ones(3, 2))  # type: ignore[arg-type]
    with pytest.raises(InputError, match="value of field"):
        per_sample_density(DoubleWell(rho=1.0, field="x"), torch.ones(3, 2))


def test_as_tensor_constants_are_exact_and_carry_the_point_axis() -> None:
    m = [[0.05, 0.0], [0.0, -0.05]]
    t = TORCH_POINTS_OPS.as_tensor(m)
    assert t.shape == (2, 2, 1) and t.dtype == torch.float64
    np.testing.assert_array_equal(t[..., 0].numpy(), np.asarray(m))
    assert TORCH_OPS.as_tensor(m).shape == (2, 2)
    assert TorchOps(points=True, dtype=torch.float32).as_tensor(m).dtype == torch.float32
