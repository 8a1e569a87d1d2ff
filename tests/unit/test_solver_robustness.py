"""Solver robustness (issue 7, part 4): injected divergence never ends in NaN.

A load step far past the peak, a regularisation length far below the mesh
size, and an absurd time step end in a cutback or a :class:`femgp.SolverError`,
with finite histories and fields. PETSc errors surface as Python exceptions
that carry the options prefix: a bad option value is an :class:`InputError`, a
failed solve a :class:`SolverError`, and PETSc prints no error trace.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import femgp.fem._backend  # noqa: F401

import numpy as np
import pytest
import ufl
from dolfinx import fem, mesh
from mpi4py import MPI
from petsc4py import PETSc

from femgp.errors import InputError, SolverError
from femgp.fem.meshes.pfhub import square
from femgp.fem.problems import NonlinearProblem, petsc_error_reason, warn_unused_options
from femgp.models import cahn_hilliard as ch
from femgp.models.fracture import run as fracture_run
from femgp.models.fracture.setups import bar


def _finite_csv(path: Path) -> int:
    """Assert every number in a CSV file is finite; return the number of rows."""
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        for key, value in row.items():
            if key not in ("error",):  # CH's first-step error estimate is NaN by design
                assert math.isfinite(float(value)), (key, value, path)
    return len(rows)


def _fields_finite(model: Any, row: Any) -> dict[str, float]:
    """A fracture observer: every accepted state has finite fields."""
    for f in model.output_functions():
        assert np.isfinite(f.x.array).all(), f.name
    return {}


def _run_bar(tmp_path: Path, **kw: Any) -> tuple[Any, Exception | None]:
    setup = bar(MPI.COMM_WORLD, height=0.05, clamp_damage=True, **kw)
    try:
        result = fracture_run(
            setup.mesh,
            setup.params,
            setup.loading,
            output=tmp_path / "out",
            observer=_fields_finite,
            plots=False,
            show_progress=False,
        )
    except SolverError as exc:
        return None, exc
    return result, None


def test_fracture_huge_load_step_converges_finite(tmp_path: Path) -> None:
    """One load step straight to 20x the critical displacement: the bar breaks, all finite."""
    result, error = _run_bar(tmp_path, h=1 / 41, load_max=20.0, steps=1)
    assert error is None, error
    assert result.status == "finished" and result.steps == 1
    for name in ("reaction", "elastic", "surface", "total", "max_damage"):
        assert np.isfinite(result.column(name)).all(), name
    assert result.column("max_damage")[-1] > 0.99  # broken
    assert _finite_csv(tmp_path / "out" / "history.csv") >= 1


def test_fracture_huge_load_step_cut_back_then_solver_error(tmp_path: Path) -> None:
    """With too few iterations allowed, the step is cut back, then SolverError; no NaN written."""
    result, error = _run_bar(
        tmp_path, h=1 / 41, load_max=20.0, steps=1, am_max_it=3, max_cutbacks=2
    )
    assert result is None and isinstance(error, SolverError)
    assert error.prefix == "femgp_fracture_" and str(error).startswith("femgp_fracture_: ")
    assert "after 2 cutbacks" in str(error)
    history = tmp_path / "out" / "history.csv"
    if history.exists():
        _finite_csv(history)


def test_fracture_cutbacks_then_progress(tmp_path: Path) -> None:
    """A tight iteration guard: steps are cut back and sub-steps accepted before giving up."""
    result, error = _run_bar(tmp_path, h=1 / 41, load_max=3.0, steps=1, am_max_it=12)
    rows = _finite_csv(tmp_path / "out" / "history.csv")
    if error is None:
        assert result.cutbacks > 0 and np.isfinite(result.column("reaction")).all()
    else:
        assert isinstance(error, SolverError) and "cutbacks" in str(error)
        assert rows > 1  # cut-back sub-steps were accepted and written before the failure


def test_fracture_tiny_ell_finite(tmp_path: Path) -> None:
    """ell = h / 30: badly under-resolved, yet the run ends finite (or in SolverError)."""
    result, error = _run_bar(tmp_path, h=1 / 11, ell=0.003, load_max=3.0, steps=2)
    if error is not None:
        assert isinstance(error, SolverError) and error.prefix.startswith("femgp_fracture_")
    else:
        for name in ("reaction", "total", "max_damage"):
            assert np.isfinite(result.column(name)).all(), name
    _finite_csv(tmp_path / "out" / "history.csv")


def test_cahn_hilliard_absurd_dt_is_cut_back(tmp_path: Path) -> None:
    """dt = 1e5 with a huge mobility: the adaptive stepper rejects and shrinks; all finite."""
    tm = square(MPI.COMM_WORLD, n=8)
    params = ch.Params(dt=1e5, dt_max=1e6, mobility=1e6)
    result = ch.run(tm.mesh, params, t_end=3e5, output=tmp_path / "out", show_progress=False)
    assert result.rejected > 0
    for name in ("time", "dt", "free_energy", "mass"):
        assert np.isfinite(result.column(name)).all(), name
    assert all(np.isfinite(f.x.array).all() for f in result.fields)
    _finite_csv(tmp_path / "out" / "history.csv")


def test_cahn_hilliard_absurd_fixed_dt_diverges_to_solver_error(tmp_path: Path) -> None:
    """A fixed dt = 1e5 with one Newton iteration allowed: SolverError, history finite."""
    tm = square(MPI.COMM_WORLD, n=8)
    params = ch.Params(dt=1e5, adaptive=False, theta=1.0)
    with pytest.raises(SolverError, match=r"^femgp_ch_rb1_: .*did not converge") as info:
        ch.run(
            tm.mesh,
            params,
            t_end=3e5,
            output=tmp_path / "out",
            prefix="femgp_ch_rb1_",
            options={"snes_max_it": 1},
            show_progress=False,
        )
    assert info.value.prefix == "femgp_ch_rb1_"
    assert _finite_csv(tmp_path / "out" / "history.csv") == 1  # the initial state only


# -- PETSc errors carry the prefix, with no PETSc error trace -----------------------------------


def _small_problem(prefix: str, options: dict[str, Any]) -> NonlinearProblem:
    domain = mesh.create_unit_square(MPI.COMM_WORLD, 4, 4)
    V = fem.functionspace(domain, ("Lagrange", 1))
    u = fem.Function(V)
    v = ufl.TestFunction(V)
    R = (ufl.inner(ufl.grad(u), ufl.grad(v)) + u * v - v) * ufl.dx
    return NonlinearProblem(R, u, prefix=prefix, options=options)


@pytest.mark.parametrize(
    "option, value, match",
    [
        ("ksp_type", "nonsense", "KSP type nonsense"),
        ("pc_type", "nonsense", "PC type nonsense"),
        ("snes_type", "nonsense", "SNES type nonsense"),
        ("snes_linesearch_type", "nonsense", "Line Search type nonsense"),
        ("snes_max_it", "many", "many"),
    ],
)
def test_bad_option_value_is_input_error_with_prefix(
    option: str, value: str, match: str, capfd: pytest.CaptureFixture[str]
) -> None:
    prefix = f"femgp_rb_{option}_"
    with pytest.raises(InputError, match=rf"^{prefix}: bad PETSc option: .*{match}") as info:
        _small_problem(prefix, {option: value})
    assert f"-{prefix}{option} {value}" in str(info.value)
    assert len(str(info.value).splitlines()) == 1
    out, err = capfd.readouterr()
    assert "PETSC ERROR" not in (out + err).upper()
    assert not any(k.startswith(prefix) for k in PETSc.Options().getAll()), "defaults left behind"


def test_bad_option_from_the_command_line_is_named(capfd: pytest.CaptureFixture[str]) -> None:
    """An option set like ``-femgp_x_ksp_type nonsense`` on the command line wins and is named."""
    prefix = "femgp_rb_cmdline_"
    opts = PETSc.Options()
    opts[f"{prefix}ksp_type"] = "nonsense"
    try:
        with pytest.raises(InputError, match=rf"^{prefix}: .*check -{prefix}ksp_type nonsense$"):
            _small_problem(prefix, {"ksp_type": "cg"})
    finally:
        opts.delValue(f"{prefix}ksp_type")
    assert "PETSC ERROR" not in "".join(capfd.readouterr()).upper()


def test_bad_factor_package_is_found_before_any_solve() -> None:
    """PETSc looks the LU package up only in the first solve; femgp checks it up front."""
    prefix = "femgp_rb_lu_"
    options = {"ksp_type": "preonly", "pc_type": "lu", "pc_factor_mat_solver_type": "nonsense"}
    with pytest.raises(
        InputError, match=rf"^{prefix}: bad PETSc option: .*solver type nonsense.*LU"
    ) as info:
        _small_problem(prefix, options)
    assert f"-{prefix}pc_factor_mat_solver_type nonsense" in str(info.value)
    prob = _small_problem("femgp_rb_lu_ok_", {**options, "pc_factor_mat_solver_type": "petsc"})
    assert prob.solve().reason > 0  # the check leaves a working LU solve


def test_option_error_found_in_the_solve_is_input_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """An option error PETSc reports only in the solve (code 92 here) is still an InputError."""
    prob = _small_problem("femgp_rb_late_", {})

    def fail() -> None:
        raise PETSc.Error(92)

    monkeypatch.setattr(prob._problem, "solve", fail)
    with pytest.raises(
        InputError, match=r"^femgp_rb_late_: bad PETSc option \(found in the solve\)"
    ):
        prob.solve()


def test_petsc_error_in_solve_is_solver_error_with_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any other PETSc error in a solve (here a zero pivot, code 71) is a SolverError."""
    prob = _small_problem("femgp_rb_pivot_", {})
    u = prob._funcs[0]
    u.x.array[:] = 0.25

    def fail() -> None:
        u.x.array[:] = np.nan
        raise PETSc.Error(71)

    monkeypatch.setattr(prob._problem, "solve", fail)
    with pytest.raises(SolverError, match=r"^femgp_rb_pivot_: PETSc error: .*71.* at step 4"):
        prob.solve(step=4)
    assert np.all(u.x.array == 0.25)  # restored, no NaN left behind


