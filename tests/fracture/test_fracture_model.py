"""Bad input, cutbacks, output files of the fracture model."""

from __future__ import annotations

import csv
import dataclasses
import json
import logging

import numpy as np
import pytest
from mpi4py import MPI
from petsc4py import PETSc

from femgp.errors import InputError, SolverError
from femgp.fem.driver import DRIVER_COLUMNS
from femgp.fem.meshes.core import rectangle
from femgp.models.fracture import (
    HISTORY_COLUMNS,
    DisplacementBC,
    FractureModel,
    Loading,
    Params,
    run,
)
from femgp.models.fracture.setups import bar


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"ell": 0.0}, "ell must be > 0, got 0.0"),
        ({"ell": -1.0}, "ell must be > 0"),
        ({"Gc": 0.0}, "Gc must be > 0, got 0.0"),
        ({"model": "AT3"}, "unknown crack model 'AT3'; allowed: 'AT1', 'AT2'"),
        ({"split": "amor"}, "unknown split 'amor'; allowed: 'none', 'voldev', 'spectral'"),
        ({"acceleration": "fast"}, "allowed: 'anderson', 'overrelax', 'none'"),
        ({"solver": "lbfgs"}, "unknown solver 'lbfgs'; allowed: 'newton', 'am'"),
        ({"newton_after": 0}, "newton_after must be an integer >= 1, got 0"),
        ({"irreversibility": "history", "model": "AT1"}, "AT2 only"),
        ({"degree": 3}, "degree must be 1 or 2"),
        ({"omega": 2.0}, "omega must be in"),
        ({"nu": 0.5}, "nu must be in"),
    ],
)
def test_bad_parameters(kwargs, match):
    with pytest.raises(InputError, match=match):
        Params(**kwargs)


def test_mesh_without_loaded_or_fixed_group():
    tm = rectangle(MPI.COMM_SELF, ((0.0, 0.0), (1.0, 0.1)), (4, 1))
    loading = Loading(
        (DisplacementBC("clamp", 0, 0.0), DisplacementBC("right", 0, 1.0, loaded=True)),
        (0.1,),
        reaction=("loaded_edge", 0),
    )
    with pytest.raises(InputError, match=r"lacks physical group.*'clamp'.*'loaded_edge'"):
        run(tm, Params(), loading, show_progress=False)


def test_bad_loading():
    with pytest.raises(InputError, match="strictly increasing"):
        Loading((DisplacementBC("left", 0, 0.0),), (0.2, 0.1))
    with pytest.raises(InputError, match="tuple value"):
        DisplacementBC("left", None, 0.0)


_BC0 = DisplacementBC("top", 1, 1.0, loaded=True)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"reaction": "top"}, r"reaction must be \(group, component\), got 'top'"),
        ({"reaction": 5}, r"reaction must be \(group, component\), got 5"),
        ({"reaction": ("top", 1.0)}, "reaction component must be 0, 1 or 2, got 1.0"),
        ({"reaction": ("top", True)}, "reaction component must be 0, 1 or 2, got True"),
        ({"damage_zero": "left"}, "damage_zero must be a sequence, got 'left'"),
        ({"damage_zero": None}, "damage_zero must be a sequence, got None"),
        ({"damage_zero": ("left", 3)}, "damage_zero holds group names"),
        ({"bcs": _BC0}, "bcs must be a sequence, got DisplacementBC"),
        ({"loads": 1.0}, "loads must be a sequence, got 1.0"),
    ],
)
def test_bad_loading_shapes_are_one_line(kwargs, match):
    """A single item where a sequence belongs, a float or bool component: one line each
    (these raised ValueError or TypeError, or split ``"left"`` into letters)."""
    args = {"bcs": (_BC0,), "loads": (1.0,), **kwargs}
    with pytest.raises(InputError, match=match) as info:
        Loading(**args)
    assert len(str(info.value).splitlines()) == 1


@pytest.mark.parametrize("component", [1.0, True])
def test_bad_bc_component_is_refused(component):
    with pytest.raises(InputError, match="component must be 0, 1, 2 or None"):
        DisplacementBC("top", component, 1.0)


def test_loading_takes_lists_and_arrays():
    loading = Loading([_BC0], np.array([0.5, 1.0]), ("top", np.int64(1)), ["left"])
    assert list(loading.loads) == [0.5, 1.0] and loading.groups == ("top", "left")


def test_coarse_mesh_warns(caplog):
    s = bar(MPI.COMM_SELF, h=0.1, steps=1)
    with caplog.at_level(logging.WARNING, logger="femgp"):
        run(s.mesh, s.params, s.loading, show_progress=False)
    assert any("ell = 0.1 is smaller than 2 mesh sizes" in r.message for r in caplog.records)


