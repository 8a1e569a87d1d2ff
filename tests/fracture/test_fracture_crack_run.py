"""Unstable crack runs solved on a coarser mesh (``femgp.models.fracture.crack_run``).

SENT at the literature resolution of the benchmark (ell = 0.015 mm, h = ell / 4)
on a short load path whose fine steps (1e-5 mm) end in the step in which the
plate breaks, run with and without its crack-run mesh (twice the band's cell
size). Before the breaking step the two runs are the same computation; in it,
the run with the coarse mesh needs 71 fine AM iterations instead of 186 and ends
in the same broken state (dissipated energy 0.22 % apart: tolerance 0.75 %).

The controls: without the crack-run mesh nothing runs on it; at ell = 0.02 mm
with steps of 2e-4 mm the crack has run 60 % of the ligament when the step
turns to the coarse mesh, the coarse crack arrests, and its state is higher in
energy on the fine mesh than the iterate it started from, so it is not used and
the run is the one without the crack run (to rounding); a coarse solve that
fails leaves the step to the fine mesh alone in the same way.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from mpi4py import MPI

from femgp.errors import InputError, SolverError
from femgp.fem.meshes.core import TaggedMesh
from femgp.models.fracture import FractureModel, Params, run
from femgp.models.fracture.crack_run import CrackRun, coarse_toughness
from femgp.models.fracture.setups import bar, notched_tension

#: To 5 mm by 1 mm, to 5.5 mm by 0.1 mm, then by 0.01 mm: the plate breaks at 5.54e-3 mm.
BREAKING_PATH = (
    *np.arange(1e-3, 5.01e-3, 1e-3),
    *np.arange(5.1e-3, 5.51e-3, 1e-4),
    *np.arange(5.51e-3, 5.6e-3, 1e-5),
)
#: ell = 0.02 mm: to 5 mm by 1 mm, then by 0.2 mm: the plate breaks at 5.8e-3 mm.
COARSE_PATH = (*np.arange(1e-3, 5.01e-3, 1e-3), *np.arange(5.2e-3, 6.01e-3, 2e-4))


def _sent(ell, h_band, h_far, loads):
    loads = tuple(float(v) for v in loads)
    return notched_tension(MPI.COMM_SELF, ell=ell, h_band=h_band, h_far=h_far, loads=loads)


def _both(s):
    """The run without the crack-run mesh, then the run with it."""
    assert s.crack_run_mesh is not None
    off = run(s.mesh, replace(s.params, crack_run=False), s.loading, show_progress=False)
    on = run(s.mesh, s.params, s.loading, show_progress=False, prefix="cr_", **s.run_options)
    return off, on


@pytest.fixture(scope="module")
def breaking():
    return _both(_sent(0.015, 0.015 / 4, 0.02, BREAKING_PATH))


@pytest.fixture(scope="module")
def arrested():
    s = _sent(0.02, 0.005, 0.05, COARSE_PATH)
    return (s, *_both(s))


def test_coarse_toughness_is_the_ratio_of_effective_toughnesses():
    """``Gc (1 + h / (c_w ell))`` on both meshes: c_w = 2 (AT2) and 8/3 (AT1)."""
    h, H = 0.1, 0.25
    at2 = Params(model="AT2", Gc=3.0, ell=0.5)
    assert coarse_toughness(at2, h, H) == pytest.approx(3.0 * (1 + h) / (1 + H), rel=1e-14)
    at1 = Params(model="AT1", Gc=3.0, ell=0.5)
    expected = 3.0 * (1 + 3 * h / 4) / (1 + 3 * H / 4)
    assert coarse_toughness(at1, h, H) == pytest.approx(expected, rel=1e-14)
    assert coarse_toughness(at1, h, h) == 3.0


def test_the_breaking_step_runs_on_the_coarse_mesh(breaking):
    off, on = breaking
    am_off, am = off.column("am_iterations"), on.column("am_iterations")
    k = int(np.argmax(am_off))  # the breaking step
    assert am_off[k] > 150
    assert np.flatnonzero(on.column("am_coarse")).tolist() == [k]
    assert off.column("am_coarse").max() == 0 and off.am_coarse == 0
    assert on.am_coarse == on.column("am_coarse")[k] > 0
    # before the breaking step the two runs are the same computation (to rounding)
    np.testing.assert_allclose(on.column("reaction")[:k], off.column("reaction")[:k], rtol=1e-10)
    # the fine mesh's AM iterations of the step: fewer than half (measured 71 / 186)
    assert am[k] < 0.5 * am_off[k], (am[k], am_off[k])
    # the same broken state: peak force, dissipated energy, the plate broken
    assert on.peak_reaction == off.peak_reaction
    surface, surface_off = on.column("surface")[-1], off.column("surface")[-1]
    assert surface == pytest.approx(surface_off, rel=7.5e-3)
    assert on.column("reaction")[-1] < 0.05 * on.peak_reaction


def test_a_coarse_state_higher_in_energy_is_not_used(arrested):
    _, off, on = arrested
    k = int(np.argmax(off.column("am_iterations")))
    assert np.flatnonzero(on.column("am_coarse")).tolist() == [k]
    for name in ("am_iterations", "newton_u", "newton_alpha"):
        np.testing.assert_array_equal(on.column(name), off.column(name), err_msg=name)
    for name in ("reaction", "surface", "elastic"):  # the same computation, to rounding
        np.testing.assert_allclose(on.column(name), off.column(name), rtol=1e-10, err_msg=name)


def test_a_failed_coarse_solve_leaves_the_step_to_the_fine_mesh(arrested):
    s, off, _ = arrested
    model = FractureModel(
        s.mesh, s.params, s.loading, prefix="fail_", crack_run_mesh=s.crack_run_mesh
    )
    coarse = model.crack_run.coarse_model(model)

    def fail(*args, **kwargs):
        raise SolverError("no convergence (test)")

    coarse.solve_step = fail
    k = int(np.argmax(off.column("am_iterations")))
    for i, t in enumerate(s.loading.loads[:k], start=1):
        stats = model.solve_step(t, step=i)
        model.commit()
    assert stats.coarse is None and stats.am_iterations == off.column("am_iterations")[k]
    assert model.reaction() == pytest.approx(off.column("reaction")[k], rel=1e-10)
    assert model.energies()["surface"] == pytest.approx(off.column("surface")[k], rel=1e-10)


def test_crack_run_mesh_must_fit_the_model():
    s = _sent(0.06, 0.03, 0.1, (1e-3,))
    no_groups = TaggedMesh(bar(MPI.COMM_SELF, h=0.1, steps=2).mesh.mesh)
    with pytest.raises(InputError, match="crack-run mesh"):
        FractureModel(s.mesh, s.params, s.loading, prefix="bad_", crack_run_mesh=no_groups)
    with pytest.raises(InputError, match="crack_run"):
        Params(crack_run="yes")
    # no coupled solver (AM only) or switched off: nothing is built
    for params in (replace(s.params, solver="am"), replace(s.params, crack_run=False)):
        m = FractureModel(s.mesh, params, s.loading, prefix="off_", crack_run_mesh=s.mesh)
        assert m.crack_run is None
    m = FractureModel(s.mesh, s.params, s.loading, prefix="on_", crack_run_mesh=s.crack_run_mesh)
    assert isinstance(m.crack_run, CrackRun)
