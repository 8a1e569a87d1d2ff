"""The twinning vocabulary: Landau polynomials, per-variant gradients, transformation strain.

Known values in closed form, validation naming the bad value, and the
backend-independence of the densities (numpy against UFL).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from femgp.energy import NUMPY_OPS, NUMPY_POINTS_OPS, DoubleWell, FieldValue, GradientPenalty
from femgp.energy.elasticity import IsotropicElasticEnergy
from femgp.energy.landau import (
    LandauPolynomial,
    TransformationStrain,
    constant_tensor,
    interpolate,
    variant_gradient_energy,
)
from femgp.errors import InputError

RNG = np.random.default_rng(0)


def _fields(**values: float) -> dict[str, FieldValue]:
    return {k: FieldValue(v) for k, v in values.items()}


def test_234_density_matches_formula():
    f = LandauPolynomial.two_three_four(0.7, -3.1, 2.3, variants=("a", "b", "c"))
    eta = RNG.normal(size=(3, 20))
    got = f.density(NUMPY_POINTS_OPS, _fields(a=eta[0], b=eta[1], c=eta[2]))
    s2 = (eta**2).sum(0)
    want = 0.7 / 2 * s2 - 3.1 / 3 * (eta**3).sum(0) + 2.3 / 4 * s2**2
    np.testing.assert_allclose(got, want, rtol=1e-14)


def test_246_density_matches_formula():
    f = LandauPolynomial.two_four_six(-1.2, 0.4, 0.9, variants=("a", "b"))
    eta = RNG.normal(size=(2, 20))
    got = f.density(NUMPY_POINTS_OPS, _fields(a=eta[0], b=eta[1]))
    s2 = (eta**2).sum(0)
    want = -1.2 / 2 * s2 + 0.4 / 4 * (eta**4).sum(0) + 0.9 / 6 * s2**3
    np.testing.assert_allclose(got, want, rtol=1e-14)


def test_246_reproduces_symmetric_double_well():
    a = 1.7
    f = LandauPolynomial.two_four_six(-4 * a, 4 * a, 0.0, variants=("eta",))
    well = DoubleWell.symmetric(a, field="eta")
    eta = np.linspace(-1.5, 1.5, 31)
    np.testing.assert_allclose(
        f.density(NUMPY_OPS, _fields(eta=eta)) + a,
        well.density(NUMPY_OPS, _fields(eta=eta)),
        atol=1e-12,
    )
    assert f.variant_minimum() == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("form", ["2-3-4", "2-4-6"])
@pytest.mark.parametrize("a", [-1.0, 0.5, 2.0])
def test_normalised_wells(form, a):
    depth = 1.3
    f = LandauPolynomial.normalised(a, depth=depth, form=form, variants=("p", "q"))
    # each variant well sits at eta_i = 1 with f = -depth and zero slope
    for vals in ({"p": 1.0, "q": 0.0}, {"p": 0.0, "q": 1.0}):
        assert f.density(NUMPY_OPS, _fields(**vals)) == pytest.approx(-depth, rel=1e-13)
    h = 1e-6
    slope = (f.single(1 + h) - f.single(1 - h)) / (2 * h)
    assert abs(slope) < 1e-7
    assert f.variant_minimum() == pytest.approx(1.0, abs=1e-9)
    assert f.single(0.0) == 0.0


def test_landau_coefficients_of_normalised_234():
    f = LandauPolynomial.normalised(-1.0)
    assert (f.a2, f.a3, f.a4) == (-1.0, -9.0, 10.0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"a2": 1.0, "a4": 1.0, "form": "2-3-5"}, r"'2-3-5'.*allowed: '2-3-4', '2-4-6'"),
        ({"a2": 1.0, "a4": 0.0}, r"a4 must be > 0.*got 0.0"),
        ({"a2": 1.0, "a4": 1.0, "a6": 1.0}, r"a6 must be 0 in the 2-3-4 form, got 1.0"),
        ({"a2": 1.0, "a3": 1.0, "a6": 1.0, "form": "2-4-6"}, r"a3 must be 0 in the 2-4-6"),
        ({"a2": 1.0, "a4": -1.0, "form": "2-4-6"}, r"bounded below.*a4=-1.0"),
        ({"a2": math.nan, "a4": 1.0}, r"a2 must be finite, got nan"),
        ({"a2": 1.0, "a4": 1.0, "variants": ("e", "e")}, r"distinct names.*\('e', 'e'\)"),
        ({"a2": 1.0, "a4": 1.0, "variants": ()}, r"at least one field name"),
        ({"a2": 1.0, "a4": 1.0, "variants": "eta"}, r"sequence of field names, got 'eta'"),
    ],
)
def test_landau_validation(kwargs, match):
    with pytest.raises(InputError, match=match):
        LandauPolynomial(**kwargs)


def test_normalised_rejects_unbounded_shape_parameter():
    with pytest.raises(InputError, match=r"a > -4, got -7.0"):
        LandauPolynomial.normalised(-7.0)
    with pytest.raises(InputError, match=r"depth must be > 0, got 0"):
        LandauPolynomial.normalised(1.0, depth=0)


def _deepest_on_grid(f: LandauPolynomial) -> float:
    """min f over eta in [-2, 2]^N (steps of 0.05, N <= 3)."""
    axes = np.meshgrid(*[np.linspace(-2.0, 2.0, 81)] * len(f.variants), indexing="ij")
    etas = {n: FieldValue(x.ravel()) for n, x in zip(f.variants, axes, strict=True)}
    return float(np.min(f.density(NUMPY_POINTS_OPS, etas)))


@pytest.mark.parametrize(
    "form, n, bound",
    [("2-3-4", 1, -4.0), ("2-3-4", 3, -4.0), ("2-4-6", 1, -4.0), ("2-4-6", 3, -3.0)],
)
def test_normalised_variant_wells_are_the_minima_down_to_the_bound(form, n, bound):
    """Just above the bound the variant wells e_i are the deepest states; just below, the
    same formulas (the control) give a deeper state: a 2-3-4 well at eta = a/(2a + 12) < 0,
    or (2-4-6, several variants) a mixed state, e_i a saddle between them (a 2-4-6 single
    variant below -4 is unbounded, refused by the class itself)."""
    names = tuple(f"eta{i + 1}" for i in range(n))
    f = LandauPolynomial.normalised(bound + 0.1, form=form, variants=names)
    assert _deepest_on_grid(f) == pytest.approx(-1.0, abs=1e-12)
    a = bound - 0.1
    with pytest.raises(InputError, match=rf"needs a > {bound:g}, got {a!r}"):
        LandauPolynomial.normalised(a, form=form, variants=names)
    if form == "2-4-6" and n == 1:
        with pytest.raises(InputError, match="bounded below"):
            LandauPolynomial.two_four_six(a, -(4 * a + 12), 3 * a + 12, variants=names)
        return
    if form == "2-3-4":
        control = LandauPolynomial.two_three_four(a, -(3 * a + 12), 2 * a + 12, variants=names)
    else:
        control = LandauPolynomial.two_four_six(a, -(4 * a + 12), 3 * a + 12, variants=names)
    assert control.single(1.0) == pytest.approx(-1.0, abs=1e-12)
    assert _deepest_on_grid(control) < -1.0 - 1e-3


def test_variant_gradient_energy_is_one_penalty_per_variant():
    e = variant_gradient_energy(2.0, ("eta1", "eta2", "eta3"))
    assert [type(t) for t in e] == [GradientPenalty] * 3
    assert [t.field for t in e] == ["eta1", "eta2", "eta3"]
    grads = {n: FieldValue(0.0, RNG.normal(size=2)) for n in ("eta1", "eta2", "eta3")}
    want = sum(2.0 / 2 * float(g.grad @ g.grad) for g in grads.values())
    assert e.density(NUMPY_OPS, grads) == pytest.approx(want, rel=1e-14)
    assert {t.label for t in e} == {"gradient"}
    with pytest.raises(InputError, match="kappa must be > 0"):
        variant_gradient_energy(-1.0, ("eta",))


def test_transformation_strain_value():
    ts = TransformationStrain.square_to_rectangle(0.1)
    grad_u = RNG.normal(size=(2, 2))
    fields = {"u": FieldValue(None, grad_u), "eta1": FieldValue(0.6), "eta2": FieldValue(0.3)}
    got = ts.elastic_strain(NUMPY_OPS, fields)
    want = 0.5 * (grad_u + grad_u.T) - 0.36 * np.diag([0.1, -0.1]) - 0.09 * np.diag([-0.1, 0.1])
    np.testing.assert_allclose(got, want, rtol=1e-14)
    assert ts.fields == ("u", "eta1", "eta2")


def test_transformation_strain_points_backend():
    ts = TransformationStrain.cubic_to_tetragonal(0.05, -0.1)
    n = 7
    grad_u = RNG.normal(size=(3, 3, n))
    etas = RNG.uniform(size=(3, n))
    fields = {"u": FieldValue(None, grad_u)}
    fields |= {f"eta{i + 1}": FieldValue(etas[i]) for i in range(3)}
    got = ts.elastic_strain(NUMPY_POINTS_OPS, fields)
    for p in range(n):
        g = grad_u[:, :, p]
        want = 0.5 * (g + g.T) - sum(etas[i, p] ** 2 * np.asarray(ts.strains[i]) for i in range(3))
        np.testing.assert_allclose(got[:, :, p], want, rtol=1e-13)


def test_elastic_energy_vanishes_on_the_transformation_strain():
    ts = TransformationStrain.square_to_rectangle(0.05, interpolation="smoothstep")
    el = IsotropicElasticEnergy(lmbda=2.0, mu=1.0, strain=ts)
    eta1, eta2 = 0.8, 0.1
    eps0 = interpolate("smoothstep", eta1) * np.asarray(ts.strains[0])
    eps0 += interpolate("smoothstep", eta2) * np.asarray(ts.strains[1])
    fields = {"u": FieldValue(None, eps0), "eta1": FieldValue(eta1), "eta2": FieldValue(eta2)}
    assert el.density(NUMPY_OPS, fields) == pytest.approx(0.0, abs=1e-15)
    assert el.fields == ("u", "eta1", "eta2")


def test_square_to_rectangle_twin_planes_are_the_diagonals():
    # Two variants meet stress-free across a plane with tangent t iff t.(eps1 - eps2).t = 0.
    ts = TransformationStrain.square_to_rectangle(0.07)
    D = np.asarray(ts.strains[0]) - np.asarray(ts.strains[1])
    for t in (np.array([1.0, 1.0]) / math.sqrt(2), np.array([1.0, -1.0]) / math.sqrt(2)):
        assert abs(t @ D @ t) < 1e-15
    for t in (np.array([1.0, 0.0]), np.array([0.0, 1.0])):
        assert abs(t @ D @ t) == pytest.approx(0.14)
    # rotating the strains by 45 degrees rotates the twin planes onto the axes
    rot = TransformationStrain.square_to_rectangle(0.07, angle=math.pi / 4)
    Dr = np.asarray(rot.strains[0]) - np.asarray(rot.strains[1])
    assert abs(Dr[0, 0]) < 1e-16 and abs(Dr[1, 1]) < 1e-16


def test_cubic_to_tetragonal_strains_are_volume_preserving_and_sum_to_zero():
    ts = TransformationStrain.cubic_to_tetragonal(0.05, -0.1)
    mats = [np.asarray(m) for m in ts.strains]
    for m in mats:
        assert np.trace(m) == pytest.approx(0.0, abs=1e-16)
    np.testing.assert_allclose(sum(mats), 0.0, atol=1e-16)
    # variants 1 and 2 are compatible across (110): tangent (1, -1, 0) and (0, 0, 1)
    D = mats[0] - mats[1]
    for t in (np.array([1.0, 1.0, 0.0]), np.array([0.0, 0.0, 1.0])):
        assert abs(t @ D @ t) < 1e-16


def test_swapped_strain():
    ts = TransformationStrain.cubic_to_tetragonal(0.05, -0.1)
    sw = ts.swapped(0, 2)
    assert sw.strains == (ts.strains[2], ts.strains[1], ts.strains[0])
    with pytest.raises(InputError, match=r"variant index 3 out of range 0\.\.2"):
        ts.swapped(0, 3)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"strains": (((1.0, 0.0), (0.0, 1.0)),)}, r"one strain per variant: 2 variants, 1"),
        (
            {"strains": (((0.0, 1.0), (0.0, 0.0)), ((0.0, 0.0), (0.0, 0.0)))},
            r"strains\[0\] must be symmetric",
        ),
        (
            {"strains": (((0.0,),), ((0.0, 0.0), (0.0, 0.0)))},
            r"must all be 1x1; strains\[1\] is 2x2",
        ),
        ({"strains": ((1.0, 2.0), (3.0, 4.0))}, r"strains\[0\] must be a 1x1, 2x2 or 3x3"),
        ({"strains": "eps"}, r"sequence of matrices, got 'eps'"),
        (
            {"strains": (((0.0,),), ((0.0,),)), "interpolation": "cubic"},
            r"'cubic'; allowed: 'linear', 'quadratic', 'smoothstep'",
        ),
        (
            {"strains": (((0.0,),), ((0.0,),)), "displacement": "eta1"},
            r"displacement name 'eta1' is also a variant name",
        ),
        ({"strains": (((math.inf,),), ((0.0,),))}, r"strains\[0\] must be finite"),
    ],
)
def test_transformation_strain_validation(kwargs, match):
    with pytest.raises(InputError, match=match):
        TransformationStrain(**kwargs)


def test_constant_tensor_backends():
    m = ((1.0, 2.0), (2.0, 3.0))
    assert constant_tensor(NUMPY_OPS, m).shape == (2, 2)
    assert constant_tensor(NUMPY_POINTS_OPS, m).shape == (2, 2, 1)


def test_ufl_rendering_matches_numpy():
    """The same densities assembled by DOLFINx equal the numpy values (constant fields)."""
    pytest.importorskip("dolfinx")
    import femgp.fem._backend  # noqa: F401

    import ufl
    from dolfinx import fem
    from dolfinx import mesh as dmesh
    from mpi4py import MPI

    from femgp.fem.forms import energy_form, scalar

    msh = dmesh.create_unit_square(MPI.COMM_SELF, 2, 2)
    Q = fem.functionspace(msh, ("Lagrange", 1))
    V = fem.functionspace(msh, ("Lagrange", 1, (2,)))
    eta1, eta2 = fem.Function(Q), fem.Function(Q)
    eta1.x.array[:] = 0.8
    eta2.x.array[:] = 0.15
    u = fem.Function(V)
    G = np.array([[0.01, 0.03], [-0.02, 0.005]])
    u.interpolate(lambda x: G @ x[:2])
    ts = TransformationStrain.square_to_rectangle(0.1, angle=0.3)
    energy = LandauPolynomial.normalised(-1.0) + IsotropicElasticEnergy(
        lmbda=3.0, mu=2.0, strain=ts
    )
    got = scalar(energy_form(energy, {"eta1": eta1, "eta2": eta2, "u": u}, ufl.dx), msh.comm)
    fields = {"u": FieldValue(None, G), "eta1": FieldValue(0.8), "eta2": FieldValue(0.15)}
    assert got == pytest.approx(float(energy.density(NUMPY_OPS, fields)), rel=1e-12)
