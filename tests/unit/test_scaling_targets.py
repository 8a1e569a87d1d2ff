"""The targets that ``benchmarks/scaling.py`` judges its rows by."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def scaling():
    path = ROOT / "benchmarks" / "scaling.py"
    spec = importlib.util.spec_from_file_location("scaling_bench", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _row(dofs: float, newton: int, us_per_newton: float) -> dict:
    return {
        "dofs": dofs,
        "krylov_per_linear_solve": 20.0,
        "time_per_dof_us": newton * us_per_newton,
        "time_per_dof_newton_us": us_per_newton,
    }


def test_cahn_hilliard_time_is_judged_per_newton_step(scaling):
    # Two Newton iterations on the coarse mesh, one on the fine one: 24 -> 14 us per dof
    # and solve (1.71x), 12 -> 14 us per dof and Newton step (1.17x).
    rows = [_row(1e4, 2, 12.0), _row(1e6, 1, 14.0)]
    targets = {t["name"]: t for t in scaling._targets(rows, True, per_newton=True)}
    per_solve = targets["time per dof max/min"]
    per_newton = targets["time per dof and Newton step max/min"]
    assert per_solve["value"] == pytest.approx(24 / 14) and not per_solve["pass"]
    assert per_newton["value"] == pytest.approx(14 / 12) and per_newton["pass"]
    # Without per_newton (the fracture damage solve) only the per-solve ratio is judged.
    names = [t["name"] for t in scaling._targets(rows, True)]
    assert "time per dof and Newton step max/min" not in names
    # A growth of 1.6x per Newton step fails.
    slow = scaling._targets([_row(1e4, 1, 10.0), _row(1e6, 1, 16.0)], True, per_newton=True)
    assert not next(t for t in slow if "Newton" in t["name"])["pass"]
