"""The models' energy terms rendered in torch: the same densities as numpy.

The torch vocabulary (``femgp.ml.ops``) evaluates the energy terms of the
fracture and twinning models on batches of points; the densities must equal the
numpy ones to round-off, and for the 2D energy splits the first and second
derivatives must stay finite at an isotropic strain, where the spectral split's
eigenvalues coincide. The tests live here, in the torch process (the ``torch``
marker), apart from PETSc and MPI; ``tests/ml/test_ml_spectral3d.py`` has the
3D split.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

pytest.importorskip("torch")

import torch

from femgp.energy import NUMPY_POINTS_OPS, FieldValue
from femgp.energy.elasticity import IsotropicElasticEnergy, lame_from_young
from femgp.energy.fracture import Degradation
from femgp.energy.landau import LandauPolynomial, TransformationStrain
from femgp.ml.ops import TORCH_POINTS_OPS, TorchOps

pytestmark = pytest.mark.torch


def _unit_examples():
    """``tests/unit/test_energy_terms.py``, whose examples and samples import no PETSc."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "unit" / "test_energy_terms.py"
    spec = importlib.util.spec_from_file_location("_energy_term_examples", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


EXAMPLES = _unit_examples()


@pytest.mark.parametrize("idx", range(len(EXAMPLES.examples())))
def test_every_term_example_agrees_with_numpy(idx):
    """Each example of the backend-agreement test (every Term) through torch, to 1e-12."""
    term, kinds = EXAMPLES.examples()[idx]
    fields = EXAMPLES._sample(kinds, 5)
    ref = term.density(NUMPY_POINTS_OPS, fields)
    tf = {
        k: FieldValue(torch.tensor(v.value, dtype=torch.float64), torch.tensor(v.grad))
        for k, v in fields.items()
    }
    got = term.density(TORCH_POINTS_OPS, tf).numpy()
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)
    assert "dolfinx" not in sys.modules and "petsc4py" not in sys.modules

LMBDA, MU = lame_from_young(210.0, 0.3)


def test_torch_matches_numpy():
    rng = np.random.default_rng(2)
    G = rng.normal(scale=1e-3, size=(2, 2, 20))
    G[:, :, 0] = np.eye(2) * 1e-3  # isotropic: the derivative must stay finite
    alpha = rng.uniform(size=20)
    for split in ("none", "voldev", "spectral"):
        term = IsotropicElasticEnergy(LMBDA, MU, split=split, degradation=Degradation())
        want = term.density(
            NUMPY_POINTS_OPS, {"u": FieldValue(None, G), "alpha": FieldValue(alpha)}
        )
        Gt = torch.tensor(G, dtype=torch.float64, requires_grad=True)
        got = term.density(
            TORCH_POINTS_OPS,
            {"u": FieldValue(None, Gt), "alpha": FieldValue(torch.tensor(alpha))},
        )
        np.testing.assert_allclose(got.detach().numpy(), want, rtol=1e-12)
        (grad,) = torch.autograd.grad(got.sum(), Gt, create_graph=True)
        assert torch.isfinite(grad).all()
        (hess,) = torch.autograd.grad(grad.sum(), Gt)
        assert torch.isfinite(hess).all()


def test_torch_rendering_matches_numpy():
    """Landau + elasticity of the transformation strain render identically in torch."""
    rng = np.random.default_rng(0)
    ts = TransformationStrain.square_to_rectangle(0.1, angle=0.3)
    energy = LandauPolynomial.normalised(-1.0) + IsotropicElasticEnergy(
        lmbda=3.0, mu=2.0, strain=ts
    )
    G = rng.normal(size=(2, 2, 5))
    e1, e2 = rng.uniform(size=5), rng.uniform(size=5)
    want = energy.density(
        NUMPY_POINTS_OPS,
        {"u": FieldValue(None, G), "eta1": FieldValue(e1), "eta2": FieldValue(e2)},
    )
    fields = {
        "u": FieldValue(None, torch.tensor(G)),
        "eta1": FieldValue(torch.tensor(e1)),
        "eta2": FieldValue(torch.tensor(e2)),
    }
    got = energy.density(TorchOps(points=True, dtype=torch.float64), fields)
    np.testing.assert_allclose(got.detach().numpy(), want, rtol=1e-13)
