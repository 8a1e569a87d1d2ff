"""A prototype of adaptive fracture without the driver: the AT1 bar refines where damage appears.

The bar of tests/fracture/test_fracture_bar.py (``E = 1``, ``nu = 0``,
``Gc = 1``, ``ell = 0.1``, damage held at 0 at both ends) starts on a coarse
triangle mesh (cells 0.2 long, 2 ell) and is refined during the load path by
:func:`femgp.fem.adapt.adapt`: after each trial solve, the cells where the
damage passed the threshold (plus a zone of ell around them) are refined to
``h <= ell/4``, the committed state (u, alpha and its bound) is transferred
to the new mesh, and the step is solved again from it. This is what the
stepping driver will do; the test keeps the loop in a few lines.

Checked: the peak stress against the analytic AT1 critical stress (0.2 %), the
dissipated energy against ``Gc_eff(h) × height`` with the refined ``h``
(1.5 %), the damage never decreasing (at every node, across the refinements),
and the far field keeping its coarse cells.
"""

from __future__ import annotations

import math

import femgp.fem._backend  # noqa: F401  (dolfinx_solver before dolfinx)

import numpy as np
import pytest
from dolfinx import fem
from mpi4py import MPI

from femgp.fem.adapt import (
    Indicator,
    Refinement,
    adapt,
    collect_garbage,
    mark_cells,
    mesh_sizes,
    num_cells,
    transfer_function,
)
from femgp.fem.meshes.fracture import bar as bar_mesh
from femgp.models.fracture import FractureModel
from femgp.models.fracture.setups import bar

HEIGHT = 0.02
ELL = 0.1
H_COARSE = 0.2
H_FINE = math.sqrt(ELL / 4 * HEIGHT / 8) * (1 + 1e-9)  # size of the ell/4 x height/8 cells
ZONE = ELL


def _loads(u_c: float) -> list[float]:
    """Coarse steps to 0.9 u_c, 0.7 % steps (not aligned with u_c) past the peak, then coarse."""
    fine = [u_c * (0.9 + 0.0071 * k) for k in range(1, 21)]
    return [0.3 * u_c, 0.6 * u_c, 0.9 * u_c, *fine, *(u_c * v for v in (1.1, 1.25, 1.4, 1.6))]


def _rebuild(old: FractureModel, res, load: float) -> FractureModel:
    """A model on the refined mesh holding the transferred committed state at ``load``."""
    new = FractureModel(res.mesh, old.params, old.loading)
    for name in ("u", "alpha", "alpha_lb"):
        getattr(new, name).interpolate(res.fields[name])  # same mesh and element: a copy
    new.set_load(load)
    new.commit()
    return new


def _adaptive_run(comm, *, refine: bool = True):
    # Alternate minimisation: the prototype re-solves a step after refining, which
    # the driver wiring will extend to the Newton solver (not verified yet).
    s = bar(
        comm,
        model="AT1",
        h=H_COARSE,
        height=HEIGHT,
        clamp_damage=True,
        predictor=False,
        solver="am",
    )
    u_c = s.params.crack.critical_strain(s.info["E_eff"]) * 1.0
    tm = bar_mesh(comm, length=1.0, height=HEIGHT, h=H_COARSE, quadrilateral=False)
    # h is the size (2 |K|)^(1/2) of adapt.cell_sizes: ell/4 x height/8 right triangles
    refinement = Refinement(adapt=refine, h_min=H_FINE, threshold=0.01, zone=ZONE)
    refinement.check_mesh(tm.mesh)
    model = FractureModel(tm, s.params, s.loading)
    stress, surface, elastic = [], [], []
    committed = 0.0
    decreases = []
    refinements = 0
    for t in _loads(u_c):
        for _ in range(4):  # solve, refine where the trial damage is, re-solve
            model.solve_step(t)
            trial = model.alpha.copy()
            model.rollback()
            res = adapt(
                model.tm,
                {"u": model.u, "alpha": model.alpha, "alpha_lb": model.alpha_lb},
                [Indicator(trial, refinement.threshold, "damage")],
                refinement,
                ell=ELL,
                lower_bounds={"alpha": "alpha_lb"},
            )
            del trial
            if not res.refined:
                del res
                collect_garbage(model.comm)  # what adapt left, on all ranks together
                model.solve_step(t)  # the rollback undid the trial: solve again on this mesh
                break
            refinements += 1
            model = _rebuild(model, res, committed)
            collect_garbage(model.comm)  # the old model, on all ranks together
        before = model.alpha_lb.x.array.copy()
        model.commit()
        committed = t
        decreases.append(float(np.min(model.alpha.x.array - before)))
        stress.append(model.reaction() / HEIGHT)
        e = model.energies()
        surface.append(e["surface"])
        elastic.append(e["elastic"])
    return s, model, np.array(stress), np.array(surface), np.array(elastic), decreases, refinements


