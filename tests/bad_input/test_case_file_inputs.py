"""Bad values of a fracture case file, its ``[solver]`` table and a demo's ``--mesh``.

Each is one line on stderr naming the table, the key and what is allowed, exit
code 2, before anything is meshed, allocated or written:

- load paths: huge (``steps = 1e9``, ``du = 1e-13``, a range step of 1e-13),
  zero, negative or empty ones are refused before any array is built, with at
  most :data:`femgp.models.fracture.setups.MAX_LOAD_STEPS` load steps;
- ``[solver]`` options PETSc reads only when it starts (``log_view``) are
  refused (they belong on the command line); ``true`` is a valueless flag;
- ``[refinement]`` keys without ``adapt = true`` are refused, as the demos
  refuse ``--h-min`` without ``--adapt``;
- the 3D SENT slab refuses a 2D elastic model, the surfing test a crack start
  outside the strip;
- every message names its own table (``[mesh]``, ``[loading]``), and the
  notched plate's cell-count check names the size that makes it too large;
- a 3D ``.msh`` given to a 2D demo says that a 2D mesh is needed.

The fracture run itself is stubbed out in the ``femgp run`` cases: a case that
is not refused reaches the stub and fails the test at once, without a solve.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from femgp.cli import command as cli
from femgp.errors import InputError

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "configs"
DEMOS = ROOT / "demos"


class Reached(BaseException):  # not an Exception: passes the scripts' error handlers
    """The stubbed fracture run was reached: the bad value was not refused."""


@pytest.fixture
def no_solve(monkeypatch: pytest.MonkeyPatch) -> None:
    import femgp.models.fracture as fracture

    def stub(*args: object, **kwargs: object) -> None:
        raise Reached

    monkeypatch.setattr(fracture, "run", stub)


def _refused(
    config: str,
    extra: list[str],
    pattern: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> str:
    """``femgp run fracture --config configs/<config> <extra>``: exit 2, one matching line."""
    out = tmp_path / "out"
    argv = ["run", "fracture", "--config", str(CONFIGS / config), "--output", str(out), "--quiet"]
    code = cli.main([*argv, *extra])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert re.search(pattern, lines[0]), lines[0]
    assert "Traceback" not in err and "PETSC ERROR" not in err
    assert not out.exists()
    return lines[0]


# -- load paths (defects: unbounded memory, tracebacks) -------------------------------------

LOAD_PATHS = {
    "bar-steps-huge": (
        "fracture_bar.toml",
        ["--set", "loading.steps=1000000000"],
        r"\[loading\] steps must be an integer in \[1, 1000000\].*got 1000000000",
    ),
    "surfing-steps-huge": (
        "fracture_surfing.toml",
        ["--set", "loading.steps=100000000"],
        r"\[loading\] steps must be an integer in \[1, 1000000\].*got 100000000",
    ),
    "sent-du-tiny": (
        "fracture_sent.toml",
        ["--set", "loading.du=1e-13"],
        r"\[loading\] du = 1e-13 gives about 4\.5e\+10 load steps.*above the limit of 1000000",
    ),
    "sent-du-zero": (
        "fracture_sent.toml",
        ["--set", "loading.du=0"],
        r"\[loading\] du must be > 0, got 0\.0",
    ),
    "sent-du-negative": (
        "fracture_sent.toml",
        ["--set", "loading.du=-1e-4"],
        r"\[loading\] du must be > 0, got -0\.0001",
    ),
    "sent-du-fine-tiny": (
        "fracture_sent.toml",
        ["--set", "loading.du_fine=1e-15"],
        r"\[loading\] du_fine = 1e-15 gives about .* load steps",
    ),
    "sent-u-fine-above-u-max": (
        "fracture_sent.toml",
        ["--set", "loading.u_fine=1e-2"],
        r"\[loading\] u_fine = 0\.01 must be <= u_max = 0\.007",
    ),
    "sent3d-du-zero": (
        "fracture_sent3d.toml",
        ["--set", "loading.du=0"],
        r"\[loading\] du must be > 0",
    ),
    "lpanel-du-tiny": (
        "fracture_lpanel.toml",
        ["--set", "loading.du=1e-13"],
        r"\[loading\] du = 1e-13 gives about 1e\+13 load steps",
    ),
    "sens-range-step-tiny": (
        "fracture_sens.toml",
        ["--set", "loading.ranges=[[1e-4, 1e-2, 1e-13]]"],
        r"\[loading\] ranges\[0\] step = 1e-13 gives about 9\.9e\+10 load steps",
    ),
    "sens-range-step-zero": (
        "fracture_sens.toml",
        ["--set", "loading.ranges=[[1e-4, 1e-2, 0]]"],
        r"\[loading\] ranges\[0\] step must be > 0, got 0\.0",
    ),
    "sens-range-backwards": (
        "fracture_sens.toml",
        ["--set", "loading.ranges=[[1e-2, 1e-4, 1e-4]]"],
        r"\[loading\] ranges\[0\] stop = 0\.0001 must be >= start = 0\.01",
    ),
    "sens-range-inf": (
        "fracture_sens.toml",
        ["--set", "loading.ranges=[[1e-4, inf, 1e-4]]"],
        r"\[loading\] ranges\[0\] stop must be finite",
    ),
    "sens-ranges-empty": (
        "fracture_sens.toml",
        ["--set", "loading.ranges=[]"],
        r"\[loading\] ranges must hold at least one \[start, stop, step\] range, got \[\]",
    ),
}


@pytest.mark.parametrize("name", list(LOAD_PATHS))
def test_bad_load_path_is_refused(name, tmp_path, capsys, no_solve):
    config, extra, pattern = LOAD_PATHS[name]
    _refused(config, extra, pattern, tmp_path, capsys)


def test_load_path_functions_refuse_before_allocating():
    """The generators check the step count first (numpy would ask for 335 GiB)."""
    from femgp.models.fracture import setups as fs

    assert fs.MAX_LOAD_STEPS == 1_000_000
    with pytest.raises(InputError, match=r"du = 1e-13 gives about 4\.5e\+10 load steps"):
        fs.sent_loads(du=1e-13)
    with pytest.raises(InputError, match=r"du must be > 0, got 0"):
        fs.sent_loads(du=0.0)
    with pytest.raises(InputError, match=r"du must be > 0, got -0\.0001"):
        fs.sent_loads(du=-1e-4)
    with pytest.raises(InputError, match=r"du = 0\.01 must be <= u_fine = 0\.0045"):
        fs.sent_loads(du=1e-2)
    with pytest.raises(InputError, match=r"du = 1e-13 gives about 1e\+13 load steps"):
        fs.lpanel_loads(du=1e-13)
    with pytest.raises(InputError, match=r"ranges\[0\] step = 1e-13 gives about"):
        fs.ranges_loads([[1e-4, 1e-2, 1e-13]])
    with pytest.raises(InputError, match=r"ranges\[1\] step = 1e-12 gives about"):
        fs.ranges_loads([[1e-4, 1e-2, 1e-4], [2e-2, 1.0, 1e-12]])
    with pytest.raises(InputError, match=r"ranges must hold at least one"):
        fs.ranges_loads([])
    with pytest.raises(InputError, match=r"ranges\[0\] must be \[start, stop, step\]"):
        fs.ranges_loads([[1e-4, 1e-2]])
    # the paths of the configs and the demos are unchanged
    ranges = [[5e-4, 8e-3, 5e-4], [8.25e-3, 1.1e-2, 2.5e-4]]
    pieces = [np.arange(a, b + 1e-9, s) for a, b, s in ranges]  # the case file's definition
    assert fs.ranges_loads(ranges) == tuple(float(v) for v in np.concatenate(pieces))
    assert len(fs.ranges_loads(ranges)) == 16 + 12
    assert len(fs.sent_loads()) == 45 + 200
    assert len(fs.lpanel_loads()) == 100


def test_bar_and_surfing_refuse_huge_step_counts_before_meshing():
    from mpi4py import MPI

    from femgp.models.fracture import setups as fs

    with pytest.raises(InputError, match=r"steps must be an integer in \[1, 1000000\]"):
        fs.bar(MPI.COMM_SELF, steps=10**9)
    with pytest.raises(InputError, match=r"steps must be an integer in \[1, 1000000\]"):
        fs.bar(MPI.COMM_SELF, steps=0)
    with pytest.raises(InputError, match=r"load_max must be > 0"):
        fs.bar(MPI.COMM_SELF, load_max=-1.0)
    with pytest.raises(InputError, match=r"steps must be an integer in \[1, 1000000\]"):
        fs.surfing(MPI.COMM_SELF, steps=10**8)
    with pytest.raises(InputError, match=r"advance must be > 0"):
        fs.surfing(MPI.COMM_SELF, advance=0.0)


# -- [solver]: the options PETSc reads only when it starts ----------------------------------


@pytest.mark.parametrize("value", ['""', "true", '":log.txt"'])
def test_solver_table_refuses_log_view(value, tmp_path, capsys, no_solve):
    line = _refused(
        "fracture_bar.toml",
        ["--set", f"solver.log_view={value}"],
        r"\[solver\] log_view: PETSc reads this option only when it starts.*command line",
        tmp_path,
        capsys,
    )
    assert "-log_view" in line


def test_solver_table_booleans_are_flags(tmp_path):
    """``true``: the valueless flag; ``false``: ``false``, or nothing for a monitor."""
    import femgp.fem._backend  # noqa: F401

    from petsc4py import PETSc

    from femgp.cli.config import load_config

    case = tmp_path / "case.toml"
    case.write_text(
        'model = "fracture"\ncase = "bar"\n[solver]\n'
        "femgp_fracture_t1_ksp_monitor = true\nfemgp_fracture_t1_ksp_converged_reason = false\n"
        "femgp_fracture_t1_ksp_initial_guess_nonzero = false\nfemgp_fracture_t1_ksp_rtol = 1e-9\n"
    )
    cfg = load_config(case, "fracture")
    opts = PETSc.Options()
    names = [
        "femgp_fracture_t1_ksp_monitor",
        "femgp_fracture_t1_ksp_converged_reason",
        "femgp_fracture_t1_ksp_initial_guess_nonzero",
        "femgp_fracture_t1_ksp_rtol",
    ]
    try:
        cli._solver_options(cfg)
        assert opts.hasName("femgp_fracture_t1_ksp_monitor")
        assert opts.getString("femgp_fracture_t1_ksp_monitor") == ""  # the flag
        assert not opts.hasName("femgp_fracture_t1_ksp_converged_reason")
        assert opts.getString("femgp_fracture_t1_ksp_initial_guess_nonzero") == "false"
        assert opts.getReal("femgp_fracture_t1_ksp_rtol") == 1e-9
        ksp = PETSc.KSP().create(PETSc.COMM_SELF)
        try:
            ksp.setOptionsPrefix("femgp_fracture_t1_")
            ksp.setFromOptions()  # "Unsupported viewer true" before
            assert ksp.getTolerances()[0] == 1e-9
        finally:
            ksp.destroy()
    finally:
        for name in names:
            if opts.hasName(name):
                opts.delValue(name)


# -- [refinement] without adapt -------------------------------------------------------------


@pytest.mark.parametrize(
    "extra",
    [
        ["--set", "refinement.h_min=-1"],
        ["--set", "refinement.h_min=0.01"],
        ["--set", "refinement.adapt=false", "--set", "refinement.zone=0.1"],
    ],
    ids=["h_min-negative", "h_min", "zone-adapt-false"],
)
def test_refinement_keys_need_adapt(extra, tmp_path, capsys, no_solve):
    _refused(
        "fracture_bar.toml",
        extra,
        r"\[refinement\] (h_min|zone) need\(s\) adapt = true \(adaptive refinement is off\)",
        tmp_path,
        capsys,
    )


def test_surfing_refuses_adapt(tmp_path, capsys, no_solve):
    """As the demo refuses ``--adapt``: the K field is scaled by the pre-refined band's Gc_eff."""
    _refused(
        "fracture_surfing.toml",
        ["--set", "refinement.adapt=true"],
        r"fracture_surfing\.toml with --set .*: \[refinement\] adapt = true is not available "
        r"for the surfing",
        tmp_path,
        capsys,
    )


