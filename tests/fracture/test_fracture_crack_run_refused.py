"""Crack runs on a coarser mesh whose state is not used (``femgp.models.fracture.crack_run``).

At ell = 0.02 mm with steps of 2e-4 mm the SENT crack has run 60 % of the
ligament when the breaking step turns to the coarse mesh; the coarse crack
arrests, and its state is higher in energy on the fine mesh than the iterate it
started from, so it is not used and the run is the one without the crack run
(to rounding). A coarse solve that fails leaves the step to the fine mesh alone
in the same way.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from mpi4py import MPI

from femgp.errors import SolverError
from femgp.models.fracture import FractureModel, run
from femgp.models.fracture.setups import notched_tension

#: ell = 0.02 mm: to 5 mm by 1 mm, then by 0.2 mm: the plate breaks at 5.8e-3 mm.
COARSE_PATH = (*np.arange(1e-3, 5.01e-3, 1e-3), *np.arange(5.2e-3, 6.01e-3, 2e-4))


def _sent(ell, h_band, h_far, loads):
    loads = tuple(float(v) for v in loads)
    return notched_tension(MPI.COMM_SELF, ell=ell, h_band=h_band, h_far=h_far, loads=loads)


@pytest.fixture(scope="module")
def arrested():
    s = _sent(0.02, 0.005, 0.05, COARSE_PATH)
    assert s.crack_run_mesh is not None
    off = run(s.mesh, replace(s.params, crack_run=False), s.loading, show_progress=False)
    on = run(s.mesh, s.params, s.loading, show_progress=False, prefix="cr_", **s.run_options)
    return s, off, on


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
