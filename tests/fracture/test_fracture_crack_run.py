"""Unstable crack runs solved on a coarser mesh (``femgp.models.fracture.crack_run``).

SENT at the literature resolution of the benchmark (ell = 0.015 mm, h = ell / 4)
on a short load path whose fine steps (1e-5 mm) end in the step in which the
plate breaks, run with and without its crack-run mesh (twice the band's cell
size). Before the breaking step the two runs are the same computation; in it,
the run with the coarse mesh needs 71 fine AM iterations instead of 186 and ends
in the same broken state (dissipated energy 0.22 % apart: tolerance 0.75 %).
Without the crack-run mesh nothing runs on it. The cases in which the coarse
state is not used are in ``test_fracture_crack_run_refused.py`` (a file of its
own, so that the two slow fixtures run on different test workers).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from mpi4py import MPI

from femgp.errors import InputError
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