@pytest.mark.parametrize("boundary", ["clamped", "periodic"])
def test_twinning_periodic_boundary_in_params(boundary, tmp_path, capsys, monkeypatch):
    """``[params] boundary`` of the periodic case: another value is one line, ``periodic``
    runs (both were a TypeError traceback: the boundary was given twice)."""
    import femgp.models.twinning as twinning

    def stub(*args: object, **kwargs: object) -> None:
        raise Reached

    monkeypatch.setattr(twinning, "run", stub)
    argv = ["run", "twinning", "--config", str(CONFIGS / "twinning_periodic.toml"), "--quiet"]
    argv += ["--output", str(tmp_path / "out"), "--set", f"params.boundary={boundary}"]
    argv += ["--set", "mesh.cells=4"]
    if boundary == "periodic":
        with pytest.raises(Reached):
            cli.main(argv)
        return
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.strip() == (
        f"error: {CONFIGS / 'twinning_periodic.toml'} with --set params.boundary={boundary} "
        "mesh.cells=4: [params] boundary must be 'periodic' "
        "in the periodic case (or left out), got 'clamped'"
    ), err


def test_twinning_refuses_a_title(tmp_path, capsys):
    """The twinning plots have their own titles: ``title`` would be ignored, so it is refused."""
    argv = ["run", "twinning", "--config", str(CONFIGS / "twinning_laminate.toml"), "--quiet"]
    argv += ["--output", str(tmp_path / "out"), "--set", "title=mine"]
    assert cli.main(argv) == 2
    assert "unknown key 'title'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


