"""The 3D spectral split through torch: values, and finite, exact Hessians by double backward.

Where principal strains coincide (isotropic, uniaxial strain) the closed-form
eigenvalues are not differentiable one by one, but the energy is; the
regularised closed form must give finite second derivatives there (no
``0 * inf``), and they must be the exact Hessian of ``sum_i f(eps_i)``:
``f''(e_i)`` on the diagonal of the principal frame and the divided
differences ``(f'(e_i) - f'(e_j)) / (e_i - e_j)`` (``f''`` for a coincident pair)
on its shear components.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

import torch

from femgp.energy import NUMPY_OPS, NUMPY_POINTS_OPS, FieldValue
from femgp.energy.elasticity import IsotropicElasticEnergy, lame_from_young
from femgp.energy.fracture import Degradation
from femgp.ml.ops import TORCH_OPS, TORCH_POINTS_OPS

pytestmark = pytest.mark.torch

LMBDA, MU = lame_from_young(210.0, 0.3)
TERM = IsotropicElasticEnergy(LMBDA, MU, split="spectral", model="3d", degradation=Degradation(0.0))


def _density(g: torch.Tensor, alpha: float) -> torch.Tensor:
    fields = {"u": FieldValue(None, g.reshape(3, 3)), "alpha": FieldValue(torch.tensor(alpha))}
    return TERM.density(TORCH_OPS, fields)


def _hessian(grad: np.ndarray, alpha: float) -> np.ndarray:
    g = torch.tensor(grad.ravel(), dtype=torch.float64, requires_grad=True)
    (first,) = torch.autograd.grad(_density(g, alpha), g, create_graph=True)
    rows = [torch.autograd.grad(first[i], g, retain_graph=True)[0] for i in range(9)]
    return torch.stack(rows).detach().numpy()


def _exact_hessian(e: tuple[float, float, float], alpha: float) -> np.ndarray:
    """The Hessian in grad u of a(alpha) psi_+ + psi_- at the diagonal strain diag(e)."""
    a = (1 - alpha) ** 2

    def d1(x: float) -> float:  # d/dx of a <x>_+^2 + <x>_-^2
        return 2 * a * max(x, 0.0) + 2 * min(x, 0.0)

    def d2(x: float) -> float:
        return 2 * a if x > 0 else 2.0

    H = np.zeros((3, 3, 3, 3))
    c = a if sum(e) > 0 else 1.0
    for i in range(3):
        for j in range(3):
            H[i, i, j, j] += LMBDA * c
    for i in range(3):
        H[i, i, i, i] += MU * d2(e[i])
        for j in range(3):
            if i == j:
                continue
            same = abs(e[i] - e[j]) < 1e-14
            g = d2(e[i]) if same else (d1(e[i]) - d1(e[j])) / (e[i] - e[j])
            for k, l in ((i, j), (j, i)):  # eps_ij = (G_ij + G_ji) / 2
                for m, n in ((i, j), (j, i)):
                    H[k, l, m, n] += 0.25 * MU * g
    return H.reshape(9, 9)


@pytest.mark.parametrize(
    ("name", "e"),
    [
        ("isotropic tension", (1e-3, 1e-3, 1e-3)),
        ("hydrostatic compression", (-1e-3, -1e-3, -1e-3)),
        ("uniaxial stress", (1e-3, -3e-4, -3e-4)),
        ("biaxial", (1e-3, 1e-3, -3e-4)),
        ("distinct", (1e-3, 2e-4, -5e-4)),
    ],
)
@pytest.mark.parametrize("alpha", [0.0, 0.5])
def test_hessian_is_finite_and_exact_where_principal_strains_coincide(name, e, alpha):
    """Double backward equals the exact Hessian to 1e-8 (measured: <= 5e-10)."""
    H = _hessian(np.diag(e), alpha)
    assert np.isfinite(H).all(), name
    want = _exact_hessian(e, alpha)
    assert np.abs(H - want).max() < 1e-8 * np.abs(want).max(), (name, np.abs(H - want).max())


@pytest.mark.parametrize(
    "grad", [np.zeros((3, 3)), np.diag([1e-3, 0.0, 0.0]), np.diag([0.0, -1e-3, 0.0])]
)
def test_hessian_is_finite_at_zero_and_uniaxial_strain(grad):
    """Zero strain and uniaxial strain put principal strains on the kink of <.>_±: finite."""
    H = _hessian(grad, 0.3)
    assert np.isfinite(H).all()
    assert np.abs(H - H.T).max() <= 1e-9 * np.abs(H).max()


def test_torch_matches_numpy_in_3d():
    rng = np.random.default_rng(3)
    G = rng.normal(scale=1e-3, size=(3, 3, 30))
    G[:, :, 0] = 1e-3 * np.eye(3)
    G[:, :, 1] = np.diag([1e-3, -3e-4, -3e-4])
    alpha = rng.uniform(size=30)
    want = TERM.density(NUMPY_POINTS_OPS, {"u": FieldValue(None, G), "alpha": FieldValue(alpha)})
    Gt = torch.tensor(G, requires_grad=True)
    got = TERM.density(
        TORCH_POINTS_OPS, {"u": FieldValue(None, Gt), "alpha": FieldValue(torch.tensor(alpha))}
    )
    np.testing.assert_allclose(got.detach().numpy(), want, rtol=1e-12)
    (grad,) = torch.autograd.grad(got.sum(), Gt)
    # the autograd stress is the closed-form stress
    for i in range(30):
        sig = TERM.stress(
            NUMPY_OPS, {"u": FieldValue(None, G[:, :, i]), "alpha": FieldValue(alpha[i])}
        )
        np.testing.assert_allclose(grad[:, :, i].numpy(), sig, rtol=0, atol=1e-9 * MU * 1e-3)


def test_new_ops_match_numpy():
    x = np.linspace(-3.0, 3.0, 13)
    y = np.linspace(-1.0, 2.0, 13)
    np.testing.assert_allclose(TORCH_OPS.cos(torch.tensor(x)).numpy(), NUMPY_OPS.cos(x))
    got = TORCH_POINTS_OPS.atan2(torch.tensor(y), torch.tensor(x)).numpy()
    np.testing.assert_allclose(got, NUMPY_POINTS_OPS.atan2(y, x), rtol=1e-14)
