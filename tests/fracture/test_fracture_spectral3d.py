"""Miehe's spectral split in 3D: closed-form principal strains, densities, stresses, UFL.

numpy-level checks against ``numpy.linalg.eigvalsh`` and hand formulas; the
UFL rendering on a 3D mesh (finite residual and Jacobian where principal
strains coincide). The torch double-backward Hessians are in
``tests/ml/test_ml_spectral3d.py`` (a torch process); the 3D bar and the
hydrostatic compression runs in ``test_fracture_3d.py``.
"""

from __future__ import annotations

import numpy as np
import pytest

from femgp.energy import NUMPY_OPS, NUMPY_POINTS_OPS, FieldValue
from femgp.energy.elasticity import (
    SPECTRAL_DELTA,
    SPECTRAL_KAPPA,
    IsotropicElasticEnergy,
    lame_from_young,
)
from femgp.energy.fracture import Degradation

E, NU = 210.0, 0.3
LMBDA, MU = lame_from_young(E, NU)
RNG = np.random.default_rng(12)


def _term(**kw) -> IsotropicElasticEnergy:
    return IsotropicElasticEnergy(LMBDA, MU, split="spectral", model="3d", **kw)


def _eigs(eps: np.ndarray) -> np.ndarray:
    """The closed-form principal strains, increasing (points along the last axis)."""
    e = np.array(_term().principal_strains(NUMPY_POINTS_OPS, eps))
    return e[::-1].T


def _hand(G: np.ndarray, alpha: float, k_res: float = 1e-6) -> float:
    eps = 0.5 * (G + G.T)
    ev = np.linalg.eigvalsh(eps)
    tr = np.trace(eps)
    psi_p = 0.5 * LMBDA * max(tr, 0.0) ** 2 + MU * np.sum(np.maximum(ev, 0) ** 2)
    psi_m = 0.5 * LMBDA * min(tr, 0.0) ** 2 + MU * np.sum(np.minimum(ev, 0) ** 2)
    return ((1 - alpha) ** 2 + k_res) * psi_p + psi_m


def test_principal_strains_match_eigvalsh_away_from_coincidence():
    """Random symmetric strains whose principal strains differ by > 1e-2 of their spread.

    Tolerance 3e-11 of the largest principal strain (measured: 5.2e-12; the floor
    kappa moves the angle by about kappa cot(3 phi) / 2).
    """
    G = RNG.normal(scale=1e-3, size=(3, 3, 5000))
    eps = NUMPY_POINTS_OPS.sym(G)
    ref = np.linalg.eigvalsh(np.moveaxis(eps, -1, 0))
    spread = ref[:, 2] - ref[:, 0]
    keep = np.min(np.diff(ref, axis=1), axis=1) > 1e-2 * spread
    assert keep.sum() > 4000
    err = np.abs(_eigs(eps[..., keep]) - ref[keep]).max(axis=1)
    scale = np.abs(ref[keep]).max(axis=1)
    assert (err / scale).max() < 3e-11, (err / scale).max()


@pytest.mark.parametrize(
    "diag",
    [
        (1e-3, 1e-3, 1e-3),  # isotropic
        (-2e-3, -2e-3, -2e-3),  # hydrostatic compression
        (1e-3, 0.0, 0.0),  # uniaxial strain
        (1e-3, -3e-4, -3e-4),  # uniaxial stress
        (5e-4, 5e-4, -1e-3),  # the two largest coincide
        (0.0, 0.0, 0.0),
    ],
)
def test_principal_strains_at_coincidence_within_the_regularisation(diag):
    """Where eigenvalues coincide the floors move them by at most delta + rho sqrt(kappa)/3."""
    Q, _ = np.linalg.qr(RNG.normal(size=(3, 3)))  # any orientation
    for R in (np.eye(3), Q):
        eps = R @ np.diag(diag) @ R.T
        got = np.sort(np.array(_term().principal_strains(NUMPY_OPS, eps)))
        rho = 2 * np.sqrt((0.5 * np.sum((eps - np.trace(eps) / 3 * np.eye(3)) ** 2)) / 3)
        bound = 2 * SPECTRAL_DELTA + rho * np.sqrt(SPECTRAL_KAPPA) / 3 + 1e-15
        assert np.abs(got - np.sort(diag)).max() <= bound, (got, diag, bound)


def test_density_matches_hand_formula_and_vectorises():
    term = _term(degradation=Degradation())
    G = RNG.normal(scale=1e-3, size=(3, 3, 40))
    G[:, :, 0] = np.diag([1e-3, -3e-4, -3e-4])
    G[:, :, 1] = 0.0
    alpha = np.linspace(0.0, 1.0, 40)
    vec = term.density(NUMPY_POINTS_OPS, {"u": FieldValue(None, G), "alpha": FieldValue(alpha)})
    for i in range(40):
        one = term.density(
            NUMPY_OPS, {"u": FieldValue(None, G[:, :, i]), "alpha": FieldValue(alpha[i])}
        )
        want = _hand(G[:, :, i], alpha[i])
        assert one == pytest.approx(want, rel=1e-9, abs=1e-16)
        assert vec[i] == pytest.approx(one, rel=1e-12, abs=1e-20)