# -- set-up values: the 3D slab's elastic model, the surfing crack --------------------------


def test_sent3d_refuses_a_2d_elastic_model(tmp_path, capsys, no_solve):
    from mpi4py import MPI

    from femgp.models.fracture.setups import notched_tension_3d

    _refused(
        "fracture_sent3d.toml",
        ["--set", "params.elastic_model=plane_strain"],
        r"\[params\] elastic_model must be '3d' for the 3D SENT slab, got 'plane_strain'",
        tmp_path,
        capsys,
    )
    with pytest.raises(InputError, match=r"elastic_model must be '3d'.*'plane_stress'"):
        notched_tension_3d(MPI.COMM_SELF, elastic_model="plane_stress", max_cells=1)


@pytest.mark.parametrize(
    "extra, pattern",
    [
        (
            ["loading.crack0=5"],
            r"\[loading\] crack0 must lie inside the strip, in \(0, length = 1\)",
        ),
        (["loading.crack0=-0.1"], r"\[loading\] crack0 must lie inside the strip"),
        (["loading.crack0=0.9"], r"\[loading\] crack0 \+ advance = 1\.2 takes the crack tip past"),
        (
            ["mesh.length=0.1"],
            r"\[loading\] crack0 must lie inside the strip, in \(0, length = 0\.1",
        ),
        (["loading.load_factor=0"], r"\[loading\] load_factor must be > 0"),
    ],
    ids=["crack0-beyond", "crack0-negative", "tip-leaves", "short-strip", "load-factor"],
)
def test_surfing_refuses_a_crack_outside_the_strip(extra, pattern, tmp_path, capsys, no_solve):
    sets = [a for e in extra for a in ("--set", e)]
    _refused("fracture_surfing.toml", sets, pattern, tmp_path, capsys)


