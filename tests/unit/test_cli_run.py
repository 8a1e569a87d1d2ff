"""``femgp run`` with TOML case files, and ``femgp plot``.

Bad case files give exit code 2 and one line on stderr naming the key; the
configs in ``configs/`` reproduce the demos' histories (SENT and Cahn-Hilliard
to 1e-10 on a shortened path); ``femgp plot`` writes the PNGs and reads the
fields back exactly; ``mpirun -n 2 femgp run`` gives the serial history.
"""

from __future__ import annotations

import csv
import importlib.util
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from femgp.cli import command as cli
from femgp.cli.config import CASES, load_config

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "configs"
DEMOS = ROOT / "demos"
CH_CONFIG = CONFIGS / "cahn_hilliard_spinodal.toml"
CH_SHORT = ["--set", "time.t_end=4", "--set", "mesh.n=20"]
CH_DEMO_SHORT = ["--t-end", "4", "--n", "20"]


def _history(folder: Path) -> list[dict[str, str]]:
    with (folder / "history.csv").open(newline="") as fh:
        return list(csv.DictReader(fh))


def _assert_same_history(a: Path, b: Path, *, tol: float, skip: tuple[str, ...] = ()) -> None:
    ha, hb = _history(a), _history(b)
    assert len(ha) == len(hb) > 1
    assert list(ha[0]) == list(hb[0])
    for i, (ra, rb) in enumerate(zip(ha, hb, strict=True)):
        for key in ra:
            if key in skip:
                continue
            va, vb = float(ra[key]), float(rb[key])
            if math.isnan(va) and math.isnan(vb):
                continue
            assert abs(va - vb) <= tol * max(1.0, abs(va)), (i, key, va, vb)


