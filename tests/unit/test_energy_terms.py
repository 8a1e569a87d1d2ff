"""The energy vocabulary: validation, closed forms, splits, and one meaning in every backend.

Every density is evaluated pointwise through numpy and through the UFL renderer
(compiled by FFCx and evaluated by DOLFINx); they must agree to 1e-12. The same
examples go through torch in ``tests/ml/test_ml_energy_terms.py`` (torch runs in
its own process, apart from PETSc). A Term subclass without an example here fails
the test.
"""

from __future__ import annotations

import numpy as np
import pytest

from femgp.energy import (
    NUMPY_OPS,
    NUMPY_POINTS_OPS,
    DoubleWell,
    Energy,
    FieldValue,
    GradientPenalty,
    SplitPart,
    Term,
)
from femgp.errors import InputError

RNG = np.random.default_rng(1234)


def examples() -> list[tuple[Term, dict[str, str]]]:
    """One or more instances of every Term, with the kind of each field it reads."""
    ex: list[tuple[Term, dict[str, str]]] = [
        (GradientPenalty(kappa=2.0, field="c"), {"c": "scalar"}),
        (GradientPenalty(kappa=20.0, field="c", target=1.0), {"c": "scalar"}),
        (GradientPenalty(kappa=3.0, field="c", target=1.0, one_sided=True), {"c": "scalar"}),
        (DoubleWell(5.0, 0.3, 0.7), {"c": "scalar"}),
        (DoubleWell.symmetric(1.5, field="c"), {"c": "scalar"}),
        (SplitPart(DoubleWell(5.0, 0.3, 0.7), "convex"), {"c": "scalar"}),
        (SplitPart(DoubleWell(5.0, 0.3, 0.7), "concave"), {"c": "scalar"}),
    ]
    ex += _extra_examples()
    return ex


def _extra_examples() -> list[tuple[Term, dict[str, str]]]:
    """Examples of the fracture, elasticity and Landau terms."""
    from femgp.energy.elasticity import IsotropicElasticEnergy
    from femgp.energy.fracture import CrackDensity, Degradation
    from femgp.energy.landau import LandauPolynomial, TransformationStrain

    ex: list[tuple[Term, dict[str, str]]] = [
        (CrackDensity(Gc=2.7e-3, ell=0.015, model="AT1"), {"alpha": "scalar"}),
        (CrackDensity(Gc=2.7e-3, ell=0.015, model="AT2"), {"alpha": "scalar"}),
        (LandauPolynomial.two_three_four(-1.0, -3.0, 2.0), {"eta1": "scalar", "eta2": "scalar"}),
        (
            LandauPolynomial(a2=1.0, a4=-2.0, a6=1.5, form="2-4-6"),
            {"eta1": "scalar", "eta2": "scalar"},
        ),
    ]
    u_alpha = {"u": "vector", "alpha": "scalar"}
    for split in ("none", "voldev", "spectral"):
        for model in ("plane_strain", "plane_stress"):
            term = IsotropicElasticEnergy(
                121.15, 80.77, split=split, model=model, degradation=Degradation(k_res=1e-6)
            )
            ex.append((term, u_alpha))
    ex.append((IsotropicElasticEnergy(1.0, 0.7, split="voldev", model="3d"), {"u": "vector3"}))
    ts = TransformationStrain.square_to_rectangle(0.05)
    ex.append(
        (
            IsotropicElasticEnergy(2.0, 1.0, strain=ts),
            {"u": "vector", "eta1": "scalar", "eta2": "scalar"},
        )
    )
    return ex


def _all_subclasses(cls: type) -> set[type]:
    out = set()
    for sub in cls.__subclasses__():
        out |= {sub} | _all_subclasses(sub)
    return out


def test_every_term_has_an_example():
    covered = {type(t) for t, _ in examples()}
    missing = {c.__name__ for c in _all_subclasses(Term) if c.__module__.startswith("femgp.")}
    missing -= {c.__name__ for c in covered}
    assert not missing, f"terms without a backend-agreement example: {sorted(missing)}"


def _dim(kinds: dict[str, str]) -> int:
    return 3 if "vector3" in kinds.values() else 2