def test_split_sums_to_full_energy_and_parts_are_nonnegative():
    term = _term()
    eps = NUMPY_POINTS_OPS.sym(RNG.normal(scale=1e-3, size=(3, 3, 200)))
    p, m = term.split_energy(NUMPY_POINTS_OPS, eps)
    np.testing.assert_allclose(p + m, term.strain_energy(NUMPY_POINTS_OPS, eps), rtol=1e-9)
    assert np.all(p >= 0) and np.all(m >= 0)


def test_hydrostatic_compression_has_no_tensile_energy():
    """psi_+ = 0 exactly under hydrostatic compression (and near it); tension drives damage."""
    term = _term()
    for e in (1e-6, 1e-3, 0.1):
        comp = -e * np.eye(3)
        p, m = term.split_energy(NUMPY_OPS, comp)
        assert p == 0.0 and m > 0
        near = comp + 1e-3 * e * NUMPY_OPS.sym(RNG.normal(size=(3, 3)))
        assert term.split_energy(NUMPY_OPS, near)[0] == 0.0
        # the control: the same strain in tension is all tensile
        p, m = term.split_energy(NUMPY_OPS, -comp)
        assert p > 0 and m == 0.0


def _fd_stress(term, G, alpha, h=1e-9):
    fd = np.zeros((3, 3))
    for i in range(3):
        for j in range(3):
            dG = np.zeros((3, 3))
            dG[i, j] = h
            f = [
                term.density(NUMPY_OPS, {"u": FieldValue(None, Gk), "alpha": FieldValue(alpha)})
                for Gk in (G + dG, G - dG)
            ]
            fd[i, j] = (f[0] - f[1]) / (2 * h)
    return fd


def test_stress_is_derivative_of_density():
    """The closed-form 3D spectral stress against central differences (measured 5e-10)."""
    term = _term(degradation=Degradation())
    cases = [RNG.normal(scale=1e-3, size=(3, 3)) for _ in range(6)]
    cases.append(np.diag([1e-3, -3e-4, -3e-4]) + np.array([[0, 1e-4, 0], [0, 0, 0], [0, 0, 0]]))
    for G in cases:
        sig = term.stress(NUMPY_OPS, {"u": FieldValue(None, G), "alpha": FieldValue(0.4)})
        fd = _fd_stress(term, G, 0.4)
        np.testing.assert_allclose(sig, fd, rtol=0, atol=1e-6 * np.abs(fd).max())


def test_two_dimensional_split_is_unchanged():
    """The 2D principal strains are still m ± r (the 3D branch leaves 2D alone)."""
    term = IsotropicElasticEnergy(LMBDA, MU, split="spectral")
    eps = np.array([[1e-3, 2e-4], [2e-4, -5e-4]])
    e1, e2 = term.principal_strains(NUMPY_OPS, eps)
    np.testing.assert_allclose([e2, e1], np.linalg.eigvalsh(eps), rtol=1e-12)


@pytest.mark.parametrize(
    "grad",
    [
        np.zeros((3, 3)),  # all principal strains coincide (zero strain)
        np.diag([1e-3, 1e-3, 1e-3]),  # isotropic
        np.diag([1e-3, -3e-4, -3e-4]),  # uniaxial stress: two coincide
    ],
)
def test_ufl_derivatives_finite_where_principal_strains_coincide(grad):
    """Residual and Jacobian of the UFL 3D spectral energy are finite (and the Jacobian not 0)."""
    import ufl
    from dolfinx import fem, mesh
    from mpi4py import MPI

    from femgp.fem.forms import energy_form

    msh = mesh.create_unit_cube(MPI.COMM_SELF, 2, 2, 2)
    V = fem.functionspace(msh, ("Lagrange", 1, (3,)))
    u = fem.Function(V)
    u.interpolate(lambda x: grad @ x)  # homogeneous strain sym(grad)
    term = _term(degradation=Degradation())
    alpha = fem.Function(fem.functionspace(msh, ("Lagrange", 1)))
    alpha.x.array[:] = 0.3
    E_ = energy_form(term, {"u": u, "alpha": alpha})
    F = ufl.derivative(E_, u, ufl.TestFunction(V))
    J = ufl.derivative(F, u, ufl.TrialFunction(V))
    b = fem.assemble_vector(fem.form(F))
    A = fem.assemble_matrix(fem.form(J)).to_dense()
    assert np.isfinite(b.array).all()
    assert np.isfinite(A).all()
    assert np.abs(A).max() > 0
    # the Jacobian is the undegraded-plus-degraded stiffness: symmetric and positive
    # semi-definite (rigid motions aside), never indefinite
    A = 0.5 * (A + A.T)
    w = np.linalg.eigvalsh(A)
    assert w.min() > -1e-8 * w.max(), (w.min(), w.max())
