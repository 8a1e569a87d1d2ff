"""The CLI and the demo scripts: versions, one-line errors, exit code 2, nothing written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "demos" / "cahn_hilliard_spinodal.py"


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=300, cwd=cwd
    )


def test_femgp_info_lists_the_stack():
    out = _run("-m", "femgp.cli", "info")
    assert out.returncode == 0, out.stderr
    for key in ("femgp", "dolfinx", "petsc", "petsc4py", "mpi4py", "mpi library", "torch"):
        assert any(line.startswith(key) for line in out.stdout.splitlines()), key
    assert "mumps" in out.stdout


def test_femgp_info_into_a_closed_pipe_ends_quietly():
    """A reader that leaves early (``femgp info | head -1``): status 141, no crash report."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "femgp.cli", "info"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdout.close()  # before the child writes: it spends a second importing DOLFINx
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 141, err.decode()
    assert err.decode() == ""


def test_femgp_unknown_command_exit_2():
    out = _run("-m", "femgp.cli", "frobnicate")
    assert out.returncode == 2
    assert len(out.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "args, message",
    [
        (["--t-end", "0"], "expected a finite number > 0"),
        (["--t-end", "-5"], "expected a finite number > 0"),
        (["--t-end", "nan"], "expected a finite number > 0"),
        (["--mesh", "does-not-exist.msh"], "does not exist"),
        (["--scheme", "rk4"], "invalid choice"),
        (["stray"], "unexpected argument 'stray'"),
    ],
)
def test_demo_bad_input_one_line_exit_2(tmp_path, args, message):
    out = _run(str(DEMO), "--output", str(tmp_path / "out"), *args)
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], out.stderr
    assert not (tmp_path / "out").exists()


def test_demo_mesh_without_tags_and_garbage_mesh(tmp_path):
    gmsh = pytest.importorskip("gmsh")
    msh = tmp_path / "square.msh"
    gmsh.initialize(interruptible=False)
    try:
        gmsh.option.setNumber("General.Terminal", 0)
        gmsh.model.occ.addRectangle(0, 0, 0, 10, 10)
        gmsh.model.occ.synchronize()
        gmsh.model.addPhysicalGroup(2, [1], 1, name="domain")
        gmsh.model.mesh.generate(2)
        gmsh.write(str(msh))
    finally:
        gmsh.finalize()
    out = _run(str(DEMO), "--output", str(tmp_path / "a"), "--mesh", str(msh))
    assert out.returncode == 2
    assert "lacks physical group(s) 'boundary'" in out.stderr and "found: domain" in out.stderr
    bad = tmp_path / "bad.msh"
    bad.write_text("$MeshFormat\nnot a mesh\n")
    out = _run(str(DEMO), "--output", str(tmp_path / "b"), "--mesh", str(bad))
    assert out.returncode == 2 and "cannot read mesh file" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_demo_refuses_to_overwrite_results(tmp_path):
    out_dir = tmp_path / "out"
    first = _run(str(DEMO), "--output", str(out_dir), "--t-end", "0.5", "--n", "16")
    assert first.returncode == 0, first.stderr
    history = (out_dir / "history.csv").read_bytes()
    again = _run(str(DEMO), "--output", str(out_dir), "--t-end", "0.5", "--n", "16")
    assert again.returncode == 2 and "already holds results" in again.stderr
    assert (out_dir / "history.csv").read_bytes() == history


def test_demo_reports_the_time_reached_on_restart(tmp_path):
    """A --restart with a smaller --t-end keeps the later state: the demo prints its time."""
    out_dir = tmp_path / "out"
    args = (str(DEMO), "--output", str(out_dir), "--n", "16", "--quiet")
    first = _run(*args, "--t-end", "1", "--checkpoint-every", "2")
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("t = 1: "), first.stdout
    again = _run(*args, "--t-end", "0.5", "--restart")
    assert again.returncode == 0, again.stderr
    reached = float((out_dir / "history.csv").read_text().splitlines()[-1].split(",")[1])
    assert reached == 1.0
    assert again.stdout.startswith(f"t = {reached:g}: F = "), again.stdout


def test_surfing_help_does_not_offer_the_adapt_it_refuses():
    """The surfing demo refuses --adapt (one line, exit 2), so its --help leaves it out;
    the SENT demo's lists it (the control)."""
    surfing = _run(str(ROOT / "demos" / "fracture_surfing.py"), "--help")
    sent = _run(str(ROOT / "demos" / "fracture_sent.py"), "--help")
    assert surfing.returncode == 0 == sent.returncode
    assert "--adapt" not in surfing.stdout and "--h-min" not in surfing.stdout
    assert "--adapt" in sent.stdout and "--h-min" in sent.stdout
