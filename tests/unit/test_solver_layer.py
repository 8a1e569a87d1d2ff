"""The solver layer: manufactured solution rates, checked convergence, bounds, step control."""

from __future__ import annotations

import math

import femgp.fem._backend  # noqa: F401

import numpy as np
import pytest
import ufl
from dolfinx import fem, mesh
from mpi4py import MPI

from femgp.errors import InputError, SolverError
from femgp.fem.problems import NonlinearProblem
from femgp.fem.stepping import AdaptiveStepper


def _mms_error(n: int, degree: int) -> float:
    """Minimise ∫ (1 + u^2)/2 |grad u|^2 - f u with f manufactured from u_ex; L2 error."""
    domain = mesh.create_unit_square(MPI.COMM_WORLD, n, n)
    V = fem.functionspace(domain, ("Lagrange", degree))
    x = ufl.SpatialCoordinate(domain)
    u_ex = ufl.sin(math.pi * x[0]) * ufl.sin(math.pi * x[1]) * (1 + x[0])
    q = 1 + u_ex**2
    f = -ufl.div(q * ufl.grad(u_ex)) + u_ex * ufl.inner(ufl.grad(u_ex), ufl.grad(u_ex))
    u = fem.Function(V)
    energy = ((1 + u**2) / 2 * ufl.inner(ufl.grad(u), ufl.grad(u)) - f * u) * ufl.dx
    R = ufl.derivative(energy, u, ufl.TestFunction(V))
    domain.topology.create_connectivity(1, 2)
    dofs = fem.locate_dofs_topological(V, 1, mesh.exterior_facet_indices(domain.topology))
    bc = fem.dirichletbc(0.0, dofs, V)
    prob = NonlinearProblem(
        R, u, prefix=f"test_mms_{n}_{degree}_", bcs=[bc],
        options={"ksp_type": "cg", "pc_type": "gamg", "ksp_rtol": 1e-12, "snes_rtol": 1e-10},
    )  # fmt: skip
    stats = prob.solve()
    assert 1 < stats.newton < 10 and stats.krylov > 0
    err = fem.form((u - u_ex) ** 2 * ufl.dx)
    return math.sqrt(domain.comm.allreduce(fem.assemble_scalar(err), op=MPI.SUM))


@pytest.mark.parametrize("degree", [1, 2])
def test_manufactured_solution_rate(degree):
    ns = [8, 16, 32, 64]
    errors = [_mms_error(n, degree) for n in ns]
    rate = -np.polyfit(np.log(ns), np.log(errors), 1)[0]
    assert rate == pytest.approx(degree + 1, abs=0.1), (rate, errors)


def test_failed_solve_raises_and_restores_state():
    domain = mesh.create_unit_square(MPI.COMM_WORLD, 4, 4)
    V = fem.functionspace(domain, ("Lagrange", 1))
    u = fem.Function(V)
    u.x.array[:] = 0.3
    v = ufl.TestFunction(V)
    R = (ufl.exp(20 * u) * v + ufl.inner(ufl.grad(u), ufl.grad(v)) + 1e3 * v) * ufl.dx
    prob = NonlinearProblem(R, u, prefix="test_fail_", options={"snes_max_it": 2})
    with pytest.raises(SolverError, match=r"test_fail_.*step 7.*PETSc reason -5") as info:
        prob.solve(step=7)
    assert info.value.prefix == "test_fail_" and info.value.reason == -5
    assert np.all(u.x.array == 0.3)


