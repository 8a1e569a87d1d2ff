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
        "newton": newton,
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


def test_rows_without_the_per_newton_column_are_judged(scaling):
    # Results written before the per-Newton column (benchmarks/results/scaling.json):
    # ``--render`` must judge them from the time per dof and the Newton count.
    rows = [
        {"dofs": 1e4, "newton": 2, "krylov_per_linear_solve": 20.0, "time_per_dof_us": 24.0},
        {"dofs": 1e6, "newton": 1, "krylov_per_linear_solve": 20.0, "time_per_dof_us": 14.0},
    ]
    targets = {t["name"]: t for t in scaling._targets(rows, True, per_newton=True)}
    assert targets["time per dof and Newton step max/min"]["value"] == pytest.approx(14 / 12)


def test_a_partial_range_is_not_reported_as_every_target_passing(scaling):
    # Sizes up to 1.6e5 dofs (--max-dofs): the time-per-dof target (1e4..1e6) is not met.
    rows = [_row(1e4, 1, 10.0), _row(4e4, 1, 10.0), _row(1.6e5, 1, 10.0)]
    run = {"variant": "block", "ranks": 1, "rows": rows}
    run["targets"] = scaling._targets(rows, True, per_newton=True)
    info = {"mode": "full", "ch_steps": 3, "problems": {"cahn_hilliard": [run]}}
    assert all(t["pass"] for t in run["targets"])
    lines = scaling._discussion(info)
    assert not any("Every target" in line for line in lines)
    assert any("partial range" in line and "cahn_hilliard block" in line for line in lines)
    # Over the full range the summary stays.
    rows = [_row(1e4, 1, 10.0), _row(1e6, 1, 10.0)]
    run["rows"], run["targets"] = rows, scaling._targets(rows, True, per_newton=True)
    assert "- Every target of the scalable variants passes." in scaling._discussion(info)


def test_dt_sweep_is_judged_per_rank_count(scaling):
    # --dt-sweep without --ranks runs every dt on 1 and 2 ranks: the ratio across dt
    # must not mix in the rank count.
    def run(ranks: int, dt: float, krylov: float) -> dict:
        row = {"krylov_per_linear_solve": krylov}
        return {"variant": "block", "ranks": ranks, "ch_dt": dt, "rows": [row]}

    runs = [run(1, 0.01, 10.0), run(2, 0.01, 10.0), run(1, 100.0, 12.0), run(2, 100.0, 25.0)]
    info = {"mode": "dt", "problems": {"cahn_hilliard": runs}}
    targets = scaling._weak_targets(info, "ch_dt", scaling.DT_ITER_MAX)
    assert [(t["ranks"], t["value"], t["pass"]) for t in targets] == [
        ("0.01/100", pytest.approx(1.2), True),
        ("0.01/100", pytest.approx(2.5), False),
    ]
    assert [t["variant"] for t in targets] == ["block on 1 rank(s)", "block on 2 rank(s)"]


def test_a_dt_without_result_fails_the_sweep(scaling):
    # --dt-sweep 0.01 1 100: the solve at dt = 100 failed (no rows); the ratio over
    # 0.01 and 1 alone is no PASS for the sweep.
    def run(dt: float, krylov: float | None) -> dict:
        rows = [] if krylov is None else [{"krylov_per_linear_solve": krylov}]
        return {"variant": "block", "ranks": 1, "ch_dt": dt, "rows": rows}

    info = {"mode": "dt", "problems": {"cahn_hilliard": [run(0.01, 12.0), run(1.0, 19.0)]}}
    (ok,) = scaling._weak_targets(info, "ch_dt", scaling.DT_ITER_MAX)
    assert ok["pass"] and not ok["missing"]
    info["problems"]["cahn_hilliard"].append(run(100.0, None))
    (failed,) = scaling._weak_targets(info, "ch_dt", scaling.DT_ITER_MAX)
    assert failed["value"] == pytest.approx(19 / 12)
    assert failed["missing"] == "100" and not failed["pass"]
    # every dt failed: the variant still has its line, and it fails
    info["problems"]["cahn_hilliard"] = [run(0.01, None), run(1.0, None)]
    (none,) = scaling._weak_targets(info, "ch_dt", scaling.DT_ITER_MAX)
    assert none["missing"] == "0.01/1" and not none["pass"] and none["values"] == ""
