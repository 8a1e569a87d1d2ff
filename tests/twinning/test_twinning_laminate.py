"""Square-to-rectangle laminates: orientation, energy decrease, variant symmetry, schemes.

A clamped 48 x 48 square relaxes from rank-independent noise into twinned
laminates (the demo's coarse default). Measured, not eyeballed:

- the dominant wall normal (principal direction of the structure tensor
  ``∫ grad psi ⊗ grad psi``, ``psi = eta1 - eta2``) lies within 10 degrees of a
  compatible normal (1, ±1)/sqrt(2), and so does the four-fold moment; without
  elastic coupling the square forms walls too, and the same measure puts them
  far from (1, ±1) (the test can fail);
- the total energy never rises from one step to the next (energy guard off,
  so nothing enforces it but the scheme), to round-off 1e-10 of its scale;
- swapping the variants (their strains and initial fields) swaps the fields (1e-9);
- the staggered scheme, and its monolithic fallback, reproduce the monolithic
  solution (1e-6).
"""

from __future__ import annotations

import numpy as np
import pytest
from mpi4py import MPI

from femgp.fem.meshes.twinning import square
from femgp.models.twinning import Params, orientation, random_field, run

NOISE = {"amplitude": 0.05, "wavelength": (4.0, 16.0)}


def _initial(seed: int = 1):
    return [random_field(seed, **NOISE), random_field(seed + 1000, **NOISE)]


def _laminate(cells: int, t_end: float, **kw) -> object:
    mesh = square(MPI.COMM_SELF, float(cells), cells).mesh
    params = Params.square_to_rectangle(
        a=-1.0, kappa=3.0, dt=0.1, tol=2e-2, energy_guard=False, **kw
    )
    return run(mesh, params, t_end=t_end, initial=_initial(), show_progress=False)


@pytest.fixture(scope="module")
def laminate():
    return _laminate(48, 100.0, e=0.1)


def test_twin_planes_along_compatible_directions(laminate):
    m = laminate.model
    o = orientation(m.etas[0] - m.etas[1], m.comm)
    dev = min(o.deviation_from(45.0), o.deviation_from(135.0))
    assert dev < 10.0, f"wall normal at {o.normal_angle:.2f} deg, {dev:.2f} deg from (1, ±1)"
    assert o.anisotropy > 0.5, f"no dominant wall family (anisotropy {o.anisotropy:.3f})"
    dev4 = o.fourfold_deviation_from(45.0)
    assert dev4 < 10.0, f"four-fold normal {o.fourfold_angle:.2f} deg, {dev4:.2f} from 45"
    assert o.fourfold_coherence > 0.5, o


def test_both_variants_form(laminate):
    last = laminate.history[-1]
    assert 0.3 < last["vf_eta1"] < 0.7 and 0.3 < last["vf_eta2"] < 0.7, last
    assert last["chemical"] < -0.5 * 48.0**2, "the parent phase did not transform"


def test_total_energy_decreases_monotonically(laminate):
    E = laminate.column("total")
    scale = max(abs(laminate.column(c)).max() for c in ("chemical", "gradient", "elastic"))
    rises = np.diff(E)
    assert laminate.energy_rejected == 0
    assert rises.max() <= 1e-10 * scale, f"energy rose by {rises.max():.3e} (scale {scale:.3e})"
    assert E[-1] < E[0] - 0.5 * 48.0**2


def test_orientation_measure_discriminates():
    """The control: without elastic coupling (e = 1e-4) the same square forms walls too
    (both variants, gradient energy 43), but not along (1, ±1): the measure puts their
    normal 36 degrees from the compatible ones (threshold 20)."""
    free = _laminate(48, 30.0, e=1e-4)
    m = free.model
    last = free.history[-1]
    assert 0.3 < last["vf_eta1"] < 0.7 and 0.3 < last["vf_eta2"] < 0.7, last
    assert last["gradient"] > 10.0, last  # walls, not a single variant
    o = orientation(m.etas[0] - m.etas[1], m.comm)
    assert min(o.deviation_from(45.0), o.deviation_from(135.0)) > 20.0, o
    assert o.fourfold_deviation_from(45.0) > 20.0, o


def _fields(result) -> list[np.ndarray]:
    m = result.model
    return [*(e.x.array.copy() for e in m.etas), m.u.x.array.copy()]


def test_swapping_variants_swaps_fields():
    mesh = square(MPI.COMM_SELF, 24.0, 24).mesh
    params = Params.square_to_rectangle(kappa=3.0, dt=0.1, tol=2e-2)
    f1, f2 = _initial(5)
    a = run(mesh, params, t_end=5.0, initial=[f1, f2], show_progress=False)
    b = run(mesh, params.swapped(0, 1), t_end=5.0, initial=[f2, f1], show_progress=False)
    assert a.steps == b.steps
    ea1, ea2, ua = _fields(a)
    eb1, eb2, ub = _fields(b)
    assert np.max(np.abs(ea1 - eb2)) < 1e-9
    assert np.max(np.abs(ea2 - eb1)) < 1e-9
    assert np.max(np.abs(ua - ub)) < 1e-9
    np.testing.assert_allclose(a.column("vf_eta1"), b.column("vf_eta2"), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(a.column("total"), b.column("total"), rtol=1e-10)
    assert np.max(np.abs(ea1 - ea2)) > 0.1  # the fields differ: the swap is not trivial


@pytest.mark.parametrize("max_it", [50, 1])
def test_staggered_matches_monolithic(max_it):
    """Staggered iterations (max_it=50) and the monolithic fallback (max_it=1) agree."""
    mesh = square(MPI.COMM_SELF, 16.0, 16).mesh
    common = {"kappa": 3.0, "dt": 0.2, "adaptive": False, "staggered_tol": 1e-10}
    mono = Params.square_to_rectangle(**common)
    stag = Params.square_to_rectangle(**common, scheme="staggered", staggered_max_it=max_it)
    init = [random_field(3, amplitude=0.3, wavelength=(4.0, 12.0), mean=0.3), _initial(3)[1]]
    a = run(mesh, mono, t_end=2.0, initial=init, show_progress=False)
    b = run(mesh, stag, t_end=2.0, initial=init, show_progress=False)
    assert a.steps == b.steps == 10
    for x, y in zip(_fields(a), _fields(b), strict=True):
        assert np.max(np.abs(x - y)) < 1e-6
    if max_it == 1:
        assert b.model.fallbacks == b.steps
    else:
        assert b.model.fallbacks == 0
        assert 1 < max(r["staggered"] for r in b.history) < 50
