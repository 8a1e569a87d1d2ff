"""The torch demos' output files: atomic, and readable as ordinary files are."""

from __future__ import annotations

import os
import stat

import pytest

pytest.importorskip("torch")

from femgp.ml.scripts import save_figure, write_json

pytestmark = pytest.mark.torch


def test_outputs_have_the_mode_of_an_ordinary_file(tmp_path):
    """With umask 022 the group and others may read them (mkstemp alone made them 0600)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    old = os.umask(0o022)
    try:
        data = write_json(tmp_path / "summary.json", {"a": 1})
        fig = save_figure(plt.figure(), tmp_path / "plot.png")
    finally:
        os.umask(old)
    for path in (data, fig):
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plot.png", "summary.json"]


def test_dry_run_records_the_threads_it_used(tmp_path):
    """--dry-run runs on one torch thread: the parsed options (a demo's summary) say 1, not 0."""
    import torch

    from femgp.cli.args import TorchDemoParser

    before = torch.get_num_threads()
    try:
        p = TorchDemoParser(description="a torch demo", default_output=str(tmp_path / "x"))
        ns = p.parse_args(["--dry-run", "--output", str(tmp_path / "out")])
        assert ns.threads == 1 == torch.get_num_threads()
        assert p.parse_args(["--output", str(tmp_path / "out")]).threads == 0  # torch's choice
    finally:
        torch.set_num_threads(before)
