"""The load-step predictor: linear, or quadratic where that predicted the last step better.

:meth:`FractureModel._predict` starts a load step from the extrapolation of the
accepted states: linear from the last two, quadratic (Lagrange, any spacing)
from the last three where, in the last step predicted both ways, the linear
prediction of the damage was off by at least ``am_tol`` and the quadratic one
by less than ``PREDICTOR_QUADRATIC_GAIN`` times that
(:meth:`FractureModel.commit` compares them), except after a step in which the
reaction fell or with the history field; neither across a step in which a
crack ran. What it saves on SENT and SENS is measured in
``benchmarks/fracture_sent.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
from mpi4py import MPI

import femgp.models.fracture.model as fracture_model
from femgp.models.fracture import FractureModel, Params
from femgp.models.fracture.adaptive import TransferredState
from femgp.models.fracture.setups import bar

#: Accepted loads, unevenly spaced.
LOADS = (0.1, 0.2, 0.35)


def _model(on: FractureModel | None = None) -> FractureModel:
    """A model on a small bar (on the mesh of ``on`` if given)."""
    s = bar(MPI.COMM_SELF, h=0.1, steps=2)
    mesh = s.mesh if on is None else on.tm
    return FractureModel(mesh, Params(), s.loading, prefix="predictor_")


def _path(model: FractureModel, curvature: float, noise: float = 0.0):
    """Damage and displacement as functions of the load (quadratic, plus alternating noise)."""
    x_a = model.Q.tabulate_dof_coordinates()[:, 0]
    x_u = np.repeat(model.V.tabulate_dof_coordinates()[:, 0], model.V.dofmap.index_map_bs)

    def sign(t: float) -> float:
        return (-1.0) ** round(20 * t)

    def alpha(t: float) -> np.ndarray:  # increasing, small: the reaction still grows
        return 0.01 + 0.03 * t + 0.1 * curvature * t**2 * (1.0 + x_a) + noise * sign(t)

    def u(t: float) -> np.ndarray:
        return (t + curvature * t**2) * (1.0 + x_u)

    return alpha, u


def _accept(model: FractureModel, alpha, u, t: float) -> None:
    """Make ``(u(t), alpha(t))`` the solution of step ``t`` and commit it."""
    model.u.x.array[:] = u(t)
    model.alpha.x.array[:] = alpha(t)
    model.set_load(t)
    model.commit()


def _extrapolate(f, loads, t: float) -> np.ndarray:
    """The Lagrange extrapolation of ``f`` through ``loads`` to ``t``."""
    out = 0.0
    for i, ti in enumerate(loads):
        w = np.prod([(t - tj) / (ti - tj) for j, tj in enumerate(loads) if j != i])
        out = out + w * f(ti)
    return out


def _assert_start(model: FractureModel, alpha, u, loads, t: float) -> None:
    np.testing.assert_allclose(model.alpha.x.array, _extrapolate(alpha, loads, t), atol=1e-13)
    np.testing.assert_allclose(model.u.x.array, _extrapolate(u, loads, t), atol=1e-13)


def test_quadratic_once_it_predicted_a_step_better():
    """Linear until a step shows the quadratic prediction closer; then exact on a quadratic path."""
    model = _model()
    alpha, u = _path(model, curvature=0.5)
    for t in LOADS:
        _accept(model, alpha, u, t)
    assert not model.quadratic_predictor
    model._predict(0.5)
    _assert_start(model, alpha, u, LOADS[-2:], 0.5)  # linear: nothing learnt yet
    _accept(model, alpha, u, 0.5)  # the quadratic prediction was exact
    assert model.quadratic_predictor
    model._predict(0.6)
    _assert_start(model, alpha, u, (0.2, 0.35, 0.5), 0.6)
    functions, state = model.checkpoint()  # the third state and the choice are saved ...
    assert state["quadratic_predictor"] and state["has_older"]
    other = _model(on=model)
    other.restore(TransferredState(functions), state)  # ... and restored
    assert other.quadratic_predictor and other._t_older == 0.2
    np.testing.assert_array_equal(other._older[1], alpha(0.2))
    np.testing.assert_array_equal(other._older[0], u(0.2))


def test_linear_where_the_damage_changes_by_noise():
    """The control: alternating noise on a linear path makes the quadratic prediction worse."""
    model = _model()
    alpha, u = _path(model, curvature=0.0, noise=1e-4)
    for t in (*LOADS, 0.5):
        model._predict(t)
        _accept(model, alpha, u, t)
        assert not model.quadratic_predictor
    model._predict(0.6)
    _assert_start(model, alpha, u, (0.35, 0.5), 0.6)


@pytest.mark.parametrize(
    ("linear_error", "quadratic_error", "quadratic"),
    [(1e-3, 0.5e-3, False), (1e-3, 0.2e-3, True), (0.9e-4, 0.0, False)],
)
def test_the_quadratic_prediction_must_be_clearly_better(linear_error, quadratic_error, quadratic):
    """Quadratic from an error 0.3 times the linear one's, where that was am_tol or more."""
    assert fracture_model.PREDICTOR_QUADRATIC_GAIN == 0.3
    model = _model()
    assert model.params.am_tol == 1e-4
    n = model._n_alpha
    a = model.alpha.x.array[:n]
    model._predictions = (a + linear_error, a - quadratic_error)
    model.commit()
    assert model.quadratic_predictor is quadratic