def _sample(kinds: dict[str, str], n: int) -> dict[str, FieldValue]:
    d = _dim(kinds)
    fields = {}
    for name, kind in kinds.items():
        if kind == "scalar":
            fields[name] = FieldValue(RNG.uniform(-1.2, 1.2, n), RNG.normal(size=(d, n)))
        else:
            fields[name] = FieldValue(RNG.normal(size=(d, n)), 0.1 * RNG.normal(size=(d, d, n)))
    return fields


@pytest.mark.parametrize("idx", range(len(examples())))
def test_numpy_points_agree_with_single_points(idx):
    term, kinds = examples()[idx]
    fields = _sample(kinds, 7)
    batched = term.density(NUMPY_POINTS_OPS, fields)
    for i in range(7):
        single = {k: FieldValue(v.value[..., i], v.grad[..., i]) for k, v in fields.items()}
        assert term.density(NUMPY_OPS, single) == pytest.approx(batched[i], rel=1e-13, abs=1e-13)


def _ufl_evaluator(term: Term, kinds: dict[str, str], d: int):
    """Compile the UFL rendering of ``term`` once, with Constants as inputs."""
    pytest.importorskip("dolfinx")
    import femgp.fem._backend  # noqa: F401

    from dolfinx import fem, mesh
    from mpi4py import MPI

    from femgp.fem.forms import UFL_OPS

    msh = mesh.create_unit_square(MPI.COMM_SELF, 1, 1)
    consts = {}
    for name, kind in kinds.items():
        if kind == "scalar":
            consts[name] = (fem.Constant(msh, 0.0), fem.Constant(msh, np.zeros(d)))
        else:
            consts[name] = (fem.Constant(msh, np.zeros(d)), fem.Constant(msh, np.zeros((d, d))))
    fv = {k: FieldValue(v, g) for k, (v, g) in consts.items()}
    expr = fem.Expression(term.density(UFL_OPS, fv), np.array([[1 / 3, 1 / 3]]))

    def evaluate(point: dict[str, FieldValue]) -> float:
        for k, (v, g) in consts.items():
            v.value = point[k].value
            g.value = point[k].grad
        return float(expr.eval(msh, np.array([0], dtype=np.int32)).ravel()[0])

    return evaluate


@pytest.mark.parametrize("idx", range(len(examples())))
def test_ufl_numpy_agree(idx):
    """The UFL rendering against numpy (torch against numpy: in the torch process,
    ``tests/ml/test_ml_energy_terms.py``; torch kernels crash beside PETSc)."""
    term, kinds = examples()[idx]
    fields = _sample(kinds, 5)
    ref = term.density(NUMPY_POINTS_OPS, fields)
    ufl_eval = _ufl_evaluator(term, kinds, _dim(kinds))
    for i in range(5):
        single = {k: FieldValue(v.value[..., i], v.grad[..., i]) for k, v in fields.items()}
        assert ufl_eval(single) == pytest.approx(ref[i], rel=1e-12, abs=1e-12)


def test_gradient_penalty_closed_forms():
    g = np.array([3.0, 4.0])
    f = {"phi": FieldValue(None, g)}
    assert GradientPenalty(2.0).density(NUMPY_OPS, f) == pytest.approx(25.0)
    # WGAN-GP: lambda (|g| - 1)^2 with lambda = kappa / 2
    assert GradientPenalty(20.0, target=1.0).density(NUMPY_OPS, f) == pytest.approx(10 * 16)
    small = {"phi": FieldValue(None, np.array([0.3, 0.4]))}
    assert GradientPenalty(20.0, target=1.0, one_sided=True).density(NUMPY_OPS, small) == 0.0
    assert GradientPenalty(20.0, target=1.0).density(NUMPY_OPS, small) == pytest.approx(2.5)


