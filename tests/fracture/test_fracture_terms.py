"""Unit tests of the fracture vocabulary: validation, densities vs hand formulas, stresses."""

from __future__ import annotations

import math

import numpy as np
import pytest

from femgp.energy import NUMPY_OPS, NUMPY_POINTS_OPS, FieldValue, GradientPenalty
from femgp.energy.elasticity import IsotropicElasticEnergy, SmallStrain, lame_from_young
from femgp.energy.fracture import CrackDensity, Degradation, c_w
from femgp.errors import InputError

E, NU = 210.0, 0.3
LMBDA, MU = lame_from_young(E, NU)

GRADS = [
    np.array([[1e-3, 2e-4], [-1e-4, -5e-4]]),  # mixed signs
    np.array([[2e-3, 0.0], [0.0, 2e-3]]),  # isotropic tension
    np.array([[-1e-3, 3e-4], [1e-4, -2e-3]]),  # compression
    np.array([[0.0, 0.0], [0.0, 0.0]]),  # zero
]


def _fields(G: np.ndarray, alpha: float = 0.0) -> dict[str, FieldValue]:
    return {"u": FieldValue(None, G), "alpha": FieldValue(alpha)}


def _hand(G: np.ndarray, split: str, model: str, alpha: float, k_res: float = 1e-6) -> float:
    """Densities straight from the textbook formulas, with numpy eigenvalues."""
    eps = 0.5 * (G + G.T)
    lam = 2 * LMBDA * MU / (LMBDA + 2 * MU) if model == "plane_stress" else LMBDA
    a = (1 - alpha) ** 2 + k_res
    tr = np.trace(eps)
    psi = 0.5 * lam * tr**2 + MU * np.sum(eps * eps)
    if split == "none":
        return a * psi
    pos, neg = max(tr, 0.0), min(tr, 0.0)
    if split == "voldev":
        n = 2 if model == "plane_stress" else 3
        eps3 = np.zeros((n, n))
        eps3[:2, :2] = eps
        dev = eps3 - np.trace(eps3) / n * np.eye(n)
        K = lam + 2 * MU / n
        return a * (0.5 * K * pos**2 + MU * np.sum(dev * dev)) + 0.5 * K * neg**2
    ev = np.linalg.eigvalsh(eps)
    psi_p = 0.5 * lam * pos**2 + MU * np.sum(np.maximum(ev, 0) ** 2)
    psi_m = 0.5 * lam * neg**2 + MU * np.sum(np.minimum(ev, 0) ** 2)
    return a * psi_p + psi_m


# -- validation ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"lmbda": 1.0, "mu": 0.0}, "mu must be > 0"),
        ({"lmbda": 1.0, "mu": -1.0}, "mu must be > 0"),
        ({"lmbda": -1.0, "mu": 1.0}, "lmbda must exceed"),
        ({"lmbda": 1.0, "mu": 1.0, "split": "miehe"}, "allowed: 'none', 'voldev', 'spectral'"),
        ({"lmbda": 1.0, "mu": 1.0, "model": "2d"}, "'plane_strain', 'plane_stress', '3d'"),
        ({"lmbda": float("nan"), "mu": 1.0}, "finite"),
        ({"lmbda": 1.0, "mu": 1.0, "degradation": 2.0}, "Degradation"),
    ],
)
def test_elastic_validation(kwargs, match):
    with pytest.raises(InputError, match=match):
        IsotropicElasticEnergy(**kwargs)


def test_slightly_negative_lambda_is_allowed():
    e = IsotropicElasticEnergy(lmbda=-0.5, mu=1.0)
    assert e.nu < 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"Gc": 0.0, "ell": 1.0}, "Gc must be > 0"),
        ({"Gc": -1.0, "ell": 1.0}, "Gc must be > 0"),
        ({"Gc": 1.0, "ell": 0.0}, "ell must be > 0"),
        ({"Gc": 1.0, "ell": -0.1}, "ell must be > 0"),
        ({"Gc": 1.0, "ell": 0.1, "model": "AT3"}, "allowed: 'AT1', 'AT2'"),
    ],
)
def test_crack_validation(kwargs, match):
    with pytest.raises(InputError, match=match):
        CrackDensity(**kwargs)


def test_from_young_and_degradation_validation():
    with pytest.raises(InputError, match="nu must be in"):
        IsotropicElasticEnergy.from_young(1.0, 0.5)
    with pytest.raises(InputError, match="E must be > 0"):
        IsotropicElasticEnergy.from_young(0.0, 0.2)
    with pytest.raises(InputError, match="k_res"):
        Degradation(k_res=-1e-3)
    with pytest.raises(InputError, match="non-empty name"):
        SmallStrain(displacement="")
    e = IsotropicElasticEnergy.from_young(E, NU)
    assert math.isclose(e.E, E, rel_tol=1e-12) and math.isclose(e.nu, NU, rel_tol=1e-12)
    # The SENT constants of Miehe et al. 2010.
    assert math.isclose(e.lmbda, 121.15, rel_tol=1e-3) and math.isclose(e.mu, 80.77, rel_tol=1e-3)


