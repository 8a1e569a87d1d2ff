"""The load-step predictor: linear, or quadratic where that changes the damage by am_tol.

:meth:`FractureModel._predict` starts a load step from the extrapolation of the
accepted states: linear from the last two, quadratic (Lagrange, any spacing)
from the last three where the two extrapolations of the damage differ by at
least ``am_tol``, and neither across a step in which a crack ran. What it
saves on SENT and SENS is measured in ``benchmarks/fracture_sent.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
from mpi4py import MPI

import femgp.models.fracture.model as fracture_model
from femgp.models.fracture import FractureModel, Params
from femgp.models.fracture.setups import bar

#: Accepted loads, unevenly spaced, and the load predicted.
LOADS = (0.1, 0.2, 0.35)
T_NEXT = 0.5


def _states(curvature: float):
    """Damage and displacement as functions of the load: quadratic, ``curvature`` its t^2 term."""
    s = bar(MPI.COMM_SELF, h=0.1, steps=2)
    model = FractureModel(s.mesh, Params(), s.loading, prefix="predictor_")
    x_a = model.Q.tabulate_dof_coordinates()[:, 0]
    x_u = np.repeat(model.V.tabulate_dof_coordinates()[:, 0], model.V.dofmap.index_map_bs)

    def alpha(t: float) -> np.ndarray:  # increasing in t and inside [0, 1] for t <= 0.5
        return 0.1 + 0.3 * t + curvature * t**2 * (1.0 + x_a)

    def u(t: float) -> np.ndarray:
        return (t + curvature * t**2) * (1.0 + x_u)

    for t in LOADS:
        model.u.x.array[:] = u(t)
        model.alpha.x.array[:] = alpha(t)
        model.set_load(t)
        model.commit()
    return model, alpha, u


def _linear(f, t: float) -> np.ndarray:
    t1, t0 = LOADS[-2:]
    return f(t0) + (t - t0) / (t0 - t1) * (f(t0) - f(t1))


@pytest.mark.parametrize("curvature", [0.5, 1.3e-3])
def test_quadratic_where_the_linear_predictor_is_off_by_am_tol(curvature):
    """Exact for quadratic states, from 1.2 am_tol of change on (1.3e-3)."""
    model, alpha, u = _states(curvature)
    assert np.max(np.abs(alpha(T_NEXT) - _linear(alpha, T_NEXT))) > model.params.am_tol
    model._predict(T_NEXT)
    np.testing.assert_allclose(model.alpha.x.array, alpha(T_NEXT), rtol=0, atol=1e-13)
    np.testing.assert_allclose(model.u.x.array, u(T_NEXT), rtol=0, atol=1e-13)


def test_linear_where_the_two_agree_to_am_tol():
    """A curvature that moves the damage by 0.7 am_tol: the linear extrapolation."""
    model, alpha, u = _states(curvature=8e-4)
    quadratic_change = np.max(np.abs(alpha(T_NEXT) - _linear(alpha, T_NEXT)))
    assert 0.5 * model.params.am_tol < quadratic_change < model.params.am_tol
    model._predict(T_NEXT)
    np.testing.assert_allclose(model.alpha.x.array, _linear(alpha, T_NEXT), rtol=0, atol=1e-13)
    np.testing.assert_allclose(model.u.x.array, _linear(u, T_NEXT), rtol=0, atol=1e-13)


@pytest.mark.parametrize("case", ["jump before", "order 1"])
def test_linear_after_a_jump_or_when_limited_to_order_one(case, monkeypatch):
    """Not across an interval in which the damage jumped (a crack ran); not at order 1."""
    model, alpha, u = _states(curvature=0.5)
    if case == "jump before":
        model._older_change = 2 * fracture_model.PREDICTOR_MAX_CHANGE
    else:
        monkeypatch.setattr(fracture_model, "PREDICTOR_MAX_ORDER", 1)
    model._predict(T_NEXT)
    np.testing.assert_allclose(model.alpha.x.array, _linear(alpha, T_NEXT), rtol=0, atol=1e-13)
    np.testing.assert_allclose(model.u.x.array, _linear(u, T_NEXT), rtol=0, atol=1e-13)


def _bar_path(order: int, monkeypatch) -> tuple[int, np.ndarray, float]:
    """The AT2 bar (clamped damage) through localisation: AM iterations, reactions, energy."""
    monkeypatch.setattr(fracture_model, "PREDICTOR_MAX_ORDER", order)
    s = bar(MPI.COMM_SELF, model="AT2", h=1 / 101, clamp_damage=True, load_max=1.5, steps=40)
    model = FractureModel(s.mesh, s.params, s.loading, prefix=f"predictor_bar_{order}_")
    am, reactions = 0, []
    for i, t in enumerate(s.loading.loads, start=1):
        am += model.solve_step(t, step=i).am_iterations
        model.commit()
        reactions.append(model.reaction())
    assert model.max_damage() > 0.99  # the crack formed
    return am, np.array(reactions), model.energies()["surface"]


def test_quadratic_predictor_halves_the_iterations_on_the_same_path(monkeypatch):
    """AT2 damage grows from the first step: the quadratic predictor saves iterations.

    Measured: 85 AM iterations against 168 with the linear predictor. The two
    paths differ by what the AM tolerance leaves: reactions 1.5e-3 of the peak
    (where the reaction drops at the localisation), surface energy 5.3e-5.
    Neither is the closer to the path at am_tol = 1e-9 (reactions 3.9e-4 and
    1.6e-3 of the peak, surface energy 1.3e-4 and 7.3e-5, quadratic and linear;
    on 20 and 80 steps likewise).
    """
    am_quad, r_quad, e_quad = _bar_path(2, monkeypatch)
    am_lin, r_lin, e_lin = _bar_path(1, monkeypatch)
    assert am_quad < 0.6 * am_lin, (am_quad, am_lin)
    assert np.max(np.abs(r_quad - r_lin)) < 5e-3 * np.max(r_lin)
    assert abs(e_quad / e_lin - 1) < 2e-4
