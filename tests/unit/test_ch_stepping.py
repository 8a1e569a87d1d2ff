"""Cahn-Hilliard time stepping: the order-2 error estimate and the kept preconditioner."""

from __future__ import annotations

import gc
import math
import weakref

import femgp.fem._backend  # noqa: F401

import numpy as np
import pytest
from dolfinx import mesh
from mpi4py import MPI

from femgp.errors import InputError
from femgp.fem.meshes.pfhub import square
from femgp.models import cahn_hilliard as ch

PFHUB = ch.Params()


def _linear_mode_estimates(
    dt: float, order_of: str = "theta", *, before: float | None = None
) -> tuple[float, float]:
    """Error estimate of the 4th step on one growing cosine mode, and z = omega dt.

    ``before``: the size of the three steps before it (default ``dt``: fixed steps).
    """
    L = 8 * math.pi / 0.3
    k = 8 * math.pi / L  # omega(k) = +0.279: the mode grows
    domain = mesh.create_interval(MPI.COMM_WORLD, 480, [0.0, L])
    scheme = {
        "theta": {"scheme": "theta", "theta": 0.5, "estimator": "milne"},
        "be": {"scheme": "theta", "theta": 1.0},
    }
    params = ch.Params(**scheme[order_of], dt=dt, adaptive=False)
    model = ch.CahnHilliard(domain, params, prefix=f"test_est_{order_of}_")
    model.set_initial(lambda x: 0.5 + 1e-4 * np.cos(k * x[0]))
    h = dt if before is None else before
    for _ in range(3):
        model.step(h)
        model.commit(h)
    _, err = model.step(dt)
    return err, PFHUB.growth_rate(k, 0.5) * dt


def test_trapezoidal_error_estimate_is_its_local_error():
    """theta = 1/2: the estimate is the trapezoidal local error z^3/12 (z = omega dt).

    Relative to the amplitude after the step, ``e^z`` times the one before it. The
    previous states lie on the scheme's own trajectory, so ``c - pred`` is the
    extrapolation error alone: counting the trapezoidal error in it as well (with
    either sign, ``/11`` or ``/13`` instead of ``/12`` at constant steps) misses by 8%.
    """
    estimates = {}
    for dt in (0.125, 0.0625):
        err, z = _linear_mode_estimates(dt)
        estimates[dt] = err
        expected = z**3 / 12 * math.exp(-z)
        assert err == pytest.approx(expected, rel=0.03), (dt, err, expected)
        for control in (12 / 11, 12 / 13):  # Milne's device with the scheme's error in it
            assert err * control != pytest.approx(expected, rel=0.03)
    # Third order: halving the step divides the estimate by about 8.
    ratio = estimates[0.125] / estimates[0.0625]
    assert 7.0 < ratio < 9.0, ratio


def test_curvature_estimate_is_second_order_in_dt():
    """The default estimate: the O(dt^2) curvature term z^2/2 (measured within 3.3e-4)."""
    err, z = _linear_mode_estimates(0.5, "be")
    assert err == pytest.approx(z**2 / 2, rel=2e-3), (err, z**2 / 2)
    ratio = err / _linear_mode_estimates(0.25, "be")[0]
    assert ratio == pytest.approx(4.0, rel=2e-3)  # second order in dt (measured 3.99999)


@pytest.mark.parametrize("ratio", [2.0, 0.5, 0.2])
def test_curvature_estimate_after_a_step_change_is_the_backward_euler_error(ratio):
    """Backward Euler after steps of another size: the estimate is still its local error
    z^2/2 (measured within 3.3e-4). The new state's own error is in ``c - pred``, so the
    distance to the extrapolation is z^2 at any step ratio; scaled by 1/(1 + r) instead
    of 1/2 (the control) it misses by 2/(1 + r)."""
    dt = 0.25
    err, z = _linear_mode_estimates(dt, "be", before=dt / ratio)
    assert err == pytest.approx(z**2 / 2, rel=2e-3), (ratio, err, z**2 / 2)
    assert err * 2 / (1 + ratio) != pytest.approx(z**2 / 2, rel=0.1)


@pytest.mark.parametrize("kwargs", [{"scheme": "eyre"}, {"theta": 1.0}])
def test_milne_estimator_needs_the_trapezoidal_rule(kwargs):
    with pytest.raises(InputError, match="estimator 'milne' needs the trapezoidal rule"):
        ch.Params(estimator="milne", **kwargs)
    with pytest.raises(InputError, match="estimator"):
        ch.Params(estimator="richardson")


@pytest.fixture(scope="module")
def small_square():
    return square(MPI.COMM_WORLD, n=32, size=100.0).mesh


def test_kept_factorisation_gives_the_same_run(small_square):
    """reuse_pc: the same F(t) as fresh factorisations, with far fewer set-ups."""
    runs = {}
    for name, reuse in (("fresh", None), ("kept", 6)):
        runs[name] = ch.run(
            small_square, ch.Params(), t_end=60.0, show_progress=False,
            prefix=f"test_kept_{name}_", reuse_pc=reuse,
        )  # fmt: skip
    fresh, kept = runs["fresh"], runs["kept"]
    assert kept.steps == fresh.steps
    np.testing.assert_allclose(kept.column("free_energy"), fresh.column("free_energy"), rtol=1e-7)
    mass = kept.column("mass")
    assert np.max(np.abs(mass - mass[0])) / abs(mass[0]) < 1e-10
    assert kept.krylov > kept.newton  # GMRES iterated on a kept factorisation


def test_kept_preconditioner_set_ups_and_no_reference_cycle(small_square):
    """Set-ups are counted, far fewer than Newton iterations; the model dies by refcount."""
    model = ch.CahnHilliard(small_square, ch.Params(), prefix="test_kept_cycle_", reuse_pc=6)
    model.set_initial(ch.pfhub_initial())
    newton = 0
    for _ in range(8):
        st, _ = model.step(0.5)
        model.commit(0.5)
        newton += st.newton
    kept = model.problem.kept_pc
    assert 1 <= kept.setups < newton
    ref = weakref.ref(model.problem)
    gc.disable()
    try:
        del model
        assert ref() is None, "the problem is kept alive by a reference cycle"
    finally:
        gc.enable()