@pytest.fixture(scope="module")
def adaptive():
    return _adaptive_run(MPI.COMM_SELF)


def test_adaptive_bar_refines_only_around_the_crack(adaptive):
    _, model, *_, refinements = adaptive
    h_min, h_max = mesh_sizes(model.mesh)
    assert refinements >= 1
    assert h_min <= H_FINE  # ell/4 long cells where the crack is
    assert h_max >= 4 * h_min  # the ends stay coarse (the closure halves their cells once)
    # uniform refinement to ell/4 would make 10 * 4**3 = 640 cells
    assert num_cells(model.mesh) < 0.75 * 640
    # the damaged zone is resolved: nodes every ell/4 where alpha > 0.01
    x = model.Q.tabulate_dof_coordinates()[:, 0]
    xs = np.unique(np.round(x[model.alpha.x.array > 0.01], 12))
    assert np.diff(xs).max() <= ELL / 4 * (1 + 1e-9)
    assert model.max_damage() > 0.99


def test_adaptive_bar_peaks_at_the_at1_critical_stress(adaptive):
    s, _, stress, *_ = adaptive
    sigma_c = s.params.crack.critical_stress(s.info["E_eff"])
    # measured -6.0e-4: the last load below u_c is 0.9994 u_c (AT1 is elastic up to
    # sigma_c); the peak one fine load (0.71 %) early fails
    assert abs(stress.max() / sigma_c - 1) < 2e-3, (stress.max(), sigma_c)


def test_adaptive_bar_dissipates_gc_eff_times_height(adaptive):
    s, _, stress, surface, elastic, *_ = adaptive
    h = ELL / 4  # the element length across the crack after refinement
    gc_eff = s.params.crack.gc_eff(h)
    # measured -0.43 % (one element broken at the middle node)
    assert abs(surface[-1] / (gc_eff * HEIGHT) - 1) < 0.015, (surface[-1], gc_eff * HEIGHT)
    assert elastic[-1] < 1e-2 * surface[-1]
    assert abs(stress[-1]) < 1e-2 * stress.max()


def test_control_without_refinement_misses_the_energy():
    """The same loop on the coarse mesh alone dissipates far more than Gc_eff(ell/4) × height."""
    s, model, _, surface, *_ = _adaptive_run(MPI.COMM_SELF, refine=False)
    assert num_cells(model.mesh) == 10
    gc_eff = s.params.crack.gc_eff(ELL / 4)
    assert surface[-1] / (gc_eff * HEIGHT) - 1 > 0.2, surface[-1] / (gc_eff * HEIGHT)


def test_adaptive_bar_damage_never_decreases(adaptive):
    *_, decreases, _ = adaptive
    assert min(decreases) >= -1e-12, min(decreases)


