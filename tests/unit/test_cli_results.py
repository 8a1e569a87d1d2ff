"""What ``femgp run`` leaves and says, and ``femgp plot`` under ``mpirun``.

- ``mpirun -n 2 femgp plot FOLDER --output-dir X`` finishes (every rank starts
  MPI; rank 0 plots) instead of hanging in MPI's start-up;
- the Cahn-Hilliard summary line gives the time reached and the status of a run
  that ``max_steps`` stopped, not ``t_end``;
- the ``config.toml`` saved in a results folder names a ``[mesh] file`` given
  relative to the case file by its absolute path, so that it runs again.
"""

from __future__ import annotations

import csv
import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from femgp.cli import command as cli
from femgp.errors import SolverError

ROOT = Path(__file__).resolve().parents[2]
CH_CONFIG = ROOT / "configs" / "cahn_hilliard_spinodal.toml"


def _last_time(folder: Path) -> float:
    with (folder / "history.csv").open(newline="") as fh:
        return float(list(csv.DictReader(fh))[-1]["time"])


@pytest.fixture(scope="module")
def ch_stopped(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A tiny Cahn-Hilliard run stopped by max_steps long before t_end; its stdout."""
    import contextlib
    import io

    out = tmp_path_factory.mktemp("ch") / "stopped"
    argv = [
        "run", "cahn_hilliard", "--config", str(CH_CONFIG), "--output", str(out), "--quiet",
        "--set", "mesh.n=4", "--set", "time.t_end=100000", "--set", "time.max_steps=3",
    ]  # fmt: skip
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert cli.main(argv) == 0
    return out, buf.getvalue()


def test_cahn_hilliard_summary_gives_the_time_reached_and_the_status(ch_stopped):
    out, stdout = ch_stopped
    t = _last_time(out)
    assert 0 < t < 100000
    line = next(x for x in stdout.splitlines() if x.startswith("t = "))
    assert line.startswith(f"t = {t:g} (stopped by max_steps = 3 before t_end = 100000): F = "), (
        line
    )
    assert "t = 100000:" not in stdout


def test_plot_under_mpirun_finishes(ch_stopped, tmp_path, mpirun):
    """Rank 1 used to leave before MPI started, and rank 0's MPI start-up waited forever."""
    folder, _ = ch_stopped
    pictures = tmp_path / "pictures"
    cmd = [
        mpirun, "-n", "2", sys.executable, "-m", "femgp.cli", "plot", str(folder),
        "--output-dir", str(pictures),
    ]  # fmt: skip
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        cmd,
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # on a hang, the whole job is killed below
    )
    try:
        stdout, stderr = proc.communicate(timeout=90)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail("mpirun -n 2 femgp plot hung")
    assert proc.returncode == 0, stdout[-2000:] + stderr[-2000:]
    written = sorted(p.name for p in pictures.iterdir())
    assert written == ["history_free_energy.png", "last_c.png"]
    assert stdout.count("history_free_energy.png") == 1  # rank 0 prints


def test_info_under_mpirun_reports_once(tmp_path, mpirun):
    cmd = [mpirun, "-n", "2", sys.executable, "-m", "femgp.cli", "info"]
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert [ln.split()[0] for ln in proc.stdout.splitlines()].count("python") == 1, proc.stdout


def test_saved_config_names_the_mesh_file_absolutely(tmp_path, monkeypatch):
    """The folder's config.toml runs again from anywhere: ``[mesh] file`` is absolute."""
    cases = tmp_path / "cases"
    cases.mkdir()
    shutil.copy(ROOT / "meshes" / "pfhub_tshape.msh", cases / "t.msh")
    (cases / "case.toml").write_text(
        'model = "cahn_hilliard"\n[mesh]\nfile = "t.msh"\n[time]\nt_end = 0.1\n'
        "field_times = []\n[output]\nplots = false\n"
    )
    monkeypatch.chdir(tmp_path)
    first = tmp_path / "first"
    argv = ["run", "cahn_hilliard", "--quiet", "--config"]
    assert cli.main([*argv, str(cases / "case.toml"), "--output", str(first)]) == 0
    saved = tomllib.loads((first / "config.toml").read_text())
    assert saved["mesh"]["file"] == str((cases / "t.msh").resolve())
    again = tmp_path / "again"
    assert cli.main([*argv, str(first / "config.toml"), "--output", str(again)]) == 0
    assert (again / "history.csv").read_text() == (first / "history.csv").read_text()


def test_saved_config_keeps_the_command_lines_limit_and_petsc_options(tmp_path):
    """``--max-cells`` and PETSc options given on the command line go into config.toml.

    Without them the saved case did not run again (a mesh above the file's
    ``max_cells``) or ran with other solver options (``-femgp_ch_snes_rtol``).
    Options PETSc reads only when it starts (``-log_view``) stay out: the
    ``[solver]`` table refuses them.
    """
    import femgp.fem._backend  # noqa: F401

    from petsc4py import PETSc

    late = ["-femgp_x", "2", "-log_view", ":log.txt", "-info", "-femgp_y", "-1"]
    assert cli._command_line_options(late) == {"femgp_x": "2", "femgp_y": "-1"}
    case = tmp_path / "case.toml"
    case.write_text(
        'model = "cahn_hilliard"\n[mesh]\nn = 4\nmax_cells = 10\n[time]\nt_end = 0.1\n'
        "field_times = []\n[output]\nplots = false\n"
    )
    first = tmp_path / "first"
    argv = ["run", "cahn_hilliard", "--quiet", "--config"]
    petsc = ["-femgp_ch_snes_rtol", "1e-3", "-femgp_ch_snes_max_it", "50"]
    names = ("femgp_ch_snes_rtol", "femgp_ch_snes_max_it")
    try:
        argv_first = [*argv, str(case), "--output", str(first), "--max-cells", "100", *petsc]
        assert cli.main(argv_first) == 0
        saved = tomllib.loads((first / "config.toml").read_text())
        assert saved["mesh"]["max_cells"] == 100
        assert saved["solver"] == dict(zip(names, ("1e-3", "50"), strict=True))
        for name in names:  # the saved case sets them again
            PETSc.Options().delValue(name)
        again = tmp_path / "again"
        assert cli.main([*argv, str(first / "config.toml"), "--output", str(again)]) == 0
        assert PETSc.Options().getString(names[0]) == "1e-3"
        assert (again / "history.csv").read_text() == (first / "history.csv").read_text()
    finally:
        for name in names:
            PETSc.Options().delValue(name)