# -- densities ---------------------------------------------------------------------
@pytest.mark.parametrize("split", ["none", "voldev", "spectral"])
@pytest.mark.parametrize("model", ["plane_strain", "plane_stress"])
@pytest.mark.parametrize("alpha", [0.0, 0.6])
def test_density_matches_hand_formula(split, model, alpha):
    term = IsotropicElasticEnergy(LMBDA, MU, split=split, model=model, degradation=Degradation())
    for G in GRADS:
        got = term.density(NUMPY_OPS, _fields(G, alpha))
        want = _hand(G, split, model, alpha)
        # the spectral regularisation changes psi by at most 2 mu delta^2 (1e-18 here)
        assert got == pytest.approx(want, rel=1e-10, abs=1e-16), (G, got, want)


@pytest.mark.parametrize("split", ["none", "voldev"])
def test_3d_density(split):
    G = np.array([[1e-3, 2e-4, 0.0], [0.0, -5e-4, 1e-4], [3e-4, 0.0, 2e-4]])
    eps = 0.5 * (G + G.T)
    term = IsotropicElasticEnergy(LMBDA, MU, split=split, model="3d", degradation=Degradation(0))
    got = term.density(NUMPY_OPS, _fields(G, 0.5))
    tr = np.trace(eps)
    if split == "none":
        want = 0.25 * (0.5 * LMBDA * tr**2 + MU * np.sum(eps * eps))
    else:
        K = LMBDA + 2 * MU / 3
        dev = eps - tr / 3 * np.eye(3)
        want = (
            0.25 * (0.5 * K * max(tr, 0) ** 2 + MU * np.sum(dev * dev)) + 0.5 * K * min(tr, 0) ** 2
        )
    assert got == pytest.approx(want, rel=1e-12)


def test_splits_sum_to_full_energy_and_points_axis():
    rng = np.random.default_rng(1)
    G = rng.normal(scale=1e-3, size=(2, 2, 50))
    for split in ("voldev", "spectral"):
        term = IsotropicElasticEnergy(LMBDA, MU, split=split)
        eps = NUMPY_POINTS_OPS.sym(G)
        p, m = term.split_energy(NUMPY_POINTS_OPS, eps)
        full = term.strain_energy(NUMPY_POINTS_OPS, eps)
        np.testing.assert_allclose(p + m, full, rtol=1e-9)
        assert np.all(p >= 0) and np.all(m >= 0)
        # vectorised densities equal point-by-point ones
        dens = IsotropicElasticEnergy(LMBDA, MU, split=split, degradation=Degradation())
        alpha = np.linspace(0, 1, 50)
        vec = dens.density(NUMPY_POINTS_OPS, {"u": FieldValue(None, G), "alpha": FieldValue(alpha)})
        one = [dens.density(NUMPY_OPS, _fields(G[:, :, i], alpha[i])) for i in range(50)]
        np.testing.assert_allclose(vec, one, rtol=1e-12)


@pytest.mark.parametrize("split", ["none", "voldev", "spectral"])
@pytest.mark.parametrize("model", ["plane_strain", "plane_stress"])
def test_stress_is_derivative_of_density(split, model):
    term = IsotropicElasticEnergy(LMBDA, MU, split=split, model=model, degradation=Degradation())
    h = 1e-9
    for G in GRADS[:3]:
        sig = term.stress(NUMPY_OPS, _fields(G, 0.4))
        fd = np.zeros((2, 2))
        for i in range(2):
            for j in range(2):
                dG = np.zeros((2, 2))
                dG[i, j] = h
                fd[i, j] = (
                    term.density(NUMPY_OPS, _fields(G + dG, 0.4))
                    - term.density(NUMPY_OPS, _fields(G - dG, 0.4))
                ) / (2 * h)
        np.testing.assert_allclose(sig, fd, rtol=1e-5, atol=1e-8)


def test_compression_has_no_tensile_energy():
    G = np.array([[-1e-3, 0.0], [0.0, -2e-3]])
    for split in ("voldev", "spectral"):
        p, m = IsotropicElasticEnergy(LMBDA, MU, split=split).split_energy(
            NUMPY_OPS, 0.5 * (G + G.T)
        )
        if split == "spectral":
            assert p == pytest.approx(0.0, abs=1e-15)
        else:  # the deviatoric part stays tensile in the vol-dev split
            assert p > 0
        assert m > 0