def test_transferred_damage_is_the_committed_damage():
    """The transfer inside the loop is exact: the coarse damage is recovered at its nodes."""
    s = bar(MPI.COMM_SELF, model="AT1", h=H_COARSE, height=HEIGHT, clamp_damage=True, solver="am")
    tm = bar_mesh(MPI.COMM_SELF, length=1.0, height=HEIGHT, h=H_COARSE, quadrilateral=False)
    model = FractureModel(tm, s.params, s.loading)
    model.alpha.interpolate(lambda x: np.maximum(0.0, 1 - np.abs(x[0] - 0.5) / 0.2))
    model.commit()
    res = adapt(
        model.tm,
        {"alpha": model.alpha, "alpha_lb": model.alpha_lb},
        [Indicator(model.alpha, 0.01)],
        Refinement(adapt=True),
        ell=ELL,
        lower_bounds={"alpha": "alpha_lb"},
    )
    assert res.refined
    back = transfer_function(res.fields["alpha"], tm.mesh)
    assert np.abs(back.x.array - model.alpha.x.array).max() < 1e-13
    assert isinstance(res.fields["alpha"], fem.Function)


def test_resolve_after_a_failed_coupled_solve_is_alternate_minimisation():
    """A step whose coupled Newton solve failed is solved again on the refined mesh by
    alternate minimisation alone (``Adaptivity`` passes ``newton_failed`` on); the
    model of a step whose Newton solve did not fail keeps the coupled solver (control).
    """
    from femgp.models.fracture.adaptive import Adaptivity

    s = bar(MPI.COMM_SELF, model="AT1", h=H_COARSE, height=HEIGHT, clamp_damage=True)
    assert s.params.solver == "newton"
    tm = bar_mesh(MPI.COMM_SELF, length=1.0, height=HEIGHT, h=H_COARSE, quadrilateral=False)
    refinement = Refinement(adapt=True, h_min=H_FINE, threshold=0.01, zone=ZONE, driving_ratio=0)
    u_c = s.params.crack.critical_strain(s.info["E_eff"])
    solved = {}
    for failed in (True, False):
        model = FractureModel(tm, s.params, s.loading)
        model.alpha.interpolate(lambda x: 0.5 * np.maximum(0.0, 1 - np.abs(x[0] - 0.5) / 0.3))
        model.newton_failed = failed  # as after a failed coupled solve of this step
        ada = Adaptivity(refinement, lambda m, **kw: FractureModel(m, s.params, s.loading))
        new = ada.refine(model)
        assert new is not None
        stats = new.solve_step(0.5 * u_c)
        solved[failed] = (stats.coupled is None, new.newton_failed)
        # the model's own next step uses its solver again
        assert new.solve_step(0.5 * u_c).coupled is not None
        del model, new, ada
        collect_garbage(MPI.COMM_SELF)
    assert solved[True] == (True, True)  # AM alone; the step's failure is kept
    assert solved[False] == (False, False)  # control: the coupled solver


def test_initial_damage_is_rebuilt_sharp_on_the_refined_mesh():
    """Before the first step the refined model takes the initial damage from its function
    (exact at every new node), not the coarse interpolant; control: without the function
    the coarse interpolant is transferred, off by far more at the new nodes."""
    from femgp.models.fracture.adaptive import Adaptivity

    s = bar(MPI.COMM_SELF, model="AT1", h=H_COARSE, height=HEIGHT, clamp_damage=True, solver="am")
    tm = bar_mesh(MPI.COMM_SELF, length=1.0, height=HEIGHT, h=H_COARSE, quadrilateral=False)

    def crack(x):
        return np.maximum(0.0, 1 - np.abs(x[0] - 0.5) / 0.15) ** 2  # curved between nodes

    def build(m, **kw):
        return FractureModel(m, s.params, s.loading, **kw)

    refinement = Refinement(adapt=True, h_min=H_FINE, threshold=0.01, zone=ZONE, driving_ratio=0)
    model = build(tm, initial_damage=crack)
    model.set_load(0.0)
    errors = []
    for initial in (crack, None):
        new = Adaptivity(refinement, build, initial).refine(model)
        assert new is not None and num_cells(new.mesh) > num_cells(tm.mesh)
        exact = fem.Function(new.alpha.function_space)
        exact.interpolate(crack)
        errors.append(np.abs(new.alpha.x.array - exact.x.array).max())
        del new
        collect_garbage(MPI.COMM_SELF)
    assert errors[0] < 1e-14, errors
    # the control: the coarse interpolant, 1/9 at the peak x = 0.5 between the nodes
    assert errors[1] == pytest.approx(8 / 9, rel=1e-12), errors