# -- each message names its own table and key -----------------------------------------------

TABLES = {
    "mesh-h": (
        "fracture_bar.toml",
        ["--set", "mesh.h=-0.01"],
        r"fracture_bar\.toml with --set .*: \[mesh\] h must be > 0, got -0\.01",
    ),
    "loading-steps": (
        "fracture_bar.toml",
        ["--set", "loading.steps=-3"],
        r"fracture_bar\.toml with --set .*: \[loading\] steps must be an integer in "
        r"\[1, 1000000\].*got -3",
    ),
    "loading-load-max": (
        "fracture_bar.toml",
        ["--set", "loading.load_max=-1"],
        r"fracture_bar\.toml with --set .*: \[loading\] load_max must be > 0, got -1",
    ),
    "loading-loads": (
        "fracture_bar.toml",
        ["--set", "loading.loads=[0.2, 0.1]"],
        r"fracture_bar\.toml with --set .*: \[loading\] .*loads must be positive and "
        r"strictly increasing",
    ),
    "max-cells": (
        "fracture_bar.toml",
        ["--max-cells", "10"],
        r"fracture_bar\.toml: \[mesh\] mesh size h = 0\.0099\d* would give about 202 cells",
    ),
    "sent-h-band": (
        "fracture_sent.toml",
        ["--set", "mesh.h_band=-1"],
        r"fracture_sent\.toml with --set .*: \[mesh\] h_band must be > 0",
    ),
    "sent-h-far": (
        "fracture_sent.toml",
        ["--set", "mesh.h_far=1e-6"],
        r"fracture_sent\.toml with --set .*: \[mesh\] mesh size h_far = 1e-06 would give about",
    ),
    "sent3d-thickness": (
        "fracture_sent3d.toml",
        ["--set", "mesh.thickness=0"],
        r"fracture_sent3d\.toml with --set .*: \[mesh\] thickness must be > 0",
    ),
    "lpanel-h": (
        "fracture_lpanel.toml",
        ["--set", "mesh.h=-2"],
        r"fracture_lpanel\.toml with --set .*: \[mesh\] h must be > 0",
    ),
    "surfing-h-band": (
        "fracture_surfing.toml",
        ["--set", "mesh.h_band=0"],
        r"fracture_surfing\.toml with --set .*: \[mesh\] h_band must be > 0",
    ),
    "surfing-r2": (
        "fracture_surfing.toml",
        ["--set", "analysis.r2=1"],
        r"fracture_surfing\.toml with --set .*: \[analysis\] r2 must be larger than r1",
    ),
    "params-gc": (
        "fracture_bar.toml",
        ["--set", "params.Gc=-1"],
        r"fracture_bar\.toml with --set .*: \[params\] .*Gc.*-1",
    ),
}


