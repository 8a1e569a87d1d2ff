"""Cahn-Hilliard verification: linear stability, mass, energy law, outputs, bad input."""

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


def _amplitude_form(domain, model, k, c_bar):
    x = ufl.SpatialCoordinate(domain)
    c = ufl.split(model.u)[0]
    num = fem.form((c - c_bar) * ufl.cos(k * x[0]) * ufl.dx)
    den = fem.form(ufl.cos(k * x[0]) ** 2 * ufl.dx(domain=domain))
    return num, den


@pytest.mark.parametrize(
    "mode, t_end, cells, rel",
    # k = 0.3 grows (omega = +0.279), k = 0.825 decays (omega = -1.91); measured errors
    # 1e-4 and 1.6e-3 (6e-3 on 480 cells): a 1% error in M, rho or kappa fails one of them
    [(8, 3.0, 480, 2e-3), (22, 1.0, 960, 5e-3)],
)
def test_linear_stability_growth_rate(mode, t_end, cells, rel):
    """Early growth of a single cosine mode matches omega(k) = -M k^2 (f'' + kappa k^2)."""
    L = 8 * math.pi / 0.3
    k = mode * math.pi / L
    c_bar, amp = 0.5, 1e-3
    domain = mesh.create_interval(MPI.COMM_WORLD, cells, [0.0, L])
    params = ch.Params(scheme="theta", theta=0.5, dt=0.02, adaptive=False)
    model = ch.CahnHilliard(domain, params, prefix="test_ls_")
    model.set_initial(lambda x: c_bar + amp * np.cos(k * x[0]))
    num, den = _amplitude_form(domain, model, k, c_bar)
    norm = scalar(den, domain.comm)
    times, amps = [0.0], [scalar(num, domain.comm) / norm]
    t, dt = 0.0, params.dt
    while t < t_end - 1e-12:
        model.step(dt)
        model.commit(dt)
        t += dt
        times.append(t)
        amps.append(scalar(num, domain.comm) / norm)
    measured = np.polyfit(times, np.log(np.abs(amps)), 1)[0]
    expected = PFHUB.growth_rate(k, c_bar)
    assert (expected > 0) == (mode == 8)
    assert measured == pytest.approx(expected, rel=rel), (measured, expected)


@pytest.fixture(scope="module")
def small_square():
    return square(MPI.COMM_WORLD, n=32, size=100.0).mesh


def _hand_residual(model, degree):
    """The theta = 1/2 residual written out by hand (the DOLFINx demo's form)."""
    p = model.params
    c, mu = ufl.split(model.u)
    c0, mu0 = ufl.split(model.u0)
    q, v = ufl.TestFunctions(model.V)
    dx = ufl.dx(domain=model.mesh, metadata={"quadrature_degree": degree})
    cv = ufl.variable(c)
    dfdc = ufl.diff(p.rho * (cv - p.c_alpha) ** 2 * (p.c_beta - cv) ** 2, cv)
    mu_mid = 0.5 * (mu + mu0)
    R = (
        (c - c0) / model.dt * q
        + p.mobility * ufl.inner(ufl.grad(mu_mid), ufl.grad(q))
        + (mu - dfdc) * v
        - p.kappa * ufl.inner(ufl.grad(c), ufl.grad(v))
    ) * dx
    return fem.assemble_vector(fem.form(R)).array


@pytest.mark.parametrize("cell", ["quadrilateral", "triangle"])
def test_quadrature_degree_is_exact_on_affine_cells(cell):
    """QUADRATURE_DEGREE integrates the residual exactly: it equals a degree-10 rule.

    The quartic well makes ``f'(c) v`` a degree-4 polynomial (per direction on
    quadrilaterals); a degree-2 rule (control) misses it.
    """
    domain = mesh.create_rectangle(
        MPI.COMM_WORLD, [[0.0, 0.0], [30.0, 20.0]], [12, 8], getattr(mesh.CellType, cell)
    )
    model = ch.CahnHilliard(domain, ch.Params(), prefix=f"test_quad_{cell}_")
    model.set_initial(lambda x: 0.5 + 0.2 * np.sin(0.4 * x[0]) * np.cos(0.3 * x[1]))
    model.u.x.array[model._cmap] += 0.05 * np.cos(0.2 * model.Q.tabulate_dof_coordinates()[:, 0])
    model.dt.value = 3.0
    x = model.u.x.petsc_vec
    b = x.duplicate()
    model.problem.snes.computeFunction(x, b)
    n = b.getLocalSize()
    exact = _hand_residual(model, 10)[:n]
    scale = np.abs(exact).max()
    assert np.abs(b.array - exact).max() < 1e-12 * scale
    assert np.abs(_hand_residual(model, 2)[:n] - exact).max() > 1e-6 * scale


