"""Edges of the command line (issue 11): mesh-size typos and PETSc's -log_view.

- A mesh size typo (``--set mesh.h_band=1e-7``, ``--ell 1e-5``) is refused
  before gmsh runs: one line naming the size, the estimate and ``--max-cells``,
  exit code 2, within seconds, nothing written.
- The cell estimate of every generator is checked against the cells it makes
  (a factor-of-a-few bound: it is a guard, not a prediction), and a limit just
  below the real count refuses the mesh (the control that must fail).
- ``-log_view`` on the command line of a demo, of ``femgp run`` and of a
  benchmark prints PETSc's performance summary with its ``SNESSolve`` line and
  no PETSc error at exit; under ``mpirun -n 2`` ``-log_view ascii:FILE`` fills FILE.
- The torch demos' argument module imports neither dolfinx nor petsc4py.
- An error on one rank of two ends the job (status 2, the error and the rank on
  stderr) instead of hanging it (the control: without ``script_main`` it hangs);
  the same error on both ranks is one line, status 2, no abort; inside a
  fracture run the failing rank aborts before the collective clean-up, and the
  history written before the error stays (the control, without that wait, hangs).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEMOS = ROOT / "demos"


def _run(*cmd: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "MPLBACKEND": "Agg"}
    return subprocess.run(
        list(cmd), cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


# -- mesh-size typos ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cmd, size",
    [
        (
            ["-m", "femgp.cli", "run", "fracture", "--config", "configs/fracture_sent.toml",
             "--set", "mesh.h_band=1e-7"],
            "h_band = 1e-07",
        ),
        ([str(DEMOS / "fracture_sent.py"), "--ell", "1e-5"], "h_band = 4e-06"),
        ([str(DEMOS / "cahn_hilliard_spinodal.py"), "--n", "5000"], "n = 5000 x 5000"),
        ([str(DEMOS / "twinning_cubic_tetragonal.py"), "--cells", "200"], "n = 200 x 200 x 200"),
    ],
    ids=["femgp-run-sent", "demo-sent-ell", "demo-ch-n", "demo-cubic-cells"],
)  # fmt: skip
def test_mesh_size_typo_is_refused_promptly(cmd: list[str], size: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    t0 = time.perf_counter()
    proc = _run(sys.executable, *cmd, "--output", str(out), cwd=ROOT, timeout=120)
    elapsed = time.perf_counter() - t0
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1, proc.stderr
    line = lines[0]
    assert f"mesh size {size} would give about" in line and "--max-cells" in line, line
    estimate = float(re.search(r"about ([0-9.e+]+) cells", line).group(1))
    assert estimate > 4_000_000
    assert not out.exists()
    assert elapsed < 60, f"refusal took {elapsed:.0f} s"


def test_max_cells_option_raises_and_lowers_the_limit(tmp_path: Path) -> None:
    """--max-cells is the option the message names: a low limit refuses the default mesh."""
    proc = _run(
        sys.executable, str(DEMOS / "fracture_bar.py"), "--max-cells", "10",
        "--output", str(tmp_path / "out"), cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert "above the limit of 10 " in proc.stderr


def test_cell_estimates_bound_the_real_counts() -> None:
    """Each generator's estimate is within a small factor of the cells it makes."""
    from mpi4py import MPI

    from femgp.errors import InputError
    from femgp.fem.meshes import build
    from femgp.fem.meshes.pfhub import square

    comm = MPI.COMM_SELF

    def cells(tm) -> int:
        return tm.mesh.topology.index_map(tm.mesh.topology.dim).size_global

    for name, h in (("sent", 0.01), ("sens", 0.02), ("strip", 0.02), ("pfhub_tshape", 4.0),
                    ("lpanel", 10.0), ("plate_with_holes", 3.0), ("bar", 0.01)):  # fmt: skip
        n = cells(build(name, comm, h=h))
        # the estimate is at least the real count / 3: a limit of n / 3 refuses the mesh ...
        with pytest.raises(InputError, match="--max-cells"):
            build(name, comm, h=h, max_cells=n // 3)
        # ... and at most 6 times it: a limit of 6 n lets it through
        assert cells(build(name, comm, h=h, max_cells=6 * n)) == n, name
    assert cells(square(comm, n=8, max_cells=64)) == 64
    # the option's advertised default is the generators' default
    from femgp.cli.args import DEFAULT_MAX_CELLS
    from femgp.fem.meshes.core import DEFAULT_MAX_CELLS as MESH_DEFAULT

    assert DEFAULT_MAX_CELLS == MESH_DEFAULT
    with pytest.raises(InputError, match="n = 8 x 8 would give about 64 cells"):
        square(comm, n=8, max_cells=63)


# -- -log_view ------------------------------------------------------------------------------

SNES_LINE = re.compile(r"^SNESSolve\s+(\d+)\s", re.M)


def _snes_calls(text: str) -> int:
    m = SNES_LINE.search(text)
    assert m, text[-3000:]
    return int(m.group(1))


def test_log_view_demo_serial(tmp_path: Path) -> None:
    proc = _run(
        sys.executable, str(DEMOS / "cahn_hilliard_spinodal.py"), "--t-end", "1", "--n", "16",
        "--quiet", "--output", str(tmp_path / "out"), "-log_view", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "PETSC ERROR" not in proc.stdout + proc.stderr
    assert _snes_calls(proc.stdout) >= 1


def test_log_view_femgp_run_and_benchmark(tmp_path: Path) -> None:
    case = tmp_path / "ch.toml"
    case.write_text('case = "spinodal"\n[mesh]\nn = 16\n[time]\nt_end = 1.0\n')
    proc = _run(
        sys.executable, "-m", "femgp.cli", "run", "cahn_hilliard", "--config", str(case),
        "--quiet", "--output", str(tmp_path / "out"), "-log_view", "-options_left", "0",
        cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "PETSC ERROR" not in proc.stdout + proc.stderr
    assert _snes_calls(proc.stdout) >= 1
    bench = _run(
        sys.executable, str(ROOT / "benchmarks" / "twinning_laminate.py"), "--cells", "8",
        "--t-end", "2", "--results", str(tmp_path / "bench"), "-log_view", cwd=tmp_path,
    )  # fmt: skip
    assert bench.returncode == 0, bench.stderr[-3000:]
    assert "PETSC ERROR" not in bench.stdout + bench.stderr
    assert _snes_calls(bench.stdout) >= 1


def test_log_view_demo_mpi_to_file(tmp_path: Path, mpirun: str) -> None:
    log = tmp_path / "log.txt"
    proc = _run(
        mpirun, "-n", "2", sys.executable, str(DEMOS / "cahn_hilliard_spinodal.py"),
        "--t-end", "1", "--n", "16", "--quiet", "--output", str(tmp_path / "out"),
        "-log_view", f"ascii:{log}", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "PETSC ERROR" not in proc.stdout + proc.stderr
    text = log.read_text()
    assert "with 2 processes" in text, text[:2000]
    assert _snes_calls(text) >= 1


# -- the torch demos' plumbing --------------------------------------------------------------


def test_argument_module_is_pure_python() -> None:
    code = (
        "import sys, femgp.cli, femgp.cli.args, femgp.cli.fracture, femgp.cli.config; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('dolfinx', 'petsc4py', 'mpi4py')]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = _run(sys.executable, "-c", code, cwd=ROOT, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# -- every demo takes the common options ----------------------------------------------------

FEM_DEMOS = sorted(
    p.name for p in DEMOS.glob("*.py")
    if p.name.startswith(("fracture_", "cahn_hilliard_", "twinning_"))
)  # fmt: skip
TORCH_DEMOS = sorted(p.name for p in DEMOS.glob("*.py") if p.name not in [*FEM_DEMOS, "test.py"])
FEM_OPTIONS = (
    "--output", "--overwrite", "--quiet", "--max-cells", "--checkpoint-every", "--restart",
    "--vtx",
)  # fmt: skip
TORCH_OPTIONS = ("--output", "--overwrite", "--quiet", "--seed", "--dry-run")


# Each torch demo's --help, printed by one interpreter that runs the demos in turn: a
# process per demo would import torch (seconds) once per demo.
_HELP_OF_EACH = """
import contextlib, io, json, runpy, sys
out = {}
for path in sys.argv[1:]:
    buf = io.StringIO()
    sys.argv = [path, "--help"]
    with contextlib.redirect_stdout(buf):
        try:
            runpy.run_path(path, run_name="__main__")
        except SystemExit as stop:
            out[path] = (stop.code or 0, buf.getvalue())
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def torch_demo_help() -> dict[str, tuple[int, str]]:
    paths = [str(DEMOS / d) for d in TORCH_DEMOS]
    proc = _run(sys.executable, "-c", _HELP_OF_EACH, *paths, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return {Path(k).name: tuple(v) for k, v in json.loads(proc.stdout).items()}


@pytest.mark.parametrize("demo", FEM_DEMOS + TORCH_DEMOS)
def test_demo_takes_the_common_options(demo: str, request: pytest.FixtureRequest) -> None:
    if demo in FEM_DEMOS:
        proc = _run(sys.executable, str(DEMOS / demo), "--help", cwd=ROOT, timeout=120)
        code, text = proc.returncode, proc.stdout
        assert code == 0, proc.stderr
    else:
        code, text = request.getfixturevalue("torch_demo_help").get(demo, (None, ""))
        assert code == 0, (demo, code)
    for option in FEM_OPTIONS if demo in FEM_DEMOS else TORCH_OPTIONS:
        assert re.search(rf"(^|\s|\[){re.escape(option)}\b", text), (demo, option)


# -- an error on one rank -----------------------------------------------------------------

#: A script whose rank ``sys.argv[1]`` fails alone while the other goes on to a collective.
ONE_RANK_ERROR = """
import sys
from femgp.cli.args import script_main

def main(argv):
    from mpi4py import MPI
    comm = MPI.COMM_WORLD
    if comm.rank == int(sys.argv[1]):
        raise OSError(f"No space left on device (rank {comm.rank})")
    comm.allreduce(1)
    return 0

sys.exit(script_main(main) if sys.argv[2] == "wrapped" else main(None))
"""


@pytest.mark.parametrize("failing", [0, 1])
def test_an_error_on_one_rank_ends_the_job(failing: int, tmp_path: Path, mpirun: str) -> None:
    """The failing rank waits FEMGP_RANK_WAIT_S, prints its error and aborts with its status.

    Without the wait (``main`` called bare: the control) the other rank blocks in its
    collective and the job hangs until killed.
    """
    script = tmp_path / "one_rank_error.py"
    script.write_text(ONE_RANK_ERROR)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "FEMGP_RANK_WAIT_S": "2"}
    cmd = [mpirun, "-n", "2", sys.executable, str(script), str(failing)]
    t0 = time.perf_counter()
    proc = subprocess.run(
        [*cmd, "wrapped"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    elapsed = time.perf_counter() - t0
    assert proc.returncode == 2, proc.stderr
    assert f"No space left on device (rank {failing})" in proc.stderr, proc.stderr
    assert f"rank {failing} of 2: " in proc.stderr and "aborting the MPI job" in proc.stderr
    assert elapsed < 60, f"took {elapsed:.0f} s"
    if failing == 1:  # the control: one is enough (it costs its timeout)
        with pytest.raises(subprocess.TimeoutExpired):
            subprocess.run([*cmd, "bare"], cwd=ROOT, env=env, capture_output=True, timeout=8)


def test_an_error_on_every_rank_exits_without_abort(tmp_path: Path, mpirun: str) -> None:
    """The same error on both ranks: one line, status 2, no abort and no wait."""
    script = tmp_path / "every_rank_error.py"
    script.write_text(ONE_RANK_ERROR.replace("comm.rank == int(sys.argv[1])", "True"))
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "FEMGP_RANK_WAIT_S": "60"}
    t0 = time.perf_counter()
    proc = subprocess.run(
        [mpirun, "-n", "2", sys.executable, str(script), "0", "wrapped"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    elapsed = time.perf_counter() - t0
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 2, proc.stderr
    assert lines == ["error: No space left on device (rank 0)"], proc.stderr
    assert elapsed < 30, f"took {elapsed:.0f} s"


@pytest.mark.parametrize("value, wait", [("2.5", 2.5), ("abc", 60.0), ("0", 60.0), ("nan", 60.0)])
def test_rank_wait_comes_from_the_environment(
    value: str, wait: float, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """FEMGP_RANK_WAIT_S: a positive number of seconds, else the default with one line."""
    from femgp import exits

    monkeypatch.setenv("FEMGP_RANK_WAIT_S", value)
    assert exits._rank_wait_s() == wait
    err = capsys.readouterr().err.splitlines()
    if wait == 2.5:
        assert err == []
    else:
        assert err == [f"FEMGP_RANK_WAIT_S={value!r} is not a positive number of seconds; using 60"]


#: A fracture run whose rank 1 fails alone inside the driver's load loop (step 3).
DRIVER_ONE_RANK_ERROR = """
import sys
from femgp.cli.args import script_main

def main(argv):
    from mpi4py import MPI
    import femgp.fem.driver as driver
    import femgp.models.fracture.model as fm
    from femgp.models.fracture import run, setups

    s = setups.bar(MPI.COMM_WORLD, steps=8)
    solve_step = fm.FractureModel.solve_step

    def failing(self, t, *, step=None):
        if MPI.COMM_WORLD.rank == 1 and step == 3:
            raise OSError("No space left on device (rank 1, step 3)")
        return solve_step(self, t, step=step)

    fm.FractureModel.solve_step = failing
    if sys.argv[1] == "bare":  # the control: the clean-up does not wait
        driver._settle_before_cleanup = lambda comm, exc: None
    run(s.mesh, s.params, s.loading, output=sys.argv[2], show_progress=False, plots=False)
    return 0

sys.exit(script_main(main))
"""


def test_an_error_on_one_rank_inside_a_run_ends_the_job(tmp_path: Path, mpirun: str) -> None:
    """Inside ``drive`` the failing rank waits before the collective clean-up, then aborts.

    The other rank is blocked in its next load step. The history written before
    the error stays. The control (no wait before the clean-up) hangs: the failing
    rank blocks in the collective close of the output while the other is in its step.
    """
    script = tmp_path / "driver_one_rank_error.py"
    script.write_text(DRIVER_ONE_RANK_ERROR)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "FEMGP_RANK_WAIT_S": "3", "MPLBACKEND": "Agg"}
    cmd = [mpirun, "-n", "2", sys.executable, str(script)]
    out = tmp_path / "out"
    proc = subprocess.run(
        [*cmd, "wrapped", str(out)], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=180,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert "rank 1 of 2: error: No space left on device (rank 1, step 3)" in proc.stderr
    assert "aborting the MPI job" in proc.stderr
    steps = [ln.split(",")[0] for ln in (out / "history.csv").read_text().splitlines()[1:]]
    assert steps == ["0", "1", "2"]
    with pytest.raises(subprocess.TimeoutExpired):
        subprocess.run(
            [*cmd, "bare", str(tmp_path / "bare")], cwd=ROOT, env=env, capture_output=True,
            timeout=20,
        )  # fmt: skip


@pytest.mark.parametrize("options_left", [False, True])
def test_a_user_error_leaves_no_unused_option_report(options_left, tmp_path):
    """An input error stops the run before any solver reads its options: PETSc's exit
    report then called a good option a "spelling mistake". An -options_left the user
    asked for still reports."""
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "history.csv").write_text("step\n")
    extra = ["-options_left"] if options_left else []
    proc = _run(
        sys.executable, "-m", "femgp.cli", "run", "fracture", "--config",
        str(ROOT / "configs" / "fracture_sent.toml"), "--output", "out",
        "-femgp_fracture_u_ksp_monitor", *extra, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "already holds results" in proc.stderr
    report = "options you set that were not used" in proc.stdout + proc.stderr
    assert report == options_left, proc.stdout + proc.stderr