def test_bounds_are_respected():
    """An obstacle problem: minimise 1/2|grad u|^2 - f u with 0 <= u <= 0.02 (SNES VI)."""
    domain = mesh.create_unit_square(MPI.COMM_WORLD, 16, 16)
    V = fem.functionspace(domain, ("Lagrange", 1))
    u, lo, hi = fem.Function(V), fem.Function(V), fem.Function(V)
    hi.x.array[:] = 0.02
    v = ufl.TestFunction(V)
    R = (ufl.inner(ufl.grad(u), ufl.grad(v)) - 1.0 * v) * ufl.dx
    domain.topology.create_connectivity(1, 2)
    dofs = fem.locate_dofs_topological(V, 1, mesh.exterior_facet_indices(domain.topology))
    prob = NonlinearProblem(
        R, u, prefix="test_vi_", bcs=[fem.dirichletbc(0.0, dofs, V)], bounds=(lo, hi)
    )
    assert prob.snes.getType() == "vinewtonrsls"
    prob.solve()
    umax = domain.comm.allreduce(u.x.array.max(), op=MPI.MAX)
    assert umax == pytest.approx(0.02, abs=1e-12)  # the unconstrained max is 0.0737
    assert domain.comm.allreduce(u.x.array.min(), op=MPI.MIN) >= -1e-14


def test_command_line_options_override_defaults():
    from petsc4py import PETSc

    PETSc.Options()["test_override_ksp_type"] = "gmres"
    try:
        domain = mesh.create_unit_square(MPI.COMM_WORLD, 4, 4)
        V = fem.functionspace(domain, ("Lagrange", 1))
        u, v = fem.Function(V), ufl.TestFunction(V)
        R = (u * v + ufl.inner(ufl.grad(u), ufl.grad(v)) - v) * ufl.dx
        prob = NonlinearProblem(R, u, prefix="test_override_", options={"ksp_type": "cg"})
        assert prob.snes.getKSP().getType() == "gmres"
    finally:
        del PETSc.Options()["test_override_ksp_type"]


def test_each_problem_is_logged_in_its_own_stage():
    """-log_view splits the time by problem: each solve runs in a stage named after the prefix."""
    from petsc4py import PETSc

    PETSc.Log.begin()
    domain = mesh.create_unit_square(MPI.COMM_WORLD, 4, 4)
    V = fem.functionspace(domain, ("Lagrange", 1))
    u, v = fem.Function(V), ufl.TestFunction(V)
    R = (u * v + ufl.inner(ufl.grad(u), ufl.grad(v)) - v) * ufl.dx
    probs = [NonlinearProblem(R, u, prefix=f"test_stage_{k}_") for k in "ab"]
    probs[0].solve()
    probs[0].solve()
    probs[1].solve()
    solves = PETSc.Log.Event("SNESSolve")
    counts = [solves.getPerfInfo(p.log_stage.id)["count"] for p in probs]
    assert [p.log_stage.getName() for p in probs] == ["test_stage_a", "test_stage_b"]
    assert counts == [2, 1]


def test_prefix_is_mandatory():
    domain = mesh.create_unit_square(MPI.COMM_SELF, 2, 2)
    V = fem.functionspace(domain, ("Lagrange", 1))
    u = fem.Function(V)
    with pytest.raises(InputError, match="prefix"):
        NonlinearProblem(u * ufl.TestFunction(V) * ufl.dx, u, prefix="")