@pytest.mark.mpi
@pytest.mark.slow
def test_adaptive_bar_same_on_all_ranks():
    """The adaptive loop on COMM_WORLD (2 ranks) and COMM_SELF: same meshes and history.

    Slow until an intermittent 2-rank hang is understood: without collecting
    garbage on all ranks together the loop hung in 2 of 4 runs, with it only
    after a model is dropped in 2 of 8, with it after every adapt call in 0 of 5
    (see docs/adaptivity.md).
    """
    (_, m_w, s_w, e_w, _, d_w, r_w), (_, m_s, s_s, e_s, _, _, r_s) = (
        _adaptive_run(MPI.COMM_WORLD),
        _adaptive_run(MPI.COMM_SELF),
    )
    assert r_w == r_s and num_cells(m_w.mesh) == num_cells(m_s.mesh)
    np.testing.assert_allclose(s_w, s_s, rtol=0, atol=1e-5 * np.abs(s_s).max())
    np.testing.assert_allclose(e_w, e_s, rtol=0, atol=1e-5 * np.abs(e_s).max())
    assert min(d_w) >= -1e-12


def test_at2_threshold_is_the_homogeneous_damage_at_the_peak():
    """AT2's default marking threshold is where its homogeneous branch peaks (damage 1/4).

    The 1D homogeneous AT2 state minimises ``(1 - a)^2 E eps^2 / 2 + Gc a^2 / (2 ell)``:
    ``a = E eps^2 / (E eps^2 + Gc / ell)``, stress ``(1 - a)^2 E eps``. Below its peak the
    damage is diffuse (it spreads over a whole loaded ligament); above it, it localises.
    """
    from femgp.models.fracture.adaptive import DAMAGE_THRESHOLDS

    s = bar(MPI.COMM_SELF, model="AT2", h=0.2, height=0.02)
    E, gc, ell = 1.0, s.params.Gc, s.params.ell
    eps = np.linspace(0.0, 10 * math.sqrt(gc / (E * ell)), 200_001)
    a = E * eps**2 / (E * eps**2 + gc / ell)
    stress = (1 - a) ** 2 * E * eps
    k = int(np.argmax(stress))
    assert stress[k] == pytest.approx(s.params.crack.critical_stress(E), rel=1e-6)
    assert a[k] == pytest.approx(0.25, abs=1e-4)
    assert DAMAGE_THRESHOLDS["AT2"] == pytest.approx(a[k], abs=1e-3)


@pytest.mark.parametrize("split", ["none", "spectral"])
def test_driving_force_indicator_marks_from_the_critical_energy(split):
    """The driving-force indicator marks where ``psi_+`` reaches ``driving_ratio * psi_c``.

    A homogeneous uniaxial strain ``eps`` along the bar (``nu = 0``, so ``psi_+ = E eps^2 / 2``
    with either split) 0.1 % above the strain where ``psi_+ = 0.9 psi_c`` marks every
    cell, 0.1 % below it none; compression (the control) marks none with the spectral
    split, whose ``psi_+`` of a compressed bar is zero, and all without a split.
    """
    comm = MPI.COMM_WORLD
    s = bar(comm, model="AT2", h=0.2, height=HEIGHT, split=split, quadrilateral=False)
    model = FractureModel(s.mesh, s.params, s.loading)
    ratio = 0.9
    eps = math.sqrt(2 * ratio * s.params.crack.critical_energy() / s.params.E)
    n = num_cells(model.mesh)
    cases = [(1.001, 1, n), (0.999, 1, 0), (1.1, -1, n if split == "none" else 0)]
    for factor, compress, want in cases:
        e = compress * factor * eps
        model.u.interpolate(lambda x, e=e: np.vstack([e * x[0], 0 * x[1]]))
        marked = mark_cells(model.mesh, [Indicator(model.driving_force_ratio(), ratio)])
        assert comm.allreduce(len(marked)) == want, (factor, compress)


