"""Cahn-Hilliard on a periodic cell (PFHub 1a): linear stability, translation invariance,
mass, checkpoint/restart, outputs. The ``mpi`` tests compare 2 ranks with COMM_SELF.
"""

from __future__ import annotations

import csv
import math

import femgp.fem._backend  # noqa: F401

import numpy as np
import pytest
import ufl
from dolfinx import fem, mesh
from mpi4py import MPI

from femgp.errors import InputError
from femgp.fem.forms import scalar
from femgp.fem.meshes.pfhub import square
from femgp.models import cahn_hilliard as ch

PFHUB = ch.Params()


def _sine_growth(periodic: str) -> tuple[float, float]:
    """Measured and predicted growth rate of c = c̄ + a sin(kx) on a strip (k = 0.3)."""
    k = 0.3
    L = 4 * 2 * math.pi / k  # four periods: sin(kx) fits the periodic cell
    nx = 320
    domain = mesh.create_rectangle(MPI.COMM_WORLD, [[0.0, 0.0], [L, 2 * L / nx]], [nx, 2])
    params = ch.Params(scheme="theta", theta=0.5, dt=0.05, adaptive=False, periodic=periodic)
    model = ch.CahnHilliard(domain, params, prefix=f"test_sine{periodic}_")
    c_bar, amp = 0.5, 1e-3
    model.set_initial(lambda x: c_bar + amp * np.sin(k * x[0]))
    x = ufl.SpatialCoordinate(domain)
    c = ufl.split(model.u)[0]
    num = fem.form((c - c_bar) * ufl.sin(k * x[0]) * ufl.dx)
    norm = scalar(fem.form(ufl.sin(k * x[0]) ** 2 * ufl.dx(domain=domain)), domain.comm)
    times, amps = [0.0], [scalar(num, domain.comm) / norm]
    t, dt = 0.0, params.dt
    while t < 3.0 - 1e-12:
        model.step(dt)
        model.commit(dt)
        t += dt
        times.append(t)
        amps.append(scalar(num, domain.comm) / norm)
    measured = np.polyfit(times, np.log(np.abs(amps)), 1)[0]
    return measured, PFHUB.growth_rate(k, c_bar)


def test_sine_mode_grows_at_the_linear_rate_on_a_periodic_cell():
    """Measured within 3.2e-4 of omega(k); 2e-3 lets a 1% error in M or rho show."""
    measured, expected = _sine_growth("xy")
    assert expected > 0
    assert measured == pytest.approx(expected, rel=2e-3), (measured, expected)


def test_sine_mode_control_with_no_flux_walls_fails():
    """The control: with no-flux walls sin(kx) is not an eigenmode; the check must fail."""
    measured, expected = _sine_growth("")
    assert abs(measured / expected - 1) > 0.02, (measured, expected)


SIDE = 64.0


def _periodic_ic(shift: float):
    """A sum of the cell's own Fourier modes, shifted by ``shift`` along x."""
    q = 2 * math.pi / SIDE

    def c(x):
        X, Y = x[0] - shift, x[1]
        return 0.5 + 0.02 * (
            np.cos(q * 2 * X + 0.3) * np.cos(q * 3 * Y + 1.1)
            + np.sin(q * (X + 2 * Y) + 0.7)
            + 0.5 * np.cos(q * 5 * X - q * Y)
        )

    return c


def _translation_runs(comm, tag):
    domain = square(comm, n=32, size=SIDE).mesh
    params = ch.Params(dt=1.0, adaptive=False, periodic="xy")
    out = {}
    for shift in (0.0, SIDE / 4):
        out[shift] = ch.run(
            domain,
            params,
            t_end=30.0,
            initial=_periodic_ic(shift),
            show_progress=False,
            prefix=f"test_shift{tag}_",
            # Newton to round-off: the spinodal growth (e^{0.28 t}) amplifies any
            # difference that a looser tolerance leaves between the two runs
            options={"snes_rtol": 1e-14, "snes_atol": 1e-11},
        )
    return out[0.0], out[SIDE / 4]


def test_translation_invariance():
    """A periodic IC shifted by a quarter side gives the same F(t) to 1e-8 relative."""
    a, b = _translation_runs(MPI.COMM_WORLD, "")
    F0, F1 = a.column("free_energy"), b.column("free_energy")
    assert F0[-1] < 0.9 * F0[0], "the field did not evolve"
    np.testing.assert_allclose(F1, F0, rtol=1e-8)
    mass = a.column("mass")
    assert np.max(np.abs(mass - mass[0])) / mass[0] < 1e-10


@pytest.mark.mpi
def test_translation_invariance_and_ranks_mpi():
    """On 2 ranks: shift invariance to 1e-8, and the same history as on one rank."""
    par = _translation_runs(MPI.COMM_WORLD, "par")
    ser = _translation_runs(MPI.COMM_SELF, "ser")
    np.testing.assert_allclose(
        par[1].column("free_energy"), par[0].column("free_energy"), rtol=1e-8
    )
    for p, s in zip(par, ser, strict=True):
        np.testing.assert_allclose(p.column("free_energy"), s.column("free_energy"), rtol=1e-9)
        np.testing.assert_allclose(p.column("mass"), s.column("mass"), rtol=1e-10)