def test_petsc_error_reason_keeps_the_reason_line() -> None:
    class FakeError(Exception):
        ierr = 86

    text = "error code 86\n[0] KSPSetType() at itcreate.c:845\n[0] Unable to find KSP type x"
    assert petsc_error_reason(FakeError(text)) == "Unable to find KSP type x (PETSc error code 86)"
    assert petsc_error_reason(FakeError("error code 86")) == "PETSc error code 86"


def test_misspelt_option_is_reported_after_a_solve(caplog: pytest.LogCaptureFixture) -> None:
    """``-femgp_x_snes_rtoll`` (a typo) is named at the end of a run; used options are not."""
    prefix = "femgp_rb_typo_"
    opts = PETSc.Options()
    opts[f"{prefix}snes_rtoll"] = "1e-3"
    opts[f"{prefix}snes_rtol"] = "1e-3"
    try:
        prob = _small_problem(prefix, {"ksp_type": "cg", "pc_type": "jacobi"})
        prob.solve()
        with caplog.at_level("WARNING", logger="femgp.options"):
            unused = warn_unused_options(prob)
    finally:
        for name in ("snes_rtoll", "snes_rtol"):
            opts.delValue(f"{prefix}{name}")
    assert unused == [f"-{prefix}snes_rtoll 1e-3"]
    if MPI.COMM_WORLD.rank == 0:
        assert f"-{prefix}snes_rtoll" in caplog.text