@pytest.mark.parametrize("name", list(TABLES))
def test_message_names_its_table(name, tmp_path, capsys, no_solve):
    config, extra, pattern = TABLES[name]
    _refused(config, extra, pattern, tmp_path, capsys)


def test_notched_plate_estimate_names_h_far():
    from mpi4py import MPI

    from femgp.fem.meshes.fracture import notched_plate, strip

    with pytest.raises(InputError, match=r"mesh size h_far = 1e-06 would give about 2\.31e\+12"):
        notched_plate(MPI.COMM_SELF, h_band=0.05, h_far=1e-6)
    with pytest.raises(InputError, match=r"mesh size h_band = 1e-05 would give"):
        notched_plate(MPI.COMM_SELF, h_band=1e-5, h_far=0.02)
    with pytest.raises(InputError, match=r"mesh size h_far = 1e-06 would give"):
        strip(MPI.COMM_SELF, h_band=0.05, h_far=1e-6)


def test_mesh_build_names_h_far(tmp_path, capsys):
    code = cli.main(
        [
            "mesh",
            "build",
            "sent",
            "--h",
            "0.05",
            "--h-far",
            "1e-6",
            "--output",
            str(tmp_path / "m.msh"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "h_far = 1e-06 must be >= h = 0.05" in err and "h_band" not in err, err
    assert not (tmp_path / "m.msh").exists()


# -- a 3D mesh where a 2D one is needed -----------------------------------------------------


@pytest.fixture(scope="module")
def box3d(tmp_path_factory: pytest.TempPathFactory) -> Path:
    gmsh = pytest.importorskip("gmsh")
    path = tmp_path_factory.mktemp("meshes") / "box3d.msh"
    gmsh.initialize(interruptible=False)
    try:
        gmsh.option.setNumber("General.Terminal", 0)
        gmsh.model.add("box3d")
        v = gmsh.model.occ.addBox(0, 0, 0, 1, 1, 1)
        gmsh.model.occ.synchronize()
        gmsh.model.addPhysicalGroup(3, [v], 1, name="domain")
        faces = [f[1] for f in gmsh.model.getBoundary([(3, v)], oriented=False)]
        for i, name in enumerate(("bottom", "top", "boundary")):
            gmsh.model.addPhysicalGroup(2, faces, 10 + i, name=name)
        gmsh.option.setNumber("Mesh.MeshSizeMax", 0.5)
        gmsh.model.mesh.generate(3)
        gmsh.write(str(path))
    finally:
        gmsh.finalize()
    return path


def test_read_msh_says_a_2d_mesh_is_needed(box3d):
    from mpi4py import MPI

    from femgp.fem.meshes import read_msh

    with pytest.raises(InputError, match=r"box3d\.msh.*holds a 3D mesh, but a 2D mesh is needed"):
        read_msh(box3d, MPI.COMM_WORLD)
    assert read_msh(box3d, MPI.COMM_WORLD, gdim=3).mesh.topology.dim == 3


def test_2d_demo_refuses_a_3d_mesh(box3d, tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "MPLBACKEND": "Agg"}
    out = tmp_path / "out"
    cmd = [
        sys.executable,
        str(DEMOS / "fracture_sent.py"),
        "--mesh",
        str(box3d),
        "--output",
        str(out),
    ]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "box3d.msh" in lines[0] and "a 2D mesh is needed" in lines[0], lines[0]
    assert "Topological dimension" not in proc.stderr
    assert not out.exists()
