"""Irreversibility under unloading, and no damage in pure compression with the splits."""

from __future__ import annotations

import numpy as np
import pytest
from mpi4py import MPI

from femgp.fem.meshes.core import rectangle
from femgp.models.fracture import DisplacementBC, Loading, Params, run
from femgp.models.fracture.params import SOLVERS
from femgp.models.fracture.setups import bar


def _triangle_wave(u_peak: float):
    """End displacement: up to ``u_peak`` at t = 1, back to 0 at t = 2, up again to t = 3."""

    def disp(t: float) -> float:
        return u_peak * (1 - abs((t % 2.0) - 1.0)) if t <= 2.0 else u_peak * (t - 2.0)

    return disp


@pytest.mark.parametrize(
    ("irreversibility", "solver"), [*(("bounds", s) for s in SOLVERS), ("history", "am")]
)
def test_damage_never_decreases_on_unloading(irreversibility, solver):
    """AT2 bar loaded to 0.9 u_c, unloaded to 0 and reloaded: alpha never decreases.

    Without irreversibility the damage would return to 0 at zero strain (the
    reversible minimiser), so the final damage must still be the damage at the peak.
    """
    s = bar(MPI.COMM_SELF, model="AT2", h=0.05, irreversibility=irreversibility, solver=solver)
    u_c = s.params.crack.critical_strain(s.info["E_eff"]) * s.info["length"]
    disp = _triangle_wave(0.9 * u_c)
    bcs = (
        DisplacementBC("left", 0, 0.0),
        DisplacementBC("right", 0, lambda x, t: np.full(x.shape[1], disp(t))),
        DisplacementBC("left", 1, 0.0),
        DisplacementBC("right", 1, 0.0),
    )
    loads = tuple(np.linspace(0.0, 2.5, 26)[1:])
    loading = Loading(bcs, loads, reaction=("right", 0))
    snapshots: list[np.ndarray] = []

    def observer(model, row):
        snapshots.append(model.alpha.x.array.copy())
        return {}

    res = run(s.mesh, s.params, loading, show_progress=False, observer=observer)
    alphas = np.array(snapshots)
    decrease = np.max(alphas[:-1] - alphas[1:])
    assert decrease <= 1e-12, decrease
    assert alphas[10].min() > 0.1  # t = 1: the largest displacement
    # t = 2: zero displacement, where reversible damage would be 0
    assert np.all(alphas[20] >= alphas[10] - 1e-12)
    assert abs(res.column("reaction")[20]) < 1e-8  # unloaded: no force


def _compress(split: str, elastic_model: str, solver: str) -> float:
    """Max damage of a unit square squeezed isotropically to 3 times the AT1 critical strain."""
    tm = rectangle(MPI.COMM_SELF, ((0.0, 0.0), (1.0, 1.0)), (6, 6), quadrilateral=False)
    params = Params(
        E=1.0,
        nu=0.2,
        Gc=1.0,
        ell=0.1,
        model="AT1",
        split=split,
        elastic_model=elastic_model,
        solver=solver,
    )
    e_c = params.crack.critical_strain(params.E)

    def squeeze(x: np.ndarray, t: float) -> np.ndarray:
        return -t * e_c * (x[:2] - 0.5)

    bcs = tuple(DisplacementBC(g, None, squeeze) for g in ("left", "right", "bottom", "top"))
    loading = Loading(bcs, (1.0, 2.0, 3.0))
    res = run(tm, params, loading, show_progress=False, prefix=f"femgp_test_comp_{split}_")
    return float(res.column("max_damage")[-1])


@pytest.mark.parametrize("solver", SOLVERS)
def test_no_damage_in_pure_compression(solver):
    """Spectral (plane strain) and vol-dev (plane stress: 2D hydrostatic) splits: alpha = 0.

    The same compression damages the material without a split (alpha > 0.5), so
    the test can fail.
    """
    assert _compress("spectral", "plane_strain", solver) < 1e-10
    assert _compress("voldev", "plane_stress", solver) < 1e-10
    assert _compress("none", "plane_strain", solver) > 0.5