def test_nan_residual_is_solver_error_and_state_restored() -> None:
    """A residual that evaluates to NaN (sqrt of a negative number) never leaves NaN behind."""
    domain = mesh.create_unit_square(MPI.COMM_WORLD, 4, 4)
    V = fem.functionspace(domain, ("Lagrange", 1))
    u = fem.Function(V)
    u.x.array[:] = 0.5
    v = ufl.TestFunction(V)
    R = (ufl.inner(ufl.grad(u), ufl.grad(v)) + ufl.sqrt(u - 1.0) * v) * ufl.dx
    prob = NonlinearProblem(R, u, prefix="femgp_rb_nan_", options={"snes_max_it": 5})
    with pytest.raises(SolverError, match=r"^femgp_rb_nan_: .* at step 2") as info:
        prob.solve(step=2)
    assert info.value.reason is not None and info.value.reason < 0
    assert np.all(u.x.array == 0.5)


def _failing_jacobian(prob: NonlinearProblem, error: BaseException) -> None:
    """Make the Jacobian callback of ``prob`` raise ``error`` once, at its second call."""
    snes = prob.snes
    J, P, (jacobian, args, kargs) = snes.getJacobian()
    calls = {"n": 0}

    def once(s: Any, x: Any, J_: Any, P_: Any, *a: Any, **k: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise error
        jacobian(s, x, J_, P_, *a, **k)

    snes.setJacobian(once, J, P, args=args, kargs=kargs)


def _nonlinear_problem(prefix: str, **kwargs: Any) -> tuple[NonlinearProblem, fem.Function]:
    domain = mesh.create_unit_square(MPI.COMM_WORLD, 6, 6)
    V = fem.functionspace(domain, ("Lagrange", 1))
    u = fem.Function(V)
    v = ufl.TestFunction(V)
    R = ((1 + u**2) * ufl.inner(ufl.grad(u), ufl.grad(v)) + u * v - v) * ufl.dx
    return NonlinearProblem(R, u, prefix=prefix, **kwargs), u


@pytest.mark.parametrize("kept", [False, True])
def test_petsc_error_in_a_callback_is_solver_error_and_the_next_solve_runs(kept: bool) -> None:
    """A PETSc error raised in a Jacobian callback (as a failed factorisation in a kept
    preconditioner's set-up would) fails that solve only: the state is restored and the
    same problem solves again. Before, the solution vector stayed locked for reading
    and every later solve failed with "Object is in wrong state"."""
    options = {"ksp_type": "cg", "pc_type": "gamg"} if kept else {}
    prob, u = _nonlinear_problem(
        f"femgp_rb_cb{int(kept)}_", options=options, reuse_pc=5 if kept else None
    )
    _failing_jacobian(prob, PETSc.Error(71))
    u.x.array[:] = 0.0
    with pytest.raises(SolverError, match=r"PETSc error"):
        prob.solve(step=1)
    assert np.all(u.x.array == 0.0)
    for _ in range(2):
        u.x.array[:] = 0.0
        assert prob.solve().reason > 0
    assert np.isfinite(u.x.array).all() and np.abs(u.x.array).max() > 0.01


def test_python_exception_in_a_callback_is_raised_as_itself() -> None:
    """A Python exception in a callback is a defect (or a signal), not a failed solve: it
    reaches the caller as itself, not as a SolverError that would be cut back and retried."""
    prob, u = _nonlinear_problem("femgp_rb_cbpy_")
    _failing_jacobian(prob, ZeroDivisionError("defect in a callback"))
    u.x.array[:] = 0.0
    with pytest.raises(ZeroDivisionError, match="defect in a callback"):
        prob.solve()
    assert np.all(u.x.array == 0.0)
    u.x.array[:] = 0.0
    assert prob.solve().reason > 0


def test_bad_option_of_an_inner_solve_is_input_error(capfd: pytest.CaptureFixture[str]) -> None:
    """An inner solve's bad option (read when the Python preconditioner is set up, in the
    first solve) is an InputError that names it, not a failed solve to cut back. Before,
    PETSc's "error code 101" (a Python error) hid the cause's code 86 and its reason."""
    from femgp.fem.preconditioners import BLOCK_PC

    domain = square(MPI.COMM_WORLD, n=8).mesh
    prefix = "femgp_rb_inner_"
    options = {**BLOCK_PC, "ch_schur_pc_type": "nonsense"}
    model = ch.CahnHilliard(domain, ch.Params(scheme="eyre"), prefix=prefix, options=options)
    model.set_initial(ch.pfhub_initial_for(domain))
    with pytest.raises(
        InputError,
        match=rf"^{prefix}: bad PETSc option \(found in the solve\): .*PC type nonsense "
        rf"\(PETSc error code 86\); check -{prefix}ch_schur_pc_type nonsense$",
    ):
        model.step(1.0)
    assert "PETSC ERROR" not in "".join(capfd.readouterr()).upper()
