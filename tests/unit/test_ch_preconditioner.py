"""The Cahn-Hilliard block preconditioner: MUMPS's answer, bounded iterations, bad input; 3D."""

from __future__ import annotations

import femgp.fem._backend  # noqa: F401

import numpy as np
import pytest
import ufl
from dolfinx import fem
from mpi4py import MPI

from femgp.errors import InputError
from femgp.fem.meshes.pfhub import cube, square
from femgp.fem.preconditioners import BLOCK_PC, block_pc_in_use, field_index_sets
from femgp.fem.problems import DIRECT_LU, NonlinearProblem
from femgp.models import cahn_hilliard as ch

#: The plain Schur option (selfp, GAMG on it): the control.
SELFP = {
    "ksp_type": "gmres",
    "ksp_gmres_restart": 200,
    "ksp_rtol": 1e-8,
    "ksp_max_it": 2000,
    "pc_type": "fieldsplit",
    "pc_fieldsplit_type": "schur",
    "pc_fieldsplit_schur_fact_type": "full",
    "pc_fieldsplit_schur_precondition": "selfp",
    "fieldsplit_c_ksp_type": "preonly",
    "fieldsplit_c_pc_type": "jacobi",
    "fieldsplit_mu_ksp_type": "preonly",
    "fieldsplit_mu_pc_type": "gamg",
}


def _model(domain, params, options, prefix, initial=None):
    model = ch.CahnHilliard(domain, params, options=options, prefix=prefix)
    pc = model.problem.snes.getKSP().getPC()
    if pc.getType() == "fieldsplit":
        is_c, is_mu = field_index_sets(model.V, domain.comm)
        pc.setFieldSplitIS(("c", is_c), ("mu", is_mu))
        model.problem.snes.setFromOptions()
    model.set_initial(initial or ch.pfhub_initial_for(domain))
    return model


def _steps(model, dt, n):
    its = []
    for _ in range(n):
        st, _ = model.step(dt)
        model.commit(dt)
        its.append(st.krylov / st.newton)
    return its


_counter = iter(range(10**6))


def _prefix(name):
    return f"tpc{next(_counter)}_{name}_"


@pytest.mark.parametrize(
    "scheme, dt, dim",
    [("theta", 1.0, 2), ("eyre", 20.0, 2), ("theta", 1.0, 3), ("eyre", 5.0, 3)],
)
def test_block_pc_gives_the_mumps_answer(scheme, dt, dim):
    if dim == 2:
        domain = square(MPI.COMM_WORLD, n=24, size=100.0).mesh
    else:
        domain = cube(MPI.COMM_WORLD, n=5, size=30.0, cell="tetrahedron").mesh
    params = ch.Params(scheme=scheme)
    tight = {"snes_rtol": 1e-10, "snes_atol": 1e-12}
    block = _model(domain, params, {**BLOCK_PC, **tight, "ksp_rtol": 1e-11}, _prefix("b"))
    direct = _model(domain, params, {**DIRECT_LU, **tight}, _prefix("d"))
    assert block_pc_in_use(block.problem.snes.getKSP().getPC()) is not None
    assert block_pc_in_use(direct.problem.snes.getKSP().getPC()) is None
    for _ in range(2):
        _steps(block, dt, 1)
        _steps(direct, dt, 1)
    diff = np.abs(block.u.x.array - direct.u.x.array).max()
    diff = domain.comm.allreduce(diff, op=MPI.MAX)
    scale = domain.comm.allreduce(np.abs(direct.u.x.array).max(), op=MPI.MAX)
    assert block.problem.total.krylov > block.problem.total.newton  # it did iterate
    assert diff <= 1e-12 * scale, diff  # measured 2.1e-16..5.5e-16 (room for other builds)


def test_iterations_bounded_over_h_and_dt_selfp_not():
    """Krylov iterations per Newton step over 16x the dofs and 100x the step.

    The block preconditioner stays within 1.5x; the selfp Schur option (the
    control) grows by more than 2x over the same meshes (its Schur complement is
    a fourth-order operator that GAMG does not precondition robustly).
    """
    per_newton = {}
    for variant, options in (("block", BLOCK_PC), ("selfp", SELFP)):
        for n in (35, 140):
            for dt in (0.1, 10.0) if variant == "block" else (1.0,):
                domain = square(MPI.COMM_WORLD, n=n).mesh
                model = _model(domain, ch.Params(scheme="eyre"), options, _prefix(variant))
                per_newton[variant, n, dt] = max(_steps(model, dt, 2))
    block = [v for k, v in per_newton.items() if k[0] == "block"]
    assert max(block) <= 1.5 * min(block), per_newton  # measured 16..21 (1.31x)
    selfp = per_newton["selfp", 140, 1.0] / per_newton["selfp", 35, 1.0]
    assert selfp > 2.0, per_newton  # measured 16 -> 40.5 (2.5x)