def test_saved_config_holds_the_output_options_and_survives_an_interruption(tmp_path, monkeypatch):
    """config.toml records ``--checkpoint-every`` and ``--quiet`` (it recorded neither)
    and never ``restart``; a run stopped by a signal writes it too (only a run that
    returned did), since its restart is when the case is needed."""
    from femgp.fem.checkpoint import RunInterrupted

    case = tmp_path / "case.toml"
    case.write_text(
        'model = "cahn_hilliard"\n[mesh]\nn = 4\n[time]\nt_end = 0.1\n'
        "field_times = []\n[output]\nplots = false\n"
    )
    first = tmp_path / "first"
    argv = ["run", "cahn_hilliard", "--quiet", "--config", str(case), "--checkpoint-every", "2"]
    assert cli.main([*argv, "--output", str(first)]) == 0
    saved = tomllib.loads((first / "config.toml").read_text())["output"]
    assert saved["checkpoint_every"] == 2 and saved["quiet"] is True
    assert saved["restart"] is False
    plain = [a for a in argv if a not in ("--checkpoint-every", "2")]
    (first / "config.toml").unlink()  # as after a run killed outright: the checkpoint tells
    assert cli.main([*plain, "--output", str(first), "--restart"]) == 0
    saved = tomllib.loads((first / "config.toml").read_text())["output"]
    assert saved["restart"] is False
    assert saved["checkpoint_every"] == 2  # the restart went on at the stored interval

    def stopped(cfg, args, comm, out):
        out.mkdir()
        (out / "history.csv").write_text("step\n0\n")
        (out / "run.json").write_text('{"status": "interrupted"}')
        raise RunInterrupted(out, 0)

    monkeypatch.setitem(cli._RUNNERS, "cahn_hilliard", stopped)
    second = tmp_path / "second"
    assert cli.main([*argv, "--output", str(second)]) == 143
    assert tomllib.loads((second / "config.toml").read_text())["output"]["checkpoint_every"] == 2

    def failed_before_writing(cfg, args, comm, out):  # as in twinning's initial equilibrium
        raise SolverError("nonlinear solve did not converge", prefix="x_", step=0)

    # an overwriting run that failed before it wrote anything leaves the folder's case
    # file alone (it was replaced, and described another run than the results beside it)
    monkeypatch.setitem(cli._RUNNERS, "cahn_hilliard", failed_before_writing)
    saved = (first / "config.toml").read_text()
    assert cli.main([*argv, "--output", str(first), "--overwrite", "--set", "mesh.n=6"]) == 1
    assert (first / "config.toml").read_text() == saved


def test_a_mesh_file_given_with_set_is_relative_to_the_current_directory(tmp_path, monkeypatch):
    """In the case file ``[mesh] file`` is relative to the case file; typed on the
    command line (``--set mesh.file=...``) it is relative to where it is typed (it was
    looked for beside the case file), and the saved config.toml names it absolutely."""
    cases = tmp_path / "cases"
    cases.mkdir()
    shutil.copy(ROOT / "meshes" / "pfhub_tshape.msh", tmp_path / "t.msh")
    (cases / "case.toml").write_text(
        'model = "cahn_hilliard"\n[time]\nt_end = 0.1\nfield_times = []\n[output]\nplots = false\n'
    )
    monkeypatch.chdir(tmp_path)
    argv = ["run", "cahn_hilliard", "--quiet", "--config", "cases/case.toml"]
    assert cli.main([*argv, "--set", 'mesh.file="t.msh"', "--output", "out"]) == 0
    saved = tomllib.loads((tmp_path / "out" / "config.toml").read_text())
    assert saved["mesh"]["file"] == str((tmp_path / "t.msh").resolve())


def test_the_shipped_case_files_mesh_examples_name_existing_files():
    """The commented ``# file = ...`` of configs/cahn_hilliard_spinodal.toml, uncommented,
    names the repository's T-shape (it named configs/meshes/..., which does not exist)."""
    import re

    from femgp.cli.config import load_config

    text = (ROOT / "configs" / "cahn_hilliard_spinodal.toml").read_text()
    (line,) = [ln for ln in text.splitlines() if re.match(r"#\s*file\s*=", ln)]
    value = tomllib.loads(line.lstrip("# ").split("#")[0])["file"]
    cfg = load_config(ROOT / "configs" / "cahn_hilliard_spinodal.toml", "cahn_hilliard")
    assert cli._mesh_file(
        dataclasses.replace(cfg, tables={**cfg.tables, "mesh": {"file": value}})
    ).is_file()
