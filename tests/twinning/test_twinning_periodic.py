"""Twinning on a periodic cell under a prescribed mean strain (boundary="periodic").

- a 32 x 32 periodic square with mean strain 0 (which neither variant fits)
  relaxes into a laminate whose wall normal lies within 10 degrees of a
  compatible normal (1, ±1)/sqrt(2), both variants at about half;
- the cell's mean strain ``∫ sym grad u / |Ω|`` equals the prescribed one to
  1e-10, for a mean strain that is not zero too;
- the same history on 1 and 2 ranks (``mpi``).
"""

from __future__ import annotations

import numpy as np
import pytest
from mpi4py import MPI

from femgp.errors import InputError
from femgp.fem.meshes.twinning import square
from femgp.models.twinning import Params, orientation, random_field, run

NOISE = {"amplitude": 0.05, "wavelength": (4.0, 16.0)}
E = 0.1


def _initial():
    return [random_field(1, **NOISE), random_field(1001, **NOISE)]


def _cell(comm, cells, t_end, mean, prefix):
    mesh = square(comm, float(cells), cells).mesh
    params = Params.square_to_rectangle(
        a=-1.0,
        kappa=3.0,
        dt=0.1,
        tol=2e-2,
        e=E,
        boundary="periodic",
        mean_strain=((mean, 0.0), (0.0, -mean)),
    )
    return run(mesh, params, t_end=t_end, initial=_initial(), show_progress=False, prefix=prefix)


@pytest.fixture(scope="module")
def laminate():
    return _cell(MPI.COMM_WORLD, 32, 60.0, 0.0, prefix="test_twp_lam_")


def test_periodic_laminate_along_compatible_normals(laminate):
    m = laminate.model
    o = orientation(m.etas[0] - m.etas[1], m.comm)
    dev = min(o.deviation_from(45.0), o.deviation_from(135.0))
    assert dev < 10.0, f"wall normal at {o.normal_angle:.2f} deg, {dev:.2f} deg from (1, ±1)"
    assert o.anisotropy > 0.5, o
    last = laminate.history[-1]
    assert 0.3 < last["vf_eta1"] < 0.7 and 0.3 < last["vf_eta2"] < 0.7, last


def test_mean_strain_is_prescribed(laminate):
    np.testing.assert_allclose(laminate.model.mean_strain_of_u(), np.zeros((2, 2)), atol=1e-10)
    biased = _cell(MPI.COMM_WORLD, 16, 5.0, 0.2 * E, prefix="test_twp_bias_")
    target = np.diag([0.2 * E, -0.2 * E])
    np.testing.assert_allclose(biased.model.mean_strain_of_u(), target, rtol=0, atol=1e-10)


@pytest.mark.mpi
def test_periodic_cell_same_history_on_one_and_two_ranks():
    par = _cell(MPI.COMM_WORLD, 16, 10.0, 0.1 * E, prefix="test_twp_par_")
    ser = _cell(MPI.COMM_SELF, 16, 10.0, 0.1 * E, prefix="test_twp_ser_")
    assert len(par.history) == len(ser.history)
    for col in ("total", "elastic", "vf_eta1", "vf_eta2"):
        np.testing.assert_allclose(par.column(col), ser.column(col), rtol=1e-8, err_msg=col)
    target = np.diag([0.1 * E, -0.1 * E])
    np.testing.assert_allclose(par.model.mean_strain_of_u(), target, rtol=0, atol=1e-10)


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"boundary": "clamped", "mean_strain": ((0.0, 0.0), (0.0, 0.0))}, "needs boundary"),
        ({"boundary": "periodic", "mean_strain": ((0.0, 1.0), (0.0, 0.0))}, "symmetric"),
        ({"boundary": "periodic", "mean_strain": ((0.0,),)}, "2x2 or 3x3"),
    ],
)
def test_bad_mean_strain(kw, match):
    with pytest.raises(InputError, match=match):
        Params.square_to_rectangle(**kw)