def test_outputs_and_refusal(tmp_path):
    s = bar(MPI.COMM_SELF, h=0.05, steps=4)
    out = tmp_path / "run"
    res = run(s.mesh, s.params, s.loading, output=out, show_progress=False)
    for name in (
        "fields.xdmf",
        "fields.h5",
        "history.csv",
        "run.json",
        "crack.png",
        "force_displacement.png",
        "energies.png",
    ):
        assert (out / name).is_file(), name
    with open(out / "history.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0]) == (*HISTORY_COLUMNS, *DRIVER_COLUMNS)
    assert len(rows) == res.steps + 1 == 5
    assert json.loads((out / "run.json").read_text())["status"] == "finished"
    with pytest.raises(InputError, match="already holds results"):
        run(s.mesh, s.params, s.loading, output=out, show_progress=False)
    run(s.mesh, s.params, s.loading, output=out, overwrite=True, show_progress=False)


def test_failed_steps_are_cut_back_then_stop_with_history_intact(tmp_path):
    """One AM iteration allowed: elastic AT1 steps pass, the first damaging one cannot.

    It is cut back ``max_cutbacks`` times, then SolverError; the steps before stay written.
    """
    s = bar(MPI.COMM_SELF, h=0.05, load_max=1.5, steps=3, am_max_it=1, max_cutbacks=2)
    out = tmp_path / "failed"
    with pytest.raises(SolverError, match="alternate minimisation did not reach"):
        run(s.mesh, s.params, s.loading, output=out, show_progress=False)
    with open(out / "history.csv") as fh:
        rows = list(csv.DictReader(fh))
    info = json.loads((out / "run.json").read_text())
    assert info["status"] == "failed"
    assert info["cutbacks"] == 3  # two cutbacks, and the third failure stops the run
    assert len(rows) >= 2  # load 0 and the elastic step at 0.5 u_c
    assert all(float(r["max_damage"]) == 0.0 for r in rows)
    assert (out / "fields.h5").is_file()


def test_p2_displacement_and_history_field(tmp_path):
    """Degree-2 displacement (written to XDMF as P1) with the AT2 history field: peak within 3e-4.

    Measured 8.4e-5 below the analytic peak: the load grid's 8.5e-5 (47 steps to 1.5 u_c).
    """
    s = bar(MPI.COMM_SELF, model="AT2", h=0.05, steps=47, degree=2, irreversibility="history")
    res = run(s.mesh, s.params, s.loading, output=tmp_path / "p2", show_progress=False)
    sigma = res.column("reaction") / s.info["height"]
    theory = s.params.crack.critical_stress(s.info["E_eff"])
    assert abs(sigma.max() / theory - 1) < 3e-4, sigma.max() / theory - 1
    assert (tmp_path / "p2" / "fields.h5").is_file()


def _localising_bar(solver: str):
    return bar(
        MPI.COMM_SELF,
        model="AT1",
        h=1 / 51,
        height=0.04,
        clamp_damage=True,
        load_max=1.6,
        steps=8,
        solver=solver,
    )


def test_newton_failure_falls_back_to_alternate_minimisation():
    """A coupled solve that cannot converge (one GMRES iteration allowed) leaves AM to finish.

    Every step still converges, nothing is NaN, and the path is the AM solver's.
    The control: with the coupled solver intact, Newton converges in the crack step.
    """
    ref = _localising_bar("am")
    res_am = run(ref.mesh, ref.params, ref.loading, show_progress=False, prefix="fb_am_")
    s = _localising_bar("newton")
    opts = PETSc.Options()
    opts["fb_bad_coupled_ksp_max_it"] = 1
    try:
        res = run(s.mesh, s.params, s.loading, show_progress=False, prefix="fb_bad_")
    finally:
        opts.delValue("fb_bad_coupled_ksp_max_it")
    assert res.status == "finished" and res.cutbacks == 0
    assert res.model.coupled_problem.total.newton == 0  # no coupled solve converged
    for name in ("reaction", "elastic", "surface", "max_damage"):
        col = res.column(name)
        assert np.all(np.isfinite(col)), name
        np.testing.assert_allclose(col, res_am.column(name), atol=1e-4 * np.abs(col).max())
    assert res.column("max_damage")[-1] > 0.99
    good = run(s.mesh, s.params, s.loading, show_progress=False, prefix="fb_good_")
    assert good.model.coupled_problem.total.newton > 0


@pytest.mark.parametrize("grew", [True, False])
def test_no_newton_retry_in_a_step_after_the_growth_limit(grew):
    """After a coupled attempt stopped by its growth limit, AM finishes the step alone.

    Any other failure is retried once AM has run four times as many iterations
    (12, then 48, 192, ...). The control flow of ``solve_step`` with AM and Newton
    replaced by recorders; ``_newton_grew`` reads the coupled SNES's reason.
    """
    s = bar(MPI.COMM_SELF, h=0.1, steps=2)
    model = FractureModel(s.mesh, Params(), s.loading, prefix="retry_")
    calls: list = []

    def alternate(stats, step, stop, *rest):
        calls.append(stop)
        stats.am_iterations = min(stop, 100)
        return stop >= 100  # converges once allowed 100 iterations

    def newton(stats, step):
        calls.append("newton")
        reason = PETSc.SNES.ConvergedReason
        model.coupled_problem.snes.setConvergedReason(
            reason.DIVERGED_DTOL if grew else reason.DIVERGED_MAX_IT
        )
        return False

    model._alternate, model._newton = alternate, newton
    model.solve_step(s.loading.loads[0], step=1)
    p = model.params
    if grew:
        assert calls == [p.newton_after, "newton", p.am_max_it]
    else:
        n = p.newton_after
        assert calls == [n, "newton", 4 * n, "newton", 16 * n]


def test_growth_limit_stops_a_coupled_solve_whose_residual_grows():
    """The VI convergence test plus the divergence tolerance PETSc's own VI test ignores.

    Below the limit (9.9x the initial norm) the solve goes on; beyond it (10.1x) it
    stops with DIVERGED_DTOL; the relative and absolute tolerances and a
    non-finite norm behave as in PETSc's test; PETSC_UNLIMITED turns it off.
    The coupled problem of a Newton model carries the test and femgp's limit.
    """
    from femgp.models.fracture.solvers import NEWTON_GROWTH_LIMIT, GrowthLimitTest

    R = PETSc.SNES.ConvergedReason
    snes = PETSc.SNES().create(MPI.COMM_SELF)
    try:
        snes.setTolerances(rtol=1e-6, atol=1e-12)
        snes.setDivergenceTolerance(10.0)
        test = GrowthLimitTest()
        assert test(snes, 0, (1.0, 0.0, 2.0)) == R.ITERATING
        assert test(snes, 1, (1.0, 0.1, 19.8)) == R.ITERATING
        assert test(snes, 2, (1.0, 0.1, 20.2)) == R.DIVERGED_DTOL
        assert test(snes, 3, (1.0, 0.1, 1.9e-6)) == R.CONVERGED_FNORM_RELATIVE
        assert test(snes, 3, (1.0, 0.1, 2.1e-6)) == R.ITERATING
        assert test(snes, 4, (1.0, 0.1, float("nan"))) == R.DIVERGED_FUNCTION_NANORINF
        assert test(snes, 0, (1.0, 0.0, 1e-13)) == R.CONVERGED_FNORM_ABS
        assert test(snes, 0, (1.0, 0.0, 2.0)) == R.ITERATING  # a new solve: new initial norm
        snes.setDivergenceTolerance(PETSc.UNLIMITED)
        assert test(snes, 2, (1.0, 0.1, 1e6)) == R.ITERATING
    finally:
        snes.destroy()
    s = bar(MPI.COMM_SELF, h=0.1, steps=2)
    model = FractureModel(s.mesh, Params(), s.loading, prefix="glt_")
    coupled = model.coupled_problem.snes
    assert isinstance(coupled.getConvergenceTest()[0], GrowthLimitTest)
    assert coupled.getDivergenceTolerance() == NEWTON_GROWTH_LIMIT == 10


def test_defaults_follow_the_latest_model_but_user_options_win():
    """Two live models under one prefix: the second brings its own defaults.

    femgp's defaults of the first (MUMPS LU for the damage) are replaced by the
    second's (CG + Jacobi); an option the user set (the u KSP tolerance) is kept
    (read by the second model's CG).
    """
    s = bar(MPI.COMM_SELF, h=0.1, steps=2)
    opts = PETSc.Options()
    opts["dft_u_ksp_rtol"] = "1e-4"
    try:
        first = FractureModel(s.mesh, Params(linear_solver="direct"), s.loading, prefix="dft_")
        second = FractureModel(s.mesh, Params(), s.loading, prefix="dft_")
        pc = [m.alpha_problem.snes.getKSP().getPC().getType() for m in (first, second)]
        rtol = second.u_problem.snes.getKSP().getTolerances()[0]
        assert opts.getString("dft_u_ksp_rtol") == "1e-4"
    finally:
        opts.delValue("dft_u_ksp_rtol")
    assert pc == ["lu", "jacobi"]
    assert rtol == 1e-4
    assert not opts.hasName("dft_alpha_pc_factor_mat_solver_type")  # dropped, not left behind


def test_initial_damage_on_a_damage_zero_group_is_refused_or_zeroed():
    """Damage held at 0 on a group (``Loading.damage_zero``) and initial damage there
    contradict each other: the first step's lower bound (the initial damage) kept the
    damage at 1 on the clamped face without a word. More than a trace is refused; a
    trace (the tail of a smooth initial crack) is set to 0 with its bound."""
    from dolfinx import fem

    s = bar(MPI.COMM_WORLD, h=0.02, height=0.04, steps=4, clamp_damage=True)
    assert s.loading.damage_zero == ("left", "right")
    with pytest.raises(InputError, match=r"initial damage reaches 1 on facet group 'left'"):
        FractureModel(
            s.mesh, s.params, s.loading, warn_resolution=False,
            initial_damage=lambda x: np.where(x[0] < 0.03, 1.0, 0.0),
        )  # fmt: skip
    m = FractureModel(
        s.mesh, s.params, s.loading, warn_resolution=False,
        initial_damage=lambda x: np.where(x[0] < 0.03, 1e-9, 0.0),
    )  # fmt: skip
    dofs = fem.locate_dofs_topological(m.Q, 1, s.mesh.facets("left"))
    inside = m.alpha.x.array > 0
    assert inside.any()  # the trace stays off the clamped face
    assert np.all(m.alpha.x.array[dofs] == 0.0) and np.all(m.alpha_lb.x.array[dofs] == 0.0)


def test_update_history_keeps_the_committed_maximum():
    """``H = max(H_prev, psi_+)``: a smaller strain after a commit leaves H; refused without H.

    Uniaxial strain ``eps`` along the bar without a split: ``psi = (lambda + 2 mu) eps^2 / 2``
    in plane strain, with nu = 0.3 so that lambda counts (the bar's default nu = 0 would
    hide it). The control: before the commit the smaller strain lowers H.
    """
    s = bar(
        MPI.COMM_SELF, model="AT2", h=0.1, steps=2, irreversibility="history", split="none", nu=0.3
    )
    m = FractureModel(s.mesh, s.params, s.loading, prefix="hist_update_")
    E, nu = s.params.E, s.params.nu
    lam, mu = E * nu / ((1 + nu) * (1 - 2 * nu)), E / (2 * (1 + nu))

    def strain(eps: float) -> None:
        m.u.interpolate(lambda x: np.vstack([eps * x[0], 0.0 * x[1]]))
        m.update_history()

    strain(2e-3)
    big = (lam + 2 * mu) * (2e-3) ** 2 / 2
    np.testing.assert_allclose(m.H.x.array, big, rtol=1e-10)
    strain(1e-3)  # nothing committed yet: H follows the strain down (control)
    np.testing.assert_allclose(m.H.x.array, big / 4, rtol=1e-10)
    strain(2e-3)
    m.commit()
    strain(1e-3)
    np.testing.assert_allclose(m.H.x.array, big, rtol=1e-10)

    b = bar(MPI.COMM_SELF, model="AT2", h=0.1, steps=2)
    bounded = FractureModel(b.mesh, b.params, b.loading, prefix="hist_update_b_")
    with pytest.raises(InputError, match=r"irreversibility='history'.*'bounds'"):
        bounded.update_history()


def test_initial_damage_with_the_history_field_is_refused():
    """An initial crack needs the bounds: the history field (0 at load 0) would heal it.

    With ``irreversibility="history"`` the first step took a crack of damage 1 down to
    0.045 without a word. The control: with the bounds the crack stays at 1.
    """
    s = bar(MPI.COMM_SELF, model="AT2", h=0.02, steps=4)
    crack = s.params.crack

    def initial(x: np.ndarray) -> np.ndarray:
        return crack.profile(x[0] - 0.5)

    history = dataclasses.replace(s.params, irreversibility="history")
    with pytest.raises(InputError, match=r"initial damage needs irreversibility='bounds'"):
        FractureModel(s.mesh, history, s.loading, initial_damage=initial, prefix="hist_init_")
    m = FractureModel(
        s.mesh, s.params, s.loading, initial_damage=initial, prefix="bounds_init_",
        warn_resolution=False,
    )  # fmt: skip
    m.solve_step(s.loading.loads[0], step=1)
    assert m.max_damage() == pytest.approx(1.0, abs=1e-12)
