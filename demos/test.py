"""Run every demo as a subprocess with a short-run flag, serially and under ``mpirun -n 2``.

A demo that exists in ``demos/`` but is missing from :data:`DEMOS` fails
:func:`test_no_missing_demos` (as in firedrake's ``test_no_missing_demos``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
# demo file -> (short-run arguments, also run under mpirun -n 2)
DEMOS: dict[str, tuple[list[str], bool]] = {
    "cahn_hilliard_spinodal.py": (["--t-end", "4", "--n", "40"], True),
    "cahn_hilliard_3d.py": (["--t-end", "2", "--n", "8", "--solver", "block"], True),
    "fracture_bar.py": ([], True),
    "fracture_sent.py": ([], True),
    "fracture_sent3d.py": (["--quick"], True),
    "fracture_sens.py": ([], True),
    "fracture_lpanel.py": (["--quick", "--adapt"], True),
    "fracture_surfing.py": ([], True),
    "twinning_laminate.py": (["--cells", "32", "--t-end", "30"], True),
    "twinning_periodic.py": (["--cells", "16", "--t-end", "10"], True),
    "twinning_domain_wall.py": ([], True),
    "twinning_cubic_tetragonal.py": (["--quick"], True),
    # torch demos run on one process
    "wgan_gp_gaussians.py": (["--dry-run"], False),
    "conditional_wgan_gp.py": (["--dry-run"], False),
    "robust_classifier.py": (["--dry-run"], False),
    "gradient_norm_penalty.py": (["--dry-run"], False),
    "adamw_vs_l2.py": (["--dry-run"], False),
    "critic_capacity.py": (["--dry-run"], False),
    "digits_wgan_gp.py": (["--dry-run"], False),
    "digits_robust.py": (["--dry-run"], False),
}
TIMEOUT = 600


def _mpirun() -> str | None:
    cand = Path(sys.executable).parent / "mpirun"
    return str(cand) if cand.exists() else shutil.which("mpirun")


def test_no_missing_demos():
    present = {p.name for p in HERE.glob("*.py") if p.name != "test.py"}
    missing = sorted(present - set(DEMOS))
    assert not missing, f"demos not run by demos/test.py: {missing}"
    stale = sorted(set(DEMOS) - present)
    assert not stale, f"demos/test.py lists demos that do not exist: {stale}"


def _run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "MPLBACKEND": "Agg"}
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.returncode == 0, (
        f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    )
    return proc


@pytest.mark.demo
@pytest.mark.parametrize("demo", sorted(DEMOS))
def test_demo_serial(demo, tmp_path):
    args, _ = DEMOS[demo]
    _run([sys.executable, str(HERE / demo), *args, "--output", str(tmp_path / "out")], tmp_path)


@pytest.mark.demo
@pytest.mark.parametrize("demo", sorted(d for d, (_, mpi) in DEMOS.items() if mpi))
def test_demo_mpi(demo, tmp_path):
    mpirun = _mpirun()
    if mpirun is None:
        pytest.skip("mpirun not found")
    args, _ = DEMOS[demo]
    cmd = [mpirun, "-n", "2", sys.executable, str(HERE / demo), *args]
    _run([*cmd, "--output", str(tmp_path / "out")], tmp_path)