@pytest.mark.parametrize(
    "case", ["jump now", "jump before", "softening", "history field", "order 1"]
)
def test_when_the_predictor_stays_linear(case, monkeypatch):
    """Across no jump; linear after a softening step, with the history field, at order 1.

    Nothing is extrapolated across a step in which the damage jumped (a crack
    ran). After a step in which the reaction fell (an unstable branch, whose
    unstable mode a quadratic extrapolation seeds sooner) and with the history
    field (alternate minimisation cannot follow it localising) the prediction
    is linear even where the quadratic one was the better.
    """
    model = _model()
    alpha, u = _path(model, curvature=0.5)
    for t in LOADS:
        _accept(model, alpha, u, t)
    model.quadratic_predictor = True
    if case == "jump now":  # the last step: no prediction, and the choice is forgotten
        model._last_change = 2 * fracture_model.PREDICTOR_MAX_CHANGE
        before = model.alpha.x.array.copy()
        model._predict(0.5)
        np.testing.assert_array_equal(model.alpha.x.array, before)
        assert not model.quadratic_predictor
        return
    if case == "jump before":  # the step before: linear from the last two
        model._older_change = 2 * fracture_model.PREDICTOR_MAX_CHANGE
    elif case == "softening":
        model._softening = True
    elif case == "history field":
        model.H = model.alpha  # any function: the model has a history field
    else:
        monkeypatch.setattr(fracture_model, "PREDICTOR_MAX_ORDER", 1)
    model._predict(0.5)
    _assert_start(model, alpha, u, LOADS[-2:], 0.5)


def test_softening_is_a_fall_of_the_reaction():
    model = _model()
    alpha, u = _path(model, curvature=0.5)
    _accept(model, alpha, u, 0.2)
    assert not model._softening and model._force > 0
    _accept(model, alpha, u, 0.35)
    assert not model._softening
    _accept(model, alpha, lambda t: 0.5 * u(t), 0.5)  # less strain, less force
    assert model._softening
    _accept(model, alpha, u, 0.6)
    assert not model._softening


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

    Measured: 92 AM iterations against 167 with the linear predictor; the two
    paths differ by what the AM tolerance leaves, reactions 1.5e-4 of the peak
    and surface energy 3.0e-6. Against the path at am_tol = 1e-9: reactions
    1.63e-3 and 1.62e-3 of the peak (where the reaction drops at the
    localisation), surface energy 7.6e-5 and 7.3e-5, quadratic and linear (20
    and 80 steps: the same to 3 digits).
    """
    am_quad, r_quad, e_quad = _bar_path(2, monkeypatch)
    am_lin, r_lin, e_lin = _bar_path(1, monkeypatch)
    assert am_quad < 0.6 * am_lin, (am_quad, am_lin)
    assert np.max(np.abs(r_quad - r_lin)) < 6e-4 * np.max(r_lin)
    assert abs(e_quad / e_lin - 1) < 1.5e-5
