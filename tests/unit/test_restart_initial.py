"""A restart must start from the initial condition of the run it continues.

The state comes from the checkpoint, but ``run.json`` and the saved case file
say how the run began: a restart given another initial condition was accepted
and left them naming one the run never had. ``run.json`` now records the initial
condition (:func:`femgp.fem.io.initial_description`) among the parameters that a
restart compares.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from mpi4py import MPI

import femgp.models.cahn_hilliard as ch
from femgp.cli.cases import twinning_initial
from femgp.errors import InputError
from femgp.fem.io import described, initial_description
from femgp.fem.meshes.pfhub import square
from femgp.fem.meshes.twinning import square as twin_square
from femgp.models import twinning


def test_initial_descriptions():
    """Constants as themselves, marked functions by name and parameters, others by name."""
    assert initial_description(0.5) == 0.5 and initial_description(1) == 1.0
    assert initial_description(ch.pfhub_initial(c0=0.4)) == {
        "name": "pfhub_initial",
        "c0": 0.4,
        "epsilon": 0.01,
    }
    field = twinning.random_field(3, amplitude=0.05, wavelength=(4.0, 16.0))
    assert initial_description(field) == {
        "name": "random_field",
        "seed": 3,
        "amplitude": 0.05,
        "wavelength": [4.0, 16.0],  # as JSON gives it back
        "modes": 48,
        "mean": 0.0,
        "dim": 2,
    }

    # numpy scalars are recorded as the numbers they hold (they were a TypeError)
    assert initial_description(ch.pfhub_initial(c0=np.float32(0.25)))["c0"] == 0.25
    field = twinning.random_field(3, amplitude=0.05, wavelength=(4.0, 16.0), dim=np.int64(2))
    assert initial_description(field)["dim"] == 2

    def mine(x: np.ndarray) -> np.ndarray:
        return 0.5 + 0.0 * x[0]

    assert initial_description(mine) == {"name": mine.__qualname__}
    assert described(mine, "mine", k=(1, 2)) is mine and initial_description(mine) == {
        "name": "mine",
        "k": [1, 2],
    }


def test_cahn_hilliard_restart_with_another_initial_condition_is_refused(tmp_path):
    domain = square(MPI.COMM_WORLD, n=8, size=50.0).mesh
    params = ch.Params(dt=0.5, adaptive=False)
    out = tmp_path / "run"
    common = {"output": out, "checkpoint_every": 1, "show_progress": False}
    ch.run(domain, params, t_end=1.0, initial=ch.pfhub_initial(), prefix="test_ri1_", **common)
    recorded = json.loads((out / "run.json").read_text())["parameters"]["initial"]
    assert recorded == {"name": "pfhub_initial", "c0": 0.5, "epsilon": 0.01}
    with pytest.raises(InputError, match=r"parameters differ .*\(initial\.c0: 0\.5 -> 0\.4\)"):
        ch.run(
            domain,
            params,
            t_end=2.0,
            initial=ch.pfhub_initial(c0=0.4),
            restart=True,
            prefix="test_ri2_",
            **common,
        )
    # the control: the same initial condition restarts
    res = ch.run(
        domain,
        params,
        t_end=2.0,
        initial=ch.pfhub_initial(),
        restart=True,
        prefix="test_ri3_",
        **common,
    )
    assert res.steps == 4


def test_twinning_restart_with_another_seed_is_refused(tmp_path):
    mesh = twin_square(MPI.COMM_WORLD, 8.0, 8).mesh
    params = twinning.Params.square_to_rectangle(kappa=3.0, dt=0.1, adaptive=False)
    out = tmp_path / "run"
    common = {"output": out, "checkpoint_every": 1, "show_progress": False, "plots": False}

    def initial(seed: int) -> list:
        return twinning_initial("laminate", 2, seed=seed)

    twinning.run(mesh, params, t_end=0.2, initial=initial(1), prefix="test_rt1_", **common)
    with pytest.raises(InputError, match=r"parameters differ .*\(initial\[0\]\.seed: 1 -> 2\)"):
        twinning.run(
            mesh, params, t_end=0.4, initial=initial(2), restart=True, prefix="test_rt2_", **common
        )
    res = twinning.run(
        mesh, params, t_end=0.4, initial=initial(1), restart=True, prefix="test_rt3_", **common
    )
    assert res.steps == 4


def test_a_run_that_did_not_record_its_initial_condition_restarts(tmp_path):
    """A results folder of an older femgp (no ``initial`` in run.json) still restarts:
    the initial condition is not compared (a warning says so), and the restarted run
    records it."""
    domain = square(MPI.COMM_WORLD, n=8, size=50.0).mesh
    params = ch.Params(dt=0.5, adaptive=False)
    out = tmp_path / "run"
    common = {"output": out, "checkpoint_every": 1, "show_progress": False}
    ch.run(domain, params, t_end=1.0, prefix="test_ri4_", **common)
    MPI.COMM_WORLD.barrier()
    if MPI.COMM_WORLD.rank == 0:
        info = json.loads((out / "run.json").read_text())
        del info["parameters"]["initial"]
        (out / "run.json").write_text(json.dumps(info))
    MPI.COMM_WORLD.barrier()
    res = ch.run(domain, params, t_end=2.0, restart=True, prefix="test_ri5_", **common)
    assert res.steps == 4
    recorded = json.loads((out / "run.json").read_text())["parameters"]["initial"]
    assert recorded["name"] == "pfhub_initial"