def _demo_main(name: str):
    spec = importlib.util.spec_from_file_location(f"_demo_{name}", DEMOS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def _write(tmp_path: Path, text: str, name: str = "case.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# -- validation: one line, exit code 2, the key named ------------------------------------


BAD = {
    "unknown key": (
        "cahn_hilliard",
        "[params]\nkapa = 1.0\n",
        r"case\.toml: \[params\] unknown key 'kapa' \(did you mean 'kappa'\? allowed: .*mobility",
    ),
    "wrong type": (
        "fracture",
        'case = "sent"\n[params]\nell = "abc"\n',
        r"case\.toml: \[params\] ell must be a number, got 'abc'",
    ),
    "wrong type int": (
        "twinning",
        'case = "laminate"\n[mesh]\ncells = 2.5\n',
        r"case\.toml: \[mesh\] cells must be an integer, got 2\.5",
    ),
    "malformed": (
        "cahn_hilliard",
        "[params]\nkappa = = 1\n",
        r"case\.toml: malformed TOML: .*line 2",
    ),
    "unknown table": (
        "fracture",
        "[lodaing]\nu_max = 1.0\n",
        r"case\.toml: unknown table '\[lodaing\]' \(did you mean '\[loading\]'\?",
    ),
    "unknown case": (
        "fracture",
        'case = "sentt"\n',
        r"case\.toml: unknown fracture case 'sentt' \(did you mean 'sent'\? allowed: sent, sens",
    ),
    "bad value": (
        "cahn_hilliard",
        "[params]\nkappa = -1.0\n",
        r"case\.toml: \[params\] kappa must be > 0, got -1\.0",
    ),
    "choice": (
        "fracture",
        'case = "bar"\n[params]\nmodel = "AT3"\n',
        r"case\.toml: \[params\] unknown crack model 'AT3'; allowed: 'AT1', 'AT2'",
    ),
    "wrong model": (
        "fracture",
        'model = "twinning"\n',
        r"case\.toml: model = 'twinning' but the command runs 'fracture'",
    ),
    # explicit load steps replace the generated path: both at once was loads silently winning
    "loads and path": (
        "fracture",
        'case = "sent"\n[loading]\nloads = [1e-3, 2e-3]\ndu = 1e-4\n',
        r"case\.toml: \[loading\] loads replaces u_max, du, u_fine, du_fine; give either loads "
        r"or those, not both \(got loads and du\)",
    ),
    # a femgp option under another prefix than the model's: no solver reads it
    "foreign prefix": (
        "fracture",
        'case = "sent"\n[solver]\nfemgp_ch_ksp_type = "cg"\n',
        r"case\.toml: \[solver\] PETSc option femgp_ch_ksp_type is not under the fracture "
        r"solvers' prefix femgp_fracture_: no solver of this run would read it",
    ),
    "loads and steps": (
        "fracture",
        'case = "bar"\n[loading]\nsteps = 10\nloads = [0.1, 0.2]\n',
        r"case\.toml: \[loading\] loads replaces load_max, steps; .*\(got loads and steps\)",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_config_one_line_exit_2(case, tmp_path, capsys, monkeypatch):
    model, text, pattern = BAD[case]
    monkeypatch.chdir(tmp_path)
    _write(tmp_path, text)
    code = cli.main(["run", model, "--config", "case.toml", "--output", "out"])
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert re.search(pattern, err), err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("argv", "pattern"),
    [
        (["run", "fracture", "--config", "missing.toml"], r"config file 'missing\.toml' does not"),
        (
            ["run", "cahn_hiliard", "--config", str(CH_CONFIG)],
            r"unknown model 'cahn_hiliard' \(did you mean 'cahn_hilliard'\?",
        ),
        (
            ["run", "cahn_hilliard", "--config", str(CH_CONFIG), "--set", "time.t_end=abc"],
            r"\[time\] t_end must be a number, got 'abc'",
        ),
        (["run", "cahn_hilliard", "--config", str(CH_CONFIG), "--bogus"], r"--bogus"),
        # a choice the square does not have was ignored (and recorded in config.toml)
        (
            ["run", "cahn_hilliard", "--config", str(CH_CONFIG), "--set", "mesh.cell=tetrahedron"],
            r"\[mesh\] cell = 'tetrahedron' is for the cube only \(the square is meshed with "
            r"quadrilaterals\)",
        ),
        # the time table's values are checked with the file and the table named
        (
            ["run", "cahn_hilliard", "--config", str(CH_CONFIG), "--set", "time.t_end=0"],
            r"spinodal\.toml with --set time\.t_end=0: \[time\] t_end must be > 0, got 0\.0",
        ),
        (
            [
                "run",
                "twinning",
                "--config",
                str(CONFIGS / "twinning_periodic.toml"),
                "--set",
                "time.max_steps=0",
            ],
            r"periodic\.toml with --set time\.max_steps=0: \[time\] max_steps must be an integer",
        ),
        (
            [
                "run",
                "fracture",
                "--config",
                str(CONFIGS / "fracture_lpanel.toml"),
                "--set",
                "loading.loads=[0.1]",
                "--set",
                "loading.du=0.1",
            ],
            r"\[loading\] loads replaces u_max, du; .*\(got loads and du\)",
        ),
        (
            ["run", "cahn_hilliard", "--config", str(CH_CONFIG), "-femgp_twinning_ksp_type", "cg"],
            r"command line: PETSc option -femgp_twinning_ksp_type is not under the cahn_hilliard "
            r"solvers' prefix -femgp_ch_",
        ),
        # an own option with one dash would pass for a PETSc option that nothing reads
        (
            ["run", "cahn_hilliard", "--config", str(CH_CONFIG), "-checkpoint_every", "5"],
            r"-checkpoint_every is taken for a PETSc option; did you mean --checkpoint-every\?",
        ),
        # the value at fault is the override's: the message names it beside the file
        (
            [
                "run",
                "fracture",
                "--config",
                str(CONFIGS / "fracture_sent.toml"),
                "--set",
                "loading.u_max=2e-3",
            ],
            r"fracture_sent\.toml with --set loading\.u_max=2e-3: \[loading\] u_fine = 0\.0045 "
            r"must be <= u_max = 0\.002",
        ),
        (["run", "cahn_hilliard"], r"--config"),
        (["plot", "no_such_folder"], r"results folder 'no_such_folder' does not exist"),
    ],
)
def test_bad_command_line(argv, pattern, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = cli.main(argv)
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert re.search(pattern, err), err


def test_a_later_override_may_replace_the_whole_table():
    """``--set loading.du=... --set 'loading={u_max=...}'``: the first override's key is
    gone (a KeyError traceback before); the table is the second's."""
    cfg = load_config(
        CONFIGS / "fracture_sent.toml",
        "fracture",
        overrides=["loading.du=1e-4", "loading={u_max=7e-3}"],
    )
    assert cfg["loading"] == {"u_max": 7e-3}


def test_an_override_replaces_the_keys_it_excludes(tmp_path):
    """``--set loading.loads`` drops the file's generated path, ``--set loading.du`` its loads."""
    cfg = load_config(
        CONFIGS / "fracture_lpanel.toml", "fracture", overrides=["loading.loads=[0.1]"]
    )
    assert cfg["loading"] == {"loads": [0.1]}
    case = _write(tmp_path, 'case = "sent"\n[loading]\nloads = [1e-3]\n')
    cfg = load_config(case, "fracture", overrides=["loading.du=1e-4"])
    assert cfg["loading"] == {"du": 1e-4}


def test_option_prefixes_are_the_models_run_defaults():
    """PETSC_PREFIXES (checked on case files and command lines) is each model's own prefix."""
    import inspect

    from femgp.cli.args import PETSC_PREFIXES
    from femgp.models.cahn_hilliard import run as ch_run
    from femgp.models.fracture import run as fracture_run
    from femgp.models.twinning import run as twinning_run

    runs = {"cahn_hilliard": ch_run, "fracture": fracture_run, "twinning": twinning_run}
    defaults = {m: inspect.signature(f).parameters["prefix"].default for m, f in runs.items()}
    assert defaults == PETSC_PREFIXES


def test_demo_refuses_an_option_under_another_models_prefix(capsys):
    from femgp.cli.args import script_main

    main = _demo_main("cahn_hilliard_spinodal")
    code = script_main(main, ["-femgp_fracture_u_ksp_type", "cg"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "PETSc option -femgp_fracture_u_ksp_type is not under the cahn_hilliard" in err


@pytest.mark.parametrize(
    ("argv", "meant"), [(["-ell", "0.05"], "--ell"), (["-output", "elsewhere"], "--output")]
)
def test_demo_refuses_its_own_option_with_one_dash(argv, meant, tmp_path, capsys, monkeypatch):
    """``-ell 0.05`` ran with the default ell, ``-output x`` into the default folder."""
    from femgp.cli.args import script_main

    monkeypatch.chdir(tmp_path)
    code = script_main(_demo_main("fracture_sent"), argv)
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert f"{argv[0]} is taken for a PETSc option; did you mean {meant}?" in err
    assert not any(tmp_path.iterdir())


def test_plot_folder_without_history(tmp_path, capsys):
    (tmp_path / "run.json").write_text("{}")
    assert cli.main(["plot", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"results folder {str(tmp_path)!r} has no history.csv" in err


def test_params_keys_follow_the_dataclass():
    """[params] is derived from Params: every scalar field is a key, with its type."""
    import dataclasses

    from femgp.cli.config import schema
    from femgp.models.fracture.params import Params

    keys = schema("fracture", "sent")["params"]
    assert set(keys) == {f.name for f in dataclasses.fields(Params)}
    assert keys["ell"].type == "float" and keys["degree"].type == "int"
    assert keys["predictor"].type == "bool" and keys["model"].type == "str"
    tw = schema("twinning", "laminate")
    assert "chemical" not in tw["params"] and "kappa" in tw["params"]
    assert {"a", "e", "lmbda", "mu", "angle", "depth"} == set(tw["material"])


def test_checkpoint_keys_passed_only_when_accepted():
    import argparse

    cfg = load_config(CH_CONFIG, "cahn_hilliard", overrides=["output.checkpoint_every=3"])
    args = argparse.Namespace(checkpoint_every=None, restart=True, vtx=False)

    def new(*, checkpoint_every=None, restart=False, vtx=False):
        pass

    def old(*, output=None):
        pass

    expected = {"checkpoint_every": 3, "restart": True, "vtx": False}
    assert cli._model_kwargs(new, cfg, args) == expected
    with pytest.raises(ValueError, match="checkpoint-every is not supported"):
        cli._model_kwargs(old, cfg, args)
    with pytest.raises(ValueError, match="vtx output cannot continue a restarted run"):
        cli._model_kwargs(
            new, cfg, argparse.Namespace(checkpoint_every=None, restart=True, vtx=True)
        )
    plain = load_config(CH_CONFIG, "cahn_hilliard")
    no = argparse.Namespace(checkpoint_every=None, restart=False, vtx=False)
    assert cli._model_kwargs(old, plain, no) == {}


# -- every demo has a config ------------------------------------------------------------


def _is_torch_demo(path: Path) -> bool:
    return bool(
        re.search(r"^\s*(import torch|from femgp\.ml|import femgp\.ml)", path.read_text(), re.M)
    )


def test_every_fem_demo_has_a_config():
    demos = sorted(p for p in DEMOS.glob("*.py") if p.name != "test.py" and not _is_torch_demo(p))
    assert len(demos) >= 8
    missing = [p.stem for p in demos if not (CONFIGS / f"{p.stem}.toml").is_file()]
    assert not missing, f"demos without a config in configs/: {missing}"
    for p in demos:
        model = next(m for m in CASES if p.stem.startswith(m))
        cfg = load_config(CONFIGS / f"{p.stem}.toml", model)
        assert p.stem == f"{model}_{cfg.case}" or model == "cahn_hilliard", p.stem


# -- the configs reproduce the demos -----------------------------------------------------


@pytest.fixture(scope="module")
def ch_runs(tmp_path_factory):
    """The Cahn-Hilliard demo and ``femgp run`` on the same short run."""
    base = tmp_path_factory.mktemp("ch")
    _demo_main("cahn_hilliard_spinodal")([*CH_DEMO_SHORT, "--output", str(base / "demo")])
    argv = ["run", "cahn_hilliard", "--config", str(CH_CONFIG), *CH_SHORT, "--quiet"]
    assert cli.main([*argv, "--output", str(base / "cli")]) == 0
    return base


def test_cahn_hilliard_config_matches_demo(ch_runs):
    _assert_same_history(ch_runs / "demo", ch_runs / "cli", tol=1e-10)
    # the case as run is written back, overrides applied, and validates again
    ran = load_config(ch_runs / "cli" / "config.toml", "cahn_hilliard")
    assert ran["time"]["t_end"] == 4.0 and ran["mesh"]["n"] == 20
    assert "cell" not in ran["mesh"]  # the cube's default was recorded for the square
    assert ran["output"]["folder"] == str(ch_runs / "cli")
    assert ran["params"] == load_config(CH_CONFIG, "cahn_hilliard")["params"]


def test_sent_config_matches_demo(tmp_path, monkeypatch):
    """The SENT config and demo agree on the first three load steps of the demo's path."""
    from femgp.models.fracture import setups

    full = setups.sent_loads

    def first_three(**kw):
        return full(**kw)[:3]

    monkeypatch.setattr(setups, "sent_loads", first_three)
    _demo_main("fracture_sent")(["--output", str(tmp_path / "demo"), "--quiet"])
    monkeypatch.setattr(setups, "sent_loads", full)
    short = ["--set", "loading.u_max=1.5e-3", "--set", "loading.u_fine=1.5e-3"]
    argv = ["run", "fracture", "--config", str(CONFIGS / "fracture_sent.toml"), *short]
    assert cli.main([*argv, "--quiet", "--output", str(tmp_path / "cli")]) == 0
    assert len(_history(tmp_path / "cli")) == 4  # load 0 and three steps
    _assert_same_history(tmp_path / "demo", tmp_path / "cli", tol=1e-10, skip=("wall_time",))
    # femgp plot on a fracture folder: force-displacement, energies, the damage
    assert cli.main(["plot", str(tmp_path / "cli"), "--output-dir", str(tmp_path / "p")]) == 0
    names = sorted(p.name for p in (tmp_path / "p").glob("*.png"))
    assert names == [
        "history_energies.png",
        "history_force_displacement.png",
        "last_damage.png",
    ]


def test_solver_table_and_command_line_options(tmp_path, monkeypatch):
    """[solver] options reach PETSc; the command line's win."""
    import femgp.fem._backend  # noqa: F401

    from petsc4py import PETSc

    cfg = load_config(
        CH_CONFIG,
        "cahn_hilliard",
        overrides=["solver.femgp_ch_test_a=3", "solver.femgp_ch_test_b='cg'"],
    )
    opts = PETSc.Options()
    try:
        cli.init_petsc(cli.split_petsc_args(["-femgp_ch_test_a", "7", "-femgp_ch_test_c"]))
        cli._solver_options(cfg)
        assert opts.getInt("femgp_ch_test_a") == 7
        assert opts.getString("femgp_ch_test_b") == "cg"
        assert opts.hasName("femgp_ch_test_c")
    finally:
        for name in ("femgp_ch_test_a", "femgp_ch_test_b", "femgp_ch_test_c"):
            opts.delValue(name)


# -- femgp plot --------------------------------------------------------------------------


def test_plot_writes_pngs_and_refuses_to_overwrite(ch_runs, capsys):
    folder = ch_runs / "cli"
    assert cli.main(["plot", str(folder), "--output-dir", str(ch_runs / "plots")]) == 0
    written = sorted(p.name for p in (ch_runs / "plots").glob("*.png"))
    assert written == ["history_free_energy.png", "last_c.png"]
    for p in (ch_runs / "plots").glob("*.png"):
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 5000
    before = (ch_runs / "plots" / "last_c.png").stat().st_mtime_ns
    capsys.readouterr()
    assert cli.main(["plot", str(folder), "--output-dir", str(ch_runs / "plots")]) == 2
    assert "already exist" in capsys.readouterr().err
    assert (ch_runs / "plots" / "last_c.png").stat().st_mtime_ns == before
    args = ["plot", str(folder), "--output-dir", str(ch_runs / "plots"), "--overwrite"]
    assert cli.main(args) == 0


def test_plot_of_unreadable_fields_is_one_line_and_writes_nothing(ch_runs, tmp_path, capsys):
    """fields.h5 cut short, or still marked open by a run that was killed: one line
    naming the file and why, exit 2, no picture (the history plots were written
    first, then a PETSc traceback with the HDF5 library's error stack)."""
    import shutil

    good = (ch_runs / "cli" / "fields.h5").read_bytes()
    cases = {
        "truncated": (good[:2000], r"truncated: 2000 of the \d+ bytes"),
        "left open": (good[:20] + bytes([1]) + good[21:], "still marked open for writing"),
        "not hdf5": (b"x" * 100, "not an HDF5 file"),
    }
    for name, (data, pattern) in cases.items():
        folder = tmp_path / name
        shutil.copytree(ch_runs / "cli", folder)
        for png in folder.glob("*.png"):
            png.unlink()
        (folder / "fields.h5").write_bytes(data)
        capsys.readouterr()
        assert cli.main(["plot", str(folder)]) == 2, name
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and re.search(pattern, err[0]) and "fields.h5" in err[0], err
        assert not list(folder.glob("*.png")), name
    # the control: the intact copy plots
    assert cli.main(["plot", str(ch_runs / "cli"), "--output-dir", str(tmp_path / "ok")]) == 0


def _superblock(version: int, eof: int, *, flags: int = 0, user_block: int = 0) -> bytes:
    """An HDF5 file's first bytes: ``user_block`` zeros, then a superblock of ``version``
    with 8-byte addresses (undefined ones all 0xff), then zeros up to ``eof``."""
    undefined = b"\xff" * 8
    head = b"\x89HDF\r\n\x1a\n" + bytes([version])
    if version < 2:
        head += bytes([0, 0, 0, 0, 8, 8, 0]) + (4).to_bytes(2, "little") * 2
        head += flags.to_bytes(4, "little") + (bytes(4) if version == 1 else b"")
        head += user_block.to_bytes(8, "little") + undefined + eof.to_bytes(8, "little")
    else:
        head += bytes([8, 8, flags]) + user_block.to_bytes(8, "little") + undefined
        head += eof.to_bytes(8, "little") + bytes(8) + bytes(4)
    data = bytes(user_block) + head
    return data + bytes(max(0, eof - len(data)))


@pytest.mark.parametrize("version", [0, 1, 2, 3])
@pytest.mark.parametrize("user_block", [0, 512])
def test_hdf5_superblock_check(tmp_path, version, user_block):
    """Whole files of every superblock version pass, with or without a user block (the
    end-of-file address counts from the first byte); cut ones and ones left open do not."""
    from femgp.fem.io import _hdf5_incomplete

    path = tmp_path / "f.h5"
    whole = _superblock(version, 4000 + user_block, user_block=user_block)
    path.write_bytes(whole)
    assert _hdf5_incomplete(path) is None
    path.write_bytes(whole[:3000])
    assert "truncated: 3000 of the" in _hdf5_incomplete(path)
    path.write_bytes(_superblock(version, 4000 + user_block, flags=1, user_block=user_block))
    assert "still marked open for writing" in _hdf5_incomplete(path)


def test_plot_skips_plots_whose_columns_are_missing(tmp_path, capsys):
    """A fracture history without ``reaction`` (a KeyError before) and a Cahn-Hilliard
    history of the initial row alone (matplotlib's "cannot be log-scaled") have nothing
    to plot: one line saying so."""
    fr = tmp_path / "fracture"
    fr.mkdir()
    (fr / "run.json").write_text('{"model": "fracture"}')
    (fr / "history.csv").write_text("step,displacement,load\n0,0.0,0.0\n1,0.1,0.1\n")
    ch_ = tmp_path / "ch"
    ch_.mkdir()
    (ch_ / "run.json").write_text('{"model": "cahn_hilliard"}')
    (ch_ / "history.csv").write_text("step,time,free_energy,mass\n0,0.0,320.0,20000.0\n")
    for folder in (fr, ch_):
        capsys.readouterr()
        assert cli.main(["plot", str(folder)]) == 2
        assert "nothing to plot" in capsys.readouterr().err


def test_xdmf_reader_gives_the_last_field(ch_runs):
    """The field read back from fields.xdmf is the run's final c, node by node."""
    from femgp.fem.io import read_xdmf_last

    snap = read_xdmf_last(ch_runs / "cli" / "fields.xdmf", "c")
    assert snap.time == 4.0
    assert snap.cells.shape == (400, 4) and snap.points.shape == (441, 3)
    # the same run, in memory
    from femgp.fem.meshes.pfhub import square
    from femgp.models import cahn_hilliard as ch

    tm = square(n=20)
    res = ch.run(tm.mesh, ch.Params(), t_end=4.0, show_progress=False)
    c = res.fields[0]
    xs = c.function_space.tabulate_dof_coordinates()
    ref = {(round(x, 8), round(y, 8)): v for (x, y, _), v in zip(xs, c.x.array, strict=True)}
    got = {
        (round(x, 8), round(y, 8)): v for (x, y, _), v in zip(snap.points, snap.values, strict=True)
    }
    assert ref.keys() == got.keys()
    assert max(abs(ref[k] - got[k]) for k in ref) < 1e-14


def test_xdmf_reader_follows_several_h5_files(ch_runs, tmp_path):
    """A temporal collection whose grids point to different .h5 files (restart segments)."""
    from femgp.fem.io import read_xdmf_last

    src = ch_runs / "cli"
    shutil.copy(src / "fields.h5", tmp_path / "fields.part0.h5")
    shutil.copy(src / "fields.h5", tmp_path / "fields.part1.h5")
    text = (src / "fields.xdmf").read_text()
    text = text.replace("fields.h5:/Function/c/4", "fields.part1.h5:/Function/c/4")
    text = text.replace("fields.h5:", "fields.part0.h5:")
    (tmp_path / "fields.xdmf").write_text(text)
    a = read_xdmf_last(src / "fields.xdmf", "c")
    b = read_xdmf_last(tmp_path / "fields.xdmf", "c")
    assert b.time == 4.0
    np.testing.assert_array_equal(a.values, b.values)
    (tmp_path / "fields.part1.h5").unlink()
    with pytest.raises(ValueError, match=r"fields\.part1\.h5"):
        read_xdmf_last(tmp_path / "fields.xdmf", "c")


# -- under MPI ---------------------------------------------------------------------------


def test_mpirun_two_ranks_same_history(ch_runs, tmp_path, mpirun):
    cmd = [
        mpirun, "-n", "2", sys.executable, "-m", "femgp.cli", "run", "cahn_hilliard",
        "--config", str(CH_CONFIG), *CH_SHORT, "--quiet", "--output", str(tmp_path / "mpi"),
        "-femgp_ch_snes_monitor",
    ]  # fmt: skip
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "SNES Function norm" in proc.stdout  # the PETSc option reached the solver
    assert proc.stdout.count("results in") == 1  # rank 0 prints
    _assert_same_history(ch_runs / "cli", tmp_path / "mpi", tol=1e-9)


def test_mesh_file_relative_to_the_config(tmp_path):
    """``[mesh] file`` is read relative to the case file; same run as the demo's --mesh."""
    shutil.copy(ROOT / "meshes" / "pfhub_tshape.msh", tmp_path / "t.msh")
    case = _write(
        tmp_path,
        'model = "cahn_hilliard"\n[mesh]\nfile = "t.msh"\n[time]\nt_end = 2.0\n'
        "[output]\nplots = false\n",
    )
    mesh = str(ROOT / "meshes" / "pfhub_tshape.msh")
    _demo_main("cahn_hilliard_spinodal")(
        ["--mesh", mesh, "--t-end", "2", "--output", str(tmp_path / "demo")]
    )
    argv = ["run", "cahn_hilliard", "--config", str(case), "--quiet"]
    assert cli.main([*argv, "--output", str(tmp_path / "cli")]) == 0
    _assert_same_history(tmp_path / "demo", tmp_path / "cli", tol=1e-10)
    assert not (tmp_path / "cli" / "concentration.png").exists()  # [output] plots = false


def test_refinement_defaults_are_the_same_for_the_demo_and_the_case_file(tmp_path, monkeypatch):
    """``--adapt`` and ``[refinement] adapt = true`` get one zone and lookahead.

    Both come from :func:`femgp.cli.cases.refinement_reach` (``ell / 2`` and
    ``2 ell``, docs/adaptivity.md "The width of the zone"); a given zone or
    lookahead wins.
    The run itself is stubbed out: only the refinement it is handed is kept.
    """
    import femgp.models.fracture as fracture
    from femgp.cli.cases import refinement_reach

    class Handed(BaseException):  # not an Exception: passes the scripts' handlers
        pass

    got = []

    def stub(*args, refinement=None, **kwargs):
        got.append(refinement)
        raise Handed

    monkeypatch.setattr(fracture, "run", stub)
    demo = _demo_main("fracture_sent")
    with pytest.raises(Handed):
        demo(["--adapt", "--output", str(tmp_path / "d"), "--quiet"])
    toml = ["run", "fracture", "--config", str(CONFIGS / "fracture_sent.toml"), "--quiet"]
    out = ["--output", str(tmp_path / "c")]
    with pytest.raises(Handed):
        cli.main([*toml, *out, "--set", "refinement.adapt=true"])
    with pytest.raises(Handed):
        cli.main([*toml, *out, "--set", "refinement.adapt=true", "--set", "refinement.zone=0.01"])
    ell = 0.03  # the SENT demo's and case file's coarse default
    reach = refinement_reach(ell)
    assert reach == pytest.approx({"zone": ell / 2, "lookahead": 2 * ell})
    for ref in got[:2]:
        assert (ref.zone, ref.lookahead) == pytest.approx((reach["zone"], reach["lookahead"]))
    assert got[2].zone == 0.01 and got[2].lookahead == pytest.approx(reach["lookahead"])
    with pytest.raises(Handed):
        demo(["--adapt", "--adapt-lookahead", "0.05", "--output", str(tmp_path / "e"), "--quiet"])
    assert got[3].zone == pytest.approx(reach["zone"]) and got[3].lookahead == 0.05


@pytest.mark.parametrize(
    ("demo", "config", "extra"),
    [
        ("fracture_sent", "fracture_sent.toml", ["--set", "refinement.h_min=0.012"]),
        ("fracture_sens", "fracture_sens.toml", ["--set", "refinement.h_min=0.02"]),
    ],
)
def test_adaptive_notched_plate_has_the_demos_notch(demo, config, extra, tmp_path, monkeypatch):
    """``[refinement] adapt = true`` meshes the V-notch ``2 h_min`` wide, as ``--adapt``.

    The coarse plate's own ``2 h_band`` modelled a notch as wide as the coarse
    cells (four times the demo's on SENT). The mesher is stubbed: only the
    sizes it is handed are kept.
    """
    from femgp.models.fracture import setups

    class Handed(BaseException):  # not an Exception: passes the scripts' handlers
        pass

    got = []

    def stub(comm, **kw):
        got.append({k: kw[k] for k in ("h_band", "h_far", "notch_width")})
        raise Handed

    monkeypatch.setattr(setups.fmeshes, "notched_plate", stub)
    with pytest.raises(Handed):
        _demo_main(demo)(["--adapt", "--output", str(tmp_path / "d"), "--quiet"])
    coarse = got[0]["h_band"]
    sets = ["refinement.adapt=true", f"mesh.h_band={coarse}", f"mesh.h_far={coarse}"]
    argv = ["run", "fracture", "--config", str(CONFIGS / config), "--quiet"]
    argv += ["--output", str(tmp_path / "c"), *[a for s in sets for a in ("--set", s)], *extra]
    with pytest.raises(Handed):
        cli.main(argv)
    assert got[1] == pytest.approx(got[0])


def test_saved_case_text_reads_back_any_string():
    """``Config.to_toml`` (a results folder's config.toml) reads back every string and key.

    JSON's ``\\ud83d\\ude42`` surrogate pair for a character beyond the BMP is
    no TOML: a title with an emoji wrote a config.toml that did not load.
    """
    import tomllib

    from femgp.cli.config import validate

    for title in ["bar 🙂 σ", 'a"b\\c\nd\te\x7ff\x01']:
        data = {"case": "bar", "title": title, "solver": {"key é 🙂": "x"}}
        cfg = validate(data, "fracture", source="x.toml")
        back = tomllib.loads(cfg.to_toml())
        assert back["title"] == title and back["solver"] == {"key é 🙂": "x"}


def test_headline_gives_no_generator_size_for_a_users_mesh():
    """With a mesh given, the start-up line named the generator's band size
    (``h = 0.00375``) that the mesh never had; now it names no size."""
    from mpi4py import MPI

    from femgp.cli.fracture import headline
    from femgp.fem.meshes import fracture as fmeshes
    from femgp.models.fracture.setups import notched_tension

    tm = fmeshes.notched_plate(MPI.COMM_WORLD, h_band=0.05, h_far=0.1)
    generated = notched_tension(MPI.COMM_WORLD, ell=0.2, h_band=0.05, h_far=0.1, loads=[1e-3])
    assert ", h = 0.05," in headline(generated, 1)
    given = notched_tension(MPI.COMM_WORLD, ell=0.2, mesh=tm, loads=[1e-3])
    assert given.info["h_band"] is None and ", h = " not in headline(given, 1)