class TestAdaptiveStepper:
    def test_grows_on_easy_steps_within_bounds(self):
        s = AdaptiveStepper(dt=1.0, dt_max=5.0, grow=2.0)
        for _ in range(5):
            assert s.accept(s.next_dt(0.0, 1e9), iterations=2)
        assert s.dt == 5.0

    def test_hard_steps_do_not_grow(self):
        s = AdaptiveStepper(dt=1.0, target_iterations=3)
        s.accept(1.0, iterations=5)
        assert s.dt == 1.0
        s.accept(1.0, iterations=9)
        assert s.dt == pytest.approx(0.7)

    def test_error_control_rejects_and_shrinks(self):
        s = AdaptiveStepper(dt=1.0, tol=1e-3, order=1)
        assert not s.accept(1.0, error=1e-1)
        assert s.dt < 0.2 + 1e-12
        assert s.accept(s.dt, error=1e-3)
        assert s.rejected == 1

    def test_cutback_then_solver_error(self):
        s = AdaptiveStepper(dt=1.0, shrink=0.5, max_retries=2)
        s.cutback(1.0)
        s.cutback(0.5)
        assert s.dt == 0.25
        with pytest.raises(SolverError, match="after 2 cutbacks"):
            s.cutback(0.25)

    def test_lands_on_output_times(self):
        s = AdaptiveStepper(dt=3.0, output_times=[10.0])
        t, times = 0.0, []
        while t < 20.0 - 1e-12:
            dt = s.next_dt(t, 20.0)
            s.accept(dt, iterations=1)
            t += dt
            times.append(t)
        assert any(abs(x - 10.0) < 1e-12 for x in times)
        assert times[-1] == pytest.approx(20.0, abs=1e-12)

    @pytest.mark.parametrize(
        "kw, match",
        [({"dt": 0.0}, "dt must be > 0"), ({"dt": 1.0, "dt_min": 2.0, "dt_max": 1.0}, "dt_min"),
         ({"dt": 1.0, "shrink": 1.5}, "shrink")],
    )  # fmt: skip
    def test_bad_settings(self, kw, match):
        with pytest.raises(InputError, match=match):
            AdaptiveStepper(**kw)


def _cubic_from_spinodal(limit: float | None, prefix: str) -> tuple[fem.Function, int, int]:
    """Solve u^3 - u = 1/2 from u = 0.58, next to the spinodal point 1/sqrt(3) of u^4/4 - u^2/2.

    There the derivative 3u^2 - 1 is 0.0092: Newton's first full update throws u to
    about 96. Returns the solution, the Newton iterations and the updates that were limited.
    """
    domain = mesh.create_unit_interval(MPI.COMM_WORLD, 8)
    V = fem.functionspace(domain, ("Lagrange", 1))
    u = fem.Function(V)
    u.x.array[:] = 0.58
    v = ufl.TestFunction(V)
    R = (u**3 - u - 0.5) * v * ufl.dx
    mask = fem.Function(V)
    mask.x.array[:] = 1.0
    opts = {"ksp_type": "preonly", "pc_type": "lu", "snes_rtol": 1e-12, "snes_max_it": 50}
    prob = NonlinearProblem(
        R, u, prefix=prefix, options=opts, update_limit=None if limit is None else (mask, limit)
    )
    stats = prob.solve()
    limited = 0 if prob.update_limit is None else prob.update_limit.limited
    return u, stats.newton, limited


def test_update_limit_keeps_newton_near_the_wells():
    root = 1.191487883953  # the real root of u^3 - u - 1/2
    u, newton, limited = _cubic_from_spinodal(0.5, "test_limit_on_")
    assert np.allclose(u.x.array, root, atol=1e-9)
    assert limited == 1 and newton <= 6, (limited, newton)
    # Control: the full first update throws u to about 96, past PETSc's divergence
    # tolerance on the residual norm (1e4 times the initial one).
    with pytest.raises(SolverError, match=r"PETSc reason -9"):
        _cubic_from_spinodal(None, "test_limit_off_")


def test_update_limit_must_be_positive():
    domain = mesh.create_unit_interval(MPI.COMM_WORLD, 2)
    V = fem.functionspace(domain, ("Lagrange", 1))
    u = fem.Function(V)
    R = (u - 1) * ufl.TestFunction(V) * ufl.dx
    with pytest.raises(InputError, match=r"update limit must be > 0, got 0\.0"):
        NonlinearProblem(R, u, prefix="test_limit_bad_", update_limit=(fem.Function(V), 0.0))


