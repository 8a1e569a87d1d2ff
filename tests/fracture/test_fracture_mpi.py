"""The same results on 1 and N ranks (run by ``make test`` under ``mpirun -n 2``).

Each case runs on ``COMM_WORLD`` and on ``COMM_SELF`` in the same process and
compares the histories: reaction forces and energies to a relative 1e-5 of
their largest value (the iterative solvers converge to 1e-8), and the largest
damage of every step (a max over the ranks) the same way.
"""

from __future__ import annotations

import numpy as np
import pytest
from mpi4py import MPI

from femgp.models.fracture import run
from femgp.models.fracture.params import SOLVERS
from femgp.models.fracture.setups import bar, notched_tension

pytestmark = pytest.mark.mpi

COLUMNS = ("reaction", "elastic", "surface", "total", "max_damage")


def _compare(res_world, res_self) -> None:
    assert res_world.steps == res_self.steps
    np.testing.assert_allclose(res_world.column("load"), res_self.column("load"), rtol=1e-12)
    for name in COLUMNS:
        a, b = res_world.column(name), res_self.column(name)
        scale = max(np.abs(b).max(), 1e-300)
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-5 * scale, err_msg=name)


@pytest.mark.parametrize("solver", SOLVERS)
def test_bar_localisation_same_on_all_ranks(solver):
    """AT1 bar with clamped damage: elastic phase, localisation and the broken bar."""
    runs = []
    for comm in (MPI.COMM_WORLD, MPI.COMM_SELF):
        s = bar(
            comm,
            model="AT1",
            h=1 / 101,
            height=0.02,
            clamp_damage=True,
            load_max=1.6,
            steps=16,
            solver=solver,
        )
        runs.append(run(s.mesh, s.params, s.loading, show_progress=False))
    _compare(*runs)
    assert runs[0].column("max_damage")[-1] > 0.99


@pytest.mark.parametrize("solver", SOLVERS)
def test_sent_same_on_all_ranks(solver):
    """A coarse SENT (AT2, spectral split, gmsh mesh) through crack propagation."""
    loads = tuple(float(v) for v in np.arange(1e-3, 9.01e-3, 1e-3))
    runs = []
    for comm in (MPI.COMM_WORLD, MPI.COMM_SELF):
        s = notched_tension(comm, ell=0.06, h_band=0.03, h_far=0.1, loads=loads, solver=solver)
        runs.append(run(s.mesh, s.params, s.loading, show_progress=False))
    _compare(*runs)
    assert runs[0].column("max_damage")[-1] > 0.99  # the plate broke


def test_sent_crack_run_same_on_all_ranks():
    """SENT whose breaking step runs on the crack-run mesh (as in test_fracture_crack_run.py)."""
    loads = (
        *np.arange(1e-3, 5.01e-3, 1e-3),
        *np.arange(5.1e-3, 5.51e-3, 1e-4),
        *np.arange(5.51e-3, 5.6e-3, 1e-5),
    )
    loads = tuple(float(v) for v in loads)
    runs = []
    for comm in (MPI.COMM_WORLD, MPI.COMM_SELF):
        s = notched_tension(comm, ell=0.015, h_band=0.015 / 4, h_far=0.02, loads=loads)
        runs.append(run(s.mesh, s.params, s.loading, show_progress=False, **s.run_options))
    for res in runs:
        assert res.am_coarse > 0
        assert res.column("am_iterations").max() < 100  # the crack run was used
    _compare(*runs)