@pytest.mark.parametrize("scheme", ["eyre", "theta"])
def test_mass_conserved_pfhub_1a(scheme):
    """PFHub 1a (the benchmark IC on the periodic square): mass to 1e-10, seams equal."""
    domain = square(MPI.COMM_WORLD, n=32, size=100.0).mesh
    params = ch.Params(scheme=scheme, dt=0.5, periodic="xy")
    res = ch.run(domain, params, t_end=40.0, show_progress=False, prefix=f"test_m1a{scheme}_")
    mass = res.column("mass")
    assert res.steps > 5
    assert np.max(np.abs(mass - mass[0])) / abs(mass[0]) < 1e-10
    c = res.fields[0]
    Vc = c.function_space
    n = Vc.dofmap.index_map.size_local
    X = np.concatenate(MPI.COMM_WORLD.allgather(Vc.tabulate_dof_coordinates()[:n, :2]))
    vals = np.concatenate(MPI.COMM_WORLD.allgather(c.x.array[:n]))
    table = {tuple(np.round(x, 8)): v for x, v in zip(X, vals, strict=True)}
    seams = [
        abs(v - table[(0.0, round(x[1], 8))]) for x, v in zip(X, vals, strict=True) if x[0] == 100
    ]
    assert seams and max(seams) < 1e-12
    assert np.ptp(vals) > 0.05  # the microstructure evolved


def test_initial_mu_is_the_chemical_potential_of_the_periodic_c():
    """PFHub 1a: the benchmark c(x) is not periodic, its copies take their mean, and
    mu0 is F'(c) of that periodic c: ``∫ mu r = ∫ f'(c) r + kappa grad c · grad r`` for
    every periodic r, i.e. ``Pᵀ b = 0`` for the residual vector b over all basis
    functions (P sums each set of copies). mu0 from the c(x) before the mean missed
    by as much as mu itself on the seams."""
    from dolfinx.fem.petsc import assemble_vector
    from petsc4py import PETSc

    from femgp.fem.periodic import PeriodicConstraint

    domain = square(MPI.COMM_WORLD, n=32, size=200.0).mesh
    p = ch.Params(periodic="xy")
    model = ch.CahnHilliard(domain, p, prefix="test_mu0_")
    model.set_initial(ch.pfhub_initial())
    assert model.constraint.mismatch(model.u) < 1e-14
    c, mu = model.u.sub(0).collapse(), model.u.sub(1).collapse()
    r = ufl.TestFunction(model.Q)
    dfdc = 2 * p.rho * (c - p.c_alpha) * (p.c_beta - c) * (p.c_alpha + p.c_beta - 2 * c)
    P = PeriodicConstraint(model.Q, "xy").P

    def reduced(form) -> np.ndarray:
        b = assemble_vector(fem.form(form))
        b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        br = P.createVecRight()
        P.multTranspose(b, br)
        return br.array.copy()

    res = reduced((mu * r - dfdc * r - p.kappa * ufl.inner(ufl.grad(c), ufl.grad(r))) * ufl.dx)
    scale = reduced(dfdc * r * ufl.dx)
    worst = MPI.COMM_WORLD.allreduce(float(np.abs(res).max(initial=0.0)), op=MPI.MAX)
    top = MPI.COMM_WORLD.allreduce(float(np.abs(scale).max(initial=0.0)), op=MPI.MAX)
    assert worst < 1e-10 * top, (worst, top)


def test_outputs_and_restart_with_periodic(tmp_path):
    """free_energy.csv is written, and a restarted periodic run continues the same history."""
    domain = square(MPI.COMM_WORLD, n=16, size=50.0).mesh
    params = ch.Params(dt=0.5, adaptive=False, periodic="xy")
    full = ch.run(domain, params, t_end=6.0, show_progress=False, prefix="test_prfull_")
    out = tmp_path / "run"
    ch.run(
        domain,
        params,
        t_end=3.0,
        output=out,
        checkpoint_every=2,
        show_progress=False,
        prefix="test_pr1_",
    )
    res = ch.run(
        domain,
        params,
        t_end=6.0,
        output=out,
        checkpoint_every=2,
        restart=True,
        show_progress=False,
        prefix="test_pr2_",
    )
    assert res.steps == full.steps == 12
    np.testing.assert_allclose(
        res.column("free_energy")[-1], full.column("free_energy")[-1], rtol=1e-10
    )
    with open(out / "free_energy.csv") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["time", "free_energy"]
    assert len(rows) == 12 + 2
    assert float(rows[-1][0]) == pytest.approx(6.0)


@pytest.mark.parametrize(
    "periodic, match",
    [("q", "directions among"), ("yx", "in order"), (("x",), "must be a string")],
)
def test_bad_periodic(periodic, match):
    with pytest.raises(InputError, match=match):
        ch.Params(periodic=periodic)


def test_periodic_on_tshape_refused():
    from femgp.fem.meshes.pfhub import tshape

    tm = tshape(MPI.COMM_WORLD, h=8.0)
    with pytest.raises(InputError, match="periodic in x: the mesh is not a box in x"):
        ch.CahnHilliard(tm.mesh, ch.Params(periodic="xy"), prefix="test_tsh_")