def test_plane_stress_lambda_and_bar_modulus():
    ps = IsotropicElasticEnergy.from_young(E, NU, model="plane_stress")
    assert ps.lmbda_eff == pytest.approx(E * NU / (1 - NU**2), rel=1e-12)
    assert ps.E_eff == pytest.approx(E)
    pe = IsotropicElasticEnergy.from_young(E, NU, model="plane_strain")
    assert pe.E_eff == pytest.approx(E / (1 - NU**2))


# -- crack density ---------------------------------------------------------------------
@pytest.mark.parametrize("model", ["AT1", "AT2"])
def test_crack_density_formula_and_gradient_penalty(model):
    Gc, ell = 2.7e-3, 0.015
    term = CrackDensity(Gc, ell, model=model)
    cw = {"AT1": 8 / 3, "AT2": 2.0}[model]
    assert term.c_w == c_w(model) == cw
    alpha, g = 0.3, np.array([2.0, -1.0])
    w = alpha if model == "AT1" else alpha**2
    want = Gc / cw * (w / ell + ell * g @ g)
    got = term.density(NUMPY_OPS, {"alpha": FieldValue(alpha, g)})
    assert got == pytest.approx(want, rel=1e-14)
    gp = term.gradient
    assert isinstance(gp, GradientPenalty)
    assert gp.kappa == pytest.approx(2 * Gc * ell / cw) and gp.field == "alpha"


def test_analytic_helpers():
    Gc, ell, E_ = 1.0, 0.1, 1.0
    at1, at2 = CrackDensity(Gc, ell, "AT1"), CrackDensity(Gc, ell, "AT2")
    assert at1.critical_stress(E_) == pytest.approx(math.sqrt(3 * Gc * E_ / (8 * ell)))
    sigma_max = 3 * math.sqrt(3) / 16 * math.sqrt(E_ * Gc / ell)
    assert at2.critical_stress(E_) == pytest.approx(sigma_max)
    # AT2: the peak of sigma(eps) = a(alpha(eps)) E eps is where the formulas say
    eps = np.linspace(1e-4, 5.0, 200001)
    sig = np.array([(1 - at2.homogeneous_damage(e, E_)) ** 2 * E_ * e for e in eps])
    i = int(np.argmax(sig))
    assert sig[i] == pytest.approx(at2.critical_stress(E_), rel=1e-6)
    assert eps[i] == pytest.approx(at2.critical_strain(E_), rel=1e-3)
    assert at2.homogeneous_damage(at2.critical_strain(E_), E_) == pytest.approx(0.25)
    # the critical driving force: psi = E eps_c^2 / 2 at the critical strain, for any E
    for E in (E_, 210.0):
        for term in (at1, at2):
            want = 0.5 * E * term.critical_strain(E) ** 2
            assert term.critical_energy() == pytest.approx(want, rel=1e-12)
    assert at1.critical_energy() == pytest.approx(3 * Gc / (16 * ell), rel=1e-12)
    assert at2.critical_energy() == pytest.approx(Gc / (6 * ell), rel=1e-12)
    # AT1: undamaged up to sigma_c
    assert at1.homogeneous_damage(0.99 * at1.critical_strain(E_), E_) == 0.0
    assert at1.gc_eff(0.01) == pytest.approx(Gc * (1 + 0.01 / (8 / 3 * ell)))
    x = np.array([0.0, ell, 2 * ell, 3 * ell])
    np.testing.assert_allclose(at1.profile(x), [1.0, 0.25, 0.0, 0.0])
    np.testing.assert_allclose(at2.profile(x), np.exp(-x / ell))


def test_ufl_spectral_derivatives_finite_at_isotropic_strain():
    """The UFL spectral density has finite first and second derivatives at u = 0."""
    import ufl
    from dolfinx import fem, mesh
    from mpi4py import MPI

    from femgp.fem.forms import energy_form

    msh = mesh.create_unit_square(MPI.COMM_SELF, 2, 2)
    V = fem.functionspace(msh, ("Lagrange", 1, (2,)))
    u = fem.Function(V)  # zero: isotropic (zero) strain everywhere
    term = IsotropicElasticEnergy(LMBDA, MU, split="spectral")
    E = energy_form(term, {"u": u})
    F = ufl.derivative(E, u, ufl.TestFunction(V))
    J = ufl.derivative(F, u, ufl.TrialFunction(V))
    b = fem.assemble_vector(fem.form(F))
    A = fem.assemble_matrix(fem.form(J))
    assert np.isfinite(b.array).all()
    assert np.isfinite(A.to_dense()).all()
    assert np.abs(A.to_dense()).max() > 0