def _obstacle(
    prefix: str, constant_jacobian: bool | None, symmetric: bool = True
) -> tuple[NonlinearProblem, fem.Function]:
    """Minimise 1/2|grad u|^2 + 1/2 u^2 - f u with -0.02 <= u <= 0.02: both bounds bind."""
    domain = mesh.create_unit_square(MPI.COMM_WORLD, 32, 32)
    V = fem.functionspace(domain, ("Lagrange", 1))
    u, lo, hi, f = (fem.Function(V) for _ in range(4))
    lo.x.array[:], hi.x.array[:] = -0.02, 0.02
    f.interpolate(lambda x: 2.0 * np.sin(2 * np.pi * x[0]) * np.sin(np.pi * x[1]))
    v = ufl.TestFunction(V)
    R = (ufl.inner(ufl.grad(u), ufl.grad(v)) + u * v - f * v) * ufl.dx
    options = {"ksp_type": "cg", "pc_type": "jacobi", "ksp_rtol": 1e-12, "snes_rtol": 1e-10}
    prob = NonlinearProblem(
        R,
        u,
        prefix=prefix,
        bounds=(lo, hi),
        options=options,
        symmetric=symmetric,
        constant_jacobian=constant_jacobian,
    )
    return prob, u


def test_constant_jacobian_is_assembled_once_per_solve(monkeypatch):
    """A quadratic energy's Jacobian: one assembly per solve, the same iterates as reassembling."""
    import dolfinx.fem.petsc

    from femgp.fem.assembly import CSRAssembler

    calls = []

    def counting(assemble):
        def wrapper(*args, **kwargs):
            calls.append(1)
            return assemble(*args, **kwargs)

        return wrapper

    # Either assembly path counts (femgp's CSR path is the default).
    monkeypatch.setattr(CSRAssembler, "assemble", counting(CSRAssembler.assemble))
    monkeypatch.setattr(
        dolfinx.fem.petsc, "assemble_matrix", counting(dolfinx.fem.petsc.assemble_matrix)
    )
    results = {}
    for name, flag in (("detected", None), ("control", False)):
        prob, u = _obstacle(f"test_constjac_{name}_", flag)
        calls.clear()
        st = prob.solve()
        results[name] = (prob.constant_jacobian, st.newton, len(calls), u.x.array.copy())
    detected, control = results["detected"], results["control"]
    assert detected[0] and not control[0]
    assert detected[1] == control[1] >= 3  # the active set takes several VI Newton iterations
    assert detected[2] == 1 and control[2] == control[1]
    diff = MPI.COMM_WORLD.allreduce(np.abs(detected[3] - control[3]).max(), op=MPI.MAX)
    assert diff < 1e-14


def test_nonlinear_jacobian_is_not_constant():
    from femgp.fem.problems import jacobian_is_constant

    domain = mesh.create_unit_square(MPI.COMM_WORLD, 4, 4)
    V = fem.functionspace(domain, ("Lagrange", 1))
    u, v = fem.Function(V), ufl.TestFunction(V)
    quadratic = (ufl.inner(ufl.grad(u), ufl.grad(v)) + u * v) * ufl.dx
    quartic = quadratic + u**3 * v * ufl.dx
    assert jacobian_is_constant(ufl.derivative(quadratic, u), u)
    assert not jacobian_is_constant(ufl.derivative(quartic, u), u)
    assert not jacobian_is_constant(None, u)


