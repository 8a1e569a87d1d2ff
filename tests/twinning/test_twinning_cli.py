"""Bad input to the twinning demos: one line on stderr, exit code 2, nothing lost.

Each case fails before any computation, so these run in seconds.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from mpi4py import MPI

ROOT = Path(__file__).resolve().parents[2]
DEMOS = ROOT / "demos"

pytestmark = pytest.mark.skipif(MPI.COMM_WORLD.size > 1, reason="serial-only test")


def _run(script: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(DEMOS / script), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


def _one_error_line(proc: subprocess.CompletedProcess) -> str:
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert len(lines) == 1, proc.stderr
    return lines[0]


@pytest.mark.parametrize(
    "script, args, expected",
    [
        ("twinning_laminate.py", ["--cells", "0"], "--cells: expected a positive integer, got '0'"),
        ("twinning_laminate.py", ["--scheme", "bogus"], "'bogus'; allowed: 'monolithic'"),
        ("twinning_laminate.py", ["--bogus"], "unrecognized arguments: --bogus"),
        ("twinning_domain_wall.py", ["--degree-u", "3"], "degree_u must be 1 or 2, got 3"),
        ("twinning_cubic_tetragonal.py", ["--quick", "--a", "-7"], "a > -4, got -7.0"),
        # named as typed (it was "e_a must be finite", a name the demo's user never gave)
        (
            "twinning_cubic_tetragonal.py",
            ["--quick", "--strain", "nan"],
            "argument --strain: expected a finite number, got 'nan'",
        ),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path, script, args, expected):
    line = _one_error_line(_run(script, "--output", str(tmp_path / "out"), *args))
    assert expected in line
    assert not (tmp_path / "out").exists()  # nothing written


def test_existing_results_are_not_overwritten(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "history.csv").write_text("keep me\n")
    line = _one_error_line(_run("twinning_laminate.py", "--output", str(out), "--cells", "4"))
    assert "already holds results" in line and "--overwrite" in line
    assert (out / "history.csv").read_text() == "keep me\n"
    assert sorted(p.name for p in out.iterdir()) == ["history.csv"]


def test_femgp_run_says_how_the_run_ended(tmp_path, capsys):
    """The summary line names the time reached and the status: a run stopped by
    max_steps at t = 0.63 of 100 said only "3 steps" and looked finished."""
    from femgp.cli import command as cli

    case = ROOT / "configs" / "twinning_laminate.toml"
    argv = ["run", "twinning", "--config", str(case), "--quiet", "--set", "mesh.cells=8"]
    argv += ["--set", "output.plots=false", "--set", "time.t_end=100", "--set", "time.max_steps=3"]
    assert cli.main([*argv, "--output", str(tmp_path / "a")]) == 0
    assert "(stopped by max_steps = 3 before t_end = 100)" in capsys.readouterr().out
    argv[-1] = "time.max_steps=100000"
    assert cli.main([*argv, "--set", "time.t_end=0.5", "--output", str(tmp_path / "b")]) == 0
    assert "laminate: t = 0.5 (finished), " in capsys.readouterr().out