def test_double_well_minima_derivatives_and_split():
    w = DoubleWell(5.0, 0.3, 0.7)
    c = np.linspace(0.0, 1.0, 41)
    f = w.density(NUMPY_POINTS_OPS, {"c": FieldValue(c)})
    assert w.density(NUMPY_OPS, {"c": FieldValue(0.3)}) == 0.0
    assert w.density(NUMPY_OPS, {"c": FieldValue(0.7)}) == 0.0
    # Central differences (h = 1e-4): measured errors 1.0e-7 (f', up to 2.1) and 2.0e-7
    # (f'', up to 14.2), so a 1% mistake anywhere in either closed form fails.
    h = 1e-4
    fd1 = (
        w.density(NUMPY_POINTS_OPS, {"c": FieldValue(c + h)})
        - w.density(NUMPY_POINTS_OPS, {"c": FieldValue(c - h)})
    ) / (2 * h)
    np.testing.assert_allclose([w.df(x) for x in c], fd1, rtol=0, atol=4e-7)
    fd2 = (np.array([w.df(x + h) for x in c]) - np.array([w.df(x - h) for x in c])) / (2 * h)
    np.testing.assert_allclose([w.d2f(x) for x in c], fd2, rtol=0, atol=8e-7)
    assert w.d2f(0.5) == pytest.approx(-0.8)  # docs/benchmarks.md, PFHub 1
    cvx, ccv = w.split()
    fc = cvx.density(NUMPY_POINTS_OPS, {"c": FieldValue(c)})
    fe = ccv.density(NUMPY_POINTS_OPS, {"c": FieldValue(c)})
    np.testing.assert_allclose(fc + fe, f, atol=1e-14)
    assert np.all(np.diff(fc, 2) >= -1e-14), "convex part is not convex"
    assert np.all(np.diff(fe, 2) <= 1e-14), "concave part is not concave"


def test_symmetric_well():
    w = DoubleWell.symmetric(2.0)
    eta = np.array([-1.0, 0.0, 0.5, 1.0])
    np.testing.assert_allclose(
        w.density(NUMPY_POINTS_OPS, {"eta": FieldValue(eta)}), 2.0 * (eta**2 - 1) ** 2
    )


def test_energy_sum_fields_and_components():
    e = DoubleWell(5.0, 0.3, 0.7) + GradientPenalty(2.0, field="c")
    assert isinstance(e, Energy) and len(e) == 2 and e.fields == ("c",)
    f = {"c": FieldValue(np.array(0.5), np.array([1.0, 0.0]))}
    comps = e.components(NUMPY_OPS, f)
    assert set(comps) == {"chemical", "gradient"}
    assert e.density(NUMPY_OPS, f) == pytest.approx(comps["chemical"] + comps["gradient"])
    assert sum([e]) is e


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: GradientPenalty(0.0), "kappa must be > 0"),
        (lambda: GradientPenalty(-1.0), "kappa must be > 0"),
        (lambda: GradientPenalty(float("nan")), "must be finite"),
        (lambda: GradientPenalty(1.0, target=-1.0), "target must be >= 0"),
        (lambda: GradientPenalty("1"), "must be a real number"),
        (lambda: DoubleWell(-5.0), "rho must be > 0"),
        (lambda: DoubleWell(5.0, 0.7, 0.3), "c_alpha < c_beta"),
        (lambda: SplitPart(DoubleWell(1.0), "sideways"), "allowed: 'convex', 'concave'"),
        (lambda: Energy((1.0,)), "holds Terms"),
    ],
)
def test_bad_parameters_raise_clear_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_missing_field_names_the_fields():
    with pytest.raises(InputError, match="field 'c' is not among"):
        DoubleWell(1.0).density(NUMPY_OPS, {"eta": FieldValue(0.0)})
    with pytest.raises(InputError, match="grad of field 'phi'"):
        GradientPenalty(1.0).density(NUMPY_OPS, {"phi": FieldValue(0.0)})


def test_energy_imports_without_dolfinx_or_torch():
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['dolfinx'] = None; sys.modules['torch'] = None; "
        "sys.modules['ufl'] = None; import femgp, femgp.energy; print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"


def test_fem_without_dolfinx_names_both_install_paths():
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['dolfinx'] = None; sys.modules['dolfinx_solver'] = None\n"
        "try:\n    import femgp.fem\nexcept ImportError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "femgp[wheels]" in out.stdout and "existing DOLFINx" in out.stdout