def test_jacobian_answer_carries_over_to_the_same_form_on_another_mesh(monkeypatch):
    """A rebuild on a refined mesh reuses the answer; a different form does not."""
    from femgp.fem import problems

    monkeypatch.setattr(problems, "_CONSTANT_JACOBIANS", {})
    expansions = []
    real = ufl.algorithms.expand_derivatives
    monkeypatch.setattr(
        ufl.algorithms, "expand_derivatives", lambda f: expansions.append(f) or real(f)
    )

    def forms(n: int) -> tuple:
        domain = mesh.create_unit_square(MPI.COMM_WORLD, n, n)
        V = fem.functionspace(domain, ("Lagrange", 1))
        u, f, v = fem.Function(V), fem.Function(V), ufl.TestFunction(V)
        quadratic = (ufl.inner(ufl.grad(u), ufl.grad(v)) + f * u * v) * ufl.dx
        quartic = quadratic + f * u**3 * v * ufl.dx
        return u, f, ufl.derivative(quadratic, u), ufl.derivative(quartic, u)

    u, f, quadratic, quartic = forms(4)
    assert problems.jacobian_is_constant(quadratic, u)
    assert not problems.jacobian_is_constant(quartic, u)
    assert len(expansions) == 2
    u, f, quadratic, quartic = forms(8)
    assert problems.jacobian_is_constant(quadratic, u)
    assert not problems.jacobian_is_constant(quartic, u)
    assert len(expansions) == 2  # both answers came from the first mesh's forms
    # The same form in another unknown is another question, with another answer:
    # the quadratic energy's Jacobian in u carries f.
    assert not problems.jacobian_is_constant(quadratic, f)
    assert len(expansions) == 3
    assert len(problems._CONSTANT_JACOBIANS) == 3
    monkeypatch.setattr(problems, "_CONSTANT_JACOBIANS_KEPT", 3)
    assert not problems.jacobian_is_constant(quartic, f)  # a fourth: the oldest is dropped
    assert len(expansions) == 4 and len(problems._CONSTANT_JACOBIANS) == 3
    assert problems.jacobian_is_constant(quadratic, u)  # the oldest, expanded again
    assert len(expansions) == 5 and len(problems._CONSTANT_JACOBIANS) == 3


def test_symmetric_jacobian_is_flagged_for_its_submatrices():
    """GAMG reads the flag; the reduced-space VI solver's submatrices inherit it."""
    from petsc4py import PETSc

    prob, _ = _obstacle("test_symflag_", None)
    prob.solve()
    A = prob.A
    assert A.isSymmetricKnown() == (True, True)
    r0, r1 = A.getOwnershipRange()
    half = PETSc.IS().createStride((r1 - r0) // 2, first=r0, step=2, comm=A.getComm())
    assert A.createSubMatrix(half, half).isSymmetricKnown() == (True, True)
    plain, _ = _obstacle("test_symflag_plain_", None, symmetric=False)
    plain.solve()  # the control: no flag, none inherited
    assert not plain.A.isSymmetricKnown()[0]
    assert not plain.A.createSubMatrix(half, half).isSymmetricKnown()[0]


def test_defaults_holding_commas_are_replaced_and_dropped():
    """A later problem under the same prefix replaces femgp's defaults, commas in values or not
    (``-mg_levels_ksp_chebyshev_esteig 0,0.1,0,1.1``), and drops those it does not want; the
    user's option stays. Before, a default with a comma was taken for the user's and kept."""
    from petsc4py import PETSc

    from femgp.fem.problems import set_default_options

    opts, prefix = PETSc.Options(), "test_commas_"
    esteig = f"{prefix}mg_levels_ksp_chebyshev_esteig"
    opts[f"{prefix}ksp_rtol"] = "1e-3"  # the user's
    try:
        first = {
            "ksp_type": "cg",
            "ksp_rtol": 1e-8,
            "mg_levels_ksp_chebyshev_esteig": "0,0.1,0,1.1",
        }
        assert set_default_options(prefix, first) == [f"{prefix}ksp_type", esteig]
        second = {"ksp_type": "gmres", "mg_levels_ksp_chebyshev_esteig": "0,0.2,0,1.2"}
        assert set_default_options(prefix, second) == [f"{prefix}ksp_type", esteig]
        assert opts.getString(esteig) == "0,0.2,0,1.2"
        assert set_default_options(prefix, {"ksp_type": "cg"}) == [f"{prefix}ksp_type"]
        left = {k: v for k, v in opts.getAll().items() if k.startswith(prefix)}
        assert left == {
            f"{prefix}ksp_rtol": "1e-3",
            f"{prefix}ksp_type": "cg",
            f"{prefix}femgp_defaults": "ksp_type=cg",
        }
        assert set_default_options(prefix, {}) == []
        assert {k for k in opts.getAll() if k.startswith(prefix)} == {f"{prefix}ksp_rtol"}
    finally:
        for name in [k for k in opts.getAll() if k.startswith(prefix)]:
            opts.delValue(name)