def test_iterations_within_2x_from_dt_1e_2_to_1e4_nodal_split_not():
    """Eyre, PFHub 1 state at h = 100/35: Krylov its per Newton step, dt = 1e-2 and 1e4.

    Two steps each, GMRES(100), rtol 1e-8. The default Schur factors
    (``-ch_fpp jacobian``) stay within the 2x of the target (measured 13.0 ->
    19.3, 1.49x); the controls do not: the nodal f'' split (the former default,
    13.0 -> 52.0, 4.0x) and f'' dropped (Bosch-Stoll-Benner, 13.0 -> 37.3, 2.87x).
    """
    domain = square(MPI.COMM_WORLD, n=35, size=100.0).mesh
    per_newton = {}
    for fpp in ("jacobian", "nodal", "drop"):
        for dt in (1e-2, 1e4):
            opts = dict(BLOCK_PC) if fpp == "jacobian" else {**BLOCK_PC, "ch_fpp": fpp}
            model = _model(domain, ch.Params(scheme="eyre"), opts, _prefix(fpp))
            _steps(model, dt, 2)
            total = model.problem.total
            per_newton[fpp, dt] = total.krylov / total.newton
    ratio = {f: per_newton[f, 1e4] / per_newton[f, 1e-2] for f in ("jacobian", "nodal", "drop")}
    assert ratio["jacobian"] <= 2.0, per_newton  # measured 1.49
    assert max(per_newton["jacobian", dt] for dt in (1e-2, 1e4)) <= 60, per_newton  # 19.3
    assert ratio["nodal"] > 2.0, per_newton  # measured 4.0: the control
    assert ratio["drop"] > 2.0, per_newton  # measured 2.87


def test_bad_fpp_choice_is_refused():
    domain = square(MPI.COMM_WORLD, n=4).mesh
    prefix = "tpc_badfpp_"
    with pytest.raises(InputError) as err:
        ch.CahnHilliard(domain, ch.Params(), prefix=prefix, options={**BLOCK_PC, "ch_fpp": "avg"})
    msg = str(err.value)
    assert "\n" not in msg
    assert f"-{prefix}ch_fpp must be one of jacobian, mean, drop, nodal, got 'avg'" in msg


def test_block_pc_on_a_non_mixed_space_is_refused():
    domain = square(MPI.COMM_WORLD, n=4, size=1.0).mesh
    V = fem.functionspace(domain, ("Lagrange", 1))
    u, v = fem.Function(V), ufl.TestFunction(V)
    F = (u - 1.0) * v * ufl.dx
    prefix = "tpc_scalar_"
    with pytest.raises(InputError) as err:
        NonlinearProblem(F, u, prefix=prefix, options=BLOCK_PC)
    msg = str(err.value)
    assert "\n" not in msg
    assert f"-{prefix}pc_python_type femgp.fem.preconditioners.CahnHilliardPC" in msg
    assert "mixed (c, mu)" in msg


def test_default_solver_depends_on_size_and_dimension():
    small2d = square(MPI.COMM_WORLD, n=8).mesh
    big3d = cube(MPI.COMM_WORLD, n=26, cell="hexahedron").mesh  # 39,366 dofs
    m2 = ch.CahnHilliard(small2d, ch.Params(), prefix=_prefix("s"))
    m3 = ch.CahnHilliard(big3d, ch.Params(), prefix=_prefix("l"))
    assert m2.problem.snes.getKSP().getPC().getType() == "lu"
    assert block_pc_in_use(m3.problem.snes.getKSP().getPC()) is not None


@pytest.mark.parametrize("cell", ["tetrahedron", "hexahedron"])
def test_3d_cube_conserves_mass_and_energy_decreases(cell):
    """Eyre in 3D: mass to 2e-11 and F non-increasing; the microstructure evolves."""
    domain = cube(MPI.COMM_WORLD, n=6, size=40.0, cell=cell).mesh
    res = ch.run(
        domain,
        ch.Params(scheme="eyre", dt=20.0, adaptive=False),
        t_end=400.0,
        initial=ch.pfhub_initial_3d(epsilon=0.05),
        options=BLOCK_PC,
        show_progress=False,
        prefix=_prefix(cell),
    )
    mass, F = res.column("mass"), res.column("free_energy")
    assert res.steps == 20 and res.krylov > res.newton
    assert np.max(np.abs(mass - mass[0])) / abs(mass[0]) < 2e-11  # measured 3.8e-12, 6.3e-12
    assert np.diff(F).max() <= 1e-12 * abs(F[0])
    assert F[-1] < 0.9 * F[0]


def test_initial_condition_dimension_is_checked():
    d3 = cube(MPI.COMM_WORLD, n=2, size=10.0, cell="tetrahedron").mesh
    d2 = square(MPI.COMM_WORLD, n=4).mesh
    m3 = ch.CahnHilliard(d3, ch.Params(), prefix=_prefix("ic3"), options=DIRECT_LU)
    with pytest.raises(InputError, match=r"pfhub_initial is written for 2D.*3D \(tetrahedron"):
        m3.set_initial(ch.pfhub_initial())
    m2 = ch.CahnHilliard(d2, ch.Params(), prefix=_prefix("ic2"))
    with pytest.raises(InputError, match=r"pfhub_initial_3d is written for 3D.*2D \(quadri"):
        m2.set_initial(ch.pfhub_initial_3d())
    m3.set_initial(ch.pfhub_initial_3d())
    c = m3.c
    assert 0.45 < c.min() and c.max() < 0.55 and np.ptp(c) > 1e-3