def _box(comm, dim: int):
    """The unit square (2 x 2 squares) or cube (one cube) with its facets at x = 0 as "left"."""
    from dolfinx import mesh as dmesh

    from femgp.fem.meshes.core import TaggedMesh

    if dim == 2:
        msh = dmesh.create_unit_square(comm, 2, 2)
    else:
        msh = dmesh.create_unit_cube(comm, 1, 1, 1)
    fdim = dim - 1
    msh.topology.create_entities(fdim)
    facets = dmesh.locate_entities_boundary(msh, fdim, lambda x: np.isclose(x[0], 0.0))
    tags = dmesh.meshtags(msh, fdim, np.sort(facets).astype(np.int32), np.ones_like(facets))
    return TaggedMesh(msh, None, tags, {"left": (fdim, 1)})


@pytest.mark.parametrize(
    "model, split, elastic_model",
    [
        ("AT1", "none", "plane_strain"),
        ("AT1", "spectral", "3d"),
        ("AT2", "voldev", "plane_strain"),
        ("AT2", "spectral", "3d"),
    ],
)
def test_critical_driving_force_is_where_the_model_energy_starts_to_damage(
    model, split, elastic_model
):
    """``driving_force_ratio() = 1`` is where the model's own energy is stationary in the
    damage: at ``alpha = 0`` for AT1 (the damage starts), ``alpha = 1/4`` for AT2 (the
    homogeneous peak), for a general homogeneous strain (not uniaxial, ``nu = 0.3``).

    ``dE/dalpha`` at constant ``alpha`` (the gradient term vanishes) is assembled from
    ``FractureModel.energy_ufl``; measured at most 4.5e-16 of ``Gc / (c_w ell)`` over
    these cases and the other splits and models. Control: 0.1 % above / below the
    critical ratio the derivative is negative / positive (1e-3 of ``Gc / (c_w ell)``
    for AT1, 5e-4 for AT2).
    """
    import ufl

    from femgp.fem.forms import scalar
    from femgp.models.fracture.params import DisplacementBC, Loading, Params

    comm = MPI.COMM_SELF
    dim = 3 if elastic_model == "3d" else 2
    tm = _box(comm, dim)
    p = Params(
        model=model, split=split, elastic_model=elastic_model, E=2.0, nu=0.3, Gc=1.5, ell=0.1
    )
    loading = Loading(bcs=(DisplacementBC("left", 0, 0.0),), loads=(1.0,))
    m = FractureModel(tm, p, loading, warn_resolution=False)
    G = np.random.default_rng(1).normal(size=(dim, dim))
    G = G + G.T + 2 * np.eye(dim)  # a general strain, mostly tensile
    m.alpha.x.array[:] = 0.0 if model == "AT1" else 0.25
    ratio = fem.form(m.driving_force_ratio() * ufl.dx)  # the unit box: its mean
    q = ufl.TestFunction(m.Q)
    dE = fem.form(ufl.replace(ufl.derivative(m.energy_ufl, m.alpha, q), {q: 1.0}))
    k = p.Gc / (p.crack.c_w * p.ell)
    m.u.interpolate(lambda x: G @ x[:dim])
    scale = 1 / math.sqrt(scalar(ratio, comm))
    slopes = {}
    for r in (1.0, 1.001, 0.999):
        s = scale * math.sqrt(r)
        m.u.interpolate(lambda x, s=s: s * (G @ x[:dim]))
        assert scalar(ratio, comm) == pytest.approx(r, rel=1e-13)
        slopes[r] = scalar(dE, comm) / k
    assert abs(slopes[1.0]) < 2e-15, slopes
    assert slopes[1.001] < -2.5e-4 and slopes[0.999] > 2.5e-4, slopes
