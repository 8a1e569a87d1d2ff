"""The coupled Newton solver through steps in which a crack grows.

SENS at ell = 0.02 mm (h = 0.008 mm in the band, 1 rank) on the load path of
``demos/fracture_sens.py --ell 0.02`` from 8e-3 mm: after the peak (8.75e-3 mm)
the crack curves down by several cells per load step. The coupled VI Newton
method with the critical-point line search (the default) converges in each of
these steps from the 12th AM iterate. The control is the backtracking line
search on the residual norm, which crept there (a few per cent per iteration)
and failed at its iteration guard, leaving alternate minimisation 48-165
iterations per step. ``am_max_it = newton_after + 1`` turns any failed Newton
solve into a failed step, so a failure costs a dozen AM iterations and one
Newton solve.
"""

from __future__ import annotations

import pytest
from mpi4py import MPI
from petsc4py import PETSc

from femgp.errors import SolverError
from femgp.models.fracture import FractureModel
from femgp.models.fracture.setups import notched_shear

ELL, H = 0.02, 0.008
#: To the peak (8.75e-3 mm), then the first steps of crack growth.
LOADS = (0.004, 0.008, 0.00825, 0.0085, 0.00875, 0.009, 0.00925, 0.0095, 0.00975)


def _model(prefix: str) -> FractureModel:
    s = notched_shear(
        MPI.COMM_SELF, ell=ELL, h_band=H, notch_width=2 * H, loads=LOADS, am_max_it=13
    )
    return FractureModel(s.mesh, s.params, s.loading, prefix=prefix)


def _path(model: FractureModel) -> tuple[list, list[float]]:
    stats, reactions = [], []
    for t in LOADS:
        stats.append(model.solve_step(t))
        model.commit()
        reactions.append(model.reaction())
    return stats, reactions


def test_newton_converges_while_the_crack_grows():
    model = _model("cg_cp_")
    stats, reactions = _path(model)
    growth = stats[-4:]
    assert all(s.newton_failures == 0 for s in stats)
    # The growth steps needed Newton (AM alone did not converge in 12) and it converged.
    assert all(s.am_iterations == model.params.newton_after for s in growth)
    assert all(0 < s.coupled.newton <= 30 for s in growth)
    # The crack has grown: the force fell from its peak by more than 5 %.
    assert reactions[-1] < 0.95 * max(reactions)


def test_backtracking_on_the_residual_norm_fails_there():
    """The control: the backtracking search femgp used before, with the same guard of 30."""
    opts = PETSc.Options()
    opts["cg_bt_coupled_snes_linesearch_type"] = "bt"
    try:
        model = _model("cg_bt_")
        with pytest.raises(SolverError):
            _path(model)
    finally:
        opts.delValue("cg_bt_coupled_snes_linesearch_type")


def test_displacement_solve_keeps_its_preconditioner():
    """The u solve keeps its GAMG hierarchy across Newton and AM iterations and load steps.

    The control rebuilds it at every Newton iteration (``snes_lag_preconditioner 1``,
    PETSc's default): the same path to the solvers' tolerance, with a set-up per
    Newton iteration. The first solve meets a kept hierarchy unfit for its second
    Jacobian (CG: an indefinite preconditioner) and is retried, rebuilding it at every
    iteration, so the path runs through.
    """
    opts = PETSc.Options()
    opts["keep_off_u_snes_lag_preconditioner"] = 1
    try:
        control = _model("keep_off_")
        _, reactions_off = _path(control)
    finally:
        opts.delValue("keep_off_u_snes_lag_preconditioner")
    model = _model("keep_on_")
    stats, reactions = _path(model)
    # Measured: 3 set-ups in 172 Newton iterations, 1 retry; reactions 1.2e-10 apart.
    kept, newton = model.u_problem.kept_pc, model.u_problem.total.newton
    assert kept is not None and kept.setups <= 6 and newton > 100, (kept.setups, newton)
    assert kept.retries == 1
    for r, r_off in zip(reactions, reactions_off, strict=True):
        assert r == pytest.approx(r_off, rel=1e-9)
    assert all(s.newton_failures == 0 for s in stats)