@pytest.mark.parametrize("scheme", ["eyre", "theta"])
def test_mass_conserved(small_square, scheme):
    params = ch.Params(scheme=scheme, dt=0.5)
    res = ch.run(small_square, params, t_end=40.0, show_progress=False)
    mass = res.column("mass")
    assert res.steps > 5
    assert np.max(np.abs(mass - mass[0])) / abs(mass[0]) < 1e-10


def test_eyre_energy_non_increasing_at_large_steps(small_square):
    """The convex-concave splitting is energy-stable for any step: F(t_{n+1}) <= F(t_n)."""
    params = ch.Params(scheme="eyre", dt=50.0, adaptive=False)
    res = ch.run(small_square, params, t_end=1000.0, show_progress=False)
    F = res.column("free_energy")
    assert res.steps == 20
    assert F[-1] < 0.5 * F[0], "the microstructure did not evolve"
    increases = np.diff(F) / np.abs(F[:-1])
    assert increases.max() <= 1e-12, f"energy increased by {increases.max():.2e}"


def test_adaptive_theta_matches_fine_fixed_steps(small_square):
    """The error-controlled theta scheme follows a fine fixed-step run in F(t)."""
    times = [5.0, 20.0, 60.0]
    fine = ch.run(
        small_square, ch.Params(scheme="theta", dt=0.1, adaptive=False), t_end=60.0,
        field_times=times, show_progress=False,
    )
    adapt = ch.run(
        small_square, ch.Params(scheme="theta"), t_end=60.0, field_times=times,
        show_progress=False,
    )
    assert adapt.steps < fine.steps / 3

    def at(res, t):
        i = int(np.argmin(np.abs(res.column("time") - t)))
        assert res.column("time")[i] == pytest.approx(t)
        return res.column("free_energy")[i]

    for t in times:
        assert at(adapt, t) == pytest.approx(at(fine, t), rel=5e-3)


def test_outputs_and_refusal_to_overwrite(small_square, tmp_path):
    out = tmp_path / "run"
    res = ch.run(small_square, ch.Params(), t_end=2.0, output=out, show_progress=False)
    with open(out / "free_energy.csv") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["time", "free_energy"]
    assert len(rows) == res.steps + 2
    assert (out / "fields.xdmf").exists() and (out / "fields.h5").exists()
    assert (out / "run.json").exists() and (out / "history.csv").exists()
    before = (out / "history.csv").read_bytes()
    with pytest.raises(InputError, match="already holds results"):
        ch.run(small_square, ch.Params(), t_end=2.0, output=out, show_progress=False)
    assert (out / "history.csv").read_bytes() == before


def _midpoint_integral(f, x0, x1, y0, y1, n=1000):
    """∫ f over the rectangle [x0, x1] x [y0, y1] by the n x n midpoint rule."""
    xs = x0 + (np.arange(n) + 0.5) * (x1 - x0) / n
    ys = y0 + (np.arange(n) + 0.5) * (y1 - y0) / n
    X, Y = np.meshgrid(xs, ys)
    return float(f(np.array([X.ravel(), Y.ravel()])).mean()) * (x1 - x0) * (y1 - y0)


def test_tshape_runs_and_conserves_mass():
    """PFHub 1c: the T (stem [0, 20] x [0, 100], bar [-40, 60] x [100, 120]) has area
    4000, and its initial mass is the integral of the benchmark c(x) over it (measured
    within 4e-5 at h = 4; 0.5 x area is 0.4% off, the size of a 1% error in the T)."""
    from femgp.fem.meshes.pfhub import tshape

    tm = tshape(MPI.COMM_WORLD, h=4.0)
    area = scalar(fem.form(fem.Constant(tm.mesh, 1.0) * ufl.dx), tm.mesh.comm)
    assert area == pytest.approx(20 * 100 + 100 * 20, rel=1e-12)
    res = ch.run(tm.mesh, ch.Params(), t_end=5.0, show_progress=False)
    mass = res.column("mass")
    c0 = ch.pfhub_initial()
    exact = _midpoint_integral(c0, 0, 20, 0, 100) + _midpoint_integral(c0, -40, 60, 100, 120)
    assert mass[0] == pytest.approx(exact, rel=2e-4)
    assert abs(mass[-1] - mass[0]) / mass[0] < 1e-10


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"kappa": 0.0}, "kappa must be > 0"),
        ({"mobility": -1.0}, "mobility must be > 0"),
        ({"scheme": "rk4"}, "allowed: 'eyre', 'theta'"),
        ({"theta": 0.2}, "theta must be in"),
        ({"c_alpha": 0.8}, "c_alpha < c_beta"),
        ({"dt": float("inf")}, "dt must be finite"),
        ({"max_dc": -0.1}, "max_dc must be >= 0"),
    ],
)
def test_bad_parameters(kwargs, match):
    with pytest.raises(InputError, match=match):
        ch.Params(**kwargs)


def test_bad_final_time(small_square):
    with pytest.raises(InputError, match="t_end must be > 0"):
        ch.run(small_square, ch.Params(), t_end=0.0, show_progress=False)
